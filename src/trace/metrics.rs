//! Figures for a whole run, computed from its trace: how much got done,
//! how long it took, where the time went, and who was busy.
//!
//! ```text
//!   client ──send────────────────────────────────────────receive──▶  latency
//!              web server ─▶ backlog ┄┄wait┄┄ ─▶ worker busy ─▶ …
//!                                    queue wait        utilization
//! ```
//!
//! * **Throughput** (X): requests whose whole response reached the client
//!   within the measured window, divided by the window's length.
//! * **Latency** (R): from the client's first byte sent to the last byte
//!   of the response read, per request; reported as percentiles (p50, p95,
//!   p99: the smallest value at least that share of requests did not
//!   exceed, the "nearest rank" definition), because a mean hides the slow
//!   tail that users feel.
//! * **Requests in flight** (L): the average number of requests between
//!   send and answer. Little's law (Little 1961) says L = X · R for any
//!   stable system, whatever happens inside; the figures here are
//!   measured separately, so the law is a check on them, and a way to
//!   predict one from the other two.
//! * **Queue wait**: how long a connection waited in the app server's
//!   listen backlog, between the kernel completing its handshake and a
//!   worker calling `accept()`; and on an event loop, how long a task was
//!   ready before the loop first ran it. Queues are where the excess of an
//!   overloaded server goes.
//! * **Time per layer**: each request's latency cut into the layers it
//!   spent it in. Between two consecutive steps of a request, the time
//!   counts for the deeper of their two layers: a request travelling down
//!   from the web server to the app server is waiting *for* the app
//!   server, and one waiting for the database's answer is in the database.
//!   Pure changes of state (a connection joining a queue, a task
//!   suspending at an `await`) are not steps of the journey and do not cut
//!   it: a task awaiting the database is still in the database.
//! * **Utilization**: the share of the window the sync workers were busy
//!   (busy time ÷ (workers × window)), from their state changes; and for an
//!   event loop, the share of time it was running a task (the rest it
//!   waited for I/O), with the tasks in flight.
//! * **Responses**: every answer by status and by the layer that produced
//!   it, and the errors among them (4xx, 5xx, or no response at all).
//!
//! All figures count requests that *completed* in the window `(start,
//! end]` (from the very beginning when `start` is 0). A lesson without a
//! `[load]` measures the whole run; a `[load]` measures from its `warmup`
//! to its `duration`, so that the start, while queues fill, and the end,
//! while the last requests drain, do not blur the steady state.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::instance::Instance;
use super::model::{Data, Event, Trace};
use super::state::{QueueChange, StateChange, TaskState, WorkerState};
use super::vocab::{Kind, Layer, StepId};

/// The figures of one run. Stored in the trace (`Trace::metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The load the lesson put on the stack, when it had a `[load]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSummary>,
    /// The measured window, in simulated nanoseconds.
    pub window: Window,
    /// Requests the client sent within the window.
    pub sent: u64,
    /// Requests whose whole response the client read within the window.
    pub completed: u64,
    /// Requests whose connection closed with no response, within the window.
    pub unanswered: u64,
    /// Completed requests per second of window (X).
    pub throughput_per_s: Option<f64>,
    /// Requests between send and answer, on average over the window (L).
    pub in_flight_mean: Option<f64>,
    /// Client-side latency of the completed requests (R).
    pub latency: Option<Spread>,
    /// Waits in the app server's listen backlog, for connections accepted
    /// within the window.
    pub queue_wait: Option<Spread>,
    /// Event loop: waits between a task being ready and first running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ready_wait: Option<Spread>,
    /// The completed requests' latency, cut by layer, top to bottom.
    pub layers: Vec<LayerShare>,
    /// Sync workers, when the app server has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkerUse>,
    /// The event loop, when the app server has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_loop: Option<LoopUse>,
    /// Answers by status and answering layer (status `null`: none came).
    pub responses: Vec<ResponseCount>,
    /// Answers with status 400 or above, and requests with no answer.
    pub errors: u64,
}

