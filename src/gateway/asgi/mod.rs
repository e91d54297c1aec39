//! The ASGI-shaped interface and the event loop that runs it.
//!
//! ```text
//! await application(scope, receive, send)
//! ```
//!
//! One application call per HTTP request: the [`Scope`] describes the
//! request, `receive()` yields `http.request` messages with the body, and
//! the app answers with `send(http.response.start)` then
//! `send(http.response.body)`. Every message crosses a real channel and is
//! recorded as it crosses, so the trace shows exactly what the app got.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

pub mod event_loop;
pub mod gate;
pub mod message;
pub mod scope;
pub mod task;
pub mod websocket;

pub use message::{Message, Receive, Send, WsData};
pub use scope::{Scope, WebsocketScope};

use super::BoxFuture;

/// An ASGI-shaped application.
pub trait AsgiApp: std::marker::Send + Sync {
    /// `await application(scope, receive, send)`. An `Err` is an unhandled
    /// exception: the server answers 500 if the response has not started.
    fn call<'a>(
        &'a self,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// `await application({"type": "lifespan", ...}, receive, send)`, once
    /// per event loop before the first request (ASGI lifespan spec):
    /// `receive()` gives `lifespan.startup`, later `lifespan.shutdown`, and
    /// the app answers each with its `.complete`. A separate method, where
    /// Python passes the same callable a different scope type, because
    /// [`Scope`] is the HTTP scope. An app that does not speak lifespan
    /// returns an error, and the server carries on without it, as uvicorn's
    /// `--lifespan auto` does.
    fn lifespan<'a>(&'a self, receive: Receive, send: Send) -> BoxFuture<'a, Result<(), String>> {
        let _ = (receive, send);
        Box::pin(async { Err("the app does not support the lifespan protocol".to_string()) })
    }

    /// `await application({"type": "websocket", ...}, receive, send)`,
    /// once per socket (ASGI WebSocket spec): `receive()` gives
    /// `websocket.connect`, and the app answers `websocket.accept` or
    /// `websocket.close`; then messages flow both ways until one side
    /// closes. A separate method for the same reason as `lifespan`. An app
    /// with no websocket endpoint closes at once, which the server turns
    /// into a 403.
    fn websocket<'a>(
        &'a self,
        scope: WebsocketScope,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = scope;
        Box::pin(async move {
            let _ = receive.recv_websocket().await;
            send.send(Message::WebsocketClose {
                code: 1000,
                reason: String::new(),
            })
            .await
        })
    }
}
