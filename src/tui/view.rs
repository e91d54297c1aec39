//! What the screen says about one step, derived from the trace and the
//! cursor alone: where the request is, which way it moves, what crossed each
//! boundary so far, and whether a layer answered and turned it back.
//!
//! ```text
//!   client                          boundary 0: what the client sent / got back
//!     │ ↓ HTTP bytes (62 B)
//!   web server   ◀ the request is here, going ↓
//!     │ ↓ HTTP bytes (74 B)         boundary 1: the proxy hop
//!   app server
//! ```
//!
//! A boundary's label comes from the step's data: bytes on a wire are "HTTP
//! bytes", a WSGI call carries the `environ`, an ASGI call a message such as
//! `http.request`, the handler sends SQL. Deriving, not accumulating, is what
//! makes rewinding exact.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "The screen".

use super::state::PlayerState;
use crate::trace::{Data, Direction, Event, Kind, Knob, Layer, RequestSummary};

/// What crossed one boundary (between box `i` and box `i + 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// e.g. "HTTP bytes (62 B)", "environ", "ASGI http.request", "SQL".
    pub label: String,
    /// Down: towards the database; Up: towards the client.
    pub direction: Direction,
}

/// A layer produced the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub layer: Layer,
    pub status: u16,
    pub reason: String,
    /// The setting that decided it, e.g. `client_max_body_size = 1m`.
    pub knob: Option<Knob>,
    /// Above the handler: the request turned back before reaching the app.
    pub early: bool,
}

impl Answer {
    /// "413 Content Too Large (client_max_body_size = 1m)".
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.status, self.reason);
        if let Some(k) = &self.knob {
            s.push_str(&format!(" ({} = {})", k.name, k.value));
        }
        s
    }
}

/// How far the request has got in one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The request has been here (or is here now).
    Visited,
    /// Not yet.
    NotYet,
    /// A layer above answered: this one will never see the request.
    NotReached,
}

/// The journey at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView<'a> {
    pub event: &'a Event,
    pub request: Option<&'a RequestSummary>,
    /// 1-based position of this step among its request's steps, and their count.
    pub step_of_request: Option<(usize, usize)>,
    /// Row of the active box.
    pub active_box: Option<usize>,
    /// One entry per boundary: the last thing that crossed it, up to this step.
    pub crossings: Vec<Option<Crossing>>,
    /// The boundary crossed at this very step.
    pub crossing_now: Option<usize>,
    /// Per box: has the request been there?
    pub reach: Vec<Reach>,
    /// The layer that answered, once it has.
    pub answer: Option<Answer>,
    /// This step is the answer.
    pub answers_here: bool,
}

