//! HTTP/1.1, the one codec every layer shares: the web server's front and
//! its proxy hop, the app server's front, and the lesson client all use the
//! code in this module (RFC 9112).
//!
//! * [`parse`]: request and response heads, tokenized by `httparse`, with the
//!   limits the caller chooses (three outcomes: complete, partial, error).
//! * [`framing`]: how long is the body? (RFC 9112 §6.3, in order).
//! * [`chunked`]: the chunked transfer coding, decoded incrementally.
//! * [`conn`]: a buffered connection that reads heads and bodies.
//! * [`write`]: heads back to bytes.
//! * [`text`]: numbers and short texts without `format!` (hot paths).
//! * [`error`]: every parse error and the status a careful server sends.
//!
//! Writing the framing rules and limits ourselves *is* the lesson, so they
//! are here; tokenizing the head is not, so `httparse` does it.
//!
//! Book: "The journey of a request" (book/src/journey.md).

pub mod chunked;
pub mod conn;
pub mod error;
pub mod framing;
pub mod headers;
pub mod message;
pub mod parse;
pub mod server_timing;
pub mod status;
pub mod target;
pub mod text;
pub mod write;
pub mod ws;

pub use conn::HttpConn;
pub use error::{ParseError, Personality};
pub use framing::{BodyFraming, FramingError, ResponseFraming};
pub use headers::Headers;
pub use message::{RequestHead, ResponseHead, Version};
pub use parse::{HeadLimits, LineLimit, Parsed};
