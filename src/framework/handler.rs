//! Handlers (Django calls them views, FastAPI endpoints): the function the
//! router picked, `async fn(Request) -> Response`.
//!
//! Any `Fn(Request) -> impl Future<Output = Response>` is a [`Handler`], so
//! a route takes a plain async closure. The framework wraps each call in two
//! trace steps, `handler.call` on the way in and `handler.return` on the way
//! out, so a handler never writes trace code for its own entry and exit.
//!
//! Book: "The framework" (book/src/framework.md).

use std::future::Future;

use super::request::Request;
use super::response::Response;
use crate::gateway::BoxFuture;

/// Something that turns a request into a response.
pub trait Handler: Send + Sync {
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Response>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Response> {
        Box::pin(self(req))
    }
}
