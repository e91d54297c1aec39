//! One client connection, request after request.
//!
//! Each turn of the loop reads a head within `client_header_timeout`,
//! decides how the body is framed, reads it within `client_body_timeout`
//! per read, proxies, relays, and decides whether the connection stays
//! open (RFC 9112 §9.3: `Connection: close`, HTTP/1.0 without keep-alive,
//! `keepalive_requests` reached, or an error that leaves the framing
//! unknowable all close it). Pipelined requests need nothing special: their
//! bytes are already in the buffer when the loop comes round, and answering
//! one at a time answers them in order.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::Instrument;

use super::WebServer;
use super::error_page::{self, SERVER_NAME};
use super::proxy::is_hop_by_hop;
use crate::http::chunked::ChunkedError;
use crate::http::conn::ReadError;
use crate::http::framing::request_framing;
use crate::http::headers::latin1_bytes;
use crate::http::parse::parse_request_head;
use crate::http::target::{climbs_above_root, percent_decode};
use crate::http::{
    BodyFraming, HttpConn, ParseError, Personality, RequestHead, ResponseHead, Version, write,
};
use crate::net::Stream;
use crate::trace::bytes::show;
use crate::trace::emit::{Step, request_span};
use crate::trace::{Data, Direction, Kind, Layer};

/// What became of one request.
enum Outcome {
    /// Answered; keep reading requests on this connection.
    KeepOpen,
    /// Answered (or deliberately not); close the connection.
    Close,
}

pub async fn serve(server: Arc<WebServer>, stream: Stream, peer: SocketAddr, conn_id: u64) {
    Step::new(
        Layer::WebServer,
        "web_server.accept",
        Direction::Within,
        Kind::Step,
    )
    .summary(format!("accepts connection {conn_id} from {peer}"))
    .data(Data::Fields {
        entries: vec![("peer".into(), peer.to_string())],
    })
    .emit();
    let mut conn = HttpConn::new(stream);
    let mut ordinal = 0u64;
    loop {
        if ordinal > 0 && !wait_for_next(&server, &mut conn).await {
            break;
        }
        let outcome = one_request(&server, &mut conn, peer, conn_id, ordinal + 1).await;
        ordinal += 1;
        if matches!(outcome, Outcome::Close) {
            break;
        }
    }
    linger(&server, &mut conn).await;
}

/// nginx's lingering close: send our FIN first, then keep reading (and
/// discarding) what the client still sends, for at most `lingering_time`
/// and until it pauses for `lingering_timeout`. Closing with unread bytes
/// in the socket would make the kernel send a reset, and the client could
/// lose the response it has not read yet (RFC 9112 §9.6).
async fn linger(server: &WebServer, conn: &mut HttpConn<Stream>) {
    let _ = conn.shutdown().await;
    let cfg = &server.config;
    let mut announced = false;
    let mut announce = |first: usize| {
        if !announced {
            announced = true;
            Step::new(Layer::WebServer, "web_server.lingering_close", Direction::Within, Kind::Step)
                .summary(format!(
                    "lingering close: the client is still sending ({first} bytes so far); \
                     reads and discards it for up to lingering_time {} so the client can read the response",
                    cfg.lingering_time
                ))
                .knob("lingering_time", cfg.lingering_time)
                .emit();
        }
    };
    let unread = conn.buffered().len();
    if unread > 0 {
        announce(unread);
        conn.consume(unread);
    }
    let deadline = tokio::time::Instant::now() + cfg.lingering_time.0;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(cfg.lingering_timeout.0.min(left), conn.fill()).await {
            Ok(Ok(n)) if n > 0 => {
                announce(n);
                conn.consume(n);
            }
            _ => break,
        }
    }
}

