//! An upstream group: several app servers behind one `proxy_pass`, and
//! what the proxy does when one of them fails.
//!
//! ```text
//!                        ┌─▶ app server a (127.0.0.1:8000)
//! web server ─ choose ───┼─▶ app server b (127.0.0.1:8001)
//!                        └─▶ app server c (127.0.0.1:8002)
//! ```
//!
//! For each request the balancer ([`super::balance`]) chooses a server;
//! the request is sent there. If that *try* fails in a way
//! `proxy_next_upstream` lists (default `error timeout`: the connection
//! was refused, reset or closed, or a timeout fired), nginx marks a
//! failure against the server (passive health checking) and, if tries
//! are left, sends the request to the next server the balancer chooses
//! (`ngx_http_upstream_next` in nginx's src/http/ngx_http_upstream.c):
//!
//! * a request that was already sent is sent again only when it is
//!   idempotent: POST, LOCK and PATCH are not, unless `non_idempotent` is
//!   listed (nginx ≥ 1.9.13);
//! * `proxy_next_upstream_tries` (0: no limit) caps the tries; without it
//!   each server of the group is tried at most once;
//! * `error`, `timeout` and `invalid_header` always count as a failure
//!   toward `max_fails`, whether or not they are listed; `http_500`,
//!   `http_502`, `http_503`, `http_504` count only when listed;
//! * when no server is eligible, nginx logs "no live upstreams while
//!   connecting to upstream" and answers 502.
//!
//! Each choice is a `web_server.upstream.choose` step carrying every
//! candidate's state; each failed try a `web_server.upstream.next` step
//! saying whether the request goes on and why.
//!
//! Book: "The web server", section "Load balancing" (book/src/web-server.md).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::balance::{Group, Method, Peer, ServerConfig, Skip};
use super::config::WebServerConfig;
use super::hash::{HashDirective, Vars, Walk};
use super::proxy::{ProxyError, Upstream};
use crate::clock::Clock;
use crate::http::{RequestHead, ResponseHead};
use crate::net::Connector;
use crate::trace::emit::{Step, server_span};
use crate::trace::{Decision, Direction, Failure, Kind, StepId, Verdict};
use crate::units::Time;

/// `[stack.web_server.upstream]`: the group's servers and how it chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `round_robin` (nginx's default), `least_conn`, `ip_hash` or `hash`.
    pub balance: Method,
    /// With `balance = "hash"`: nginx's `hash KEY [consistent]`, e.g.
    /// `"$request_uri consistent"` (see [`super::hash`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<HashDirective>,
    /// `[[stack.web_server.upstream.server]]`, in the order written.
    pub server: Vec<UpstreamServer>,
    /// `[[stack.web_server.upstream.event]]`: an instance stops or starts
    /// at a given time of the lesson.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<InstanceEvent>,
}

impl Default for UpstreamConfig {
    fn default() -> UpstreamConfig {
        UpstreamConfig {
            balance: Method::RoundRobin,
            hash: None,
            server: vec![UpstreamServer::named("a")],
            event: Vec::new(),
        }
    }
}

/// One `server` line: a name for the instance (the lesson's; nginx names
/// a server by its address), and its parameters with nginx's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamServer {
    pub name: String,
    /// `weight=1`.
    pub weight: u32,
    /// `max_fails=1` (0: failures are never counted).
    pub max_fails: u32,
    /// `fail_timeout=10s`, kept in whole seconds as nginx does.
    pub fail_timeout: Time,
    /// `backup`: used only when no primary server is eligible.
    pub backup: bool,
    /// `down`: never chosen.
    pub down: bool,
    /// `max_conns=0` (0: no limit).
    pub max_conns: u32,
}

impl UpstreamServer {
    pub fn named(name: &str) -> UpstreamServer {
        UpstreamServer {
            name: name.to_string(),
            ..UpstreamServer::default()
        }
    }

    /// The balancer's view of these parameters.
    pub fn balance(&self) -> ServerConfig {
        ServerConfig {
            weight: self.weight,
            max_fails: self.max_fails,
            fail_timeout: self.fail_timeout,
            backup: self.backup,
            down: self.down,
            max_conns: self.max_conns,
        }
    }
}

impl Default for UpstreamServer {
    fn default() -> UpstreamServer {
        let d = ServerConfig::default();
        UpstreamServer {
            name: String::new(),
            weight: d.weight,
            max_fails: d.max_fails,
            fail_timeout: d.fail_timeout,
            backup: d.backup,
            down: d.down,
            max_conns: d.max_conns,
        }
    }
}

