//! Live assembly: `serve`'s events, turned into requests as they finish.
//!
//! A lesson records everything, then [`assemble`]s once. `serve` never ends,
//! so its events are grouped as they arrive, at a constant cost per event,
//! and everything kept is bounded:
//!
//! ```text
//!  layers ─▶ Recorder ─[channel]─▶ LiveAssembler ─▶ access log · --plain
//!                                    │ pending requests (by id)
//!                                    │ history ring ──snapshot──▶ TraceFeed ─▶ --tui
//! ```
//!
//! * **Pending.** Events are grouped by request id. A request is finished
//!   when the web server sends its response ([`StepId::WebServerResponseSend`])
//!   or ends it without one (a 408 only the log shows, or
//!   [`StepId::WebServerClientGone`]). Each finished request becomes a small
//!   [`Trace`] of its own, which the access log and `--plain` print.
//! * **History.** The newest finished requests, `history` of them, in a
//!   ring: the oldest is forgotten as each new one finishes. With the
//!   player (`serve --tui --history N`, default [`DEFAULT_HISTORY`]) they
//!   are what a learner steps back through; without it a few
//!   ([`HISTORY_WITHOUT_PLAYER`]) are kept, for events that arrive just
//!   after their request was printed. The player's trace is built from the
//!   ring only when asked ([`LiveAssembler::snapshot`]), never per request.
//! * **Connection-scoped events** (no request: accepts, keep-alive closes,
//!   workers going idle) are kept in a ring of their own, the newest
//!   [`CONNECTION_EVENTS_PER_REQUEST`] × `history`, and shown with the
//!   history. The player shows connections alongside requests; it does not
//!   need every accept since the server started.
//! * **Standing state.** A worker, thread or event loop that went idle long
//!   ago says so in one connection-scoped event, which the ring may have
//!   forgotten while the request that made it busy is still in the
//!   history: the player would draw it busy for ever. So the newest such
//!   event of each worker, thread, thread queue and loop is also kept
//!   apart ([`MAX_STANDING`] of them) and shown with the ring.
//!
//! Every queue has a limit and a stated policy:
//!
//! | queue                     | limit                          | when over it                         |
//! |---------------------------|--------------------------------|--------------------------------------|
//! | recorder → assembler      | [`LIVE_CHANNEL_EVENTS`] events | the new event is dropped, counted    |
//! | pending requests          | [`MAX_PENDING`] requests       | the oldest is dropped, counted       |
//! | events of one request     | [`MAX_EVENTS_PER_REQUEST`]     | further events dropped, counted      |
//! | history                   | `history` requests             | the oldest is forgotten              |
//! | connection-scoped events  | 4 × `history` events           | the oldest is forgotten              |
//! | standing state            | [`MAX_STANDING`] instances     | the one changed longest ago forgotten |
//! | feed to the player        | one trace                      | a newer trace replaces an unread one |
//!
//! "Dropped" means the learner sees less than happened, so it is counted
//! and shown; "forgotten" is what a bounded history is for.
//!
//! Book: "Using roundtrip" (book/src/using.md), "Watching live traffic".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::assemble;
use super::model::{Event, LayerInfo, Meta, Trace};
use super::state::StateChange;
use super::vocab::{Layer, StepId};

/// Capacity of the recorder's channel in `serve`, in events. A `GET
/// /notes` is about 40 events, so this holds about 200 requests (some
/// megabytes): tens of milliseconds of the server at full speed, enough to
/// ride out a printer that stalls on a slow terminal for a moment. A
/// printer that is behind for longer is behind for good, and waiting for
/// it would make the server slow (or, unbounded, large: that is what this
/// replaced).
pub const LIVE_CHANNEL_EVENTS: usize = 8_192;

/// Finished requests `serve` keeps for the player unless `--history` says.
pub const DEFAULT_HISTORY: usize = 1_000;

/// Finished requests kept when nobody steps through them (the access log,
/// `--plain`): enough that an event arriving just after its request was
/// printed (the failed write after "sends 200") still finds it.
pub const HISTORY_WITHOUT_PLAYER: usize = 64;

