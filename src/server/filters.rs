//! nginx's output filters on the way back, in the order a response passes
//! them: Brotli (`ngx_brotli`, which places itself ahead of gzip), gzip,
//! then chunked transfer coding (RFC 9112 §7.1).
//!
//! Order decides which coding a client gets: a response Brotli has
//! encoded carries `Content-Encoding: br`, and gzip leaves an encoded
//! response alone. The two share one "could vary" flag, so one `Vary:
//! Accept-Encoding` is written when `gzip_vary` is on.
//!
//! Book: "The web server" (book/src/web-server.md), "Compression: Brotli".

use crate::http::{RequestHead, ResponseHead};

use super::config::WebServerConfig;

/// Pass a response whose body is not yet chunk-encoded through the
/// compression filters and the chunked encoder.
pub fn on_the_way_back(
    cfg: &WebServerConfig,
    request: &RequestHead,
    head: ResponseHead,
    body: Vec<u8>,
) -> (ResponseHead, Vec<u8>) {
    let (head, body, varies) = super::brotli::filter(&cfg.brotli_settings(), request, head, body);
    super::gzip::filter(&cfg.gzip_settings(), request, head, body, varies)
}