impl<'a> StepView<'a> {
    /// The view of the state's current step (None for an empty trace).
    pub fn of(state: &'a PlayerState) -> Option<StepView<'a>> {
        let event = state.event()?;
        let boxes = state.index.boxes.len();
        let mut view = StepView {
            event,
            request: None,
            step_of_request: None,
            active_box: state.index.box_of(event.layer),
            crossings: vec![None; boxes.saturating_sub(1)],
            crossing_now: None,
            reach: vec![Reach::NotYet; boxes],
            answer: None,
            answers_here: event.answer.is_some(),
        };
        if let Some(b) = view.active_box {
            view.reach[b] = Reach::Visited;
        }
        let own = event.request.and_then(|id| {
            state
                .request_pos()
                .filter(|&p| state.trace.requests.get(p).is_some_and(|r| r.id == id))
        });
        let Some(pos) = own else {
            return Some(view);
        };
        view.request = state.trace.requests.get(pos);
        let steps = &state.index.request_events[pos];
        let upto = steps.partition_point(|&i| i <= state.cursor);
        view.step_of_request = Some((upto, steps.len()));
        let mut previous: Option<&Event> = None;
        // The boundary the step before crossed, if it crossed one.
        let mut previous_crossing: Option<usize> = None;
        for (k, &i) in steps[..upto].iter().enumerate() {
            let e = &state.trace.events[i];
            if let Some(b) = state.index.box_of(e.layer) {
                view.reach[b] = Reach::Visited;
            }
            let next = steps.get(k + 1).map(|&n| &state.trace.events[n]);
            // Received first, then sent: the crossing now is the last one.
            let mut crossed = None;
            let [received, sent] = boundaries(state, e, previous, next);
            // A step that arrives and sends on at once is the sending when
            // its own data says what it sends (`handler.return`: the
            // response); otherwise it is the arrival (`handler.call`), and
            // the next step's data names what goes on (the SQL).
            let sent = sent.filter(|&(_, direction)| {
                received.is_none()
                    || crossing_label(e, direction)
                        .or_else(|| response_label(e, direction))
                        .is_some()
            });
            let both = [received.map(|c| (c, false)), sent.map(|c| (c, true))];
            for ((b, direction), sending) in both.into_iter().flatten() {
                // What a step sends is labelled from its own data (the
                // handler's response); what it receives, from the sender's.
                let label = crossing_label(e, direction)
                    .or_else(|| response_label(e, direction).filter(|_| sending))
                    .or_else(|| {
                        let before = view.crossings[b]
                            .as_ref()
                            .filter(|_| previous_crossing == Some(b))?;
                        if before.direction == direction {
                            Some(before.label.clone())
                        } else {
                            previous.and_then(result_label)
                        }
                    });
                let label = label.unwrap_or_else(|| match direction {
                    Direction::Up => String::from("response"),
                    _ => String::from("request"),
                });
                view.crossings[b] = Some(Crossing { label, direction });
                if i == state.cursor {
                    view.crossing_now = Some(b);
                }
                crossed = Some(b);
            }
            if view.answer.is_none()
                && let Some(status) = e.answer
            {
                view.answer = Some(answer(e, status, view.request));
            }
            previous_crossing = crossed;
            previous = Some(e);
        }
        if view.answer.is_some() {
            for (b, info) in state.index.boxes.iter().enumerate() {
                let reached = steps
                    .iter()
                    .any(|&i| state.trace.events[i].layer == info.layer);
                if !reached {
                    view.reach[b] = Reach::NotReached;
                }
            }
        }
        Some(view)
    }

    /// The arrow that shows which way the request moves at this step.
    pub fn marker(&self) -> &'static str {
        if self.answers_here && self.answer.as_ref().is_some_and(|a| a.early) {
            "↩"
        } else {
            self.event.direction.arrow()
        }
    }
}

/// Which boundaries step `e` crosses, given the steps of the same request
/// just before and just after it: the one it received across, then the one
/// it sends across.
///
/// A step in another layer than the one before it *received* the request
/// (or the response) across the boundary between the two:
/// `web_server.request.receive` after the client sent. A hop whose next step
/// is in another layer is the *sending* side of a crossing:
/// `web_server.proxy.send` before the app server receives. A step can be
/// both: `handler.return` receives the rows from the database and sends
/// the response up to the framework; what it does at that moment is the
/// sending, so that crossing comes last (the caller keeps it only when the
/// step's data says what it sends). Hops that stay in their layer
/// (entering the next middleware) cross nothing.
fn boundaries(
    state: &PlayerState,
    e: &Event,
    previous: Option<&Event>,
    next: Option<&Event>,
) -> [Option<(usize, Direction)>; 2] {
    let Some(here) = state.index.box_of(e.layer) else {
        return [None, None];
    };
    let received = previous
        .and_then(|p| state.index.box_of(p.layer))
        .and_then(|from| match from.cmp(&here) {
            std::cmp::Ordering::Less => Some((here - 1, Direction::Down)),
            std::cmp::Ordering::Greater => Some((here, Direction::Up)),
            std::cmp::Ordering::Equal => None,
        });
    let sent = next
        .filter(|_| e.kind == Kind::Hop)
        .and_then(|n| state.index.box_of(n.layer))
        .and_then(|to| match to.cmp(&here) {
            std::cmp::Ordering::Greater => Some((here, Direction::Down)),
            std::cmp::Ordering::Less => Some((to, Direction::Up)),
            std::cmp::Ordering::Equal => None,
        });
    // A step that only passes on what it received crosses one boundary once.
    let sent = sent.filter(|s| Some(*s) != received);
    [received, sent]
}

