//! nginx's lingering close, after the last response on a connection.
//!
//! Book: "The journey of a request" (book/src/journey.md), "Lingering close".

use super::WebServer;
use crate::http::HttpConn;
use crate::net::Stream;
use crate::trace::emit::Step;
use crate::trace::{Direction, Kind, StepId};

/// nginx's lingering close: send our FIN first, then keep reading (and
/// discarding) what the client still sends, for at most `lingering_time`
/// and until it pauses for `lingering_timeout`. Closing with unread bytes
/// in the socket would make the kernel send a reset, and the client could
/// lose the response it has not read yet (RFC 9112 §9.6).
pub(super) async fn linger(server: &WebServer, conn: &mut HttpConn<Stream>) {
    let _ = conn.shutdown().await;
    let cfg = &server.config;
    let mut announced = false;
    let mut announce = |first: usize| {
        if !announced {
            announced = true;
            Step::new(StepId::WebServerLingeringClose, Direction::Within, Kind::Step)
                .summary(format!(
                    "lingering close: the client is still sending ({first} bytes so far); \
                     reads and discards it for up to lingering_time {} so the client can read the response",
                    cfg.lingering_time
                ))
                .knob("lingering_time", cfg.lingering_time)
                .emit();
        }
    };
    let unread = conn.buffered().len();
    if unread > 0 {
        announce(unread);
        conn.consume(unread);
    }
    let deadline = tokio::time::Instant::now() + cfg.lingering_time.0;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(cfg.lingering_timeout.0.min(left), conn.fill()).await {
            Ok(Ok(n)) if n > 0 => {
                announce(n);
                conn.consume(n);
            }
            _ => break,
        }
    }
}
