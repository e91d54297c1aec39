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

use std::time::Duration;

use tokio::time::Instant;

use super::format::Request;
use super::tls_client::{self, HelloKind};
use crate::http::framing::response_framing;
use crate::http::parse::parse_response_head;
use crate::http::{HeadLimits, HttpConn, ResponseHead, write};
use crate::net::{MemoryDialer, Stream};
use crate::stack::{Dialers, LESSON_WEB_ADDR, LESSON_WEB_TLS_ADDR};
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
    /// The client's own timeout, from its first byte sent.
    pub timeout: Option<Duration>,
    /// Bytes of body per second, when the upload is slow.
    pub upload_rate: Option<u64>,
    /// Bytes of head per second, when the head is slow.
    pub head_rate: Option<u64>,
    /// Stop reading the response after this many bytes, for this long.
    pub stop_reading: Option<(u64, Duration)>,
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
            timeout: r.timeout.as_ref().map(|t| t.get_ref().0),
            upload_rate: r.upload_rate.as_ref().map(|u| u.get_ref().per_second()),
            head_rate: r.head_rate.as_ref().map(|u| u.get_ref().per_second()),
            stop_reading: r.stop_reading.as_ref().map(|s| {
                let s = s.get_ref();
                (s.after.0, s.pause.0)
            }),
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
    /// The client's own timeout ran out first: it closed the connection.
    GaveUp,
    /// The connection closed in the middle of the response's body.
    Truncated,
}

impl Exchange {
    /// Whether the connection can carry another request.
    pub fn reusable(self) -> bool {
        matches!(self, Exchange::Answered { closes: false, .. })
    }
}

/// How a connection of written requests starts: which port, and over
/// TLS how (from its first request's `scheme`, `sni` and `tls_hello`).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// The client address to come from (`from`), or the lesson's default.
    pub from: Option<IpAddr>,
    pub https: bool,
    pub sni: Option<String>,
    pub hello: Option<HelloKind>,
}

impl Connect {
    pub fn of(r: &Request) -> Connect {
        Connect {
            from: r.from,
            https: r.scheme.as_ref().is_some_and(|s| s.get_ref() == "https"),
            sni: r.sni.clone(),
            hello: r
                .tls_hello
                .as_ref()
                .and_then(|h| HelloKind::parse(h.get_ref())),
        }
    }
}

/// One client connection to the web server.
pub struct ClientConn {
    /// `None` when a TLS handshake failed: nothing can be sent on it.
    conn: Option<HttpConn<Stream>>,
    /// The client's own number for it.
    pub id: u64,
    me: Instance,
    /// Requests sent on it so far.
    sent: u64,
    /// The `Set-Cookie` values of the last response, for the lesson's jar.
    pub set_cookies: Vec<String>,
    /// The body of the last response (a token a lesson keeps).
    pub body: Vec<u8>,
    /// Already closed (the client gave up on it).
    closed: bool,
    /// The header fields of the last response (a websocket handshake's
    /// accept key is read from them).
    last_headers: Vec<(String, String)>,
}

impl ClientConn {
    /// Dial the web server (recording `client.connect`) from `from`, or
    /// the lesson's client address; `None` when the stack is gone.
    pub async fn open(
        dialer: &MemoryDialer,
        dialed: &Dialed,
        from: Option<IpAddr>,
    ) -> Option<ClientConn> {
        let how = Connect {
            from,
            ..Connect::default()
        };
        ClientConn::dial(dialer, None, &how, dialed).await
    }

    /// Dial the port `how` says, and over TLS do the handshake.
    pub async fn open_to(to: &(Dialers, Connect), dialed: &Dialed) -> Option<ClientConn> {
        let (dialers, how) = to;
        match (&dialers.https, how.https) {
            (Some((dialer, tls)), true) => ClientConn::dial(dialer, Some(tls), how, dialed).await,
            _ => ClientConn::dial(&dialers.http, None, how, dialed).await,
        }
    }

