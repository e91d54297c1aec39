//! Discarding a request body nobody will read.
//!
//! nginx reads a request body only in the handler that needs it: the
//! proxy reads it to send it upstream. A request the web server answers
//! itself (a 403 from `deny` or `limit_except`, a 503 from `limit_req`,
//! a 405 for a POST to a file, a `return`) still has its body on the
//! connection, and the next request starts after it. So nginx discards
//! it (`ngx_http_discard_request_body`): it sends the answer, then reads
//! the body and drops it, waiting at most `lingering_timeout` between
//! reads. Only then can the connection serve another request; a body
//! that stops arriving closes it. A client that waits for `100 Continue`
//! gets one only before a 2xx (a file, a `return 200`); an error page or
//! a redirect goes without it (nginx's special-response handler marks the
//! expectation tested), so the client learns at once that its body is
//! unwanted and need not send it.
//!
//! The order teaches something: the access checks and the rate limiter
//! decide before a byte of the body is read, so a refused upload costs
//! the server no buffer and the app server nothing at all.
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use std::time::Duration;

use crate::http::conn::ReadError;
use crate::http::{BodyFraming, HttpConn};
use crate::net::Stream;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// Read and drop the body of a request already answered; true when the
/// connection is ready for its next request.
pub(super) async fn discard(
    conn: &mut HttpConn<Stream>,
    framing: BodyFraming,
    limit: u64,
    lingering_timeout: Duration,
) -> bool {
    let gap = Some(lingering_timeout);
    let read = match framing {
        BodyFraming::Empty => return true,
        BodyFraming::Length(n) => conn.read_body_exact(n, gap).await.map(|b| b.len()),
        BodyFraming::Chunked => conn
            .read_body_chunked(limit, gap)
            .await
            .map(|(_, wire)| wire),
    };
    match read {
        Ok(bytes) => {
            Step::new(StepId::WebServerBodyDiscard, Direction::Within, Kind::Step)
                .summary(format!(
                    "discards the body ({bytes} bytes): the request was answered here, so \
                     nothing reads it; it is read and dropped so the connection can serve its \
                     next request"
                ))
                .decision(
                    Decision::new(Verdict::Pass)
                        .rule("nginx reads an unwanted body and drops it (ngx_http_discard_request_body)")
                        .input("bytes", bytes),
                )
                .emit();
            true
        }
        Err(e) => {
            let why = match e {
                ReadError::Timeout(_) => "nothing within lingering_timeout".to_string(),
                ReadError::ClosedEarly | ReadError::ClosedIdle => "the client closed".to_string(),
                ReadError::Chunked(c) => c.to_string(),
                ReadError::TooLarge(n) => format!("over {n} bytes"),
                ReadError::Io(io) => io.to_string(),
                ReadError::Parse(()) => "unreadable".to_string(),
            };
            Step::new(StepId::WebServerBodyDiscard, Direction::Within, Kind::Step)
                .summary(format!(
                    "the body to discard did not arrive ({why}): closes the connection"
                ))
                .decision(
                    Decision::new(Verdict::Close)
                        .rule("a discarded body that stalls past lingering_timeout closes the connection")
                        .knob("lingering_timeout", format!("{}s", lingering_timeout.as_secs())),
                )
                .emit();
            false
        }
    }
}
