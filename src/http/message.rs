//! Request and response heads: the start line and the header fields.

use super::headers::Headers;

/// The HTTP version of a message. Only 1.0 and 1.1 are spoken here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// `method SP request-target SP HTTP-version`, then the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

impl RequestHead {
    /// The path part of the target (before `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query string (after `?`), still percent-encoded.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }

    /// Does the client want the connection kept open after this request?
    /// RFC 9112 §9.3: `close` wins; HTTP/1.1 persists by default; HTTP/1.0
    /// persists only with `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        if self.headers.has_token("connection", "close") {
            return false;
        }
        match self.version {
            Version::Http11 => true,
            Version::Http10 => self.headers.has_token("connection", "keep-alive"),
        }
    }
}

/// `HTTP-version SP status-code SP reason-phrase`, then the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl ResponseHead {
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: super::status::reason(status).to_string(),
            headers: Headers::new(),
        }
    }
}
