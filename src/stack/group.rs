//! A lesson's upstream group: several app server instances, each a real
//! app server (its own workers or event loop, the same app) on its own
//! address, all on one database.
//!
//! One database for all: instances behind a load balancer are copies of
//! one app, and a note created through one must be there when the next
//! request lands on another, as it is when they share a database server.
//! What each instance keeps in its own memory (a chat room's members)
//! stays its own, as in a real process.
//!
//! The lesson may stop an instance and start it again at given times
//! (`[[stack.web_server.upstream.event]]`): stopping closes its listening
//! socket (connects are refused, which is what the proxy's next try and
//! passive health checking react to), closes its idle connections and
//! lets the requests it is running finish, as gunicorn's and uvicorn's
//! graceful shutdown does; starting listens again with fresh workers.
//!
//! Book: "The web server", section "Load balancing" (book/src/web-server.md).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{LESSON_PROXY_FROM, StackConfig, StackError, simulated_app_server};
use crate::app;
use crate::app::db::Db;
use crate::clock::Clock;
use crate::gateway::front::Front;
use crate::net::{Connector, MemoryDialer, Relistener, memory_listener};
use crate::server::balance::Method;
use crate::server::upstream::{InstanceAction, Pool, UpstreamConfig, lesson_address};
use crate::trace::emit::{Step, server_span};
use crate::trace::{Direction, Instance, Kind, StepId};

/// One instance: where it listens, and its running process (if it runs).
struct Member {
    name: String,
    address: std::net::SocketAddr,
    relistener: Relistener,
    /// Tells the running process to stop accepting.
    stop: Option<watch::Sender<bool>>,
    /// Ends the running process at once.
    kill: Option<tokio::task::AbortHandle>,
    /// How many times it was started (for its entropy).
    generation: u64,
}

/// The instances and the lesson's schedule of stops and starts.
pub(super) struct Supervisor {
    config: StackConfig,
    upstream: UpstreamConfig,
    members: Vec<Member>,
    db: Db,
    clock: Clock,
    seed: u64,
    tasks: Vec<JoinHandle<()>>,
}