/// Unfinished requests held at once. A connection carries one request at
/// a time, and a request is pending for about a millisecond, so only more
/// than this many busy clients at once (`wrk -c512`), or requests whose
/// finishing event was dropped, reach it. Then the oldest (lowest id: the
/// web server numbers requests as it reads them) goes first: a request
/// that old has lost its end, or is the slowest of hundreds.
pub const MAX_PENDING: usize = 512;

/// Events kept for one request. A `GET /notes` has about 40; a request
/// that streams a body chunk by chunk could have any number. Past this,
/// its events are dropped (and counted), except the one that finishes it.
pub const MAX_EVENTS_PER_REQUEST: usize = 512;

/// Connection-scoped events kept per request of history: an accept, an
/// idle keep-alive, a close, a worker going idle are a few per request.
pub const CONNECTION_EVENTS_PER_REQUEST: usize = 4;

/// Workers, threads, thread queues and loops whose latest state is kept
/// apart from the connection ring (see the module doc). `serve` has a few
/// dozen; the bound is for a configuration with thousands of threads.
pub const MAX_STANDING: usize = 4_096;

/// Finished requests remembered by id (at least), so that an event which
/// arrives just after its request finished (the failed write that follows
/// "sends 200") joins it instead of starting a new pending request.
pub const RECENT_FINISHED: usize = 1_024;

/// How often, at most, `serve --tui` rebuilds the player's trace from the
/// history: four times a second looks live and costs a few milliseconds.
pub const TUI_REFRESH: Duration = Duration::from_millis(250);

/// The limits of one assembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Finished requests kept for the player (at least 1).
    pub history: usize,
    /// Unfinished requests held at once (at least 1).
    pub pending: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            history: DEFAULT_HISTORY,
            pending: MAX_PENDING,
        }
    }
}

/// What the assembler has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events taken in.
    pub events: u64,
    /// Requests finished.
    pub finished: u64,
    /// Unfinished requests dropped to stay under the pending limit.
    pub dropped_requests: u64,
    /// Events dropped here: those of dropped requests, events arriving for
    /// a dropped (or long-forgotten) request, events over a request's limit.
    pub dropped_events: u64,
}