/// An instance stops or starts at `at` (lesson time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceEvent {
    pub at: Time,
    pub server: String,
    pub action: InstanceAction,
}

/// What happens to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceAction {
    /// Its listening socket closes (new connections are refused), its
    /// idle connections close, the requests it is running finish.
    Stop,
    /// It listens again, with fresh workers (or a fresh event loop).
    Start,
    /// The process dies at once (SIGKILL, a crash): the kernel closes its
    /// sockets, so the requests it was serving are never answered (the
    /// proxy reads "upstream prematurely closed connection") and connects
    /// are refused.
    Kill,
}

impl InstanceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceAction::Stop => "stop",
            InstanceAction::Start => "start",
            InstanceAction::Kill => "kill",
        }
    }
}

/// One condition of `proxy_next_upstream`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NextUpstream {
    /// Connecting, sending or reading failed.
    Error,
    /// `proxy_connect_timeout` or `proxy_read_timeout` fired.
    Timeout,
    /// The response head was empty or not HTTP.
    InvalidHeader,
    #[serde(rename = "http_500")]
    Http500,
    #[serde(rename = "http_502")]
    Http502,
    #[serde(rename = "http_503")]
    Http503,
    #[serde(rename = "http_504")]
    Http504,
    /// A POST, LOCK or PATCH already sent may be sent again.
    NonIdempotent,
    /// Never pass a request on.
    Off,
}

impl NextUpstream {
    pub fn as_str(self) -> &'static str {
        match self {
            NextUpstream::Error => "error",
            NextUpstream::Timeout => "timeout",
            NextUpstream::InvalidHeader => "invalid_header",
            NextUpstream::Http500 => "http_500",
            NextUpstream::Http502 => "http_502",
            NextUpstream::Http503 => "http_503",
            NextUpstream::Http504 => "http_504",
            NextUpstream::NonIdempotent => "non_idempotent",
            NextUpstream::Off => "off",
        }
    }

    /// The condition a response status is, when one is.
    fn of_status(status: u16) -> Option<NextUpstream> {
        match status {
            500 => Some(NextUpstream::Http500),
            502 => Some(NextUpstream::Http502),
            503 => Some(NextUpstream::Http503),
            504 => Some(NextUpstream::Http504),
            _ => None,
        }
    }

    /// The condition a failed try is.
    fn of_error(e: &ProxyError) -> NextUpstream {
        match e {
            ProxyError::ConnectTimeout | ProxyError::ReadTimeout => NextUpstream::Timeout,
            ProxyError::Invalid(_) => NextUpstream::InvalidHeader,
            _ => NextUpstream::Error,
        }
    }
}

/// nginx's `proxy_next_upstream` default.
pub fn default_next_upstream() -> Vec<NextUpstream> {
    vec![NextUpstream::Error, NextUpstream::Timeout]
}

