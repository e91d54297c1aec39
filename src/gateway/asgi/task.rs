//! A request's task, as the event loop sees it.
//!
//! uvicorn runs each request's `app(scope, receive, send)` as an asyncio
//! task. The loop *runs* a task until it reaches an `await` that cannot
//! finish yet; then the task is *awaiting* and the loop is free to run
//! another. This wrapper records exactly those moments: every poll of the
//! app's future starts a run, and a poll that returns `Pending` is the task
//! suspending at an await. Nothing is guessed: the states are the future's
//! own answers to the executor.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md), "One loop, many tasks".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::gate::LoopGate;
use crate::trace::emit::Step;
use crate::trace::{Instance, StateChange, StepId, TaskState};

/// A future that records its task's state each time the loop polls it.
pub struct Observed<F> {
    inner: Pin<Box<F>>,
    task: u64,
    request: u64,
    /// False until the first poll: the task is ready but not yet run.
    started: bool,
    /// The loop's gate: while this task holds it (a blocking call in a
    /// lesson), a `Pending` is the simulated call, not an await.
    gate: Arc<LoopGate>,
    /// The last poll returned while this task held the loop: the task
    /// never stopped running.
    blocking: bool,
}

impl<F: Future> Observed<F> {
    /// Wrap the app call of `request`, run as `task`. Records it as ready.
    pub fn new(inner: F, task: u64, request: u64, gate: Arc<LoopGate>) -> Observed<F> {
        record(
            task,
            request,
            TaskState::Ready,
            "is created and ready to run",
        );
        Observed {
            inner: Box::pin(inner),
            task,
            request,
            started: false,
            gate,
            blocking: false,
        }
    }
}

fn record(task: u64, request: u64, state: TaskState, what: &str) {
    Step::state_only(
        StepId::AppServerTask,
        StateChange::Task {
            task,
            state,
            request: Some(request),
        },
    )
    .instance(Instance::Task { task })
    .summary(format!("task {task} (request {request}) {what}"))
    .emit();
}

impl<F: Future> Future for Observed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let what = if this.started {
            "resumes: the loop runs it again"
        } else {
            "starts running on the loop"
        };
        this.started = true;
        if !this.blocking {
            record(this.task, this.request, TaskState::Running, what);
        }
        let polled = this.inner.as_mut().poll(cx);
        this.blocking = this.gate.held_by_current_task();
        match polled {
            Poll::Pending if this.blocking => Poll::Pending,
            Poll::Pending => {
                record(
                    this.task,
                    this.request,
                    TaskState::Awaiting,
                    "awaits: suspended, the loop is free for other tasks",
                );
                Poll::Pending
            }
            Poll::Ready(out) => {
                record(this.task, this.request, TaskState::Done, "is done");
                Poll::Ready(out)
            }
        }
    }
}
