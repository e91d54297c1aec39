//! Assembling a stack from its configuration: one assembly for both worlds.
//!
//! ```text
//!   lessons:  runner ══pipe══▶ web server ══pipe══▶ app server ─▶ framework ─▶ app ─▶ SQLite
//!   serve:    curl   ──TCP───▶ web server ──TCP───▶ app server ─▶ framework ─▶ app ─▶ SQLite
//! ```
//!
//! In `serve` the web server may instead proxy to an upstream group of
//! instances on their own ports ([`instances`], stopped and killed through
//! the `control` endpoint), or to an app server outside roundtrip
//! (`--upstream`: [`layers_external`]).
//!
//! The layers are the same code in both; only the [`Listener`]s and
//! [`Connector`]s differ. In a lesson every address is made up (from the
//! documentation ranges of RFC 5737) but every byte is real.
//!
//! Book: "The journey of a request" (book/src/journey.md).

pub mod config;
mod control;
mod group;
pub mod instances;
pub mod site;

pub use config::StackConfig;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app;
use crate::app::entropy::Entropy;
use crate::clock::Clock;
use crate::gateway::front::Front;
use crate::gateway::work::World;
use crate::gateway::{Interface, asgi, wsgi};
use crate::net::{Connector, Listener, MemoryDialer, SharedListener, memory_listener};
use crate::server::WebServer;
use crate::trace::{Layer, LayerInfo, StepId};

/// Where the web server listens in a lesson.
pub const LESSON_WEB_ADDR: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 80);
/// Where the web server's `ssl` listener is in a lesson.
pub const LESSON_WEB_TLS_ADDR: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 443);
/// Where lesson clients come from.
pub const LESSON_CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
/// Where the web server's proxy connects from in a lesson: loopback, from
/// its own ephemeral ports (Linux picks them from 32768–60999), so they are
/// never mistaken for the client's.
pub const LESSON_PROXY_FROM: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40001);
/// Where the app server listens in a lesson (gunicorn's default bind).
pub const LESSON_APP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
/// nginx's `listen … backlog=` default on Linux.
pub const WEB_BACKLOG: usize = 511;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("could not set up the app's database: {0}")]
    App(String),
    #[error("could not listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error("the upstream group: {0}")]
    Upstream(String),
}

/// How a lesson's clients reach its web server: port 80, and port 443
/// when the web server listens with `ssl`, with the TLS client settings
/// that trust the lesson certificate.
#[derive(Clone)]
pub struct Dialers {
    pub http: MemoryDialer,
    pub https: Option<(MemoryDialer, Arc<rustls::ClientConfig>)>,
}

/// A running stack: its tasks, and how to reach it.
pub struct Running {
    web: JoinHandle<()>,
    app: AppServer,
    /// Tells the web server's listener to stop accepting (real TCP only).
    stop: Option<watch::Sender<bool>>,
    /// Tells the app server's listeners to stop accepting (real TCP only).
    stop_app: Option<watch::Sender<bool>>,
}

impl Running {
    /// Wait until both servers have stopped (their listeners closed).
    pub async fn wait(self) {
        let _ = self.web.await;
        match self.app {
            AppServer::Task(t) => {
                let _ = t.await;
            }
            AppServer::Threads(threads) => {
                let _ = tokio::task::spawn_blocking(move || {
                    for t in threads {
                        let _ = t.join();
                    }
                })
                .await;
            }
            AppServer::Group(instances) => {
                instances.stop_all(std::time::Duration::MAX).await;
            }
            AppServer::External => {}
        }
    }

    /// A graceful shutdown, as nginx's `quit`: the web server stops
    /// accepting (its socket closes, new connections are refused) and the
    /// connections it has run to their end, for at most `grace`. The app
    /// server stays up meanwhile: the requests still in flight need it
    /// ([`Running::stop_app`] stops it next). True when every connection
    /// ended within `grace`.
    pub async fn drain(&mut self, grace: std::time::Duration) -> bool {
        if let Some(stop) = &self.stop {
            let _ = stop.send(true);
        }
        tokio::time::timeout(grace, &mut self.web).await.is_ok()
    }

