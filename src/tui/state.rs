//! The player's state: a trace, a cursor on one of its steps, and the few
//! choices the viewer made (playing or paused, speed, focus, breakpoints).
//!
//! Everything the screen shows about the journey is *derived* from the trace
//! and the cursor (see [`super::view`]); nothing is accumulated while
//! playing. That is what makes ← a true rewind: stepping forward N times
//! and back N times gives back the identical state.
//!
//! [`TraceIndex`] is computed once per trace so that neither a step nor a
//! frame has to scan every event of a long `serve` session.
//!
//! Book: "Using roundtrip" (book/src/using.md).

use std::collections::BTreeMap;

use super::board::Board;
use super::breakpoint::BreakOn;
use super::instances::Group;
use super::lanes::Lanes;
use super::theme::Theme;
use crate::trace::{
    Event, Layer, LayerInfo, LoopState, Meta, RequestSummary, StateChange, Trace, WorkerState,
};

/// Play speeds in steps per second; `+` and `-` move along this table.
pub const SPEEDS: [f64; 7] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
/// Index into [`SPEEDS`] at start: 4 steps per second, slow enough to read
/// the diagram, fast enough that `hello` plays in about ten seconds.
pub const DEFAULT_SPEED: usize = 3;

/// Which pane the arrow keys talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// ↑/↓ step back and forth.
    #[default]
    Stack,
    /// ↑/↓ scroll the data of the step.
    Detail,
    /// ↑/↓ jump to the previous or next request.
    Timeline,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Stack => Focus::Detail,
            Focus::Detail => Focus::Timeline,
            Focus::Timeline => Focus::Stack,
        }
    }

    pub fn prev(self) -> Focus {
        match self {
            Focus::Stack => Focus::Timeline,
            Focus::Detail => Focus::Stack,
            Focus::Timeline => Focus::Detail,
        }
    }
}

/// What the centre pane shows (keys `1`–`5`, `c` for the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The stack diagram: where the request on screen is.
    Stack,
    /// The sync workers, idle or busy and for how long, and the backlog.
    Workers,
    /// The event loop's tasks, and whether the loop is blocked.
    EventLoop,
    /// Every compared stack's throughput and latency over time, and
    /// their figures side by side.
    Compare,
    /// Each websocket as a lane that stays open, its frames both ways
    /// over time ([`super::lanes`]).
    Lanes,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Stack,
        View::Workers,
        View::EventLoop,
        View::Compare,
        View::Lanes,
    ];

    /// The key that picks it and its name in the pane's title.
    pub fn key_and_name(self) -> (char, &'static str) {
        match self {
            View::Stack => ('1', "stack"),
            View::Workers => ('2', "workers"),
            View::EventLoop => ('3', "event loop"),
            View::Compare => ('4', "compare"),
            View::Lanes => ('5', "lanes"),
        }
    }
}

/// Largest timeline zoom: 2^12 = 4096 times the whole trace, enough to
/// tell apart steps a microsecond apart in a 4-second load.
pub const MAX_ZOOM: u8 = 12;

/// In `serve --tui`: whether the player follows the newest request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// True until the viewer navigates by hand or picks a request from the
    /// list; `G` (or End) turns it back on.
    pub following: bool,
    /// The server closed the channel: no more traces will come.
    pub ended: bool,
    /// Events the server recorded but could not show (the player or the
    /// printer was behind); shown in the header when not 0.
    pub dropped: u64,
}

/// The player, as the loop, `update` and `render` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerState {
    pub trace: Trace,
    pub index: TraceIndex,
    /// Index into `trace.events` of the step on screen.
    pub cursor: usize,
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    pub focus: Focus,
    /// First line of the detail pane on screen.
    pub detail_scroll: u16,
    /// From `--break-on` and from `b`.
    pub breakpoints: Vec<BreakOn>,
    /// The help overlay is open.
    pub help: bool,
    /// The request list (`r`) is open.
    pub request_list: Option<RequestList>,
    /// A one-off message for the footer ("paused at breakpoint 5xx").
    pub notice: Option<String>,
    pub theme: Theme,
    /// Set in `serve --tui`.
    pub live: Option<Live>,
    /// The viewer asked to quit; the loop returns.
    pub quit: bool,
    /// It was Ctrl-C: leave the program, not just the player.
    pub interrupted: bool,
    /// A lesson that compares stacks: its other variants' traces (`v`).
    pub variants: Variants,
    /// The centre view the viewer picked; None: the one the lesson calls
    /// for at this step ([`PlayerState::view`]).
    pub chosen_view: Option<View>,
    /// The timeline's zoom: it shows 1/2^zoom of the trace's time, around
    /// the cursor (`z` in, `Z` out).
    pub timeline_zoom: u8,
    /// Rows the viewer scrolled the timeline by (PgUp/PgDn with the
    /// timeline focused), from the rows around the cursor's request; 0
    /// follows the cursor. Moving the cursor by hand sets it back to 0.
    pub timeline_scroll: i64,
}