    async fn dial(
        dialer: &MemoryDialer,
        tls: Option<&Arc<rustls::ClientConfig>>,
        how: &Connect,
        dialed: &Dialed,
    ) -> Option<ClientConn> {
        // The client's own numbering, in the order it dials. The web server
        // numbers connections its own way; the trace links the two by the
        // address pair both ends record.
        let id = dialed.fetch_add(1, Ordering::Relaxed) + 1;
        let me = Instance::Client { conn: id };
        let (stream, local) = dialer.dial_as(how.from).await.ok()?;
        let server = if tls.is_some() {
            LESSON_WEB_TLS_ADDR
        } else {
            LESSON_WEB_ADDR
        };
        Step::new(StepId::ClientConnect, Direction::Within, Kind::Step)
            .instance(me.clone())
            .summary(format!(
                "opens client connection {id} from {local} to the web server at {server}"
            ))
            .state(StateChange::Connection {
                hop: Hop::Client,
                conn: id,
                state: ConnState::Open,
                local: Some(local.to_string()),
                peer: Some(server.to_string()),
            })
            .emit();
        let stream = Stream::Memory(stream);
        let stream = match tls {
            None => Some(stream),
            Some(config) => {
                let sni = how.sni.as_deref().unwrap_or(LESSON_HOST);
                match how.hello.unwrap_or(HelloKind::Rustls) {
                    HelloKind::Rustls => tls_client::handshake(stream, config, sni, &me).await,
                    kind => tls_client::refused_hello(stream, kind, sni, &me).await,
                }
            }
        };
        Some(ClientConn {
            conn: stream.map(HttpConn::new),
            id,
            me,
            sent: 0,
            set_cookies: Vec::new(),
            body: Vec::new(),
            closed: false,
            last_headers: Vec::new(),
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
        if self.conn.is_none() {
            Step::new(StepId::ClientResponseNone, Direction::Up, Kind::Error)
                .instance(self.me.clone())
                .ordinal(ordinal)
                .summary(format!(
                    "no TLS session came of connection {id}: {} is never sent",
                    request.line
                ))
                .emit();
            return (ordinal, Exchange::NoResponse);
        }
        Step::new(StepId::ClientRequestSend, Direction::Down, Kind::Hop)
            .instance(self.me.clone())
            .ordinal(ordinal)
            .summary(match (request.head_rate, request.upload_rate) {
                (Some(rate), _) => format!(
                    "starts sending {} on connection {id} ({} bytes) at {}/s, head and all",
                    request.line,
                    request.bytes.len(),
                    crate::units::Size(rate)
                ),
                (None, Some(rate)) => format!(
                    "sends {} on connection {id} ({} bytes): the head now, the body at {}/s",
                    request.line,
                    request.bytes.len(),
                    crate::units::Size(rate)
                ),
                (None, None) => format!(
                    "sends {} on connection {id} ({} bytes)",
                    request.line,
                    request.bytes.len()
                ),
            })
            .data(Data::Bytes {
                label: "request".into(),
                bytes: show(&request.bytes),
            })
            .emit();
        let sent_at = Instant::now();
        let Some(conn) = self.conn.as_mut() else {
            return (ordinal, Exchange::NoResponse);
        };
        let me = &self.me;
        let send_and_read = async {
            // The server may refuse before reading everything (413): a
            // failed write is not the end, the answer may already be
            // waiting.
            match (request.head_rate, request.upload_rate) {
                (Some(rate), _) => trickle(conn, me, ordinal, &request.bytes, rate).await,
                (None, Some(rate)) => upload(conn, me, ordinal, &request.bytes, rate).await,
                (None, None) => {
                    let _ = conn.write_all(&request.bytes).await;
                }
            }
            match request.stop_reading {
                Some((after, pause)) => {
                    stop_reading(conn, me, ordinal, after, pause).await;
                    read_after_stop(conn, &request.method).await
                }
                None => match read_response(conn, &request.method).await {
                    Some(whole) => Read::Whole(whole),
                    None => Read::Nothing,
                },
            }
        };
        let read = match request.timeout {
            Some(limit) => match tokio::time::timeout_at(sent_at + limit, send_and_read).await {
                Ok(read) => read,
                Err(_) => {
                    self.give_up(ordinal, limit).await;
                    return (ordinal, Exchange::GaveUp);
                }
            },
            None => send_and_read.await,
        };
        let outcome = match read {
            Read::Cut { head, got, length } => {
                Step::new(StepId::ClientResponseTruncated, Direction::Up, Kind::Error)
                    .instance(self.me.clone())
                    .ordinal(ordinal)
                    .summary(format!(
                        "the connection closed {:.3} ms after sending, with {got} of the {length} \
                         body bytes of {} {}: the response is cut short (curl: \"transfer closed \
                         with {} bytes remaining to read\")",
                        sent_at.elapsed().as_secs_f64() * 1000.0,
                        head.status,
                        head.reason,
                        length - got
                    ))
                    .data(crate::server::show::response_head(&head))
                    .emit();
                Exchange::Truncated
            }
            Read::Whole((head, wire, start, body)) => {
                self.last_headers = head.headers.to_pairs();
                self.set_cookies = head
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                    .map(|(_, v)| v.to_string())
                    .collect();
                // Expectations read the body as the app meant it: decoded.
                self.body = body;
                let took = sent_at.elapsed();
                let closes = head.headers.has_token("connection", "close");
                Step::new(StepId::ClientResponseReceive, Direction::Up, Kind::Hop)
                    .instance(self.me.clone())
                    .ordinal(ordinal)
                    .summary(format!(
                        "receives {} {} ({} bytes{}) {:.3} ms after sending",
                        head.status,
                        head.reason,
                        wire.len(),
                        if start > 0 {
                            ", after an interim 1xx response"
                        } else {
                            ""
                        },
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
            Read::Nothing => {
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
        dialer: &(Dialers, Connect),
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
        self.close().await;
        ClientConn::open_to(dialer, dialed).await
    }

    /// The client's own timeout ran out: it stops waiting and closes the
    /// connection, which is all a server ever learns of it.
    async fn give_up(&mut self, ordinal: u64, limit: Duration) {
        let id = self.id;
        Step::new(StepId::ClientTimeout, Direction::Within, Kind::Error)
            .instance(self.me.clone())
            .ordinal(ordinal)
            .state(StateChange::Connection {
                hop: Hop::Client,
                conn: id,
                state: ConnState::Closed,
                local: None,
                peer: None,
            })
            .summary(format!(
                "gives up after {} with no whole response (its own timeout) and closes connection {id}",
                crate::units::Time(limit)
            ))
            .emit();
        self.closed = true;
        if let Some(conn) = self.conn.as_mut() {
            let _ = conn.shutdown().await;
        }
    }

    /// A field of the last response, by case-insensitive name.
    pub fn last_header(&self, name: &str) -> Option<String> {
        self.last_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The connection itself, for a websocket after its handshake.
    pub(super) fn conn_mut(&mut self) -> Option<&mut HttpConn<Stream>> {
        self.conn.as_mut()
    }

    /// The position on this connection of the last request sent (a
    /// websocket's frames belong to its handshake request).
    pub(super) fn ordinal(&self) -> u64 {
        self.sent
    }

    /// Who the client is on this connection, for the trace.
    pub(super) fn me(&self) -> Instance {
        self.me.clone()
    }

    /// Keep the connection open with nothing to send for up to `limit`;
    /// records `client.idle_closed` if the server closes it meanwhile.
    pub async fn stay_idle(&mut self, limit: Duration) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let began = Instant::now();
        if let Ok(Ok(false) | Err(_)) = tokio::time::timeout(limit, conn.wait_for_data()).await {
            let id = self.id;
            Step::new(StepId::ClientIdleClosed, Direction::Within, Kind::Step)
                .instance(self.me.clone())
                .summary(format!(
                    "the server closed idle connection {id} after {:?}, with no word: a next request needs a new connection",
                    began.elapsed()
                ))
                .emit();
        }
    }

    /// Close the connection (recording `client.close`).
    pub async fn close(mut self) {
        if self.closed {
            return;
        }
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
        if let Some(conn) = self.conn.as_mut() {
            let _ = conn.shutdown().await;
        }
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

/// Write the head at once, then the body `rate` bytes a second, as a slow
/// link delivers it; stop when the server stops reading (it answered or
/// closed).
async fn upload(conn: &mut HttpConn<Stream>, me: &Instance, ordinal: u64, bytes: &[u8], rate: u64) {
    let head_len = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |at| at + 4);
    let (head, body) = bytes.split_at(head_len);
    if conn.write_all(head).await.is_err() {
        return;
    }
    let piece = usize::try_from(rate).unwrap_or(usize::MAX).max(1);
    let mut sent = 0;
    for chunk in body.chunks(piece) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if conn.write_all(chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
        Step::new(StepId::ClientUpload, Direction::Down, Kind::Step)
            .instance(me.clone())
            .ordinal(ordinal)
            .summary(format!(
                "sends {} more body bytes ({sent} of {}) at {}/s",
                chunk.len(),
                body.len(),
                crate::units::Size(rate)
            ))
            .emit();
    }
}

/// Send every byte, head included, `rate` bytes a second: the first
/// piece at once, then one a second. Stops at the first failed write (the
/// server has closed the connection).
async fn trickle(
    conn: &mut HttpConn<Stream>,
    me: &Instance,
    ordinal: u64,
    bytes: &[u8],
    rate: u64,
) {
    let piece = usize::try_from(rate).unwrap_or(usize::MAX).max(1);
    let mut sent = 0;
    for (n, chunk) in bytes.chunks(piece).enumerate() {
        if n > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if conn.write_all(chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
        Step::new(StepId::ClientTrickle, Direction::Down, Kind::Step)
            .instance(me.clone())
            .ordinal(ordinal)
            .summary(format!(
                "sends {} bytes ({sent} of {}) at {}/s",
                chunk.len(),
                bytes.len(),
                crate::units::Size(rate)
            ))
            .emit();
    }
}

/// Read one response, as a client must (RFC 9110 §15.2): any interim 1xx
/// responses (`100 Continue` after `Expect: 100-continue`, `103 Early
/// Hints`) come first and are not the answer; the final response follows
/// on the same connection. `101 Switching Protocols` is final. Returns the
/// final head, every byte read (interim responses included, for the
/// trace) and where the final response starts in them.
async fn read_response(
    conn: &mut HttpConn<Stream>,
    method: &str,
) -> Option<(ResponseHead, Vec<u8>, usize, Vec<u8>)> {
    let limits = HeadLimits::NGINX;
    let mut wire = Vec::new();
    // A server sends a handful of interim responses at most; a peer that
    // sends them without end gets no answer rather than an endless loop.
    for _ in 0..MAX_INTERIM_RESPONSES {
        let (head, raw) = conn
            .read_head(|b| parse_response_head(b, &limits))
            .await
            .ok()?;
        if (100..200).contains(&head.status) && head.status != 101 {
            wire.extend_from_slice(&raw);
            continue;
        }
        let start = wire.len();
        wire.extend_from_slice(&raw);
        let framing = response_framing(method, &head).ok()?;
        let (body, raw) = conn
            .read_response_body_wire(framing, MAX_RESPONSE_BODY, None)
            .await
            .ok()?;
        wire.extend_from_slice(&raw);
        return Some((head, wire, start, body));
    }
    None
}

/// What reading a response came to.
enum Read {
    /// A whole response: its head, every byte read, where it starts,
    /// and its body decoded.
    Whole((ResponseHead, Vec<u8>, usize, Vec<u8>)),
    /// A head, then the connection closed after `got` of its `length`
    /// body bytes.
    Cut {
        head: ResponseHead,
        got: u64,
        length: u64,
    },
    /// No response.
    Nothing,
}

/// Read until `after` bytes of the response are in (or the connection
/// ends), then read nothing for `pause`: the connection's buffers fill,
/// and the server's writes wait.
async fn stop_reading(
    conn: &mut HttpConn<Stream>,
    me: &Instance,
    ordinal: u64,
    after: u64,
    pause: Duration,
) {
    let want = usize::try_from(after).unwrap_or(usize::MAX);
    while conn.buffered().len() < want {
        match conn.fill().await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Step::new(StepId::ClientReadStop, Direction::Up, Kind::Step)
        .instance(me.clone())
        .ordinal(ordinal)
        .summary(format!(
            "has read {} bytes of the response and stops reading for {}: what the server \
             writes now fills the connection's buffers, then its writes wait",
            conn.buffered().len(),
            crate::units::Time(pause)
        ))
        .emit();
    tokio::time::sleep(pause).await;
}

/// Read on after a pause: a response whose `Content-Length` body does
/// not all arrive before the connection closes was cut short.
async fn read_after_stop(conn: &mut HttpConn<Stream>, method: &str) -> Read {
    let limits = HeadLimits::NGINX;
    let Ok((head, raw)) = conn.read_head(|b| parse_response_head(b, &limits)).await else {
        return Read::Nothing;
    };
    let framing = match response_framing(method, &head) {
        Ok(crate::http::framing::ResponseFraming::Length(n)) if n <= MAX_RESPONSE_BODY => n,
        Ok(other) => {
            // Chunks or until-close: read as usual.
            let Ok((body, on_wire)) = conn
                .read_response_body_wire(other, MAX_RESPONSE_BODY, None)
                .await
            else {
                return Read::Nothing;
            };
            let mut wire = raw;
            wire.extend_from_slice(&on_wire);
            return Read::Whole((head, wire, 0, body));
        }
        Err(_) => return Read::Nothing,
    };
    let want = usize::try_from(framing).unwrap_or(usize::MAX);
    while conn.buffered().len() < want {
        match conn.fill().await {
            Ok(0) | Err(_) => {
                let got = conn.buffered().len() as u64;
                conn.consume(conn.buffered().len());
                return Read::Cut {
                    head,
                    got,
                    length: framing,
                };
            }
            Ok(_) => {}
        }
    }
    let body = conn.buffered()[..want].to_vec();
    conn.consume(want);
    let mut wire = raw;
    wire.extend_from_slice(&body);
    Read::Whole((head, wire, 0, body))
}

/// How many interim (1xx) responses the lesson client reads before a final
/// one, at most.
const MAX_INTERIM_RESPONSES: usize = 8;

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
