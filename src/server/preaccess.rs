//! nginx's preaccess phase: the rate limits, run once per request after
//! its location is chosen and before anything answers it.
//!
//! ```text
//! location chosen ─▶ limit_req  (each directive: pass, wait, or limit_req_status)
//!                 ─▶ limit_conn (each directive: count it, or limit_conn_status)
//!                 ─▶ the location's handler (proxy_pass, files, return)
//! ```
//!
//! nginx registers limit_conn's handler before limit_req's and runs a
//! phase's handlers last-registered first, so limit_req decides first: a
//! request that waits out its delay is not yet counted by limit_conn. An
//! internal redirect does not run the limits again (nginx marks the main
//! request once it has been judged). Several `limit_req` directives are
//! judged together, as `ngx_http_limit_req_handler` does: the first one
//! over its burst rejects the request and none of them counts it;
//! otherwise all count it and it waits the longest of their delays.
//!
//! roundtrip takes the directives from the server block, so they apply to
//! every location (nginx would also take them per location). While a
//! request waits, nginx still notices a client that closes; roundtrip
//! just waits on the lesson's clock.
//!
//! Book: "The web server", section "Rate limiting" (book/src/web-server.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::config::WebServerConfig;
use super::limit_conn::{Admit, ConnHold, ConnZone};
use super::limit_req::{self, Measure, Zone, requests};
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Failure, Kind, StepId, Verdict};

/// nginx's default for `limit_req_status` and `limit_conn_status`.
pub const DEFAULT_LIMIT_STATUS: u16 = 503;

/// The zones of one web server, shared by all its connections.
#[derive(Debug)]
pub struct Limits {
    req: Mutex<HashMap<String, Zone>>,
    conn: HashMap<String, ConnZone>,
    /// nginx's `ngx_current_msec` counts from here.
    start: Instant,
}

/// What the preaccess phase decided.
#[derive(Debug)]
pub(super) enum Preaccess {
    /// Go on; the holds keep this request counted by `limit_conn` until
    /// they are dropped with the request.
    Go(Vec<ConnHold>),
    /// Answer with this status.
    Refuse(u16),
}

