//! The web server: nginx's part of the stack.
//!
//! ```text
//! accept ─▶ read head (limits, client_header_timeout) ─▶ framing ─▶ read body
//!        ─▶ proxy to the app server ─▶ relay the response ─▶ keep-alive?
//! ```
//!
//! It is where 400, 408, 413, 414, 501, 502, 504 and 505 come from: the
//! limits are checked here, so a request that breaks one never reaches the
//! app server. Writing these limits and the framing rules is the lesson, so
//! they are written out here rather than taken from an HTTP server crate.
//!
//! Book: "The journey of a request" (book/src/journey.md).

pub mod balance;
pub mod conditional;
pub mod config;
pub mod connection;
mod dispatch;
pub mod error_page;
pub mod files;
pub mod gzip;
pub mod limit_conn;
pub mod limit_req;
mod linger;
pub mod location;
pub mod preaccess;
pub mod proxy;
pub mod range;
mod refuse;
mod respond;
pub mod show;
pub mod static_files;

pub use config::WebServerConfig;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::Instrument;

use crate::clock::Clock;
use crate::net::{Connector, Listener};
use crate::trace::emit::connection_span;
use proxy::Upstream;

/// One web server: its settings, its upstream, its id counters.
pub struct WebServer {
    pub config: WebServerConfig,
    pub upstream: Upstream,
    pub clock: Clock,
    /// The files `root` and `alias` locations serve.
    pub files: files::Files,
    /// The `limit_req` and `limit_conn` zones.
    pub limits: preaccess::Limits,
    next_conn: AtomicU64,
    next_request: AtomicU64,
    next_boundary: AtomicU64,
}

impl WebServer {
    pub fn new(
        config: WebServerConfig,
        upstream: Connector,
        clock: Clock,
        files: files::Files,
    ) -> Arc<WebServer> {
        Arc::new(WebServer {
            limits: preaccess::Limits::new(&config),
            config,
            upstream: Upstream::new(upstream),
            clock,
            files,
            next_conn: AtomicU64::new(1),
            next_request: AtomicU64::new(1),
            next_boundary: AtomicU64::new(1),
        })
    }

    /// The id of the next request head read (nginx's `$request_id`; ours
    /// counts from 1 so lessons are stable).
    pub fn next_request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// The boundary of the next `multipart/byteranges` answer: nginx
    /// counts them, twenty digits (`ngx_http_range_multipart_header`).
    pub fn next_boundary(&self) -> String {
        format!("{:020}", self.next_boundary.fetch_add(1, Ordering::Relaxed))
    }

    /// Accept connections until the listener closes, one task each. A
    /// connection that fails affects only itself.
    pub async fn run(self: Arc<WebServer>, mut listener: Listener) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            match listener.accept().await {
                Ok(Some(accepted)) => {
                    let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
                    let server = self.clone();
                    // A finished task stays in the set until it is joined:
                    // reap them, or a long-running server grows with every
                    // connection it ever had.
                    while tasks.try_join_next().is_some() {}
                    tasks.spawn(
                        connection::serve(server, accepted, conn).instrument(connection_span(conn)),
                    );
                }
                Ok(None) => break,
                // Out of file descriptors, say: wait, do not spin.
                Err(_) => tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await,
            }
        }
        while tasks.join_next().await.is_some() {}
    }
}
