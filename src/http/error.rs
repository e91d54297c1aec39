//! Everything that can be wrong with a message head, and the one place that
//! decides which status each error gets.
//!
//! Servers disagree. A request line that is too long is 414 for nginx and
//! for gunicorn ≥ 27.0.0 (400 before); a header line that is too long is
//! 400 for nginx ("Request Header Or Cookie Too Large") but 431 for
//! gunicorn; uvicorn on h11 answers 400 to any head it cannot read.
//! [`ParseError::status`] takes the server's [`Personality`] so the
//! simulator shows each server's real answer.

use thiserror::Error;

use super::parse::LineLimit;

/// Whose rules decide the status of a bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// The web server in front (nginx).
    Nginx,
    /// The WSGI app server behind it (gunicorn 27).
    Gunicorn,
    /// The ASGI app server behind it (uvicorn 0.54 on h11, its HTTP
    /// implementation when httptools is not installed).
    Uvicorn,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("the request line is not `method SP target SP HTTP-version`")]
    BadRequestLine,
    #[error("the method is not a valid token")]
    BadMethod,
    #[error("the method `{0}` is not upper-case: methods are case-sensitive (RFC 9110 §9.1)")]
    MethodCase(String),
    #[error("the HTTP version is not HTTP/1.0 or HTTP/1.1")]
    BadVersion,
    #[error("HTTP version {version} is not supported by an HTTP/1 server")]
    VersionNotSupported { version: String },
    #[error("the request line is longer than {limit}")]
    RequestLineTooLong { limit: LineLimit },
    #[error("a header line is longer than {limit}")]
    HeaderLineTooLong { limit: LineLimit },
    #[error("the request head is larger than {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("more than {limit} bytes arrived and the head has not ended")]
    IncompleteHeadTooLarge { limit: usize },
    #[error("more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error(
        "a header field is malformed (bad name, space before the colon, a folded line, or a control character)"
    )]
    BadHeader,
    #[error("an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)")]
    MissingHost,
    #[error("the {name} header appears more than once")]
    DuplicateHeader { name: String },
    #[error("the response status line is malformed")]
    BadStatusLine,
}

impl ParseError {
    /// The status a server of this personality sends.
    pub fn status(&self, p: Personality) -> u16 {
        use ParseError::*;
        match (self, p) {
            // uvicorn's h11 protocol answers every h11.RemoteProtocolError
            // with 400 "Invalid HTTP request received." (uvicorn
            // protocols/http/h11_impl.py, `handle_events`), even where h11
            // hints 431 (its "Receive buffer too long").
            (_, Personality::Uvicorn) => 400,
            (VersionNotSupported { .. }, Personality::Nginx) => 505,
            (RequestLineTooLong { .. }, Personality::Nginx) => 414,
            // gunicorn 27.0.0 release notes: "Return 414 URI Too Long for a
            // request line over limit_request_line (RFC 9112 §3) (#2487)"
            // (https://github.com/benoitc/gunicorn/releases/tag/27.0.0).
            // gunicorn 26 and older answered 400.
            (RequestLineTooLong { .. }, Personality::Gunicorn) => 414,
            // nginx's 494 "Request Header Or Cookie Too Large", sent as 400.
            (
                HeaderLineTooLong { .. } | HeadTooLarge { .. } | TooManyHeaders { .. },
                Personality::Nginx,
            ) => 400,
            // gunicorn workers/base.py `handle_error`: LimitRequestHeaders
            // is 431.
            (
                HeaderLineTooLong { .. } | HeadTooLarge { .. } | TooManyHeaders { .. },
                Personality::Gunicorn,
            ) => 431,
            _ => 400,
        }
    }
}
