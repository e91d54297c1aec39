//! roundtrip: watch an HTTP request travel down a real web stack and back up.
//!
//! # Layout
//!
//! Imports point down the stack, never up, and never into a UI:
//!
//! * [`trace`]: the event vocabulary, the recorder, the `Trace` and its exports.
//! * [`http`]: the one HTTP/1.1 codec (heads, framing, chunked bodies) that the
//!   web server, the app server and the lesson client all use.
//! * [`net`]: the transports: real TCP, or in-memory pipes for lessons.
//! * [`server`]: the nginx-like web server: limits, keep-alive, the proxy hop.
//! * [`gateway`]: the app server: HTTP in front, WSGI-shaped sync workers or an
//!   ASGI-shaped event loop behind.
//! * [`framework`]: router, middleware onion, request and response.
//! * [`app`]: the notes app on a real SQLite database.
//! * [`stack`]: assembles a stack from its config, for lessons and `serve`.
//! * [`scenario`]: lesson files, their validation, and the runner (the client).
//! * [`tui`]: the terminal player; it reads only a [`trace::Trace`].

pub mod app;
pub mod clock;
pub mod framework;
pub mod gateway;
pub mod http;
pub mod net;
pub mod scenario;
pub mod server;
pub mod stack;
pub mod tls;
pub mod trace;
pub mod tui;
pub mod units;
