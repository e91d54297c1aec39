//! The app server (gunicorn / uvicorn in the real world): HTTP in front,
//! a Python-shaped interface behind.
//!
//! ```text
//! web server ──HTTP──▶ front (same parser as the web server, gunicorn's limits)
//!                        ├── WSGI: environ + start_response, N sync workers
//!                        └── ASGI: scope + receive/send, one event loop
//! ```
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

pub mod asgi;
pub mod config;
pub mod front;
pub mod work;
pub mod wsgi;

pub use config::{AppServerConfig, Interface, WorkerClass};

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so interfaces can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
