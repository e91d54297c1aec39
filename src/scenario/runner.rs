//! The lesson runner: the client side of a lesson.
//!
//! It builds the lesson's stack over in-memory pipes on a current-thread
//! tokio runtime whose clock is paused, then plays the client: opens
//! connections, writes the real request bytes at the times the lesson
//! says, reads the responses. Simulated time moves only when every task is
//! waiting, so a lesson that "takes" a minute finishes in milliseconds and
//! records the same trace on every run.
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::Lesson;
use super::format::{Request, Scenario};
use crate::clock::{Clock, LESSON_EPOCH_SECS};
use crate::http::conn::ReadError;
use crate::http::framing::response_framing;
use crate::http::parse::parse_response_head;
use crate::http::{HeadLimits, HttpConn, write};
use crate::net::{MemoryDialer, Stream};
use crate::stack::{self, LESSON_WEB_ADDR, StackError};
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{
    ConnState, Data, Direction, Hop, Instance, Kind, Layer, Meta, StateChange, StepId, Trace,
    assemble,
};

/// Longest a lesson may run, in simulated time, before it is called stuck.
pub const MAX_LESSON_TIME: Duration = Duration::from_secs(3600);

/// Host the lesson client asks for (RFC 2606 reserves example.com).
pub const LESSON_HOST: &str = "example.com";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("could not start the lesson's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the lesson did not finish within {0:?} of simulated time")]
    Stuck(Duration),
}

/// A request whose outcome was not what the lesson expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// 1-based index of the `[[request]]` in the file.
    pub request: usize,
    pub message: String,
}

/// A finished lesson: its trace, and any expectation or narration it missed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub trace: Trace,
    pub unmet: Vec<Unmet>,
    /// Narration entries (by index) that matched no step.
    pub unused_narration: Vec<usize>,
}

/// Run a lesson to completion.
pub fn run(lesson: &Lesson) -> Result<Outcome, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(run_async(lesson))
}

async fn run_async(lesson: &Lesson) -> Result<Outcome, RunError> {
    let scenario = &lesson.scenario;
    let (_guard, recording) = crate::trace::recorder::record_on_this_thread();

    let clock = Clock::starting_at(LESSON_EPOCH_SECS);
    let (dialer, running) = stack::start_in_memory(&scenario.stack, clock)?;
    let start = Instant::now();
    let results = tokio::time::timeout(MAX_LESSON_TIME, play_client(scenario, dialer, start)).await;
    let sent = results.map_err(|_| RunError::Stuck(MAX_LESSON_TIME))?;
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
        config: serde_json::to_value(&scenario.stack).unwrap_or_default(),
    };
    let mut trace = assemble(meta, stack::layers(&scenario.stack), recording.take());
    let unused_narration = attach_narration(scenario, &mut trace);
    let unmet = check_expectations(scenario, &trace, &sent);
    Ok(Outcome {
        trace,
        unmet,
        unused_narration,
    })
}

/// Where each `[[request]]` went: (the client's connection number, position on it).
type Sent = BTreeMap<usize, (u64, u64)>;

async fn play_client(scenario: &Scenario, dialer: MemoryDialer, start: Instant) -> Sent {
    // Group requests by connection, keeping file order.
    let mut conns: Vec<(u64, Vec<(usize, Request)>)> = Vec::new();
    for (i, r) in scenario.request.get_ref().iter().enumerate() {
        let key = r.connection.unwrap_or(1_000_000 + i as u64);
        match conns.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push((i + 1, r.clone())),
            None => conns.push((key, vec![(i + 1, r.clone())])),
        }
    }
    let dialed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (_, requests) in conns {
        let dialer = dialer.clone();
        let dialed = dialed.clone();
        tasks.spawn(client_connection(dialer, dialed, requests, start));
    }
    drop(dialer);
    let mut sent = Sent::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(list) = done {
            sent.extend(list);
        }
    }
    sent
}

