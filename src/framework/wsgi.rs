//! The framework as a WSGI application (PEP 3333), like Django's
//! `WSGIHandler`:
//!
//! ```text
//! environ ─▶ Request ─▶ onion ─▶ Response ─▶ start_response("200 OK", headers)
//!                                         └─▶ return [body]
//! ```
//!
//! The app calls `start_response` once, then returns the body as a list of
//! byte chunks (one chunk here: the body is already complete). The app
//! server sends the head together with the first chunk.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

use super::application::Framework;
use super::request::Request;
use crate::gateway::BoxFuture;
use crate::gateway::wsgi::{Environ, StartResponse, WsgiApp};

impl WsgiApp for Framework {
    fn call<'a>(
        &'a self,
        environ: Environ,
        start_response: &'a mut StartResponse,
    ) -> BoxFuture<'a, Vec<Vec<u8>>> {
        Box::pin(async move {
            let req = Request::from_environ(&environ);
            let res = self.handle(req).await;
            start_response.call(res.status_line(), res.headers);
            if res.body.is_empty() {
                Vec::new()
            } else {
                vec![res.body]
            }
        })
    }
}
