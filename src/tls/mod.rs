//! TLS (RFC 8446, TLS 1.3; RFC 5246, TLS 1.2) as the stack uses it: the
//! pieces both ends share. The web server terminates TLS
//! ([`crate::server::tls`]); a lesson's client speaks it
//! ([`crate::scenario::tls_client`]); rustls does the cryptography for
//! both.
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

pub mod certificate;
pub mod client_hello;
pub mod wire;

use client_hello::{suite_name, version_name};

/// What a finished handshake agreed, as people write it: the version, the
/// cipher suite and the ALPN protocol (`?` or `(none)` when unknown).
/// Both ends read it from their side of the session.
pub struct Agreed {
    pub version: String,
    pub suite: String,
    pub alpn: String,
}

impl Agreed {
    pub fn of(state: &rustls::CommonState) -> Agreed {
        Agreed {
            version: state
                .protocol_version()
                .map_or_else(|| "?".into(), |v| version_name(u16::from(v))),
            suite: state
                .negotiated_cipher_suite()
                .map_or_else(|| "?".into(), |s| suite_name(u16::from(s.suite()))),
            alpn: state.alpn_protocol().map_or_else(
                || "(none)".into(),
                |p| String::from_utf8_lossy(p).into_owned(),
            ),
        }
    }
}
