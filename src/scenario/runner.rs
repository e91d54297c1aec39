//! The lesson runner: the client side of a lesson.
//!
//! It builds the lesson's stack over in-memory pipes on a current-thread
//! tokio runtime whose clock is paused, then plays the client: opens
//! connections, writes the real request bytes at the times the lesson
//! says, reads the responses. Simulated time moves only when every task is
//! waiting, so a lesson that "takes" a minute finishes in milliseconds and
//! records the same trace on every run.
//!
//! The written `[[request]]`s and a `[load]` ([`super::load`]) play at the
//! same time, through the same client ([`super::client`]). When the run is
//! over, the trace is assembled and its figures computed
//! ([`crate::trace::metrics`]).
//!
//! A lesson that compares stacks (`[[compare]]`) is run once per variant,
//! each on a runtime of its own whose clock starts at zero, with the same
//! requests and the same seed: each run is as deterministic as a lesson of
//! one stack, and none can change another. The figures are then set side
//! by side ([`crate::trace::compare`]).
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Lesson;
use super::client::Connect;
use super::client::{ClientConn, Dialed, Exchange, Prepared, idempotent};
use super::format::{Compare, MixRequest, Request, RequestRef, Scenario};
use super::jar::Jars;
use super::load::{self, Plan};
use crate::clock::{Clock, LESSON_EPOCH_SECS};
use crate::stack::Dialers;
use crate::stack::{self, StackConfig, StackError};
use crate::trace::compare::{self, Comparison};
use crate::trace::metrics::{self, LoadSummary};
use crate::trace::{Data, Instance, Layer, Meta, StepId, Trace, VariantMeta, assemble};

pub use super::client::{LESSON_HOST, request_bytes};

/// Longest a lesson may run, in simulated time, before it is called stuck.
pub const MAX_LESSON_TIME: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("could not start the lesson's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the lesson did not finish within {0:?} of simulated time")]
    Stuck(Duration),
    #[error("the lesson has no stack to run (neither [stack] nor [[compare]]); this is a bug")]
    NothingToRun,
}

/// Something a lesson expected that did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// 1-based index of the `[[request]]` in the file (the lesson's
    /// number for it); `None` for a variant's own `expect` (its figures).
    pub request: Option<usize>,
    /// Where in the file the expectation is written (a byte offset): the
    /// key that was not met (`status`, `answered_by`), else the
    /// request's own `[[request]]` line.
    pub at: Option<usize>,
    /// In a lesson that compares stacks: the variant it happened in, by
    /// its position (0-based) among the `[[compare]]` tables.
    pub variant: Option<usize>,
    pub message: String,
}

impl Unmet {
    /// The sentence `run` and `check` print, e.g. "request 1 expected
    /// status 400, got 413", naming the variant when there is one.
    pub fn describe(&self, scenario: &Scenario) -> String {
        let variant = self
            .variant
            .and_then(|i| scenario.compare.get(i))
            .map(|c| c.name.get_ref().as_str());
        match (self.request.map(|r| scenario.request_label(r)), variant) {
            (Some(r), None) => format!("{r} {}", self.message),
            (Some(r), Some(v)) => format!("{r}, in variant `{v}`, {}", self.message),
            (None, Some(v)) => format!("variant `{v}` {}", self.message),
            (None, None) => self.message.clone(),
        }
    }

    /// Where in the lesson file to point (a byte offset): the key of the
    /// expectation, the request's `[[request]]` line, or the variant's
    /// `expect`.
    pub fn offset(&self, scenario: &Scenario) -> usize {
        if let Some(at) = self.at {
            return at;
        }
        let requests_at = scenario.request.as_ref().map_or(0, |r| r.span().start);
        let own = self
            .request
            .and_then(|n| scenario.requests().get(n.wrapping_sub(1)))
            .map(|r| r.span().start);
        match (
            self.request,
            self.variant.and_then(|i| scenario.compare.get(i)),
        ) {
            (None, Some(c)) => c
                .expect
                .as_ref()
                .map_or(c.name.span().start, |e| e.span().start),
            _ => own.unwrap_or(requests_at),
        }
    }
}