/// The variants of a lesson that compares stacks (`[[compare]]`), one
/// trace each. The one on screen is `PlayerState::trace`; its slot here is
/// empty until `v` puts it back and takes out the next.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variants {
    /// Every variant's trace and index, in the lesson's order.
    slots: Vec<Option<(Trace, TraceIndex)>>,
    /// Position of the variant on screen.
    pub current: usize,
}

impl Variants {
    /// How many variants (0 for a lesson of one stack).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

impl PlayerState {
    /// A paused player on the first step of `trace`.
    pub fn new(trace: Trace, breakpoints: Vec<BreakOn>, theme: Theme) -> PlayerState {
        PlayerState {
            index: TraceIndex::new(&trace),
            trace,
            cursor: 0,
            playing: false,
            speed: DEFAULT_SPEED,
            focus: Focus::Stack,
            detail_scroll: 0,
            breakpoints,
            help: false,
            request_list: None,
            notice: None,
            theme,
            live: None,
            quit: false,
            interrupted: false,
            variants: Variants::default(),
            chosen_view: None,
            timeline_zoom: 0,
            timeline_scroll: 0,
        }
    }

    /// A paused player on the first step of the first of `traces`, one per
    /// variant of a lesson that compares stacks; `v` switches between them.
    /// With one trace, the same as [`PlayerState::new`].
    pub fn with_variants(
        traces: Vec<Trace>,
        breakpoints: Vec<BreakOn>,
        theme: Theme,
    ) -> PlayerState {
        let mut traces = traces.into_iter();
        let first = traces.next().unwrap_or_else(empty_trace);
        let mut state = PlayerState::new(first, breakpoints, theme);
        let others: Vec<Option<(Trace, TraceIndex)>> = traces
            .map(|t| {
                let index = TraceIndex::new(&t);
                Some((t, index))
            })
            .collect();
        if !others.is_empty() {
            state.variants.slots = std::iter::once(None).chain(others).collect();
        }
        state
    }

    /// Put the next variant on screen (after the last, the first again),
    /// at the same moment of simulated time: the last step at or before
    /// the time of the step on screen. Returns false when there is no
    /// other variant.
    pub fn next_variant(&mut self) -> bool {
        let n = self.variants.slots.len();
        if n < 2 {
            return false;
        }
        let next = (self.variants.current + 1) % n;
        let Some((trace, index)) = self.variants.slots.get_mut(next).and_then(Option::take) else {
            return false;
        };
        let at = self.event().map_or(0, |e| e.at_ns);
        let old_trace = std::mem::replace(&mut self.trace, trace);
        let old_index = std::mem::replace(&mut self.index, index);
        if let Some(slot) = self.variants.slots.get_mut(self.variants.current) {
            *slot = Some((old_trace, old_index));
        }
        self.variants.current = next;
        self.cursor = self
            .trace
            .events
            .partition_point(|e| e.at_ns <= at)
            .saturating_sub(1);
        self.detail_scroll = 0;
        self.request_list = None;
        true
    }

    /// The same, positioned on step `cursor` (clamped to the last step).
    pub fn at(trace: Trace, cursor: usize, theme: Theme) -> PlayerState {
        let mut state = PlayerState::new(trace, Vec::new(), theme);
        state.cursor = cursor.min(state.len().saturating_sub(1));
        state
    }

    /// A player for `serve --tui` before the first request arrives.
    pub fn waiting(breakpoints: Vec<BreakOn>, theme: Theme) -> PlayerState {
        let mut state = PlayerState::new(empty_trace(), breakpoints, theme);
        state.live = Some(Live {
            following: true,
            ended: false,
            dropped: 0,
        });
        state
    }