/// A span of simulated time: `(start_ns, end_ns]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Window {
    pub fn len_ns(self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Whether something that happened at `at` falls in the window.
    pub fn contains(self, at: u64) -> bool {
        at <= self.end_ns && (at > self.start_ns || self.start_ns == 0)
    }

    /// How much of `[from, to]` lies inside the window.
    pub fn overlap(self, from: u64, to: u64) -> u64 {
        to.min(self.end_ns).saturating_sub(from.max(self.start_ns))
    }
}

/// A distribution of durations, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    pub count: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p95_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(mut values: Vec<u64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let n = values.len() as u64;
        let total: u128 = values.iter().map(|&v| u128::from(v)).sum();
        Some(Spread {
            count: n,
            mean_ns: u64::try_from(total / u128::from(n)).unwrap_or(u64::MAX),
            p50_ns: nearest_rank(&values, 50),
            p95_ns: nearest_rank(&values, 95),
            p99_ns: nearest_rank(&values, 99),
            max_ns: values.last().copied().unwrap_or(0),
        })
    }
}

/// The `p`th percentile of sorted, non-empty `values`, by nearest rank:
/// the value at rank ⌈p/100 · n⌉ (1-based).
pub fn nearest_rank(values: &[u64], p: u64) -> u64 {
    let n = values.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n.max(1));
    values
        .get(usize::try_from(rank - 1).unwrap_or(0))
        .copied()
        .unwrap_or(0)
}

/// One layer's part of the completed requests' latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerShare {
    pub layer: Layer,
    /// Summed over the completed requests.
    pub total_ns: u64,
    /// Per completed request.
    pub mean_ns: u64,
    /// Of the summed latency, from 0 to 1.
    pub share: f64,
}

/// How busy the sync workers were.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkerUse {
    pub workers: u64,
    /// Busy time of all workers within the window.
    pub busy_ns: u64,
    /// busy ÷ (workers × window), from 0 to 1.
    pub utilization: f64,
    /// Workers busy on average (utilization × workers): Little's L for the pool.
    pub busy_mean: f64,
}

/// How the event loop spent the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoopUse {
    /// Tasks created within the window.
    pub tasks: u64,
    /// Most tasks alive at once (ready, running or awaiting).
    pub peak_in_flight: u64,
    /// Tasks alive on average over the window.
    pub mean_in_flight: f64,
    /// Time the loop spent running tasks (not waiting for any), in the window.
    pub running_ns: u64,
    /// running ÷ window, from 0 to 1.
    pub utilization: f64,
}

/// How many answers had this status, from this layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResponseCount {
    pub status: Option<u16>,
    pub answered_by: Option<Layer>,
    pub count: u64,
}

/// A lesson's `[load]`, as it was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub model: LoadModel,
    /// Open loop: arrivals per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Closed loop: how many clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u64>,
    /// Closed loop: each client's pause between an answer and its next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_ns: Option<u64>,
    pub duration_ns: u64,
    pub warmup_ns: u64,
    pub mix: Vec<MixShare>,
    /// The seed the arrivals and the mix were drawn from.
    pub seed: u64,
    /// Requests the load sent in all (the window may hold fewer).
    pub sent: u64,
    /// True when the load stopped at the most requests a lesson may send.
    pub cap_reached: bool,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    /// Arrivals at a rate, whatever the server does.
    Open,
    /// A fixed number of clients, each waiting for its answer.
    Closed,
}

/// One request of a load's mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixShare {
    pub method: String,
    pub path: String,
    pub weight: u64,
}

/// One request as the client saw it: sent, then answered (or not).
#[derive(Debug, Clone, Copy, Default)]
struct Exchange {
    sent_ns: Option<u64>,
    done_ns: Option<u64>,
    answered: bool,
    /// The status on the response the client read (when it read one).
    status: Option<u16>,
    request: Option<u64>,
}

