//! Load: many clients at once, generated from the lesson's seed, the way
//! a load generator (wrk, k6, locust) drives a server.
//!
//! Two shapes of load, because they ask different questions:
//!
//! * **Open loop** (`rate = "50/s"`): new clients arrive at random times,
//!   a Poisson process of that rate, whatever the server is doing, as
//!   visitors arrive at a web site. Each arrival opens its own connection,
//!   sends one request from the mix, reads the answer and closes. When the
//!   rate is above what the stack can serve, the excess piles up in the
//!   queues and waits grow without bound: the open loop shows saturation.
//! * **Closed loop** (`clients = 16`, `think = "0ms"`): a fixed number of
//!   clients, each sending its next request only when the answer to the
//!   last has arrived (and it has thought for `think`), as wrk's
//!   connections do. A client keeps its connection for as long as the
//!   server keeps it alive, and opens a new one after a response with
//!   `Connection: close` or a connection closed without a response. The
//!   load adapts to the server: throughput is `clients / (response time +
//!   think)` (Little's law), so a closed loop measures capacity.
//!
//! New requests start only before `duration`; those in flight then run to
//! their end. Every random choice (arrival gaps, which request of the mix)
//! comes from one [`SplitMix64`] seeded with the lesson's `seed`: the open
//! loop draws from it in arrival order, and each closed-loop client draws
//! from its own generator split off it in client order, so how the clients
//! happen to interleave cannot change what any of them sends.
//!
//! Arrival times are drawn to the nanosecond, and happen on the next tick
//! of tokio's timer, which counts whole milliseconds: a lesson's clients,
//! like its timeouts, act on millisecond boundaries.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::client::{ClientConn, Dialed, Prepared};
use super::format::{Load, MixRequest};
use super::rng::SplitMix64;
use crate::net::MemoryDialer;
use crate::trace::metrics::{LoadModel, LoadSummary, MixShare};

/// Most requests one load may send. Each request records some thirty to
/// forty steps with their data, about 70 KB in memory and 40 KB of JSON
/// (measured with `cargo bench --bench load_lesson`): this keeps a lesson
/// under a gigabyte. A closed loop stops here; an open loop's expected
/// count (`rate × duration`) must stay below it (`check` says so).
pub const MAX_LOAD_REQUESTS: u64 = 10_000;

/// Most clients of a closed loop (each holds a connection).
pub const MAX_LOAD_CLIENTS: u64 = 1_000;

/// Most arrivals per second of an open loop.
pub const MAX_LOAD_RATE: f64 = 10_000.0;

/// The shape of the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    Open { rate_per_second: f64 },
    Closed { clients: u64, think: Duration },
}

/// A load, ready to play: the model, the prepared requests of its mix.
#[derive(Debug, Clone)]
pub struct Plan {
    pub model: Model,
    pub duration: Duration,
    pub warmup: Duration,
    mix: Vec<(Prepared, u64)>,
    total_weight: u64,
    seed: u64,
    summary: LoadSummary,
}

impl Plan {
    /// The plan of a validated `[load]` table.
    pub fn new(load: &Load, seed: u64) -> Plan {
        Plan::with_mix(load, load.mix.get_ref(), seed)
    }

    /// The plan of a `[load]` sending `mix` instead of its own: a variant
    /// of a lesson that compares stacks swaps the requests, entry for
    /// entry, and keeps the load's weights, so the seed picks the same
    /// entries in the same order.
    pub fn with_mix(load: &Load, mix: &[MixRequest], seed: u64) -> Plan {
        let weights: Vec<u64> = load
            .mix
            .get_ref()
            .iter()
            .map(|m| *m.weight.get_ref())
            .collect();
        let weight_of =
            |i: usize, m: &MixRequest| weights.get(i).copied().unwrap_or(*m.weight.get_ref());
        let model = match (&load.rate, &load.clients) {
            (Some(rate), _) => Model::Open {
                rate_per_second: rate.get_ref().per_second(),
            },
            (None, clients) => Model::Closed {
                clients: clients.as_ref().map_or(1, |c| *c.get_ref()),
                think: load
                    .think
                    .as_ref()
                    .map_or(Duration::ZERO, |t| t.get_ref().0),
            },
        };
        let prepared: Vec<(Prepared, u64)> = mix
            .iter()
            .enumerate()
            .map(|(i, m)| (Prepared::new(&m.as_request()), weight_of(i, m)))
            .collect();
        let total_weight = prepared.iter().map(|(_, w)| *w).sum();
        let duration = load.duration.get_ref().0;
        let warmup = load
            .warmup
            .as_ref()
            .map_or(Duration::ZERO, |w| w.get_ref().0);
        let summary = LoadSummary {
            model: match model {
                Model::Open { .. } => LoadModel::Open,
                Model::Closed { .. } => LoadModel::Closed,
            },
            rate_per_s: match model {
                Model::Open { rate_per_second } => Some(rate_per_second),
                Model::Closed { .. } => None,
            },
            clients: match model {
                Model::Closed { clients, .. } => Some(clients),
                Model::Open { .. } => None,
            },
            think_ns: match model {
                Model::Closed { think, .. } => Some(nanos(think)),
                Model::Open { .. } => None,
            },
            duration_ns: nanos(duration),
            warmup_ns: nanos(warmup),
            mix: mix
                .iter()
                .enumerate()
                .map(|(i, m)| MixShare {
                    method: m.method.clone(),
                    path: m.path.get_ref().clone(),
                    weight: weight_of(i, m),
                })
                .collect(),
            seed,
            sent: 0,
            cap_reached: false,
        };
        Plan {
            model,
            duration,
            warmup,
            mix: prepared,
            total_weight,
            seed,
            summary,
        }
    }

