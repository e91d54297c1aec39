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
//! it. The checks on the request are the ones §4.2.1 lists, in its order;
//! a request that fails one gets 400, except a version other than 13,
//! which gets 426 and `Sec-WebSocket-Version: 13` (§4.4).
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
/// Only such requests are checked as handshakes; others are plain HTTP.
pub fn is_upgrade(head: &RequestHead) -> bool {
    head.headers.has_token("upgrade", "websocket")
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
    Connection,
    #[error("Sec-WebSocket-Key is missing (RFC 6455 §4.2.1)")]
    NoKey,
    #[error("Sec-WebSocket-Key {0:?} is not 16 bytes in base64 (RFC 6455 §4.2.1)")]
    BadKey(String),
    #[error("Sec-WebSocket-Version is {0:?}; this server speaks 13 (RFC 6455 §4.4)")]
    WsVersion(String),
}

impl HandshakeError {
    /// 426 Upgrade Required for a version we do not speak, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::WsVersion(_) => 426,
            _ => 400,
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
        return Err(HandshakeError::Connection);
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
    fn each_missing_piece_is_named_and_a_wrong_version_gets_426() {
        let without = |name: &str| {
            let pairs: Vec<_> = GOOD.iter().copied().filter(|(n, _)| *n != name).collect();
            check(&request(&pairs)).unwrap_err()
        };
        assert_eq!(without("Connection"), HandshakeError::Connection);
        assert_eq!(without("Sec-WebSocket-Key"), HandshakeError::NoKey);
        let e = without("Sec-WebSocket-Version");
        assert_eq!(
            (e.status(), e),
            (426, HandshakeError::WsVersion(String::new()))
        );
        let mut short = GOOD.to_vec();
        short[3] = ("Sec-WebSocket-Key", "c2hvcnQ=");
        assert_eq!(check(&request(&short)).unwrap_err().status(), 400);
        let mut post = request(&GOOD);
        post.method = "POST".into();
        assert_eq!(check(&post), Err(HandshakeError::Method("POST".into())));
    }
}