/// The client's requests, by (its connection number, position on it).
fn exchanges(events: &[Event]) -> BTreeMap<(u64, u64), Exchange> {
    let mut out: BTreeMap<(u64, u64), Exchange> = BTreeMap::new();
    for e in events {
        let (Some(Instance::Client { conn }), Some(ordinal)) = (&e.instance, e.ordinal) else {
            continue;
        };
        let x = out.entry((*conn, ordinal)).or_default();
        x.request = x.request.or(e.request);
        match e.step {
            StepId::ClientRequestSend => x.sent_ns = Some(e.at_ns),
            StepId::ClientResponseReceive => {
                x.done_ns = Some(e.at_ns);
                x.answered = true;
                x.status = e.data.iter().find_map(|d| match d {
                    Data::ResponseHead { status, .. } => Some(*status),
                    _ => None,
                });
            }
            // No answer: the connection closed, or the client gave up.
            StepId::ClientResponseNone | StepId::ClientTimeout => x.done_ns = Some(e.at_ns),
            _ => {}
        }
    }
    out
}

/// How long each connection waited in the app server's listen backlog:
/// (accepted at, waited). A queued connection and an accepted one are
/// paired by the connecting side's address, which both records carry,
/// first with first (a listen queue is FIFO).
pub fn queue_waits(events: &[Event]) -> Vec<(u64, u64)> {
    let mut queued: BTreeMap<&str, std::collections::VecDeque<u64>> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.layer == Layer::AppServer) {
        for s in &e.state {
            let StateChange::Backlog {
                change,
                peer: Some(peer),
                ..
            } = s
            else {
                continue;
            };
            match change {
                QueueChange::Enqueue => queued.entry(peer).or_default().push_back(e.at_ns),
                QueueChange::Dequeue => {
                    if let Some(at) = queued.get_mut(peer.as_str()).and_then(|q| q.pop_front()) {
                        out.push((e.at_ns, e.at_ns.saturating_sub(at)));
                    }
                }
            }
        }
    }
    out
}

/// The last moment of the run.
fn end_of(trace: &Trace) -> u64 {
    trace.events.iter().map(|e| e.at_ns).max().unwrap_or(0)
}

fn ratio(part: f64, whole: f64, places: i32) -> Option<f64> {
    (whole > 0.0).then(|| round(part / whole, places))
}

/// `x` rounded to `places` decimals, so the stored figures read cleanly
/// (and stay the same bits on every platform: basic operations only).
fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// Compute the figures of a run; `load` is the lesson's `[load]` as run.
pub fn compute(trace: &Trace, load: Option<LoadSummary>) -> Metrics {
    let end = end_of(trace);
    let window = match &load {
        Some(l) => Window {
            start_ns: l.warmup_ns,
            end_ns: l.duration_ns,
        },
        None => Window {
            start_ns: 0,
            end_ns: end,
        },
    };
    let len = window.len_ns() as f64;
    let exchanges = exchanges(&trace.events);
    let summary_of = |id: u64| {
        trace
            .requests
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .and_then(|i| trace.requests.get(i))
    };

    let mut sent = 0;
    let mut completed = Vec::new();
    let mut unanswered = 0;
    let mut in_flight_ns: u128 = 0;
    let mut responses: BTreeMap<(Option<u16>, Option<Layer>), u64> = BTreeMap::new();
    for x in exchanges.values() {
        let Some(sent_ns) = x.sent_ns else { continue };
        if window.contains(sent_ns) {
            sent += 1;
        }
        let done_ns = x.done_ns.unwrap_or(end);
        in_flight_ns += u128::from(window.overlap(sent_ns, done_ns));
        if x.done_ns.is_none() || !window.contains(done_ns) {
            continue;
        }
        let summary = x.request.and_then(summary_of);
        let key = if x.answered {
            completed.push((x, done_ns.saturating_sub(sent_ns)));
            match summary {
                Some(s) => (s.status.or(x.status), s.answered_by),
                None => (x.status, None),
            }
        } else {
            unanswered += 1;
            (None, None)
        };
        *responses.entry(key).or_default() += 1;
    }
    let errors = responses
        .iter()
        .filter(|((status, _), _)| status.is_none_or(|s| s >= 400))
        .map(|(_, n)| n)
        .sum();
    let done = completed.len() as u64;

    Metrics {
        load,
        window,
        sent,
        completed: done,
        unanswered,
        throughput_per_s: ratio(done as f64 * 1e9, len, 3),
        in_flight_mean: ratio(in_flight_ns as f64, len, 3),
        latency: Spread::of(completed.iter().map(|(_, took)| *took).collect()),
        queue_wait: Spread::of(
            queue_waits(&trace.events)
                .into_iter()
                .filter(|(at, _)| window.contains(*at))
                .map(|(_, waited)| waited)
                .collect(),
        ),
        task_ready_wait: task_ready_waits(&trace.events, window),
        layers: layer_shares(
            &trace.events,
            completed
                .iter()
                .filter_map(|(x, _)| Some((x.request?, (x.sent_ns?, x.done_ns?))))
                .collect(),
        ),
        workers: worker_use(&trace.events, window, end),
        event_loop: loop_use(&trace.events, window, end),
        responses: responses
            .into_iter()
            .map(|((status, answered_by), count)| ResponseCount {
                status,
                answered_by,
                count,
            })
            .collect(),
        errors,
    }
}

