//! The app server's HTTP front: the same parser as the web server (not a
//! copy), with the limits and the answers of the server the interface
//! stands for ([`HeadRules`]):
//!
//! * WSGI, gunicorn 27: `limit_request_line 4094` (414 over it),
//!   `limit_request_field_size 8190` and `limit_request_fields 100` (431).
//! * ASGI, uvicorn 0.54 on h11: no line or field-count limit, only h11's
//!   `h11_max_incomplete_event_size` (16 KiB) on a head that has not ended
//!   yet, and 400 "Invalid HTTP request received." for anything h11 cannot
//!   read.
//!
//! The request id comes from the `X-Request-Id` header the web server adds;
//! it is how the app server's steps join the right request in the trace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{AppServerConfig, Interface};
use crate::clock::Clock;
use crate::http::conn::{READ_CHUNK, ReadError};
use crate::http::framing::request_framing;
use crate::http::parse::parse_request_head;
use crate::http::server_timing;
use crate::http::{
    BodyFraming, FramingError, HeadLimits, HttpConn, ParseError, Personality, RequestHead,
    ResponseHead, write,
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

/// How one app server reads a request head and answers a head it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadRules {
    /// Whose answers: gunicorn's or uvicorn's.
    pub personality: Personality,
    pub limits: HeadLimits,
    /// Most bytes one read takes from the socket. h11's limit is checked
    /// after each read, so this decides which heads it sees incomplete.
    pub read_chunk: usize,
}

/// How much uvicorn's event loop reads at a time. asyncio's socket
/// transport reads up to 256 KiB (`selector_events.py`, `max_size`); 64
/// KiB here, as much as an in-memory pipe holds ([`crate::net::PIPE_BUFFER_BYTES`])
/// and more than any head the web server forwards (4 × 8k buffers), so a
/// head the web server writes at once is read at once, as uvicorn reads it.
pub const UVICORN_READ_CHUNK: usize = 64 * 1024;

/// The body of uvicorn's answer to a head h11 cannot read
/// (`protocols/http/h11_impl.py`, `send_400_response`).
pub const UVICORN_INVALID_REQUEST: &str = "Invalid HTTP request received.";

impl HeadRules {
    /// gunicorn 27 with its default settings (sync worker).
    pub const GUNICORN: HeadRules = HeadRules {
        personality: Personality::Gunicorn,
        limits: HeadLimits::GUNICORN,
        read_chunk: READ_CHUNK,
    };

    /// uvicorn 0.54 on h11 (`--http h11`, and `auto` without httptools),
    /// with its default settings.
    pub const UVICORN_H11: HeadRules = HeadRules {
        personality: Personality::Uvicorn,
        limits: HeadLimits::UVICORN_H11,
        read_chunk: UVICORN_READ_CHUNK,
    };

    /// The rules of the app server these settings describe: gunicorn's
    /// `limit_request_*`, or uvicorn's `h11_max_incomplete_event_size`.
    pub fn configured(config: &AppServerConfig) -> HeadRules {
        let mut rules = HeadRules::of(config.interface);
        match config.interface {
            Interface::Wsgi => {
                rules.limits = HeadLimits::gunicorn(
                    config.limit_request_line,
                    config.limit_request_field_size,
                    config.limit_request_fields,
                );
            }
            Interface::Asgi => {
                rules.limits.max_incomplete_head = Some(config.h11_max_incomplete_event_size);
            }
        }
        rules
    }

    /// The rules of the server that stands for this interface.
    pub fn of(interface: Interface) -> HeadRules {
        match interface {
            Interface::Wsgi => HeadRules::GUNICORN,
            Interface::Asgi => HeadRules::UVICORN_H11,
        }
    }

