//! `serve`'s upstream group: several real app server instances on
//! 127.0.0.1, each on its own ephemeral port with its own threads (its
//! sync workers or its event loop), all on one database, behind the web
//! server's `upstream` block.
//!
//! ```text
//!                                  ┌─▶ app server a  127.0.0.1:41871  (its workers)
//! curl ──TCP──▶ web server ─choose─┼─▶ app server b  127.0.0.1:43127  (its workers)
//!                                  └─▶ app server c  127.0.0.1:39211  (its workers)
//! ```
//!
//! One database for all, as in a lesson's group (see `group`): instances
//! behind a load balancer are copies of one app on one database server.
//!
//! Each instance can be stopped, killed and started again while `serve`
//! runs (the control endpoint, `control`), as an operator would signal
//! one gunicorn or uvicorn process of several:
//!
//! * **stop** (SIGTERM): its listening socket closes, so connects are
//!   refused; its idle connections close; the requests it is running
//!   finish;
//! * **kill** (SIGKILL, a crash): its threads are dropped where they stand;
//!   every socket they hold closes at once, so the requests it was serving
//!   are never answered (the proxy reads "upstream prematurely closed
//!   connection") and connects are refused;
//! * **start**: it listens again on the same address with fresh workers.
//!
//! The web server learns of none of this but by trying: passive health
//! checking (`max_fails`, `fail_timeout`) and `proxy_next_upstream` do the
//! rest, as in nginx.
//!
//! Book: "The web server", section "Load balancing in serve"
//! (book/src/web-server.md).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{StackConfig, StackError, Switches, app_threads, bind};
use crate::app;
use crate::app::db::Db;
use crate::clock::Clock;
use crate::gateway::front::Front;
use crate::net::Connector;
use crate::server::upstream::{InstanceAction, Pool, UpstreamConfig};
use crate::trace::emit::{Step, server_span};
use crate::trace::{Direction, Instance, Kind, StepId};

/// How often [`Instances::killed`] looks whether a killed process's
/// threads have ended.
const KILL_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// One instance's running process.
struct Process {
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    kill: watch::Sender<bool>,
}

/// One instance: its name, its address, and its process when it runs.
struct Member {
    name: String,
    address: SocketAddr,
    process: Option<Process>,
    /// Processes stopped or killed whose threads may still run: kept so
    /// that their switches stay set (a dropped sender reads as "never") and
    /// the shutdown waits for a stopped one's last requests; forgotten once
    /// their threads have ended.
    ended: Vec<Process>,
}

/// What one instance is doing, for the control endpoint's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    pub name: String,
    pub address: SocketAddr,
    pub running: bool,
}

/// Why an action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("the group has no server named \"{0}\"")]
    Unknown(String),
    #[error("\"{0}\" is already stopped")]
    AlreadyStopped(String),
    #[error("\"{0}\" is already running")]
    AlreadyRunning(String),
    #[error("\"{name}\" could not start again: {why}")]
    Start { name: String, why: String },
}

/// The running instances of `serve`'s group.
pub struct Instances {
    config: StackConfig,
    db: Db,
    clock: Clock,
    members: Mutex<Vec<Member>>,
}

