//! The opening handshake (RFC 6455 §4): an HTTP/1.1 GET that asks to
//! switch protocols, and the `101 Switching Protocols` that agrees.
//!
//! The server proves it read this handshake (and is not an HTTP server
//! fooled into it) by hashing the client's key with a fixed GUID (§4.2.2,
//! step 5.4):
//!
//! ```text
//! Sec-WebSocket-Accept = base64( SHA-1( Sec-WebSocket-Key ++ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" ) )
//! ```
//!
//! [`Accept`] keeps every stage of that computation, so the trace can show
//! it. The checks on the request are the ones §4.2.1 lists, in its order.
//! What a refusal gets is what uvicorn with the Python `websockets`
//! library (its default when installed) sends (`server.py`,
//! `ServerProtocol.accept`): 405 for a method other than GET, 505 for
//! HTTP/1.0, 426 when Connection lacks `upgrade`, and 400 for the rest,
//! a version other than 13 included. RFC 6455 §4.4 suggests 426 with
//! `Sec-WebSocket-Version: 13` for that one; `websockets` does not.
//!
//! The app server hands a request to the websocket side only when
//! `Connection` lists `upgrade` and `Upgrade` is `websocket`, as uvicorn
//! does ([`uvicorn_upgrades`]); anything else is plain HTTP.
//!
//! Book: "WebSockets" (book/src/websockets.md).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::http::{RequestHead, Version};

/// The GUID every server appends to the key (§1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The one version RFC 6455 defines.
pub const VERSION: &str = "13";

/// Does this request ask to become a websocket (`Upgrade: websocket`)?
/// What the web server looks at before it tunnels.
pub fn is_upgrade(head: &RequestHead) -> bool {
    head.headers.has_token("upgrade", "websocket")
}

/// Does uvicorn take this request to its websocket side? Only when
/// `Connection` lists `upgrade` and the (last) `Upgrade` field, lowercased,
/// is exactly `websocket` (`protocols/http/h11_impl.py`, `_get_upgrade`);
/// anything else goes to the app as an HTTP request.
pub fn uvicorn_upgrades(head: &RequestHead) -> bool {
    head.headers.has_token("connection", "upgrade")
        && head
            .headers
            .get_all("upgrade")
            .last()
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// A handshake request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub key: String,
    /// Subprotocols the client offered, in its order of preference.
    pub protocols: Vec<String>,
}

/// Why a handshake request is refused, and with what status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the method is {0}, and a handshake must be a GET (RFC 6455 §4.2.1)")]
    Method(String),
    #[error("the request is HTTP/1.0, and a handshake needs HTTP/1.1 (RFC 6455 §4.2.1)")]
    Version,
    #[error("Connection does not list `upgrade` (RFC 6455 §4.2.1)")]
    Connection(String),
    #[error("Sec-WebSocket-Key is missing (RFC 6455 §4.2.1)")]
    NoKey,
    #[error("Sec-WebSocket-Key {0:?} is not 16 bytes in base64 (RFC 6455 §4.2.1)")]
    BadKey(String),
    #[error("Sec-WebSocket-Version is {0:?}; this server speaks 13 (RFC 6455 §4.4)")]
    WsVersion(String),
}

impl HandshakeError {
    /// The status `websockets` answers with (`ServerProtocol.accept`).
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::Method(_) => 405,
            HandshakeError::Version => 505,
            HandshakeError::Connection(_) => 426,
            _ => 400,
        }
    }

    /// The exception's words in the body `websockets` writes,
    /// "Failed to open a WebSocket connection: {this}.".
    pub fn websockets_text(&self) -> String {
        let missing_or = |name: &str, value: &str| {
            if value.is_empty() {
                format!("missing {name} header")
            } else {
                format!("invalid {name} header: {value}")
            }
        };
        match self {
            HandshakeError::Method(m) => format!("unsupported HTTP method: {m}"),
            HandshakeError::Version => "unsupported HTTP version: HTTP/1.0".into(),
            HandshakeError::Connection(v) => missing_or("Connection", v),
            HandshakeError::NoKey => "missing Sec-WebSocket-Key header".into(),
            HandshakeError::BadKey(k) => format!("invalid Sec-WebSocket-Key header: {k}"),
            HandshakeError::WsVersion(v) => missing_or("Sec-WebSocket-Version", v),
        }
    }
}

