//! What a handler's work holds: the execution model.
//!
//! ```text
//!                    sync worker (WSGI)        event loop (ASGI)
//! awaited I/O wait   holds the worker          frees the loop: the task awaits
//! CPU time           holds the worker          holds the loop
//! blocking call      holds the worker          holds the loop: every task waits
//! run_in_threadpool  (a sync worker blocks)    holds a pool thread; the loop is free
//! ```
//!
//! A sync worker serves one request from start to finish, so whatever the
//! handler does, the worker does nothing else meanwhile: four workers and a
//! 100 ms handler make at most 40 requests a second (gunicorn "Design":
//! sync workers handle one request at a time). An event loop runs one task
//! at a time too, but a task that *awaits* (a socket, a timer, an async
//! database driver) hands the loop back, so a thousand tasks can wait at
//! once. What the loop cannot survive is a task that does not await: CPU
//! work or a blocking call (`time.sleep`, a sync driver) inside `async def`
//! stops every other task on that loop, keep-alive timers included, until
//! it returns (uvicorn docs, "Server Behavior"; asyncio docs, "Developing
//! with asyncio: running blocking code"). Starlette's `run_in_threadpool`
//! hands such a call to a thread (AnyIO's default limiter: 40 threads) and
//! awaits it, so the loop stays free.
//!
//! The app server says which of the two it is by running the app inside an
//! [`Exec`] context; a handler declares its work with [`perform`]. The same
//! call does the real thing in both worlds:
//!
//! * in `serve` (real time) an I/O wait is a real timer and CPU time is
//!   real computation. On the event loop a blocking call really blocks its
//!   thread; in a sync worker, which has a thread to itself, it waits on a
//!   timer, which holds that worker just as surely and lets the arbiter's
//!   kill interrupt it (as SIGABRT interrupts a Python worker's sleep). So
//!   a blocked thread stalls exactly what it would stall in gunicorn or
//!   uvicorn;
//! * in a lesson (tokio's paused clock, one thread for the whole stack) a
//!   thread cannot be blocked without stopping the clock, so CPU time and
//!   blocking calls close the loop's [`gate`](super::asgi::gate): no other
//!   task of that loop is polled until the work is done.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::asgi::gate::LoopGate;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};
use crate::units::Time;

/// Threads Starlette's `run_in_threadpool` may use at once: AnyIO's default
/// thread limiter (`anyio.to_thread.current_default_thread_limiter()`, 40).
pub const THREADPOOL_SIZE: usize = 40;

/// A piece of work a handler does that takes time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Waiting on something outside, awaited: an HTTP call, an async
    /// database driver. Frees the event loop; holds a sync worker.
    Io(Duration),
    /// Computation: holds whatever runs it.
    Cpu(Duration),
    /// A call that blocks its thread (`time.sleep`, a sync driver): holds
    /// a sync worker, and inside async code the whole event loop.
    Blocking(Duration),
    /// The same blocking call handed to the thread pool and awaited
    /// (Starlette's `run_in_threadpool`): holds a pool thread, frees the
    /// loop. In a sync worker there is no loop to free: it just blocks.
    Threadpool(Duration),
}

impl Work {
    pub fn duration(self) -> Duration {
        match self {
            Work::Io(d) | Work::Cpu(d) | Work::Blocking(d) | Work::Threadpool(d) => d,
        }
    }

    /// How a person names it.
    pub fn label(self) -> &'static str {
        match self {
            Work::Io(_) => "an awaited I/O wait",
            Work::Cpu(_) => "CPU time",
            Work::Blocking(_) => "a blocking call",
            Work::Threadpool(_) => "a blocking call in the thread pool",
        }
    }
}

/// Lesson (paused clock, one thread) or `serve` (real time, real threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Simulated,
    Real,
}

/// What runs the app right now: set by the app server around each call.
#[derive(Clone)]
pub enum Exec {
    /// A sync worker: it holds the request from start to finish.
    Worker { worker: u64, world: World },
    /// A thread of a gthread worker: holds the request like a sync worker,
    /// but the worker's other threads run meanwhile, except that CPU work
    /// needs the worker's GIL (`gil`), one computing thread at a time.
    Thread {
        worker: u64,
        thread: u64,
        request: u64,
        gil: Arc<LoopGate>,
        world: World,
    },
    /// An event-loop task.
    Loop {
        task: u64,
        request: u64,
        gate: Arc<LoopGate>,
        threadpool: Arc<ThreadPool>,
        world: World,
    },
}

tokio::task_local! {
    static EXEC: Exec;
}

impl Exec {
    /// Run `f` with this context; [`perform`] inside it reads it.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        EXEC.scope(self, f).await
    }
}

/// The threads `run_in_threadpool` may use: AnyIO's thread limiter.
#[derive(Debug)]
pub struct ThreadPool {
    threads: Semaphore,
    size: usize,
}