impl Instances {
    /// Bind every server of `upstream` on an ephemeral port of 127.0.0.1
    /// and start its app server; returns the web server's pool of them.
    pub(super) fn start(
        config: &StackConfig,
        upstream: &UpstreamConfig,
        clock: Clock,
    ) -> Result<(Pool, Arc<Instances>), StackError> {
        // The lesson's schedule of stops and starts is not run here: in
        // `serve` the control endpoint stops and starts instances.
        let servers = UpstreamConfig {
            event: Vec::new(),
            ..upstream.clone()
        };
        super::group::validate(&servers, false).map_err(StackError::Upstream)?;
        let db = app::open_db(&config.app, &app::entropy::SystemEntropy::new())
            .map_err(|e| StackError::App(e.to_string()))?;
        let instances = Arc::new(Instances {
            config: config.clone(),
            db,
            clock,
            members: Mutex::new(Vec::new()),
        });
        let mut connectors = Vec::new();
        for s in &upstream.server {
            let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
            let (socket, address) = listen(any, config.app_server.backlog)?;
            let process = instances.launch(&s.name, socket, address)?;
            instances.lock().push(Member {
                name: s.name.clone(),
                address,
                process: Some(process),
                ended: Vec::new(),
            });
            connectors.push(Connector::Tcp(address));
        }
        Ok((Pool::group(upstream, connectors, clock), instances))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        match self.members.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Start the app server of instance `name` on `socket`.
    fn launch(
        &self,
        name: &str,
        socket: std::net::TcpListener,
        address: SocketAddr,
    ) -> Result<Process, StackError> {
        // Each process draws its own session ids and salts.
        let entropy: Arc<dyn app::entropy::Entropy> = Arc::new(app::entropy::SystemEntropy::new());
        let framework = app::build_on(
            self.db.clone(),
            &self.config.app,
            &self.config.framework,
            self.clock,
            entropy,
        )
        .map_err(|e| StackError::App(e.to_string()))?;
        let front = Front::configured(self.clock, address, &self.config.app_server);
        let (stop, stopped) = watch::channel(false);
        let (kill, killed) = watch::channel(false);
        let switches = Switches {
            stop: stopped,
            kill: killed,
            server: Some(name.to_string()),
        };
        let threads = app_threads(&self.config, socket, address, framework, front, switches)?;
        Ok(Process {
            threads,
            stop,
            kill,
        })
    }

    /// Every instance, in the group's order.
    pub fn states(&self) -> Vec<InstanceState> {
        self.lock()
            .iter()
            .map(|m| InstanceState {
                name: m.name.clone(),
                address: m.address,
                running: m.process.is_some(),
            })
            .collect()
    }

    /// Stop, kill or start instance `name`; recorded as the lessons'
    /// `app_server.instance.stop` / `.start` steps. Returns what happened,
    /// in a sentence.
    pub fn act(&self, name: &str, action: InstanceAction) -> Result<String, ActionError> {
        let mut members = self.lock();
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            return Err(ActionError::Unknown(name.to_string()));
        };
        // Forget the ended processes whose threads are all gone: what is
        // kept is bounded by the processes still finishing.
        m.ended
            .retain(|p| !p.threads.iter().all(std::thread::JoinHandle::is_finished));
        let _span = server_span(&m.name).entered();
        match action {
            InstanceAction::Stop | InstanceAction::Kill => {
                let Some(process) = m.process.take() else {
                    return Err(ActionError::AlreadyStopped(m.name.clone()));
                };
                let (kind, summary) = if action == InstanceAction::Kill {
                    let _ = process.kill.send(true);
                    (
                        Kind::Error,
                        format!(
                            "app server {} at {} is killed (the control endpoint): its sockets \
                             close at once: connects are refused, and connections it was serving \
                             close unanswered",
                            m.name, m.address
                        ),
                    )
                } else {
                    let _ = process.stop.send(true);
                    (
                        Kind::Step,
                        format!(
                            "app server {} at {} stops (the control endpoint): its listening \
                             socket closes, so connects to it are refused; idle connections \
                             close; requests it is running finish",
                            m.name, m.address
                        ),
                    )
                };
                m.ended.push(process);
                Step::new(StepId::AppServerInstanceStop, Direction::Within, kind)
                    .instance(Instance::Listener)
                    .server(m.name.clone())
                    .summary(summary.clone())
                    .emit();
                Ok(summary)
            }
            InstanceAction::Start => {
                if m.process.is_some() {
                    return Err(ActionError::AlreadyRunning(m.name.clone()));
                }
                let start_error = |e: StackError| ActionError::Start {
                    name: name.to_string(),
                    why: e.to_string(),
                };
                let (socket, _) =
                    listen(m.address, self.config.app_server.backlog).map_err(start_error)?;
                let process = self
                    .launch(&m.name, socket, m.address)
                    .map_err(start_error)?;
                m.process = Some(process);
                let summary = format!(
                    "app server {} starts again (the control endpoint): it listens on {} with \
                     fresh workers; the web server learns it is back only when a request tries it",
                    m.name, m.address
                );
                Step::new(
                    StepId::AppServerInstanceStart,
                    Direction::Within,
                    Kind::Step,
                )
                .instance(Instance::Listener)
                .server(m.name.clone())
                .summary(summary.clone())
                .emit();
                Ok(summary)
            }
        }
    }

    /// Wait until the threads of every killed process of instance `name`
    /// have ended (their sockets closed), for at most `patience`; true
    /// when they have. A thread inside a blocking call ends only when the
    /// call returns.
    pub async fn killed(&self, name: &str, patience: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let dead = self.lock().iter().filter(|m| m.name == name).all(|m| {
                m.ended
                    .iter()
                    .filter(|p| *p.kill.borrow())
                    .all(|p| p.threads.iter().all(|t| t.is_finished()))
            });
            if dead {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(KILL_POLL).await;
        }
    }

    /// Stop every running instance (their graceful shutdown) and wait for
    /// their threads, for at most `grace`; true when they all ended.
    pub(super) async fn stop_all(&self, grace: std::time::Duration) -> bool {
        let processes: Vec<Process> = {
            let mut members = self.lock();
            let mut all = Vec::new();
            for m in members.iter_mut() {
                if let Some(p) = m.process.take() {
                    let _ = p.stop.send(true);
                    all.push(p);
                }
                all.append(&mut m.ended);
            }
            all
        };
        // Each process's switches live until its threads have ended.
        let joined = tokio::task::spawn_blocking(move || {
            for p in processes {
                for t in p.threads {
                    let _ = t.join();
                }
            }
        });
        matches!(tokio::time::timeout(grace, joined).await, Ok(Ok(())))
    }
}

/// A listening socket on `addr` for an instance's threads to share.
fn listen(
    addr: SocketAddr,
    backlog: usize,
) -> Result<(std::net::TcpListener, SocketAddr), StackError> {
    let error = |source| StackError::Listen { addr, source };
    let socket = bind(addr, backlog).map_err(error)?;
    let address = socket.local_addr().map_err(error)?;
    let socket = socket.into_std().map_err(error)?;
    Ok((socket, address))
}
