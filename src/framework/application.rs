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

use super::handler::Handler;
use super::middleware::{Middleware, Pipeline};
use super::request::Request;
use super::response::Response;
use super::router::{Match, RouteError, Router};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, Layer};

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
}

/// Collects routes and middleware; [`FrameworkBuilder::build`] finishes.
pub struct FrameworkBuilder {
    router: Router<Route>,
    pipeline: Pipeline,
    routes: Vec<RouteInfo>,
}

impl Framework {
    pub fn builder() -> FrameworkBuilder {
        FrameworkBuilder {
            router: Router::new(),
            pipeline: Pipeline::new(),
            routes: Vec::new(),
        }
    }

    /// Run one request through the onion, the router and a handler.
    ///
    /// A `HEAD` request runs the `GET` handler; its body is dropped here,
    /// after the onion, while `Content-Length` still says how long the `GET`
    /// body would be (RFC 9110 §9.3.2; Werkzeug's `get_app_iter` does the same).
    pub async fn handle(&self, req: Request) -> Response {
        let head = req.method == "HEAD";
        let mut res = self.pipeline.run(req, &self.dispatch).await;
        if head {
            res.body.clear();
        }
        res
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

    /// Add a middleware inside the ones already added: the first added is
    /// the outermost.
    pub fn middleware(mut self, middleware: impl Middleware + 'static) -> FrameworkBuilder {
        self.pipeline.push(Box::new(middleware));
        self
    }

    pub fn build(self) -> Framework {
        Framework {
            dispatch: Dispatch {
                router: self.router,
            },
            pipeline: self.pipeline,
            routes: self.routes,
        }
    }
}

impl Handler for Dispatch {
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Response> {
        Box::pin(self.dispatch(req))
    }
}

impl Dispatch {
    async fn dispatch(&self, mut req: Request) -> Response {
        let method = req.method.clone();
        let path = req.path.clone();
        let route_step =
            |pattern: Option<&str>, params: &[(String, String)], allow: Vec<String>| {
                Step::new(
                    Layer::Framework,
                    "framework.route",
                    Direction::Within,
                    Kind::Decision,
                )
                .data(Data::Route {
                    method: method.clone(),
                    path: path.clone(),
                    pattern: pattern.map(str::to_string),
                    params: params.to_vec(),
                    allow,
                })
            };
        match self.router.at(&method, &path) {
            Match::NotFound => {
                let res = Response::json(404, &json!({"detail": "Not Found"}));
                route_step(None, &[], Vec::new())
                    .summary(format!(
                        "no route matches {path}: answers {}",
                        res.status_line()
                    ))
                    .answer(404)
                    .emit();
                res
            }
            Match::MethodNotAllowed { allow } => {
                let allow_header = allow.join(", ");
                let res = Response::json(405, &json!({"detail": "Method Not Allowed"}))
                    .with_header("Allow", allow_header.clone());
                route_step(None, &[], allow)
                    .summary(format!(
                        "{path} exists but not for {method} (Allow: {allow_header}): answers {}",
                        res.status_line()
                    ))
                    .answer(405)
                    .emit();
                res
            }
            Match::Found {
                handler: route,
                params,
                pattern,
            } => {
                let name = route.name;
                route_step(Some(pattern), &params, self.router.allowed(&path))
                    .summary(format!("matches {method} {path} to {pattern} → {name}"))
                    .emit();
                let args: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let mut entries = vec![("handler".to_string(), name.to_string())];
                entries.extend(params.iter().cloned());
                Step::new(Layer::Handler, "handler.call", Direction::Down, Kind::Hop)
                    .summary(format!("calls {name}({})", args.join(", ")))
                    .data(Data::Fields { entries })
                    .emit();
                req.params = params;
                let res = route.handler.call(req).await;
                let note = res
                    .note
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default();
                Step::new(Layer::Handler, "handler.return", Direction::Up, Kind::Hop)
                    .summary(format!("{name} returns {}{note}", res.status_line()))
                    .data(Data::Fields {
                        entries: vec![
                            ("handler".to_string(), name.to_string()),
                            ("status".to_string(), res.status.to_string()),
                            (
                                "content-type".to_string(),
                                res.header("Content-Type").unwrap_or_default().to_string(),
                            ),
                            ("bytes".to_string(), res.body.len().to_string()),
                        ],
                    })
                    .answer(res.status)
                    .emit();
                res
            }
        }
    }
}
