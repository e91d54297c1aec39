//! The proxy hop: the web server passes the request to the app server over
//! a second, real HTTP/1.1 connection, as nginx's `proxy_pass` does.
//!
//! ```text
//! client ──HTTP──▶ web server ──HTTP/1.1 (upstream keep-alive)──▶ app server
//! ```
//!
//! What crosses the hop (RFC 9110 §7.6.1, nginx's proxy_pass docs):
//! * hop-by-hop fields are dropped (`Connection`, `Keep-Alive`, `TE`,
//!   `Transfer-Encoding`, `Upgrade`, `Expect`, `Proxy-Connection` and any
//!   field `Connection` names); `Content-Length` is regenerated, because the
//!   body was read whole first (`proxy_request_buffering on`);
//! * the usual config is applied: `Host $host`, `X-Real-IP $remote_addr`,
//!   `X-Forwarded-For $proxy_add_x_forwarded_for`, `X-Forwarded-Proto
//!   $scheme`, and `X-Request-Id $request_id` so the app's logs and ours
//!   agree on which request is which (nginx adds none of these by default);
//! * the response is read whole (`proxy_buffering on`), which frees the
//!   app server's worker as fast as the app server can write.
//!
//! Idle upstream connections are kept for reuse (nginx ≥1.29.7 defaults to
//! HTTP/1.1 and `keepalive 32`). A sync worker closes after every response,
//! so with WSGI you will see a new upstream connection per request.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;

use super::config::WebServerConfig;
use crate::http::conn::ReadError;
use crate::http::framing::response_framing;
use crate::http::parse::parse_response_head;
use crate::http::{HeadLimits, Headers, HttpConn, RequestHead, ResponseHead, Version, write};
use crate::net::{Connector, Stream};
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{
    ConnState, Data, Decision, Direction, Failure, Hop, Instance, Kind, StateChange, StepId,
    Verdict,
};

/// Idle upstream connections kept per web server (nginx `keepalive 32`).
pub const UPSTREAM_KEEPALIVE: usize = 32;

/// Largest upstream response we buffer.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Fields that belong to one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Is this field one that belongs to a single connection?
pub fn is_hop_by_hop(lower_name: &str) -> bool {
    HOP_BY_HOP.contains(&lower_name)
}

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("connect() to the app server failed: {1}")]
    Connect(Failure, String),
    #[error("connecting to the app server took longer than proxy_connect_timeout")]
    ConnectTimeout,
    #[error("the app server sent nothing for proxy_read_timeout")]
    ReadTimeout,
    /// The head came, then the body stalled for `proxy_read_timeout`.
    #[error("the app server's body stalled for proxy_read_timeout")]
    BodyReadTimeout,
    /// `nothing_read`: the connection closed before any byte of a response,
    /// so the request may be sent again elsewhere (if it is idempotent).
    #[error("upstream prematurely closed connection")]
    Closed { nothing_read: bool },
    #[error("upstream sent an invalid response: {0}")]
    Invalid(String),
    /// No server of the group was eligible (nginx's error log says this).
    #[error("no live upstreams while connecting to upstream")]
    NoLive,
}