/// Check a handshake request as a server must (§4.2.1).
pub fn check(head: &RequestHead) -> Result<Upgrade, HandshakeError> {
    if !head.method.eq_ignore_ascii_case("GET") {
        return Err(HandshakeError::Method(head.method.clone()));
    }
    if head.version == Version::Http10 {
        return Err(HandshakeError::Version);
    }
    if !head.headers.has_token("connection", "upgrade") {
        let tokens: Vec<&str> = head
            .headers
            .get_all("connection")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        return Err(HandshakeError::Connection(tokens.join(", ")));
    }
    let key = head
        .headers
        .get("sec-websocket-key")
        .ok_or(HandshakeError::NoKey)?
        .trim()
        .to_string();
    match STANDARD.decode(&key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return Err(HandshakeError::BadKey(key)),
    }
    let version = head
        .headers
        .get("sec-websocket-version")
        .unwrap_or("")
        .trim();
    if version != VERSION {
        return Err(HandshakeError::WsVersion(version.to_string()));
    }
    let protocols = head
        .headers
        .get_all("sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Upgrade { key, protocols })
}

/// The accept key, with each stage of its computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// `Sec-WebSocket-Key` as the client sent it.
    pub key: String,
    /// The key with the GUID appended: what is hashed.
    pub concatenated: String,
    /// SHA-1 of that, as 40 hex digits.
    pub sha1_hex: String,
    /// The 20 digest bytes in base64: `Sec-WebSocket-Accept`.
    pub accept: String,
}

/// Compute `Sec-WebSocket-Accept` for a key (§4.2.2).
pub fn accept(key: &str) -> Accept {
    let concatenated = format!("{key}{GUID}");
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        concatenated.as_bytes(),
    );
    let sha1_hex = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Accept {
        key: key.to_string(),
        concatenated,
        sha1_hex,
        accept: STANDARD.encode(digest.as_ref()),
    }
}

/// A client's key: 16 bytes, base64 (§4.1). The bytes come from the
/// caller (the lesson's seeded generator), so a lesson's key is the same
/// on every run.
pub fn client_key(bytes: [u8; 16]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn request(pairs: &[(&str, &str)]) -> RequestHead {
        let mut headers = Headers::new();
        for (n, v) in pairs {
            headers.push(*n, *v);
        }
        RequestHead {
            method: "GET".into(),
            target: "/chat".into(),
            version: Version::Http11,
            headers,
        }
    }

    const GOOD: [(&str, &str); 5] = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    #[test]
    fn the_rfc_sample_key_gives_the_rfc_sample_accept() {
        // RFC 6455 §1.3.
        let a = accept("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(a.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert!(a.concatenated.ends_with(GUID));
    }

    #[test]
    fn a_good_handshake_passes_with_its_subprotocols_in_order() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("Sec-WebSocket-Protocol", "chat.v2, chat.v1"));
        let up = check(&request(&pairs)).unwrap();
        assert_eq!(up.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(up.protocols, ["chat.v2", "chat.v1"]);
    }

    #[test]
    fn each_missing_piece_is_named_with_the_status_websockets_answers() {
        let without = |name: &str| {
            let pairs: Vec<_> = GOOD.iter().copied().filter(|(n, _)| *n != name).collect();
            check(&request(&pairs)).unwrap_err()
        };
        let e = without("Connection");
        assert_eq!(
            (e.status(), &e),
            (426, &HandshakeError::Connection(String::new()))
        );
        assert_eq!(e.websockets_text(), "missing Connection header");
        assert_eq!(without("Sec-WebSocket-Key"), HandshakeError::NoKey);
        let e = without("Sec-WebSocket-Version");
        assert_eq!(
            (e.status(), e.websockets_text()),
            (400, "missing Sec-WebSocket-Version header".to_string())
        );
        let mut v8 = GOOD.to_vec();
        v8.retain(|(n, _)| *n != "Sec-WebSocket-Version");
        v8.push(("Sec-WebSocket-Version", "8"));
        let e = check(&request(&v8)).unwrap_err();
        assert_eq!(
            (e.status(), e.websockets_text()),
            (400, "invalid Sec-WebSocket-Version header: 8".to_string())
        );
        let mut short = GOOD.to_vec();
        short[3] = ("Sec-WebSocket-Key", "c2hvcnQ=");
        assert_eq!(check(&request(&short)).unwrap_err().status(), 400);
        let mut post = request(&GOOD);
        post.method = "POST".into();
        assert_eq!(check(&post), Err(HandshakeError::Method("POST".into())));
        assert_eq!(check(&post).unwrap_err().status(), 405);
    }
}
