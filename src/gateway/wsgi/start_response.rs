//! `start_response(status, response_headers)`: how a WSGI app tells the
//! server the status line and headers.
//!
//! PEP 3333: calling it does *not* send anything; the server sends the head
//! only with the first non-empty body chunk, so an app can still change its
//! mind. Calling it a second time is only legal with `exc_info`, which we
//! model as `replace`.

/// The server-side record of what the app passed to `start_response`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartResponse {
    /// e.g. `"200 OK"`: code, one space, reason.
    pub status: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl StartResponse {
    pub fn new() -> StartResponse {
        StartResponse::default()
    }

    /// `start_response(status, headers)`. A second call without
    /// `exc_info` is an error in PEP 3333; the first call wins here.
    pub fn call(&mut self, status: impl Into<String>, headers: Vec<(String, String)>) {
        if self.status.is_none() {
            self.status = Some(status.into());
            self.headers = headers;
        }
    }

    /// `start_response(status, headers, exc_info)`: an error page replaces
    /// a response whose head was not sent yet.
    pub fn replace(&mut self, status: impl Into<String>, headers: Vec<(String, String)>) {
        self.status = Some(status.into());
        self.headers = headers;
    }

    /// The numeric code from the status string, if it is well formed.
    pub fn code(&self) -> Option<u16> {
        let status = self.status.as_deref()?;
        let (code, _) = status.split_once(' ').unwrap_or((status, ""));
        if code.len() != 3 {
            return None;
        }
        code.parse().ok()
    }
}