/// A finished lesson: its trace, and any expectation or narration it missed.
///
/// A lesson that compares stacks (`[[compare]]`) has one trace per
/// variant: `trace` is the first variant's, `others` the rest, in the
/// lesson's order, and `comparison` their figures side by side.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub trace: Trace,
    /// The other variants' traces (empty for a lesson of one stack).
    pub others: Vec<Trace>,
    /// The variants' figures side by side (`None` for one stack).
    pub comparison: Option<Comparison>,
    pub unmet: Vec<Unmet>,
    /// Narration entries (by index) that matched no step (in any variant
    /// they apply to).
    pub unused_narration: Vec<usize>,
}

impl Outcome {
    /// Every trace: the one run, or each variant's in order.
    pub fn traces(&self) -> Vec<&Trace> {
        std::iter::once(&self.trace).chain(&self.others).collect()
    }

    /// Every trace, owned, in order (for the player).
    pub fn into_traces(self) -> Vec<Trace> {
        std::iter::once(self.trace).chain(self.others).collect()
    }
}

/// What one run plays: a stack, the mix of the lesson's load it sends,
/// and, in a lesson that compares stacks, which variant it is.
struct RunSpec<'a> {
    stack: &'a StackConfig,
    /// The load's mix as this run sends it (a variant may swap its
    /// requests); `None` without a `[load]`.
    mix: Option<&'a [MixRequest]>,
    variant: Option<VariantMeta>,
}

/// One run's results, before they are put together.
struct RunResult {
    trace: Trace,
    unmet: Vec<Unmet>,
    /// Narration entries that matched a step of this run.
    used_narration: Vec<usize>,
}

/// Run a lesson to completion: its stack once, or each variant of a
/// lesson that compares stacks, one after the other, each on a runtime of
/// its own (its own paused clock, starting at zero).
pub fn run(lesson: &Lesson) -> Result<Outcome, RunError> {
    let scenario = &lesson.scenario;
    let base_mix = scenario.load.as_ref().map(|l| l.get_ref().mix.get_ref());
    let specs: Vec<RunSpec<'_>> = if scenario.compare.is_empty() {
        vec![RunSpec {
            stack: &scenario.stack,
            mix: base_mix.map(Vec::as_slice),
            variant: None,
        }]
    } else {
        let of = scenario.compare.len();
        scenario
            .compare
            .iter()
            .enumerate()
            .map(|(i, c)| RunSpec {
                stack: &c.stack,
                mix: c
                    .mix
                    .as_ref()
                    .map(|m| m.get_ref().as_slice())
                    .or(base_mix.map(Vec::as_slice)),
                variant: Some(VariantMeta {
                    index: i + 1,
                    of,
                    name: c.name.get_ref().clone(),
                }),
            })
            .collect()
    };
    let mut traces = Vec::with_capacity(specs.len());
    let mut unmet = Vec::new();
    let mut used = vec![false; scenario.narration.len()];
    for (i, spec) in specs.iter().enumerate() {
        let result = run_once(lesson, spec)?;
        unmet.extend(result.unmet);
        for n in result.used_narration {
            if let Some(u) = used.get_mut(n) {
                *u = true;
            }
        }
        if let Some(c) = scenario.compare.get(i) {
            unmet.extend(check_variant(c, i, &result.trace));
        }
        traces.push(result.trace);
    }
    let comparison = (!scenario.compare.is_empty())
        .then(|| compare::compare(&traces.iter().collect::<Vec<_>>()));
    let mut traces = traces.into_iter();
    // A lesson has at least one run: its stack, or two or more variants.
    let Some(trace) = traces.next() else {
        return Err(RunError::NothingToRun);
    };
    Ok(Outcome {
        trace,
        others: traces.collect(),
        comparison,
        unmet,
        unused_narration: (0..used.len()).filter(|&i| !used[i]).collect(),
    })
}

/// One run on a runtime of its own.
fn run_once(lesson: &Lesson, spec: &RunSpec<'_>) -> Result<RunResult, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(run_async(lesson, spec))
}

