//! The event loop: uvicorn's model.
//!
//! ```text
//! lifespan.startup ─▶ accept ─▶ task per connection ─▶ per request: scope, then
//!                               await app(scope, receive, send)   ← many at once, one thread
//!                ─▶ shutdown: stop accepting, close idle connections,
//!                             wait for the rest ─▶ lifespan.shutdown
//! ```
//!
//! One loop runs every connection; a request waiting on the database costs
//! a suspended task, not a worker. Around that core:
//!
//! - **Tasks.** Each request's `app(scope, receive, send)` runs as a task
//!   (`task`): created *ready* when its head has been parsed, run by the
//!   loop on a later turn, *awaiting* at every `await` that cannot finish
//!   yet. uvicorn parses every request that is readable in one turn of the
//!   loop and creates its task before it runs any of them; a task here
//!   yields once after it is created to keep that order.
//! - **The gate.** Everything the loop runs goes through its [`LoopGate`]:
//!   a task that computes or makes a blocking call keeps the loop, and no
//!   other task, accept or timer of this loop runs until it returns (see
//!   `gate`).
//! - **`limit_concurrency`.** Over the limit (open connections or tasks,
//!   as uvicorn counts them) the server answers 503 itself; that answer is
//!   a task too, and counts while it runs.
//! - **Keep-alive.** Connections stay open between requests until
//!   `timeout_keep_alive` (5 s) passes idle. Pipelined requests on one
//!   connection are handled one at a time, in order.
//! - **Lifespan** (ASGI lifespan spec). Before the first accept the loop
//!   sends `lifespan.startup` and waits for the app: `complete`, and it
//!   serves; `failed`, and it exits without serving, as uvicorn does
//!   ("Application startup failed. Exiting."); an app that does not speak
//!   lifespan is served without it (`--lifespan auto`).
//! - **Shutdown.** When the listener closes (the lesson is over, or
//!   `serve` is stopping) the loop stops accepting, closes idle keep-alive
//!   connections at once, lets the others finish their response and then
//!   close, waits for every task, and only then sends `lifespan.shutdown`
//!   (uvicorn `Server.shutdown`).
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md), "Sync and async servers"
//! (book/src/concurrency.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use tracing::Instrument;

use super::AsgiApp;
use super::gate::{Gated, LoopGate};
use super::message::{Message, channel};
use super::scope::Scope;
use crate::gateway::config::AppServerConfig;
use crate::gateway::front::{Close, Front, Incoming};
use crate::gateway::work::{self, Exec, World};
use crate::http::headers::latin1;
use crate::http::target::percent_decode;
use crate::http::{HttpConn, RequestHead, ResponseHead};
use crate::net::{Listener, Stream};
use crate::trace::emit::{Step, app_connection_span, request_span, task_span};
use crate::trace::{Data, Decision, Direction, Instance, Kind, StepId, Verdict};
use crate::units::Time;

use super::task::{Observed, ReadyQueue};

/// How long the loop waits for the app to answer `lifespan.startup`.
/// uvicorn waits without limit (and never listens meanwhile); roundtrip
/// stops after this long and says so, so that a lesson or `serve` with an
/// app stuck in startup ends with a report instead of hanging.
pub const LIFESPAN_STARTUP_PATIENCE: Duration = Duration::from_secs(60);

/// Accept connections until the listener closes; each gets its own task.
/// Everything this loop runs goes through its [`LoopGate`]: a task that
/// blocks the loop stops the others (see `gate`).
pub async fn run(
    mut listener: Listener,
    app: Arc<dyn AsgiApp>,
    config: AppServerConfig,
    front: Arc<Front>,
    world: World,
) {
    let lifespan = match Lifespan::startup(app.clone()).await {
        Startup::Complete(lifespan) => Some(lifespan),
        Startup::Unsupported => None,
        // The socket closes unused: connections to it are refused, and a
        // web server in front answers 502.
        Startup::Failed => return,
    };
    let mut connections = tokio::task::JoinSet::new();
    let (closing, closing_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        next_task: AtomicU64::new(1),
        gate: LoopGate::new(),
        threadpool: work::threadpool(config.threadpool),
        connections: AtomicUsize::new(0),
        tasks: AtomicUsize::new(0),
        ready: ReadyQueue::default(),
        closing: closing_rx,
        world,
    });
    loop {
        match Gated::new(shared.gate.clone(), listener.accept()).await {
            Ok(Some(accepted)) => {
                let app = app.clone();
                let front = front.clone();
                let config = config.clone();
                let shared = shared.clone();
                let app_conn = front.accepted(&accepted, Instance::Listener, None, None);
                let (stream, peer) = (accepted.stream, accepted.peer);
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let gate = shared.gate.clone();
                // Finished connections stay in the set until joined: reap
                // them, or the loop grows with every connection it had.
                while connections.try_join_next().is_some() {}
                connections.spawn(Gated::new(
                    gate,
                    async move {
                        let why = connection(stream, peer, app, config, &front, &shared).await;
                        shared.connections.fetch_sub(1, Ordering::SeqCst);
                        front.closed(app_conn, why);
                    }
                    .instrument(app_connection_span(app_conn)),
                ));
            }
            Ok(None) => break,
            Err(_) => tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await,
        }
    }
    drop(listener);
    let open = shared.connections.load(Ordering::SeqCst);
    Step::new(StepId::AppServerShutdown, Direction::Within, Kind::Step)
        .summary(format!(
            "the listening socket is closed: the event loop stops accepting, closes idle \
             keep-alive connections and waits for {open} open connection{} to finish",
            if open == 1 { "" } else { "s" }
        ))
        .emit();
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    if let Some(lifespan) = lifespan {
        lifespan.shutdown().await;
    }
}