/// Between requests: wait up to `keepalive_timeout` for the next one.
async fn wait_for_next(server: &WebServer, conn: &mut HttpConn<Stream>) -> bool {
    let timeout = server.config.keepalive_timeout;
    match tokio::time::timeout(timeout.0, conn.wait_for_data()).await {
        Ok(Ok(true)) => true,
        Ok(_) => {
            Step::new(
                Layer::WebServer,
                "web_server.client.close",
                Direction::Within,
                Kind::Step,
            )
            .summary("the client closed the keep-alive connection")
            .emit();
            false
        }
        Err(_) => {
            Step::new(
                Layer::WebServer,
                "web_server.keepalive.timeout",
                Direction::Within,
                Kind::Decision,
            )
            .summary(format!(
                "no new request within keepalive_timeout {timeout}: closes the connection"
            ))
            .knob("keepalive_timeout", timeout)
            .emit();
            false
        }
    }
}

async fn one_request(
    server: &Arc<WebServer>,
    conn: &mut HttpConn<Stream>,
    peer: SocketAddr,
    conn_id: u64,
    ordinal: u64,
) -> Outcome {
    let cfg = &server.config;
    let limits = cfg.head_limits();
    let header_timeout = cfg.client_header_timeout;
    let read = tokio::time::timeout(
        header_timeout.0,
        conn.read_head(|b| parse_request_head(b, &limits)),
    );
    let (head, raw) = match read.await {
        Ok(Ok(ok)) => ok,
        Ok(Err(ReadError::ClosedIdle)) => {
            if ordinal == 1 {
                Step::new(
                    Layer::WebServer,
                    "web_server.client.close",
                    Direction::Within,
                    Kind::Step,
                )
                .summary("the client closed the connection without sending a request")
                .emit();
            }
            return Outcome::Close;
        }
        Ok(Err(ReadError::Parse(e))) => {
            let id = server.next_request_id();
            let received = conn.buffered().to_vec();
            let span = request_span(id);
            return refuse_head(server, conn, &e, &received, ordinal)
                .instrument(span)
                .await;
        }
        Ok(Err(_)) => {
            Step::new(
                Layer::WebServer,
                "web_server.client.close",
                Direction::Within,
                Kind::Error,
            )
            .summary("the client closed the connection in the middle of a request head")
            .emit();
            return Outcome::Close;
        }
        Err(_) => {
            let id = server.next_request_id();
            let received = conn.buffered().to_vec();
            let span = request_span(id);
            return async {
                Step::new(Layer::WebServer, "web_server.limit.header_timeout", Direction::Within, Kind::Error)
                    .ordinal(ordinal)
                    .summary(format!(
                        "the request head did not arrive within client_header_timeout {header_timeout}: \
                         logs 408 and closes the connection without sending a response"
                    ))
                    .knob("client_header_timeout", header_timeout)
                    .answer(408)
                    .data(Data::Bytes {
                        label: "received before the timeout".into(),
                        bytes: show(&received),
                    })
                    .emit();
                Outcome::Close
            }
            .instrument(span)
            .await;
        }
    };
    let id = server.next_request_id();
    let span = request_span(id);
    handle(server, conn, head, raw, peer, conn_id, ordinal, id)
        .instrument(span)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    server: &Arc<WebServer>,
    conn: &mut HttpConn<Stream>,
    mut head: RequestHead,
    raw: Vec<u8>,
    peer: SocketAddr,
    conn_id: u64,
    ordinal: u64,
    id: u64,
) -> Outcome {
    let cfg = &server.config;
    Step::new(
        Layer::WebServer,
        "web_server.request.receive",
        Direction::Down,
        Kind::Hop,
    )
    .ordinal(ordinal)
    .summary(format!(
        "reads request {id} ({} on connection {conn_id}): {} {} {}",
        nth(ordinal),
        head.method,
        head.target,
        head.version.as_str()
    ))
    .data(Data::Bytes {
        label: "request head from the client".into(),
        bytes: show(&raw),
    })
    .data(super::show::request_head(&head))
    .emit();

    if climbs_above_root(&percent_decode(&latin1_bytes(head.path()))) {
        Step::new(
            Layer::WebServer,
            "web_server.uri.invalid",
            Direction::Within,
            Kind::Error,
        )
        .summary(format!(
            "the path {} climbs above the root with `..`: answers 400",
            head.path()
        ))
        .answer(400)
        .emit();
        return send_error(server, conn, &head, 400).await;
    }

    let framing = match request_framing(&head) {
        Ok(f) => f,
        Err(e) => {
            let status = e.status();
            Step::new(
                Layer::WebServer,
                "web_server.framing",
                Direction::Within,
                Kind::Error,
            )
            .summary(format!(
                "{e}: servers that read the framing differently would disagree on where this request ends, so it answers {status} and closes"
            ))
            .answer(status)
            .emit();
            return send_error(server, conn, &head, status).await;
        }
    };

    let max_body = cfg.client_max_body_size;
    let body_limit = if max_body.0 == 0 {
        u64::MAX
    } else {
        max_body.0
    };
    let gap = Some(cfg.client_body_timeout.0);
    let body = match framing {
        BodyFraming::Empty => Vec::new(),
        BodyFraming::Length(n) if n > body_limit => {
            let why = format!(
                "Content-Length {n} is over client_max_body_size {max_body}: answers 413 \
                 without reading the body; the app server never sees this request"
            );
            return too_large(server, conn, &head, why).await;
        }
        BodyFraming::Length(n) => {
            send_continue(conn, &head).await;
            match conn.read_body_exact(n, gap).await {
                Ok(b) => b,
                Err(e) => return body_failed(server, conn, &head, e).await,
            }
        }
        BodyFraming::Chunked => {
            send_continue(conn, &head).await;
            let read = conn.read_body_chunked(body_limit, gap).await;
            match read {
                Ok((b, wire)) => {
                    Step::new(
                        Layer::WebServer,
                        "web_server.body.dechunk",
                        Direction::Within,
                        Kind::Step,
                    )
                    .summary(format!(
                        "decodes the chunked body: {wire} bytes on the wire, {} bytes of content",
                        b.len()
                    ))
                    .emit();
                    b
                }
                Err(e) => return body_failed(server, conn, &head, e).await,
            }
        }
    };
    if !body.is_empty() {
        Step::new(
            Layer::WebServer,
            "web_server.body.receive",
            Direction::Down,
            Kind::Step,
        )
        .summary(format!(
            "reads the whole body ({} bytes) before contacting the app server",
            body.len()
        ))
        .data(Data::Bytes {
            label: "request body".into(),
            bytes: show(&body),
        })
        .emit();
    }

    if !cfg.underscores_in_headers {
        let dropped: Vec<String> = head
            .headers
            .iter()
            .filter(|(n, _)| n.contains('_'))
            .map(|(n, _)| n.to_string())
            .collect();
        if !dropped.is_empty() {
            head.headers.retain(|n, _| !n.contains('_'));
            Step::new(
                Layer::WebServer,
                "web_server.headers.underscore",
                Direction::Within,
                Kind::Decision,
            )
            .summary(format!(
                "silently drops {} (underscores_in_headers off)",
                dropped.join(", ")
            ))
            .knob("underscores_in_headers", "off")
            .emit();
        }
    }

    let keep_alive = head.wants_keep_alive() && ordinal < cfg.keepalive_requests;
    if head.wants_keep_alive() && !keep_alive {
        Step::new(Layer::WebServer, "web_server.keepalive.requests", Direction::Within, Kind::Decision)
            .summary(format!(
                "this is request {ordinal} on the connection, keepalive_requests is {}: it will close after answering",
                cfg.keepalive_requests
            ))
            .knob("keepalive_requests", cfg.keepalive_requests)
            .emit();
    }

    let upstream_req = super::proxy::Upstream::upstream_request(&head, &body, peer, id);
    match server.upstream.forward(&upstream_req, &body, cfg).await {
        Ok((upstream_head, upstream_body)) => {
            let (rhead, rbody) = relay(server, &head, upstream_head, upstream_body, keep_alive);
            send(server, conn, &head, rhead, rbody).await;
            if keep_alive {
                Outcome::KeepOpen
            } else {
                Outcome::Close
            }
        }
        Err(e) => {
            let status = e.status();
            let mut step = Step::new(
                Layer::WebServer,
                "web_server.proxy.error",
                Direction::Up,
                Kind::Error,
            )
            .summary(format!("{e}: answers {status}"))
            .answer(status);
            if let Some((knob, value)) = e.knob(cfg) {
                step = step.knob(knob, value);
            }
            step.emit();
            send_error(server, conn, &head, status).await
        }
    }
}