async fn run_async(lesson: &Lesson, spec: &RunSpec<'_>) -> Result<RunResult, RunError> {
    let scenario = &lesson.scenario;
    let (_guard, recording) = crate::trace::recorder::record_on_this_thread();

    let clock = Clock::starting_at(LESSON_EPOCH_SECS);
    let (dialer, running) = stack::start_in_memory(spec.stack, clock, scenario.seed)?;
    let start = Instant::now();
    let plan = match (&scenario.load, spec.mix) {
        (Some(l), Some(mix)) => Some(Arc::new(Plan::with_mix(l.get_ref(), mix, scenario.seed))),
        _ => None,
    };
    let results =
        tokio::time::timeout(MAX_LESSON_TIME, play_client(scenario, plan, dialer, start)).await;
    let (sent, load) = results.map_err(|_| RunError::Stuck(MAX_LESSON_TIME))?;
    if tokio::time::timeout(MAX_LESSON_TIME, running.wait())
        .await
        .is_err()
    {
        return Err(RunError::Stuck(MAX_LESSON_TIME));
    }

    let meta = Meta {
        scenario: lesson.name.clone(),
        title: scenario.title.clone(),
        summary: scenario.summary.clone(),
        seed: scenario.seed,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: clock.started_at(),
        config: serde_json::to_value(spec.stack).unwrap_or_default(),
        variant: spec.variant.clone(),
    };
    let mut trace = assemble(meta, stack::layers(spec.stack), recording.take());
    trace.metrics = Some(metrics::compute(&trace, load));
    number_requests(scenario, &mut trace, &sent);
    let variant = spec.variant.as_ref().map(|v| v.name.as_str());
    let used_narration = attach_narration(scenario, variant, &mut trace);
    let unmet = check_expectations(scenario, &trace, &sent)
        .into_iter()
        .map(|u| Unmet {
            variant: spec.variant.as_ref().map(|v| v.index - 1),
            ..u
        })
        .collect();
    Ok(RunResult {
        trace,
        unmet,
        used_narration,
    })
}

/// A variant's own `expect`: its throughput within bounds.
fn check_variant(c: &Compare, index: usize, trace: &Trace) -> Vec<Unmet> {
    let Some(expect) = c.expect.as_ref().map(|e| *e.get_ref()) else {
        return Vec::new();
    };
    let measured = trace.metrics.as_ref().and_then(|m| m.throughput_per_s);
    let unmet = |message: String| Unmet {
        request: None,
        at: None,
        variant: Some(index),
        message,
    };
    let Some(x) = measured else {
        return vec![unmet(
            "expected a throughput, but no request completed".into(),
        )];
    };
    let mut out = Vec::new();
    if let Some(lo) = expect.throughput_min
        && x < lo
    {
        out.push(unmet(format!(
            "expected a throughput of at least {lo} requests/s, got {x:.1}"
        )));
    }
    if let Some(hi) = expect.throughput_max
        && x > hi
    {
        out.push(unmet(format!(
            "expected a throughput of at most {hi} requests/s, got {x:.1}"
        )));
    }
    out
}

/// Where one `[[request]]` went.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placed {
    /// The client's number for the connection that carried it.
    conn: u64,
    /// Its position on that connection (1, 2, …).
    ordinal: u64,
    /// Why it did not go on the connection the lesson grouped it on (the
    /// server had closed that one), when it did not.
    moved: Option<String>,
}

/// Where each `[[request]]` went, by its 1-based place in the file.
type Sent = BTreeMap<usize, Placed>;

/// Play the client side: the written requests and the load, at once.
async fn play_client(
    scenario: &Scenario,
    load: Option<Arc<Plan>>,
    dialer: Dialers,
    start: Instant,
) -> (Sent, Option<LoadSummary>) {
    // Group requests by connection, keeping file order.
    let mut conns: Vec<(u64, Vec<(usize, Request)>)> = Vec::new();
    for (i, r) in scenario.requests().iter().enumerate() {
        let r = r.get_ref();
        let key = r.connection.unwrap_or(1_000_000 + i as u64);
        match conns.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push((i + 1, r.clone())),
            None => conns.push((key, vec![(i + 1, r.clone())])),
        }
    }
    let dialed = Dialed::default();
    // One set of cookie jars for the whole lesson, as one browser has.
    let jars = Arc::new(std::sync::Mutex::new(Jars::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for (_, requests) in conns {
        let dialer = dialer.clone();
        let dialed = dialed.clone();
        tasks.spawn(client_connection(
            dialer,
            dialed,
            requests,
            start,
            jars.clone(),
            scenario.seed,
        ));
    }
    let load = load.map(|plan| tokio::spawn(load::play(plan, dialer.http.clone(), dialed, start)));
    drop(dialer);
    let mut sent = Sent::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(list) = done {
            sent.extend(list);
        }
    }
    let load = match load {
        Some(handle) => handle.await.ok(),
        None => None,
    };
    (sent, load)
}