    /// The setting that decided a refusal, by the server's own name.
    fn knob(&self, e: &ParseError) -> Option<(&'static str, usize)> {
        match (self.personality, e) {
            (Personality::Uvicorn, ParseError::IncompleteHeadTooLarge { limit }) => {
                Some(("h11_max_incomplete_event_size", *limit))
            }
            (Personality::Gunicorn, ParseError::RequestLineTooLong { limit }) => {
                Some(("limit_request_line", limit.bytes))
            }
            (Personality::Gunicorn, ParseError::HeaderLineTooLong { limit }) => {
                Some(("limit_request_field_size", limit.bytes))
            }
            (Personality::Gunicorn, ParseError::TooManyHeaders { limit }) => {
                Some(("limit_request_fields", *limit))
            }
            _ => None,
        }
    }

    /// The status for a body whose framing is refused.
    fn framing_status(&self, e: &FramingError) -> u16 {
        match (self.personality, e) {
            // h11 refuses any Transfer-Encoding but chunked with a
            // LocalProtocolError, which uvicorn answers as every other: 400.
            (Personality::Uvicorn, _) => 400,
            // gunicorn 27.0.0 release notes: "Reject with 400 a request
            // whose Transfer-Encoding does not end with chunked, such as
            // gzip or identity alone" (RFC 9112 §6.3); 501 before.
            (Personality::Gunicorn, FramingError::UnsupportedCoding(_)) => 400,
            _ => e.status(),
        }
    }

    /// The bytes of a refusal with `status`, `detail` saying why.
    fn refusal(&self, status: u16, detail: &str) -> Vec<u8> {
        match self.personality {
            Personality::Uvicorn => {
                // uvicorn sends content-type and connection: close; h11
                // replaces the latter with its own `Connection: close` and,
                // with no length given, ends the body by closing.
                let mut head = ResponseHead::new(400);
                head.headers
                    .push("content-type", "text/plain; charset=utf-8");
                head.headers.push("Connection", "close");
                let mut bytes = write::response_head(&head);
                bytes.extend_from_slice(UVICORN_INVALID_REQUEST.as_bytes());
                bytes
            }
            _ => {
                let body = error_body(status, detail);
                let mut head = ResponseHead::new(status);
                head.headers.push("Content-Type", "text/html");
                head.headers.push("Content-Length", body.len().to_string());
                head.headers.push("Connection", "close");
                let mut bytes = write::response_head(&head);
                bytes.extend_from_slice(&body);
                bytes
            }
        }
    }
}

