//! gunicorn's `gthread` worker: a process with a pool of threads.
//!
//! ```text
//!            ┌ worker 1 main loop: accept → queue ──▶ thread 1 … thread T
//! listen ────┤   watches kept-alive connections, closes them after keepalive
//! backlog    └ worker 2 main loop: …
//! ```
//!
//! Each worker's main loop polls the listening socket, the connections it
//! keeps alive and a pipe its threads report to, waking at least once a
//! second (`poller.select(timeout=1.0)`). It accepts while it holds fewer
//! than `worker_connections` connections and hands each to its thread pool
//! (a `ThreadPoolExecutor` of `threads` threads, whose queue holds the
//! connections waiting for a free thread). A thread reads one request,
//! calls the app and writes the response; if the connection may stay open
//! (the request allows it, `keepalive` is not 0 and fewer than
//! `worker_connections - threads` connections are already kept) it goes
//! back to the main loop, which watches it for `keepalive` seconds and
//! queues it again when the next request arrives (gunicorn 27,
//! `workers/gthread.py`).
//!
//! Two consequences a learner can measure:
//!
//! * threads wait in parallel: an app that waits on I/O or sleeps releases
//!   the GIL, so `-w 2 --threads 4` serves 8 such requests at once;
//! * threads do not compute in parallel: Python code runs only under its
//!   process's GIL, so a worker's CPU-bound requests take turns, every
//!   5 ms (the switch interval), however many threads it has
//!   ([`LoopGate::gil`]).
//!
//! The arbiter's `timeout` still applies, but the heartbeat comes from the
//! main loop (`self.notify()` each time round it), not from the threads:
//! a thread stuck in a five-second call does not stop the loop, so the
//! worker is not killed ("For the non sync workers it just means that the
//! worker process is still communicating and is not tied to the length of
//! time required to handle a single request": gunicorn docs, `timeout`).
//! Nothing in the execution model stops a main loop (CPU work hands the
//! GIL over, blocking calls release it), so no gthread worker is killed
//! here; the book says so.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), "Threads in a
//! worker: gthread".

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::{Environ, WsgiApp, workers::call_app};
use crate::gateway::asgi::gate::{Gated, LoopGate};
use crate::gateway::config::AppServerConfig;
use crate::gateway::front::Front;
use crate::gateway::work::{Exec, World};
use crate::http::HttpConn;
use crate::net::{SharedListener, Stream};
use crate::trace::emit::{Step, app_connection_span, request_span, worker_span};
use crate::trace::{
    ConnState, Decision, Direction, Hop, Instance, Kind, QueueChange, StateChange, StepId, Verdict,
    WorkerState,
};
use crate::units::Time;

/// The longest a worker's main loop sleeps in `select()` before it looks
/// at its kept-alive connections again (and notifies the arbiter).
pub const MAIN_LOOP_TICK: Duration = Duration::from_secs(1);

/// How long a thread waits for a new connection's first bytes before it
/// hands the connection back to the main loop to watch, so that a client
/// that connects and says nothing does not hold a thread (gunicorn
/// `DEFAULT_WORKER_DATA_TIMEOUT`).
pub const WORKER_DATA_TIMEOUT: Duration = Duration::from_secs(5);

/// A gthread pool's settings, shared by its workers.
#[derive(Clone)]
pub struct Gthread {
    workers: usize,
    threads: usize,
    worker_connections: usize,
    keepalive: Time,
}

impl Gthread {
    pub fn new(config: &AppServerConfig) -> Gthread {
        Gthread {
            workers: config.workers.max(1),
            threads: config.threads.max(1),
            worker_connections: config.worker_connections.max(1),
            keepalive: config.keepalive,
        }
    }

    pub fn size(&self) -> usize {
        self.workers
    }

    /// Most kept-alive connections per worker: gunicorn's
    /// `max_keepalived = worker_connections - threads`.
    fn max_keepalived(&self) -> usize {
        self.worker_connections.saturating_sub(self.threads)
    }

    /// Worker `n`'s life: its main loop and its threads, until the
    /// listener closes and its last connection has ended.
    pub async fn worker(
        &self,
        n: usize,
        listener: SharedListener,
        app: Arc<dyn WsgiApp>,
        front: Arc<Front>,
        world: World,
    ) {
        let worker = n as u64;
        let ctx = Arc::new(Ctx {
            worker,
            of: self.workers,
            pool: self.clone(),
            front,
            app,
            world,
            gil: LoopGate::gil(worker),
            kept: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        });
        main_loop(ctx, listener).await;
    }
}

