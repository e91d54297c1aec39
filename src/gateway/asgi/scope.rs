//! The ASGI HTTP `scope` (ASGI HTTP and WebSocket spec), as uvicorn 0.54
//! fills it: `asgi` says `{"version": "3.0", "spec_version": "2.3"}`, the
//! sub-spec version uvicorn declares (`protocols/http/h11_impl.py`), though
//! the spec itself is at 2.5; and `state` is always there, a copy of the
//! lifespan state (ASGI lifespan spec, "Lifespan State"), `{}` here because
//! the app's lifespan stores nothing.
//!
//! Unlike WSGI's environ, headers stay a list of `[name, value]` byte pairs
//! with lower-case names, `path` is percent-decoded *and* UTF-8 decoded,
//! `raw_path` and `query_string` stay bytes, and `client` / `server` are
//! `[host, port]` pairs.

use serde_json::{Map, Value};

use crate::trace::bytes::{as_is_table, ascii_string, escape_into, push_hex};

/// The HTTP sub-spec version uvicorn 0.54 declares in `scope["asgi"]`.
pub const SPEC_VERSION: &str = "2.3";

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

/// What `bytes_repr` copies as it is: printable ASCII but `\` and `"`.
static REPR_AS_IS: [bool; 256] = as_is_table(b'"');

/// Show bytes the way Python's `repr` would: `b"..."`.
pub fn bytes_repr(b: &[u8]) -> String {
    let mut s = Vec::with_capacity(b.len() + 3);
    s.extend_from_slice(b"b\"");
    escape_into(&mut s, b, &REPR_AS_IS, |c, out| match c {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        _ => push_hex(out, c),
    });
    s.push(b'"');
    ascii_string(s)
}

/// `b"..."` as a JSON string.
pub(crate) fn bytes_value(b: &[u8]) -> Value {
    Value::String(bytes_repr(b))
}

/// A `[name, value]` header pair as a JSON array of two `b"..."` strings.
pub(crate) fn header_pair(name: &[u8], value: &[u8]) -> Value {
    Value::Array(vec![bytes_value(name), bytes_value(value)])
}

impl Scope {
    /// The scope as ordered key/value pairs, for the trace. The values are
    /// built directly (not through `json!`, which serializes every string
    /// once more): this runs for every request `serve` records.
    pub fn entries(&self) -> Vec<(String, Value)> {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(n, v)| header_pair(n, v))
            .collect();
        let pair = |p: &Option<(String, u16)>| match p {
            Some((h, port)) => Value::Array(vec![Value::String(h.clone()), Value::from(*port)]),
            None => Value::Null,
        };
        let text = |s: &str| Value::String(s.to_string());
        let mut asgi = Map::with_capacity(2);
        asgi.insert("version".to_string(), text("3.0"));
        asgi.insert("spec_version".to_string(), text(SPEC_VERSION));
        vec![
            ("type".into(), text("http")),
            ("asgi".into(), Value::Object(asgi)),
            ("http_version".into(), text(&self.http_version)),
            ("method".into(), text(&self.method)),
            ("scheme".into(), text(&self.scheme)),
            ("path".into(), text(&self.path)),
            ("raw_path".into(), bytes_value(&self.raw_path)),
            ("query_string".into(), bytes_value(&self.query_string)),
            ("root_path".into(), text(&self.root_path)),
            ("headers".into(), Value::Array(headers)),
            ("client".into(), pair(&self.client)),
            ("server".into(), pair(&self.server)),
            ("state".into(), Value::Object(Map::new())),
        ]
    }
}

/// The scope of one websocket connection (ASGI WebSocket spec): the HTTP
/// scope's keys less `method`, `scheme` `ws`, and the subprotocols the
/// client offered. One scope lives as long as the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketScope {
    pub http: Scope,
    pub subprotocols: Vec<String>,
}

impl WebsocketScope {
    pub fn entries(&self) -> Vec<(String, Value)> {
        let mut entries: Vec<(String, Value)> = self
            .http
            .entries()
            .into_iter()
            .filter(|(k, _)| k != "method")
            .map(|(k, v)| match k.as_str() {
                "type" => (k, Value::String("websocket".into())),
                "scheme" => (k, Value::String("ws".into())),
                _ => (k, v),
            })
            .collect();
        let protocols = self
            .subprotocols
            .iter()
            .map(|p| Value::String(p.clone()))
            .collect();
        // Before `state`, the spec's order.
        let at = entries.len().saturating_sub(1);
        entries.insert(at, ("subprotocols".into(), Value::Array(protocols)));
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bytes_show_as_python_would_write_them() {
        assert_eq!(bytes_repr(b"/notes?a=1"), "b\"/notes?a=1\"");
        assert_eq!(bytes_repr(b"say \"hi\"\\"), "b\"say \\\"hi\\\"\\\\\"");
        assert_eq!(
            bytes_repr(&[0x00, b'a', 0xe9, b'\r']),
            "b\"\\x00a\\xe9\\x0d\""
        );
        assert_eq!(bytes_repr(b""), "b\"\"");
    }

    #[test]
    fn entries_are_the_scope_dict_in_order_with_uvicorns_spec_version_and_an_empty_state() {
        let scope = Scope {
            http_version: "1.1".into(),
            method: "GET".into(),
            scheme: "http".into(),
            path: "/caf\u{e9}".into(),
            raw_path: b"/caf%C3%A9".to_vec(),
            query_string: b"q=1".to_vec(),
            root_path: String::new(),
            headers: vec![(b"host".to_vec(), b"example.test".to_vec())],
            client: Some(("127.0.0.1".into(), 50001)),
            server: None,
        };
        let entries = scope.entries();
        let expected = vec![
            ("type", json!("http")),
            ("asgi", json!({"version": "3.0", "spec_version": "2.3"})),
            ("http_version", json!("1.1")),
            ("method", json!("GET")),
            ("scheme", json!("http")),
            ("path", json!("/caf\u{e9}")),
            ("raw_path", json!("b\"/caf%C3%A9\"")),
            ("query_string", json!("b\"q=1\"")),
            ("root_path", json!("")),
            ("headers", json!([["b\"host\"", "b\"example.test\""]])),
            ("client", json!(["127.0.0.1", 50001])),
            ("server", Value::Null),
            ("state", json!({})),
        ];
        let got: Vec<(&str, Value)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(got, expected);
        // Key order inside `asgi` is kept too.
        assert_eq!(
            serde_json::to_string(&entries[1].1).unwrap(),
            r#"{"version":"3.0","spec_version":"2.3"}"#
        );
    }
}