/// What one event changed, for whoever prints.
#[derive(Debug)]
pub enum Update<'a> {
    /// A request finished: its trace (that request only, light meta).
    Finished(&'a Trace),
    /// An event arrived after its request was shown and changed how it
    /// ended (the write of the response failed: nginx logs 499).
    Amended(&'a Trace),
}

/// Incremental assembly of live events; see the module doc.
pub struct LiveAssembler {
    limits: Limits,
    /// For the player's trace: the stack's configuration and diagram.
    meta: Meta,
    layers: Vec<LayerInfo>,
    /// For one request's trace: no configuration (it is the same for all).
    light: Meta,
    pending: BTreeMap<u64, Vec<Event>>,
    /// The highest request id dropped from `pending`. An event for it (or
    /// an older id) that is not pending belongs to a dropped request.
    dropped_through: Option<u64>,
    /// Finished requests, oldest first, at most `limits.history`.
    history: VecDeque<Trace>,
    /// Recently finished request ids, oldest first, and for each its
    /// finish number (0 for the first request that finished).
    recent: VecDeque<u64>,
    finish_no: HashMap<u64, u64>,
    /// Connection-scoped events, oldest first.
    connection: VecDeque<Event>,
    /// The newest connection-scoped event that changed each worker, thread,
    /// thread queue or loop, at most [`MAX_STANDING`].
    standing: BTreeMap<Standing, Event>,
    counts: Counts,
    /// The history changed since the last snapshot.
    changed: bool,
}

impl LiveAssembler {
    /// `meta` and `layers` describe the stack (the player shows them).
    pub fn new(meta: Meta, layers: Vec<LayerInfo>, limits: Limits) -> LiveAssembler {
        let limits = Limits {
            history: limits.history.max(1),
            pending: limits.pending.max(1),
        };
        let light = Meta {
            config: serde_json::Value::Null,
            ..meta.clone()
        };
        LiveAssembler {
            limits,
            meta,
            layers,
            light,
            pending: BTreeMap::new(),
            dropped_through: None,
            history: VecDeque::with_capacity(limits.history),
            recent: VecDeque::new(),
            finish_no: HashMap::new(),
            connection: VecDeque::new(),
            standing: BTreeMap::new(),
            counts: Counts::default(),
            changed: false,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Requests started and not finished.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Finished requests kept for the player.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Ids of the requests kept for the player, oldest finished first.
    pub fn history_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.history
            .iter()
            .filter_map(|t| t.requests.first().map(|r| r.id))
    }

    /// Every event held (pending, history, connection-scoped): what the
    /// limits bound. Walks the history, so not for every event.
    pub fn retained_events(&self) -> usize {
        self.pending.values().map(Vec::len).sum::<usize>()
            + self.history.iter().map(|t| t.events.len()).sum::<usize>()
            + self.connection.len()
            + self.standing.len()
    }

    /// Take one event. Constant cost, except when it finishes a request
    /// (that request's events are assembled: tens of events).
    pub fn push(&mut self, e: Event) -> Option<Update<'_>> {
        self.counts.events += 1;
        let Some(id) = e.request else {
            self.keep_connection_event(e);
            return None;
        };
        if !self.pending.contains_key(&id) {
            if self.finish_no.contains_key(&id) {
                return self.late(id, e);
            }
            if self.dropped_through.is_some_and(|d| id <= d) {
                self.counts.dropped_events += 1;
                return None;
            }
        }
        let finishes = finishes(&e);
        let events = self.pending.entry(id).or_default();
        if events.len() >= MAX_EVENTS_PER_REQUEST && !finishes {
            self.counts.dropped_events += 1;
            return None;
        }
        events.push(e);
        if finishes {
            return self.finish(id);
        }
        if self.pending.len() > self.limits.pending {
            self.drop_oldest_pending();
        }
        None
    }

    /// The player's trace: every request in the history, with the
    /// connection-scoped events, or None when nothing changed since the
    /// last call. Costs as much as the history holds.
    pub fn snapshot(&mut self) -> Option<Trace> {
        if !self.changed {
            return None;
        }
        self.changed = false;
        Some(self.trace())
    }

    /// The player's trace, built now (see [`LiveAssembler::snapshot`]).
    pub fn trace(&self) -> Trace {
        // The ring holds the newest connection-scoped events, so a standing
        // event is already in it unless it is older than the ring's oldest.
        let ring_from = self.connection.front().map_or(u64::MAX, |e| e.seq);
        let mut standing: Vec<&Event> = self
            .standing
            .values()
            .filter(|e| e.seq < ring_from)
            .collect();
        standing.sort_by_key(|e| e.seq);
        standing.dedup_by_key(|e| e.seq);
        let events = self
            .history
            .iter()
            .flat_map(|t| t.events.iter())
            .chain(self.connection.iter())
            .chain(standing)
            .cloned()
            .collect();
        assemble(self.meta.clone(), self.layers.clone(), events)
    }

    fn keep_connection_event(&mut self, e: Event) {
        for key in e.state.iter().filter_map(Standing::of) {
            if !self.standing.contains_key(&key) && self.standing.len() >= MAX_STANDING {
                let oldest = self.standing.iter().min_by_key(|(_, e)| e.seq);
                if let Some(oldest) = oldest.map(|(k, _)| *k) {
                    self.standing.remove(&oldest);
                }
            }
            self.standing.insert(key, e.clone());
        }
        let limit = self.limits.history * CONNECTION_EVENTS_PER_REQUEST;
        if self.connection.len() >= limit {
            self.connection.pop_front();
        }
        self.connection.push_back(e);
        self.changed = true;
    }

    fn finish(&mut self, id: u64) -> Option<Update<'_>> {
        let events = self.pending.remove(&id)?;
        let trace = assemble(self.light.clone(), Vec::new(), events);
        self.counts.finished += 1;
        self.remember_finished(id);
        if self.history.len() >= self.limits.history {
            self.history.pop_front();
        }
        self.history.push_back(trace);
        self.changed = true;
        self.history.back().map(Update::Finished)
    }

    fn remember_finished(&mut self, id: u64) {
        let keep = self.limits.history.max(RECENT_FINISHED);
        if self.recent.len() >= keep
            && let Some(old) = self.recent.pop_front()
        {
            self.finish_no.remove(&old);
        }
        self.recent.push_back(id);
        self.finish_no.insert(id, self.counts.finished - 1);
    }

    /// An event for a request that already finished: add it to the
    /// request's trace if the history still holds it.
    fn late(&mut self, id: u64, e: Event) -> Option<Update<'_>> {
        let no = self.finish_no.get(&id).copied()?;
        // The history holds the last `history.len()` finishes.
        let first_kept = self.counts.finished - self.history.len() as u64;
        let Some(pos) = no
            .checked_sub(first_kept)
            .and_then(|p| usize::try_from(p).ok())
            .filter(|&p| p < self.history.len())
        else {
            self.counts.dropped_events += 1;
            return None;
        };
        let light = self.light.clone();
        let trace = self.history.get_mut(pos)?;
        if trace.events.len() >= MAX_EVENTS_PER_REQUEST {
            self.counts.dropped_events += 1;
            return None;
        }
        let status = trace.requests.first().and_then(|r| r.status);
        let mut events = std::mem::take(&mut trace.events);
        events.push(e);
        *trace = assemble(light, Vec::new(), events);
        self.changed = true;
        let trace = &*trace;
        (trace.requests.first().and_then(|r| r.status) != status).then_some(Update::Amended(trace))
    }

    fn drop_oldest_pending(&mut self) {
        if let Some((id, events)) = self.pending.pop_first() {
            self.counts.dropped_requests += 1;
            self.counts.dropped_events += events.len() as u64;
            self.dropped_through = Some(self.dropped_through.map_or(id, |d| d.max(id)));
        }
    }
}