/// What a step that answered sends up when its data has no wire form: the
/// status of its response ("response 200").
fn response_label(e: &Event, direction: Direction) -> Option<String> {
    if direction != Direction::Up {
        return None;
    }
    let status = e.answer.map(|s| s.to_string()).or_else(|| {
        e.data.iter().find_map(|d| match d {
            Data::Fields { entries } => entries
                .iter()
                .find(|(k, _)| k == "status")
                .map(|(_, v)| v.clone()),
            _ => None,
        })
    })?;
    Some(format!("response {status}"))
}

/// What comes back across a boundary the step before crossed the other
/// way: the rows of a query.
fn result_label(previous: &Event) -> Option<String> {
    previous.data.iter().find_map(|d| match d {
        Data::Sql { rows: Some(n), .. } => {
            Some(format!("{n} row{}", if *n == 1 { "" } else { "s" }))
        }
        _ => None,
    })
}

/// A short name for what a step carries across a boundary.
pub fn crossing_label(e: &Event, direction: Direction) -> Option<String> {
    e.data.iter().find_map(|d| match d {
        Data::Bytes { bytes, .. } => Some(format!("HTTP bytes ({} B)", bytes.len)),
        Data::RequestHead { method, target, .. } => Some(format!("request {method} {target}")),
        Data::ResponseHead { status, .. } => Some(format!("response {status}")),
        Data::Environ { .. } => Some(String::from("WSGI environ")),
        Data::Scope { .. } => Some(String::from("ASGI scope")),
        Data::AsgiMessage { message, .. } => {
            let kind = message
                .iter()
                .find(|(k, _)| k == "type")
                .and_then(|(_, v)| v.as_str())
                .unwrap_or("message");
            Some(format!("ASGI {kind}"))
        }
        Data::StartResponse { status, .. } => Some(format!("start_response {status}")),
        Data::Route { pattern, .. } => {
            Some(format!("route {}", pattern.as_deref().unwrap_or("(none)")))
        }
        Data::Sql { rows: Some(n), .. } if direction == Direction::Up => {
            Some(format!("{n} row{}", if *n == 1 { "" } else { "s" }))
        }
        Data::Sql { .. } => Some(String::from("SQL")),
        Data::WsFrame { opcode, len, .. } => Some(format!("ws {opcode} frame ({len} B)")),
        Data::WsAccept { .. } => None,
        Data::Fields { .. } => None,
    })
}

/// The reason phrase for `status` as the client got it: from the step's own
/// response head, else from the request's final response (nginx keeps older
/// names, e.g. "Request Entity Too Large"), else RFC 9110's.
pub fn answer_reason(e: &Event, status: u16, request: Option<&RequestSummary>) -> String {
    e.data
        .iter()
        .find_map(|d| match d {
            Data::ResponseHead { reason, .. } if !reason.is_empty() => Some(reason.clone()),
            _ => None,
        })
        .or_else(|| {
            request
                .filter(|r| r.status == Some(status) && !r.reason.is_empty())
                .map(|r| r.reason.clone())
        })
        .unwrap_or_else(|| reason_phrase(status).to_string())
}

fn answer(e: &Event, status: u16, request: Option<&RequestSummary>) -> Answer {
    let reason = answer_reason(e, status, request);
    Answer {
        layer: e.layer,
        status,
        reason,
        knob: e
            .knob
            .clone()
            .or_else(|| request.and_then(|r| r.knob.clone())),
        early: e.layer.depth() < Layer::Handler.depth(),
    }
}

/// The reason phrase of RFC 9110 (a pure lookup table, shared with the
/// HTTP codec; no layer code is involved).
pub fn reason_phrase(status: u16) -> &'static str {
    crate::http::status::reason(status)
}

/// The narration line: the lesson's own words for this step, or a sentence
/// made from the step's summary ("The web server parsed the request head.").
/// What the narration says on a step of the player: the lesson's words or
/// the step's own sentence and, on the last step of a recorded lesson (not
/// live traffic, which has no last step), how every request ended.
pub fn narration_at(state: &PlayerState, view: &StepView) -> String {
    let text = narration(view.event, view.answer.as_ref());
    if state.live.is_some() || state.cursor + 1 != state.len() {
        return text;
    }
    match ending(&state.trace.requests) {
        Some(end) => format!("{text} {end}"),
        None => text,
    }
}

