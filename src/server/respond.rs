//! What the web server writes to the client: the relayed response, its
//! own error pages, and the `100 Continue` go-ahead.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use super::WebServer;
use super::connection::Outcome;
use super::error_page::{self, SERVER_NAME};
use super::proxy::is_hop_by_hop;
use crate::http::{HttpConn, RequestHead, ResponseHead, Version, write};
use crate::net::Stream;
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for a go-ahead
/// before sending the body. nginx sends `100 Continue` itself when it starts
/// reading the body, after its own checks (a 413 is sent instead of it), and
/// does not pass `Expect` upstream.
pub(super) async fn send_continue(conn: &mut HttpConn<Stream>, head: &RequestHead) {
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
    Step::new(StepId::WebServerContinue, Direction::Up, Kind::Hop)
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
pub(super) fn relay(
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
    let listed = upstream.headers.connection_options();
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

pub(super) async fn send(
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    head: ResponseHead,
    body: Vec<u8>,
) {
    let mut bytes = write::response_head(&head);
    // A response to HEAD carries the headers a GET would, and no body.
    if request.method != "HEAD" {
        bytes.extend_from_slice(&body);
    }
    let closing = head.headers.has_token("connection", "close");
    Step::new(StepId::WebServerResponseSend, Direction::Up, Kind::Hop)
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
pub(super) async fn send_error(
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
    send(conn, request, head, body).await;
    if keep {
        Outcome::KeepOpen
    } else {
        Outcome::Close
    }
}
