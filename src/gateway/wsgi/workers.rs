//! Sync workers: gunicorn's default model.
//!
//! ```text
//!             ┌─ worker 1: accept → read → application(environ, …) → write → close
//! listen ─────┼─ worker 2: accept → …
//! backlog     └─ …
//! ```
//!
//! Every worker calls `accept()` on the same listening socket and serves
//! exactly one request on the connection it got, then closes it: a sync
//! worker always sends `Connection: close` (gunicorn `workers/sync.py`), so
//! its `keepalive` setting does nothing. While a worker waits for the app
//! it takes no other connection; the rest wait in the backlog.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::Instrument;

use super::{Environ, StartResponse, WsgiApp};
use crate::gateway::config::AppServerConfig;
use crate::gateway::front::{Front, Incoming, error_body};
use crate::gateway::work::{Exec, World};
use crate::http::{HttpConn, ResponseHead};
use crate::net::{SharedListener, Stream};
use crate::trace::bytes::show;
use crate::trace::emit::{Step, app_connection_span, request_span, worker_span};
use crate::trace::{
    Data, Decision, Direction, Instance, Kind, StateChange, StepId, Verdict, WorkerState,
};

/// The workers waiting in `accept()` right now: the candidates the kernel
/// picks from when a connection arrives.
type Waiting = Arc<std::sync::Mutex<std::collections::BTreeSet<u64>>>;

/// A pool of sync workers: how many, and which are idle in `accept()`.
/// Each worker runs [`Pool::worker`], as a task in a lesson and on a thread
/// of its own in `serve`.
#[derive(Clone)]
pub struct Pool {
    size: usize,
    waiting: Waiting,
    /// The number the next replacement worker gets.
    next: Arc<AtomicUsize>,
    /// When the arbiter started: it checks its workers every
    /// [`ARBITER_TICK`] from then on.
    epoch: tokio::time::Instant,
    timeout: crate::units::Time,
    max_requests: u64,
    max_requests_jitter: u64,
}

/// How often gunicorn's arbiter looks at its workers: its main loop sleeps
/// in `select()` for at most a second (`arbiter.sleep`), then runs
/// `murder_workers`. A worker is killed at the first look after its
/// heartbeat is `timeout` old, so `timeout = 2` kills after 2 to 3 s.
pub const ARBITER_TICK: std::time::Duration = std::time::Duration::from_secs(1);

impl Pool {
    /// Call inside the runtime whose clock the pool uses.
    pub fn new(config: &AppServerConfig) -> Pool {
        let size = config.workers.max(1);
        Pool {
            size,
            waiting: Waiting::default(),
            next: Arc::new(AtomicUsize::new(size + 1)),
            epoch: tokio::time::Instant::now(),
            timeout: config.timeout,
            max_requests: config.max_requests,
            max_requests_jitter: config.max_requests_jitter,
        }
    }