/// Shared by every connection of one app server.
/// What happens to the app server's connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// It stays open for the next request.
    No,
    /// It closes, and the head says so (`Connection: close`).
    Announced,
    /// It closes, and the head says nothing (uvicorn after an exception
    /// in a started response: `transport.close()` only).
    Silently,
}

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
    /// How heads are read and refused.
    rules: HeadRules,
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
    pub fn new(
        clock: Clock,
        local: SocketAddr,
        server_timing: bool,
        interface: Interface,
    ) -> Arc<Front> {
        Front::with_rules(clock, local, server_timing, HeadRules::of(interface))
    }

    /// An app server's front that reads heads as `config` says.
    pub fn configured(clock: Clock, local: SocketAddr, config: &AppServerConfig) -> Arc<Front> {
        Front::with_rules(
            clock,
            local,
            config.server_timing,
            HeadRules::configured(config),
        )
    }

    fn with_rules(
        clock: Clock,
        local: SocketAddr,
        server_timing: bool,
        rules: HeadRules,
    ) -> Arc<Front> {
        Arc::new(Front {
            clock,
            local,
            fallback_ids: AtomicU64::new(1_000_000),
            next_conn: AtomicU64::new(1),
            server_timing,
            rules,
        })
    }

    /// A connection accepted by this app server, reading as it reads.
    pub fn conn(&self, stream: Stream) -> HttpConn<Stream> {
        HttpConn::with_read_chunk(stream, self.rules.read_chunk)
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
                replaced_by: None,
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
    /// `patience`: how long to wait for the whole head (uvicorn's
    /// `timeout_keep_alive`); a peer that sends nothing for that long loses
    /// the connection instead of pinning the server. None: no patience of
    /// its own. A gunicorn sync worker reads with a blocking socket and no
    /// timeout (`client.setblocking(1)`, `workers/sync.py`): what bounds
    /// its read is the arbiter's `timeout`, which the caller applies to
    /// the read and the app call together.
    pub async fn read_request(
        &self,
        conn: &mut HttpConn<Stream>,
        patience: Option<(&'static str, crate::units::Time)>,
    ) -> Result<Option<Incoming>, std::io::Error> {
        let limits: HeadLimits = self.rules.limits;
        let (knob, limit) = patience.unwrap_or(("", crate::units::Time(std::time::Duration::MAX)));
        let head = conn.read_head(|b| parse_request_head(b, &limits));
        let read = match patience {
            Some(_) => tokio::time::timeout(limit.0, head).await,
            None => Ok(head.await),
        };
        let (head, raw) = match read {
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
            // The body is read whole before the app is called (gunicorn
            // streams wsgi.input instead), so its size is bounded here.
            Ok(BodyFraming::Length(n)) if n > MAX_BODY_BYTES => {
                let why = format!(
                    "a {n}-byte body is over the {MAX_BODY_BYTES} bytes this app server holds in memory"
                );
                self.respond_error(conn, 413, Some(id), &why, None).await?;
                return Ok(None);
            }
            Ok(BodyFraming::Length(n)) => match conn.read_body_exact(n, None).await {
                Ok(b) => b,
                Err(_) => return Ok(None),
            },
            Ok(BodyFraming::Chunked) => match conn.read_body_chunked(MAX_BODY_BYTES, None).await {
                Ok((b, _)) => b,
                Err(_) => return Ok(None),
            },
            Err(e) => {
                let status = self.rules.framing_status(&e);
                self.respond_error(conn, status, Some(id), &e.to_string(), None)
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
        let status = e.status(self.rules.personality);
        // The head did not parse, but the web server's id may be in what
        // arrived. If it is not (a request line over the limit ends the
        // read before the headers came), the refusal names no request:
        // the trace links it to the request the proxy sent on this
        // connection (trace/assemble.rs).
        let id = request_id_in(conn.buffered());
        let knob = self.rules.knob(e);
        self.respond_error(conn, status, id, &e.to_string(), knob)
            .await
    }

    async fn respond_error(
        &self,
        conn: &mut HttpConn<Stream>,
        status: u16,
        id: Option<u64>,
        why: &str,
        knob: Option<(&str, usize)>,
    ) -> std::io::Result<()> {
        let mut step = Step::new(StepId::AppServerRequestRefuse, Direction::Up, Kind::Error)
            .summary(format!("{why}: refuses the request with {status}"))
            .decision(Decision::new(Verdict::Refuse { status }).rule(why))
            .failure(Failure::Invalid)
            .answer(status);
        if let Some(id) = id {
            step = step.request(id);
        }
        if let Some((name, value)) = knob {
            step = step.knob(name, value);
        }
        step.emit();
        let bytes = self.rules.refusal(status, why);
        conn.write_all(&bytes).await
    }

    /// Write the app's response to the web server, recording the bytes.
    /// `Server` and `Date` are added here, as gunicorn and uvicorn do.
    pub async fn send_response(
        &self,
        conn: &mut HttpConn<Stream>,
        request: &RequestHead,
        head: ResponseHead,
        body: &[u8],
        keep_alive: bool,
        received_at: tokio::time::Instant,
    ) -> std::io::Result<()> {
        let close = if keep_alive {
            Close::No
        } else {
            Close::Announced
        };
        self.send_response_then(conn, request, head, body, close, received_at)
            .await
    }

    /// uvicorn's own 500 (`send_500_response`), written as h11 writes it:
    /// the default headers (`date`, `server`), `content-type: text/plain;
    /// charset=utf-8` and `connection: close`, and no `content-length`,
    /// so h11 frames the body with `transfer-encoding: chunked` for an
    /// HTTP/1.1 peer (and with the close alone for HTTP/1.0). The
    /// connection closes after it.
    pub async fn send_uvicorn_500(
        &self,
        conn: &mut HttpConn<Stream>,
        request: &RequestHead,
        received_at: tokio::time::Instant,
    ) -> std::io::Result<()> {
        const BODY: &[u8] = b"Internal Server Error";
        let mut head = ResponseHead::new(500);
        head.headers.push("date", self.clock.http_date());
        head.headers.push("server", SERVER_NAME);
        head.headers
            .push("content-type", "text/plain; charset=utf-8");
        head.headers.push("connection", "close");
        if self.server_timing {
            head.headers.push(
                "Server-Timing",
                server_timing::metric("app", "app server", received_at.elapsed()),
            );
        }
        let chunked = request.version != crate::http::Version::Http10;
        if chunked {
            head.headers.push("transfer-encoding", "chunked");
        }
        let mut bytes = write::response_head(&head);
        if request.method != "HEAD" {
            if chunked {
                bytes.extend_from_slice(format!("{:x}\r\n", BODY.len()).as_bytes());
                bytes.extend_from_slice(BODY);
                bytes.extend_from_slice(b"\r\n0\r\n\r\n");
            } else {
                bytes.extend_from_slice(BODY);
            }
        }
        Step::new(StepId::AppServerResponseSend, Direction::Up, Kind::Hop)
            .summary(format!(
                "sends uvicorn's own 500 Internal Server Error back to the web server ({} bytes{}), then closes",
                bytes.len(),
                if chunked { ", chunked" } else { "" }
            ))
            .data(Data::Bytes {
                label: "to the web server".into(),
                bytes: show(&bytes),
            })
            .emit();
        conn.write_all(&bytes).await
    }

    /// Send a response, then keep the connection or close it as `close`
    /// says.
    pub async fn send_response_then(
        &self,
        conn: &mut HttpConn<Stream>,
        request: &RequestHead,
        mut head: ResponseHead,
        body: &[u8],
        close: Close,
        received_at: tokio::time::Instant,
    ) -> std::io::Result<()> {
        let keep_alive = close == Close::No;
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
        if close == Close::Announced {
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

/// Find `X-Request-Id: N` in raw head bytes that failed to parse. Only
/// whole lines count: the last one may have been cut in the middle of
/// its number.
fn request_id_in(raw: &[u8]) -> Option<u64> {
    raw.split_inclusive(|&b| b == b'\n')
        .filter(|line| line.ends_with(b"\n"))
        .find_map(|line| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Event;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const APP: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

    /// What an app server of `interface` does with `parts`, written one
    /// after another: the request it read (if any), the bytes it answered
    /// and the events it recorded.
    async fn read_one(interface: Interface, parts: &[&[u8]]) -> (bool, Vec<u8>, Vec<Event>) {
        let (_guard, recording) = crate::trace::recorder::record_on_this_thread();
        let front = Front::new(Clock::starting_at(0), APP, false, interface);
        let (mut proxy, app) = tokio::io::duplex(crate::net::PIPE_BUFFER_BYTES);
        let mut conn = front.conn(Stream::Memory(app));
        let write = async {
            for part in parts {
                proxy
                    .write_all(part)
                    .await
                    .expect("write to the app server");
                // Let the app server read this part before the next.
                tokio::task::yield_now().await;
            }
            proxy
        };
        let patience = Some(("timeout", crate::units::Time::secs(30)));
        let (mut proxy, read) = tokio::join!(write, front.read_request(&mut conn, patience));
        let read = matches!(read, Ok(Some(_)));
        drop(conn);
        let mut answer = Vec::new();
        proxy
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        (read, answer, recording.take())
    }

    fn refusal(events: &[Event]) -> &Event {
        events
            .iter()
            .find(|e| e.step == StepId::AppServerRequestRefuse)
            .expect("a refusal step")
    }

    fn knob(e: &Event) -> Option<(&str, &str)> {
        e.knob.as_ref().map(|k| (k.name.as_str(), k.value.as_str()))
    }

    /// A head with `pad` bytes of one header, from the web server.
    fn head_with(pad: usize) -> Vec<u8> {
        let mut head =
            b"GET /notes HTTP/1.1\r\nHost: example.com\r\nX-Request-Id: 7\r\nX-Pad: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', pad));
        head.extend(b"\r\n\r\n");
        head
    }

    #[tokio::test]
    async fn asgi_refuses_a_head_still_incomplete_past_h11s_limit_as_uvicorn_does() {
        let head = head_with(20_000);
        let (read, answer, events) =
            read_one(Interface::Asgi, &[&head[..17_000], &head[17_000..]]).await;
        assert!(!read);
        assert_eq!(
            String::from_utf8_lossy(&answer),
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             Connection: close\r\n\r\nInvalid HTTP request received."
        );
        let refused = refusal(&events);
        assert_eq!(refused.answer, Some(400));
        assert_eq!(
            knob(refused),
            Some(("h11_max_incomplete_event_size", "16384"))
        );
        assert_eq!(refused.request, Some(7));
    }

    #[tokio::test]
    async fn asgi_reads_a_head_of_any_size_that_arrives_whole_and_has_no_gunicorn_limits() {
        // 20 KB of header line, a 9000-byte request line, 120 fields: all
        // beyond gunicorn's limits, none of them uvicorn's.
        let mut long_line = b"GET /notes?p=".to_vec();
        long_line.extend(std::iter::repeat_n(b'a', 9000));
        long_line.extend(b" HTTP/1.1\r\nHost: example.com\r\n\r\n");
        let mut many = b"GET /notes HTTP/1.1\r\nHost: example.com\r\n".to_vec();
        for i in 0..120 {
            many.extend(format!("X-Field-{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        for head in [head_with(20_000), long_line, many] {
            let (read, answer, events) = read_one(Interface::Asgi, &[&head]).await;
            assert!(read, "{}", String::from_utf8_lossy(&answer));
            assert!(
                !events
                    .iter()
                    .any(|e| e.step == StepId::AppServerRequestRefuse)
            );
        }
    }

    #[tokio::test]
    async fn wsgi_answers_414_to_a_request_line_over_limit_request_line() {
        let mut head = b"GET /notes?p=".to_vec();
        head.extend(std::iter::repeat_n(b'a', 5000));
        head.extend(b" HTTP/1.1\r\nHost: example.com\r\nX-Request-Id: 3\r\n\r\n");
        let (read, answer, events) = read_one(Interface::Wsgi, &[&head]).await;
        assert!(!read);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{answer}"
        );
        let refused = refusal(&events);
        assert_eq!(knob(refused), Some(("limit_request_line", "4094")));
        assert_eq!(refused.request, Some(3));
    }

    #[tokio::test]
    async fn wsgi_answers_431_from_an_8191_byte_header_line_with_its_crlf() {
        // "X-Pad: " + pad + CRLF = 8191 bytes.
        let head = head_with(8191 - "X-Pad: ".len() - 2);
        let (read, answer, events) = read_one(Interface::Wsgi, &[&head]).await;
        assert!(!read);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
        assert_eq!(
            knob(refusal(&events)),
            Some(("limit_request_field_size", "8190"))
        );
        // One byte less is within the limit.
        let head = head_with(8190 - "X-Pad: ".len() - 2);
        assert!(read_one(Interface::Wsgi, &[&head]).await.0);
    }

    #[test]
    fn a_request_id_cut_by_the_end_of_the_read_is_not_taken() {
        assert_eq!(request_id_in(b"GET /\r\nX-Request-Id: 15\r\n"), Some(15));
        assert_eq!(request_id_in(b"GET /\r\nX-Request-Id: 1"), None);
    }

    #[tokio::test]
    async fn a_refusal_before_the_request_id_arrived_names_no_request() {
        // The request line alone is over the limit: the worker refuses
        // before the headers, and the X-Request-Id in them, are read.
        let mut head = b"GET /notes?p=".to_vec();
        head.extend(std::iter::repeat_n(b'a', 8100));
        head.extend(b" HTTP/1.1\r\n");
        let (_, _, events) = read_one(Interface::Wsgi, &[&head]).await;
        assert_eq!(refusal(&events).request, None);
    }
}
