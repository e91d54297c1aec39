//! Websocket endpoints: the framework's side of an ASGI websocket scope,
//! as Starlette's `WebSocketRoute` is.
//!
//! ```text
//! scope["type"] == "websocket" ─▶ the websocket routes, by path
//!     found     ─▶ the endpoint runs, for as long as the socket lives
//!     not found ─▶ websocket.close before accept (the server answers 403)
//! ```
//!
//! A path may have both an HTTP route and a websocket route (`/chat`
//! serves its page to a GET and its room to an upgrade): which one runs
//! depends on the scope's type, not the method. The HTTP middleware onion
//! does not wrap websockets here, as Starlette's `BaseHTTPMiddleware`
//! passes every non-HTTP scope straight through.
//!
//! Book: "WebSockets" (book/src/websockets.md).

use crate::gateway::BoxFuture;
use crate::gateway::asgi::{Receive, Send, WebsocketScope};

/// One websocket endpoint: it gets `websocket.connect` first and answers
/// with accept or close, then owns the socket until it ends.
pub trait WebsocketEndpoint: std::marker::Send + Sync {
    fn serve<'a>(
        &'a self,
        scope: WebsocketScope,
        receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A websocket route: an exact path, the endpoint's name for the trace.
pub struct WebsocketRoute {
    pub path: String,
    pub name: &'static str,
    pub endpoint: Box<dyn WebsocketEndpoint>,
}