/// One connection of written `[[request]]`s, each sent at its `at`.
///
/// Nothing is lost when the server closes it early: the next request goes
/// on a new connection (`client.reconnect`), as a browser or curl would
/// send it, and a reused connection that dies with no response gets an
/// idempotent request sent again once on a new one (curl and browsers do
/// both; RFC 9110 §9.2.2 allows the retry only for idempotent methods).
async fn client_connection(
    dialer: Dialers,
    dialed: Dialed,
    requests: Vec<(usize, Request)>,
    start: Instant,
    jars: Arc<std::sync::Mutex<Jars>>,
    seed: u64,
) -> Vec<(usize, Placed)> {
    let mut sent = Vec::new();
    let first_at = requests
        .first()
        .and_then(|(_, r)| r.at.as_ref())
        .map(|t| t.get_ref().0)
        .unwrap_or_default();
    tokio::time::sleep_until(start + first_at).await;
    let how = requests
        .first()
        .map_or_else(Connect::default, |(_, r)| Connect::of(r));
    let dialer = (dialer, how);
    let Some(mut conn) = ClientConn::open_to(&dialer, &dialed).await else {
        return sent;
    };
    // Why the connection can carry no more requests, once it cannot.
    let mut closed: Option<String> = None;
    let idle = requests
        .last()
        .and_then(|(_, r)| r.idle.as_ref())
        .map(|t| t.get_ref().0);
    for (index, r) in requests {
        if let Some(at) = &r.at {
            tokio::time::sleep_until(start + at.get_ref().0).await;
        }
        let mut moved = None;
        if let Some(why) = closed.take() {
            let old = conn.id;
            let Some(fresh) = conn.reconnect(&dialer, &dialed, &why, index).await else {
                return sent;
            };
            conn = fresh;
            moved = Some(format!(
                "the server closed connection {old} ({why}), so it went on a new one"
            ));
        }
        let r = with_cookies(r, &jars);
        let key = super::ws_client::key_for(seed, conn.id);
        let r = super::ws_client::with_handshake(r, &key);
        let prepared = Prepared::new(&r);
        let (mut ordinal, mut outcome) = conn.exchange(&prepared).await;
        if outcome == Exchange::NoResponse && ordinal > 1 && idempotent(r.method.get_ref()) {
            let why = format!(
                "the server had closed it: the request written on it got no response, and {} \
                 may be sent again",
                r.method.get_ref()
            );
            let old = conn.id;
            let Some(fresh) = conn.reconnect(&dialer, &dialed, &why, index).await else {
                return sent;
            };
            conn = fresh;
            moved = Some(format!(
                "the server had closed connection {old}, so the client sent it again on a new one"
            ));
            (ordinal, outcome) = conn.exchange(&prepared).await;
        }
        {
            let mut jars = jars.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(jar) = &r.jar {
                for set in &conn.set_cookies {
                    jars.store(jar, set);
                }
            }
            if let Some(name) = &r.save_token {
                jars.save_token(name, &conn.body);
            }
        }
        let placed = Placed {
            conn: conn.id,
            ordinal,
            moved,
        };
        sent.push((index, placed));
        // A websocket: after its handshake the connection is the socket's
        // until it closes, and carries no more requests.
        if let Some(ws) = &r.websocket
            && let Exchange::Answered { status, .. } = outcome
            && super::ws_client::handshake_answered(&conn, status, &key)
        {
            let why = super::ws_client::play(&mut conn, ws.get_ref(), start, seed).await;
            closed = Some(why.to_string());
            continue;
        }
        closed = match outcome {
            Exchange::Answered { closes: true, .. } => {
                Some("its last response said `Connection: close`".to_string())
            }
            Exchange::NoResponse => {
                Some("it closed with no response to the last request".to_string())
            }
            Exchange::GaveUp => Some("the client gave up on its last request".to_string()),
            Exchange::Truncated => Some("it closed in the middle of the last response".to_string()),
            Exchange::Answered { closes: false, .. } => None,
        };
    }
    drop(dialer);
    if let (Some(idle), None) = (idle, &closed) {
        conn.stay_idle(idle).await;
    }
    conn.close().await;
    sent
}