/// How lifespan startup ended.
enum Startup {
    /// `lifespan.startup.complete`: serve, and send `lifespan.shutdown` at
    /// the end.
    Complete(Lifespan),
    /// The app does not speak lifespan (it raised, returned, or sent
    /// something else): serve without it, as `--lifespan auto` does.
    Unsupported,
    /// `lifespan.startup.failed`, or no answer within
    /// [`LIFESPAN_STARTUP_PATIENCE`]: do not serve.
    Failed,
}

/// The app's lifespan call, alive from before the first accept until after
/// the last connection (ASGI lifespan spec; uvicorn `--lifespan auto`).
struct Lifespan {
    to_app: tokio::sync::mpsc::Sender<Message>,
    from_app: tokio::sync::mpsc::Receiver<Message>,
    call: tokio::task::JoinHandle<Result<(), String>>,
}

impl Lifespan {
    /// Start the call and wait for the app's answer to `lifespan.startup`.
    async fn startup(app: Arc<dyn AsgiApp>) -> Startup {
        let (to_app, receive, send, mut from_app) = channel();
        Step::new(StepId::AppServerLifespan, Direction::Down, Kind::Hop)
            .summary(
                "before it accepts a connection, the event loop calls the app once with the \
                 lifespan scope and sends lifespan.startup",
            )
            .data(Data::Scope {
                entries: vec![
                    ("type".into(), "lifespan".into()),
                    (
                        "asgi".into(),
                        serde_json::json!({"version": "3.0", "spec_version": "2.0"}),
                    ),
                    ("state".into(), serde_json::json!({})),
                ],
            })
            .emit();
        let call = tokio::spawn(async move { app.lifespan(receive, send).await }.in_current_span());
        let _ = to_app.send(Message::LifespanStartup).await;
        let answer = tokio::time::timeout(LIFESPAN_STARTUP_PATIENCE, from_app.recv()).await;
        let refuse = |why: String| {
            Step::new(StepId::AppServerLifespan, Direction::Up, Kind::Error)
                .summary(format!(
                    "{why}: the event loop exits without serving (uvicorn: \"Application \
                     startup failed. Exiting.\"); its socket closes and connections to it are \
                     refused"
                ))
                .emit();
            Startup::Failed
        };
        match answer {
            Ok(Some(Message::LifespanStartupComplete)) => {
                Step::new(StepId::AppServerLifespan, Direction::Up, Kind::Hop)
                    .summary(
                        "the app is ready (lifespan.startup.complete): the loop starts accepting",
                    )
                    .emit();
                Startup::Complete(Lifespan {
                    to_app,
                    from_app,
                    call,
                })
            }
            Ok(Some(Message::LifespanStartupFailed { message })) => {
                call.abort();
                refuse(format!(
                    "the app sent lifespan.startup.failed ({message:?})"
                ))
            }
            Err(_) => {
                call.abort();
                refuse(format!(
                    "the app has not answered lifespan.startup in {} (uvicorn would wait \
                     forever, never listening; roundtrip stops waiting)",
                    Time(LIFESPAN_STARTUP_PATIENCE)
                ))
            }
            Ok(other) => {
                let why = match other {
                    Some(m) => format!("it sent {}", m.type_name()),
                    None => match call.await {
                        Ok(Err(e)) => e,
                        _ => "it returned".to_string(),
                    },
                };
                Step::new(StepId::AppServerLifespan, Direction::Up, Kind::Step)
                    .summary(format!(
                        "the app does not complete lifespan startup ({why}): the loop serves \
                         without lifespan events, as uvicorn's --lifespan auto does"
                    ))
                    .emit();
                Startup::Unsupported
            }
        }
    }

