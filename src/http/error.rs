//! Everything that can be wrong with a message head, and the one place that
//! decides which status each error gets.
//!
//! Servers disagree (LAYERS_REFERENCE §1.6): a request line that is too long
//! is 414 for nginx but 400 for gunicorn; too many headers is 400 for nginx
//! but 431 for gunicorn. [`ParseError::status`] takes the server's
//! [`Personality`] so the simulator shows each server's real answer.

use thiserror::Error;

/// Whose rules decide the status of a bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// The web server in front (nginx).
    Nginx,
    /// The app server behind it (gunicorn / uvicorn style strictness).
    Gunicorn,
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
    #[error("the request line is longer than {limit} bytes")]
    RequestLineTooLong { limit: usize },
    #[error("a header line is longer than {limit} bytes")]
    HeaderLineTooLong { limit: usize },
    #[error("the request head is larger than {limit} bytes")]
    HeadTooLarge { limit: usize },
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
    /// The status a careful server of this personality sends.
    pub fn status(&self, p: Personality) -> u16 {
        use ParseError::*;
        match (self, p) {
            (VersionNotSupported { .. }, Personality::Nginx) => 505,
            (RequestLineTooLong { .. }, Personality::Nginx) => 414,
            // nginx's 494 "Request Header Or Cookie Too Large", sent as 400.
            (
                HeaderLineTooLong { .. } | HeadTooLarge { .. } | TooManyHeaders { .. },
                Personality::Nginx,
            ) => 400,
            (
                HeaderLineTooLong { .. } | HeadTooLarge { .. } | TooManyHeaders { .. },
                Personality::Gunicorn,
            ) => 431,
            _ => 400,
        }
    }

    /// The nginx error-page title for this error (nginx keeps its own names).
    pub fn nginx_title(&self) -> &'static str {
        match self {
            ParseError::HeaderLineTooLong { .. }
            | ParseError::HeadTooLarge { .. }
            | ParseError::TooManyHeaders { .. } => "400 Request Header Or Cookie Too Large",
            ParseError::RequestLineTooLong { .. } => "414 Request-URI Too Large",
            ParseError::VersionNotSupported { .. } => "505 HTTP Version Not Supported",
            _ => "400 Bad Request",
        }
    }
}