/// The request with its jar's `Cookie` header, as a browser would send
/// it (after copying `jar_from` into the jar), and its kept bearer token.
fn with_cookies(mut r: Request, jars: &std::sync::Mutex<Jars>) -> Request {
    let mut jars = jars.lock().unwrap_or_else(|p| p.into_inner());
    let given = |r: &Request, name: &str| r.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    if let Some(name) = &r.bearer
        && !given(&r, "authorization")
        && let Some(token) = jars.token(name, r.tamper_token)
    {
        r.headers.insert(
            "Authorization".to_string(),
            toml::Value::String(["Bearer ", &token].concat()),
        );
    }
    if let Some(name) = &r.csrf
        && !given(&r, "x-csrf-token")
        && let Some(token) = jars.cookie(name, crate::framework::middleware::csrf::COOKIE)
    {
        r.headers.insert(
            "X-CSRF-Token".to_string(),
            toml::Value::String(token.to_string()),
        );
    }
    let Some(jar) = r.jar.clone() else {
        return r;
    };
    if let Some(from) = &r.jar_from {
        jars.copy(from, &jar);
    }
    if let (false, Some(cookie)) = (given(&r, "cookie"), jars.cookie_header(&jar)) {
        r.headers
            .insert("Cookie".to_string(), toml::Value::String(cookie));
    }
    r
}

/// Give each request of the trace the lesson's number for it (and its
/// name): the Nth `[[request]]` of the file is request N, whenever the web
/// server read it; the load's requests follow, in the order the client
/// sent them. The web server's `id` stays its own (the order it read the
/// request heads): with `at`, the two can differ.
fn number_requests(scenario: &Scenario, trace: &mut Trace, sent: &Sent) {
    // The web server's id of the request the client sent as `ordinal` on
    // its connection `conn` (the trace links the two).
    let sends: Vec<(u64, Option<Instance>, Option<u64>)> = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientRequestSend)
        .filter_map(|e| Some((e.request?, e.instance.clone(), e.ordinal)))
        .collect();
    let mut numbers: BTreeMap<u64, (u64, Option<String>)> = BTreeMap::new();
    for (&index, placed) in sent {
        let (conn, ordinal) = (placed.conn, placed.ordinal);
        let id = sends.iter().find(|(_, instance, o)| {
            *instance == Some(Instance::Client { conn }) && *o == Some(ordinal)
        });
        if let Some((id, _, _)) = id {
            let name = scenario
                .requests()
                .get(index - 1)
                .and_then(|r| r.get_ref().name.as_ref())
                .map(|n| n.get_ref().clone());
            numbers.insert(*id, (index as u64, name));
        }
    }
    let mut next = scenario.requests().len() as u64;
    for (id, _, _) in &sends {
        if !numbers.contains_key(id) {
            next += 1;
            numbers.insert(*id, (next, None));
        }
    }
    for r in &mut trace.requests {
        if let Some((number, name)) = numbers.get(&r.id) {
            r.lesson = Some(*number);
            r.name.clone_from(name);
        }
    }
}