/// Cut each request's latency by layer: between two consecutive steps of
/// a request, inside its send and its answer, the time counts for the
/// deeper layer of the two.
fn layer_shares(events: &[Event], requests: BTreeMap<u64, (u64, u64)>) -> Vec<LayerShare> {
    // Per request: its last step seen (time, layer).
    let mut last: BTreeMap<u64, (u64, Layer)> = BTreeMap::new();
    let mut totals = [0u64; Layer::ALL.len()];
    for e in events.iter().filter(|e| e.kind != Kind::State) {
        let Some(r) = e.request else { continue };
        let Some(&(from, to)) = requests.get(&r) else {
            continue;
        };
        if e.at_ns < from || e.at_ns > to {
            continue;
        }
        if let Some((at, layer)) = last.insert(r, (e.at_ns, e.layer)) {
            let deeper = layer.max(e.layer);
            totals[deeper.depth()] += e.at_ns.saturating_sub(at);
        }
    }
    let n = requests.len() as u64;
    let sum: u64 = totals.iter().sum();
    Layer::ALL
        .iter()
        .zip(totals)
        .filter(|(_, total)| *total > 0)
        .map(|(&layer, total_ns)| LayerShare {
            layer,
            total_ns,
            mean_ns: total_ns / n.max(1),
            share: ratio(total_ns as f64, sum as f64, 4).unwrap_or(0.0),
        })
        .collect()
}

/// Busy time of the sync workers, from their idle/busy changes.
fn worker_use(events: &[Event], window: Window, end: u64) -> Option<WorkerUse> {
    // worker → busy since (None while idle).
    let mut since: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let mut busy_ns = 0u64;
    // The pool's size: the most workers alive at once (a worker the
    // arbiter killed is replaced under a new number).
    let mut workers = 0u64;
    for e in events {
        for s in &e.state {
            let StateChange::Worker { worker, state, .. } = s else {
                continue;
            };
            let was = since.entry(*worker).or_default();
            match (state, *was) {
                (WorkerState::Busy, None) => *was = Some(e.at_ns),
                (WorkerState::Idle | WorkerState::Exited, Some(from)) => {
                    busy_ns += window.overlap(from, e.at_ns);
                    *was = None;
                }
                _ => {}
            }
            if *state == WorkerState::Exited {
                since.remove(worker);
            }
            workers = workers.max(since.len() as u64);
        }
    }
    for from in since.values().flatten() {
        busy_ns += window.overlap(*from, end);
    }
    if workers == 0 {
        return None;
    }
    let capacity = workers as f64 * window.len_ns() as f64;
    let utilization = ratio(busy_ns as f64, capacity, 4).unwrap_or(0.0);
    Some(WorkerUse {
        workers,
        busy_ns,
        utilization,
        busy_mean: round(utilization * workers as f64, 3),
    })
}

/// One task's life, as far as the trace has seen it.
#[derive(Default)]
struct TaskLife {
    ready_ns: Option<u64>,
    first_run_ns: Option<u64>,
    running_since: Option<u64>,
    done: bool,
}

