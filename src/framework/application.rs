//! The framework as one application: the middleware onion around a router
//! that calls handlers.
//!
//! ```text
//! Request ─▶ middleware 1 ─▶ … ─▶ middleware N ─▶ router ─▶ handler
//! Response ◀──────────────── (same layers, in reverse) ◀──────┘
//! ```
//!
//! The router is the innermost layer of the onion. It records its verdict
//! (`framework.route`) and answers 404 or 405 itself; on a match it calls
//! the handler, wrapped in `handler.call` / `handler.return` steps. The
//! [`Framework`] then speaks both of the app server's interfaces: it is a
//! WSGI application and an ASGI application at once (see `wsgi.rs` and
//! `asgi.rs`), as Django ships both `WSGIHandler` and `ASGIHandler`.
//!
//! Book: "The framework" (book/src/framework.md).

use std::fmt;

use serde_json::json;

use super::exception::{Answer, Exception, Exceptions, Outcome, server_error};
use super::handler::Handler;
use super::middleware::{Middleware, Pipeline};
use super::request::Request;
use super::response::Response;
use super::router::{Match, RouteError, Router};
use crate::gateway::BoxFuture;
use crate::http::text::decimal;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// A handler and the name the trace calls it by.
struct Route {
    name: &'static str,
    handler: Box<dyn Handler>,
}

/// One route as the stack diagram lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: String,
    pub pattern: String,
    pub handler: String,
}

/// The innermost layer: find the route, call its handler.
struct Dispatch {
    router: Router<Route>,
}

/// A web framework: routes plus middleware. Build one with
/// [`Framework::builder`].
pub struct Framework {
    dispatch: Dispatch,
    pipeline: Pipeline,
    routes: Vec<RouteInfo>,
    exceptions: Exceptions,
    pub(crate) websockets: Vec<super::websocket::WebsocketRoute>,
}

/// Collects routes and middleware; [`FrameworkBuilder::build`] finishes.
pub struct FrameworkBuilder {
    router: Router<Route>,
    pipeline: Pipeline,
    routes: Vec<RouteInfo>,
    exceptions: Exceptions,
    websockets: Vec<super::websocket::WebsocketRoute>,
}

/// What the framework does after it answered a caught exception with
/// its 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catch {
    /// Log it and return the 500 (Flask's `handle_exception`, under WSGI).
    Log,
    /// Send the 500, then raise the exception again for the server to log
    /// (Starlette's `ServerErrorMiddleware`, under ASGI).
    Reraise,
}

impl Framework {
    pub fn builder() -> FrameworkBuilder {
        FrameworkBuilder {
            router: Router::new(),
            pipeline: Pipeline::new(),
            routes: Vec::new(),
            exceptions: Exceptions::default(),
            websockets: Vec::new(),
        }
    }

    /// Run one request through the onion, the router and a handler; an
    /// exception that unwinds out of them becomes the framework's 500.
    pub async fn handle(&self, req: Request) -> Response {
        match self.answer(req, Catch::Log).await.response {
            Some(res) => res,
            None => server_error(),
        }
    }

    /// Run one request, then deal with an exception as
    /// `[stack.framework] exceptions` says: answer 500 (`catch`), or let
    /// it out unanswered (`propagate`). A caught exception is raised again
    /// after the answer only under ASGI (`Catch::Reraise`), as Starlette's
    /// `ServerErrorMiddleware` does so that the server logs it; a WSGI
    /// framework (Flask's `handle_exception`) logs it itself and returns
    /// the 500 (`Catch::Log`).
    pub async fn answer(&self, req: Request, after: Catch) -> Answer {
        // Kept only for the trace: every request would pay for the copy.
        let (path, method) = if Step::enabled() {
            (req.path.clone(), req.method.clone())
        } else {
            (String::new(), String::new())
        };
        match self.pipeline.run(req, &self.dispatch).await {
            Ok(res) => Answer {
                response: Some(res),
                raised: None,
            },
            Err(e) => {
                let caught = self.exceptions == Exceptions::Catch;
                let summary = if caught && after == Catch::Reraise {
                    format!(
                        "the outermost error layer catches {} from {} on {path}: answers 500 Internal Server Error, then raises it again for the server to log",
                        e.line(),
                        e.raised_in
                    )
                } else if caught {
                    format!(
                        "the framework catches {} from {} on {path}: logs \"Exception on {path} [{method}]\" and answers 500 Internal Server Error; the server never sees the exception",
                        e.line(),
                        e.raised_in
                    )
                } else {
                    format!(
                        "{} from {} on {path} leaves the framework uncaught: the app server must answer",
                        e.line(),
                        e.raised_in
                    )
                };
                let mut step = Step::new(StepId::FrameworkException, Direction::Up, Kind::Error)
                    .summary(summary)
                    .data(Data::Fields {
                        entries: e.fields(),
                    })
                    .knob("exceptions", self.exceptions.as_str());
                if caught {
                    step = step.answer(500);
                }
                step.emit();
                let raised = (!caught || after == Catch::Reraise).then_some(e);
                Answer {
                    response: caught.then(server_error),
                    raised,
                }
            }
        }
    }

