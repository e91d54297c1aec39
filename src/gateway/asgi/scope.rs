//! The ASGI HTTP `scope` (ASGI HTTP spec 2.5).
//!
//! Unlike WSGI's environ, headers stay a list of `[name, value]` byte pairs
//! with lower-case names, `path` is percent-decoded *and* UTF-8 decoded,
//! `raw_path` and `query_string` stay bytes, and `client` / `server` are
//! `[host, port]` pairs.

use serde_json::{Value, json};

/// The scope of one HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub http_version: String,
    pub method: String,
    pub scheme: String,
    pub path: String,
    pub raw_path: Vec<u8>,
    pub query_string: Vec<u8>,
    pub root_path: String,
    /// Lower-case names, order and duplicates kept.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub client: Option<(String, u16)>,
    pub server: Option<(String, u16)>,
}

/// Show bytes the way Python's `repr` would: `b"..."`.
pub fn bytes_repr(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

impl Scope {
    /// The scope as ordered key/value pairs, for the trace.
    pub fn entries(&self) -> Vec<(String, Value)> {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(n, v)| json!([bytes_repr(n), bytes_repr(v)]))
            .collect();
        let pair = |p: &Option<(String, u16)>| match p {
            Some((h, port)) => json!([h, port]),
            None => Value::Null,
        };
        vec![
            ("type".into(), json!("http")),
            (
                "asgi".into(),
                json!({"version": "3.0", "spec_version": "2.5"}),
            ),
            ("http_version".into(), json!(self.http_version)),
            ("method".into(), json!(self.method)),
            ("scheme".into(), json!(self.scheme)),
            ("path".into(), json!(self.path)),
            ("raw_path".into(), json!(bytes_repr(&self.raw_path))),
            ("query_string".into(), json!(bytes_repr(&self.query_string))),
            ("root_path".into(), json!(self.root_path)),
            ("headers".into(), Value::Array(headers)),
            ("client".into(), pair(&self.client)),
            ("server".into(), pair(&self.server)),
        ]
    }
}
