//! The framework's response object: status, headers, body bytes.
//!
//! A handler returns a [`Response`]; middleware may add headers on the way
//! up; the framework finally hands it to the app server through
//! `start_response` (WSGI) or `http.response.start` / `.body` (ASGI).
//!
//! Serialization happens here, once: JSON via `serde_json` with
//! `Content-Type: application/json` (RFC 8259 defines no `charset`
//! parameter; JSON between systems is UTF-8), HTML as
//! `text/html; charset=utf-8`. `Content-Length` is the *byte* length of
//! the serialized body, not its character count (`é` is two bytes).
//!
//! Book: "The framework" (book/src/framework.md).

use serde::Serialize;

use crate::http::status::reason;
use crate::http::text::{decimal, push_decimal};

/// One HTTP response on its way up through the framework.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// Headers in the order they were added, names in their usual case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A few words the handler says about its answer for the trace, such as
    /// "with 3 notes". Never sent to the client.
    pub note: Option<String>,
}

impl Response {
    /// A response with a body of the given media type; sets
    /// `Content-Type` and `Content-Length`.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        let headers = vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("Content-Length".to_string(), decimal(body.len() as u64)),
        ];
        Response {
            status,
            headers,
            body,
            note: None,
        }
    }

    /// A JSON response: `application/json`, compact `serde_json` output.
    /// `value` is a `serde_json::Value` or any `Serialize` type (a struct
    /// serializes its fields in declaration order, as `json!` keeps keys).
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        // Writing a `Value` (or a struct of strings and numbers) to a Vec
        // cannot fail: map keys are strings and a Vec does no I/O. The
        // fallback keeps the body valid JSON.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Response::new(status, "application/json", body)
    }

    /// An HTML page: `text/html; charset=utf-8`.
    pub fn html(status: u16, page: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", page.into_bytes())
    }

    /// Plain text: `text/plain; charset=utf-8`.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            text.into().into_bytes(),
        )
    }

    /// `204 No Content`: no body, and neither `Content-Type` nor
    /// `Content-Length` (RFC 9110 §8.6, §15.3.5).
    pub fn no_content() -> Response {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
            note: None,
        }
    }

    /// The status line's text, e.g. `200 OK` (what WSGI's
    /// `start_response` takes).
    pub fn status_line(&self) -> String {
        let reason = reason(self.status);
        let mut line = String::with_capacity(4 + reason.len());
        push_decimal(&mut line, u64::from(self.status));
        if !reason.is_empty() {
            line.push(' ');
            line.push_str(reason);
        }
        line
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Set a header, replacing any earlier value of the same name.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_string(), value)),
        }
    }

    /// Add a header even if one of the same name is there (`Set-Cookie`
    /// is sent once per cookie, RFC 6265 §3).
    pub fn append_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Builder form of [`Response::set_header`].
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.set_header(name, value);
        self
    }

    /// Builder form of [`Response::note`].
    pub fn with_note(mut self, note: impl Into<String>) -> Response {
        self.note = Some(note.into());
        self
    }

    /// The body as text, for summaries and tests.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_has_no_charset_and_byte_length() {
        let r = Response::json(200, &json!({"title": "café"}));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body_text(), r#"{"title":"café"}"#);
        // 16 characters, 17 bytes: é is two bytes in UTF-8.
        assert_eq!(r.header("Content-Length"), Some("17"));
    }

    #[test]
    fn html_says_utf8() {
        let r = Response::html(200, "<p>hi</p>".into());
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.status_line(), "200 OK");
    }

    #[test]
    fn set_header_replaces() {
        let r = Response::text(201, "x")
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        assert_eq!(r.header("X-A"), Some("2"));
        assert_eq!(r.headers.len(), 3);
    }
}