    /// Middleware names, outermost first.
    pub fn middleware_names(&self) -> Vec<String> {
        self.pipeline.names()
    }

    /// Every route in the order it was added.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.routes.clone()
    }

    /// Handler names in route order, each once.
    pub fn handler_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for route in self.routes() {
            if !names.contains(&route.handler) {
                names.push(route.handler);
            }
        }
        names
    }
}

impl fmt::Debug for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framework")
            .field("middleware", &self.middleware_names())
            .field("routes", &self.routes())
            .finish()
    }
}

impl FrameworkBuilder {
    /// Route `method` on `pattern` (e.g. `/notes/{id}`) to a handler that
    /// the trace calls `name`.
    pub fn route(
        mut self,
        method: &str,
        pattern: &str,
        name: &'static str,
        handler: impl Handler + 'static,
    ) -> Result<FrameworkBuilder, RouteError> {
        let route = Route {
            name,
            handler: Box::new(handler),
        };
        self.router.route(method, pattern, route)?;
        self.routes.push(RouteInfo {
            method: method.to_string(),
            pattern: pattern.to_string(),
            handler: name.to_string(),
        });
        Ok(self)
    }

    /// Serve websockets on exactly `path` with `endpoint` (Starlette's
    /// `WebSocketRoute`); the trace calls it `name`.
    pub fn websocket(
        mut self,
        path: &str,
        name: &'static str,
        endpoint: impl super::websocket::WebsocketEndpoint + 'static,
    ) -> FrameworkBuilder {
        self.websockets.push(super::websocket::WebsocketRoute {
            path: path.to_string(),
            name,
            endpoint: Box::new(endpoint),
        });
        self
    }

    /// Add a middleware inside the ones already added: the first added is
    /// the outermost.
    pub fn middleware(mut self, middleware: impl Middleware + 'static) -> FrameworkBuilder {
        self.pipeline.push(Box::new(middleware));
        self
    }

    /// [`FrameworkBuilder::middleware`] for a middleware already boxed.
    pub fn middleware_boxed(mut self, middleware: Box<dyn Middleware>) -> FrameworkBuilder {
        self.pipeline.push(middleware);
        self
    }

    /// Who answers an exception that reaches the outermost layer.
    pub fn exceptions(mut self, exceptions: Exceptions) -> FrameworkBuilder {
        self.exceptions = exceptions;
        self
    }

    pub fn build(self) -> Framework {
        Framework {
            dispatch: Dispatch {
                router: self.router,
            },
            pipeline: self.pipeline,
            routes: self.routes,
            exceptions: self.exceptions,
            websockets: self.websockets,
        }
    }
}

impl Handler for Dispatch {
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(self.dispatch(req))
    }
}

impl Dispatch {
    /// The router's verdict, then either its own answer or the handler's.
    async fn dispatch(&self, req: Request) -> Outcome {
        match self.router.at(&req.method, &req.path) {
            Match::NotFound => Ok(not_found(&req)),
            Match::MethodNotAllowed { allow } => Ok(method_not_allowed(&req, allow)),
            Match::Found {
                handler: route,
                params,
                pattern,
            } => {
                if Step::enabled() {
                    let allow = self.router.allowed(&req.path);
                    #[rustfmt::skip]
                    let summary = [
                        "matches ", &req.method, " ", &req.path, " to ", pattern, " → ", route.name,
                    ]
                    .concat();
                    route_step(&req, Some(pattern), &params, allow)
                        .summary(summary)
                        .emit();
                }
                call_handler(route, req, params).await
            }
        }
    }
}