    /// How many requests worker `n` serves before it restarts: gunicorn
    /// draws `randint(0, max_requests_jitter)` per worker; here the draw is
    /// a hash of the worker's number, so a lesson gives the same numbers
    /// every run. None: no limit.
    fn request_limit(&self, n: usize) -> Option<u64> {
        if self.max_requests == 0 {
            return None;
        }
        let mut x = (n as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        Some(self.max_requests + x % (self.max_requests_jitter + 1))
    }

    fn next_number(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// When the arbiter kills a worker whose last heartbeat was at
    /// `heartbeat`: its first look strictly after `heartbeat + timeout`.
    /// None when `timeout` is 0 (gunicorn: off).
    fn kill_at(
        &self,
        heartbeat: tokio::time::Instant,
        timeout: crate::units::Time,
    ) -> Option<tokio::time::Instant> {
        if timeout.0.is_zero() {
            return None;
        }
        // A timeout too large to add is one that never fires.
        let due = heartbeat
            .checked_add(timeout.0)?
            .saturating_duration_since(self.epoch);
        let ticks = due.as_nanos() / ARBITER_TICK.as_nanos() + 1;
        Some(self.epoch + ARBITER_TICK * u32::try_from(ticks).unwrap_or(u32::MAX))
    }

    pub fn size(&self) -> usize {
        self.size
    }
}

/// Start `config.workers` sync workers accepting from `listener`, as tasks
/// of this runtime (a lesson); returns when every worker has stopped (the
/// listener closed).
pub async fn run(
    listener: SharedListener,
    app: Arc<dyn WsgiApp>,
    config: AppServerConfig,
    front: Arc<Front>,
    world: World,
) {
    let pool = Pool::new(&config);
    super::run_workers(pool.size(), |n| {
        let (pool, listener, app, front) =
            (pool.clone(), listener.clone(), app.clone(), front.clone());
        async move { pool.worker(n, listener, app, front, world).await }
    })
    .await;
}

impl Pool {
    /// Worker `n`'s life: wait in `accept()`, serve one request, close, again.
    pub async fn worker(
        &self,
        n: usize,
        listener: SharedListener,
        app: Arc<dyn WsgiApp>,
        front: Arc<Front>,
        world: World,
    ) {
        worker(n, self.size, listener, app, front, self, world).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    n: usize,
    of: usize,
    listener: SharedListener,
    app: Arc<dyn WsgiApp>,
    front: Arc<Front>,
    pool: &Pool,
    world: World,
) {
    let timeout = pool.timeout;
    let mut n = n;
    let mut served = 0u64;
    let idle = |worker: u64, summary: String| {
        if let Ok(mut w) = pool.waiting.lock() {
            w.insert(worker);
        }
        Step::state_only(
            StepId::AppServerWorkerIdle,
            StateChange::Worker {
                worker,
                state: WorkerState::Idle,
                request: None,
                replaced_by: None,
            },
        )
        .instance(Instance::Worker { worker })
        .summary(summary)
        .emit();
    };
    idle(
        n as u64,
        format!("sync worker {n} of {of} starts and waits in accept()"),
    );
    loop {
        let worker = n as u64;
        let accepted = match listener.accept().await {
            Ok(Some(accepted)) => accepted,
            Ok(None) => return,
            // A failed accept (e.g. too many open files) must not kill the
            // worker; wait a little, the next accept may succeed.
            Err(_) => {
                tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        // The worker's last heartbeat: it notifies the arbiter each time
        // round its loop, just before accept() (gunicorn workers/sync.py).
        let heartbeat = tokio::time::Instant::now();
        // Every idle worker was blocked in accept(); this one got it.
        let candidates: Vec<u64> = match pool.waiting.lock() {
            Ok(mut w) => {
                let all = w.iter().copied().collect();
                w.remove(&worker);
                all
            }
            Err(_) => vec![worker],
        };
        let mut choice = Decision::new(Verdict::Choose)
            .rule("every idle sync worker blocks in accept() on the one listening socket; the kernel wakes one of them")
            .chosen(format!("worker {n}"));
        for c in candidates {
            choice = choice.candidate(
                format!("worker {c}"),
                vec![("state".to_string(), "idle, in accept()".to_string())],
            );
        }
        // gunicorn's sync worker accepts first, then reads the request.
        let app_conn = front.accepted(
            &accepted,
            Instance::Worker { worker },
            Some(worker),
            Some(choice),
        );
        let peer = accepted.peer;
        let mut conn = front.conn(accepted.stream);
        // (killed, a request was read): gunicorn counts a request for
        // max_requests only once it has parsed (`handle_request`).
        let (killed, read) = async {
            // The arbiter's kill covers the whole time since the heartbeat:
            // reading the request as much as running the app. A sync worker
            // reads with a blocking socket and no timeout of its own, so a
            // client that trickles its request holds the worker, silent,
            // until the arbiter gives up on it (gunicorn docs, "Design":
            // sync workers need a buffering proxy in front of them).
            let deadline = pool.kill_at(heartbeat, timeout);
            let mut killed = false;
            let mut read = false;
            match until(deadline, front.read_request(&mut conn, None)).await {
                None => {
                    killed = true;
                    abort(worker, heartbeat, timeout, &mut conn, Stage::Reading).await;
                }
                Some(Ok(Some(incoming))) => {
                    read = true;
                    let span = request_span(incoming.id);
                    let exec = Exec::Worker { worker, world };
                    let serving = exec
                        .scope(serve(n, of, &mut conn, incoming, peer, &*app, &front))
                        .instrument(span.clone());
                    killed = until(deadline, serving).await.is_none();
                    if killed {
                        abort(worker, heartbeat, timeout, &mut conn, Stage::App)
                            .instrument(span)
                            .await;
                    }
                }
                Some(_) => {}
            }
            let _ = conn.shutdown().await;
            front.closed(
                app_conn,
                if killed {
                    "the worker was killed"
                } else {
                    "a sync worker closes after every response"
                },
            );
            (killed, read)
        }
        // A span's parent is fixed when it is made: the connection's span
        // sits inside the worker's, so events see both.
        .instrument(worker_span(worker).in_scope(|| app_connection_span(app_conn)))
        .await;
        if read {
            served += 1;
        }
        let limit = pool.request_limit(n);
        let recycle = !killed && limit.is_some_and(|limit| served >= limit);
        if recycle {
            Step::new(
                StepId::AppServerWorkerRecycle,
                Direction::Within,
                Kind::Decision,
            )
            .instance(Instance::Worker { worker })
            .summary(format!(
                "worker {worker} has served {served} requests, its limit (max_requests {} \
                     + {} of jitter): \"Autorestarting worker after current request.\" It exits",
                pool.max_requests,
                served.saturating_sub(pool.max_requests)
            ))
            .knob("max_requests", pool.max_requests)
            .decision(
                Decision::new(Verdict::Close)
                    .rule("a gunicorn worker exits after max_requests (+ its jitter) requests")
                    .knob("max_requests_jitter", pool.max_requests_jitter)
                    .input("served", served),
            )
            .emit();
        }
        if killed || recycle {
            // The arbiter notices the dead worker and forks a new one: a
            // new process, so a new number (gunicorn's pid).
            n = pool.next_number();
            served = 0;
            let new = n as u64;
            Step::state_only(
                StepId::AppServerWorkerSpawn,
                StateChange::Worker {
                    worker,
                    state: WorkerState::Exited,
                    request: None,
                    replaced_by: Some(new),
                },
            )
            .instance(Instance::Worker { worker })
            .summary(format!(
                "worker {worker} has exited; the arbiter forks worker {new} in its place"
            ))
            .emit();
            idle(
                new,
                format!("sync worker {new} starts and waits in accept()"),
            );
            continue;
        }
        idle(
            worker,
            format!("sync worker {n} is free and waits in accept() again"),
        );
    }
}

/// "sync worker 2 of 4", or for a replacement "sync worker 5 (replacing
/// one of 4)".
fn worker_name(n: usize, of: usize) -> String {
    if n <= of {
        format!("sync worker {n} of {of}")
    } else {
        format!("sync worker {n} (replacing one of {of})")
    }
}

/// Run `f` until `deadline`; None if the deadline came first.
async fn until<F: std::future::Future>(
    deadline: Option<tokio::time::Instant>,
    f: F,
) -> Option<F::Output> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, f).await.ok(),
        None => Some(f.await),
    }
}

/// Where the worker was when the arbiter's kill landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Still reading the request from its client.
    Reading,
    /// Inside `application(environ, start_response)`.
    App,
}

/// The arbiter kills the worker (gunicorn `arbiter.murder_workers`: SIGABRT
/// to a worker whose heartbeat is older than `timeout`); its abort handler
/// raises `SystemExit` wherever the worker is, reading the request or
/// inside the app. The sync worker catches it as a `BaseException` and,
/// since the response had not started, writes gunicorn's 500 page
/// ([`write_error`](super::write_error)) straight onto the socket, without
/// `Server` or `Date` (gunicorn 27, `workers/sync.py` `handle`,
/// `workers/base.py` `handle_error`). Then the worker process exits.
async fn abort(
    worker: u64,
    heartbeat: tokio::time::Instant,
    timeout: crate::units::Time,
    conn: &mut HttpConn<Stream>,
    stage: Stage,
) {
    let silent = crate::units::Time(heartbeat.elapsed());
    let inside = match stage {
        Stage::Reading => {
            "while it still reads the request (a slow client holds a sync worker as surely as a slow app)"
        }
        Stage::App => "inside the app",
    };
    Step::new(StepId::AppServerWorkerTimeout, Direction::Up, Kind::Error)
        .instance(Instance::Worker { worker })
        .summary(format!(
            "WORKER TIMEOUT: the arbiter finds worker {worker} silent for {silent}, over \
             timeout {timeout}, and sends it SIGABRT; SystemExit is raised {inside} \
             and the dying worker writes gunicorn's 500 page"
        ))
        .knob("timeout", timeout)
        .answer(500)
        .decision(
            Decision::new(Verdict::Close)
                .rule("gunicorn's arbiter kills a worker whose heartbeat is older than timeout")
                .input("silent", silent)
                .input(
                    "killed while",
                    match stage {
                        Stage::Reading => "reading the request",
                        Stage::App => "running the app",
                    },
                ),
        )
        .emit();
    let bytes = super::write_error::worker_timeout_page();
    Step::new(StepId::AppServerResponseSend, Direction::Up, Kind::Hop)
        .summary(format!(
            "writes 500 Internal Server Error straight onto the socket ({} bytes, no Server \
             or Date field), then closes",
            bytes.len()
        ))
        .data(Data::Bytes {
            label: "to the web server".into(),
            bytes: show(&bytes),
        })
        .emit();
    let _ = conn.write_all(&bytes).await;
}

/// The app raised out of `application(...)`: gunicorn's `handle_request`
/// re-raises it, and `Worker.handle_error` logs "Error handling request"
/// and writes its 500 page with `util.write_error` (the response had not
/// started: our framework sends nothing before it returns), then the
/// connection closes (gunicorn `workers/base.py`, `workers/sync.py`).
async fn handle_error(conn: &mut HttpConn<Stream>, path: &str, exception: &str) {
    Step::new(StepId::AppServerException, Direction::Up, Kind::Error)
        .summary(format!(
            "the app raised {exception}: the worker logs \"Error handling request {path}\" and answers 500 itself"
        ))
        .data(Data::Fields {
            entries: vec![
                ("exception".to_string(), exception.to_string()),
                ("log".to_string(), format!("Error handling request {path}")),
            ],
        })
        .answer(500)
        .emit();
    let bytes = super::write_error::write_error(500, "Internal Server Error", "");
    Step::new(StepId::AppServerResponseSend, Direction::Up, Kind::Hop)
        .summary(format!(
            "writes gunicorn's 500 page straight onto the socket ({} bytes, no Server or Date \
             field), then closes",
            bytes.len()
        ))
        .data(Data::Bytes {
            label: "to the web server".into(),
            bytes: show(&bytes),
        })
        .emit();
    let _ = conn.write_all(&bytes).await;
}

async fn serve(
    n: usize,
    of: usize,
    conn: &mut HttpConn<Stream>,
    incoming: Incoming,
    peer: SocketAddr,
    app: &dyn WsgiApp,
    front: &Front,
) {
    let Incoming {
        head,
        body,
        received_at,
        ..
    } = incoming;
    let worker = n as u64;
    Step::new(StepId::AppServerWorker, Direction::Within, Kind::Decision)
        .instance(Instance::Worker { worker })
        .state(StateChange::Worker {
            worker,
            state: WorkerState::Busy,
            request: Some(incoming.id),
            replaced_by: None,
        })
        .summary(format!(
            "{} takes the request; it serves nothing else until it is done",
            worker_name(n, of)
        ))
        .knob("workers", of)
        .emit();
    let environ = Environ::from_request(&head, body, peer, front.local, of > 1);
    // A sync worker closes after every response, whatever happened.
    call_app(conn, &head, environ, received_at, app, front, false).await;
}

/// Call `application(environ, start_response)` and write what it returns
/// to the web server, keeping the connection open after it or not. Shared
/// by the sync and the gthread workers. Returns whether the connection
/// may carry another request (not after the app raised).
pub(super) async fn call_app(
    conn: &mut HttpConn<Stream>,
    head: &crate::http::RequestHead,
    environ: Environ,
    received_at: tokio::time::Instant,
    app: &dyn WsgiApp,
    front: &Front,
    keep_alive: bool,
) -> bool {
    Step::new(StepId::AppServerWsgiCall, Direction::Down, Kind::Hop)
        .summary(format!(
            "calls application(environ, start_response) with PATH_INFO={}",
            environ.get("PATH_INFO").unwrap_or("")
        ))
        .data(Data::Environ {
            entries: environ.entries().to_vec(),
        })
        .emit();

    let mut start_response = StartResponse::new();
    let path = environ.get("PATH_INFO").unwrap_or("").to_string();
    let chunks = match app.call(environ, &mut start_response).await {
        Ok(chunks) => chunks,
        Err(exception) => {
            handle_error(conn, &path, &exception).await;
            return false;
        }
    };
    let body: Vec<u8> = chunks.concat();

    let response = match (start_response.code(), &start_response.status) {
        (Some(code), Some(status)) => {
            Step::new(StepId::AppServerWsgiStartResponse, Direction::Up, Kind::Hop)
                .summary(format!(
                    "the app called start_response(\"{status}\", …) and returned {} body chunk{} ({} bytes)",
                    chunks.len(),
                    if chunks.len() == 1 { "" } else { "s" },
                    body.len()
                ))
                .data(Data::StartResponse {
                    status: status.clone(),
                    headers: start_response.headers.clone(),
                })
                .data(Data::Bytes {
                    label: "body chunks, joined".into(),
                    bytes: show(&body),
                })
                .emit();
            let mut r = ResponseHead::new(code);
            r.reason = status.get(4..).unwrap_or("").to_string();
            for (k, v) in &start_response.headers {
                r.headers.push(k.clone(), v.clone());
            }
            (r, body)
        }
        _ => {
            // PEP 3333: an app that never called start_response is broken.
            Step::new(StepId::AppServerWsgiError, Direction::Up, Kind::Error)
                .summary("the app returned without a valid start_response; answering 500")
                .answer(500)
                .emit();
            let mut r = ResponseHead::new(500);
            r.headers.push("Content-Type", "text/html");
            (
                r,
                error_body(500, "the application did not start a response"),
            )
        }
    };
    let (rhead, rbody) = response;
    front
        .send_response(conn, head, rhead, &rbody, keep_alive, received_at)
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::gateway::{BoxFuture, Interface};
    use crate::net::memory_listener;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An app that answers 200 at once.
    struct Ok200;

    impl WsgiApp for Ok200 {
        fn call<'a>(
            &'a self,
            _environ: Environ,
            start_response: &'a mut StartResponse,
        ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
            Box::pin(async move {
                start_response.call("200 OK", vec![]);
                Ok(vec![b"ok".to_vec()])
            })
        }
    }