    /// Which request of the mix to send next (its index); `None` for an
    /// empty mix, which validation does not let through.
    fn pick(&self, rng: &mut SplitMix64) -> Option<usize> {
        let mut ticket = rng.below(self.total_weight.max(1));
        for (i, (_, weight)) in self.mix.iter().enumerate() {
            if ticket < *weight {
                return Some(i);
            }
            ticket -= weight;
        }
        self.mix.len().checked_sub(1)
    }

    /// The prepared request at `index` of the mix.
    fn request(&self, index: usize) -> Option<&Prepared> {
        self.mix.get(index).map(|(p, _)| p)
    }

    /// The open loop's arrivals, from the start of the lesson: (time, index
    /// into the mix), precomputed, so they cannot depend on the server; and
    /// whether [`MAX_LOAD_REQUESTS`] cut them short.
    pub fn arrivals(&self) -> (Vec<(Duration, usize)>, bool) {
        let Model::Open { rate_per_second } = self.model else {
            return (Vec::new(), false);
        };
        let mut rng = SplitMix64::new(self.seed);
        let mut at = 0u64;
        let end = nanos(self.duration);
        let mut out = Vec::new();
        loop {
            at = at.saturating_add(rng.exponential_ns(rate_per_second));
            if at >= end {
                return (out, false);
            }
            if out.len() as u64 >= MAX_LOAD_REQUESTS {
                return (out, true);
            }
            let Some(chosen) = self.pick(&mut rng) else {
                return (out, false);
            };
            out.push((Duration::from_nanos(at), chosen));
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Counts what the load sent, across its clients.
#[derive(Debug, Default)]
struct Counter {
    sent: AtomicU64,
    capped: AtomicBool,
}

impl Counter {
    /// Take a ticket for one more request; false once the cap is reached.
    fn take(&self) -> bool {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        if n >= MAX_LOAD_REQUESTS {
            self.sent.fetch_sub(1, Ordering::Relaxed);
            self.capped.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// Play the load against the stack behind `dialer`; returns what it sent.
pub async fn play(
    plan: Arc<Plan>,
    dialer: MemoryDialer,
    dialed: Dialed,
    start: Instant,
) -> LoadSummary {
    let counter = Arc::new(Counter::default());
    let mut tasks = tokio::task::JoinSet::new();
    match plan.model {
        Model::Open { .. } => {
            let (arrivals, capped) = plan.arrivals();
            counter.capped.store(capped, Ordering::Relaxed);
            for (at, index) in arrivals {
                tokio::time::sleep_until(start + at).await;
                counter.sent.fetch_add(1, Ordering::Relaxed);
                let (plan, dialer, dialed) = (plan.clone(), dialer.clone(), dialed.clone());
                tasks.spawn(async move {
                    let Some(mut conn) = ClientConn::open(&dialer, &dialed, None).await else {
                        return;
                    };
                    drop(dialer);
                    if let Some(request) = plan.request(index) {
                        let _ = conn.exchange(request).await;
                    }
                    conn.close().await;
                });
                // Reap the finished arrivals as we go, so the set stays small.
                while tasks.try_join_next().is_some() {}
            }
        }
        Model::Closed { clients, think } => {
            let mut master = SplitMix64::new(plan.seed);
            for _ in 0..clients {
                let rng = master.split();
                let (plan, dialer, dialed, counter) = (
                    plan.clone(),
                    dialer.clone(),
                    dialed.clone(),
                    counter.clone(),
                );
                tasks.spawn(closed_loop_client(
                    plan, dialer, dialed, counter, rng, think, start,
                ));
            }
        }
    }
    drop(dialer);
    while tasks.join_next().await.is_some() {}
    let mut summary = plan.summary.clone();
    summary.sent = counter.sent.load(Ordering::Relaxed);
    summary.cap_reached = counter.capped.load(Ordering::Relaxed);
    summary
}

/// One client of a closed loop: send, wait for the whole answer, think,
/// send again, until `duration`.
async fn closed_loop_client(
    plan: Arc<Plan>,
    dialer: MemoryDialer,
    dialed: Dialed,
    counter: Arc<Counter>,
    mut rng: SplitMix64,
    think: Duration,
    start: Instant,
) {
    let end = start + plan.duration;
    let mut conn: Option<ClientConn> = None;
    while Instant::now() < end && counter.take() {
        let Some(request) = plan.pick(&mut rng).and_then(|i| plan.request(i)) else {
            break;
        };
        let mut open = match conn.take() {
            Some(c) => c,
            None => match ClientConn::open(&dialer, &dialed, None).await {
                Some(c) => c,
                None => break,
            },
        };
        let (_, outcome) = open.exchange(request).await;
        if outcome.reusable() {
            conn = Some(open);
        } else {
            // The server closed it (or said it would): a new connection
            // for the next request, as wrk reconnects.
            open.close().await;
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
}