/// Start `config.workers` gthread workers accepting from `listener`, as
/// tasks of this runtime (a lesson); returns when every worker has stopped.
pub async fn run(
    listener: SharedListener,
    app: Arc<dyn WsgiApp>,
    config: AppServerConfig,
    front: Arc<Front>,
    world: World,
) {
    let pool = Gthread::new(&config);
    super::run_workers(pool.size(), |n| {
        let (pool, listener, app, front) =
            (pool.clone(), listener.clone(), app.clone(), front.clone());
        async move { pool.worker(n, listener, app, front, world).await }
    })
    .await;
}

/// What one worker's main loop and threads share.
struct Ctx {
    worker: u64,
    of: usize,
    pool: Gthread,
    front: Arc<Front>,
    app: Arc<dyn WsgiApp>,
    world: World,
    gil: Arc<LoopGate>,
    /// Connections the main loop keeps alive now (read by the threads to
    /// decide keep-alive, as gunicorn's threads read `keepalived_conns`).
    kept: AtomicUsize,
    /// Connections waiting in the queue for a free thread.
    queued: AtomicUsize,
}

/// A connection on its way between the main loop and the threads.
struct Job {
    conn: HttpConn<Stream>,
    app_conn: u64,
    peer: SocketAddr,
    /// Accepted and not yet read from.
    fresh: bool,
}