    /// Every connection is closed: tell the app, and wait for it.
    async fn shutdown(mut self) {
        Step::new(StepId::AppServerLifespan, Direction::Down, Kind::Hop)
            .summary("every connection is closed: the loop sends lifespan.shutdown")
            .emit();
        let _ = self.to_app.send(Message::LifespanShutdown).await;
        let answer = self.from_app.recv().await;
        let _ = self.call.await;
        let summary = match answer {
            Some(Message::LifespanShutdownComplete) => {
                "the app has cleaned up (lifespan.shutdown.complete): the event loop stops"
                    .to_string()
            }
            Some(Message::LifespanShutdownFailed { message }) => format!(
                "the app's cleanup failed (lifespan.shutdown.failed, {message:?}): the event \
                 loop stops anyway"
            ),
            _ => {
                "the app ended without lifespan.shutdown.complete: the event loop stops".to_string()
            }
        };
        Step::new(StepId::AppServerLifespan, Direction::Up, Kind::Hop)
            .summary(summary)
            .emit();
    }
}

/// What every connection of one loop shares.
struct Shared {
    next_task: AtomicU64,
    gate: Arc<LoopGate>,
    /// Starlette's `run_in_threadpool` threads for this loop.
    threadpool: Arc<work::ThreadPool>,
    /// Open connections and request tasks (the 503s over the limit
    /// included), as uvicorn counts them for `limit_concurrency`.
    connections: AtomicUsize,
    tasks: AtomicUsize,
    /// Tasks created and not yet run once.
    ready: ReadyQueue,
    /// Turns true when the server is shutting down.
    closing: watch::Receiver<bool>,
    world: World,
}

/// Counts one task for `limit_concurrency` while it lives.
struct TaskCount<'a>(&'a AtomicUsize);

