//! Requests the web server refuses itself: a head that does not parse, a
//! body over `client_max_body_size`, a body that is too slow or badly
//! chunked. Each refusal records which rule or setting decided it.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use super::WebServer;
use super::connection::Outcome;
use super::error_page;
use super::respond::{Sent, send, send_error};
use super::send_timeout::Sending;
use crate::http::chunked::ChunkedError;
use crate::http::conn::ReadError;
use crate::http::{HttpConn, ParseError, Personality, RequestHead, Version};
use crate::net::Stream;
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Failure, Kind, StepId, Verdict};

/// The body is over `client_max_body_size`: 413, decided by that knob.
pub(super) async fn too_large(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    why: String,
    measured: (&str, u64),
) -> Outcome {
    Step::new(
        StepId::WebServerLimitBody,
        Direction::Within,
        Kind::Decision,
    )
    .summary(why)
    .knob("client_max_body_size", server.config.client_max_body_size)
    .decision(
        Decision::new(Verdict::Refuse { status: 413 })
            .rule("a body larger than client_max_body_size is refused before it is read")
            .input(measured.0, measured.1),
    )
    .failure(Failure::TooLarge)
    .answer(413)
    .emit();
    send_error(server, conn, request, 413).await
}

/// A head that failed to parse: answer with the status nginx sends.
pub(super) async fn refuse_head(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    e: &ParseError,
    received: &[u8],
    ordinal: u64,
) -> Outcome {
    let status = e.status(Personality::Nginx);
    let cfg = &server.config;
    let mut step = Step::new(
        StepId::WebServerRequestInvalid,
        Direction::Within,
        Kind::Error,
    )
    .ordinal(ordinal)
    .summary(format!("{e}: answers {status} and closes the connection"))
    .decision(
        Decision::new(Verdict::Refuse { status })
            .rule("a request head that breaks RFC 9112 or a buffer limit is refused")
            .input("bytes_received", received.len()),
    )
    .failure(Failure::Invalid)
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
    let (head, body) = error_page::page(
        nginx_page(e),
        server.config.server_tokens,
        &server.clock.http_date(),
        false,
    );
    let request = RequestHead {
        method: String::from("GET"),
        target: String::new(),
        version: Version::Http11,
        headers: Default::default(),
    };
    if send(conn, &request, head, body, Sending::Response).await == Sent::TimedOut {
        return Outcome::Terminate;
    }
    // Those bytes were the bad head itself, already read: not for lingering.
    let received = conn.buffered().len();
    conn.consume(received);
    Outcome::Close
}

/// The page nginx writes for a head it refuses: a header line or a head
/// over its buffers gets the 494 page ("Request Header Or Cookie Too
/// Large", sent as 400); everything else the page of its status.
fn nginx_page(e: &ParseError) -> error_page::Page {
    match e {
        ParseError::HeaderLineTooLong { .. }
        | ParseError::HeadTooLarge { .. }
        | ParseError::TooManyHeaders { .. } => error_page::Page::HeaderTooLarge,
        _ => error_page::Page::Status(e.status(Personality::Nginx)),
    }
}

/// The body could not be read: too large (413), too slow (408, no
/// response, as nginx), cut short, or badly chunked (400).
pub(super) async fn body_failed(
    server: &WebServer,
    conn: &mut HttpConn<Stream>,
    request: &RequestHead,
    e: ReadError<()>,
) -> Outcome {
    let cfg = &server.config;
    match e {
        ReadError::Chunked(ChunkedError::TooLarge { limit }) => {
            let why = format!(
                "the chunked body grew past client_max_body_size {}: answers 413",
                cfg.client_max_body_size
            );
            too_large(server, conn, request, why, ("body_bytes_read", limit)).await
        }
        ReadError::Chunked(c) => {
            Step::new(StepId::WebServerBodyInvalid, Direction::Within, Kind::Error)
                .summary(format!("bad chunked body ({c}): answers 400 and closes"))
                .decision(
                    Decision::new(Verdict::Refuse { status: 400 })
                        .rule("RFC 9112 §7.1: a chunked body must follow the chunk grammar"),
                )
                .failure(Failure::Invalid)
                .answer(400)
                .emit();
            send_error(server, conn, request, 400).await
        }
        ReadError::Timeout(_) => {
            Step::new(StepId::WebServerLimitBodyTimeout, Direction::Within, Kind::Error)
                .summary(format!(
                    "no body bytes within client_body_timeout {}: logs 408 and closes without a response",
                    cfg.client_body_timeout
                ))
                .knob("client_body_timeout", cfg.client_body_timeout)
                .decision(
                    Decision::new(Verdict::Drop { status: 408 })
                        .rule("nginx logs 408 and closes without a response when the body stalls"),
                )
                .failure(Failure::TimedOut)
                .answer(408)
                .emit();
            Outcome::Terminate
        }
        _ => {
            // ngx_http_do_read_client_request_body: "client prematurely
            // closed connection", NGX_HTTP_BAD_REQUEST with the connection
            // marked in error, so 400 is logged and nothing is sent.
            Step::new(StepId::WebServerClientClose, Direction::Within, Kind::Error)
                .summary(
                    "the client closed the connection before sending the whole body: \"client prematurely closed connection\"; logs 400, sends nothing",
                )
                .decision(
                    Decision::new(Verdict::Drop { status: 400 })
                        .rule("nginx logs 400 and sends nothing when the client leaves mid-body"),
                )
                .failure(Failure::Closed)
                .answer(400)
                .emit();
            Outcome::Terminate
        }
    }
}
