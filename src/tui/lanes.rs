//! Long-lived connections as lanes: one per websocket, from its `101
//! Switching Protocols` to its close, with every frame on it in order.
//!
//! A request/response exchange is over when the response is back, so the
//! stack diagram can show it as one journey down and up. A websocket is
//! not: after the handshake (RFC 6455 §4) the connection stays open and
//! either end sends frames (§5) when it likes, until one of them closes it
//! (§7). The lanes view draws each such connection as a horizontal lane
//! over time, client → server frames above it and server → client frames
//! below, so a broadcast shows as one mark on every lane at once and a
//! quiet socket as a lane with nothing on it.
//!
//! Everything here is computed once per trace from its typed data (the
//! `WsFrame` sections, the 101 answer, the close steps), never from prose:
//!
//! * a lane opens at the step that answered its handshake 101;
//! * a frame is placed by the step that *sent* it (`client.websocket.send`,
//!   or `app_server.websocket.frame` going up); the step that reads it at
//!   the other end is matched to it in order (the oldest in flight that
//!   way with the same opcode: TCP keeps frames in order), and
//!   a tunnel relay step to the oldest frame still in flight that way;
//! * a lane ends at the first close of its connection (the tunnel, the
//!   client or the web server closing it), with the code of the first close
//!   frame on it, or 1006 when none was sent (§7.1.5: the connection simply
//!   ended) and 1005 for a close frame with no code (§7.1.5).
//!
//! Columns are moments: items at the same simulated instant on different
//! lanes share a column (a broadcast), two on the same lane never do.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Lanes: long-lived
//! connections"; "WebSockets" (book/src/websockets.md).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::trace::{Data, Direction, StepId, Trace};

/// Which way a frame goes on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Way {
    /// Client → server (drawn above the lane; masked on the wire, §5.3).
    ToServer,
    /// Server → client (drawn below the lane).
    ToClient,
}

/// A frame's opcode (RFC 6455 §5.2), as far as a mark needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Text,
    Binary,
    Continuation,
    Ping,
    Pong,
    Close,
}

impl Opcode {
    fn parse(s: &str) -> Opcode {
        match s {
            "binary" => Opcode::Binary,
            "continuation" => Opcode::Continuation,
            "ping" => Opcode::Ping,
            "pong" => Opcode::Pong,
            "close" => Opcode::Close,
            _ => Opcode::Text,
        }
    }

    /// The mark drawn for a frame: an arrow for text (its way), one
    /// character for the others, readable without colour.
    pub fn mark(self, way: Way) -> char {
        match (self, way) {
            (Opcode::Text, Way::ToServer) => '▸',
            (Opcode::Text, Way::ToClient) => '◂',
            (Opcode::Binary, _) => 'b',
            (Opcode::Continuation, _) => '+',
            (Opcode::Ping, _) => '?',
            (Opcode::Pong, _) => '!',
            (Opcode::Close, _) => 'x',
        }
    }
}

/// One frame on a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMark {
    /// Position in [`Lanes::lanes`].
    pub lane: usize,
    /// The step that sent it (index into `trace.events`).
    pub step: usize,
    pub col: usize,
    pub way: Way,
    pub opcode: Opcode,
}

/// How a lane ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneEnd {
    /// The first step that closed the connection.
    pub step: usize,
    pub col: usize,
    /// The close code the lane ended with (see the module doc).
    pub code: u16,
}

/// One websocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The client connection (the web server's id).
    pub conn: u64,
    /// The handshake request's id.
    pub request: Option<u64>,
    /// What the lane is called: the request's name in the lesson, else
    /// its number (`#2`).
    pub label: String,
    /// The step that answered 101.
    pub open_step: usize,
    pub open_col: usize,
    pub end: Option<LaneEnd>,
}

/// Every websocket lane of a trace (empty for request/response lessons).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lanes {
    pub lanes: Vec<Lane>,
    /// In the order of the steps that sent them.
    pub frames: Vec<FrameMark>,
    /// Simulated time of each column.
    pub column_ns: Vec<u64>,
    /// Step → the frame it sends, reads or relays (position in `frames`).
    step_frame: BTreeMap<usize, usize>,
    /// Step → the column of the last item placed at or before it: "now".
    /// Only steps that place an item are stored; others look back.
    item_col: BTreeMap<usize, usize>,
}

/// Columns being handed out: a new one unless the item is at the same
/// instant as the current column and its lane is still free there.
#[derive(Default)]
struct Columns {
    at: Vec<u64>,
    used: BTreeSet<usize>,
}

impl Columns {
    fn place(&mut self, at_ns: u64, lane: usize) -> usize {
        let same = self.at.last() == Some(&at_ns) && !self.used.contains(&lane);
        if !same {
            self.at.push(at_ns);
            self.used.clear();
        }
        self.used.insert(lane);
        self.at.len() - 1
    }
}