/// What a thread hands back with the connection.
enum After {
    /// The response left it open: watch it for the next request.
    KeepAlive,
    /// No first bytes within [`WORKER_DATA_TIMEOUT`]: watch it for them.
    Pending,
    /// Done with it.
    Close(&'static str),
}

/// A kept connection the main loop watches: when it expires, and how to
/// tell its watcher to close it.
struct Watched {
    deadline: tokio::time::Instant,
    app_conn: u64,
    close: oneshot::Sender<()>,
}

async fn main_loop(ctx: Arc<Ctx>, listener: SharedListener) {
    let w = ctx.worker;
    let cap = ctx.pool.worker_connections;
    // The thread pool's queue, and the pipe threads report back on; both
    // hold at most this worker's connections, which never pass `cap`.
    let (queue_tx, queue_rx) = mpsc::channel::<Job>(cap);
    let queue_rx = Arc::new(tokio::sync::Mutex::new(queue_rx));
    let (done_tx, mut done_rx) = mpsc::channel::<(Job, After)>(cap);
    let (readable_tx, mut readable_rx) = mpsc::channel::<Job>(cap);
    Step::new(StepId::AppServerWorkerIdle, Direction::Within, Kind::Step)
        .instance(Instance::Worker { worker: w })
        .summary(format!(
            "gthread worker {w} of {} starts its main loop and {} thread{}",
            ctx.of,
            ctx.pool.threads,
            if ctx.pool.threads == 1 { "" } else { "s" }
        ))
        .knob("threads", ctx.pool.threads)
        .emit();
    let mut threads = Vec::with_capacity(ctx.pool.threads);
    for t in 1..=ctx.pool.threads as u64 {
        let (ctx2, rx, done) = (ctx.clone(), queue_rx.clone(), done_tx.clone());
        threads.push(tokio::spawn(Gated::new(
            ctx.gil.clone(),
            thread(ctx2, t, rx, done).in_current_span(),
        )));
    }
    drop(done_tx);
    let mut conns = 0usize;
    let mut listening = true;
    let mut watched: VecDeque<Watched> = VecDeque::new();
    loop {
        if !listening && conns == 0 {
            break;
        }
        // The heartbeat: gunicorn's main loop calls self.notify() here,
        // each time round, whatever its threads are doing.
        let accepting = listening && conns < cap;
        tokio::select! {
            biased;
            Some((job, after)) = done_rx.recv() => {
                match after {
                    After::Close(why) => {
                        let mut job = job;
                        let _ = job.conn.shutdown().await;
                        ctx.front.closed(job.app_conn, why);
                        conns -= 1;
                    }
                    after => {
                        let (tx, rx) = oneshot::channel();
                        watched.push_back(Watched {
                            deadline: tokio::time::Instant::now() + ctx.pool.keepalive.0,
                            app_conn: job.app_conn,
                            close: tx,
                        });
                        ctx.kept.store(watched.len(), Ordering::Relaxed);
                        keep(&ctx, job, matches!(after, After::Pending), rx, readable_tx.clone());
                    }
                }
            }
            Some(job) = readable_rx.recv() => {
                watched.retain(|k| k.app_conn != job.app_conn);
                ctx.kept.store(watched.len(), Ordering::Relaxed);
                enqueue(&ctx, &queue_tx, job, "a kept-alive connection has a new request");
            }
            accepted = listener.accept(), if accepting => match accepted {
                Ok(Some(accepted)) => {
                    conns += 1;
                    let app_conn = ctx.front.accepted(
                        &accepted,
                        Instance::Worker { worker: w },
                        None,
                        None,
                    );
                    let job = Job {
                        peer: accepted.peer,
                        conn: ctx.front.conn(accepted.stream),
                        app_conn,
                        fresh: true,
                    };
                    enqueue(&ctx, &queue_tx, job, "accepted");
                    if conns == cap {
                        Step::new(StepId::AppServerThreadQueue, Direction::Within, Kind::Decision)
                            .instance(Instance::Worker { worker: w })
                            .summary(format!(
                                "worker {w} holds worker_connections ({cap}) connections: it \
                                 stops accepting; new ones wait in the backlog"
                            ))
                            .knob("worker_connections", cap)
                            .emit();
                    }
                }
                Ok(None) => listening = false,
                Err(_) => tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await,
            },
            () = tokio::time::sleep(MAIN_LOOP_TICK) => {}
        }
        // gunicorn's murder_keepalived, after every wake.
        let now = tokio::time::Instant::now();
        while watched.front().is_some_and(|k| k.deadline <= now) {
            if let Some(k) = watched.pop_front() {
                let _ = k.close.send(());
                conns -= 1;
            }
        }
        ctx.kept.store(watched.len(), Ordering::Relaxed);
    }
    drop(queue_tx);
    for t in threads {
        let _ = t.await;
    }
}

/// Put `job` in the thread pool's queue.
fn enqueue(ctx: &Ctx, queue: &mpsc::Sender<Job>, job: Job, why: &str) {
    let w = ctx.worker;
    let len = ctx.queued.fetch_add(1, Ordering::Relaxed) as u64 + 1;
    let app_conn = job.app_conn;
    Step::state_only(
        StepId::AppServerThreadQueue,
        StateChange::ThreadQueue {
            worker: w,
            change: QueueChange::Enqueue,
            len,
            capacity: ctx.pool.worker_connections as u64,
        },
    )
    .instance(Instance::Worker { worker: w })
    .app_conn(app_conn)
    .summary(format!(
        "worker {w}'s main loop queues app server connection {app_conn} for its thread pool \
         ({why}): {len} waiting for one of {} threads",
        ctx.pool.threads
    ))
    .emit();
    // The queue holds every connection the worker has, so it has room;
    // if it did not, closing the connection loses no request.
    if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
        queue.try_send(job)
    {
        ctx.queued.fetch_sub(1, Ordering::Relaxed);
        drop(job);
    }
}

/// Hand a connection to the main loop's poller: a watcher reports when
/// its next bytes arrive, or closes it when the main loop says it expired.
fn keep(
    ctx: &Arc<Ctx>,
    job: Job,
    pending: bool,
    close: oneshot::Receiver<()>,
    readable: mpsc::Sender<Job>,
) {
    let (w, app_conn, keepalive) = (ctx.worker, job.app_conn, ctx.pool.keepalive);
    Step::state_only(
        StepId::AppServerKeepalive,
        StateChange::Connection {
            hop: Hop::Upstream,
            conn: app_conn,
            state: ConnState::Idle,
            local: None,
            peer: None,
        },
    )
    .instance(Instance::Worker { worker: w })
    .app_conn(app_conn)
    .summary(if pending {
        format!(
            "no bytes on app server connection {app_conn} within {}: the thread hands it back \
             to worker {w}'s main loop, which watches it for up to keepalive {keepalive}",
            Time(WORKER_DATA_TIMEOUT)
        )
    } else {
        format!(
            "worker {w} keeps app server connection {app_conn} open: its main loop watches it \
             for the next request, for up to keepalive {keepalive}; no thread is held meanwhile"
        )
    })
    .knob("keepalive", keepalive)
    .emit();
    let front = ctx.front.clone();
    let span = worker_span(w).in_scope(|| app_connection_span(app_conn));
    tokio::spawn(
        async move {
            let mut job = job;
            let mut close = close;
            let arrived = tokio::select! {
                biased;
                _ = job.conn.wait_for_data() => true,
                _ = &mut close => false,
            };
            if arrived {
                let _ = readable.send(job).await;
                return;
            }
            Step::new(
                StepId::AppServerKeepaliveTimeout,
                Direction::Within,
                Kind::Decision,
            )
            .instance(Instance::Worker { worker: w })
            .app_conn(app_conn)
            .summary(format!(
                "no request on app server connection {app_conn} for keepalive {keepalive}: \
                     worker {w}'s main loop closes it (at its first wake after the deadline)"
            ))
            .knob("keepalive", keepalive)
            .decision(Decision::new(Verdict::Close).rule(
                "gunicorn's gthread worker closes a kept-alive connection idle for keepalive",
            ))
            .emit();
            let _ = job.conn.shutdown().await;
            front.closed(app_conn, "idle for keepalive");
        }
        .instrument(span),
    );
}

/// One thread of the pool: take the next connection, serve one request on
/// it, hand it back, again.
async fn thread(
    ctx: Arc<Ctx>,
    t: u64,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    done: mpsc::Sender<(Job, After)>,
) {
    let w = ctx.worker;
    let state = |state: WorkerState, request: Option<u64>| StateChange::Thread {
        worker: w,
        thread: t,
        state,
        request,
    };
    Step::state_only(StepId::AppServerThreadIdle, state(WorkerState::Idle, None))
        .instance(Instance::Thread {
            worker: w,
            thread: t,
        })
        .summary(format!("thread {t} of worker {w} waits for a connection"))
        .emit();
    loop {
        let next = { queue.lock().await.recv().await };
        let Some(mut job) = next else {
            return;
        };
        let len = ctx.queued.fetch_sub(1, Ordering::Relaxed).saturating_sub(1) as u64;
        Step::state_only(
            StepId::AppServerThreadQueue,
            StateChange::ThreadQueue {
                worker: w,
                change: QueueChange::Dequeue,
                len,
                capacity: ctx.pool.worker_connections as u64,
            },
        )
        .state(state(WorkerState::Busy, None))
        .instance(Instance::Thread {
            worker: w,
            thread: t,
        })
        .app_conn(job.app_conn)
        .summary(format!(
            "thread {t} of worker {w} takes app server connection {} from the queue ({len} \
             still waiting)",
            job.app_conn
        ))
        .emit();
        let span = worker_span(w).in_scope(|| app_connection_span(job.app_conn));
        let after = handle(&ctx, t, &mut job).instrument(span).await;
        Step::state_only(StepId::AppServerThreadIdle, state(WorkerState::Idle, None))
            .instance(Instance::Thread {
                worker: w,
                thread: t,
            })
            .summary(format!(
                "thread {t} of worker {w} is done with app server connection {} and waits for \
                 the next",
                job.app_conn
            ))
            .emit();
        if done.send((job, after)).await.is_err() {
            return;
        }
    }
}

/// gunicorn's `ThreadWorker.handle`: one request on `job`'s connection.
async fn handle(ctx: &Ctx, t: u64, job: &mut Job) -> After {
    let w = ctx.worker;
    if job.fresh {
        match tokio::time::timeout(WORKER_DATA_TIMEOUT, job.conn.wait_for_data()).await {
            Err(_) => return After::Pending,
            Ok(Ok(true)) => job.fresh = false,
            Ok(_) => return After::Close("the peer closed it"),
        }
    }
    // The thread reads with a blocking socket and no timeout of its own:
    // a client that trickles its request holds this thread (not the
    // worker) until it is done.
    let incoming = match ctx.front.read_request(&mut job.conn, None).await {
        Ok(Some(incoming)) => incoming,
        _ => return After::Close("the peer closed it, or sent no request to serve"),
    };
    let id = incoming.id;
    let kept = ctx.kept.load(Ordering::Relaxed);
    let max_kept = ctx.pool.max_keepalived();
    let wants = incoming.head.wants_keep_alive();
    let keep_alive = wants && !ctx.pool.keepalive.0.is_zero() && kept < max_kept;
    let usable = async {
        Step::new(StepId::AppServerThread, Direction::Within, Kind::Decision)
            .instance(Instance::Thread { worker: w, thread: t })
            .state(StateChange::Thread {
                worker: w,
                thread: t,
                state: WorkerState::Busy,
                request: Some(id),
            })
            .summary(format!(
                "thread {t} of gthread worker {w} takes the request; the worker's other {} \
                 thread{} and its main loop go on meanwhile",
                ctx.pool.threads - 1,
                if ctx.pool.threads == 2 { "" } else { "s" }
            ))
            .knob("threads", ctx.pool.threads)
            .decision(
                Decision::new(if keep_alive {
                    Verdict::KeepOpen
                } else {
                    Verdict::Close
                })
                .rule("a gthread worker keeps the connection if the request allows it, keepalive is not 0 and fewer than worker_connections - threads are kept")
                .input("request allows keep-alive", wants)
                .input("kept-alive connections", kept)
                .knob("max_keepalived", max_kept),
            )
            .emit();
        let mut environ =
            Environ::from_request(&incoming.head, incoming.body, job.peer, ctx.front.local, ctx.of > 1);
        environ.insert("wsgi.multithread", "True");
        let exec = Exec::Thread {
            worker: w,
            thread: t,
            request: id,
            gil: ctx.gil.clone(),
            world: ctx.world,
        };
        exec.scope(call_app(
            &mut job.conn,
            &incoming.head,
            environ,
            incoming.received_at,
            &*ctx.app,
            &ctx.front,
            keep_alive,
        ))
        .await
    }
    .instrument(request_span(id))
    .await;
    if keep_alive && usable {
        After::KeepAlive
    } else {
        After::Close("the response closed it")
    }
}