/// The `framework.route` step, before its summary.
fn route_step(
    req: &Request,
    pattern: Option<&str>,
    params: &[(String, String)],
    allow: Vec<String>,
) -> Step {
    Step::new(StepId::FrameworkRoute, Direction::Within, Kind::Decision).data(Data::Route {
        method: req.method.clone(),
        path: req.path.clone(),
        pattern: pattern.map(str::to_string),
        params: params.to_vec(),
        allow,
    })
}

/// No route has this path: the router answers 404.
fn not_found(req: &Request) -> Response {
    let res = Response::json(404, &json!({"detail": "Not Found"}));
    route_step(req, None, &[], Vec::new())
        .summary(format!(
            "no route matches {}: answers {}",
            req.path,
            res.status_line()
        ))
        .answer(404)
        .emit();
    res
}

/// The path exists, the method does not: 405, which MUST carry `Allow`
/// (RFC 9110 §15.5.6).
fn method_not_allowed(req: &Request, allow: Vec<String>) -> Response {
    let allow_header = allow.join(", ");
    let res = Response::json(405, &json!({"detail": "Method Not Allowed"}))
        .with_header("Allow", allow_header.clone());
    route_step(req, None, &[], allow)
        .summary(format!(
            "{} exists but not for {} (Allow: {allow_header}): answers {}",
            req.path,
            req.method,
            res.status_line()
        ))
        .answer(405)
        .emit();
    res
}

/// Call the handler between `handler.call` and `handler.return`.
async fn call_handler(route: &Route, mut req: Request, params: Vec<(String, String)>) -> Outcome {
    let name = route.name;
    let recording = Step::enabled();
    if recording {
        let mut summary = ["calls ", name, "("].concat();
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                summary.push_str(", ");
            }
            summary.push_str(k);
            summary.push('=');
            summary.push_str(v);
        }
        summary.push(')');
        let mut entries = vec![("handler".to_string(), name.to_string())];
        entries.extend(params.iter().cloned());
        Step::new(StepId::HandlerCall, Direction::Down, Kind::Hop)
            .summary(summary)
            .data(Data::Fields { entries })
            .emit();
    }
    let head = req.method == "HEAD";
    req.params = params;
    let mut res = match route.handler.call(req).await {
        Ok(res) => res,
        Err(mut e) => {
            e.raised_in = name.to_string();
            Step::new(StepId::HandlerRaise, Direction::Up, Kind::Error)
                .summary(format!("{name} raises {}", e.line()))
                .data(Data::Fields {
                    entries: e.fields(),
                })
                .emit();
            return Err(e);
        }
    };
    if recording {
        let mut summary = [name, " returns ", &res.status_line()].concat();
        if let Some(note) = &res.note {
            summary.push(' ');
            summary.push_str(note);
        }
        Step::new(StepId::HandlerReturn, Direction::Up, Kind::Hop)
            .summary(summary)
            .data(Data::Fields {
                entries: vec![
                    ("handler".to_string(), name.to_string()),
                    ("status".to_string(), decimal(u64::from(res.status))),
                    (
                        "content-type".to_string(),
                        res.header("Content-Type").unwrap_or_default().to_string(),
                    ),
                    ("bytes".to_string(), decimal(res.body.len() as u64)),
                ],
            })
            .answer(res.status)
            .emit();
    }
    // A HEAD request ran the GET handler; the body is dropped, while
    // Content-Length still says how long the GET body is (RFC 9110 §9.3.2;
    // Werkzeug's `get_app_iter` does the same).
    if head {
        res.body.clear();
    }
    Ok(res)
}

/// An exception raised in a handler, before the framework names where.
pub fn raise(class: &str, message: impl Into<String>) -> Exception {
    Exception {
        class: class.to_string(),
        message: message.into(),
        raised_in: String::new(),
    }
}