impl<'a> TaskCount<'a> {
    fn new(tasks: &'a AtomicUsize) -> TaskCount<'a> {
        tasks.fetch_add(1, Ordering::SeqCst);
        TaskCount(tasks)
    }
}

impl Drop for TaskCount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves when the server starts shutting down.
async fn shutting_down(closing: &mut watch::Receiver<bool>) {
    if closing.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The server is shutting down and this connection has no request in
/// progress: uvicorn closes it at once (`Connection.shutdown`).
fn close_at_shutdown(served: u64) {
    Step::new(StepId::AppServerShutdown, Direction::Within, Kind::Decision)
        .summary(if served == 0 {
            "the server is shutting down: it closes this connection, which has sent no \
             request yet"
        } else {
            "the server is shutting down: it closes this idle keep-alive connection"
        })
        .decision(
            Decision::new(Verdict::Close)
                .rule("at shutdown uvicorn closes connections with no request in progress"),
        )
        .emit();
}

async fn connection(
    stream: Stream,
    peer: SocketAddr,
    app: Arc<dyn AsgiApp>,
    config: AppServerConfig,
    front: &Front,
    shared: &Shared,
) -> &'static str {
    let mut conn = front.conn(stream);
    let idle = config.timeout_keep_alive.0;
    let mut closing = shared.closing.clone();
    let mut served = 0u64;
    loop {
        if served > 0 {
            // Wait for the next request's first bytes, unless the server
            // starts shutting down first. Data already here wins: that
            // request is in progress.
            let waited = tokio::select! {
                biased;
                waited = tokio::time::timeout(idle, conn.wait_for_data()) => Some(waited),
                () = shutting_down(&mut closing) => None,
            };
            match waited {
                Some(Ok(Ok(true))) => {}
                Some(Ok(_)) => return "the web server closed it",
                Some(Err(_)) => {
                    Step::new(
                        StepId::AppServerKeepaliveTimeout,
                        Direction::Within,
                        Kind::Decision,
                    )
                    .summary(format!(
                        "the upstream connection was idle for {}; the event loop closes it",
                        config.timeout_keep_alive
                    ))
                    .knob("timeout_keep_alive", config.timeout_keep_alive)
                    .decision(
                        Decision::new(Verdict::Close).rule(
                            "uvicorn closes a keep-alive connection idle for timeout_keep_alive",
                        ),
                    )
                    .emit();
                    let _ = conn.shutdown().await;
                    return "idle for timeout_keep_alive";
                }
                None => {
                    close_at_shutdown(served);
                    let _ = conn.shutdown().await;
                    return "the server is shutting down";
                }
            }
        }
        let patience = Some(("timeout_keep_alive", config.timeout_keep_alive));
        // A new connection whose request has not arrived is closed at
        // shutdown too (uvicorn has no request in progress for it yet).
        let read = tokio::select! {
            biased;
            read = front.read_request(&mut conn, patience) => Some(read),
            () = shutting_down(&mut closing), if served == 0 => None,
        };
        let incoming = match read {
            Some(Ok(Some(incoming))) => incoming,
            Some(_) => return "no request could be read",
            None => {
                close_at_shutdown(served);
                let _ = conn.shutdown().await;
                return "the server is shutting down";
            }
        };
        served += 1;
        let keep_alive = incoming.head.wants_keep_alive();
        let span = request_span(incoming.id);
        let task = shared.next_task.fetch_add(1, Ordering::Relaxed);
        // A span's parent is fixed when it is made: make the task's inside
        // the request's, so events in the task see both.
        let task_span = span.in_scope(|| task_span(task));
        if let Some(limit) = over_limit(&config, shared) {
            let _task = TaskCount::new(&shared.tasks);
            // uvicorn runs the 503 as a task of its own, on a later turn.
            shared.ready.first_turn(task).await;
            refuse_over_limit(&mut conn, incoming, front, limit, shared)
                .instrument(span)
                .await;
            let _ = conn.shutdown().await;
            return "limit_concurrency: the 503 closes the connection";
        }
        // `Upgrade: websocket`: this connection becomes the socket, and
        // one app call serves it until it closes.
        if crate::http::ws::handshake::uvicorn_upgrades(&incoming.head) {
            let _task = TaskCount::new(&shared.tasks);
            let why = super::websocket::serve(&mut conn, incoming, peer, &*app, front, &config)
                .instrument(task_span)
                .await;
            let _ = conn.shutdown().await;
            return why;
        }
        let ok = {
            let _task = TaskCount::new(&shared.tasks);
            serve(
                &mut conn, incoming, peer, &*app, front, &config, keep_alive, task, shared,
            )
            .instrument(task_span)
            .await
        };
        if let Some(why) = ok {
            let _ = conn.shutdown().await;
            return why;
        }
        if !keep_alive {
            let _ = conn.shutdown().await;
            return "the request asked for Connection: close";
        }
        if *closing.borrow() {
            close_at_shutdown(served);
            let _ = conn.shutdown().await;
            return "the server is shutting down";
        }
    }
}

/// `limit_concurrency`, when this request would go over it: uvicorn counts
/// open connections (this one included) and running request tasks, and
/// refuses when either has reached the limit (uvicorn `protocols/http`,
/// `handle_events`).
fn over_limit(config: &AppServerConfig, shared: &Shared) -> Option<usize> {
    let limit = config.limit_concurrency?;
    let connections = shared.connections.load(Ordering::SeqCst);
    let tasks = shared.tasks.load(Ordering::SeqCst);
    (connections >= limit || tasks >= limit).then_some(limit)
}

/// uvicorn's answer over `limit_concurrency`: a plain-text 503 from the
/// server itself; the app never sees the request.
async fn refuse_over_limit(
    conn: &mut HttpConn<Stream>,
    incoming: Incoming,
    front: &Front,
    limit: usize,
    shared: &Shared,
) {
    let connections = shared.connections.load(Ordering::SeqCst);
    let tasks = shared.tasks.load(Ordering::SeqCst);
    Step::new(
        StepId::AppServerLimitConcurrency,
        Direction::Within,
        Kind::Decision,
    )
    .summary(format!(
        "{connections} connection{} open and {tasks} task{} running, limit_concurrency {limit}: the server answers 503 itself and the app never sees the request",
        if connections == 1 { "" } else { "s" },
        if tasks == 1 { "" } else { "s" },
    ))
    .knob("limit_concurrency", limit)
    .answer(503)
    .decision(
        Decision::new(Verdict::Refuse { status: 503 })
            .rule("uvicorn refuses when open connections or tasks reach limit_concurrency")
            .input("connections", connections)
            .input("tasks", tasks),
    )
    .emit();
    let mut head = ResponseHead::new(503);
    head.headers
        .push("content-type", "text/plain; charset=utf-8");
    head.headers.push("connection", "close");
    let _ = front
        .send_response(
            conn,
            &incoming.head,
            head,
            b"Service Unavailable",
            false,
            incoming.received_at,
        )
        .await;
}

/// Who the client is, as uvicorn's proxy-headers middleware decides it:
/// behind a trusted proxy, the right-most `X-Forwarded-For` entry that is
/// not itself a trusted proxy, with port 0 (the header carries no port).
/// `None`: the peer is the client (not trusted, no header, or turned off).
pub fn forwarded_client(
    head: &RequestHead,
    peer: SocketAddr,
    config: &AppServerConfig,
) -> Option<String> {
    if !config.proxy_headers {
        return None;
    }
    let trusted = |ip: &str| {
        config
            .forwarded_allow_ips
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == ip)
    };
    if !trusted(&peer.ip().to_string()) {
        return None;
    }
    let forwarded = head.headers.get("x-forwarded-for")?;
    let hosts: Vec<&str> = forwarded.split(',').map(str::trim).collect();
    let host = hosts.iter().rev().find(|h| !trusted(h)).or(hosts.first())?;
    Some(host.to_string())
}