impl Limits {
    pub fn new(config: &WebServerConfig) -> Limits {
        Limits {
            req: Mutex::new(
                config
                    .limit_req_zone
                    .iter()
                    .map(|z| (z.name.clone(), Zone::new(z.rate, z.states())))
                    .collect(),
            ),
            conn: config
                .limit_conn_zone
                .iter()
                .map(|z| (z.name.clone(), ConnZone::new(z.states())))
                .collect(),
            start: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// What nginx would refuse to start with in these directives, as (the
/// setting, why): a limit naming no zone, a zone defined twice, `nodelay`
/// with `delay=`, a status outside 400–599, `limit_conn 0`.
pub fn config_problems(cfg: &WebServerConfig) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for z in &cfg.limit_req_zone {
        if !names.insert(z.name.as_str()) {
            found.push((
                "limit_req_zone",
                format!("the limit_req_zone `{}` is defined twice", z.name),
            ));
        }
    }
    for l in &cfg.limit_req {
        if !names.contains(l.zone.as_str()) {
            found.push((
                "limit_req",
                format!(
                    "limit_req names the zone `{}`, which no limit_req_zone defines",
                    l.zone
                ),
            ));
        }
        if l.nodelay && l.delay.is_some() {
            found.push((
                "limit_req",
                format!(
                    "limit_req zone={} has both nodelay and delay: choose one",
                    l.zone
                ),
            ));
        }
        if l.burst > 1_000_000 || l.delay.is_some_and(|d| d > 1_000_000) {
            found.push((
                "limit_req",
                format!(
                    "limit_req zone={}: burst and delay must be at most 1000000",
                    l.zone
                ),
            ));
        }
    }
    let mut conn_names = std::collections::BTreeSet::new();
    for z in &cfg.limit_conn_zone {
        if !conn_names.insert(z.name.as_str()) {
            found.push((
                "limit_conn_zone",
                format!("the limit_conn_zone `{}` is defined twice", z.name),
            ));
        }
    }
    for l in &cfg.limit_conn {
        if !conn_names.contains(l.zone.as_str()) {
            found.push((
                "limit_conn",
                format!(
                    "limit_conn names the zone `{}`, which no limit_conn_zone defines",
                    l.zone
                ),
            ));
        }
        if l.conn == 0 || l.conn > 65_535 {
            found.push((
                "limit_conn",
                format!(
                    "limit_conn {}: the number must be between 1 and 65535",
                    l.zone
                ),
            ));
        }
    }
    for (key, status) in [
        ("limit_req_status", cfg.limit_req_status),
        ("limit_conn_status", cfg.limit_conn_status),
    ] {
        if let Some(s) = status
            && !(400..=599).contains(&s)
        {
            found.push((
                key,
                format!("`{key}` must be between 400 and 599 (nginx's range)"),
            ));
        }
    }
    found
}

/// Run the phase for one request from `client`.
pub(super) async fn preaccess(cfg: &WebServerConfig, limits: &Limits, client: IpAddr) -> Preaccess {
    // `$binary_remote_addr`: the address's bytes; its text form names the
    // same key and reads better in a trace.
    let key = client.to_string();
    if !cfg.limit_req.is_empty() {
        match limit_requests(cfg, limits, &key) {
            Ok(0) => {}
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Step::new(
                    StepId::WebServerLimitReqResume,
                    Direction::Within,
                    Kind::Step,
                )
                .summary(format!(
                    "the {ms} ms limit_req delay is over: the request goes on"
                ))
                .emit();
            }
            Err(status) => return Preaccess::Refuse(status),
        }
    }
    let mut holds = Vec::new();
    let status = cfg.limit_conn_status.unwrap_or(DEFAULT_LIMIT_STATUS);
    for limit in &cfg.limit_conn {
        // Validation refuses a limit_conn whose zone is not defined.
        let Some(zone) = limits.conn.get(&limit.zone) else {
            continue;
        };
        let step = Step::new(
            StepId::WebServerLimitConn,
            Direction::Within,
            Kind::Decision,
        )
        .knob("limit_conn", format!("{} {}", limit.zone, limit.conn));
        let rule = "ngx_http_limit_conn_module: a key may have `limit_conn` requests in progress; one more is refused with limit_conn_status";
        match zone.admit(&key, limit.conn) {
            Admit::Counted { hold, active } => {
                step.summary(format!(
                    "limit_conn {}: {key} now has {active} of {} requests in progress: passes",
                    limit.zone, limit.conn
                ))
                .decision(
                    Decision::new(Verdict::Pass)
                        .rule(rule)
                        .subject(&key)
                        .input("in_progress", active)
                        .knob("limit_conn", limit.conn),
                )
                .emit();
                holds.push(hold);
            }
            Admit::Over { active } => {
                step.summary(format!(
                    "limit_conn {}: {key} already has {active} in progress, the limit is {}: answers {status}",
                    limit.zone, limit.conn
                ))
                .decision(
                    Decision::new(Verdict::Refuse { status })
                        .rule(rule)
                        .subject(&key)
                        .input("in_progress", active)
                        .knob("limit_conn", limit.conn)
                        .knob("limit_conn_status", status),
                )
                .failure(Failure::TooLarge)
                .answer(status)
                .emit();
                return Preaccess::Refuse(status);
            }
            Admit::ZoneFull => {
                step.summary(format!(
                    "limit_conn zone {} has no room for another client: answers {status}",
                    limit.zone
                ))
                .decision(
                    Decision::new(Verdict::Refuse { status })
                        .rule("a limit_conn zone that cannot store a new key refuses its request")
                        .subject(&key)
                        .knob("limit_conn_status", status),
                )
                .failure(Failure::TooLarge)
                .answer(status)
                .emit();
                return Preaccess::Refuse(status);
            }
        }
    }
    Preaccess::Go(holds)
}

/// Judge the request against every `limit_req`; the delay to wait, or the
/// status to refuse with. Emits one step per directive.
fn limit_requests(cfg: &WebServerConfig, limits: &Limits, key: &str) -> Result<u64, u16> {
    let now = limits.now_ms();
    let status = cfg.limit_req_status.unwrap_or(DEFAULT_LIMIT_STATUS);
    let mut zones = limits.req.lock().unwrap_or_else(|p| p.into_inner());
    // Measure first: one directive over its burst means none counts it.
    let mut judged: Vec<(usize, Measure, limit_req::Verdict)> = Vec::new();
    let mut rejected = false;
    for (i, limit) in cfg.limit_req.iter().enumerate() {
        let Some(zone) = zones.get_mut(&limit.zone) else {
            continue;
        };
        let m = zone.measure(key, now);
        let v = limit_req::judge(limit, zone.rate, &m);
        judged.push((i, m, v));
        if v == limit_req::Verdict::Rejected {
            zone.touch(key);
            rejected = true;
            break;
        }
    }
    let mut longest = 0;
    for (i, m, v) in &judged {
        let limit = &cfg.limit_req[*i];
        let Some(zone) = zones.get_mut(&limit.zone) else {
            continue;
        };
        if !rejected {
            zone.account(key, now, m);
        }
        if let limit_req::Verdict::Delayed { ms } = v {
            longest = longest.max(*ms);
        }
        req_step(limit, zone.rate, key, m, *v, rejected, status);
    }
    if rejected { Err(status) } else { Ok(longest) }
}

fn req_step(
    limit: &limit_req::LimitReq,
    rate: limit_req::LimitRate,
    key: &str,
    m: &Measure,
    v: limit_req::Verdict,
    rejected: bool,
    status: u16,
) {
    let written = limit.written(rate);
    let before = match m.excess_before {
        Some(e) => format!(
            "excess was {} {} ms ago, {} leaked since, this request makes it {}",
            requests(e),
            m.elapsed_ms,
            requests(m.leaked),
            requests(m.excess)
        ),
        None => format!("first request from {key}: its bucket starts empty (excess 0.000)"),
    };
    let threshold = if limit.nodelay {
        "nodelay".to_string()
    } else {
        format!("delay={}", limit.delay.unwrap_or(0))
    };
    let (verdict, outcome) = match v {
        limit_req::Verdict::Rejected => (
            Verdict::Refuse { status },
            format!("over burst={}: answers {status}", limit.burst),
        ),
        limit_req::Verdict::Delayed { ms } if !rejected => (
            Verdict::Delay { ms },
            format!("over {threshold}: waits {ms} ms"),
        ),
        limit_req::Verdict::Passed if !rejected => (Verdict::Pass, "passes".to_string()),
        // Within this limit, but another one rejects the request.
        _ => (
            Verdict::Pass,
            "within this limit, but another limit_req rejects the request".to_string(),
        ),
    };
    let mut decision = Decision::new(verdict)
        .rule("ngx_http_limit_req_module: excess = max(0, excess − rate×ms/1000 + 1); over burst is rejected, over the delay threshold waits (excess − threshold)/rate")
        .subject(key)
        .input("excess_before", m.excess_before.map_or("none".to_string(), requests))
        .input("elapsed_ms", m.elapsed_ms)
        .input("leaked", requests(m.leaked))
        .input("excess", requests(m.excess))
        .input(
            "excess_after",
            match (rejected, m.excess_before) {
                (true, Some(e)) => requests(e),
                (true, None) => "none".to_string(),
                (false, _) => requests(m.excess),
            },
        )
        .knob("rate", rate)
        .knob("burst", limit.burst)
        .knob(if limit.nodelay { "nodelay" } else { "delay" }, if limit.nodelay { "on".to_string() } else { limit.delay.unwrap_or(0).to_string() });
    if let limit_req::Verdict::Delayed { ms } = v {
        decision = decision.input("delay_ms", ms);
    }
    if v == limit_req::Verdict::Rejected {
        decision = decision.knob("limit_req_status", status);
    }
    let mut step = Step::new(StepId::WebServerLimitReq, Direction::Within, Kind::Decision)
        .summary(format!("limit_req {written}: {before}; {outcome}"))
        .knob("limit_req", written)
        .decision(decision);
    if v == limit_req::Verdict::Rejected {
        step = step.failure(Failure::TooLarge).answer(status);
    }
    step.emit();
}
