//! The lesson's HTTP client: one connection to the web server, and the
//! exchange of one request for one response on it.
//!
//! ```text
//!   ClientConn::open ── client.connect
//!   exchange         ── client.request.send … client.response.receive
//!                       (or client.response.none when the connection closes)
//!   reconnect        ── client.reconnect (the server closed it: a new one)
//!   close            ── client.close
//! ```
//!
//! The written `[[request]]`s and the generated `[load]` both go through
//! these three calls, so a request sent by the load is recorded exactly as
//! one written by hand. The client writes the whole request, then reads
//! one whole response (head and body, framed as RFC 9112 §6.3 says) before
//! it sends the next on the same connection: no pipelining.
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::format::Request;
use crate::http::framing::response_framing;
use crate::http::parse::parse_response_head;
use crate::http::{HeadLimits, HttpConn, ResponseHead, write};
use crate::net::{MemoryDialer, Stream};
use crate::stack::LESSON_WEB_ADDR;
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{ConnState, Data, Direction, Hop, Instance, Kind, StateChange, StepId};

/// Host the lesson client asks for (RFC 2606 reserves example.com).
pub const LESSON_HOST: &str = "example.com";

/// Largest response body the client reads (a lesson's bodies are small;
/// this only keeps a broken length from filling memory).
pub const MAX_RESPONSE_BODY: u64 = 64 * 1024 * 1024;

/// The client's numbering of its connections, shared by every client of
/// a lesson: 1, 2, 3… in the order they dial.
pub type Dialed = Arc<AtomicU64>;

/// One request, ready to send: its bytes, its method (the framing of the
/// answer depends on it, RFC 9112 §6.3), and its request line for the
/// trace.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub method: String,
    pub line: String,
}

impl Prepared {
    pub fn new(r: &Request) -> Prepared {
        let bytes = request_bytes(r);
        let line = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or(&[]))
            .trim_end()
            .to_string();
        Prepared {
            bytes,
            method: r.method.get_ref().clone(),
            line,
        }
    }
}

/// How one exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// A whole response came back; `closes` when it said `Connection: close`.
    Answered { status: u16, closes: bool },
    /// The connection closed before a whole response arrived.
    NoResponse,
}

impl Exchange {
    /// Whether the connection can carry another request.
    pub fn reusable(self) -> bool {
        matches!(self, Exchange::Answered { closes: false, .. })
    }
}

/// One client connection to the web server.
pub struct ClientConn {
    conn: HttpConn<Stream>,
    /// The client's own number for it.
    pub id: u64,
    me: Instance,
    /// Requests sent on it so far.
    sent: u64,
    /// The `Set-Cookie` values of the last response, for the lesson's jar.
    pub set_cookies: Vec<String>,
    /// The body of the last response (a token a lesson keeps).
    pub body: Vec<u8>,
    /// The address it comes from, when not the lesson's default client's
    /// (a new connection after a close comes from the same one).
    from: Option<IpAddr>,
}

impl ClientConn {
    /// Dial the web server (recording `client.connect`) from `from`, or
    /// the lesson's client address; `None` when the stack is gone.
    pub async fn open(
        dialer: &MemoryDialer,
        dialed: &Dialed,
        from: Option<IpAddr>,
    ) -> Option<ClientConn> {
        // The client's own numbering, in the order it dials. The web server
        // numbers connections its own way; the trace links the two by the
        // address pair both ends record.
        let id = dialed.fetch_add(1, Ordering::Relaxed) + 1;
        let me = Instance::Client { conn: id };
        let (stream, local) = dialer.dial_as(from).await.ok()?;
        Step::new(StepId::ClientConnect, Direction::Within, Kind::Step)
            .instance(me.clone())
            .summary(format!(
                "opens client connection {id} from {local} to the web server at {LESSON_WEB_ADDR}"
            ))
            .state(StateChange::Connection {
                hop: Hop::Client,
                conn: id,
                state: ConnState::Open,
                local: Some(local.to_string()),
                peer: Some(LESSON_WEB_ADDR.to_string()),
            })
            .emit();
        Some(ClientConn {
            conn: HttpConn::new(Stream::Memory(stream)),
            id,
            me,
            sent: 0,
            set_cookies: Vec::new(),
            body: Vec::new(),
            from,
        })
    }