/// Does this event end its request at the web server?
/// Something whose state lasts between requests: a worker, a thread, a
/// thread queue, an event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Worker(u64),
    Thread(u64, u64),
    ThreadQueue(u64),
    Loop,
}

impl Standing {
    fn of(change: &StateChange) -> Option<Standing> {
        match change {
            StateChange::Worker { worker, .. } => Some(Standing::Worker(*worker)),
            StateChange::Thread { worker, thread, .. } => Some(Standing::Thread(*worker, *thread)),
            StateChange::ThreadQueue { worker, .. } => Some(Standing::ThreadQueue(*worker)),
            StateChange::Loop { .. } => Some(Standing::Loop),
            StateChange::Connection { .. }
            | StateChange::Backlog { .. }
            | StateChange::Task { .. } => None,
        }
    }
}

fn finishes(e: &Event) -> bool {
    e.layer == Layer::WebServer
        && (e.step == StepId::WebServerResponseSend
            || e.step == StepId::WebServerClientGone
            || e.answer == Some(408))
}

/// The player's side of `serve --tui`: a mailbox of one trace. The
/// assembler puts a new trace in only when the player took the last one
/// (and at most every [`TUI_REFRESH`]); a newer trace replaces one the
/// player has not read. Cloning the feed shares it.
#[derive(Debug, Clone, Default)]
pub struct TraceFeed {
    slot: Arc<Mutex<FeedSlot>>,
}

#[derive(Debug, Default)]
struct FeedSlot {
    trace: Option<Trace>,
    dropped: u64,
    closed: bool,
}

/// What the player takes from the feed.
#[derive(Debug, Default)]
pub struct FeedTake {
    /// A newer trace, if one came since the last take.
    pub trace: Option<Trace>,
    /// Events dropped so far (recorder and assembler together).
    pub dropped: u64,
    /// No more traces will come.
    pub closed: bool,
}

