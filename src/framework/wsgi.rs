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

use super::application::{Catch, Framework};
use super::exception::Answer;
use super::request::Request;
use crate::gateway::BoxFuture;
use crate::gateway::wsgi::{Environ, StartResponse, WsgiApp};

impl WsgiApp for Framework {
    fn call<'a>(
        &'a self,
        environ: Environ,
        start_response: &'a mut StartResponse,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
        Box::pin(async move {
            let req = Request::from_environ(&environ);
            // A caught exception was logged by the framework (Flask's
            // `handle_exception`) and answered; only an uncaught one
            // reaches the worker.
            let res = match self.answer(req, Catch::Log).await {
                Answer {
                    response: Some(res),
                    ..
                } => res,
                Answer {
                    raised: Some(e), ..
                } => return Err(e.line()),
                Answer { .. } => super::exception::server_error(),
            };
            start_response.call(res.status_line(), res.headers);
            Ok(if res.body.is_empty() {
                Vec::new()
            } else {
                vec![res.body]
            })
        })
    }
}
