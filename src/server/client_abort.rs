//! The client leaves while the web server waits for the app server:
//! nginx's 499.
//!
//! While a request is upstream, nginx keeps watching the client's socket
//! (`ngx_http_upstream_check_broken_connection`). Bytes the client sends
//! meanwhile (a pipelined request) are left for later; but if the socket
//! reports end of file, the client is gone, nobody will read the answer,
//! and nginx gives up on the request: "client prematurely closed
//! connection, so upstream connection is closed too". It closes the
//! upstream connection and logs status 499, nginx's own code
//! (`NGX_HTTP_CLIENT_CLOSED_REQUEST`), which no client ever receives.
//! `proxy_ignore_client_abort on` would let the upstream request finish
//! instead (ngx_http_proxy_module docs; we keep nginx's default, off).
//!
//! The app server is not told. A sync worker goes on running the handler
//! to the end and then writes into a closed socket; an ASGI app could
//! notice an `http.disconnect` from `receive()`, but a handler that does
//! not ask runs to the end too. The work is done for nobody: that is the
//! lesson of a client-side timeout shorter than the server's.
//!
//! Book: "When things fail" (book/src/failures.md).

use crate::http::{HttpConn, RequestHead};
use crate::net::Stream;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Failure, Kind, StepId, Verdict};

/// How much a client may send ahead (a pipelined request) while we watch
/// for it leaving; past this we stop reading and wait, as nginx stops
/// peeking when its buffer is full.
const LOOKAHEAD: usize = 64 * 1024;

/// Resolves when the client closes its side of the connection (or the
/// socket fails); bytes it sends meanwhile stay buffered for the next
/// request.
pub async fn gone(conn: &mut HttpConn<Stream>) {
    loop {
        if conn.buffered().len() >= LOOKAHEAD {
            return std::future::pending().await;
        }
        match conn.fill().await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Record the 499: the request is abandoned and its upstream connection
/// closed.
pub fn record(head: &RequestHead) {
    Step::new(StepId::WebServerClientGone, Direction::Up, Kind::Error)
        .summary(format!(
            "the client closed the connection while {} {} was upstream: \"client prematurely closed connection, so upstream connection is closed too\"; logs 499, sends nothing",
            head.method, head.target
        ))
        .knob("proxy_ignore_client_abort", "off")
        .decision(
            Decision::new(Verdict::Drop { status: 499 })
                .rule("nginx stops a proxied request whose client has gone, and logs 499")
                .input("request", format!("{} {}", head.method, head.target)),
        )
        .failure(Failure::Closed)
        .answer(499)
        .emit();
}