/// `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for a go-ahead
/// before sending the body. nginx sends `100 Continue` itself when it starts
/// reading the body, after its own checks (a 413 is sent instead of it), and
/// does not pass `Expect` upstream.
async fn send_continue(conn: &mut HttpConn<Stream>, head: &RequestHead) {
    let expects = head.version == Version::Http11
        && head
            .headers
            .get("expect")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    // A client that sent the body anyway needs no go-ahead.
    if !expects || !conn.buffered().is_empty() {
        return;
    }
    let bytes = b"HTTP/1.1 100 Continue\r\n\r\n";
    Step::new(
        Layer::WebServer,
        "web_server.continue",
        Direction::Up,
        Kind::Hop,
    )
    .summary("the client sent Expect: 100-continue; answers 100 Continue so it sends the body")
    .data(Data::Bytes {
        label: "interim response".into(),
        bytes: show(bytes),
    })
    .emit();
    let _ = conn.write_all(bytes).await;
}

/// The app server's response, made fit for the client: its `Server` and
/// `Date` are replaced by ours (nginx hides the upstream's), hop-by-hop
/// fields are dropped, and the connection header says what we will do.
fn relay(
    server: &WebServer,
    request: &RequestHead,
    upstream: ResponseHead,
    body: Vec<u8>,
    keep_alive: bool,
) -> (ResponseHead, Vec<u8>) {
    let mut head = ResponseHead::new(upstream.status);
    head.reason = upstream.reason.clone();
    head.version = Version::Http11;
    head.headers.push("Server", SERVER_NAME);
    head.headers.push("Date", server.clock.http_date());
    let listed: Vec<String> = upstream
        .headers
        .get_all("connection")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in upstream.headers.iter() {
        let lower = name.to_ascii_lowercase();
        let ours = matches!(lower.as_str(), "server" | "date" | "content-length");
        if ours || is_hop_by_hop(&lower) || listed.contains(&lower) {
            continue;
        }
        head.headers.push(name, value);
    }
    let no_body = head.status == 204 || head.status == 304 || head.status < 200;
    if request.method == "HEAD" {
        // A HEAD response carries the length a GET would have had.
        if let Some(length) = upstream.headers.get("content-length") {
            head.headers.push("Content-Length", length);
        }
    } else if !no_body {
        head.headers.push("Content-Length", body.len().to_string());
    }
    if keep_alive {
        if request.version == Version::Http10 {
            head.headers.push("Connection", "keep-alive");
        }
    } else {
        head.headers.push("Connection", "close");
    }
    (head, body)
}

