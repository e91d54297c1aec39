//! What went wrong, by kind: a refused connection is not a reset, and
//! neither is a timeout. The upstream-failure lessons (502 vs 504) and the
//! client-gone case (nginx's 499) depend on the difference, so errors keep
//! their kind instead of becoming a string.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use serde::{Deserialize, Serialize};

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// Nothing listens there: `connect()` got ECONNREFUSED.
    Refused,
    /// The peer reset the connection (ECONNRESET).
    Reset,
    /// Writing to a peer that has gone (EPIPE).
    BrokenPipe,
    /// The peer closed the connection (a clean FIN) before it was done.
    Closed,
    /// A deadline passed.
    TimedOut,
    /// The bytes broke the protocol.
    Invalid,
    /// More than a limit allows.
    TooLarge,
    /// Any other I/O error.
    Other,
}

impl Failure {
    /// The kind of an I/O error.
    pub fn of_io(e: &std::io::Error) -> Failure {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::ConnectionReset | K::ConnectionAborted => Failure::Reset,
            K::BrokenPipe => Failure::BrokenPipe,
            K::UnexpectedEof | K::NotConnected => Failure::Closed,
            K::TimedOut | K::WouldBlock => Failure::TimedOut,
            K::InvalidData | K::InvalidInput => Failure::Invalid,
            _ => Failure::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Refused => "connection refused",
            Failure::Reset => "connection reset",
            Failure::BrokenPipe => "broken pipe",
            Failure::Closed => "closed by the peer",
            Failure::TimedOut => "timed out",
            Failure::Invalid => "invalid",
            Failure::TooLarge => "too large",
            Failure::Other => "I/O error",
        }
    }
}