    /// Stop the app server, as its own shutdown does: it stops accepting,
    /// closes idle connections, lets the rest finish, and an event loop
    /// then sends `lifespan.shutdown` to the app. Waits for its threads for
    /// at most `grace`; true when they all ended.
    pub async fn stop_app(self, grace: std::time::Duration) -> bool {
        if let Some(stop) = &self.stop_app {
            let _ = stop.send(true);
        }
        match self.app {
            AppServer::Task(t) => tokio::time::timeout(grace, t).await.is_ok(),
            AppServer::Threads(threads) => {
                let joined = tokio::task::spawn_blocking(move || {
                    for t in threads {
                        let _ = t.join();
                    }
                });
                matches!(tokio::time::timeout(grace, joined).await, Ok(Ok(())))
            }
            AppServer::Group(instances) => instances.stop_all(grace).await,
            AppServer::External => true,
        }
    }
}

/// The boxes of the stack diagram for this configuration.
pub fn layers(config: &StackConfig) -> Vec<LayerInfo> {
    let info = |layer: Layer, detail: &str, parts: Vec<String>| LayerInfo {
        layer,
        label: layer.label().to_string(),
        detail: detail.to_string(),
        parts,
    };
    vec![
        info(Layer::Client, "HTTP/1.1", vec![]),
        info(Layer::WebServer, "nginx-like · proxy_pass", vec![]),
        info(Layer::AppServer, &config.app_server.describe(), vec![]),
        info(
            Layer::Framework,
            "router + middleware",
            app::middleware_names(&config.app),
        ),
        info(Layer::Handler, "notes app", vec![]),
        info(Layer::Database, "SQLite (in memory)", vec![]),
    ]
}

/// The boxes of the stack diagram in front of an app server outside
/// roundtrip (`serve --upstream`): the client and the web server, then one
/// box for the whole app, marked external. No step is ever recorded inside
/// it; its time is the proxy hop's wait.
pub fn layers_external(app: SocketAddr) -> Vec<LayerInfo> {
    vec![
        LayerInfo {
            layer: Layer::Client,
            label: Layer::Client.label().to_string(),
            detail: "HTTP/1.1".to_string(),
            parts: vec![],
        },
        LayerInfo {
            layer: Layer::WebServer,
            label: Layer::WebServer.label().to_string(),
            detail: "nginx-like · proxy_pass".to_string(),
            parts: vec![],
        },
        LayerInfo {
            layer: Layer::AppServer,
            label: "external app".to_string(),
            detail: format!("{EXTERNAL} at {app}: not traced"),
            parts: vec![],
        },
    ]
}

/// How the trace's layers name an app server outside roundtrip.
pub const EXTERNAL: &str = "external";

/// Where the app server runs.
enum AppServer {
    /// A lesson: a task on the lesson's one thread (the simulated world).
    Task(JoinHandle<()>),
    /// `serve`: threads of its own, so that a blocking call stalls exactly
    /// what it stalls in the real servers. One thread per sync worker (a
    /// gunicorn worker is a process), one for the event loop (a uvicorn
    /// worker is a process with one loop).
    Threads(Vec<std::thread::JoinHandle<()>>),
    /// `serve` with an upstream group: each instance's threads.
    Group(Arc<instances::Instances>),
    /// `serve --upstream`: an app server outside roundtrip; nothing runs here.
    External,
}

/// The notes app and the app server's front, for one stack.
fn app_parts(
    config: &StackConfig,
    local: SocketAddr,
    clock: Clock,
    entropy: Arc<dyn Entropy>,
) -> Result<(Arc<crate::framework::Framework>, Arc<Front>), StackError> {
    let framework = app::build_with(&config.app, &config.framework, clock, entropy)
        .map_err(|e| StackError::App(e.to_string()))?;
    let front = Front::configured(clock, local, &config.app_server);
    Ok((framework, front))
}

/// Start a lesson's app server behind `listener`, serving the notes app.
fn start_app_server(
    config: &StackConfig,
    listener: Listener,
    local: SocketAddr,
    clock: Clock,
    seed: u64,
) -> Result<JoinHandle<()>, StackError> {
    let entropy: Arc<dyn Entropy> = Arc::new(app::entropy::Seeded::new(seed));
    let (framework, front) = app_parts(config, local, clock, entropy)?;
    Ok(tokio::spawn(simulated_app_server(
        config, listener, framework, front,
    )))
}