impl TraceFeed {
    fn with<T>(&self, f: impl FnOnce(&mut FeedSlot) -> T) -> T {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut slot)
    }

    /// Has the player taken the last trace? (Then a new one is worth building.)
    pub fn wants(&self) -> bool {
        self.with(|s| s.trace.is_none())
    }

    /// Put a trace in, replacing any the player has not taken.
    pub fn publish(&self, trace: Trace) {
        self.with(|s| s.trace = Some(trace));
    }

    /// The count of dropped events the player shows.
    pub fn set_dropped(&self, dropped: u64) {
        self.with(|s| s.dropped = dropped);
    }

    /// No more traces will come.
    pub fn close(&self) {
        self.with(|s| s.closed = true);
    }

    /// The player's side: take what is there.
    pub fn take(&self) -> FeedTake {
        self.with(|s| FeedTake {
            trace: s.trace.take(),
            dropped: s.dropped,
            closed: s.closed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::Data;
    use crate::trace::vocab::{Direction, Kind};

    fn meta() -> Meta {
        Meta {
            scenario: "serve".into(),
            title: "test".into(),
            summary: String::new(),
            seed: 0,
            version: String::new(),
            started_at: String::new(),
            config: serde_json::Value::Null,
            variant: None,
        }
    }

    fn live(history: usize, pending: usize) -> LiveAssembler {
        LiveAssembler::new(meta(), Vec::new(), Limits { history, pending })
    }

    fn event(seq: u64, request: Option<u64>, step: StepId) -> Event {
        Event {
            seq,
            at_ns: seq * 1_000,
            layer: step.layer(),
            step,
            instance: None,
            conn: request.map(|r| r % 7 + 1),
            upstream: None,
            app_conn: None,
            request,
            ordinal: None,
            direction: Direction::Within,
            kind: Kind::Step,
            summary: format!("step {seq}"),
            knob: None,
            answer: None,
            state: Vec::new(),
            decision: None,
            failure: None,
            data: Vec::new(),
            narration: None,
            server: None,
        }
    }

    fn head(seq: u64, request: u64, target: &str) -> Event {
        let mut e = event(seq, Some(request), StepId::WebServerRequestReceive);
        e.data.push(Data::RequestHead {
            method: "GET".into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers: Vec::new(),
        });
        e
    }

    fn send(seq: u64, request: u64, status: u16) -> Event {
        let mut e = event(seq, Some(request), StepId::WebServerResponseSend);
        e.data.push(Data::ResponseHead {
            version: "HTTP/1.1".into(),
            status,
            reason: "OK".into(),
            headers: Vec::new(),
        });
        e
    }

    /// Push and return the id and target of the request it finished, if any.
    fn push(live: &mut LiveAssembler, e: Event) -> Option<(u64, String, Option<u16>)> {
        match live.push(e)? {
            Update::Finished(t) | Update::Amended(t) => {
                let r = t.requests.first()?;
                Some((r.id, r.target.clone(), r.status))
            }
        }
    }

    #[test]
    fn interleaved_events_of_several_requests_are_grouped_by_request() {
        let mut l = live(10, 10);
        let mut seq = 0..;
        let mut next = || seq.next().unwrap_or_default();
        for r in 1..=3 {
            assert!(push(&mut l, head(next(), r, &format!("/r{r}"))).is_none());
        }
        for r in [2, 1, 3] {
            let e = event(next(), Some(r), StepId::FrameworkRoute);
            assert!(push(&mut l, e).is_none());
        }
        assert_eq!(l.pending_len(), 3);
        assert_eq!(
            push(&mut l, send(next(), 2, 200)),
            Some((2, "/r2".into(), Some(200)))
        );
        assert_eq!(
            push(&mut l, send(next(), 3, 404)),
            Some((3, "/r3".into(), Some(404)))
        );
        assert_eq!(
            push(&mut l, send(next(), 1, 200)),
            Some((1, "/r1".into(), Some(200)))
        );
        assert_eq!(l.pending_len(), 0);
        let trace = l.trace();
        for r in &trace.requests {
            let steps: Vec<StepId> = trace
                .events
                .iter()
                .filter(|e| e.request == Some(r.id))
                .map(|e| e.step)
                .collect();
            assert_eq!(
                steps,
                [
                    StepId::WebServerRequestReceive,
                    StepId::FrameworkRoute,
                    StepId::WebServerResponseSend
                ],
                "request {}",
                r.id
            );
        }
    }

    #[test]
    fn a_request_ends_on_send_on_408_or_when_the_client_is_gone() {
        let mut l = live(10, 10);
        push(&mut l, head(0, 1, "/a"));
        let mut timeout = event(1, Some(1), StepId::WebServerConnectionClose);
        timeout.answer = Some(408);
        assert_eq!(push(&mut l, timeout), Some((1, "/a".into(), Some(408))));
        push(&mut l, head(2, 2, "/b"));
        let gone = event(3, Some(2), StepId::WebServerClientGone);
        assert_eq!(push(&mut l, gone), Some((2, "/b".into(), Some(499))));
        assert_eq!(l.pending_len(), 0);
        assert_eq!(l.counts().finished, 2);
    }

    #[test]
    fn a_failed_write_after_the_send_amends_the_finished_request_to_499() {
        let mut l = live(10, 10);
        push(&mut l, head(0, 1, "/a"));
        assert_eq!(
            push(&mut l, send(1, 1, 200)),
            Some((1, "/a".into(), Some(200)))
        );
        let gone = event(2, Some(1), StepId::WebServerClientGone);
        assert!(matches!(l.push(gone), Some(Update::Amended(_))));
        assert_eq!(
            l.pending_len(),
            0,
            "no new pending request for a late event"
        );
        let trace = l.trace();
        assert_eq!(trace.requests[0].status, Some(499));
        assert_eq!(trace.events.len(), 3);
    }

    #[test]
    fn the_history_keeps_exactly_the_newest_n_requests() {
        let mut l = live(5, 100);
        for r in 1..=12 {
            push(&mut l, head(r * 2, r, "/"));
            push(&mut l, send(r * 2 + 1, r, 200));
        }
        assert_eq!(l.history_len(), 5);
        assert_eq!(l.history_ids().collect::<Vec<_>>(), [8, 9, 10, 11, 12]);
        let trace = l.trace();
        let ids: Vec<u64> = trace.requests.iter().map(|r| r.id).collect();
        assert_eq!(ids, [8, 9, 10, 11, 12]);
        assert_eq!(l.counts().finished, 12);
    }

    #[test]
    fn over_the_pending_limit_the_oldest_request_is_dropped_and_counted() {
        let mut l = live(10, 3);
        for r in 1..=5 {
            push(&mut l, head(r, r, "/"));
        }
        assert_eq!(l.pending_len(), 3);
        let c = l.counts();
        assert_eq!((c.dropped_requests, c.dropped_events), (2, 2));
        // A late event of a dropped request is dropped too, not a new request.
        assert!(push(&mut l, send(6, 1, 200)).is_none());
        assert_eq!(l.pending_len(), 3);
        assert_eq!(l.counts().dropped_events, 3);
        // The kept ones still finish.
        assert_eq!(push(&mut l, send(7, 5, 200)).map(|f| f.0), Some(5));
    }

    #[test]
    fn events_over_one_requests_limit_are_dropped_but_its_end_is_kept() {
        let mut l = live(10, 10);
        push(&mut l, head(0, 1, "/stream"));
        let extra = MAX_EVENTS_PER_REQUEST + 10;
        for seq in 1..=extra as u64 {
            push(&mut l, event(seq, Some(1), StepId::AppServerAsgiReceive));
        }
        assert_eq!(l.counts().dropped_events, 11);
        let done = push(&mut l, send(extra as u64 + 1, 1, 200));
        assert_eq!(done.map(|f| f.0), Some(1));
    }

    #[test]
    fn connection_scoped_events_are_kept_in_a_bounded_ring() {
        let mut l = live(2, 10);
        for seq in 0..100 {
            push(&mut l, event(seq, None, StepId::WebServerAccept));
        }
        assert_eq!(l.retained_events(), 2 * CONNECTION_EVENTS_PER_REQUEST);
        let seqs: Vec<u64> = l.trace().events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [92, 93, 94, 95, 96, 97, 98, 99]);
    }

    #[test]
    fn a_worker_that_went_idle_long_ago_is_not_drawn_busy_after_the_ring_forgot_it() {
        use crate::trace::state::{StateBoard, WorkerState};
        let worker = |seq, request, state| {
            let mut e = event(seq, request, StepId::AppServerWorker);
            e.state = vec![StateChange::Worker {
                worker: 1,
                state,
                request,
                replaced_by: None,
            }];
            e
        };
        let mut l = live(2, 10);
        // Request 1 makes worker 1 busy; the worker goes idle (a
        // connection-scoped event); then a flood of accepts fills the ring.
        push(&mut l, worker(0, Some(1), WorkerState::Busy));
        push(&mut l, send(1, 1, 200));
        push(&mut l, worker(2, None, WorkerState::Idle));
        for seq in 3..100 {
            push(&mut l, event(seq, None, StepId::WebServerAccept));
        }
        let trace = l.trace();
        let board = StateBoard::at(&trace.events, usize::MAX);
        assert_eq!(
            board.workers.get(&1).map(|(s, _)| *s),
            Some(WorkerState::Idle)
        );
        // Kept once, not twice, while the ring still holds it.
        let mut l = live(2, 10);
        push(&mut l, worker(0, None, WorkerState::Idle));
        let seqs: Vec<u64> = l.trace().events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [0]);
    }

    #[test]
    fn a_million_events_leave_the_retained_size_bounded() {
        let (history, pending) = (100, 50);
        let mut l = live(history, pending);
        // Bound: full pending requests, full history, full connection ring.
        let bound = pending * MAX_EVENTS_PER_REQUEST
            + history * MAX_EVENTS_PER_REQUEST
            + history * CONNECTION_EVENTS_PER_REQUEST;
        let mut seq = 0u64;
        let mut most = 0;
        let mut request = 0u64;
        while seq < 1_000_000 {
            request += 1;
            // Each request: a head, 30 steps, a connection event, and (for
            // 9 in 10) a send; the rest never finish, like vanished clients.
            push(&mut l, head(seq, request, "/notes"));
            seq += 1;
            for _ in 0..30 {
                push(&mut l, event(seq, Some(request), StepId::FrameworkRoute));
                seq += 1;
            }
            push(&mut l, event(seq, None, StepId::WebServerAccept));
            seq += 1;
            if !request.is_multiple_of(10) {
                push(&mut l, send(seq, request, 200));
                seq += 1;
            }
            if request.is_multiple_of(1_000) {
                most = most.max(l.retained_events());
                assert!(l.pending_len() <= pending);
                assert!(l.history_len() <= history);
            }
        }
        assert!(most <= bound, "{most} events retained, bound {bound}");
        // Tighter, for this traffic: history and pending full of 32-event requests.
        assert!(most <= (history + pending) * 32 + history * 4, "{most}");
        let c = l.counts();
        assert_eq!(c.events, seq);
        assert!(c.dropped_requests > 0, "unfinished requests were dropped");
        assert_eq!(
            c.finished + c.dropped_requests + l.pending_len() as u64,
            request
        );
    }

    #[test]
    fn a_snapshot_is_built_only_when_the_history_changed() {
        let mut l = live(10, 10);
        assert!(l.snapshot().is_none());
        push(&mut l, head(0, 1, "/"));
        assert!(l.snapshot().is_none(), "a pending request changes nothing");
        push(&mut l, send(1, 1, 200));
        assert_eq!(l.snapshot().map(|t| t.requests.len()), Some(1));
        assert!(l.snapshot().is_none());
    }

    #[test]
    fn the_feed_holds_one_trace_and_reports_drops() {
        let feed = TraceFeed::default();
        assert!(feed.wants());
        let l = live(10, 10);
        feed.publish(l.trace());
        assert!(!feed.wants());
        feed.publish(l.trace());
        feed.set_dropped(7);
        let got = feed.take();
        assert!(got.trace.is_some());
        assert_eq!((got.dropped, got.closed), (7, false));
        assert!(
            feed.take().trace.is_none(),
            "the newer trace replaced the older"
        );
        feed.close();
        assert!(feed.take().closed);
    }
}
