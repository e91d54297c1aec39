//! The framework's request object: what a handler reads.
//!
//! The app server hands the framework either a WSGI `environ` (CGI-style
//! strings) or an ASGI `scope` plus body messages. Both become one
//! [`Request`], as Django builds a `WSGIRequest` or an `ASGIRequest` that
//! views use the same way. The router later fills in [`Request::params`]
//! and the middleware fill in [`Request::request_id`] and [`Request::json`].
//!
//! ```text
//! environ {REQUEST_METHOD, PATH_INFO, HTTP_*…} + wsgi.input ─┐
//!                                                            ├─▶ Request
//! scope {method, path, headers…} + http.request bodies ──────┘
//! ```
//!
//! Book: "The framework" (book/src/framework.md).

use serde_json::Value;

use super::identity::Identity;
use crate::gateway::asgi::Scope;
use crate::gateway::wsgi::Environ;
use crate::http::headers::{latin1, latin1_bytes};

/// The protocol assumed when the app server did not say.
const DEFAULT_VERSION: &str = "HTTP/1.1";

/// One HTTP request as the framework and its handlers see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Upper-case method, e.g. `GET`.
    pub method: String,
    /// The decoded path, e.g. `/notes/7` (no query string).
    pub path: String,
    /// The query string as it came, still percent-encoded, without `?`.
    pub query: String,
    /// The protocol, e.g. `HTTP/1.1` (`SERVER_PROTOCOL`, or ASGI's
    /// `http_version` with the prefix).
    pub version: String,
    /// Headers in arrival order, names lower-case, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The request body, read in full.
    pub body: Vec<u8>,
    /// Route parameters the router captured, e.g. `[("id", "7")]`.
    pub params: Vec<(String, String)>,
    /// The id the `request_id` middleware settled on.
    pub request_id: Option<String>,
    /// The body parsed by the `json_body` middleware, when it was JSON.
    pub json: Option<Value>,
    /// `http` or `https`: WSGI's `wsgi.url_scheme`, ASGI's `scope["scheme"]`.
    pub scheme: String,
    /// Who is asking, once the `authentication` middleware has run
    /// (`None` before it, or when no such middleware is installed).
    pub identity: Option<Identity>,
}

impl Request {
    /// A request with a method and a path; handy in tests and examples.
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            version: DEFAULT_VERSION.to_string(),
            scheme: "http".to_string(),
            ..Request::default()
        }
    }

    /// Add a header (name lower-cased).
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Replace the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Build a request from a WSGI environ.
    ///
    /// PEP 3333 stores `PATH_INFO` as "bytes in a native string": one char
    /// per byte, ISO-8859-1. Like Werkzeug, we turn it back into bytes and
    /// decode those as UTF-8, so `/caf%C3%A9` routes as `/café`.
    pub fn from_environ(environ: &Environ) -> Request {
        let get = |key: &str| environ.get(key).unwrap_or_default().to_string();
        let path_bytes = latin1_bytes(&get("PATH_INFO"));
        let mut path = String::from_utf8_lossy(&path_bytes).into_owned();
        if path.is_empty() {
            path.push('/');
        }
        Request {
            method: get("REQUEST_METHOD"),
            path,
            query: get("QUERY_STRING"),
            version: environ
                .get("SERVER_PROTOCOL")
                .unwrap_or(DEFAULT_VERSION)
                .to_string(),
            headers: environ.headers(),
            body: environ.input.clone(),
            scheme: environ.get("wsgi.url_scheme").unwrap_or("http").to_string(),
            ..Request::default()
        }
    }

    /// Build a request from an ASGI scope and the body the app received
    /// through `http.request` messages.
    ///
    /// The scope's `path` is already decoded to text; header names and
    /// values are bytes (ISO-8859-1 on the wire, as HTTP says).
    pub fn from_scope(scope: &Scope, body: Vec<u8>) -> Request {
        let headers = scope
            .headers
            .iter()
            .map(|(n, v)| {
                let mut name = latin1(n);
                name.make_ascii_lowercase();
                (name, latin1(v))
            })
            .collect();
        let path = if scope.path.is_empty() {
            "/".to_string()
        } else {
            scope.path.clone()
        };
        Request {
            method: scope.method.to_ascii_uppercase(),
            path,
            query: String::from_utf8_lossy(&scope.query_string).into_owned(),
            version: ["HTTP/", &scope.http_version].concat(),
            headers,
            body,
            scheme: scope.scheme.clone(),
            ..Request::default()
        }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query-string parameter, as it came (still
    /// percent-encoded): `?ms=250` gives `Some("250")` for `ms`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// A route parameter the router captured.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type of `Content-Type`, lower-case, without parameters:
    /// `application/json; charset=utf-8` gives `application/json`.
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let essence = value.split(';').next().unwrap_or_default().trim();
        Some(essence.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_becomes_request_with_utf8_path_and_lower_case_headers() {
        let mut environ = Environ::new();
        environ.insert("REQUEST_METHOD", "POST");
        // "/café" as PEP 3333 carries it: the UTF-8 bytes as latin-1 chars.
        environ.insert("PATH_INFO", latin1("/café".as_bytes()));
        environ.insert("QUERY_STRING", "a=1");
        environ.insert("CONTENT_TYPE", "application/json");
        environ.insert("HTTP_X_REQUEST_ID", "7");
        environ.input = b"{}".to_vec();
        let req = Request::from_environ(&environ);
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/café");
        assert_eq!(req.query, "a=1");
        assert_eq!(req.header("X-Request-Id"), Some("7"));
        assert_eq!(req.media_type().as_deref(), Some("application/json"));
        assert_eq!(req.body, b"{}");
    }

    #[test]
    fn scope_becomes_request() {
        let scope = Scope {
            http_version: "1.1".into(),
            method: "GET".into(),
            scheme: "http".into(),
            path: "/notes/7".into(),
            raw_path: b"/notes/7".to_vec(),
            query_string: b"x=y".to_vec(),
            root_path: String::new(),
            headers: vec![(b"host".to_vec(), b"example.test".to_vec())],
            client: None,
            server: None,
        };
        let req = Request::from_scope(&scope, Vec::new());
        assert_eq!(req.path, "/notes/7");
        assert_eq!(req.query, "x=y");
        assert_eq!(req.header("host"), Some("example.test"));
    }

    #[test]
    fn media_type_drops_parameters() {
        let req = Request::new("POST", "/")
            .with_header("Content-Type", "Application/JSON; charset=utf-8");
        assert_eq!(req.media_type().as_deref(), Some("application/json"));
    }
}
