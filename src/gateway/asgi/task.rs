//! A request's task, as the event loop sees it.
//!
//! uvicorn runs each request's `app(scope, receive, send)` as an asyncio
//! task. The loop *runs* a task until it reaches an `await` that cannot
//! finish yet; then the task is *awaiting* and the loop is free to run
//! another. This wrapper records exactly those moments: every poll of the
//! app's future starts a run, and a poll that returns `Pending` is the task
//! suspending at an await. Nothing is guessed: the states are the future's
//! own answers to the executor. A poll the task did not ask for (the
//! connection's future is polled because the response collector beside it
//! was woken) is not a resume: the wrapper passes the app its own waker and
//! polls the app again only once that waker has fired, as asyncio resumes
//! a task only when the future it awaits is done.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md), "One loop, many tasks".

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

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
    /// The waker the app's future is polled with.
    wake: Arc<WakeFlag>,
}

/// Records whether the app's future asked to be polled again, and passes
/// the wake on to the executor.
#[derive(Default)]
struct WakeFlag {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let outer = match self.outer.lock() {
            Ok(outer) => outer.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(w) = outer {
            w.wake();
        }
    }
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
            wake: Arc::new(WakeFlag::default()),
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
        {
            let mut outer = match this.wake.outer.lock() {
                Ok(outer) => outer,
                Err(poisoned) => poisoned.into_inner(),
            };
            if !outer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *outer = Some(cx.waker().clone());
            }
        }
        // Not woken since it last suspended: nothing for the app to do.
        if this.started && !this.wake.woken.swap(false, Ordering::SeqCst) {
            return Poll::Pending;
        }
        let what = if this.started {
            "resumes: the loop runs it again"
        } else {
            "starts running on the loop"
        };
        this.started = true;
        if !this.blocking {
            record(this.task, this.request, TaskState::Running, what);
        }
        let waker = Waker::from(this.wake.clone());
        let mut inner_cx = Context::from_waker(&waker);
        let polled = this.inner.as_mut().poll(&mut inner_cx);
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

/// asyncio's ready queue, for tasks just created: each runs on a later
/// turn of the loop than the one that created it, and they run in the
/// order they were created. uvicorn reads every connection that is
/// readable in one turn (creating a task per complete request) before the
/// loop runs any of those tasks; tokio gives no such order by itself (it
/// resumes yielded futures last-in first-out), so the loop keeps its own.
#[derive(Default)]
pub struct ReadyQueue {
    queue: Mutex<VecDeque<(u64, Option<Waker>)>>,
}

impl ReadyQueue {
    /// Wait for `task`'s first turn: after everything ready now has run,
    /// and after every task created before it.
    pub async fn first_turn(&self, task: u64) {
        self.lock().push_back((task, None));
        let _leave = Leave { queue: self, task };
        tokio::task::yield_now().await;
        std::future::poll_fn(|cx| {
            let mut q = self.lock();
            match q.front() {
                Some((front, _)) if *front == task => Poll::Ready(()),
                _ => {
                    if let Some(entry) = q.iter_mut().find(|(t, _)| *t == task) {
                        entry.1 = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
        .await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, Option<Waker>)>> {
        match self.queue.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Takes a task out of the queue when its turn comes (or it is dropped
/// waiting), and wakes the one that is first now.
struct Leave<'a> {
    queue: &'a ReadyQueue,
    task: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut q = self.queue.lock();
        let was_front = q.front().is_some_and(|(t, _)| *t == self.task);
        q.retain(|(t, _)| *t != self.task);
        if was_front && let Some((_, Some(next))) = q.front() {
            next.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A future that never finishes by itself, counting its polls and
    /// keeping the waker it was last polled with.
    fn counting(
        polls: Arc<AtomicUsize>,
        waker: Arc<Mutex<Option<Waker>>>,
    ) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            polls.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut w) = waker.lock() {
                *w = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    #[test]
    fn an_awaiting_task_is_polled_again_only_once_its_own_waker_fires() {
        let polls = Arc::new(AtomicUsize::new(0));
        let inner_waker = Arc::new(Mutex::new(None));
        let mut task = Box::pin(Observed::new(
            counting(polls.clone(), inner_waker.clone()),
            1,
            1,
            LoopGate::new(),
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(task.as_mut().poll(&mut cx).is_pending());
        // Polled because something beside it woke (the response collector
        // in the same join): not a resume.
        assert!(task.as_mut().poll(&mut cx).is_pending());
        assert!(task.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        let woken = inner_waker.lock().ok().and_then(|w| w.clone());
        woken.expect("the app registered a waker").wake();
        assert!(task.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_take_their_first_turn_in_the_order_they_were_created() {
        let ready = Arc::new(ReadyQueue::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        for task in 1..=5u64 {
            let (ready, order) = (ready.clone(), order.clone());
            set.spawn(async move {
                ready.first_turn(task).await;
                if let Ok(mut o) = order.lock() {
                    o.push(task);
                }
            });
        }
        while set.join_next().await.is_some() {}
        let got = order.lock().map(|o| o.clone()).unwrap_or_default();
        assert_eq!(got, [1, 2, 3, 4, 5]);
    }
}