async fn client_connection(
    dialer: MemoryDialer,
    dialed: Arc<AtomicU64>,
    requests: Vec<(usize, Request)>,
    start: Instant,
) -> Vec<(usize, (u64, u64))> {
    let mut sent = Vec::new();
    let first_at = requests
        .first()
        .and_then(|(_, r)| r.at)
        .map(|t| t.0)
        .unwrap_or_default();
    tokio::time::sleep_until(start + first_at).await;
    // The client's own numbering, in the order it dials. The web server
    // numbers connections its own way; the trace links the two by the
    // address pair both ends record.
    let conn_id = dialed.fetch_add(1, Ordering::Relaxed) + 1;
    let me = Instance::Client { conn: conn_id };
    let (stream, local) = match dialer.dial().await {
        Ok(s) => s,
        Err(_) => return sent,
    };
    drop(dialer);
    Step::new(StepId::ClientConnect, Direction::Within, Kind::Step)
        .instance(me.clone())
        .summary(format!(
            "opens client connection {conn_id} from {local} to the web server at {LESSON_WEB_ADDR}"
        ))
        .state(StateChange::Connection {
            hop: Hop::Client,
            conn: conn_id,
            state: ConnState::Open,
            local: Some(local.to_string()),
            peer: Some(LESSON_WEB_ADDR.to_string()),
        })
        .emit();
    let mut conn = HttpConn::new(Stream::Memory(stream));
    for (ordinal, (index, r)) in (1u64..).zip(requests) {
        if let Some(at) = r.at {
            tokio::time::sleep_until(start + at.0).await;
        }
        let bytes = request_bytes(&r);
        let line = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or(&[]))
            .trim_end()
            .to_string();
        Step::new(StepId::ClientRequestSend, Direction::Down, Kind::Hop)
            .instance(me.clone())
            .ordinal(ordinal)
            .summary(format!(
                "sends {line} on connection {conn_id} ({} bytes)",
                bytes.len()
            ))
            .data(Data::Bytes {
                label: "request".into(),
                bytes: show(&bytes),
            })
            .emit();
        sent.push((index, (conn_id, ordinal)));
        let sent_at = Instant::now();
        // The server may refuse before reading everything (413): a failed
        // write is not the end, the answer may already be waiting.
        let _ = conn.write_all(&bytes).await;
        let method = r.method.clone();
        match read_response(&mut conn, &method).await {
            Some((head, wire)) => {
                let took = sent_at.elapsed();
                let closes = head.headers.has_token("connection", "close");
                Step::new(StepId::ClientResponseReceive, Direction::Up, Kind::Hop)
                    .instance(me.clone())
                    .ordinal(ordinal)
                    .summary(format!(
                        "receives {} {} ({} bytes) {:.3} ms after sending",
                        head.status,
                        head.reason,
                        wire.len(),
                        took.as_secs_f64() * 1000.0
                    ))
                    .data(Data::Bytes {
                        label: "response".into(),
                        bytes: show(&wire),
                    })
                    .data(crate::server::show::response_head(&head))
                    .emit();
                if closes {
                    break;
                }
            }
            None => {
                Step::new(StepId::ClientResponseNone, Direction::Up, Kind::Error)
                    .instance(me.clone())
                    .ordinal(ordinal)
                    .summary("the connection was closed with no response")
                    .emit();
                break;
            }
        }
    }
    Step::new(StepId::ClientClose, Direction::Within, Kind::Step)
        .instance(me.clone())
        .state(StateChange::Connection {
            hop: Hop::Client,
            conn: conn_id,
            state: ConnState::Closed,
            local: None,
            peer: None,
        })
        .summary(format!("closes connection {conn_id}"))
        .emit();
    let _ = conn.shutdown().await;
    sent
}

async fn read_response(
    conn: &mut HttpConn<Stream>,
    method: &str,
) -> Option<(crate::http::ResponseHead, Vec<u8>)> {
    let limits = HeadLimits::NGINX;
    let (head, mut raw) = match conn.read_head(|b| parse_response_head(b, &limits)).await {
        Ok(ok) => ok,
        Err(ReadError::Parse(_)) | Err(_) => return None,
    };
    let framing = response_framing(method, &head).ok()?;
    let body = conn
        .read_response_body(framing, 64 * 1024 * 1024, None)
        .await
        .ok()?;
    raw.extend_from_slice(&body);
    Some((head, raw))
}