impl ProxyError {
    /// 504 for a timeout, 502 for everything else (nginx `ngx_http_upstream.c`).
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::ConnectTimeout | ProxyError::ReadTimeout | ProxyError::BodyReadTimeout => {
                504
            }
            _ => 502,
        }
    }

    /// The kind of failure, for the trace.
    pub fn failure(&self) -> Failure {
        match self {
            ProxyError::Connect(kind, _) => *kind,
            ProxyError::ConnectTimeout | ProxyError::ReadTimeout | ProxyError::BodyReadTimeout => {
                Failure::TimedOut
            }
            ProxyError::Closed { .. } => Failure::Closed,
            ProxyError::Invalid(_) => Failure::Invalid,
            ProxyError::NoLive => Failure::Refused,
        }
    }

    /// The setting that decided it, and its value, if one did.
    pub fn knob(&self, config: &WebServerConfig) -> Option<(&'static str, String)> {
        match self {
            ProxyError::ConnectTimeout => Some((
                "proxy_connect_timeout",
                config.proxy_connect_timeout.to_string(),
            )),
            ProxyError::ReadTimeout | ProxyError::BodyReadTimeout => {
                Some(("proxy_read_timeout", config.proxy_read_timeout.to_string()))
            }
            _ => None,
        }
    }

    /// What nginx writes to its error log for this failure: the message,
    /// the system error in parentheses, and what it was doing
    /// (`c->log->action` in `ngx_http_upstream.c`: "connecting to
    /// upstream", "reading response header from upstream", "reading
    /// upstream"). A timeout is `ETIMEDOUT`, 110 on Linux, whichever
    /// timer fired.
    pub fn log_message(&self) -> String {
        const HEADER: &str = "while reading response header from upstream";
        match self {
            ProxyError::Connect(kind, detail) => {
                let errno = match kind {
                    Failure::Refused => "111: Connection refused".to_string(),
                    Failure::Reset => "104: Connection reset by peer".to_string(),
                    _ => detail.clone(),
                };
                format!("connect() failed ({errno}) while connecting to upstream")
            }
            ProxyError::ConnectTimeout => {
                "upstream timed out (110: Connection timed out) while connecting to upstream".into()
            }
            ProxyError::ReadTimeout => {
                format!("upstream timed out (110: Connection timed out) {HEADER}")
            }
            ProxyError::BodyReadTimeout => {
                "upstream timed out (110: Connection timed out) while reading upstream".into()
            }
            ProxyError::Closed { nothing_read: true } => {
                format!("upstream prematurely closed connection {HEADER}")
            }
            ProxyError::Closed {
                nothing_read: false,
            } => "upstream prematurely closed connection while reading upstream".into(),
            ProxyError::Invalid(_) => format!("upstream sent invalid header {HEADER}"),
            // ngx_http_upstream_next: every server of the group is down.
            ProxyError::NoLive => "no live upstreams while connecting to upstream".into(),
        }
    }
}

/// The app server as the web server sees it: an address and a pool of
/// idle connections.
pub struct Upstream {
    connector: Connector,
    idle: Mutex<Vec<(u64, HttpConn<Stream>)>>,
    next_conn: Arc<AtomicU64>,
}

impl Upstream {
    pub fn new(connector: Connector) -> Upstream {
        Upstream::numbered(connector, Arc::new(AtomicU64::new(1)))
    }

    /// One server of a group whose upstream connections are numbered by
    /// one counter (`ids`), so that no two share an id.
    pub fn numbered(connector: Connector, ids: Arc<AtomicU64>) -> Upstream {
        Upstream {
            connector,
            idle: Mutex::new(Vec::new()),
            next_conn: ids,
        }
    }

    /// The address this server is dialed at.
    pub fn address(&self) -> String {
        self.connector.describe()
    }

    fn take_idle(&self) -> Option<(u64, HttpConn<Stream>)> {
        self.idle.lock().ok()?.pop()
    }

    /// An idle connection still open, if the pool has one. nginx's
    /// keepalive module watches its cached connections for reads
    /// (`ngx_http_upstream_keepalive_close_handler`): an app server that
    /// closes an idle connection (uvicorn after its 5 s keep-alive timeout)
    /// takes it out of the cache before any request could be sent on it.
    /// Here the look happens when a connection is taken: one poll of a
    /// read, which finds the peer's close (or stray bytes) if it came.
    async fn take_live_idle(&self) -> Option<(u64, HttpConn<Stream>)> {
        while let Some((id, mut conn)) = self.take_idle() {
            let looked = tokio::time::timeout(Duration::ZERO, conn.fill()).await;
            let why = match looked {
                // Nothing to read: open and quiet, as an idle connection is.
                Err(_) => return Some((id, conn)),
                Ok(Ok(0)) | Ok(Err(_)) => "the app server had closed it while idle",
                Ok(Ok(_)) => "the app server sent bytes on it while idle",
            };
            self.close_step(id)
                .summary(format!(
                    "closes idle upstream connection {id}: {why}, so it leaves the pool unused"
                ))
                .emit();
        }
        None
    }

    /// Keep an idle connection for reuse; false when the pool is full (the
    /// connection is then dropped, which closes it).
    fn put_idle(&self, id: u64, conn: HttpConn<Stream>) -> bool {
        match self.idle.lock() {
            Ok(mut idle) if idle.len() < UPSTREAM_KEEPALIVE => {
                idle.push((id, conn));
                true
            }
            _ => false,
        }
    }

