//! What the web server writes to the client: the relayed response, its
//! own error pages, and the `100 Continue` go-ahead.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use super::WebServer;
use super::connection::Outcome;
use super::error_page;
use super::proxy::is_hop_by_hop;
use super::send_timeout::{Sending, Written};
use crate::http::server_timing;
use crate::http::{HttpConn, RequestHead, ResponseHead, Version, write};
use crate::net::Stream;
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Failure, Kind, StepId, Verdict};

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
    // nginx sends it even when the body came with the head (measured with
    // nginx 1.22): it decides from the header, not from what has arrived.
    if !expects {
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

/// The app server's response, made fit for the client, laid out as nginx
/// writes it (`ngx_http_header_filter_module.c`): first the fields nginx
/// writes itself, in its order and casing — `Server`, `Date`,
/// `Content-Type`, `Content-Length`, `Connection` — then the upstream's
/// other fields in their order. The upstream's `Server` and `Date` are
/// replaced by ours (nginx hides them), hop-by-hop fields are dropped, and
/// `Connection` says what we will do: `keep-alive` or `close`, always.
/// `timing`, when set, is this layer's `Server-Timing` entries, appended to
/// whatever the app server sent.
pub(super) fn relay(
    server: &WebServer,
    request: &RequestHead,
    upstream: ResponseHead,
    body: Vec<u8>,
    keep_alive: bool,
    timing: Option<Timing>,
) -> (ResponseHead, Vec<u8>) {
    let mut head = ResponseHead::new(upstream.status);
    head.reason = upstream.reason.clone();
    head.version = Version::Http11;
    head.headers
        .push("Server", server.config.server_tokens.server());
    head.headers.push("Date", server.clock.http_date());
    if let Some(content_type) = upstream.headers.get("content-type") {
        head.headers.push("Content-Type", content_type);
    }
    let no_body = head.status == 204 || head.status == 304 || head.status < 200;
    if request.method == "HEAD" {
        // A HEAD response carries the length a GET would have had.
        if let Some(length) = upstream.headers.get("content-length") {
            head.headers.push("Content-Length", length);
        }
    } else if !no_body {
        if upstream.headers.contains("content-length") || request.version == Version::Http10 {
            head.headers.push("Content-Length", body.len().to_string());
        } else {
            // The app server gave no length (it streamed, chunked or until
            // close): nginx does not count the body it buffered, it sends
            // it chunked to an HTTP/1.1 client (RFC 9112 §7.1). An HTTP/1.0
            // client, which cannot read chunks, gets the length here (nginx
            // would close the connection after the body instead).
            // The body is encoded at the end, after the gzip filter.
            head.headers.push("Transfer-Encoding", "chunked");
        }
    }
    head.headers.push(
        "Connection",
        if keep_alive { "keep-alive" } else { "close" },
    );
    let listed = upstream.headers.connection_options();
    for (name, value) in upstream.headers.iter() {
        let lower = name.to_ascii_lowercase();
        let ours = matches!(
            lower.as_str(),
            "server" | "date" | "content-length" | "content-type"
        );
        if ours || is_hop_by_hop(&lower) || listed.contains(&lower) {
            continue;
        }
        head.headers.push(name, value);
    }
    if let Some(t) = timing {
        // Server-Timing is a list (W3C Server Timing §3): ours follow the
        // app server's metrics in one field.
        let ours = format!(
            "{}, {}",
            server_timing::metric("upstream", "proxy hop to the app server", t.upstream),
            server_timing::metric("web", "web server (total)", t.total)
        );
        let value = match head.headers.get("server-timing") {
            Some(theirs) => format!("{theirs}, {ours}"),
            None => ours,
        };
        head.headers.set("Server-Timing", value);
    }
    // nginx's filter chain: brotli, gzip, then chunked.
    super::filters::on_the_way_back(&server.config, request, head, body)
}

/// How long the web server spent on a request, for `Server-Timing`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// From sending upstream to the whole upstream response read.
    pub upstream: std::time::Duration,
    /// From the request head read to the response ready to send.
    pub total: std::time::Duration,
}

/// How sending a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(super) enum Sent {
    /// Every byte was taken.
    Done,
    /// The write failed: the client had gone.
    Failed,
    /// `send_timeout` passed with the client taking nothing.
    TimedOut,
}

impl Sent {
    /// What becomes of the connection: kept only after a whole response
    /// that keeps it; closed at once (no lingering close) after a
    /// timeout, as nginx's terminate path does.
    pub(super) fn outcome(self, keep: bool) -> Outcome {
        match self {
            Sent::Done if keep => Outcome::KeepOpen,
            Sent::Done | Sent::Failed => Outcome::Close,
            Sent::TimedOut => Outcome::Terminate,
        }
    }
}

