//! The framework as an ASGI application, like Django's `ASGIHandler` or
//! Starlette:
//!
//! ```text
//! scope ───────────────────────┐
//! receive() → http.request …  ─┴▶ Request ─▶ onion ─▶ Response
//! send(http.response.start {status, headers}) ◀───────────┤
//! send(http.response.body {body, more_body: false}) ◀─────┘
//! ```
//!
//! The body arrives in `http.request` messages until one says
//! `more_body: false`; like Django we read it all before building the
//! request. Header names go out lower-case, as byte strings (ASGI HTTP
//! spec). The `receive` and `send` callables record each message in the
//! trace themselves.
//!
//! Book: "WSGI and ASGI" (book/src/gateway.md).

use super::application::{Catch, Framework};
use super::exception::Answer;
use super::request::Request;
use crate::gateway::BoxFuture;
use crate::gateway::asgi::{AsgiApp, Message, Receive, Scope, Send, WebsocketScope};
use crate::http::headers::latin1_bytes;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

impl AsgiApp for Framework {
    fn call<'a>(
        &'a self,
        scope: Scope,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut body = Vec::new();
            loop {
                match receive.recv().await {
                    Message::HttpRequest {
                        body: chunk,
                        more_body,
                    } => {
                        body.extend_from_slice(&chunk);
                        if !more_body {
                            break;
                        }
                    }
                    // The client left before the body was complete:
                    // nobody is waiting for an answer.
                    Message::HttpDisconnect => return Ok(()),
                    other => {
                        return Err(format!(
                            "receive() returned `{}`, which only send() may carry",
                            other.type_name()
                        ));
                    }
                }
            }
            let Answer { response, raised } = self
                .answer(Request::from_scope(&scope, body), Catch::Reraise)
                .await;
            // Starlette's ServerErrorMiddleware sends its 500 and raises
            // the exception again, so the server logs it.
            let Some(res) = response else {
                return Err(raised.map(|e| e.line()).unwrap_or_default());
            };
            let headers = res
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase().into_bytes(), latin1_bytes(v)))
                .collect();
            send.send(Message::HttpResponseStart {
                status: res.status,
                headers,
            })
            .await?;
            send.send(Message::HttpResponseBody {
                body: res.body,
                more_body: false,
            })
            .await?;
            match raised {
                Some(e) => Err(e.line()),
                None => Ok(()),
            }
        })
    }

    /// Starlette's router for a websocket scope: the route for its path,
    /// or, with none, `websocket.close` before accept (the server then
    /// answers 403).
    fn websocket<'a>(
        &'a self,
        scope: WebsocketScope,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = scope.http.path.clone();
            let route = self.websockets.iter().find(|r| r.path == path);
            Step::new(StepId::FrameworkRoute, Direction::Within, Kind::Decision)
                .summary(match route {
                    Some(r) => format!("matches the websocket {path} to {} → {}", r.path, r.name),
                    None => format!(
                        "no websocket route matches {path}: the router closes before accepting"
                    ),
                })
                .data(Data::Route {
                    method: "WEBSOCKET".into(),
                    path: path.clone(),
                    pattern: route.map(|r| r.path.clone()),
                    params: Vec::new(),
                    allow: Vec::new(),
                })
                .emit();
            match route {
                Some(r) => r.endpoint.serve(scope, receive, send).await,
                None => {
                    let _ = receive.recv_websocket().await;
                    send.send(Message::WebsocketClose {
                        code: 1000,
                        reason: String::new(),
                    })
                    .await
                }
            }
        })
    }

    /// Starlette's lifespan: the app's startup and shutdown handlers run
    /// here (the notes app opens its database before serving, so it has
    /// nothing left to do but answer).
    fn lifespan<'a>(
        &'a self,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            loop {
                match receive.recv().await {
                    Message::LifespanStartup => {
                        send.send(Message::LifespanStartupComplete).await?;
                    }
                    Message::LifespanShutdown => {
                        return send.send(Message::LifespanShutdownComplete).await;
                    }
                    // The server went away without a shutdown message.
                    Message::HttpDisconnect => return Ok(()),
                    other => {
                        return Err(format!(
                            "the lifespan protocol has no `{}` from the server",
                            other.type_name()
                        ));
                    }
                }
            }
        })
    }
}
