//! The WSGI `environ`: the request as a dict of CGI variables (PEP 3333).
//!
//! Keys as the spec names them: `REQUEST_METHOD`, `SCRIPT_NAME`,
//! `PATH_INFO` (percent-decoded), `QUERY_STRING` (still encoded),
//! `CONTENT_TYPE`, `CONTENT_LENGTH`, `SERVER_NAME`, `SERVER_PORT`,
//! `SERVER_PROTOCOL`, one `HTTP_*` per other header (upper-cased, `-` → `_`,
//! repeats joined with `, `), `REMOTE_ADDR` (the web server's address:
//! gunicorn does not rewrite it from `X-Forwarded-For`), and the `wsgi.*`
//! keys; plus what gunicorn adds: `RAW_URI`, `wsgi.input_terminated`,
//! `SERVER_SOFTWARE`. Values
//! are native strings holding ISO-8859-1 code points, exactly as PEP 3333
//! says; `wsgi.input` holds the body bytes.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

/// An ordered environ: the order the server built it in, for the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environ {
    vars: Vec<(String, String)>,
    /// What `wsgi.input.read()` returns.
    pub input: Vec<u8>,
}

impl Environ {
    pub fn new() -> Environ {
        Environ::default()
    }

    /// Set a key (replacing an earlier value).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every key and value, in order (what the trace shows).
    pub fn entries(&self) -> &[(String, String)] {
        &self.vars
    }

    /// The request headers, recovered from `HTTP_*`, `CONTENT_TYPE` and
    /// `CONTENT_LENGTH` (names come back lower-case with `-`).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, v) in &self.vars {
            if let Some(name) = k.strip_prefix("HTTP_") {
                out.push((name.to_ascii_lowercase().replace('_', "-"), v.clone()));
            } else if k == "CONTENT_TYPE" || k == "CONTENT_LENGTH" {
                out.push((k.to_ascii_lowercase().replace('_', "-"), v.clone()));
            }
        }
        out
    }
}

use std::net::SocketAddr;

use crate::http::RequestHead;
use crate::http::headers::latin1;
use crate::http::target::percent_decode;

/// Addresses trusted to set `X-Forwarded-Proto` (gunicorn's
/// `forwarded_allow_ips` default: `127.0.0.1,::1`).
fn trusted_proxy(peer: &SocketAddr) -> bool {
    peer.ip().is_loopback()
}