impl Lanes {
    pub fn new(trace: &Trace) -> Lanes {
        let mut lanes: Vec<Lane> = Vec::new();
        // client connection → its latest lane (its closing steps and the
        // last frames read come after the lane ended).
        let mut open: BTreeMap<u64, usize> = BTreeMap::new();
        let mut frames: Vec<FrameMark> = Vec::new();
        let mut first_close: BTreeMap<usize, u16> = BTreeMap::new();
        let mut in_flight: BTreeMap<(usize, Way), VecDeque<usize>> = BTreeMap::new();
        let mut step_frame = BTreeMap::new();
        let mut item_col = BTreeMap::new();
        let mut cols = Columns::default();
        for (i, e) in trace.events.iter().enumerate() {
            let Some(conn) = e.conn else { continue };
            let ended = |lane: &usize| lanes[*lane].end.is_some();
            if e.answer == Some(101) && open.get(&conn).is_none_or(ended) {
                let lane = lanes.len();
                let col = cols.place(e.at_ns, lane);
                lanes.push(Lane {
                    conn,
                    request: e.request,
                    label: label(trace, e.request),
                    open_step: i,
                    open_col: col,
                    end: None,
                });
                open.insert(conn, lane);
                item_col.insert(i, col);
                continue;
            }
            let Some(&lane) = open.get(&conn) else {
                continue;
            };
            let closed = lanes[lane].end.is_some();
            let frame = e.data.iter().find_map(|d| match d {
                Data::WsFrame {
                    opcode, close_code, ..
                } => Some((Opcode::parse(opcode), *close_code)),
                _ => None,
            });
            let sent = match (e.step, e.direction) {
                (StepId::ClientWebsocketSend, _) => Some(Way::ToServer),
                (StepId::AppServerWebsocketFrame, Direction::Up) => Some(Way::ToClient),
                _ => None,
            };
            let read = match (e.step, e.direction) {
                (StepId::AppServerWebsocketFrame, Direction::Down) => Some(Way::ToServer),
                (StepId::ClientWebsocketReceive, _) => Some(Way::ToClient),
                _ => None,
            };
            match (frame, sent, read) {
                (Some((opcode, code)), Some(way), _) if !closed => {
                    let col = cols.place(e.at_ns, lane);
                    let k = frames.len();
                    frames.push(FrameMark {
                        lane,
                        step: i,
                        col,
                        way,
                        opcode,
                    });
                    if opcode == Opcode::Close {
                        // No code in the payload: 1005 (§7.1.5).
                        first_close.entry(lane).or_insert(code.unwrap_or(1005));
                    }
                    in_flight.entry((lane, way)).or_default().push_back(k);
                    step_frame.insert(i, k);
                    item_col.insert(i, col);
                }
                (Some((opcode, _)), None, Some(way)) => {
                    // The oldest frame that way with this opcode is the
                    // one read: a frame never overtakes another (TCP).
                    let queue = in_flight.entry((lane, way)).or_default();
                    if let Some(at) = queue.iter().position(|&k| frames[k].opcode == opcode)
                        && let Some(k) = queue.remove(at)
                    {
                        step_frame.insert(i, k);
                    }
                }
                _ if e.step == StepId::WebServerTunnel => {
                    let way = match e.direction {
                        Direction::Up => Way::ToClient,
                        _ => Way::ToServer,
                    };
                    if let Some(&k) = in_flight.get(&(lane, way)).and_then(|q| q.front()) {
                        step_frame.insert(i, k);
                    }
                }
                _ if !closed
                    && matches!(
                        e.step,
                        StepId::WebServerTunnelClose
                            | StepId::ClientClose
                            | StepId::WebServerConnectionClose
                    ) =>
                {
                    let col = cols.place(e.at_ns, lane);
                    lanes[lane].end = Some(LaneEnd {
                        step: i,
                        col,
                        code: first_close.get(&lane).copied().unwrap_or(1006),
                    });
                    item_col.insert(i, col);
                }
                _ => {}
            }
        }
        Lanes {
            lanes,
            frames,
            column_ns: cols.at,
            step_frame,
            item_col,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// The frame step `i` sends, reads or relays, if it is one.
    pub fn frame_at(&self, i: usize) -> Option<&FrameMark> {
        self.step_frame.get(&i).and_then(|&k| self.frames.get(k))
    }

    /// The column of the last item at or before step `i` (None before the
    /// first lane opens).
    pub fn now_col(&self, i: usize) -> Option<usize> {
        self.item_col.range(..=i).next_back().map(|(_, &c)| c)
    }

    /// The lane of client connection `conn` at step `i`: the last one it
    /// opened by then (its closing steps after the lane ended included).
    pub fn lane_of(&self, conn: u64, i: usize) -> Option<usize> {
        self.lanes
            .iter()
            .rposition(|l| l.conn == conn && l.open_step <= i)
    }

    /// Is some lane open at step `i` (from its 101 to its close), or has
    /// the last one opened (only closes and the shutdown are left)?
    pub fn live_at(&self, i: usize) -> bool {
        self.lanes.last().is_some_and(|l| l.open_step <= i)
            || self
                .lanes
                .iter()
                .any(|l| l.open_step <= i && l.end.is_none_or(|e| i <= e.step))
    }

    /// Frames sent at or before step `i`, on any lane.
    pub fn frames_until(&self, i: usize) -> &[FrameMark] {
        let n = self.frames.partition_point(|f| f.step <= i);
        &self.frames[..n]
    }
}

/// "ada" for a request the lesson named, else "#2".
fn label(trace: &Trace, request: Option<u64>) -> String {
    let Some(id) = request else {
        return String::from("?");
    };
    match trace.requests.iter().find(|r| r.id == id) {
        Some(r) => r.name.clone().unwrap_or_else(|| format!("#{}", r.number())),
        None => format!("#{id}"),
    }
}
