//! The app server's HTTP front: the same parser as the web server (not a
//! copy), with gunicorn's limits and gunicorn's answers to bad requests
//! (431 for headers, 400 for a long request line).
//!
//! The request id comes from the `X-Request-Id` header the web server adds;
//! it is how the app server's steps join the right request in the trace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Clock;
use crate::http::conn::ReadError;
use crate::http::framing::request_framing;
use crate::http::parse::parse_request_head;
use crate::http::server_timing;
use crate::http::{
    BodyFraming, HeadLimits, HttpConn, ParseError, Personality, RequestHead, ResponseHead, write,
};
use crate::net::{Accepted, Stream};
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{
    ConnState, Data, Decision, Direction, Failure, Hop, Instance, Kind, QueueChange, StateChange,
    StepId, Verdict, WorkerState,
};

/// What the app server puts in `Server`.
pub const SERVER_NAME: &str = "roundtrip-appserver";

/// Largest body the app server reads (the web server already enforced its
/// own, smaller limit).
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Shared by every connection of one app server.
pub struct Front {
    pub clock: Clock,
    /// The address the app server listens on (SERVER_NAME / SERVER_PORT).
    pub local: SocketAddr,
    /// Ids for requests that arrive without `X-Request-Id`.
    fallback_ids: AtomicU64,
    /// The app server's own numbering of the connections it accepts.
    next_conn: AtomicU64,
    /// Add this layer's time to a `Server-Timing` header.
    server_timing: bool,
}

/// One request read from the web server.
pub struct Incoming {
    pub id: u64,
    pub head: RequestHead,
    pub body: Vec<u8>,
    /// When the whole request had been read (for `Server-Timing`).
    pub received_at: tokio::time::Instant,
}

impl Front {
    pub fn new(clock: Clock, local: SocketAddr, server_timing: bool) -> Arc<Front> {
        Arc::new(Front {
            clock,
            local,
            fallback_ids: AtomicU64::new(1_000_000),
            next_conn: AtomicU64::new(1),
            server_timing,
        })
    }