async fn send(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    head: ResponseHead,
    body: Vec<u8>,
) {
    let _ = server;
    let mut bytes = write::response_head(&head);
    // A response to HEAD carries the headers a GET would, and no body.
    if request.method != "HEAD" {
        bytes.extend_from_slice(&body);
    }
    let closing = head.headers.has_token("connection", "close");
    Step::new(
        Layer::WebServer,
        "web_server.response.send",
        Direction::Up,
        Kind::Hop,
    )
    .summary(format!(
        "sends {} {} to the client ({} bytes){}",
        head.status,
        head.reason,
        bytes.len(),
        if closing {
            " and closes the connection"
        } else {
            "; the connection stays open"
        }
    ))
    .data(Data::Bytes {
        label: "response to the client".into(),
        bytes: show(&bytes),
    })
    .data(super::show::response_head(&head))
    .emit();
    let _ = conn.write_all(&bytes).await;
}

/// Send an nginx-style error page. After 400, 413, 414, 500 and 501 nginx
/// closes the connection; after 502 or 504 it keeps it if the client wants.
async fn send_error(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    status: u16,
) -> Outcome {
    let keep = request.wants_keep_alive() && !error_page::closes_connection(status);
    let (head, body) = error_page::page(
        status,
        &error_page::nginx_title(status),
        &server.clock.http_date(),
        keep,
    );
    send(server, conn, request, head, body).await;
    if keep {
        Outcome::KeepOpen
    } else {
        Outcome::Close
    }
}

