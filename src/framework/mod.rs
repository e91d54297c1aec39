//! The framework: what Django, Flask or FastAPI are to a Python app.
//!
//! ```text
//! app server ──WSGI/ASGI──▶ Request ─▶ middleware onion ─▶ router ─▶ handler
//!            ◀──────────── Response ◀─ (way back up) ◀────────────────┘
//! ```
//!
//! The app server calls the framework through one of its two interfaces
//! ([`wsgi`]: environ + `start_response`; [`asgi`]: scope + receive/send).
//! The framework turns what it got into a [`Request`], sends it through the
//! [`middleware`] onion to the [`router`], which picks a handler by path and
//! method (or answers 404 / 405 itself). The handler's [`Response`] climbs
//! back through the same middleware in reverse and is serialized for the
//! app server.
//!
//! * [`request`] / [`response`]: the objects handlers see and return.
//! * [`router`]: a trie of path segments with `{param}` captures.
//! * [`middleware`]: the onion, and one file per middleware.
//! * [`handler`]: what a route calls.
//! * [`exception`]: what happens when it raises instead.
//! * [`identity`] / [`cookies`]: who is asking, and the session cookie.
//! * [`application`]: [`Framework`] itself, the onion around the router.
//!
//! The router, the onion and the request/response objects are the lesson,
//! so they are written here rather than borrowed from axum.
//!
//! Book: "The framework" (book/src/framework.md).

pub mod application;
pub mod asgi;
pub mod config;
pub mod cookies;
pub mod exception;
pub mod handler;
pub mod identity;
pub mod middleware;
pub mod request;
pub mod response;
pub mod router;
#[cfg(test)]
pub(crate) mod testing;
pub mod websocket;
pub mod wsgi;

pub use application::{Framework, FrameworkBuilder, RouteInfo};
pub use config::FrameworkConfig;
pub use exception::{Answer, Exception, Exceptions, IntoOutcome, Outcome};
pub use handler::Handler;
pub use identity::{Credential, Identity, Rejected, Role, User};
pub use middleware::{Middleware, Next, Pipeline};
pub use request::Request;
pub use response::Response;
pub use router::{Match, RouteError, Router};