    /// Every variant's trace and index in the lesson's order, the one on
    /// screen included (just it, for a lesson of one stack).
    pub fn all_variants(&self) -> Vec<(&Trace, &TraceIndex)> {
        if self.variants.slots.is_empty() {
            return vec![(&self.trace, &self.index)];
        }
        self.variants
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match slot {
                Some((t, x)) => Some((t, x)),
                None if i == self.variants.current => Some((&self.trace, &self.index)),
                None => None,
            })
            .collect()
    }

    /// Views this trace can fill: the stack always; the worker pool or the
    /// event loop when the app server has one; the comparison for a lesson
    /// that compares stacks or puts a load on one.
    pub fn views(&self) -> Vec<View> {
        View::ALL
            .into_iter()
            .filter(|v| match v {
                View::Stack => true,
                View::Workers => self.index.has_workers,
                View::EventLoop => self.index.has_loop,
                View::Compare => self.has_figures(),
                View::Lanes => !self.index.lanes.is_empty(),
            })
            .collect()
    }

    /// A comparison to show: several stacks, or one under a load.
    pub fn has_figures(&self) -> bool {
        self.variants.len() >= 2
            || self
                .trace
                .metrics
                .as_ref()
                .is_some_and(|m| m.load.is_some())
    }

    /// The view on screen: the viewer's choice when this stack has it (a
    /// choice of workers or loop follows `v` to a stack of the other
    /// kind), else the one the lesson calls for: a lesson about
    /// concurrency (a load, a worker that exits, a loop that blocks) shows
    /// its app server's workers or loop, and at its last step, when it
    /// has figures, the comparison; a lesson with websockets shows their
    /// lanes while one is open, and from the last one's 101 to the end
    /// (a handshake is a request like any other, drawn on the stack); any
    /// other lesson shows the stack.
    pub fn view(&self) -> View {
        let views = self.views();
        let concurrency = || {
            if self.index.has_loop {
                View::EventLoop
            } else if self.index.has_workers {
                View::Workers
            } else {
                View::Stack
            }
        };
        match self.chosen_view {
            Some(v) if views.contains(&v) => return v,
            Some(View::Workers | View::EventLoop) => return concurrency(),
            _ => {}
        }
        if self.index.lanes.live_at(self.cursor) {
            View::Lanes
        } else if !self.index.concurrency {
            View::Stack
        } else if self.at_end() && self.has_figures() {
            View::Compare
        } else {
            concurrency()
        }
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.trace.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trace.events.is_empty()
    }

    /// The step on screen (None only for an empty trace).
    pub fn event(&self) -> Option<&Event> {
        self.trace.events.get(self.cursor)
    }

    /// Position in `trace.requests` of the request on screen: the current
    /// step's request, or for a connection-level step the nearest one.
    pub fn request_pos(&self) -> Option<usize> {
        self.index
            .nearest_request
            .get(self.cursor)
            .copied()
            .flatten()
    }

    /// Play speed in steps per second.
    pub fn steps_per_second(&self) -> f64 {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    pub fn at_end(&self) -> bool {
        self.cursor + 1 >= self.len()
    }

    /// Does a breakpoint stop play on the current step?
    pub fn breakpoint_here(&self) -> Option<BreakOn> {
        let event = self.event()?;
        let previous = self
            .cursor
            .checked_sub(1)
            .and_then(|i| self.trace.events.get(i));
        self.breakpoints
            .iter()
            .copied()
            .find(|b| b.matches(event, previous))
    }

    /// `serve --tui`: a newer trace replaces the one on screen. When
    /// following, jump to the newest request (or keep playing it); otherwise
    /// stay on the same step (found again by its `seq`).
    pub fn receive(&mut self, trace: Trace) {
        let seq = self.event().map(|e| e.seq);
        let newest_before = self.trace.requests.last().map(|r| r.id);
        self.index = TraceIndex::new(&trace);
        self.trace = trace;
        let following = self.live.is_some_and(|l| l.following);
        let newest = self.trace.requests.len().checked_sub(1);
        if following {
            let newest_id = self.trace.requests.last().map(|r| r.id);
            if newest_id != newest_before
                && let Some(first) = newest
                    .and_then(|p| self.index.request_events.get(p))
                    .and_then(|steps| steps.first())
            {
                self.cursor = *first;
                self.detail_scroll = 0;
            }
            self.playing = true;
        } else if let Some(seq) = seq {
            self.cursor = self
                .trace
                .events
                .partition_point(|e| e.seq < seq)
                .min(self.len().saturating_sub(1));
        }
        self.cursor = self.cursor.min(self.len().saturating_sub(1));
    }
}

/// The request list overlay (`r` or `/`): every request the trace holds,
/// oldest first, newest last; in `serve --tui` that is the `--history` ring.
/// Typing filters it; Enter jumps to the highlighted request's first step.
///
/// The highlight is kept by request *id*, not by row: while the list is
/// open, `serve --tui` adds new requests and forgets old ones, and the
/// highlight stays on the request the viewer chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestList {
    /// What the viewer typed: words matched against method, target, status
    /// and the answering layer.
    pub filter: String,
    /// The highlighted request's id; None means the newest match.
    pub selected: Option<u64>,
}