/// The scheme uvicorn's proxy-headers middleware puts in the scope: the
/// `X-Forwarded-Proto` of a trusted peer (`https` behind a proxy that
/// terminated TLS), else `http`, what the socket itself carries.
pub fn forwarded_scheme(head: &RequestHead, peer: SocketAddr, config: &AppServerConfig) -> String {
    let trusted = config.proxy_headers
        && config
            .forwarded_allow_ips
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == peer.ip().to_string());
    match head.headers.get("x-forwarded-proto").map(str::trim) {
        Some(proto @ ("http" | "https")) if trusted => proto.to_string(),
        _ => "http".to_string(),
    }
}

/// The scope for one request (ASGI HTTP spec 2.3, as uvicorn declares it).
/// `client` is the forwarded client when [`forwarded_client`] found one.
pub fn scope_for(
    head: &RequestHead,
    peer: SocketAddr,
    local: SocketAddr,
    client: Option<&str>,
) -> Scope {
    let decoded = percent_decode(&crate::http::headers::latin1_bytes(head.path()));
    Scope {
        http_version: if head.version == crate::http::Version::Http10 {
            "1.0"
        } else {
            "1.1"
        }
        .into(),
        method: head.method.to_ascii_uppercase(),
        scheme: "http".into(),
        path: String::from_utf8(decoded.clone()).unwrap_or_else(|_| latin1(&decoded)),
        raw_path: crate::http::headers::latin1_bytes(head.path()),
        query_string: crate::http::headers::latin1_bytes(head.query()),
        root_path: String::new(),
        headers: head
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase().into_bytes(),
                    crate::http::headers::latin1_bytes(v),
                )
            })
            .collect(),
        client: Some(match client {
            Some(host) => (host.to_string(), 0),
            None => (peer.ip().to_string(), peer.port()),
        }),
        server: Some((local.ip().to_string(), local.port())),
    }
}

