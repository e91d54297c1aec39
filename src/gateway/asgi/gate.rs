//! "The loop is blocked": what it means, made exact.
//!
//! An event loop runs one task at a time and switches only at an `await`.
//! A task that computes, or calls something that blocks its thread, keeps
//! the loop until it returns: no other task resumes, no connection is
//! accepted, no timer fires (uvicorn docs, "Server Behavior"; asyncio docs,
//! "Concurrency and Multithreading").
//!
//! In `serve` each event loop has its own thread and a blocking call really
//! blocks it. A lesson runs the whole stack on one thread with a paused
//! clock, where really blocking would stop time itself. There the loop's
//! tasks, its accept loop and its connections' timers are all polled
//! through [`Gated`]: while a task holds the gate ([`LoopGate::block`]),
//! every other future of that loop answers "not yet", and is woken when
//! the gate opens. The web server and the clients, which are other
//! processes in real life, run on as before.
//!
//! The same gate stands for CPython's GIL in a gthread worker
//! ([`LoopGate::gil`]): the worker's threads are polled through it, and a
//! thread that computes holds it, so one thread of a worker computes at a
//! time, while a thread waiting on I/O or in `time.sleep` holds nothing (the
//! GIL is released around blocking calls). Unlike an event loop, which
//! keeps running one task until it awaits, CPython makes a computing
//! thread hand the GIL over every switch interval
//! (`sys.getswitchinterval()`, 5 ms) when another thread wants it: the
//! gate does that too, in slices of [`GIL_SWITCH_INTERVAL`].
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::task::Id;

use crate::gateway::work::{Work, World, compute_for};
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Instance, Kind, LoopState, StateChange, StepId};
use crate::units::Time;

/// CPython's default switch interval (`sys.getswitchinterval()`): how long
/// a thread computes before it must drop the GIL for a thread waiting
/// for it.
pub const GIL_SWITCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

/// What a gate stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GateKind {
    /// An event loop: a task holds it until its call returns.
    #[default]
    EventLoop,
    /// The GIL of gthread worker `worker`: handed over every switch interval.
    Gil { worker: u64 },
}

/// One event loop's gate (or one worker's GIL): open, or held by one tokio
/// task.
#[derive(Default)]
pub struct LoopGate {
    state: Mutex<GateState>,
    kind: GateKind,
}

#[derive(Default)]
struct GateState {
    /// The tokio task (one per connection) whose code holds the loop.
    held_by: Option<Id>,
    /// Futures of this loop that found the gate closed.
    waiting: Vec<Waker>,
}

impl LoopGate {
    pub fn new() -> Arc<LoopGate> {
        Arc::new(LoopGate::default())
    }

    /// The GIL of gthread worker `worker`.
    pub fn gil(worker: u64) -> Arc<LoopGate> {
        Arc::new(LoopGate {
            state: Mutex::default(),
            kind: GateKind::Gil { worker },
        })
    }

    /// Compute for `d` holding the GIL, thread `thread` of its worker, in
    /// turns of [`GIL_SWITCH_INTERVAL`] with the worker's other computing
    /// threads. Only a lesson calls it: in `serve` a gthread worker's
    /// threads share one OS thread that really computes.
    pub async fn compute_with_gil(&self, thread: u64, request: u64, d: std::time::Duration) {
        let GateKind::Gil { worker } = self.kind else {
            return;
        };
        Step::new(StepId::AppServerGil, Direction::Within, Kind::Step)
            .instance(Instance::Thread { worker, thread })
            .summary(format!(
                "thread {thread} of worker {worker} computes for {} for request {request}: \
                 Python code runs only while its thread holds the worker's GIL, so the \
                 worker's computing threads take turns every {}; its threads that wait on \
                 I/O go on waiting meanwhile",
                Time(d),
                Time(GIL_SWITCH_INTERVAL)
            ))
            .data(Data::Fields {
                entries: vec![
                    ("worker".into(), worker.to_string()),
                    ("thread".into(), thread.to_string()),
                    ("CPU time".into(), Time(d).to_string()),
                    (
                        "switch interval".into(),
                        Time(GIL_SWITCH_INTERVAL).to_string(),
                    ),
                ],
            })
            .emit();
        let mut left = d;
        while !left.is_zero() {
            let slice = left.min(GIL_SWITCH_INTERVAL);
            {
                let _held = self.hold();
                tokio::time::sleep(slice).await;
            }
            left -= slice;
            if !left.is_zero() {
                // Drop the GIL: a thread woken by the release runs first.
                tokio::task::yield_now().await;
            }
        }
    }

