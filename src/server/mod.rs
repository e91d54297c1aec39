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

pub mod access;
mod access_phase;
pub mod balance;
pub mod brotli;
mod client_abort;
pub mod conditional;
pub mod config;
pub mod connection;
mod discard;
mod dispatch;
mod early;
pub mod error_log;
pub mod error_page;
pub mod files;
pub mod filters;
pub mod gzip;
pub mod hash;
pub mod host;
pub mod limit_conn;
pub mod limit_except;
pub mod limit_req;
mod linger;
pub mod location;
pub mod preaccess;
pub mod proxy;
pub mod range;
mod refuse;
pub mod request_line;
mod respond;
pub mod send_timeout;
pub mod show;
pub mod static_files;
pub mod tls;
pub mod tokens;
mod upgrade;
pub mod upstream;

pub use config::WebServerConfig;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::Instrument;

use crate::clock::Clock;
use crate::net::{Connector, Listener};
use crate::trace::emit::connection_span;

/// One web server: its settings, its upstream, its id counters.
pub struct WebServer {
    pub config: WebServerConfig,
    /// The app servers behind `proxy_pass`: one, or an upstream group.
    pub upstream: upstream::Pool,
    pub clock: Clock,
    /// The files `root` and `alias` locations serve.
    pub files: files::Files,
    /// The `limit_req` and `limit_conn` zones.
    pub limits: preaccess::Limits,
    /// The TLS side of the `ssl` listener, when there is one.
    pub tls: Option<tls::Terminator>,
    /// The locations of the plain port's own server when `redirect_http`
    /// is on (see [`location::redirect_to_https`]).
    pub redirect_locations: Vec<location::Location>,
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
        WebServer::with_tls(config, upstream, clock, files, None)
    }

    /// A web server that also terminates TLS on its `ssl` listener, whose
    /// port is given with it.
    pub fn with_tls(
        config: WebServerConfig,
        upstream: Connector,
        clock: Clock,
        files: files::Files,
        tls: Option<(tls::Terminator, u16)>,
    ) -> Arc<WebServer> {
        let pool = upstream::Pool::single(upstream, clock);
        WebServer::with_pool(config, pool, clock, files, tls)
    }

    /// A web server in front of `pool` (one app server or a group).
    pub fn with_pool(
        config: WebServerConfig,
        pool: upstream::Pool,
        clock: Clock,
        files: files::Files,
        tls: Option<(tls::Terminator, u16)>,
    ) -> Arc<WebServer> {
        let port = tls.as_ref().map_or(443, |(_, p)| *p);
        let tls = tls.map(|(t, _)| t);
        Arc::new(WebServer {
            limits: preaccess::Limits::new(&config),
            config,
            upstream: pool,
            clock,
            files,
            tls,
            redirect_locations: location::redirect_to_https(port),
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
    pub async fn run(self: Arc<WebServer>, listener: Listener) {
        self.run_listeners(listener, None).await;
    }

    /// Accept on the plain listener and, when given, the `ssl` one (whose
    /// connections start with a TLS handshake), until both close. One
    /// task per connection: a handshake that stalls stalls only its own.
    pub async fn run_listeners(self: Arc<WebServer>, mut plain: Listener, ssl: Option<Listener>) {
        let mut tasks = tokio::task::JoinSet::new();
        let (mut plain_open, mut ssl) = (true, ssl);
        let mut failures = AcceptFailures::default();
        while plain_open || ssl.is_some() {
            let (accepted, is_tls) = tokio::select! {
                a = plain.accept(), if plain_open => (a, false),
                a = accept_some(&mut ssl) => (a, true),
            };
            match accepted {
                Ok(Some(accepted)) => {
                    failures.recovered();
                    let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
                    let server = self.clone();
                    // A finished task stays in the set until it is joined:
                    // reap them, or a long-running server grows with every
                    // connection it ever had.
                    while tasks.try_join_next().is_some() {}
                    tasks.spawn(
                        connection::serve(server, accepted, conn, is_tls)
                            .instrument(connection_span(conn)),
                    );
                }
                Ok(None) if is_tls => ssl = None,
                Ok(None) => plain_open = false,
                // Out of file descriptors, say: record it, wait, do not spin.
                Err(e) => {
                    accept_failed(&e, &mut failures);
                    tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await;
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// The next connection of an optional listener; never, without one.
async fn accept_some(
    listener: &mut Option<Listener>,
) -> std::io::Result<Option<crate::net::Accepted>> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Failed accepts in a row: the first is recorded at once, and then at
/// most one a second, with how many have failed in a row, so a server out of
/// descriptors says so without flooding the trace it is keeping.
#[derive(Default)]
struct AcceptFailures {
    in_a_row: u64,
    last_recorded: Option<tokio::time::Instant>,
}

impl AcceptFailures {
    fn recovered(&mut self) {
        *self = AcceptFailures::default();
    }
}

/// Record a failed `accept()` as nginx's error log line.
fn accept_failed(e: &std::io::Error, failures: &mut AcceptFailures) {
    use crate::trace::emit::Step;
    use crate::trace::{Data, Direction, Failure, Kind, StepId};
    failures.in_a_row += 1;
    let now = tokio::time::Instant::now();
    if failures
        .last_recorded
        .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1))
    {
        return;
    }
    let line = error_log::accept_failed(e);
    Step::new(StepId::WebServerAccept, Direction::Within, Kind::Error)
        .summary(format!(
            "accept() failed ({e}): {} in a row; the connection waits in the backlog, and the \
             web server tries again in {} ms",
            failures.in_a_row,
            crate::net::ACCEPT_RETRY_DELAY.as_millis()
        ))
        .failure(Failure::of_io(e))
        .data(Data::Fields {
            entries: vec![("error_log".into(), line)],
        })
        .emit();
    failures.last_recorded = Some(now);
}