/// The event loop's figures, from its tasks' state changes.
fn loop_use(events: &[Event], window: Window, end: u64) -> Option<LoopUse> {
    let mut tasks: BTreeMap<u64, TaskLife> = BTreeMap::new();
    let mut created = 0u64;
    let mut alive = 0u64;
    let mut peak = 0u64;
    let mut alive_ns: u128 = 0;
    let mut running_ns = 0u64;
    let mut last_at = 0u64;
    for e in events {
        for s in &e.state {
            let StateChange::Task { task, state, .. } = s else {
                continue;
            };
            // The number alive changes only here: integrate it up to now.
            alive_ns += u128::from(alive) * u128::from(window.overlap(last_at, e.at_ns));
            last_at = e.at_ns;
            let life = tasks.entry(*task).or_default();
            match state {
                TaskState::Ready => {
                    if life.ready_ns.is_none() {
                        life.ready_ns = Some(e.at_ns);
                        alive += 1;
                        if window.contains(e.at_ns) {
                            created += 1;
                            peak = peak.max(alive);
                        }
                    }
                }
                TaskState::Running => {
                    life.first_run_ns.get_or_insert(e.at_ns);
                    life.running_since.get_or_insert(e.at_ns);
                }
                TaskState::Awaiting | TaskState::Done => {
                    if let Some(from) = life.running_since.take() {
                        running_ns += window.overlap(from, e.at_ns);
                    }
                    if *state == TaskState::Done && !life.done && life.ready_ns.is_some() {
                        life.done = true;
                        alive = alive.saturating_sub(1);
                    }
                }
            }
        }
    }
    if tasks.is_empty() {
        return None;
    }
    alive_ns += u128::from(alive) * u128::from(window.overlap(last_at, end));
    let len = window.len_ns() as f64;
    Some(LoopUse {
        tasks: created,
        peak_in_flight: peak,
        mean_in_flight: ratio(alive_ns as f64, len, 3).unwrap_or(0.0),
        running_ns,
        utilization: ratio(running_ns as f64, len, 4).unwrap_or(0.0),
    })
}

/// Waits between a task being ready and the loop first running it, for
/// tasks first run within the window.
fn task_ready_waits(events: &[Event], window: Window) -> Option<Spread> {
    let mut ready: BTreeMap<u64, u64> = BTreeMap::new();
    let mut waits = Vec::new();
    for e in events {
        for s in &e.state {
            let StateChange::Task { task, state, .. } = s else {
                continue;
            };
            match state {
                TaskState::Ready => {
                    ready.entry(*task).or_insert(e.at_ns);
                }
                TaskState::Running => {
                    if let Some(at) = ready.remove(task)
                        && window.contains(e.at_ns)
                    {
                        waits.push(e.at_ns.saturating_sub(at));
                    }
                }
                _ => {}
            }
        }
    }
    Spread::of(waits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&values, 50), 50);
        assert_eq!(nearest_rank(&values, 95), 95);
        assert_eq!(nearest_rank(&values, 99), 99);
        // Four values: the median is the 2nd, p95 and p99 the 4th.
        let s = Spread::of(vec![40, 0, 39, 0]).expect("values");
        assert_eq!((s.p50_ns, s.p95_ns, s.p99_ns, s.max_ns), (0, 40, 40, 40));
        assert_eq!(s.mean_ns, 19);
        assert_eq!(Spread::of(Vec::new()), None);
    }

    #[test]
    fn the_window_counts_what_ends_after_its_start_and_by_its_end() {
        let w = Window {
            start_ns: 10,
            end_ns: 20,
        };
        assert!(!w.contains(10) && w.contains(11) && w.contains(20) && !w.contains(21));
        // From the very beginning, time 0 counts.
        let whole = Window {
            start_ns: 0,
            end_ns: 20,
        };
        assert!(whole.contains(0));
        assert_eq!(w.overlap(0, 15), 5);
        assert_eq!(w.overlap(12, 30), 8);
        assert_eq!(w.overlap(25, 30), 0);
    }
}