impl RequestList {
    /// The list as it opens: the request on screen highlighted.
    pub fn open(state: &PlayerState) -> RequestList {
        RequestList {
            filter: String::new(),
            selected: state
                .request_pos()
                .and_then(|p| state.trace.requests.get(p))
                .map(|r| r.id),
        }
    }

    /// Positions in `trace.requests` of the requests that match the filter,
    /// in the trace's order (oldest first).
    pub fn visible(&self, trace: &Trace) -> Vec<usize> {
        matching(&trace.requests, &self.filter)
    }

    /// The row (index into `visible`) the highlight is on: the selected
    /// request's; when it is filtered out or forgotten, the next one after it
    /// (by id), else the newest. None only when nothing is visible.
    pub fn selected_row(&self, trace: &Trace, visible: &[usize]) -> Option<usize> {
        let last = visible.len().checked_sub(1)?;
        let Some(id) = self.selected else {
            return Some(last);
        };
        let id_at = |row: usize| trace.requests[visible[row]].id;
        (0..visible.len())
            .find(|&row| id_at(row) == id)
            .or_else(|| (0..visible.len()).find(|&row| id_at(row) > id))
            .or(Some(last))
    }
}

/// Requests matching `query`, by position, in their order. Every word of
/// the query must appear (case-insensitively) in the method, the target, the
/// status or the label of the layer that answered; `4xx` matches any 4xx.
pub fn matching(requests: &[RequestSummary], query: &str) -> Vec<usize> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return (0..requests.len()).collect();
    }
    requests
        .iter()
        .enumerate()
        .filter(|(_, r)| words.iter().all(|w| request_matches(r, w)))
        .map(|(i, _)| i)
        .collect()
}

fn request_matches(r: &RequestSummary, word: &str) -> bool {
    let status = r.status.map(|s| s.to_string()).unwrap_or_default();
    if let [class @ b'1'..=b'5', b'x', b'x'] = word.as_bytes() {
        return status.as_bytes().first() == Some(class);
    }
    r.method.to_lowercase().contains(word)
        || r.target.to_lowercase().contains(word)
        || status.contains(word)
        || r.answered_by.is_some_and(|l| l.label().contains(word))
}

/// A trace with nothing in it yet (the `serve --tui` screen before any request).
pub fn empty_trace() -> Trace {
    Trace {
        meta: Meta {
            scenario: String::from("serve"),
            title: String::from("waiting for requests"),
            summary: String::new(),
            seed: 0,
            version: String::new(),
            started_at: String::new(),
            config: serde_json::Value::Null,
            variant: None,
        },
        metrics: None,
        layers: Vec::new(),
        connections: Vec::new(),
        upstream_connections: Vec::new(),
        requests: Vec::new(),
        events: Vec::new(),
    }
}