/// The lesson's ending in one sentence: each outcome (status, the layer
/// that answered, the setting that decided) with how many requests had
/// it, in the order they first happened.
pub fn ending(requests: &[RequestSummary]) -> Option<String> {
    if requests.is_empty() {
        return None;
    }
    let mut outcomes: Vec<(String, usize)> = Vec::new();
    for r in requests {
        let mut o = match r.status {
            Some(status) => format!("{status}"),
            None => "no response".to_string(),
        };
        if let Some(layer) = r.answered_by {
            o.push_str(&format!(" from the {}", layer.label()));
        }
        if let Some(k) = &r.knob {
            o.push_str(&format!(" ({} = {})", k.name, k.value));
        }
        match outcomes.iter_mut().find(|(x, _)| *x == o) {
            Some((_, n)) => *n += 1,
            None => outcomes.push((o, 1)),
        }
    }
    let one_outcome = outcomes.len() == 1;
    let parts: Vec<String> = outcomes
        .iter()
        .map(|(o, n)| match one_outcome {
            true => o.clone(),
            false => format!("{n} × {o}"),
        })
        .collect();
    let what = match (requests.len(), one_outcome) {
        (1, _) => "The end: the request got".to_string(),
        (2, true) => "The end: both requests got".to_string(),
        (n, true) => format!("The end: all {n} requests got"),
        (n, false) => format!("The end: {n} requests got"),
    };
    let tail = if requests.len() > 1 {
        " (r lists them)"
    } else {
        ""
    };
    Some(format!("{what} {}{tail}.", parts.join(", ")))
}

pub fn narration(e: &Event, answer: Option<&Answer>) -> String {
    if let Some(n) = e
        .narration
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return n.to_string();
    }
    let way = match e.direction {
        Direction::Down => "On the way down, ",
        Direction::Up => "On the way back up, ",
        Direction::Within => "",
    };
    let layer = e.layer.label();
    let summary = e.summary.trim().trim_end_matches('.');
    // "reads the request head" has the layer as its subject; "the router
    // matches…" brings its own.
    let own_subject = ["the ", "a ", "an "].iter().any(|p| summary.starts_with(p))
        || summary.starts_with(|c: char| c.is_uppercase());
    let mut s = if summary.is_empty() {
        capitalise(&format!("{way}the {layer} takes a step ({}).", e.step))
    } else if own_subject {
        capitalise(&format!("{way}in the {layer}, {summary}."))
    } else {
        capitalise(&format!("{way}the {layer} {summary}."))
    };
    if e.answer.is_some()
        && let Some(a) = answer
    {
        s.push_str(&format!(" It answers here with {}", a.describe()));
        if a.early {
            s.push_str(", so the request turns back without going deeper.");
        } else {
            s.push('.');
        }
    }
    s
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64, status: Option<u16>, by: Option<Layer>) -> RequestSummary {
        RequestSummary {
            id,
            lesson: Some(id),
            name: None,
            conn: Some(id),
            ordinal: Some(1),
            method: "GET".into(),
            target: "/".into(),
            status,
            reason: String::new(),
            answered_by: by,
            knob: None,
            started_ns: 0,
            finished_ns: 0,
            timings: Vec::new(),
        }
    }

    #[test]
    fn the_ending_counts_each_outcome_in_the_order_it_first_happened() {
        let mut big = request(2, Some(413), Some(Layer::WebServer));
        big.knob = Some(Knob {
            name: "client_max_body_size".into(),
            value: "1m".into(),
        });
        let requests = [
            request(1, Some(200), Some(Layer::Handler)),
            big,
            request(3, Some(200), Some(Layer::Handler)),
            request(4, None, None),
        ];
        assert_eq!(
            ending(&requests).as_deref(),
            Some(
                "The end: 4 requests got 2 × 200 from the handler, 1 × 413 from the web server \
                 (client_max_body_size = 1m), 1 × no response (r lists them)."
            )
        );
        assert_eq!(ending(&[]), None);
    }
}