/// The bytes the client writes for one `[[request]]`.
pub fn request_bytes(r: &Request) -> Vec<u8> {
    if let Some(raw) = &r.raw {
        return raw.as_bytes().to_vec();
    }
    let body: Vec<u8> = if let Some(b) = &r.body {
        b.as_bytes().to_vec()
    } else if let Some(j) = &r.json {
        serde_json::to_vec(j).unwrap_or_default()
    } else if let Some(size) = r.body_size {
        vec![b'x'; usize::try_from(size.0).unwrap_or(0)]
    } else {
        Vec::new()
    };
    let given = |name: &str| r.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    let mut head = crate::http::RequestHead {
        method: r.method.clone(),
        target: r.path.clone().unwrap_or_else(|| "/".into()),
        version: if r.version.get_ref() == "HTTP/1.0" {
            crate::http::Version::Http10
        } else {
            crate::http::Version::Http11
        },
        headers: crate::http::Headers::new(),
    };
    if !given("host") {
        head.headers.push("Host", LESSON_HOST);
    }
    if !given("user-agent") {
        head.headers.push(
            "User-Agent",
            concat!("roundtrip-lesson/", env!("CARGO_PKG_VERSION")),
        );
    }
    if !given("accept") {
        head.headers.push("Accept", "*/*");
    }
    for (name, value) in &r.headers {
        let v = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        head.headers.push(name.clone(), v);
    }
    if r.json.is_some() && !given("content-type") {
        head.headers.push("Content-Type", "application/json");
    }
    if r.chunked {
        if !given("transfer-encoding") {
            head.headers.push("Transfer-Encoding", "chunked");
        }
    } else if !body.is_empty() && !given("content-length") {
        head.headers.push("Content-Length", body.len().to_string());
    }
    if r.close && !given("connection") {
        head.headers.push("Connection", "close");
    }
    let mut bytes = write::request_head(&head);
    if r.chunked {
        bytes.extend_from_slice(&crate::http::chunked::encode(&body));
    } else {
        bytes.extend_from_slice(&body);
    }
    bytes
}

fn attach_narration(scenario: &Scenario, trace: &mut Trace) -> Vec<usize> {
    let mut unused = Vec::new();
    for (i, n) in scenario.narration.iter().enumerate() {
        let found = trace.events.iter_mut().find(|e| {
            e.step.as_str() == n.step.get_ref() && n.request.is_none_or(|r| e.request == Some(r))
        });
        match found {
            Some(e) => e.narration = Some(n.text.trim().to_string()),
            None => unused.push(i),
        }
    }
    unused
}

fn check_expectations(scenario: &Scenario, trace: &Trace, sent: &Sent) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    for (i, r) in scenario.request.get_ref().iter().enumerate() {
        let index = i + 1;
        let Some(expect) = &r.expect else { continue };
        // The request the client sent as the `ordinal`th on its connection
        // `conn`: the trace linked that send to the web server's request.
        let summary = sent.get(&index).and_then(|(conn, ordinal)| {
            let sent = trace.events.iter().find(|e| {
                e.step == StepId::ClientRequestSend
                    && e.instance == Some(Instance::Client { conn: *conn })
                    && e.ordinal == Some(*ordinal)
            })?;
            let id = sent.request?;
            trace.requests.iter().find(|s| s.id == id)
        });
        let Some(summary) = summary else {
            unmet.push(Unmet {
                request: index,
                message: "was never answered (the connection closed first?)".into(),
            });
            continue;
        };
        if let Some(status) = expect.status
            && summary.status != Some(status)
        {
            unmet.push(Unmet {
                request: index,
                message: format!(
                    "expected status {status}, got {}",
                    summary.status.map_or("none".to_string(), |s| s.to_string())
                ),
            });
        }
        if let Some(layer) = &expect.answered_by {
            let want = Layer::parse(layer.get_ref());
            if want != summary.answered_by {
                unmet.push(Unmet {
                    request: index,
                    message: format!(
                        "expected to be answered by the {}, but the {} answered",
                        layer.get_ref(),
                        summary.answered_by.map_or("nobody", |l| l.label())
                    ),
                });
            }
        }
    }
    unmet
}