    /// Build the request the app server receives. `host` is `$host`, as
    /// the web server validated it (lower-cased, no trailing dot, no
    /// port): `proxy_set_header Host $host` sends it, not the client's
    /// bytes.
    pub fn upstream_request(
        req: &RequestHead,
        body: &[u8],
        peer: SocketAddr,
        request_id: u64,
        host: &str,
        scheme: &str,
        config: &WebServerConfig,
    ) -> RequestHead {
        let listed = req.headers.connection_options();
        let forwarded_for = match req.headers.get("x-forwarded-for") {
            Some(prev) => format!("{prev}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        let mut headers = Headers::new();
        headers.push("Host", host);
        headers.push("X-Real-IP", peer.ip().to_string());
        headers.push("X-Forwarded-For", forwarded_for);
        // `X-Forwarded-Proto $scheme`: how the client reached us, since
        // the app server sees plain HTTP either way.
        headers.push("X-Forwarded-Proto", scheme);
        headers.push("X-Request-Id", request_id.to_string());
        for (name, value) in req.headers.iter() {
            let lower = name.to_ascii_lowercase();
            let replaced = matches!(
                lower.as_str(),
                "host"
                    | "x-real-ip"
                    | "x-forwarded-for"
                    | "x-forwarded-proto"
                    | "x-request-id"
                    | "content-length"
            );
            if !replaced && !is_hop_by_hop(&lower) && !listed.contains(&lower) {
                headers.push(name, value);
            }
        }
        if !body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
            headers.push("Content-Length", body.len().to_string());
        }
        // `proxy_set_header`: replaces the field; an empty value drops it.
        for (name, value) in &config.proxy_set_header {
            let value = super::upgrade::expand(value, req);
            headers.remove(name);
            if !value.is_empty() {
                headers.push(name.clone(), value);
            }
        }
        RequestHead {
            method: req.method.clone(),
            target: req.target.clone(),
            version: match config.proxy_http_version {
                super::config::ProxyHttpVersion::Http10 => Version::Http10,
                super::config::ProxyHttpVersion::Http11 => Version::Http11,
            },
            headers,
        }
    }

    /// The app server's address, for a connection opened outside the
    /// idle pool (an upgrade's, which never returns to it).
    pub(super) fn connector(&self) -> &Connector {
        &self.connector
    }

    /// A fresh id for an upstream connection.
    pub(super) fn next_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Send the request upstream and read the whole response.
    pub async fn forward(
        &self,
        upstream_req: &RequestHead,
        body: &[u8],
        config: &WebServerConfig,
    ) -> Result<(ResponseHead, Vec<u8>), ProxyError> {
        let mut bytes = write::request_head(upstream_req);
        bytes.extend_from_slice(body);

        // A reused connection may have been closed by the app server while
        // idle (its keep-alive timeout is shorter than ours): try again on a
        // fresh one, as nginx does, but only when no answer had begun and,
        // once sent, never for a non-idempotent method (nginx ≥ 1.9.13).
        if let Some((id, conn)) = self.take_live_idle().await {
            let idempotent = !matches!(upstream_req.method.as_str(), "POST" | "PATCH" | "LOCK");
            match self
                .exchange(id, conn, true, upstream_req, &bytes, config)
                .await
            {
                Err(ProxyError::Closed { nothing_read: true }) if idempotent => {
                    Step::new(StepId::WebServerProxyRetry, Direction::Within, Kind::Decision)
                        .instance(self.instance(id))
                        .upstream(id)
                        .summary(format!(
                            "idle upstream connection {id} had been closed by the app server; \
                             sends the request again on a new connection"
                        ))
                        .decision(
                            Decision::new(Verdict::Retry)
                                .rule("proxy_next_upstream: an idempotent request with nothing read yet may be sent again")
                                .input("method", &upstream_req.method)
                                .input("response_bytes_read", 0),
                        )
                        .state(self.conn_state(id, ConnState::Closed))
                        .emit();
                }
                other => return other,
            }
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let connect =
            tokio::time::timeout(config.proxy_connect_timeout.0, self.connector.connect());
        let conn = match connect.await {
            Ok(Ok((stream, local))) => {
                Step::new(StepId::WebServerProxyConnect, Direction::Down, Kind::Step)
                    .instance(self.instance(id))
                    .upstream(id)
                    .summary(format!(
                        "opens upstream connection {id} from {local} to the app server at {}",
                        self.connector.describe()
                    ))
                    .state(StateChange::Connection {
                        hop: Hop::Upstream,
                        conn: id,
                        state: ConnState::Open,
                        local: Some(local.to_string()),
                        peer: Some(self.connector.describe()),
                    })
                    .emit();
                HttpConn::new(stream)
            }
            Ok(Err(e)) => return Err(ProxyError::Connect(Failure::of_io(&e), e.to_string())),
            Err(_) => return Err(ProxyError::ConnectTimeout),
        };
        self.exchange(id, conn, false, upstream_req, &bytes, config)
            .await
    }

    /// Who acts on upstream connection `id`.
    fn instance(&self, id: u64) -> Instance {
        Instance::Upstream {
            server: self.connector.describe(),
            conn: id,
        }
    }

    /// The web server closes upstream connection `id` (the caller says why).
    fn close_step(&self, id: u64) -> Step {
        Step::state_only(
            StepId::WebServerUpstreamClose,
            self.conn_state(id, ConnState::Closed),
        )
        .instance(self.instance(id))
        .upstream(id)
    }

    fn conn_state(&self, id: u64, state: ConnState) -> StateChange {
        StateChange::Connection {
            hop: Hop::Upstream,
            conn: id,
            state,
            local: None,
            peer: None,
        }
    }

    async fn exchange(
        &self,
        id: u64,
        mut conn: HttpConn<Stream>,
        reused: bool,
        upstream_req: &RequestHead,
        bytes: &[u8],
        config: &WebServerConfig,
    ) -> Result<(ResponseHead, Vec<u8>), ProxyError> {
        let how = if reused {
            format!("reuses idle upstream connection {id}")
        } else {
            format!("sends on new upstream connection {id}")
        };
        Step::new(StepId::WebServerProxySend, Direction::Down, Kind::Hop)
            .instance(self.instance(id))
            .upstream(id)
            .state(self.conn_state(id, ConnState::Active))
            .summary(format!(
                "proxy_pass: {how}: {} {} ({} bytes)",
                upstream_req.method,
                upstream_req.target,
                bytes.len()
            ))
            .data(Data::Bytes {
                label: "to the app server".into(),
                bytes: show(bytes),
            })
            .data(super::show::request_head(upstream_req))
            .emit();
        if conn.write_all(bytes).await.is_err() {
            return Err(ProxyError::Closed { nothing_read: true });
        }
        // If the request is abandoned while we wait (the client left:
        // 499), this connection is dropped with it; the guard records
        // that it closed.
        let waiting = InFlight {
            upstream: self,
            id,
            armed: true,
        };
        let read = self.read_response(&mut conn, upstream_req, config).await;
        // After proxy_read_timeout nginx closes the upstream connection
        // itself (ngx_http_upstream_next): the guard records that. Any
        // other failure was the app server's close.
        if !matches!(
            read,
            Err(ProxyError::ReadTimeout | ProxyError::BodyReadTimeout)
        ) {
            waiting.disarm();
        }
        let (head, raw, body, framing) = read?;
        let mut wire = raw;
        wire.extend_from_slice(&body);
        let closes = head.headers.has_token("connection", "close")
            || head.version == Version::Http10
            || framing == crate::http::ResponseFraming::UntilClose;
        self.received(id, conn, &head, &wire, closes);
        Ok((head, body))
    }

    /// Read the app server's whole response: head, then body.
    async fn read_response(
        &self,
        conn: &mut HttpConn<Stream>,
        upstream_req: &RequestHead,
        config: &WebServerConfig,
    ) -> Result<(ResponseHead, Vec<u8>, Vec<u8>, crate::http::ResponseFraming), ProxyError> {
        let read_timeout = config.proxy_read_timeout.0;
        let limits = HeadLimits::NGINX;
        let head_read = tokio::time::timeout(
            read_timeout,
            conn.read_head(|b| parse_response_head(b, &limits)),
        );
        let (head, raw) = match head_read.await {
            Err(_) => return Err(ProxyError::ReadTimeout),
            Ok(Ok(ok)) => ok,
            Ok(Err(ReadError::Parse(e))) => return Err(ProxyError::Invalid(e.to_string())),
            Ok(Err(ReadError::ClosedIdle)) => {
                return Err(ProxyError::Closed { nothing_read: true });
            }
            Ok(Err(_)) => {
                return Err(ProxyError::Closed {
                    nothing_read: false,
                });
            }
        };
        let framing = response_framing(&upstream_req.method, &head)
            .map_err(|e| ProxyError::Invalid(e.to_string()))?;
        let body = match conn
            .read_response_body(framing, MAX_RESPONSE_BYTES, Some(read_timeout))
            .await
        {
            Ok(b) => b,
            Err(ReadError::Timeout(_)) => return Err(ProxyError::BodyReadTimeout),
            Err(ReadError::TooLarge(limit)) => {
                return Err(ProxyError::Invalid(format!("a body over {limit} bytes")));
            }
            Err(_) => {
                return Err(ProxyError::Closed {
                    nothing_read: false,
                });
            }
        };
        Ok((head, raw, body, framing))
    }

    /// Record the response read from upstream connection `id`, and keep
    /// the connection for reuse unless it closes.
    fn received(
        &self,
        id: u64,
        conn: HttpConn<Stream>,
        head: &ResponseHead,
        wire: &[u8],
        closes: bool,
    ) {
        Step::new(StepId::WebServerProxyReceive, Direction::Up, Kind::Hop)
            .instance(self.instance(id))
            .upstream(id)
            .state(self.conn_state(
                id,
                if closes {
                    ConnState::Closed
                } else {
                    ConnState::Idle
                },
            ))
            .summary(format!(
                "reads {} {} from the app server ({} bytes); upstream connection {id} {}",
                head.status,
                head.reason,
                wire.len(),
                if closes {
                    "is closed by the app server"
                } else {
                    "goes back to the idle pool"
                }
            ))
            .data(Data::Bytes {
                label: "from the app server".into(),
                bytes: show(wire),
            })
            .data(super::show::response_head(head))
            .emit();
        if !closes && !self.put_idle(id, conn) {
            self.close_step(id)
                .summary(format!(
                    "the idle pool already holds keepalive {UPSTREAM_KEEPALIVE} connections: closes upstream connection {id}"
                ))
                .knob("keepalive", UPSTREAM_KEEPALIVE)
                .emit();
        }
    }
}

/// An upstream connection waiting for its response. Dropped while armed
/// (the request was abandoned mid-wait), it records that the connection
/// closes with it.
struct InFlight<'a> {
    upstream: &'a Upstream,
    id: u64,
    armed: bool,
}

impl InFlight<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = self.id;
        Step::state_only(
            StepId::WebServerUpstreamClose,
            self.upstream.conn_state(id, ConnState::Closed),
        )
        .instance(self.upstream.instance(id))
        .upstream(id)
        .summary(format!(
            "closes upstream connection {id} with its request unanswered: the app server's answer will find no one"
        ))
        .emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_is_logged_with_nginxs_message_and_action() {
        let refused = ProxyError::Connect(Failure::Refused, "refused".into());
        assert_eq!(
            refused.log_message(),
            "connect() failed (111: Connection refused) while connecting to upstream"
        );
        assert_eq!(
            ProxyError::Closed { nothing_read: true }.log_message(),
            "upstream prematurely closed connection while reading response header from upstream"
        );
        assert_eq!(
            ProxyError::BodyReadTimeout.log_message(),
            "upstream timed out (110: Connection timed out) while reading upstream"
        );
        assert_eq!(ProxyError::BodyReadTimeout.status(), 504);
        assert_eq!(
            ProxyError::Closed {
                nothing_read: false
            }
            .status(),
            502
        );
    }

