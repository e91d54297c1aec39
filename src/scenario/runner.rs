//! The lesson runner: the client side of a lesson.
//!
//! It builds the lesson's stack over in-memory pipes on a current-thread
//! tokio runtime whose clock is paused, then plays the client: opens
//! connections, writes the real request bytes at the times the lesson
//! says, reads the responses. Simulated time moves only when every task is
//! waiting, so a lesson that "takes" a minute finishes in milliseconds and
//! records the same trace on every run.
//!
//! The written `[[request]]`s and a `[load]` ([`super::load`]) play at the
//! same time, through the same client ([`super::client`]). When the run is
//! over, the trace is assembled and its figures computed
//! ([`crate::trace::metrics`]).
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Lesson;
use super::client::{ClientConn, Dialed, Prepared};
use super::format::{Request, Scenario};
use super::load::{self, Plan};
use crate::clock::{Clock, LESSON_EPOCH_SECS};
use crate::net::MemoryDialer;
use crate::stack::{self, StackError};
use crate::trace::metrics::{self, LoadSummary};
use crate::trace::{Instance, Layer, Meta, StepId, Trace, assemble};

pub use super::client::{LESSON_HOST, request_bytes};

/// Longest a lesson may run, in simulated time, before it is called stuck.
pub const MAX_LESSON_TIME: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("could not start the lesson's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the lesson did not finish within {0:?} of simulated time")]
    Stuck(Duration),
}

/// A request whose outcome was not what the lesson expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// 1-based index of the `[[request]]` in the file.
    pub request: usize,
    pub message: String,
}

/// A finished lesson: its trace, and any expectation or narration it missed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub trace: Trace,
    pub unmet: Vec<Unmet>,
    /// Narration entries (by index) that matched no step.
    pub unused_narration: Vec<usize>,
}

/// Run a lesson to completion.
pub fn run(lesson: &Lesson) -> Result<Outcome, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(run_async(lesson))
}

async fn run_async(lesson: &Lesson) -> Result<Outcome, RunError> {
    let scenario = &lesson.scenario;
    let (_guard, recording) = crate::trace::recorder::record_on_this_thread();

    let clock = Clock::starting_at(LESSON_EPOCH_SECS);
    let (dialer, running) = stack::start_in_memory(&scenario.stack, clock)?;
    let start = Instant::now();
    let plan = scenario
        .load
        .as_ref()
        .map(|l| Arc::new(Plan::new(l.get_ref(), scenario.seed)));
    let results =
        tokio::time::timeout(MAX_LESSON_TIME, play_client(scenario, plan, dialer, start)).await;
    let (sent, load) = results.map_err(|_| RunError::Stuck(MAX_LESSON_TIME))?;
    if tokio::time::timeout(MAX_LESSON_TIME, running.wait())
        .await
        .is_err()
    {
        return Err(RunError::Stuck(MAX_LESSON_TIME));
    }

    let meta = Meta {
        scenario: lesson.name.clone(),
        title: scenario.title.clone(),
        summary: scenario.summary.clone(),
        seed: scenario.seed,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: clock.started_at(),
        config: serde_json::to_value(&scenario.stack).unwrap_or_default(),
    };
    let mut trace = assemble(meta, stack::layers(&scenario.stack), recording.take());
    trace.metrics = Some(metrics::compute(&trace, load));
    let unused_narration = attach_narration(scenario, &mut trace);
    let unmet = check_expectations(scenario, &trace, &sent);
    Ok(Outcome {
        trace,
        unmet,
        unused_narration,
    })
}

/// Where each `[[request]]` went: (the client's connection number, position on it).
type Sent = BTreeMap<usize, (u64, u64)>;