/// Write a response to the client, each write within `send_timeout`
/// ([`super::send_timeout`]). A failed write means the client had gone,
/// and a timeout that it stopped reading; each is recorded as what really
/// happened.
pub(super) async fn send(
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    head: ResponseHead,
    body: Vec<u8>,
    sending: Sending,
) -> Sent {
    let mut head = head;
    // The TLS server's `add_header … always` (HSTS), after every other
    // field as nginx adds it: on every response
    // of a TLS connection, never on plain ones (RFC 6797 §7.2).
    if let Some(tls) = conn.get_ref().tls() {
        for (name, value) in &tls.add_header {
            head.headers.push(name.clone(), value.clone());
        }
    }
    let mut bytes = write::response_head(&head);
    let head_len = bytes.len();
    // A response to HEAD carries the headers a GET would, and no body.
    if request.method != "HEAD" {
        bytes.extend_from_slice(&body);
    }
    let closing = head.headers.has_token("connection", "close");
    let verdict = if closing {
        Verdict::Close
    } else {
        Verdict::KeepOpen
    };
    // Showing the bytes (escaped, secrets redacted) is the costliest part
    // of a large response's step: built only when something records it.
    if Step::enabled() {
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
            .decision(Decision::new(verdict).rule(if closing {
                "the response says Connection: close, so the connection ends after it"
            } else {
                "RFC 9112 §9.3: an HTTP/1.1 connection persists unless either side says close"
            }))
            .emit();
    }
    match super::send_timeout::write(conn, &bytes).await {
        Written::All => Sent::Done,
        Written::TimedOut { sent } => {
            super::send_timeout::record(request, sending, sent, bytes.len(), head_len, head.status);
            Sent::TimedOut
        }
        Written::Failed(e) => {
            let failure = Failure::of_io(&e);
            Step::new(StepId::WebServerClientGone, Direction::Up, Kind::Error)
                .summary(format!(
                    "the response could not be written ({}): the client closed the connection \
                     before it got the response; nginx logs 499 (client closed request) and closes",
                    failure.as_str()
                ))
                .decision(
                    Decision::new(Verdict::Drop { status: 499 })
                        .rule("nginx logs 499 when the client closes before the response is sent")
                        .input("response_bytes", bytes.len()),
                )
                .failure(failure)
                .emit();
            Sent::Failed
        }
    }
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
        error_page::Page::Status(status),
        server.config.server_tokens,
        &server.clock.http_date(),
        keep,
    );
    send(conn, request, head, body, Sending::Response)
        .await
        .outcome(keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::net::Connector;
    use crate::server::WebServerConfig;

    fn server() -> std::sync::Arc<WebServer> {
        let connector = Connector::Tcp("127.0.0.1:9".parse().expect("an address"));
        let files = crate::server::files::Files::bundled("/srv/www", &[]);
        WebServer::new(
            WebServerConfig::default(),
            connector,
            Clock::starting_at(0),
            files,
        )
    }

    fn get(version: Version) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            target: "/".into(),
            version,
            headers: Default::default(),
        }
    }

    fn names(head: &ResponseHead) -> Vec<String> {
        head.headers.iter().map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn nginx_writes_its_own_fields_first_in_its_order_and_casing() {
        let mut up = ResponseHead::new(201);
        up.headers.push("location", "/notes/4");
        up.headers.push("content-type", "application/json");
        up.headers.push("content-length", "2");
        up.headers.push("server", "uvicorn");
        let (head, _) = relay(
            &server(),
            &get(Version::Http11),
            up,
            b"{}".to_vec(),
            true,
            None,
        );
        assert_eq!(
            names(&head),
            [
                "Server",
                "Date",
                "Content-Type",
                "Content-Length",
                "Connection",
                "location"
            ]
        );
        assert_eq!(head.headers.get("connection"), Some("keep-alive"));
        assert_eq!(
            head.headers.get("server"),
            Some(crate::server::tokens::PRODUCT_VERSION)
        );
    }

    #[test]
    fn a_body_of_unknown_length_is_sent_chunked_to_an_http_1_1_client() {
        let mut up = ResponseHead::new(200);
        up.headers.push("Content-Type", "text/plain");
        let (head, body) = relay(
            &server(),
            &get(Version::Http11),
            up,
            b"hello".to_vec(),
            false,
            None,
        );
        assert_eq!(
            names(&head),
            [
                "Server",
                "Date",
                "Content-Type",
                "Transfer-Encoding",
                "Connection"
            ]
        );
        assert_eq!(body, b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(head.headers.get("connection"), Some("close"));
    }
}
