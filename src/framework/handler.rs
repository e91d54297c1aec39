//! Handlers (Django calls them views, FastAPI endpoints): the function the
//! router picked, `async fn(Request) -> Response`, or `-> Outcome` for one
//! that may raise (see `exception.rs`).
//!
//! Any `Fn(Request) -> impl Future<Output = Response>` (or `Outcome`) is a
//! [`Handler`], so a route takes a plain async closure. The framework wraps each call in two
//! trace steps, `handler.call` on the way in and `handler.return` on the way
//! out, so a handler never writes trace code for its own entry and exit.
//!
//! Book: "The framework" (book/src/framework.md).

use std::future::Future;

use super::exception::{IntoOutcome, Outcome};
use super::request::Request;
use crate::gateway::BoxFuture;

/// Something that turns a request into a response (or raises).
pub trait Handler: Send + Sync {
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Outcome>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future + Send + 'static,
    Fut::Output: IntoOutcome,
{
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Outcome> {
        let fut = self(req);
        Box::pin(async move { fut.await.into_outcome() })
    }
}