    /// One sync worker with `timeout`, behind an in-memory listener.
    fn one_worker(timeout: crate::units::Time) -> (crate::net::MemoryDialer, Vec<u8>) {
        let addr = crate::stack::LESSON_APP_ADDR;
        let (dialer, listener) = memory_listener(
            addr,
            crate::stack::LESSON_PROXY_FROM,
            8,
            StepId::AppServerBacklog,
        );
        let config = AppServerConfig {
            workers: 1,
            timeout,
            ..AppServerConfig::default()
        };
        let front = Front::new(Clock::starting_at(0), addr, false, Interface::Wsgi);
        tokio::spawn(run(
            SharedListener::new(listener),
            Arc::new(Ok200),
            config,
            front,
            World::Simulated,
        ));
        (dialer, super::super::write_error::worker_timeout_page())
    }

    /// A client that sends its head and then one body byte a second: the
    /// sync worker reads with no timeout of its own, so it is held, silent,
    /// until the arbiter's first look past `timeout` (2 s, looked at 3 s
    /// in), and the dying worker writes gunicorn's 500 page.
    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_holds_a_sync_worker_until_the_arbiter_kills_it_with_gunicorns_500() {
        let (_guard, recording) = crate::trace::recorder::record_on_this_thread();
        let (dialer, page) = one_worker(crate::units::Time::secs(2));
        let (client, _) = dialer.dial().await.expect("dial");
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let start = tokio::time::Instant::now();
        to_server
            .write_all(b"POST /notes HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
            .await
            .expect("head");
        let trickle = async {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if to_server.write_all(b"x").await.is_err() {
                    break;
                }
            }
            std::future::pending::<()>().await;
        };
        let mut answer = Vec::new();
        let read = async {
            let _ = from_server.read_to_end(&mut answer).await;
            tokio::time::Instant::now()
        };
        let answered_at = tokio::select! {
            biased;
            at = read => at,
            () = trickle => unreachable!("the trickle never ends"),
        };
        assert_eq!(answer, page);
        assert_eq!(answered_at - start, Duration::from_secs(3));
        let events = recording.take();
        let timeout = events
            .iter()
            .find(|e| e.step == StepId::AppServerWorkerTimeout)
            .expect("the arbiter's kill");
        let killed_while = timeout
            .decision
            .as_ref()
            .and_then(|d| d.inputs.iter().find(|(k, _)| k == "killed while"))
            .map(|(_, v)| v.as_str());
        assert_eq!(killed_while, Some("reading the request"));
        assert!(
            !events.iter().any(|e| e.step == StepId::AppServerWsgiCall),
            "the app was never called"
        );
    }
}
