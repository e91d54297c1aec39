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