/// A fresh thread pool of `size` threads for one event loop (at least 1).
pub fn threadpool(size: usize) -> Arc<ThreadPool> {
    let size = size.max(1);
    Arc::new(ThreadPool {
        threads: Semaphore::new(size),
        size,
    })
}

/// Do `work` as whatever runs this code would: see the module doc. Outside
/// any app server (a unit test calling a handler) it is a plain wait.
pub async fn perform(work: Work) {
    let exec = EXEC.try_with(Exec::clone).ok();
    let d = work.duration();
    let holds = match (&exec, work) {
        (Some(Exec::Worker { worker, .. }), _) => format!("sync worker {worker}"),
        (Some(Exec::Thread { worker, thread, .. }), Work::Cpu(_)) => {
            format!("thread {thread} of worker {worker}, and the worker's GIL while it computes")
        }
        (Some(Exec::Thread { worker, thread, .. }), _) => format!(
            "thread {thread} of worker {worker}; the GIL is released while it waits, so the \
             worker's other threads run"
        ),
        (Some(Exec::Loop { .. }), Work::Io(_)) => {
            "nothing: the task awaits, the loop is free".into()
        }
        (Some(Exec::Loop { .. }), Work::Threadpool(_)) => {
            "a thread of the pool; the task awaits it, the loop is free".into()
        }
        (Some(Exec::Loop { .. }), _) => "the event loop: no other task runs".into(),
        (None, _) => "the caller".into(),
    };
    Step::new(StepId::HandlerWork, Direction::Within, Kind::Step)
        .summary(format!(
            "the handler does {} of {}; it holds {holds}",
            work.label(),
            Time(d)
        ))
        .data(Data::Fields {
            entries: vec![
                ("work".into(), work.label().into()),
                ("duration".into(), Time(d).to_string()),
                ("holds".into(), holds),
            ],
        })
        .emit();
    match exec {
        None => tokio::time::sleep(d).await,
        Some(Exec::Worker { world, .. }) => match (world, work) {
            // A sync worker is held whatever it does, and in `serve` it has
            // a thread to itself, so a timer blocks it as surely as a
            // blocking call would. It also lets the arbiter's kill
            // (gunicorn `timeout`) interrupt the call, as SIGABRT interrupts
            // a Python worker's time.sleep.
            (World::Real, Work::Cpu(_)) => compute_yielding(d).await,
            _ => tokio::time::sleep(d).await,
        },
        Some(Exec::Thread {
            thread,
            request,
            gil,
            world,
            ..
        }) => match (world, work) {
            (World::Simulated, Work::Cpu(_)) => gil.compute_with_gil(thread, request, d).await,
            // In `serve` a gthread worker's threads share one OS thread:
            // computing in slices with a yield between hands the CPU from
            // thread to thread, as the GIL's switch interval does.
            (World::Real, Work::Cpu(_)) => compute_yielding(d).await,
            _ => tokio::time::sleep(d).await,
        },
        Some(Exec::Loop {
            task,
            request,
            gate,
            threadpool,
            world,
        }) => match work {
            Work::Io(_) => tokio::time::sleep(d).await,
            Work::Threadpool(_) => in_threadpool(&threadpool, d, world).await,
            Work::Cpu(_) | Work::Blocking(_) => {
                gate.block(task, request, work, world).await;
            }
        },
    }
}

/// `await run_in_threadpool(f)`: wait for one of the pool's threads, then
/// await the call there.
async fn in_threadpool(pool: &ThreadPool, d: Duration, world: World) {
    let size = pool.size;
    let waiting = pool.threads.available_permits() == 0;
    let Ok(_thread) = pool.threads.acquire().await else {
        return;
    };
    Step::new(StepId::AppServerThreadpool, Direction::Within, Kind::Step)
        .summary(format!(
            "the blocking call runs on a thread of the pool ({} of {size} busy{}); \
             the task awaits it and the loop runs other tasks",
            size - pool.threads.available_permits(),
            if waiting {
                ", after waiting for a free one"
            } else {
                ""
            }
        ))
        .knob("threadpool", size)
        .emit();
    match world {
        World::Simulated => tokio::time::sleep(d).await,
        World::Real => {
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(d)).await;
        }
    }
}

/// Really compute for `d`, in slices of a millisecond with a yield between:
/// on a sync worker's own thread nothing else runs in the gaps, but a kill
/// can land (Python checks for signals between bytecodes too).
async fn compute_yielding(d: Duration) {
    let until = std::time::Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        compute_for(left.min(Duration::from_millis(1)));
        tokio::task::yield_now().await;
    }
}

/// Really compute for `d`: a loop of arithmetic the optimiser cannot drop.
pub fn compute_for(d: Duration) {
    let until = std::time::Instant::now() + d;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while std::time::Instant::now() < until {
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}