/// Facts about a trace computed once, so a frame or a step costs the same
/// whether the trace holds one request or a thousand.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceIndex {
    /// The boxes of the diagram, top to bottom.
    pub boxes: Vec<LayerInfo>,
    /// For each request (in `trace.requests` order), its steps' indices.
    pub request_events: Vec<Vec<usize>>,
    /// For each step, the request it belongs to (position in `trace.requests`);
    /// connection-level steps take the request that follows them, or else the one before.
    pub nearest_request: Vec<Option<usize>>,
    /// The timeline's horizontal axis.
    pub axis: Axis,
    /// For each request, where it was between one of its steps and the
    /// next, on that axis, in order: the waterfall of the timeline.
    pub segments: Vec<Vec<Segment>>,
    /// The board before every `BOARD_EVERY`-th step, so the board at any
    /// step costs at most that many steps to rebuild.
    boards: Vec<Board>,
    /// For each step that blocks the event loop, when the loop was freed
    /// again (absent while a live trace has not seen it yet): how long the
    /// blocking call took.
    pub loop_freed: BTreeMap<usize, u64>,
    /// The app server has sync workers (a worker view makes sense).
    pub has_workers: bool,
    /// The app server has an event loop.
    pub has_loop: bool,
    /// A lesson about concurrency: a `[load]`, a worker that exits or a
    /// loop that blocks. Such a lesson opens on its workers or its loop.
    pub concurrency: bool,
    /// Position of the request that took longest, first step to last
    /// (the first of equals).
    pub slowest: Option<usize>,
    /// Widest id, method and duration among the requests, for the
    /// request list's columns (measured once, not per frame).
    pub list_widths: ListWidths,
    /// The trace's websockets as lanes (empty when it has none).
    pub lanes: Lanes,
    /// The upstream group's instances (empty without an `upstream` block).
    pub group: Group,
}

/// The widths the request list's columns need, over every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListWidths {
    pub id: usize,
    pub method: usize,
    pub took: usize,
}

/// How long a request took, first step to last (None while it has no last).
pub fn latency_ns(r: &RequestSummary) -> Option<u64> {
    r.finished_ns.checked_sub(r.started_ns)
}

/// Steps between two stored state boards.
const BOARD_EVERY: usize = 256;

/// What the timeline's horizontal axis measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    /// Simulated nanoseconds when the trace spans time; step numbers when
    /// every step happened at the same instant (a lesson that never waits).
    pub by_steps: bool,
    pub lo: u64,
    pub hi: u64,
}

impl Axis {
    /// Where step `i` (event `e`) sits on this axis.
    pub fn value(&self, i: usize, e: &Event) -> u64 {
        if self.by_steps { i as u64 } else { e.at_ns }
    }
}

/// A stretch of one request's life spent in one layer: from its first step
/// there until its next step somewhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub layer: Layer,
    pub lo: u64,
    pub hi: u64,
}