/// A lesson's app server (workers or event loop) serving `framework`
/// behind `listener`, as a future to spawn.
pub(crate) fn simulated_app_server(
    config: &StackConfig,
    listener: Listener,
    framework: Arc<crate::framework::Framework>,
    front: Arc<Front>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let cfg = config.app_server.clone();
    match cfg.interface {
        Interface::Wsgi if cfg.gthread() => {
            let app: Arc<dyn wsgi::WsgiApp> = framework;
            Box::pin(wsgi::gthread::run(
                SharedListener::new(listener),
                app,
                cfg,
                front,
                World::Simulated,
            ))
        }
        Interface::Wsgi => {
            let app: Arc<dyn wsgi::WsgiApp> = framework;
            Box::pin(wsgi::workers::run(
                SharedListener::new(listener),
                app,
                cfg,
                front,
                World::Simulated,
            ))
        }
        Interface::Asgi => {
            let app: Arc<dyn asgi::AsgiApp> = framework;
            Box::pin(asgi::event_loop::run(
                listener,
                app,
                cfg,
                front,
                World::Simulated,
            ))
        }
    }
}

/// What `serve` can do to one app server instance from outside, and what
/// its steps are tagged with.
#[derive(Clone)]
pub(crate) struct Switches {
    /// Turns true: stop accepting and let the connections finish (the
    /// graceful shutdown, SIGTERM to gunicorn or uvicorn).
    pub stop: watch::Receiver<bool>,
    /// Turns true: the process dies at once (SIGKILL). Each thread's
    /// runtime is dropped without waiting, so every socket it holds (the
    /// listening one, its connections) is closed by the kernel.
    pub kill: watch::Receiver<bool>,
    /// The instance's name in an upstream group; its steps carry it.
    pub server: Option<String>,
}

/// Start `serve`'s app server on threads of its own (see [`AppServer`]):
/// each thread runs a single-threaded runtime and registers its own copy
/// of the listening socket, as each gunicorn worker has the socket it
/// inherited from the arbiter.
fn start_app_threads(
    config: &StackConfig,
    socket: std::net::TcpListener,
    local: SocketAddr,
    clock: Clock,
    stop: watch::Receiver<bool>,
) -> Result<AppServer, StackError> {
    let entropy: Arc<dyn Entropy> = Arc::new(app::entropy::SystemEntropy::new());
    let (framework, front) = app_parts(config, local, clock, entropy)?;
    // Nobody kills the one app server of a plain `serve`.
    let (_never, kill) = watch::channel(false);
    let switches = Switches {
        stop,
        kill,
        server: None,
    };
    app_threads(config, socket, local, framework, front, switches).map(AppServer::Threads)
}