/// Check what nginx (or the lesson runner) would refuse.
pub(super) fn validate(upstream: &UpstreamConfig, gthread: bool) -> Result<(), String> {
    if upstream.server.is_empty() {
        return Err("an upstream block needs at least one server".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for s in &upstream.server {
        if s.name.trim().is_empty() {
            return Err("every server needs a name".into());
        }
        if !names.insert(s.name.as_str()) {
            return Err(format!("two servers are named \"{}\"", s.name));
        }
        if s.weight == 0 {
            return Err(format!("server \"{}\": weight must be at least 1", s.name));
        }
        if s.backup && !upstream.balance.allows_backup() {
            // nginx: "balancing method does not support parameter backup".
            return Err(format!(
                "server \"{}\": {} does not support backup servers",
                s.name,
                upstream.balance.as_str()
            ));
        }
    }
    match (upstream.balance, &upstream.hash) {
        (Method::Hash, None) => {
            return Err(
                "balance = \"hash\" needs its key: hash = \"$request_uri consistent\", say".into(),
            );
        }
        (Method::Hash, Some(_)) | (_, None) => {}
        (other, Some(_)) => {
            return Err(format!(
                "`hash` is a balancing method of its own: set balance = \"hash\" (not \"{}\"), or leave `hash` out",
                other.as_str()
            ));
        }
    }
    if upstream.server.iter().all(|s| s.backup) {
        return Err("every server is a backup: at least one must be primary".into());
    }
    let mut running: Vec<bool> = vec![true; upstream.server.len()];
    for e in events_in_order(upstream) {
        let Some(i) = upstream.server.iter().position(|s| s.name == e.server) else {
            return Err(format!(
                "an event at {} names server \"{}\", which the group does not have",
                e.at, e.server
            ));
        };
        match (e.action, running[i]) {
            (InstanceAction::Kill, _) if gthread => {
                // Its pool threads are tasks of their own, not yet killed
                // with it.
                return Err("kill is not supported for gthread workers: use stop".into());
            }
            (InstanceAction::Stop | InstanceAction::Kill, false) => {
                return Err(format!("at {}: \"{}\" is already stopped", e.at, e.server));
            }
            (InstanceAction::Start, true) => {
                return Err(format!("at {}: \"{}\" is already running", e.at, e.server));
            }
            _ => running[i] = e.action == InstanceAction::Start,
        }
    }
    Ok(())
}

fn events_in_order(upstream: &UpstreamConfig) -> Vec<&crate::server::upstream::InstanceEvent> {
    let mut events: Vec<_> = upstream.event.iter().collect();
    events.sort_by_key(|e| e.at.0);
    events
}

/// Start every instance; returns the proxy's pool of them and the
/// supervisor that carries out the lesson's stops and starts.
pub(super) fn start(
    config: &StackConfig,
    upstream: &UpstreamConfig,
    clock: Clock,
    seed: u64,
) -> Result<(Pool, Supervisor), StackError> {
    validate(upstream, config.app_server.gthread()).map_err(StackError::Upstream)?;
    let db = app::open_db(&config.app, &app::entropy::Seeded::new(seed))
        .map_err(|e| StackError::App(e.to_string()))?;
    let mut supervisor = Supervisor {
        config: config.clone(),
        upstream: upstream.clone(),
        members: Vec::new(),
        db,
        clock,
        seed,
        tasks: Vec::new(),
    };
    let mut connectors = Vec::new();
    let mut first: Option<MemoryDialer> = None;
    for (i, s) in upstream.server.iter().enumerate() {
        let address = lesson_address(i);
        let (dialer, listener) = memory_listener(
            address,
            LESSON_PROXY_FROM,
            config.app_server.backlog,
            StepId::AppServerBacklog,
        );
        let dialer = match &first {
            Some(f) => dialer.sharing_ports_with(f),
            None => {
                first = Some(dialer.clone());
                dialer
            }
        };
        supervisor.members.push(Member {
            name: s.name.clone(),
            address,
            relistener: dialer.relistener(),
            stop: None,
            kill: None,
            generation: 0,
        });
        supervisor.launch(i, listener)?;
        connectors.push(Connector::Memory(dialer));
    }
    Ok((Pool::group(upstream, connectors, clock), supervisor))
}

/// The web server's task, and a signal that turns true when it ends (the
/// lesson is over: no stop or start is carried out after that).
pub(super) fn watched(web: JoinHandle<()>) -> (JoinHandle<()>, watch::Receiver<bool>) {
    let (done, ended) = watch::channel(false);
    let task = tokio::spawn(async move {
        let _ = web.await;
        let _ = done.send(true);
    });
    (task, ended)
}

impl Supervisor {
    /// Run instance `i`'s app server behind `listener`.
    fn launch(&mut self, i: usize, listener: crate::net::Listener) -> Result<(), StackError> {
        let m = &mut self.members[i];
        let (stop, stopped) = watch::channel(false);
        let listener = listener.stop_on(stopped);
        // Each process draws its own session ids and salts.
        let entropy: Arc<dyn app::entropy::Entropy> = Arc::new(app::entropy::Seeded::new(
            self.seed
                .wrapping_add((i as u64) << 32)
                .wrapping_add(m.generation),
        ));
        m.generation += 1;
        let framework = app::build_on(
            self.db.clone(),
            &self.config.app,
            &self.config.framework,
            self.clock,
            entropy,
        )
        .map_err(|e| StackError::App(e.to_string()))?;
        let front = Front::configured(self.clock, m.address, &self.config.app_server);
        let run = simulated_app_server(&self.config, listener, framework, front);
        let task = tokio::spawn(run.instrument(server_span(&m.name)));
        m.kill = Some(task.abort_handle());
        self.tasks.push(task);
        m.stop = Some(stop);
        Ok(())
    }

    /// Carry out the lesson's events at their times, until the lesson is
    /// over; then wait for every instance to end.
    pub(super) async fn run(mut self, mut ended: watch::Receiver<bool>) {
        let start = tokio::time::Instant::now();
        let events: Vec<_> = events_in_order(&self.upstream)
            .into_iter()
            .cloned()
            .collect();
        for e in events {
            let over = tokio::select! {
                biased;
                _ = ended.wait_for(|over| *over) => true,
                () = tokio::time::sleep_until(start + e.at.0) => false,
            };
            if over {
                break;
            }
            let Some(i) = self.members.iter().position(|m| m.name == e.server) else {
                continue;
            };
            match e.action {
                InstanceAction::Stop => self.stop(i),
                InstanceAction::Kill => self.kill(i),
                InstanceAction::Start => {
                    if !self.restart(i) {
                        break;
                    }
                }
            }
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }

    fn stop(&mut self, i: usize) {
        let m = &mut self.members[i];
        if let Some(stop) = m.stop.take() {
            let _ = stop.send(true);
        }
        let _span = server_span(&m.name).entered();
        Step::new(StepId::AppServerInstanceStop, Direction::Within, Kind::Step)
            .instance(Instance::Listener)
            .server(m.name.clone())
            .summary(format!(
                "app server {} at {} stops (the lesson's event): its listening socket closes, so \
                 connects to it are refused; idle connections close; requests it is running finish",
                m.name, m.address
            ))
            .emit();
    }

    fn kill(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.stop = None;
        if let Some(kill) = m.kill.take() {
            kill.abort();
        }
        let _span = server_span(&m.name).entered();
        Step::new(
            StepId::AppServerInstanceStop,
            Direction::Within,
            Kind::Error,
        )
        .instance(Instance::Listener)
        .server(m.name.clone())
        .summary(format!(
            "app server {} at {} is killed (the lesson's event): the kernel closes its \
                 sockets: connects are refused, and connections it was serving close unanswered",
            m.name, m.address
        ))
        .emit();
    }

    /// False when the lesson is already over (nobody can dial any more).
    fn restart(&mut self, i: usize) -> bool {
        let Some(listener) = self.members[i].relistener.relisten() else {
            return false;
        };
        let m = &self.members[i];
        {
            let _span = server_span(&m.name).entered();
            Step::new(
                StepId::AppServerInstanceStart,
                Direction::Within,
                Kind::Step,
            )
            .instance(Instance::Listener)
            .server(m.name.clone())
            .summary(format!(
                "app server {} starts again (the lesson's event): it listens on {} with fresh \
                     workers; the web server learns it is back only when a request tries it",
                m.name, m.address
            ))
            .emit();
        }
        self.launch(i, listener).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::upstream::{InstanceEvent, UpstreamServer};
    use crate::units::Time;

    fn group(events: Vec<(u64, &str, InstanceAction)>) -> UpstreamConfig {
        UpstreamConfig {
            balance: Method::RoundRobin,
            hash: None,
            server: vec![UpstreamServer::named("a"), UpstreamServer::named("b")],
            event: events
                .into_iter()
                .map(|(at, server, action)| InstanceEvent {
                    at: Time::secs(at),
                    server: server.to_string(),
                    action,
                })
                .collect(),
        }
    }

    fn validate_(upstream: &UpstreamConfig) -> Result<(), String> {
        validate(upstream, false)
    }

    #[test]
    fn a_schedule_that_starts_a_running_instance_or_names_no_server_is_refused() {
        assert!(
            validate_(&group(vec![
                (1, "b", InstanceAction::Stop),
                (5, "b", InstanceAction::Start)
            ]))
            .is_ok()
        );
        let twice = validate_(&group(vec![(1, "b", InstanceAction::Start)]));
        assert!(twice.is_err_and(|e| e.contains("already running")));
        let unknown = validate_(&group(vec![(1, "z", InstanceAction::Stop)]));
        assert!(unknown.is_err_and(|e| e.contains("\"z\"")));
        let mut dup = group(vec![]);
        dup.server[1].name = "a".into();
        assert!(validate_(&dup).is_err_and(|e| e.contains("two servers")));
    }
}