/// Put each narration on the step it targets (in this variant, when it
/// names one); returns the narrations that found their step.
fn attach_narration(scenario: &Scenario, variant: Option<&str>, trace: &mut Trace) -> Vec<usize> {
    let mut used = Vec::new();
    for (i, n) in scenario.narration.iter().enumerate() {
        let n = n.get_ref();
        if let Some(only) = &n.variant
            && Some(only.get_ref().as_str()) != variant
        {
            continue;
        }
        let Some(target) = NarrationTarget::of(scenario, n, trace) else {
            continue;
        };
        let nth = n.nth.as_ref().map_or(1, |k| *k.get_ref()).max(1);
        let found = trace
            .events
            .iter_mut()
            .filter(|e| target.fits(e))
            .nth(usize::try_from(nth - 1).unwrap_or(usize::MAX));
        if let Some(e) = found {
            e.narration = Some(n.text.trim().to_string());
            used.push(i);
        }
    }
    used
}

/// What one narration's `step`, `layer`, `middleware` and `request`
/// select, resolved against one trace.
struct NarrationTarget {
    step: Option<StepId>,
    layer: Option<Layer>,
    middleware: Option<String>,
    /// The web server's id of the lesson's request it names.
    request: Option<u64>,
}

impl NarrationTarget {
    /// `None` when it names a request this run did not have.
    fn of(
        scenario: &Scenario,
        n: &super::format::Narration,
        trace: &Trace,
    ) -> Option<NarrationTarget> {
        let request = match n.request.as_ref().map(|r| r.get_ref()) {
            None => None,
            Some(r) => {
                let number = match r {
                    RequestRef::Number(k) => *k,
                    RequestRef::Name(name) => scenario.request_named(name)? as u64,
                };
                Some(trace.requests.iter().find(|s| s.lesson == Some(number))?.id)
            }
        };
        let middleware = n.middleware.as_ref().map(|m| m.get_ref().clone());
        let step = match &n.step {
            Some(s) => Some(StepId::parse(s.get_ref())?),
            None if middleware.is_some() => Some(StepId::FrameworkMiddlewareEnter),
            None => None,
        };
        let layer = match &n.layer {
            Some(l) => Some(Layer::parse(l.get_ref())?),
            None => None,
        };
        Some(NarrationTarget {
            step,
            layer,
            middleware,
            request,
        })
    }

    fn fits(&self, e: &crate::trace::Event) -> bool {
        self.step.is_none_or(|s| e.step == s)
            && self.layer.is_none_or(|l| e.layer == l)
            && self.request.is_none_or(|r| e.request == Some(r))
            && self.middleware.as_ref().is_none_or(|m| {
                e.data.iter().any(|d| match d {
                    Data::Fields { entries } => {
                        entries.iter().any(|(k, v)| k == "middleware" && v == m)
                    }
                    _ => false,
                })
            })
    }
}

fn check_expectations(scenario: &Scenario, trace: &Trace, sent: &Sent) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    for (i, spanned) in scenario.requests().iter().enumerate() {
        let index = i + 1;
        let r = spanned.get_ref();
        // The request the client sent as the `ordinal`th on its connection
        // `conn`: the trace linked that send to the web server's request.
        if let (
            Some(pin),
            Some(Placed {
                moved: Some(why), ..
            }),
        ) = (r.connection, sent.get(&index))
        {
            unmet.push(Unmet {
                request: Some(index),
                at: Some(spanned.span().start),
                variant: None,
                message: format!(
                    "was to go on `connection = {pin}`, but {why} (drop `connection`, or \
                     set the server to keep the connection open)"
                ),
            });
        }
        let Some(expect) = r.expect.as_ref().map(|e| e.get_ref()) else {
            continue;
        };
        let summary = sent.get(&index).and_then(|placed| {
            let sent = trace.events.iter().find(|e| {
                e.step == StepId::ClientRequestSend
                    && e.instance == Some(Instance::Client { conn: placed.conn })
                    && e.ordinal == Some(placed.ordinal)
            })?;
            let id = sent.request?;
            trace.requests.iter().find(|s| s.id == id)
        });
        let Some(summary) = summary else {
            unmet.push(Unmet {
                request: Some(index),
                at: Some(spanned.span().start),
                variant: None,
                message: "was never answered (the connection closed first?)".into(),
            });
            continue;
        };
        for (at, message) in super::expect::check(expect, summary, trace) {
            unmet.push(Unmet {
                request: Some(index),
                at: Some(at),
                variant: None,
                message,
            });
        }
    }
    unmet
}
