//! An upstream group's app server instances at one step, as the stack
//! diagram draws them side by side under the web server.
//!
//! With an `upstream` block the web server balances over several app
//! servers, each a real instance with its own workers or event loop
//! (nginx's `upstream` module: <https://nginx.org/en/docs/http/ngx_http_upstream_module.html>).
//! What a learner needs to see of each at a step:
//!
//! * whether its process is **up** or **down** (the lesson stopped or
//!   killed it: `app_server.instance.stop` / `.start`);
//! * whether the balancer **skips it as failed** (`max_fails` failures,
//!   counted at `web_server.upstream.next`): until `fail_timeout` has
//!   passed, in nginx's whole seconds (`checked + fail_timeout`: eligible
//!   again the second after), confirmed by each later choice's facts;
//! * its **active connections** as nginx counts them (`peer->conns`):
//!   set from every `web_server.upstream.choose` decision's facts, one
//!   more for the server chosen, one less when that try ends (the
//!   response read, the try failed, or the tunnel of an upgrade closed);
//! * its own workers or tasks, replayed from the steps its process took
//!   (events carry the instance's `server` name).
//!
//! Like every board, it is derived from the trace and the cursor alone,
//! with a checkpoint every [`EVERY`] steps so a frame costs the same at
//! any step.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Upstream
//! instances"; "The web server" (book/src/web-server.md), load balancing.

use std::collections::BTreeMap;

use crate::trace::state::StateBoard;
use crate::trace::{Data, Event, Layer, StepId, Trace};

/// Steps between stored checkpoints.
pub const EVERY: usize = 256;

/// One instance at one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceState {
    /// Its process is stopped or killed (the lesson's event).
    pub stopped: bool,
    /// Marked `down` in the configuration: never chosen.
    pub marked_down: bool,
    /// A `backup` server: chosen only when the others cannot be.
    pub backup: bool,
    /// The balancer skips it as failed until this simulated instant.
    pub failed_until_ns: Option<u64>,
    /// Active connections as nginx counts them.
    pub conns: u64,
    /// Its own workers, tasks and loop.
    pub board: StateBoard,
}

impl InstanceState {
    /// Is the balancer skipping it as failed at `now`?
    pub fn failed_at(&self, now: u64) -> bool {
        self.failed_until_ns.is_some_and(|until| now < until)
    }
}

/// Every instance, in the order of the group's `server` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub names: Vec<String>,
    checkpoints: Vec<Replay>,
}

/// The replay's running state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Replay {
    states: Vec<InstanceState>,
    /// Request → the instance its current try went to.
    tries: BTreeMap<u64, usize>,
}

impl Group {
    pub fn new(trace: &Trace) -> Group {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        };
        for e in &trace.events {
            if let Some(d) = e
                .decision
                .as_ref()
                .filter(|_| e.step == StepId::WebServerUpstreamChoose)
            {
                d.candidates.iter().for_each(|c| add(&c.name));
            }
            if let Some(s) = &e.server {
                add(s);
            }
        }
        if names.is_empty() {
            return Group::default();
        }
        let mut replay = Replay {
            states: vec![InstanceState::default(); names.len()],
            tries: BTreeMap::new(),
        };
        let mut checkpoints = Vec::with_capacity(trace.events.len() / EVERY + 1);
        for (i, e) in trace.events.iter().enumerate() {
            if i % EVERY == 0 {
                checkpoints.push(replay.clone());
            }
            replay.apply(&names, e);
        }
        Group { names, checkpoints }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every instance just after step `i`.
    pub fn at(&self, events: &[Event], i: usize) -> Vec<InstanceState> {
        let checkpoint = i / EVERY;
        let Some(start) = self.checkpoints.get(checkpoint) else {
            return Vec::new();
        };
        let mut replay = start.clone();
        for e in events
            .iter()
            .take(i.saturating_add(1))
            .skip(checkpoint * EVERY)
        {
            replay.apply(&self.names, e);
        }
        replay.states
    }
}

impl Replay {
    fn apply(&mut self, names: &[String], e: &Event) {
        let index = |name: &str| names.iter().position(|n| n == name);
        let server = e.server.as_deref().and_then(index);
        if let Some(s) = server
            && e.layer == Layer::AppServer
        {
            self.states[s].board.apply(e);
        }
        match e.step {
            StepId::AppServerInstanceStop => {
                if let Some(s) = server {
                    self.states[s].stopped = true;
                }
            }
            StepId::AppServerInstanceStart => {
                if let Some(s) = server {
                    self.states[s].stopped = false;
                }
            }
            StepId::WebServerUpstreamChoose => {
                let Some(d) = &e.decision else { return };
                for c in &d.candidates {
                    let Some(s) = index(&c.name) else { continue };
                    let fact = |k: &str| c.facts.iter().find(|(n, _)| n == k).map(|(_, v)| v);
                    let st = &mut self.states[s];
                    if let Some(n) = fact("conns").and_then(|v| v.parse().ok()) {
                        st.conns = n;
                    }
                    match fact("state").map(String::as_str) {
                        Some("marked down") => st.marked_down = true,
                        Some("backup") => st.backup = true,
                        Some("eligible") => st.failed_until_ns = None,
                        _ => {}
                    }
                }
                if let (Some(chosen), Some(r)) = (d.chosen.as_deref().and_then(index), e.request) {
                    self.states[chosen].conns += 1;
                    self.tries.insert(r, chosen);
                }
            }
            StepId::WebServerUpstreamNext => {
                let Some(r) = e.request else { return };
                if let Some(s) = self.tries.remove(&r) {
                    let st = &mut self.states[s];
                    st.conns = st.conns.saturating_sub(1);
                    if let Some(d) = &e.decision {
                        let input = |k: &str| {
                            d.inputs
                                .iter()
                                .find(|(n, _)| n == k)
                                .and_then(|(_, v)| v.parse::<u64>().ok())
                        };
                        let knob = |k: &str| d.knobs.iter().find(|n| n.name == k);
                        let max_fails = knob("max_fails").and_then(|k| k.value.parse::<u64>().ok());
                        let timeout = knob("fail_timeout").and_then(|k| seconds(&k.value));
                        if let (Some(fails), Some(max), Some(t)) =
                            (input("fails"), max_fails, timeout)
                            && max > 0
                            && fails >= max
                        {
                            // nginx keeps `checked` in whole seconds and skips
                            // while `now - checked <= fail_timeout`.
                            let checked = e.at_ns / 1_000_000_000;
                            st.failed_until_ns = Some((checked + t + 1) * 1_000_000_000);
                        }
                    }
                }
            }
            // A response read ends the try, unless it was a 101: then
            // the connection is a tunnel and the try lasts until it closes.
            StepId::WebServerProxyReceive | StepId::WebServerResponseSend if !upgraded(e) => {
                self.end_try(e);
            }
            StepId::WebServerProxyError | StepId::WebServerTunnelClose => self.end_try(e),
            _ => {}
        }
    }

    fn end_try(&mut self, e: &Event) {
        if let Some(s) = e.request.and_then(|r| self.tries.remove(&r)) {
            let st = &mut self.states[s];
            st.conns = st.conns.saturating_sub(1);
        }
    }
}

/// The step carries a 101 response head.
fn upgraded(e: &Event) -> bool {
    e.data
        .iter()
        .any(|d| matches!(d, Data::ResponseHead { status: 101, .. }))
}

/// `10s`, `1m`, `30` (seconds, as nginx reads a bare number): whole seconds.
fn seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => Some(n * 60),
        "h" => Some(n * 3600),
        "ms" => Some(n / 1000),
        _ => None,
    }
}