    /// Hold the loop for `work` (CPU time or a blocking call) of `task`.
    pub async fn block(&self, task: u64, request: u64, work: Work, world: World) {
        let d = work.duration();
        Step::state_only(
            StepId::AppServerLoopBlocked,
            StateChange::Loop {
                state: LoopState::Blocked,
                task: Some(task),
                request: Some(request),
            },
        )
        .instance(Instance::Task { task })
        .summary(format!(
            "the event loop is blocked by request {request} for {}: {} inside async code \
             never awaits, so no other task, accept or timer runs on this loop",
            Time(d),
            work.label()
        ))
        .emit();
        match world {
            World::Real => match work {
                Work::Cpu(_) => compute_for(d),
                _ => std::thread::sleep(d),
            },
            World::Simulated => {
                let _held = self.hold();
                tokio::time::sleep(d).await;
            }
        }
        Step::state_only(
            StepId::AppServerLoopFree,
            StateChange::Loop {
                state: LoopState::Free,
                task: None,
                request: None,
            },
        )
        .instance(Instance::Task { task })
        .summary(format!(
            "request {request}'s call returned after {}: the loop runs its other tasks again",
            Time(d)
        ))
        .emit();
    }

    /// Close the gate for everyone but the current tokio task, until the
    /// guard drops (also when the task is cancelled mid-call).
    fn hold(&self) -> Held<'_> {
        if let Ok(mut s) = self.state.lock() {
            s.held_by = tokio::task::try_id();
        }
        Held(self)
    }

    /// Does the current tokio task hold the loop (a simulated blocking call)?
    pub fn held_by_current_task(&self) -> bool {
        self.state
            .lock()
            .is_ok_and(|s| s.held_by.is_some() && s.held_by == tokio::task::try_id())
    }

    /// May the current task run now? If not, it is woken when it may.
    fn admit(&self, cx: &Context<'_>) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        match s.held_by {
            Some(holder) if tokio::task::try_id() != Some(holder) => {
                if !s.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    s.waiting.push(cx.waker().clone());
                }
                false
            }
            _ => true,
        }
    }
}

struct Held<'a>(&'a LoopGate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let waiting = match self.0.state.lock() {
            Ok(mut s) => {
                s.held_by = None;
                std::mem::take(&mut s.waiting)
            }
            Err(_) => Vec::new(),
        };
        for w in waiting {
            w.wake();
        }
    }
}

/// A future of the loop, polled only while the loop is not held by
/// another task.
pub struct Gated<F> {
    inner: Pin<Box<F>>,
    gate: Arc<LoopGate>,
}

impl<F: Future> Gated<F> {
    pub fn new(gate: Arc<LoopGate>, inner: F) -> Gated<F> {
        Gated {
            inner: Box::pin(inner),
            gate,
        }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if !this.gate.admit(cx) {
            return Poll::Pending;
        }
        this.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A task that ticks every millisecond, on the same loop as a task that
    /// blocks for 100 ms: it misses every tick of the block.
    #[tokio::test(start_paused = true)]
    async fn a_blocked_loop_runs_no_other_task_until_the_call_returns() {
        let gate = LoopGate::new();
        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(Gated::new(gate.clone(), async move {
                for _ in 0..200 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }))
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let before = ticks.load(Ordering::SeqCst);
        let blocker = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.block(
                    1,
                    1,
                    Work::Blocking(Duration::from_millis(100)),
                    World::Simulated,
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let at_block = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(98)).await;
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            at_block,
            "the ticker ran while the loop was blocked"
        );
        let _ = blocker.await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(ticks.load(Ordering::SeqCst) > at_block);
        assert!(before >= 9);
        ticker.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_blocker_opens_the_gate() {
        let gate = LoopGate::new();
        let blocker = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.block(1, 1, Work::Cpu(Duration::from_secs(10)), World::Simulated)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        blocker.abort();
        let _ = blocker.await;
        let ran = tokio::time::timeout(
            Duration::from_millis(5),
            tokio::spawn(Gated::new(gate, async { 7 })),
        )
        .await;
        assert!(matches!(ran, Ok(Ok(7))));
    }
}