impl Environ {
    /// Build the environ for one request, as a WSGI server does.
    /// `peer` is who connected (the web server), `local` where we listen,
    /// `multiprocess` whether other workers may run the app at the same time.
    pub fn from_request(
        head: &RequestHead,
        body: Vec<u8>,
        peer: SocketAddr,
        local: SocketAddr,
        multiprocess: bool,
    ) -> Environ {
        let mut e = Environ::new();
        e.insert("REQUEST_METHOD", head.method.clone());
        e.insert("SCRIPT_NAME", "");
        e.insert(
            "PATH_INFO",
            latin1(&percent_decode(&crate::http::headers::latin1_bytes(
                head.path(),
            ))),
        );
        e.insert("QUERY_STRING", head.query());
        // gunicorn's extra: the target exactly as sent, before decoding:
        // PATH_INFO's raw partner.
        e.insert("RAW_URI", head.target.clone());
        if let Some(ct) = head.headers.get("content-type") {
            e.insert("CONTENT_TYPE", ct);
        }
        if let Some(cl) = head.headers.get("content-length") {
            e.insert("CONTENT_LENGTH", cl);
        }
        e.insert("SERVER_NAME", local.ip().to_string());
        e.insert("SERVER_PORT", local.port().to_string());
        e.insert("SERVER_PROTOCOL", head.version.as_str());
        for (name, _) in head.headers.iter() {
            let lower = name.to_ascii_lowercase();
            // X-User and X_User would both become HTTP_X_USER: gunicorn's
            // `header_map = drop` refuses the underscore form.
            if lower == "content-type" || lower == "content-length" || name.contains('_') {
                continue;
            }
            let key = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
            if e.get(&key).is_none() {
                let joined: Vec<&str> = head.headers.get_all(name).collect();
                e.insert(key, joined.join(", "));
            }
        }
        e.insert("REMOTE_ADDR", peer.ip().to_string());
        e.insert("REMOTE_PORT", peer.port().to_string());
        e.insert("wsgi.version", "(1, 0)");
        let https = trusted_proxy(&peer)
            && head
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        e.insert("wsgi.url_scheme", if https { "https" } else { "http" });
        e.insert("wsgi.input", format!("<wsgi.input: {} bytes>", body.len()));
        e.insert("wsgi.errors", "<wsgi.errors: the server's error log>");
        e.insert("wsgi.multithread", "False");
        e.insert(
            "wsgi.multiprocess",
            if multiprocess { "True" } else { "False" },
        );
        e.insert("wsgi.run_once", "False");
        // The server ends wsgi.input at the body's end (chunked included),
        // so the app may read to EOF (gunicorn sets this; a WSGI 1.0.1
        // server extension).
        e.insert("wsgi.input_terminated", "True");
        e.insert(
            "SERVER_SOFTWARE",
            concat!("roundtrip-appserver/", env!("CARGO_PKG_VERSION")),
        );
        e.input = body;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HeadLimits;
    use crate::http::parse::{Parsed, parse_request_head};

    fn environ(raw: &[u8]) -> Environ {
        let Ok(Parsed::Complete { head, .. }) = parse_request_head(raw, &HeadLimits::GUNICORN)
        else {
            panic!("test request must parse");
        };
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        Environ::from_request(&head, Vec::new(), peer, local, true)
    }

    #[test]
    fn path_info_is_decoded_and_query_string_is_not() {
        let e = environ(b"GET /a%20b?x=%20 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(e.get("PATH_INFO"), Some("/a b"));
        assert_eq!(e.get("QUERY_STRING"), Some("x=%20"));
    }

    #[test]
    fn headers_become_http_keys_and_content_type_does_not() {
        let e = environ(b"POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: curl\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(e.get("HTTP_USER_AGENT"), Some("curl"));
        assert_eq!(e.get("CONTENT_TYPE"), Some("application/json"));
        assert_eq!(e.get("HTTP_CONTENT_TYPE"), None);
    }

    #[test]
    fn repeated_headers_are_joined_with_comma_space() {
        let e = environ(b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\n\r\n");
        assert_eq!(e.get("HTTP_ACCEPT"), Some("a, b"));
    }

    #[test]
    fn underscore_headers_are_dropped() {
        let e = environ(b"GET / HTTP/1.1\r\nHost: h\r\nX_User: admin\r\n\r\n");
        assert_eq!(e.get("HTTP_X_USER"), None);
    }

    #[test]
    fn forwarded_proto_from_a_trusted_proxy_sets_url_scheme() {
        let e = environ(b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n");
        assert_eq!(e.get("wsgi.url_scheme"), Some("https"));
    }

    #[test]
    fn raw_uri_keeps_the_target_as_sent_beside_the_decoded_path_info() {
        let e = environ(b"GET /notes/%C3%A9?q=%20 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(e.get("RAW_URI"), Some("/notes/%C3%A9?q=%20"));
        assert_eq!(e.get("PATH_INFO"), Some("/notes/\u{c3}\u{a9}"));
        assert_eq!(e.get("wsgi.input_terminated"), Some("True"));
        assert!(
            e.get("SERVER_SOFTWARE")
                .is_some_and(|s| s.starts_with("roundtrip-appserver/"))
        );
    }

    #[test]
    fn remote_addr_stays_the_proxys_even_with_x_forwarded_for() {
        let e = environ(b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n");
        assert_eq!(e.get("REMOTE_ADDR"), Some("127.0.0.1"));
        assert_eq!(e.get("HTTP_X_FORWARDED_FOR"), Some("203.0.113.7"));
    }
}