/// Run one request through the app; why the connection must close now,
/// if it must (a failed write, or an exception out of the app).
#[allow(clippy::too_many_arguments)]
async fn serve(
    conn: &mut HttpConn<Stream>,
    incoming: Incoming,
    peer: SocketAddr,
    app: &dyn AsgiApp,
    front: &Front,
    config: &AppServerConfig,
    keep_alive: bool,
    task: u64,
    shared: &Shared,
) -> Option<&'static str> {
    let Incoming {
        id,
        head,
        body,
        received_at,
    } = incoming;
    let forwarded = forwarded_client(&head, peer, config);
    let mut scope = scope_for(&head, peer, front.local, forwarded.as_deref());
    scope.scheme = forwarded_scheme(&head, peer, config);
    if let Some(client) = &forwarded {
        Step::new(
            StepId::AppServerProxyHeaders,
            Direction::Within,
            Kind::Decision,
        )
        .summary(format!(
            "the peer {} is a trusted proxy (forwarded_allow_ips {}): scope[\"client\"] \
                 becomes the X-Forwarded-For client ({client}, 0), not the proxy",
            peer.ip(),
            config.forwarded_allow_ips
        ))
        .knob("proxy_headers", "on")
        .decision(
            Decision::new(Verdict::Rewrite)
                .rule("uvicorn --proxy-headers: believe X-Forwarded-For from trusted peers")
                .knob("forwarded_allow_ips", &config.forwarded_allow_ips)
                .input("peer", peer)
                .input(
                    "x_forwarded_for",
                    head.headers.get("x-forwarded-for").unwrap_or(""),
                )
                .chosen(client.clone()),
        )
        .emit();
    }
    Step::new(StepId::AppServerAsgiCall, Direction::Down, Kind::Hop)
        .summary(format!(
            "the event loop starts a task: await app(scope, receive, send) for {} {}",
            scope.method, scope.path
        ))
        .data(Data::Scope {
            entries: scope.entries(),
        })
        .emit();

    let (req_tx, receive, send, mut res_rx) = channel();
    // The whole body is already here (the web server buffered it), so it
    // goes in one http.request message with more_body = false.
    let _ = req_tx
        .send(Message::HttpRequest {
            body,
            more_body: false,
        })
        .await;

    // receive() after the body waits: the ASGI spec gives http.disconnect
    // only once the response is sent or the client is gone (uvicorn's
    // `receive` waits on its message event until `response_complete` or
    // `disconnected`). The sender is kept until the response is complete.
    let collect = async move {
        let req_tx = req_tx;
        let mut start = None;
        let mut body = Vec::new();
        while let Some(m) = res_rx.recv().await {
            match m {
                Message::HttpResponseStart { status, headers } if start.is_none() => {
                    start = Some((status, headers));
                }
                Message::HttpResponseBody { body: b, more_body } if start.is_some() => {
                    body.extend_from_slice(&b);
                    if !more_body {
                        break;
                    }
                }
                // Anything else after (or before) the right order is ignored,
                // as the spec says for messages after a complete response.
                _ => {}
            }
        }
        drop(req_tx);
        (start, body)
    };
    let exec = Exec::Loop {
        task,
        request: id,
        gate: shared.gate.clone(),
        threadpool: shared.threadpool.clone(),
        world: shared.world,
    };
    let call = Observed::new(
        exec.scope(app.call(scope, receive, send)),
        task,
        id,
        shared.gate.clone(),
    );
    // The task is created ready; the loop runs it on a later turn, after
    // it has read whatever else is readable now (asyncio's call_soon).
    shared.ready.first_turn(task).await;
    // The app first, then the collector, every time: when the app finishes
    // its last send, the collector takes the response in the same turn of
    // the loop, as uvicorn's send() writes to the transport before the
    // task's next await. (join! would otherwise rotate the order, and on a
    // loop another task blocks, a lost turn is a long one.)
    let (result, (start, rbody)) = tokio::join!(biased; call, collect);

    // uvicorn's `run_asgi`: an exception out of the app is logged as
    // "Exception in ASGI application"; if the response had not started,
    // uvicorn answers 500 itself (`send_500_response`, with `connection:
    // close`), and if it had, it closes the transport after it.
    let raised = result.as_ref().err().cloned();
    if let Some(exception) = &raised {
        let started = start.is_some();
        let mut step = Step::new(StepId::AppServerException, Direction::Up, Kind::Error)
            .summary(if started {
                format!(
                    "the app raised {exception} after starting its response: uvicorn logs \"Exception in ASGI application\" and closes the connection after it"
                )
            } else {
                format!(
                    "the app raised {exception} before any http.response.start: uvicorn logs \"Exception in ASGI application\" and answers 500 itself"
                )
            })
            .data(Data::Fields {
                entries: vec![
                    ("exception".to_string(), exception.clone()),
                    ("log".to_string(), "Exception in ASGI application".to_string()),
                    ("response_started".to_string(), started.to_string()),
                ],
            });
        if !started {
            step = step.answer(500);
        }
        step.emit();
    }
    let (rhead, rbody) = match start {
        Some((status, headers)) => {
            let mut r = ResponseHead::new(status);
            for (n, v) in headers {
                r.headers.push(latin1(&n), latin1(&v));
            }
            (r, rbody)
        }
        None => {
            if raised.is_none() {
                Step::new(StepId::AppServerAsgiError, Direction::Up, Kind::Error)
                    .summary(
                        "no http.response.start was sent (the app returned without sending a response); answering 500",
                    )
                    .answer(500)
                    .emit();
            }
            if front
                .send_uvicorn_500(conn, &head, received_at)
                .await
                .is_err()
            {
                return Some("the response could not be written");
            }
            return Some("uvicorn answered 500 itself, with connection: close");
        }
    };
    // After an exception in a started response uvicorn only closes the
    // transport (`run_asgi`: `self.transport.close()`): the head the app
    // sent goes out as it was, with no `connection: close` added.
    let close = match (keep_alive, raised.is_some()) {
        (true, false) => Close::No,
        (true, true) => Close::Silently,
        (false, _) => Close::Announced,
    };
    if front
        .send_response_then(conn, &head, rhead, &rbody, close, received_at)
        .await
        .is_err()
    {
        return Some("the response could not be written");
    }
    raised
        .is_some()
        .then_some("the app raised an exception: uvicorn closes the connection after it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_scheme_is_https_only_when_a_trusted_proxy_says_so() {
        let mut head = RequestHead {
            method: "GET".into(),
            target: "/".into(),
            version: crate::http::Version::Http11,
            headers: crate::http::Headers::new(),
        };
        head.headers.push("X-Forwarded-Proto", "https");
        let config = AppServerConfig::default();
        let proxy: SocketAddr = "127.0.0.1:40001".parse().expect("an address");
        let stranger: SocketAddr = "203.0.113.7:5000".parse().expect("an address");
        assert_eq!(forwarded_scheme(&head, proxy, &config), "https");
        assert_eq!(forwarded_scheme(&head, stranger, &config), "http");
        let off = AppServerConfig {
            proxy_headers: false,
            ..AppServerConfig::default()
        };
        assert_eq!(forwarded_scheme(&head, proxy, &off), "http");
    }
    use crate::clock::Clock;
    use crate::gateway::BoxFuture;
    use crate::gateway::asgi::{Receive, Send};
    use crate::gateway::config::Interface;
    use crate::net::{MemoryDialer, memory_listener};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the test app does with a request.
    #[derive(Clone, Default)]
    enum Behaviour {
        /// A plain 200.
        #[default]
        Answer,
        /// Raise before sending anything.
        RaiseAtOnce,
        /// Start a 200, then raise.
        RaiseAfterStart,
        /// Read the body, call receive() again (noting whether it came
        /// back within a second), answer 200, then call receive() once
        /// more; what each extra call gave is noted.
        ReceiveAgain(Arc<std::sync::Mutex<Vec<String>>>),
    }

    /// An app whose lifespan answers startup as `startup` says, and whose
    /// requests get what `behaviour` says.
    struct App {
        startup: Option<Message>,
        behaviour: Behaviour,
    }

    async fn ok(send: &Send) -> Result<(), String> {
        send.send(Message::HttpResponseStart {
            status: 200,
            headers: vec![(b"content-length".to_vec(), b"2".to_vec())],
        })
        .await?;
        send.send(Message::HttpResponseBody {
            body: b"ok".to_vec(),
            more_body: false,
        })
        .await
    }

    impl AsgiApp for App {
        fn call<'a>(
            &'a self,
            _scope: Scope,
            mut receive: Receive,
            send: Send,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                match &self.behaviour {
                    Behaviour::Answer => ok(&send).await,
                    Behaviour::RaiseAtOnce => Err("KeyError: 'title'".into()),
                    Behaviour::RaiseAfterStart => {
                        send.send(Message::HttpResponseStart {
                            status: 200,
                            headers: vec![(b"content-length".to_vec(), b"2".to_vec())],
                        })
                        .await?;
                        Err("KeyError: 'title'".into())
                    }
                    Behaviour::ReceiveAgain(noted) => {
                        let _body = receive.recv().await;
                        let early =
                            tokio::time::timeout(Duration::from_secs(1), receive.recv()).await;
                        let early = match early {
                            Ok(m) => m.type_name().to_string(),
                            Err(_) => "still waiting".to_string(),
                        };
                        ok(&send).await?;
                        let after = receive.recv().await.type_name().to_string();
                        if let Ok(mut noted) = noted.lock() {
                            noted.extend([early, after]);
                        }
                        Ok(())
                    }
                }
            })
        }

        fn lifespan<'a>(
            &'a self,
            mut receive: Receive,
            send: Send,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                loop {
                    match receive.recv().await {
                        Message::LifespanStartup => match &self.startup {
                            Some(answer) => send.send(answer.clone()).await?,
                            // Never answers: hangs in startup.
                            None => std::future::pending::<()>().await,
                        },
                        Message::LifespanShutdown => {
                            return send.send(Message::LifespanShutdownComplete).await;
                        }
                        _ => return Ok(()),
                    }
                }
            })
        }
    }

    fn start(startup: Option<Message>) -> (MemoryDialer, tokio::task::JoinHandle<()>) {
        start_with(startup, Behaviour::Answer)
    }

    fn start_with(
        startup: Option<Message>,
        behaviour: Behaviour,
    ) -> (MemoryDialer, tokio::task::JoinHandle<()>) {
        let local = SocketAddr::from(([127, 0, 0, 1], 8000));
        let from = SocketAddr::from(([127, 0, 0, 1], 40001));
        let (dialer, listener) = memory_listener(local, from, 16, StepId::AppServerBacklog);
        let config = AppServerConfig {
            interface: Interface::Asgi,
            ..AppServerConfig::default()
        };
        let front = Front::new(Clock::starting_at(0), local, false, Interface::Asgi);
        let app: Arc<dyn AsgiApp> = Arc::new(App { startup, behaviour });
        let server = tokio::spawn(run(listener, app, config, front, World::Simulated));
        (dialer, server)
    }

    #[tokio::test(start_paused = true)]
    async fn an_app_that_fails_startup_is_never_served_and_its_socket_refuses() {
        let (dialer, server) = start(Some(Message::LifespanStartupFailed {
            message: "no database".into(),
        }));
        assert!(server.await.is_ok());
        let refused = dialer.dial().await.err().map(|e| e.kind());
        assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
    }

    #[tokio::test(start_paused = true)]
    async fn an_app_stuck_in_startup_is_given_up_after_the_stated_patience() {
        let began = tokio::time::Instant::now();
        let (dialer, server) = start(None);
        assert!(server.await.is_ok());
        assert_eq!(began.elapsed(), LIFESPAN_STARTUP_PATIENCE);
        assert!(dialer.dial().await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn at_shutdown_an_idle_keep_alive_connection_is_closed_at_once() {
        let (dialer, server) = start(Some(Message::LifespanStartupComplete));
        let (mut stream, _) = dialer.dial().await.unwrap_or_else(|e| panic!("dial: {e}"));
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: app\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut response = vec![0u8; 4096];
        let n = stream.read(&mut response).await.unwrap_or(0);
        assert!(
            response[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            &response[..n]
        );
        // The connection is idle and kept alive; closing the listener
        // (the last dialer goes) starts the shutdown.
        let began = tokio::time::Instant::now();
        drop(dialer);
        let n = stream.read(&mut response).await.unwrap_or(0);
        assert_eq!(n, 0, "the server closed the idle connection");
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "closed at shutdown, not by timeout_keep_alive: {:?}",
            began.elapsed()
        );
        assert!(server.await.is_ok());
    }

    /// Send one request, read until the server closes or 2 s pass; what
    /// came back, and whether the server closed.
    async fn exchange(dialer: &MemoryDialer, request: &[u8]) -> (String, bool) {
        let (mut stream, _) = dialer.dial().await.unwrap_or_else(|e| panic!("dial: {e}"));
        stream
            .write_all(request)
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => return (String::from_utf8_lossy(&got).into(), false),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn uvicorns_own_500_is_written_as_h11_writes_it_chunked_and_closed() {
        let (dialer, _server) = start_with(
            Some(Message::LifespanStartupComplete),
            Behaviour::RaiseAtOnce,
        );
        let (response, closed) = exchange(&dialer, b"GET / HTTP/1.1\r\nHost: app\r\n\r\n").await;
        // The date is the clock's: only its field name and place are fixed.
        let (status, rest) = response.split_once("\r\n").unwrap_or_default();
        let (date, rest) = rest.split_once("\r\n").unwrap_or_default();
        assert_eq!(status, "HTTP/1.1 500 Internal Server Error");
        assert!(date.starts_with("date: "), "{response}");
        assert_eq!(
            rest,
            format!(
                "server: {}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\
                 transfer-encoding: chunked\r\n\r\n15\r\nInternal Server Error\r\n0\r\n\r\n",
                crate::gateway::front::SERVER_NAME
            )
        );
        assert!(closed, "uvicorn closes after its 500");
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_exception_in_a_started_response_uvicorn_closes_without_saying_so() {
        let (dialer, _server) = start_with(
            Some(Message::LifespanStartupComplete),
            Behaviour::RaiseAfterStart,
        );
        let (response, closed) = exchange(&dialer, b"GET / HTTP/1.1\r\nHost: app\r\n\r\n").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            !response.to_ascii_lowercase().contains("connection: close"),
            "the head goes out as the app sent it: {response}"
        );
        assert!(closed, "the transport is closed after the exception");
    }

    #[tokio::test(start_paused = true)]
    async fn receive_after_the_body_waits_until_the_response_is_sent_then_says_disconnect() {
        let noted = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (dialer, _server) = start_with(
            Some(Message::LifespanStartupComplete),
            Behaviour::ReceiveAgain(noted.clone()),
        );
        let (response, _) = exchange(&dialer, b"GET / HTTP/1.1\r\nHost: app\r\n\r\n").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let noted = noted.lock().map(|n| n.clone()).unwrap_or_default();
        assert_eq!(noted, ["still waiting", "http.disconnect"]);
    }
}