/// `proxy_next_upstream` written as nginx writes it.
pub fn next_upstream_knob(list: &[NextUpstream]) -> String {
    list.iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Methods nginx never sends twice once sent (`NGX_HTTP_POST |
/// NGX_HTTP_LOCK | NGX_HTTP_PATCH`).
pub fn idempotent(method: &str) -> bool {
    !matches!(method, "POST" | "LOCK" | "PATCH")
}

/// One server of the running group: its name, address and connections.
pub struct Member {
    pub name: String,
    pub upstream: Upstream,
}

/// The proxy's side of the group: every server's connection pool, and the
/// balancer's state (shared by every request, as nginx's is by a worker).
pub struct Pool {
    pub members: Vec<Member>,
    group: Mutex<Group>,
    /// `hash KEY [consistent]`, with `balance = "hash"`.
    hash: Option<HashDirective>,
    /// The lesson declared a group: steps are tagged with the server.
    named: bool,
    clock: Clock,
}

/// What one try did.
enum Tried {
    Answered(ResponseHead, Vec<u8>),
    Failed(ProxyError),
}

impl Pool {
    /// One server at `connector`, as a stack without an `upstream` block
    /// has: no balancer steps are recorded for it.
    pub fn single(connector: Connector, clock: Clock) -> Pool {
        Pool {
            members: vec![Member {
                name: String::new(),
                upstream: Upstream::new(connector),
            }],
            group: Mutex::new(Group::new(
                Method::RoundRobin,
                &[(String::new(), ServerConfig::default())],
            )),
            hash: None,
            named: false,
            clock,
        }
    }

    /// The group `config` declares, its servers at `connectors` (in the
    /// same order). Upstream connections are numbered across the group.
    pub fn group(config: &UpstreamConfig, connectors: Vec<Connector>, clock: Clock) -> Pool {
        let ids = Arc::new(AtomicU64::new(1));
        let members: Vec<Member> = config
            .server
            .iter()
            .zip(connectors)
            .map(|(s, c)| Member {
                name: s.name.clone(),
                upstream: Upstream::numbered(c, ids.clone()),
            })
            .collect();
        let servers: Vec<(String, ServerConfig)> = config
            .server
            .iter()
            .map(|s| (s.name.clone(), s.balance()))
            .collect();
        let mut group = Group::new(config.balance, &servers);
        let hash = config
            .hash
            .clone()
            .filter(|_| config.balance == Method::Hash);
        if hash.as_ref().is_some_and(|h| h.consistent) {
            let addresses: Vec<String> = members.iter().map(|m| m.upstream.address()).collect();
            group = group.with_ring(&addresses);
        }
        Pool {
            members,
            group: Mutex::new(group),
            hash,
            named: true,
            clock,
        }
    }

    /// The first server: where an upgraded connection goes.
    pub fn first(&self) -> &Upstream {
        &self.members[0].upstream
    }

    /// `ngx_time()`: whole seconds of the clock.
    fn now(&self) -> u64 {
        self.clock.unix_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Group> {
        match self.group.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Send the request to the group: choose, try, and on a failure that
    /// `proxy_next_upstream` lists, choose again.
    pub async fn forward(
        &self,
        upstream_req: &RequestHead,
        body: &[u8],
        config: &WebServerConfig,
        vars: &Vars<'_>,
    ) -> Result<(ResponseHead, Vec<u8>), ProxyError> {
        if !self.named {
            return self.first().forward(upstream_req, body, config).await;
        }
        // `hash`: the key is worked out once per request; its walk goes
        // on across the request's tries.
        let mut walk = self.hash.as_ref().map(|h| Walk::new(vars.key(&h.key)));
        let octets = match vars.remote_addr {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                [o[0], o[1], o[2]]
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                [o[0], o[1], o[2]]
            }
        };
        let servers = self.members.len();
        // nginx: as many tries as the group has servers (backups included),
        // capped by proxy_next_upstream_tries.
        let mut tries_left = match config.proxy_next_upstream_tries {
            0 => servers,
            n => servers.min(n as usize),
        };
        let mut tried = vec![false; servers];
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let Some(i) = self.choose(&tried, attempt, octets, walk.as_mut()) else {
                return Err(ProxyError::NoLive);
            };
            tried[i] = true;
            tries_left = tries_left.saturating_sub(1);
            let member = &self.members[i];
            let outcome = match member
                .upstream
                .forward(upstream_req, body, config)
                .instrument(server_span(&member.name))
                .await
            {
                Ok((head, body)) => Tried::Answered(head, body),
                Err(e) => Tried::Failed(e),
            };
            let condition = match &outcome {
                Tried::Answered(head, _) => NextUpstream::of_status(head.status)
                    .filter(|c| config.proxy_next_upstream.contains(c)),
                Tried::Failed(e) => Some(NextUpstream::of_error(e)),
            };
            let Some(condition) = condition else {
                // An answer: the try succeeded, as far as the balancer goes.
                self.lock().finish(i, false, self.now());
                let Tried::Answered(head, body) = outcome else {
                    unreachable!("only an answer has no condition")
                };
                return Ok((head, body));
            };
            let sent = match &outcome {
                Tried::Failed(e) => {
                    !matches!(e, ProxyError::Connect(..) | ProxyError::ConnectTimeout)
                }
                Tried::Answered(..) => true,
            };
            let listed = config.proxy_next_upstream.contains(&condition)
                && !config.proxy_next_upstream.contains(&NextUpstream::Off);
            let blocked_by_method = sent
                && !idempotent(&upstream_req.method)
                && !config
                    .proxy_next_upstream
                    .contains(&NextUpstream::NonIdempotent);
            let now = self.now();
            let (fails, max_fails, fail_timeout) = {
                let mut g = self.lock();
                g.finish(i, true, now);
                let p = &g.peers[i];
                (p.fails, p.max_fails, p.fail_timeout)
            };
            let goes_on = listed && !blocked_by_method && tries_left > 0;
            let why = if !listed {
                format!("proxy_next_upstream does not list {}", condition.as_str())
            } else if blocked_by_method {
                format!(
                    "{} was already sent and is not idempotent (proxy_next_upstream has no non_idempotent)",
                    upstream_req.method
                )
            } else if tries_left == 0 {
                "no tries left (each server once, or proxy_next_upstream_tries)".to_string()
            } else {
                format!("proxy_next_upstream lists {}", condition.as_str())
            };
            let what = match &outcome {
                Tried::Failed(e) => e.to_string(),
                Tried::Answered(head, _) => format!("the app server answered {}", head.status),
            };
            let health = if servers == 1 {
                "the only server of the group is never marked failed".to_string()
            } else if max_fails > 0 && fails >= max_fails {
                format!(
                    "{fails} of max_fails {max_fails}: {} is skipped until fail_timeout {fail_timeout}s has passed",
                    member.name
                )
            } else {
                format!("{fails} of max_fails {max_fails}")
            };
            let mut step = Step::new(StepId::WebServerUpstreamNext, Direction::Within, Kind::Decision)
                .server(member.name.clone())
                .summary(format!(
                    "try {attempt} on {} failed ({what}); failures {health}; {}",
                    member.name,
                    if goes_on {
                        format!("{why}: the request goes to the next server")
                    } else {
                        format!("{why}: no other server is tried")
                    }
                ))
                .knob("proxy_next_upstream", next_upstream_knob(&config.proxy_next_upstream))
                .decision(
                    Decision::new(if goes_on {
                        Verdict::Retry
                    } else {
                        Verdict::Pass
                    })
                    .rule("ngx_http_upstream_next: pass the request on when proxy_next_upstream lists the failure, tries are left, and a request already sent is idempotent")
                    .subject(member.name.clone())
                    .input("condition", condition.as_str())
                    .input("request_sent", sent)
                    .input("method", &upstream_req.method)
                    .input("fails", fails)
                    .input("tries_left", tries_left)
                    .knob("proxy_next_upstream_tries", config.proxy_next_upstream_tries)
                    .knob("max_fails", max_fails)
                    .knob("fail_timeout", Time::secs(fail_timeout)),
                );
            if let Tried::Failed(e) = &outcome {
                step = step.failure(e.failure());
            }
            step.emit();
            if !goes_on {
                return match outcome {
                    Tried::Answered(head, body) => Ok((head, body)),
                    Tried::Failed(e) => Err(e),
                };
            }
        }
    }

    /// One choice, recorded with every candidate's state; None: no live
    /// upstreams (recorded too).
    fn choose(
        &self,
        tried: &[bool],
        attempt: u32,
        client: [u8; 3],
        mut walk: Option<&mut Walk>,
    ) -> Option<usize> {
        let now = self.now();
        let mut g = self.lock();
        let before: Vec<Peer> = g.peers.clone();
        let skips: Vec<Option<Skip>> = (0..g.peers.len()).map(|i| g.skip(i, tried, now)).collect();
        let chosen = g.choose_with(tried, now, client, walk.as_deref_mut());
        let method = g.method;
        let ring_points = g.ring.as_ref().map(|r| r.points.len());
        let after = g.peers.clone();
        drop(g);
        let mut decision = Decision::new(match chosen {
            Some(_) => Verdict::Choose,
            None => Verdict::Refuse { status: 502 },
        })
        .rule(match method {
            Method::RoundRobin => "smooth weighted round robin: every eligible server's current_weight grows by its effective weight; the largest is chosen and loses the total",
            Method::LeastConn => "least_conn: the eligible server with the fewest active connections per weight; ties by weighted round robin",
            Method::IpHash => "ip_hash: the first three octets of the client's address choose; an ineligible server passes the hash on",
            Method::Hash if ring_points.is_some() => "hash consistent (ketama): the first ring point at or after the key's CRC-32 names the server; an ineligible one passes the key to the next point",
            Method::Hash => "hash: (crc32(key) >> 16) & 0x7fff, modulo the total weight, names the server; an ineligible one has the key hashed again",
        })
        .input("balance", method.as_str())
        .input("try", attempt)
        .knob("balance", method.as_str());
        let walked = walk.as_deref().map(|w| self.walked(w, ring_points));
        if let (Some(h), Some(w)) = (&self.hash, walk.as_deref()) {
            decision = decision
                .knob("hash", h)
                .input("key", format!("\"{}\"", w.key))
                .input("crc32", format!("{:#010x}", w.crc32));
            if let Some(n) = ring_points {
                decision = decision.input("ring_points", n);
            }
            if let Some(walked) = &walked {
                decision = decision.input("walk", walked);
            }
        }
        for (i, p) in before.iter().enumerate() {
            let state = match skips[i] {
                None if p.backup => "backup".to_string(),
                None => "eligible".to_string(),
                Some(Skip::Failed) => format!(
                    "failed: eligible again from {}",
                    crate::clock::rfc3339(p.checked + p.fail_timeout + 1)
                ),
                Some(s) => s.as_str().to_string(),
            };
            decision = decision.candidate(
                p.name.clone(),
                vec![
                    ("address".into(), self.members[i].upstream.address()),
                    ("weight".into(), p.weight.to_string()),
                    ("effective_weight".into(), p.effective_weight.to_string()),
                    ("current_weight".into(), after[i].current_weight.to_string()),
                    ("conns".into(), p.conns.to_string()),
                    ("fails".into(), p.fails.to_string()),
                    ("state".into(), state),
                ],
            );
        }
        let summary = match chosen {
            Some(i) => {
                let p = &before[i];
                format!(
                    "{}: chooses {} ({}) for try {attempt}: {}",
                    method.as_str(),
                    p.name,
                    self.members[i].upstream.address(),
                    match method {
                        Method::LeastConn => format!("{} active connection(s), weight {}", p.conns, p.weight),
                        Method::IpHash => format!(
                            "the client's network {}.{}.{} hashes to it",
                            client[0], client[1], client[2]
                        ),
                        Method::Hash => match (walk.as_deref(), &walked) {
                            (Some(w), Some(walked)) if !w.fell_back => format!(
                                "key \"{}\" has CRC-32 {:#010x}; {walked}",
                                w.key, w.crc32
                            ),
                            (Some(w), _) if w.key.is_empty() => {
                                "the key is empty: round robin, as nginx does".to_string()
                            }
                            _ => "no server by the key (one server, or 20 misses): round robin, as nginx does".to_string(),
                        },
                        Method::RoundRobin => {
                            // Before it lost the total, its current_weight
                            // was the largest.
                            let total: i64 = (0..before.len())
                                .filter(|&j| skips[j].is_none() && before[j].backup == p.backup)
                                .map(|j| before[j].effective_weight)
                                .sum();
                            format!(
                                "current_weight {} was the largest; it loses the total {total}",
                                after[i].current_weight + total
                            )
                        }
                    }
                )
            }
            None => "no live upstreams while connecting to upstream: every server is down, failed within its fail_timeout, full or already tried".to_string(),
        };
        decision = match chosen {
            Some(i) => decision.chosen(before[i].name.clone()),
            None => decision,
        };
        let mut step = Step::new(
            StepId::WebServerUpstreamChoose,
            Direction::Within,
            Kind::Decision,
        )
        .summary(summary)
        .decision(decision);
        if let Some(i) = chosen {
            step = step.server(before[i].name.clone());
        } else {
            step = step.failure(Failure::Refused);
        }
        step.emit();
        chosen
    }
}

impl Pool {
    /// What the last choice's walk looked at, in words: "point 57 of
    /// 480 (0x1c3f0a2b) → b: down; point 58 (0x1d…) → c".
    fn walked(&self, walk: &Walk, ring_points: Option<usize>) -> String {
        let name = |i: usize| self.members.get(i).map_or("?", |m| m.name.as_str());
        let visits: Vec<String> = walk
            .visits
            .iter()
            .map(|v| {
                let place = match ring_points {
                    Some(n) => format!("point {} of {n} ({:#010x})", v.at, v.value),
                    None => format!("hash {} % total weight = {}", v.at, v.value),
                };
                match v.skipped {
                    Some(skip) => format!("{place} → {}: {}", name(v.server), skip.as_str()),
                    None => format!("{place} → {}", name(v.server)),
                }
            })
            .collect();
        if visits.is_empty() {
            "no server by the key: round robin".to_string()
        } else if walk.fell_back {
            format!("{}; then round robin", visits.join("; "))
        } else {
            visits.join("; ")
        }
    }
}

/// Where instance `index` of a lesson's group listens: gunicorn's default
/// bind, then the ports after it, as several app servers on one host.
pub fn lesson_address(index: usize) -> SocketAddr {
    let base = crate::stack::LESSON_APP_ADDR;
    SocketAddr::new(base.ip(), base.port().saturating_add(index as u16))
}