/// The threads of one app server instance serving `framework` on `socket`.
pub(crate) fn app_threads(
    config: &StackConfig,
    socket: std::net::TcpListener,
    local: SocketAddr,
    framework: Arc<crate::framework::Framework>,
    front: Arc<Front>,
    switches: Switches,
) -> Result<Vec<std::thread::JoinHandle<()>>, StackError> {
    let cfg = config.app_server.clone();
    let listen_error = |source| StackError::Listen {
        addr: local,
        source,
    };
    let prefix = switches
        .server
        .as_ref()
        .map_or(String::new(), |s| format!("{s}-"));
    let mut threads = Vec::new();
    match cfg.interface {
        // A gthread worker is one OS thread too: its pool threads are tasks
        // on that thread's runtime, so they really share one CPU, as a
        // Python process's threads share its GIL.
        Interface::Wsgi if cfg.gthread() => {
            let app: Arc<dyn wsgi::WsgiApp> = framework;
            let workers = wsgi::gthread::Gthread::new(&cfg);
            for n in 1..=workers.size() {
                let socket = socket.try_clone().map_err(listen_error)?;
                let (app, front, cfg, workers, stop) = (
                    app.clone(),
                    front.clone(),
                    cfg.clone(),
                    workers.clone(),
                    switches.stop.clone(),
                );
                threads.push(
                    spawn_thread(
                        format!("{prefix}gthread-worker-{n}"),
                        async move {
                            let Ok(listener) = tcp_listener(socket, cfg.backlog) else {
                                return;
                            };
                            let listener = listener.stop_on(stop);
                            workers
                                .worker(n, SharedListener::new(listener), app, front, World::Real)
                                .await;
                        },
                        &switches,
                    )
                    .map_err(listen_error)?,
                );
            }
        }
        Interface::Wsgi => {
            let app: Arc<dyn wsgi::WsgiApp> = framework;
            let workers = wsgi::workers::Pool::new(&cfg);
            for n in 1..=workers.size() {
                let socket = socket.try_clone().map_err(listen_error)?;
                let (app, front, cfg, workers, stop) = (
                    app.clone(),
                    front.clone(),
                    cfg.clone(),
                    workers.clone(),
                    switches.stop.clone(),
                );
                threads.push(
                    spawn_thread(
                        format!("{prefix}sync-worker-{n}"),
                        async move {
                            let Ok(listener) = tcp_listener(socket, cfg.backlog) else {
                                return;
                            };
                            let listener = listener.stop_on(stop);
                            workers
                                .worker(n, SharedListener::new(listener), app, front, World::Real)
                                .await;
                        },
                        &switches,
                    )
                    .map_err(listen_error)?,
                );
            }
        }
        Interface::Asgi => {
            let app: Arc<dyn asgi::AsgiApp> = framework;
            let stop = switches.stop.clone();
            threads.push(
                spawn_thread(
                    format!("{prefix}event-loop"),
                    async move {
                        let Ok(listener) = tcp_listener(socket, cfg.backlog) else {
                            return;
                        };
                        let listener = listener.stop_on(stop);
                        asgi::event_loop::run(listener, app, cfg, front, World::Real).await;
                    },
                    &switches,
                )
                .map_err(listen_error)?,
            );
        }
    }
    Ok(threads)
}

/// A thread running `work` on a single-threaded runtime of its own, in
/// the instance's span. When `switches.kill` turns true the work is
/// dropped where it stands and the runtime shut down without waiting for
/// its tasks: every socket they held closes, as the kernel closes a
/// killed process's. (A thread inside a blocking call, which a Python
/// process would not finish, ends when the call returns.)
fn spawn_thread(
    name: String,
    work: impl std::future::Future<Output = ()> + Send + 'static,
    switches: &Switches,
) -> io::Result<std::thread::JoinHandle<()>> {
    use tracing::Instrument;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut kill = switches.kill.clone();
    let span = match &switches.server {
        Some(name) => crate::trace::emit::server_span(name),
        None => tracing::Span::none(),
    };
    std::thread::Builder::new().name(name).spawn(move || {
        let killed = runtime.block_on(
            async move {
                let killed = async {
                    if kill.wait_for(|k| *k).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    biased;
                    () = killed => true,
                    () = work => false,
                }
            }
            .instrument(span),
        );
        if killed {
            runtime.shutdown_background();
        }
    })
}

/// Register a copy of a listening socket with this thread's runtime.
fn tcp_listener(socket: std::net::TcpListener, backlog: usize) -> io::Result<Listener> {
    Listener::tcp(tokio::net::TcpListener::from_std(socket)?, backlog)
}

