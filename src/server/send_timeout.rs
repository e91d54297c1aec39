//! `send_timeout`: how long the web server waits for a client to take
//! more of a response.
//!
//! A response goes out in writes. Each write hands the kernel as much as
//! the connection's buffers have room for (the server's send buffer, the
//! client's receive window); a client that reads slowly, or not at all,
//! leaves no room, and the next write waits. nginx arms a timer of
//! `send_timeout` (60 s) each time it has to wait for the socket to become
//! writable again (`ngx_http_set_write_handler`, `ngx_http_writer` in
//! ngx_http_request.c). The timer measures the gap between two successive
//! writes, not the whole response: a client that takes one byte a minute
//! keeps a download alive for ever, and one that takes nothing for
//! `send_timeout` loses it.
//!
//! When the timer fires nginx logs, at level `info` (client connections
//! log their errors there: `c->log_error = NGX_ERROR_INFO`):
//!
//! ```text
//! [info] *1 client timed out (110: Connection timed out) while sending to client, client: …
//! ```
//!
//! "while sending to client" for a proxied response (the upstream module
//! sets that action), "while sending response to client" for a static
//! file. It finalizes the request with 408 (`NGX_HTTP_REQUEST_TIME_OUT`)
//! and closes the connection at once, without a lingering close. The 408
//! reaches only the access log, and only when not one byte had been sent
//! (`ngx_http_terminate_request` keeps the status already sent): a client
//! that got the status line is logged with that status, and with the
//! `$body_bytes_sent` that left, a number smaller than the file.
//!
//! The client sees a response cut short: its head, part of its body, then
//! the end of the connection. One slow reader holds one connection and its
//! buffers; the other connections are served as before.
//!
//! Book: "The web server", section "A client that stops reading:
//! send_timeout" (book/src/web-server.md).

use std::net::SocketAddr;

use crate::http::{HttpConn, RequestHead};
use crate::net::Stream;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Failure, Kind, StepId, Verdict};
use crate::units::Time;

tokio::task_local! {
    /// The client connection a task serves: what a write to it needs to
    /// know for its timer and its log line. Set for each connection.
    static CLIENT: Client;
}

/// One client connection, as the writer and its log line see it.
#[derive(Debug, Clone)]
pub(super) struct Client {
    /// The connection's number (the log's `*N`).
    pub conn: u64,
    pub peer: SocketAddr,
    pub send_timeout: Time,
    /// The first `server_name` (the log's `server:`).
    pub server_name: String,
    /// Where proxied requests go (the log's `upstream:`).
    pub upstream: String,
}

/// Run `f` with `client` as the connection its writes go to.
pub(super) async fn on<F: std::future::Future>(client: Client, f: F) -> F::Output {
    CLIENT.scope(client, f).await
}

/// What the web server is doing when it writes: nginx's log action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// A response it made itself: a file, a redirect, an error page.
    Response,
    /// A response relayed from the app server.
    Proxied,
}

impl Sending {
    /// The words after "while" in nginx's log line.
    pub fn action(self) -> &'static str {
        match self {
            // ngx_http_static_module.c sets this before sending a file.
            Sending::Response => "sending response to client",
            // ngx_http_upstream.c, once the upstream response is read.
            Sending::Proxied => "sending to client",
        }
    }
}

/// How writing a whole response ended.
pub(super) enum Written {
    All,
    /// The connection failed (the client closed it, reset it).
    Failed(std::io::Error),
    /// `send_timeout` passed with no room for the next write; `sent`
    /// bytes had been taken.
    TimedOut {
        sent: usize,
    },
}

/// Write `bytes`, each write within `send_timeout` of the one before.
pub(super) async fn write(conn: &mut HttpConn<Stream>, bytes: &[u8]) -> Written {
    let timeout = CLIENT
        .try_with(|c| c.send_timeout)
        .unwrap_or(Time::secs(60));
    let mut sent = 0;
    while sent < bytes.len() {
        match tokio::time::timeout(timeout.0, conn.write_some(&bytes[sent..])).await {
            Ok(Ok(0)) => return Written::Failed(std::io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => sent += n,
            Ok(Err(e)) => return Written::Failed(e),
            Err(_) => return Written::TimedOut { sent },
        }
    }
    match tokio::time::timeout(timeout.0, conn.flush()).await {
        Ok(Ok(())) => Written::All,
        Ok(Err(e)) => Written::Failed(e),
        Err(_) => Written::TimedOut { sent },
    }
}

/// Record what nginx does when `send_timeout` fires: the info line, and
/// what the access log will say. `head_len` is the response head's size,
/// `status` its status.
pub(super) fn record(
    request: &RequestHead,
    sending: Sending,
    sent: usize,
    total: usize,
    head_len: usize,
    status: u16,
) {
    let client = CLIENT.try_with(Client::clone).ok();
    let timeout = client.as_ref().map_or(Time::secs(60), |c| c.send_timeout);
    // ngx_http_terminate_request: 408 only if nothing was sent.
    let logged = if sent == 0 { 408 } else { status };
    let body_bytes_sent = sent.saturating_sub(head_len);
    let line = client.as_ref().map_or_else(String::new, |c| {
        super::error_log::client_timed_out(
            c.conn,
            sending.action(),
            c.peer,
            &c.server_name,
            request,
            (sending == Sending::Proxied).then_some(c.upstream.as_str()),
        )
    });
    let mut step = Step::new(StepId::WebServerSendTimeout, Direction::Up, Kind::Error)
        .summary(format!(
            "the client took nothing more for send_timeout {timeout}: {sent} of the {total} \
             response bytes left, the rest did not fit in the connection's buffers; logs \
             \"client timed out (110: Connection timed out) while {}\" at info and closes the \
             connection; the access log says {logged} with body_bytes_sent {body_bytes_sent}",
            sending.action()
        ))
        .knob("send_timeout", timeout)
        .decision(
            Decision::new(Verdict::Close)
                .rule(
                    "ngx_http_writer: no write for send_timeout closes the connection; the \
                     status already sent stays in the access log (408 if nothing was sent)",
                )
                .input("bytes_written", sent)
                .input("response_bytes", total)
                .input("status", logged)
                .input("body_bytes_sent", body_bytes_sent),
        )
        .failure(Failure::TimedOut)
        .data(Data::Fields {
            entries: vec![
                ("error_log".into(), line),
                (
                    "access_log".into(),
                    format!(
                        "\"{} {} {}\" {logged} {body_bytes_sent}",
                        request.method,
                        request.target,
                        request.version.as_str()
                    ),
                ),
            ],
        });
    if sent == 0 {
        step = step.answer(408);
    }
    step.emit();
}