/// Play the client side: the written requests and the load, at once.
async fn play_client(
    scenario: &Scenario,
    load: Option<Arc<Plan>>,
    dialer: MemoryDialer,
    start: Instant,
) -> (Sent, Option<LoadSummary>) {
    // Group requests by connection, keeping file order.
    let mut conns: Vec<(u64, Vec<(usize, Request)>)> = Vec::new();
    for (i, r) in scenario.requests().iter().enumerate() {
        let key = r.connection.unwrap_or(1_000_000 + i as u64);
        match conns.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push((i + 1, r.clone())),
            None => conns.push((key, vec![(i + 1, r.clone())])),
        }
    }
    let dialed = Dialed::default();
    let mut tasks = tokio::task::JoinSet::new();
    for (_, requests) in conns {
        let dialer = dialer.clone();
        let dialed = dialed.clone();
        tasks.spawn(client_connection(dialer, dialed, requests, start));
    }
    let load = load.map(|plan| tokio::spawn(load::play(plan, dialer.clone(), dialed, start)));
    drop(dialer);
    let mut sent = Sent::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(list) = done {
            sent.extend(list);
        }
    }
    let load = match load {
        Some(handle) => handle.await.ok(),
        None => None,
    };
    (sent, load)
}

/// One connection of written `[[request]]`s, each sent at its `at`.
async fn client_connection(
    dialer: MemoryDialer,
    dialed: Dialed,
    requests: Vec<(usize, Request)>,
    start: Instant,
) -> Vec<(usize, (u64, u64))> {
    let mut sent = Vec::new();
    let first_at = requests
        .first()
        .and_then(|(_, r)| r.at)
        .map(|t| t.0)
        .unwrap_or_default();
    tokio::time::sleep_until(start + first_at).await;
    let Some(mut conn) = ClientConn::open(&dialer, &dialed).await else {
        return sent;
    };
    drop(dialer);
    for (index, r) in requests {
        if let Some(at) = r.at {
            tokio::time::sleep_until(start + at.0).await;
        }
        let (ordinal, outcome) = conn.exchange(&Prepared::new(&r)).await;
        sent.push((index, (conn.id, ordinal)));
        if !outcome.reusable() {
            break;
        }
    }
    conn.close().await;
    sent
}

fn attach_narration(scenario: &Scenario, trace: &mut Trace) -> Vec<usize> {
    let mut unused = Vec::new();
    for (i, n) in scenario.narration.iter().enumerate() {
        let found = trace.events.iter_mut().find(|e| {
            e.step.as_str() == n.step.get_ref() && n.request.is_none_or(|r| e.request == Some(r))
        });
        match found {
            Some(e) => e.narration = Some(n.text.trim().to_string()),
            None => unused.push(i),
        }
    }
    unused
}

fn check_expectations(scenario: &Scenario, trace: &Trace, sent: &Sent) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    for (i, r) in scenario.requests().iter().enumerate() {
        let index = i + 1;
        let Some(expect) = &r.expect else { continue };
        // The request the client sent as the `ordinal`th on its connection
        // `conn`: the trace linked that send to the web server's request.
        let summary = sent.get(&index).and_then(|(conn, ordinal)| {
            let sent = trace.events.iter().find(|e| {
                e.step == StepId::ClientRequestSend
                    && e.instance == Some(Instance::Client { conn: *conn })
                    && e.ordinal == Some(*ordinal)
            })?;
            let id = sent.request?;
            trace.requests.iter().find(|s| s.id == id)
        });
        let Some(summary) = summary else {
            unmet.push(Unmet {
                request: index,
                message: "was never answered (the connection closed first?)".into(),
            });
            continue;
        };
        if let Some(status) = expect.status
            && summary.status != Some(status)
        {
            unmet.push(Unmet {
                request: index,
                message: format!(
                    "expected status {status}, got {}",
                    summary.status.map_or("none".to_string(), |s| s.to_string())
                ),
            });
        }
        if let Some(layer) = &expect.answered_by {
            let want = Layer::parse(layer.get_ref());
            if want != summary.answered_by {
                unmet.push(Unmet {
                    request: index,
                    message: format!(
                        "expected to be answered by the {}, but the {} answered",
                        layer.get_ref(),
                        summary.answered_by.map_or("nobody", |l| l.label())
                    ),
                });
            }
        }
    }
    unmet
}