/// A lesson's stack over in-memory pipes. Returns the dialer clients use
/// to reach the web server; dropping it (and every clone) stops the stack.
/// Session ids and password salts are drawn from `seed`.
pub fn start_in_memory(
    config: &StackConfig,
    clock: Clock,
    seed: u64,
) -> Result<(Dialers, Running), StackError> {
    let (app_dialer, app_listener) = memory_listener(
        LESSON_APP_ADDR,
        LESSON_PROXY_FROM,
        config.app_server.backlog,
        StepId::AppServerBacklog,
    );
    let (web_dialer, web_listener) = memory_listener(
        LESSON_WEB_ADDR,
        SocketAddr::new(LESSON_CLIENT_IP, 50001),
        WEB_BACKLOG,
        StepId::WebServerBacklog,
    );
    let (https, tls) = if config.web_server.ssl {
        let (dialer, listener) = memory_listener(
            LESSON_WEB_TLS_ADDR,
            SocketAddr::new(LESSON_CLIENT_IP, 52001),
            WEB_BACKLOG,
            StepId::WebServerBacklog,
        );
        let tls_error = |e: String| StackError::Tls(e);
        let identity =
            crate::tls::certificate::Identity::lesson().map_err(|e| tls_error(e.to_string()))?;
        let terminator =
            crate::server::tls::Terminator::new(identity, &config.web_server.ssl_protocols, clock)
                .map_err(tls_error)?;
        let client =
            crate::scenario::tls_client::config(clock).map_err(|e| tls_error(e.to_string()))?;
        (
            Some((dialer, client)),
            Some((listener, (terminator, LESSON_WEB_TLS_ADDR.port()))),
        )
    } else {
        (None, None)
    };
    let (tls_listener, terminator) = tls.unzip();
    let (web, app) = match &config.web_server.upstream {
        None => {
            let app = start_app_server(config, app_listener, LESSON_APP_ADDR, clock, seed)?;
            let web_server = WebServer::with_tls(
                config.web_server.clone(),
                Connector::Memory(app_dialer),
                clock,
                site::bundled(),
                terminator,
            );
            let web = tokio::spawn(web_server.run_listeners(web_listener, tls_listener));
            (web, app)
        }
        Some(upstream) => {
            drop((app_dialer, app_listener));
            let (pool, start) = group::start(config, upstream, clock, seed)?;
            let web_server = WebServer::with_pool(
                config.web_server.clone(),
                pool,
                clock,
                site::bundled(),
                terminator,
            );
            let web = tokio::spawn(web_server.run_listeners(web_listener, tls_listener));
            let (web, done) = group::watched(web);
            (web, tokio::spawn(start.run(done)))
        }
    };
    let app = AppServer::Task(app);
    Ok((
        Dialers {
            http: web_dialer,
            https,
        },
        Running {
            web,
            app,
            stop: None,
            stop_app: None,
        },
    ))
}

/// A listening socket with the backlog the layer's setting says (`listen()`'s
/// second argument; Linux caps it at `net.core.somaxconn`), so the queue
/// the trace reports is the one the kernel keeps.
fn bind(addr: SocketAddr, backlog: usize) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog).unwrap_or(u32::MAX))
}

/// `serve --tls`: where the `ssl` listener binds, and its certificate.
pub struct TcpTls {
    pub listen: SocketAddr,
    pub identity: crate::tls::certificate::Identity,
}

/// The same stack on real TCP: the web server on `listen` (and, with
/// `tls`, its `ssl` listener), the app server on an ephemeral port of
/// 127.0.0.1 behind it. Returns the web server's bound address, the app
/// server's, and the TLS listener's.
pub async fn start_tcp(
    config: &StackConfig,
    listen: SocketAddr,
    clock: Clock,
    files: crate::server::files::Files,
) -> Result<(SocketAddr, SocketAddr, Running), StackError> {
    start_tcp_tls(config, listen, None, clock, files)
        .await
        .map(|(web, app, _, running)| (web, app, running))
}

/// [`start_tcp`] with an optional `ssl` listener.
pub async fn start_tcp_tls(
    config: &StackConfig,
    listen: SocketAddr,
    tls: Option<TcpTls>,
    clock: Clock,
    files: crate::server::files::Files,
) -> Result<(SocketAddr, SocketAddr, Option<SocketAddr>, Running), StackError> {
    let stack = start_tcp_with(
        config,
        TcpOptions {
            listen,
            tls,
            files,
            external: None,
            control: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        },
        clock,
    )
    .await?;
    let app = stack.apps.first().map_or(stack.web, |(_, a)| *a);
    Ok((stack.web, app, stack.tls, stack.running))
}

/// What `serve` starts besides the configuration.
pub struct TcpOptions {
    /// Where the web server listens.
    pub listen: SocketAddr,
    /// Its `ssl` listener, if any.
    pub tls: Option<TcpTls>,
    pub files: crate::server::files::Files,
    /// An app server outside roundtrip (a learner's gunicorn or uvicorn):
    /// the web server proxies to it and no app server is started.
    pub external: Option<SocketAddr>,
    /// Where the control endpoint listens, when the configuration has an
    /// upstream group (port 0: an ephemeral one).
    pub control: SocketAddr,
}