/// The body is over `client_max_body_size`: 413, decided by that knob.
async fn too_large(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    why: String,
) -> Outcome {
    Step::new(
        Layer::WebServer,
        "web_server.limit.body",
        Direction::Within,
        Kind::Decision,
    )
    .summary(why)
    .knob("client_max_body_size", server.config.client_max_body_size)
    .answer(413)
    .emit();
    send_error(server, conn, request, 413).await
}

/// A head that failed to parse: answer with the status nginx sends.
async fn refuse_head(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    e: &ParseError,
    received: &[u8],
    ordinal: u64,
) -> Outcome {
    let status = e.status(Personality::Nginx);
    let cfg = &server.config;
    let mut step = Step::new(
        Layer::WebServer,
        "web_server.request.invalid",
        Direction::Within,
        Kind::Error,
    )
    .ordinal(ordinal)
    .summary(format!("{e}: answers {status} and closes the connection"))
    .answer(status)
    .data(Data::Bytes {
        label: "bytes received".into(),
        bytes: show(received),
    });
    step = match e {
        ParseError::RequestLineTooLong { .. }
        | ParseError::HeaderLineTooLong { .. }
        | ParseError::HeadTooLarge { .. } => {
            step.knob("large_client_header_buffers", cfg.header_buffers_knob())
        }
        ParseError::TooManyHeaders { .. } => step.knob("max_headers", cfg.max_headers),
        _ => step,
    };
    step.emit();
    let (head, body) = error_page::page(status, e.nginx_title(), &server.clock.http_date(), false);
    let request = RequestHead {
        method: String::from("GET"),
        target: String::new(),
        version: Version::Http11,
        headers: Default::default(),
    };
    send(server, conn, &request, head, body).await;
    // Those bytes were the bad head itself, already read: not for lingering.
    let received = conn.buffered().len();
    conn.consume(received);
    Outcome::Close
}

/// The body could not be read: too large (413), too slow (408, no
/// response, as nginx), cut short, or badly chunked (400).
async fn body_failed(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    e: ReadError<()>,
) -> Outcome {
    let cfg = &server.config;
    match e {
        ReadError::Chunked(ChunkedError::TooLarge { .. }) => {
            let why = format!(
                "the chunked body grew past client_max_body_size {}: answers 413",
                cfg.client_max_body_size
            );
            too_large(server, conn, request, why).await
        }
        ReadError::Chunked(c) => {
            Step::new(
                Layer::WebServer,
                "web_server.body.invalid",
                Direction::Within,
                Kind::Error,
            )
            .summary(format!("bad chunked body ({c}): answers 400 and closes"))
            .answer(400)
            .emit();
            send_error(server, conn, request, 400).await
        }
        ReadError::Timeout(_) => {
            Step::new(Layer::WebServer, "web_server.limit.body_timeout", Direction::Within, Kind::Error)
                .summary(format!(
                    "no body bytes within client_body_timeout {}: logs 408 and closes without a response",
                    cfg.client_body_timeout
                ))
                .knob("client_body_timeout", cfg.client_body_timeout)
                .answer(408)
                .emit();
            Outcome::Close
        }
        _ => {
            Step::new(
                Layer::WebServer,
                "web_server.client.close",
                Direction::Within,
                Kind::Error,
            )
            .summary("the client closed the connection before sending the whole body")
            .emit();
            Outcome::Close
        }
    }
}

/// "1st", "2nd", "3rd", "4th"…
fn nth(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("the {n}{suffix}")
}