    /// Send one request and read its whole response, recording both.
    /// Returns the request's position on this connection (1, 2, …) and how
    /// it ended.
    pub async fn exchange(&mut self, request: &Prepared) -> (u64, Exchange) {
        self.sent += 1;
        self.set_cookies.clear();
        self.body.clear();
        let ordinal = self.sent;
        let id = self.id;
        Step::new(StepId::ClientRequestSend, Direction::Down, Kind::Hop)
            .instance(self.me.clone())
            .ordinal(ordinal)
            .summary(format!(
                "sends {} on connection {id} ({} bytes)",
                request.line,
                request.bytes.len()
            ))
            .data(Data::Bytes {
                label: "request".into(),
                bytes: show(&request.bytes),
            })
            .emit();
        let sent_at = Instant::now();
        // The server may refuse before reading everything (413): a failed
        // write is not the end, the answer may already be waiting.
        let _ = self.conn.write_all(&request.bytes).await;
        let outcome = match read_response(&mut self.conn, &request.method).await {
            Some((head, wire)) => {
                self.set_cookies = head
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                    .map(|(_, v)| v.to_string())
                    .collect();
                self.body = wire
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|at| wire[at + 4..].to_vec())
                    .unwrap_or_default();
                let took = sent_at.elapsed();
                let closes = head.headers.has_token("connection", "close");
                Step::new(StepId::ClientResponseReceive, Direction::Up, Kind::Hop)
                    .instance(self.me.clone())
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
                Exchange::Answered {
                    status: head.status,
                    closes,
                }
            }
            None => {
                Step::new(StepId::ClientResponseNone, Direction::Up, Kind::Error)
                    .instance(self.me.clone())
                    .ordinal(ordinal)
                    .summary("the connection was closed with no response")
                    .emit();
                Exchange::NoResponse
            }
        };
        (ordinal, outcome)
    }

    /// The server closed this connection (`why`) before request `index` of
    /// the lesson could use it: say so, close it, and open a new one.
    pub async fn reconnect(
        self,
        dialer: &MemoryDialer,
        dialed: &Dialed,
        why: &str,
        index: usize,
    ) -> Option<ClientConn> {
        let id = self.id;
        Step::new(StepId::ClientReconnect, Direction::Within, Kind::Step)
            .instance(self.me.clone())
            .summary(format!(
                "connection {id} can carry no more requests ({why}): request {index} of the \
                 lesson goes on a new connection"
            ))
            .emit();
        let from = self.from;
        self.close().await;
        ClientConn::open(dialer, dialed, from).await
    }

    /// Close the connection (recording `client.close`).
    pub async fn close(mut self) {
        let id = self.id;
        Step::new(StepId::ClientClose, Direction::Within, Kind::Step)
            .instance(self.me.clone())
            .state(StateChange::Connection {
                hop: Hop::Client,
                conn: id,
                state: ConnState::Closed,
                local: None,
                peer: None,
            })
            .summary(format!("closes connection {id}"))
            .emit();
        let _ = self.conn.shutdown().await;
    }
}

/// Methods a client may send again on its own when a reused connection
/// dies before the response (RFC 9110 §9.2.2).
pub fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

async fn read_response(
    conn: &mut HttpConn<Stream>,
    method: &str,
) -> Option<(ResponseHead, Vec<u8>)> {
    let limits = HeadLimits::NGINX;
    let (head, mut raw) = conn
        .read_head(|b| parse_response_head(b, &limits))
        .await
        .ok()?;
    let framing = response_framing(method, &head).ok()?;
    let body = conn
        .read_response_body(framing, MAX_RESPONSE_BODY, None)
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
        method: r.method.get_ref().clone(),
        target: r
            .path
            .as_ref()
            .map_or_else(|| "/".into(), |p| p.get_ref().clone()),
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