impl TraceIndex {
    pub fn new(trace: &Trace) -> TraceIndex {
        let position: BTreeMap<u64, usize> = trace
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        let mut request_events = vec![Vec::new(); trace.requests.len()];
        let mut own: Vec<Option<usize>> = Vec::with_capacity(trace.events.len());
        for (i, e) in trace.events.iter().enumerate() {
            let pos = e.request.and_then(|id| position.get(&id).copied());
            if let Some(p) = pos {
                request_events[p].push(i);
            }
            own.push(pos);
        }
        let nearest_request = nearest(&own);
        let lo_ns = trace.events.iter().map(|e| e.at_ns).min().unwrap_or(0);
        let hi_ns = trace.events.iter().map(|e| e.at_ns).max().unwrap_or(0);
        let axis = if hi_ns > lo_ns {
            Axis {
                by_steps: false,
                lo: lo_ns,
                hi: hi_ns,
            }
        } else {
            Axis {
                by_steps: true,
                lo: 0,
                hi: trace.events.len().saturating_sub(1) as u64,
            }
        };
        let segments = request_events
            .iter()
            .map(|steps| segments_of(trace, steps, axis))
            .collect();
        let mut boards = Vec::with_capacity(trace.events.len() / BOARD_EVERY + 1);
        let mut board = Board::default();
        let mut loop_freed = BTreeMap::new();
        let (mut has_workers, mut has_loop) = (false, false);
        let mut concurrency = trace.metrics.as_ref().is_some_and(|m| m.load.is_some());
        for (i, e) in trace.events.iter().enumerate() {
            if i % BOARD_EVERY == 0 {
                boards.push(board.clone());
            }
            for change in &e.state {
                match change {
                    StateChange::Worker { state, .. } => {
                        has_workers = true;
                        concurrency |= *state == WorkerState::Exited;
                    }
                    StateChange::Task { .. } => has_loop = true,
                    StateChange::Loop { state, .. } => {
                        has_loop = true;
                        match state {
                            LoopState::Blocked => concurrency = true,
                            LoopState::Free => {
                                if let Some(b) = board.block {
                                    loop_freed.insert(b.step, e.at_ns);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            board.apply(i, e);
        }
        let slowest = trace
            .requests
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, latency_ns(r)?)))
            .fold(None, |best: Option<(usize, u64)>, (i, ns)| match best {
                Some((_, b)) if b >= ns => best,
                _ => Some((i, ns)),
            })
            .map(|(i, _)| i);
        let list_widths = ListWidths {
            id: trace
                .requests
                .iter()
                .map(|r| r.number().to_string().len())
                .max()
                .unwrap_or(0),
            method: trace
                .requests
                .iter()
                .map(|r| r.method.chars().count())
                .max()
                .unwrap_or(0),
            took: trace
                .requests
                .iter()
                .map(|r| latency_ns(r).map_or(1, |ns| super::render::detail::ms(ns).len()))
                .max()
                .unwrap_or(0),
        };
        TraceIndex {
            boxes: boxes(trace),
            request_events,
            nearest_request,
            axis,
            segments,
            boards,
            loop_freed,
            has_workers,
            has_loop,
            concurrency,
            slowest,
            list_widths,
            lanes: Lanes::new(trace),
            group: Group::new(trace),
        }
    }

    /// Workers, tasks, the loop and the backlog just after step `i`.
    pub fn board_at(&self, events: &[Event], i: usize) -> Board {
        let checkpoint = i / BOARD_EVERY;
        let Some(start) = self.boards.get(checkpoint) else {
            return Board::default();
        };
        let mut board = start.clone();
        let from = checkpoint * BOARD_EVERY;
        for (k, e) in events
            .iter()
            .enumerate()
            .take(i.saturating_add(1))
            .skip(from)
        {
            board.apply(k, e);
        }
        board
    }

    /// Row of `layer` in the diagram.
    pub fn box_of(&self, layer: Layer) -> Option<usize> {
        self.boxes.iter().position(|b| b.layer == layer)
    }
}

/// Fill connection-level gaps: the next request's, or else the previous one's.
fn nearest(own: &[Option<usize>]) -> Vec<Option<usize>> {
    let mut out = own.to_vec();
    let mut next = None;
    for (i, slot) in out.iter_mut().enumerate().rev() {
        if own[i].is_some() {
            next = own[i];
        } else {
            *slot = next;
        }
    }
    let mut prev = None;
    for slot in out.iter_mut() {
        match slot {
            Some(_) => prev = *slot,
            None => *slot = prev,
        }
    }
    out
}

fn segments_of(trace: &Trace, steps: &[usize], axis: Axis) -> Vec<Segment> {
    let mut runs: Vec<Segment> = Vec::new();
    for (k, &i) in steps.iter().enumerate() {
        let e = &trace.events[i];
        let lo = axis.value(i, e);
        let hi = steps
            .get(k + 1)
            .map_or(lo, |&n| axis.value(n, &trace.events[n]));
        match runs.last_mut() {
            Some(run) if run.layer == e.layer => run.hi = hi,
            _ => runs.push(Segment {
                layer: e.layer,
                lo,
                hi,
            }),
        }
    }
    runs
}

/// The trace's own layer list, plus any layer an event mentions that it lacks.
fn boxes(trace: &Trace) -> Vec<LayerInfo> {
    let mut boxes = trace.layers.clone();
    for e in &trace.events {
        if !boxes.iter().any(|b| b.layer == e.layer) {
            boxes.push(LayerInfo {
                layer: e.layer,
                label: e.layer.label().to_string(),
                detail: String::new(),
                parts: Vec::new(),
            });
        }
    }
    if boxes.is_empty() {
        boxes = Layer::ALL
            .iter()
            .map(|l| LayerInfo {
                layer: *l,
                label: l.label().to_string(),
                detail: String::new(),
                parts: Vec::new(),
            })
            .collect();
    }
    boxes.sort_by_key(|b| b.layer.depth());
    boxes
}
