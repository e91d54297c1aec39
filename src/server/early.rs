//! The checks nginx makes on a parsed head before it looks for a location:
//! the request line's method and target form ([`super::request_line`]) and
//! the host ([`super::host`]). A request that fails one gets its error
//! page and the connection is closed: nginx has not yet decided to keep
//! it alive at this point (`ngx_http_process_request_header` runs before
//! `ngx_http_handler` sets keep-alive).
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use super::WebServer;
use super::connection::Outcome;
use super::error_page::{self, Page};
use super::host::{self, ValidHost};
use super::request_line;
use super::respond::{Sent, send};
use super::send_timeout::Sending;
use crate::http::headers::latin1_bytes;
use crate::http::target::absolute_form;
use crate::http::{HttpConn, RequestHead};
use crate::net::Stream;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Failure, Kind, StepId, Verdict};

/// nginx's verdict on the method and the target's form; `Some(status)`
/// when it refuses (recorded as `web_server.request_line`).
pub(super) fn request_line(head: &RequestHead) -> Option<u16> {
    let refusal = request_line::judge(&head.method, &head.target)?;
    let form = request_line::form(&head.target);
    Step::new(StepId::WebServerRequestLine, Direction::Within, Kind::Error)
        .summary(format!(
            "{} {} ({}): answers {} and closes",
            head.method,
            head.target,
            form.as_str(),
            refusal.status
        ))
        .decision(
            Decision::new(Verdict::Refuse {
                status: refusal.status,
            })
            .rule(refusal.why)
            .input("method", &head.method)
            .input("target", &head.target)
            .input("form", form.as_str()),
        )
        .failure(Failure::Invalid)
        .answer(refusal.status)
        .emit();
    Some(refusal.status)
}

/// Validate the host of an absolute-form target and the Host field, as
/// nginx does (both, when both are there); returns `$host`, or `Err(400)`.
/// A step records a refusal, and a `$host` that differs from what was
/// sent (case, trailing dot, port).
pub(super) fn host(head: &RequestHead) -> Result<String, u16> {
    let line = absolute_form(&head.target).map(|(authority, _)| authority);
    let field = head.headers.get("host").map(str::to_string);
    let check = |source: &'static str, value: &str| -> Result<ValidHost, u16> {
        host::validate(&latin1_bytes(value)).map_err(|e| {
            Step::new(StepId::WebServerHost, Direction::Within, Kind::Error)
                .summary(format!(
                    "the {source} `{value}` is not a valid host ({e}): answers 400 and closes"
                ))
                .decision(
                    Decision::new(Verdict::Refuse { status: 400 })
                        .rule("nginx validates the host (ngx_http_validate_host): RFC 3986 host characters, no `..`, a numeric port")
                        .input("source", source)
                        .input("host", value)
                        .input("error", e),
                )
                .failure(Failure::Invalid)
                .answer(400)
                .emit();
            400
        })
    };
    let from_line = match &line {
        Some(authority) => Some(check("host in the request line", authority)?),
        None => None,
    };
    let from_field = match &field {
        Some(value) => Some(check("Host field", value)?),
        None => None,
    };
    let (source, sent, valid) = match (from_line, from_field) {
        (Some(v), _) => ("the request line", line.unwrap_or_default(), v),
        (None, Some(v)) => ("the Host field", field.unwrap_or_default(), v),
        // HTTP/1.0 without Host: nginx falls back to the server's name.
        (None, None) => return Ok(String::new()),
    };
    if valid.name != sent {
        let mut decision = Decision::new(Verdict::Rewrite)
            .rule("$host is the host lower-cased, without a trailing dot or the port")
            .input("sent", &sent)
            .input("host", &valid.name);
        if let Some(port) = valid.port {
            decision = decision.input("port", port);
        }
        Step::new(StepId::WebServerHost, Direction::Within, Kind::Decision)
            .summary(format!(
                "$host is {} (from {source}, sent as {sent})",
                valid.name
            ))
            .decision(decision)
            .emit();
    }
    Ok(valid.name)
}

/// Answer an early refusal with nginx's page and close.
pub(super) async fn refuse(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    status: u16,
) -> Outcome {
    let (head, body) = error_page::page(
        Page::Status(status),
        server.config.server_tokens,
        &server.clock.http_date(),
        false,
    );
    match send(conn, request, head, body, Sending::Response).await {
        Sent::TimedOut => Outcome::Terminate,
        Sent::Done | Sent::Failed => Outcome::Close,
    }
}