    #[test]
    fn hop_by_hop_fields_are_dropped_and_forwarding_fields_added() {
        let mut req = RequestHead {
            method: "GET".into(),
            target: "/notes".into(),
            version: Version::Http11,
            headers: Headers::new(),
        };
        req.headers.push("Host", "example.test");
        req.headers.push("Connection", "keep-alive, X-Secret");
        req.headers.push("X-Secret", "1");
        req.headers.push("Keep-Alive", "timeout=5");
        req.headers.push("X-Forwarded-For", "198.51.100.1");
        req.headers.push("Accept", "*/*");
        let peer: SocketAddr = "203.0.113.7:50001".parse().unwrap();
        let up = Upstream::upstream_request(
            &req,
            b"",
            peer,
            9,
            "example.test",
            "http",
            &WebServerConfig::default(),
        );
        assert_eq!(up.headers.get("host"), Some("example.test"));
        assert_eq!(
            up.headers.get("x-forwarded-for"),
            Some("198.51.100.1, 203.0.113.7")
        );
        assert_eq!(up.headers.get("x-real-ip"), Some("203.0.113.7"));
        assert_eq!(up.headers.get("x-request-id"), Some("9"));
        assert!(!up.headers.contains("connection"));
        assert!(!up.headers.contains("keep-alive"));
        assert!(!up.headers.contains("x-secret"));
        assert_eq!(up.headers.get("accept"), Some("*/*"));
    }
}