    /// Record that `who` took a connection from the backlog; returns the
    /// app server's id for it. `busy` is the sync worker that now serves it
    /// (a worker is busy from `accept()` to close, reading included).
    pub fn accepted(
        &self,
        accepted: &Accepted,
        who: Instance,
        busy: Option<u64>,
        choice: Option<Decision>,
    ) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut step = Step::new(StepId::AppServerAccept, Direction::Down, Kind::Step)
            .instance(who.clone())
            .app_conn(id)
            .summary(format!(
                "{} accepts a connection from {} (app server connection {id})",
                who.label(),
                accepted.peer
            ))
            .state(StateChange::Backlog {
                change: QueueChange::Dequeue,
                len: accepted.backlog_len,
                capacity: accepted.backlog_capacity,
                peer: Some(accepted.peer.to_string()),
            })
            .state(StateChange::Connection {
                hop: Hop::Upstream,
                conn: id,
                state: ConnState::Open,
                local: Some(accepted.local.to_string()),
                peer: Some(accepted.peer.to_string()),
            });
        if let Some(choice) = choice {
            step = step.decision(choice);
        }
        if let Some(worker) = busy {
            step = step.state(StateChange::Worker {
                worker,
                state: WorkerState::Busy,
                request: None,
            });
        }
        step.emit();
        id
    }

    /// Record that the app server's side of connection `app_conn` closed.
    pub fn closed(&self, app_conn: u64, why: &str) {
        Step::state_only(
            StepId::AppServerConnectionClose,
            StateChange::Connection {
                hop: Hop::Upstream,
                conn: app_conn,
                state: ConnState::Closed,
                local: None,
                peer: None,
            },
        )
        .app_conn(app_conn)
        .summary(format!("closes app server connection {app_conn} ({why})"))
        .emit();
    }

    /// Read one request. `Ok(None)`: the peer closed or sent garbage (which
    /// was answered here); nothing more to do on this connection.
    /// `patience`: how long to wait for the whole head (gunicorn's worker
    /// `timeout`, uvicorn's `timeout_keep_alive`); a peer that sends nothing
    /// for that long loses the connection instead of pinning a worker.
    pub async fn read_request(
        &self,
        conn: &mut HttpConn<Stream>,
        patience: (&'static str, crate::units::Time),
    ) -> Result<Option<Incoming>, std::io::Error> {
        let limits = HeadLimits::GUNICORN;
        let (knob, limit) = patience;
        let read =
            tokio::time::timeout(limit.0, conn.read_head(|b| parse_request_head(b, &limits)));
        let (head, raw) = match read.await {
            Ok(Ok(ok)) => ok,
            Ok(Err(ReadError::Parse(e))) => {
                self.refuse(conn, &e).await?;
                return Ok(None);
            }
            Ok(Err(_)) => return Ok(None),
            Err(_) => {
                Step::new(
                    StepId::AppServerRequestTimeout,
                    Direction::Within,
                    Kind::Error,
                )
                .summary(format!(
                    "no complete request within {knob} {limit}: gives up the connection"
                ))
                .knob(knob, limit)
                .decision(
                    Decision::new(Verdict::Close)
                        .rule("a connection that sends no whole request in time is closed"),
                )
                .failure(Failure::TimedOut)
                .emit();
                return Ok(None);
            }
        };
        let id = head
            .headers
            .get("x-request-id")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| self.fallback_ids.fetch_add(1, Ordering::Relaxed));
        let body = match request_framing(&head) {
            Ok(BodyFraming::Empty) => Vec::new(),
            Ok(BodyFraming::Length(n)) => match conn.read_body_exact(n, None).await {
                Ok(b) => b,
                Err(_) => return Ok(None),
            },
            Ok(BodyFraming::Chunked) => match conn.read_body_chunked(MAX_BODY_BYTES, None).await {
                Ok((b, _)) => b,
                Err(_) => return Ok(None),
            },
            Err(e) => {
                let status = e.status();
                let body = error_body(status, &e.to_string());
                self.respond_error(conn, status, &body, id, &e.to_string(), None)
                    .await?;
                return Ok(None);
            }
        };
        let mut wire = raw;
        wire.extend_from_slice(&body);
        Step::new(StepId::AppServerRequestReceive, Direction::Down, Kind::Hop)
            .request(id)
            .summary(format!(
                "receives {} {} from the web server ({} bytes)",
                head.method,
                head.target,
                wire.len()
            ))
            .data(Data::Bytes {
                label: "from the web server".into(),
                bytes: show(&wire),
            })
            .emit();
        Ok(Some(Incoming {
            id,
            head,
            body,
            received_at: tokio::time::Instant::now(),
        }))
    }

    async fn refuse(&self, conn: &mut HttpConn<Stream>, e: &ParseError) -> std::io::Result<()> {
        let status = e.status(Personality::Gunicorn);
        let body = error_body(status, &e.to_string());
        // The head did not parse, but the web server's id is probably in it.
        let id = request_id_in(conn.buffered())
            .unwrap_or_else(|| self.fallback_ids.fetch_add(1, Ordering::Relaxed));
        // gunicorn's names for the limits (LAYERS_REFERENCE §4.2).
        let knob = match e {
            ParseError::RequestLineTooLong { limit } => Some(("limit_request_line", *limit)),
            ParseError::HeaderLineTooLong { limit } => Some(("limit_request_field_size", *limit)),
            ParseError::TooManyHeaders { limit } => Some(("limit_request_fields", *limit)),
            _ => None,
        };
        self.respond_error(conn, status, &body, id, &e.to_string(), knob)
            .await
    }

    async fn respond_error(
        &self,
        conn: &mut HttpConn<Stream>,
        status: u16,
        body: &[u8],
        id: u64,
        why: &str,
        knob: Option<(&str, usize)>,
    ) -> std::io::Result<()> {
        let mut step = Step::new(StepId::AppServerRequestRefuse, Direction::Up, Kind::Error)
            .request(id)
            .summary(format!("{why}: refuses the request with {status}"))
            .decision(Decision::new(Verdict::Refuse { status }).rule(why))
            .failure(Failure::Invalid)
            .answer(status);
        if let Some((name, value)) = knob {
            step = step.knob(name, value);
        }
        step.emit();
        let mut head = ResponseHead::new(status);
        head.headers.push("Content-Type", "text/html");
        head.headers.push("Content-Length", body.len().to_string());
        head.headers.push("Connection", "close");
        let mut bytes = write::response_head(&head);
        bytes.extend_from_slice(body);
        conn.write_all(&bytes).await
    }

    /// Write the app's response to the web server, recording the bytes.
    /// `Server` and `Date` are added here, as gunicorn and uvicorn do.
    pub async fn send_response(
        &self,
        conn: &mut HttpConn<Stream>,
        request: &RequestHead,
        mut head: ResponseHead,
        body: &[u8],
        keep_alive: bool,
        received_at: tokio::time::Instant,
    ) -> std::io::Result<()> {
        // PEP 3333 §3.3 / ASGI: hop-by-hop fields are the server's business.
        for name in [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "upgrade",
            "te",
            "trailer",
        ] {
            head.headers.remove(name);
        }
        head.headers.set("Server", SERVER_NAME);
        head.headers.set("Date", self.clock.http_date());
        if !head.headers.contains("content-length") && head.status != 204 && head.status != 304 {
            head.headers.push("Content-Length", body.len().to_string());
        }
        if !keep_alive {
            head.headers.push("Connection", "close");
        }
        if self.server_timing {
            head.headers.push(
                "Server-Timing",
                server_timing::metric("app", "app server", received_at.elapsed()),
            );
        }
        let mut bytes = write::response_head(&head);
        if request.method != "HEAD" {
            bytes.extend_from_slice(body);
        }
        Step::new(StepId::AppServerResponseSend, Direction::Up, Kind::Hop)
            .summary(format!(
                "sends {} {} back to the web server ({} bytes{})",
                head.status,
                head.reason,
                bytes.len(),
                if keep_alive { "" } else { ", then closes" }
            ))
            .data(Data::Bytes {
                label: "to the web server".into(),
                bytes: show(&bytes),
            })
            .emit();
        conn.write_all(&bytes).await
    }
}

/// Find `X-Request-Id: N` in raw head bytes that failed to parse.
fn request_id_in(raw: &[u8]) -> Option<u64> {
    raw.split(|&b| b == b'\n').find_map(|line| {
        let line = crate::http::headers::latin1(line);
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("x-request-id") {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}

/// A small HTML error page, like gunicorn's.
pub fn error_body(status: u16, detail: &str) -> Vec<u8> {
    let reason = crate::http::status::reason(status);
    format!(
        "<html><head><title>{reason}</title></head><body><h1>{status} {reason}</h1><p>{}</p></body></html>\n",
        escape_html(detail)
    )
    .into_bytes()
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
