//! The WSGI-shaped interface (PEP 3333) and the sync workers that call it.
//!
//! ```text
//! body_chunks = application(environ, start_response)
//! ```
//!
//! The app server builds an [`Environ`] from the HTTP request (CGI-style
//! keys plus `wsgi.*`), calls the application with it and a
//! [`StartResponse`], and writes whatever the app returned as the HTTP
//! response. Each sync worker handles exactly one request at a time.
//!
//! What we simplify: in Python the call blocks its worker's thread. Here a
//! worker is a task that takes one connection at a time and *awaits* the
//! application; while it waits on the database it takes no other request,
//! which is the property that matters (concurrency = number of workers),
//! and the paused clock keeps lessons deterministic.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

pub mod environ;
pub mod gthread;
pub mod start_response;
pub mod workers;
pub mod write_error;

pub use environ::Environ;
pub use start_response::StartResponse;

use super::BoxFuture;

/// A WSGI-shaped application.
pub trait WsgiApp: Send + Sync {
    /// `application(environ, start_response)`: returns the body as a list of
    /// byte chunks. The app must call `start_response` before returning.
    /// `Err` is an exception the app raised out to the server (its
    /// `class: message` line), which the worker answers with a 500.
    fn call<'a>(
        &'a self,
        environ: Environ,
        start_response: &'a mut StartResponse,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>>;
}

/// Start `size` workers, numbered from 1 (the arbiter's fork of each), and
/// wait until every one has returned.
async fn run_workers<F, Fut>(size: usize, worker: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    // A set, so that the workers die with the arbiter when a lesson kills
    // the whole app server; in the instance's span, when it is one of an
    // upstream group's.
    let mut workers = tokio::task::JoinSet::new();
    for n in 1..=size {
        workers.spawn(tracing::Instrument::in_current_span(worker(n)));
    }
    while workers.join_next().await.is_some() {}
}