/// A stack running on real TCP, and where each of its parts listens.
pub struct TcpStack {
    /// The web server's bound address.
    pub web: SocketAddr,
    /// The TLS listener's.
    pub tls: Option<SocketAddr>,
    /// Each app server instance started, by name (the one app server of a
    /// stack without a group has the empty name); none with an external one.
    pub apps: Vec<(String, SocketAddr)>,
    /// The control endpoint's (with an upstream group).
    pub control: Option<SocketAddr>,
    pub running: Running,
}

/// The same stack on real TCP: the web server on `options.listen` (and
/// its `ssl` listener), in front of one app server, the instances of the
/// configuration's upstream group, or an external app server; every app
/// server started is on an ephemeral port of 127.0.0.1.
pub async fn start_tcp_with(
    config: &StackConfig,
    options: TcpOptions,
    clock: Clock,
) -> Result<TcpStack, StackError> {
    let TcpOptions {
        listen,
        tls,
        files,
        external,
        control,
    } = options;
    let web_tcp = bind(listen, WEB_BACKLOG).map_err(|source| StackError::Listen {
        addr: listen,
        source,
    })?;
    let web_listener =
        Listener::tcp(web_tcp, WEB_BACKLOG).map_err(|source| StackError::Listen {
            addr: listen,
            source,
        })?;
    let web_addr = web_listener.local_addr();
    let (stop, stopped) = watch::channel(false);
    let web_listener = web_listener.stop_on(stopped.clone());
    let (tls_listener, terminator) = match tls {
        Some(TcpTls { listen, identity }) => {
            let listen_error = |source| StackError::Listen {
                addr: listen,
                source,
            };
            let socket = bind(listen, WEB_BACKLOG).map_err(listen_error)?;
            let listener = Listener::tcp(socket, WEB_BACKLOG).map_err(listen_error)?;
            let port = listener.local_addr().port();
            let terminator = crate::server::tls::Terminator::new(
                identity,
                &config.web_server.ssl_protocols,
                clock,
            )
            .map_err(StackError::Tls)?;
            (Some(listener.stop_on(stopped)), Some((terminator, port)))
        }
        None => (None, None),
    };
    let tls_addr = tls_listener.as_ref().map(Listener::local_addr);
    let (stop_app, app_stopped) = watch::channel(false);
    let mut apps = Vec::new();
    let mut control_addr = None;
    let (pool, app) = match (external, &config.web_server.upstream) {
        (Some(addr), _) => (
            crate::server::upstream::Pool::single(Connector::Tcp(addr), clock),
            AppServer::External,
        ),
        (None, None) => {
            let app_bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
            let listen_error = |source| StackError::Listen {
                addr: app_bind,
                source,
            };
            let app_tcp = bind(app_bind, config.app_server.backlog).map_err(listen_error)?;
            let app_addr = app_tcp.local_addr().map_err(listen_error)?;
            // The app server's threads register the socket with their own
            // runtimes.
            let app_socket = app_tcp.into_std().map_err(listen_error)?;
            let app = start_app_threads(config, app_socket, app_addr, clock, app_stopped)?;
            apps.push((String::new(), app_addr));
            (
                crate::server::upstream::Pool::single(Connector::Tcp(app_addr), clock),
                app,
            )
        }
        (None, Some(upstream)) => {
            let (pool, instances) = instances::Instances::start(config, upstream, clock)?;
            for s in instances.states() {
                apps.push((s.name, s.address));
            }
            let listen_error = |source| StackError::Listen {
                addr: control,
                source,
            };
            let socket = bind(control, 128).map_err(listen_error)?;
            control_addr = Some(socket.local_addr().map_err(listen_error)?);
            tokio::spawn(control::run(socket, instances.clone(), app_stopped));
            (pool, AppServer::Group(instances))
        }
    };
    let mut web_config = config.web_server.clone();
    web_config.ssl = web_config.ssl || terminator.is_some();
    let web_server = WebServer::with_pool(web_config, pool, clock, files, terminator);
    let web = tokio::spawn(web_server.run_listeners(web_listener, tls_listener));
    let running = Running {
        web,
        app,
        stop: Some(stop),
        stop_app: Some(stop_app),
    };
    Ok(TcpStack {
        web: web_addr,
        tls: tls_addr,
        apps,
        control: control_addr,
        running,
    })
}
