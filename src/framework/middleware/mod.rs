//! Middleware: the onion around the router.
//!
//! Each middleware sees the request on its way down and the response on its
//! way up. It receives the request and a [`Next`]; calling
//! [`Next::run`] runs everything inside it (the inner middleware, then the
//! router and the handler) and gives back their response, which it may
//! change. A middleware that returns without calling `next` *short-circuits*:
//! the inner layers and the handler never run, and the response climbs back
//! through only the layers the request already passed (Django docs,
//! "Middleware"; axum's `from_fn`).
//!
//! ```text
//!          request                                   response
//!             │                                         ▲
//!   ┌─────────▼──────── request_id ─────────────────────────┴────────────┐
//!   │ ┌───────▼──────── access_log ─────────────────────────┴──────────┐ │
//!   │ │ ┌─────▼──────── conditional_get ────────────────────┴────────┐ │ │
//!   │ │ │ ┌───▼──────── cache_control ──────────────────────┴──────┐ │ │ │
//!   │ │ │ │ ┌─▼──────── json_body ──────────────────────────┴────┐ │ │ │ │
//!   │ │ │ │ │ ┌▼─────── security_headers ───────────────────┴──┐ │ │ │ │ │
//!   │ │ │ │ │ │         router ──▶ handler ──▶ database        │ │ │ │ │ │
//!   │ │ │ │ │ └────────────────────────────────────────────────┘ │ │ │ │ │
//!   │ │ │ │ └────────────────────────────────────────────────────┘ │ │ │ │
//!   │ │ │ └────────────────────────────────────────────────────────┘ │ │ │
//!   │ │ └────────────────────────────────────────────────────────────┘ │ │
//!   │ └────────────────────────────────────────────────────────────────┘ │
//!   └────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! **The order rule: first added = outermost.** The first middleware added
//! sees the request first and the response last (Django's `MIDDLEWARE`
//! list reads the same way; Starlette's `add_middleware` is the opposite:
//! the *last* added is outermost). Swapping two middleware changes what
//! each one sees: an access log outside a short-circuiting JSON check logs
//! the 400; one inside it never hears of that request.
//!
//! The [`Pipeline`], not each middleware, emits `framework.middleware.enter`
//! and `framework.middleware.leave` around every layer, so the trace shows
//! the whole onion and no middleware repeats that code.
//!
//! What we simplify: a middleware is one async function; production tower
//! adds `poll_ready` back-pressure and `Layer`/`Service` pairs.
//!
//! Book: "The framework" (book/src/framework.md).
//!
//! # Examples
//!
//! Two middleware that write down when they see the request and the
//! response prove the order, with no HTTP at all:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use roundtrip::framework::middleware::{Middleware, Next, Pipeline};
//! use roundtrip::framework::{Outcome, Request, Response};
//! use roundtrip::gateway::BoxFuture;
//!
//! struct Mark(&'static str, Arc<Mutex<Vec<String>>>);
//!
//! impl Middleware for Mark {
//!     fn name(&self) -> &'static str { self.0 }
//!     fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
//!         Box::pin(async move {
//!             self.1.lock().unwrap().push(format!("{} down", self.0));
//!             let res = next.run(req).await?; // `?`: an exception unwinds past us
//!             self.1.lock().unwrap().push(format!("{} up", self.0));
//!             Ok(res)
//!         })
//!     }
//! }
//!
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let pipeline = Pipeline::new()
//!     .with(Mark("outer", log.clone()))   // added first: outermost
//!     .with(Mark("inner", log.clone()));
//! let endpoint = |_req: Request| async { Response::text(200, "hi") };
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let res = rt.block_on(pipeline.respond(Request::new("GET", "/"), &endpoint));
//! assert_eq!(res.status, 200);
//! assert_eq!(
//!     *log.lock().unwrap(),
//!     ["outer down", "inner down", "inner up", "outer up"],
//! );
//! ```

pub mod access_log;
pub mod authentication;
pub mod authorization;
pub mod cache_control;
pub mod conditional_get;
pub mod cors;
pub mod csrf;
pub mod json_body;
pub mod request_id;
pub mod security_headers;

pub use access_log::AccessLog;
pub use authentication::{AuthBackend, Authentication, Found};
pub use authorization::{Access, Authorization, AuthorizationConfig, Rule};
pub use cache_control::{CacheControl, Directives};
pub use conditional_get::ConditionalGet;
pub use cors::{Cors, CorsConfig};
pub use csrf::Csrf;
pub use json_body::JsonBody;
pub use request_id::RequestId;
pub use security_headers::SecurityHeaders;

use super::exception::Outcome;
use super::handler::Handler;
use super::request::Request;
use super::response::Response;

use crate::gateway::BoxFuture;
use crate::http::text::push_decimal;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// One layer of the onion, shaped like axum's `from_fn`:
/// `async fn handle(&self, req, next) -> Response`.
pub trait Middleware: Send + Sync {
    /// The name the trace and the stack diagram show, e.g. `request_id`.
    fn name(&self) -> &'static str;

    /// Handle one request: usually do something, `next.run(req).await`,
    /// then do something with the response. Return early to short-circuit.
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome>;
}

/// The rest of the onion, from one middleware's point of view.
pub struct Next<'a> {
    chain: &'a [Box<dyn Middleware>],
    /// Index in `chain` of the next middleware to run.
    position: usize,
    /// What runs when the chain is used up: the router.
    endpoint: &'a dyn Handler,
}

impl<'a> Next<'a> {
    /// Run the inner middleware and the endpoint; their response comes back.
    pub fn run(self, req: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(middleware) = self.chain.get(self.position) else {
                return self.endpoint.call(req).await;
            };
            let name = middleware.name();
            // Nobody recording: no summaries, no fields.
            let place = Step::enabled().then(|| place(self.position + 1, self.chain.len()));
            if let Some(place) = &place {
                Step::new(StepId::FrameworkMiddlewareEnter, Direction::Down, Kind::Hop)
                    .summary(["enters middleware ", name, " (", place, ")"].concat())
                    .data(fields(name, place))
                    .emit();
            }
            let inner = Next {
                position: self.position + 1,
                ..self
            };
            let res = middleware.handle(req, inner).await;
            if let Some(place) = place {
                let mut entries = vec![
                    ("middleware".to_string(), name.to_string()),
                    ("position".to_string(), place.clone()),
                ];
                let summary = match &res {
                    Ok(res) => [
                        "leaves middleware ",
                        name,
                        " (",
                        &place,
                        ") with ",
                        &res.status_line(),
                    ]
                    .concat(),
                    // Unwinding: the middleware's code after `next` never ran.
                    Err(e) => {
                        entries.push(("exception".to_string(), e.line()));
                        [
                            e.class.as_str(),
                            " unwinds through middleware ",
                            name,
                            " (",
                            &place,
                            "): its code after next() does not run",
                        ]
                        .concat()
                    }
                };
                let kind = if res.is_ok() { Kind::Hop } else { Kind::Error };
                Step::new(StepId::FrameworkMiddlewareLeave, Direction::Up, kind)
                    .summary(summary)
                    .data(Data::Fields { entries })
                    .emit();
            }
            res
        })
    }
}

/// `2 of 4`: a middleware's place in the onion.
fn place(position: usize, of: usize) -> String {
    let mut s = String::with_capacity(8);
    push_decimal(&mut s, position as u64);
    s.push_str(" of ");
    push_decimal(&mut s, of as u64);
    s
}

fn fields(name: &str, place: &str) -> Data {
    Data::Fields {
        entries: vec![
            ("middleware".to_string(), name.to_string()),
            ("position".to_string(), place.to_string()),
        ],
    }
}

/// The middleware in order, outermost first.
#[derive(Default)]
pub struct Pipeline {
    chain: Vec<Box<dyn Middleware>>,
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Add a middleware *inside* the ones already added.
    pub fn with(mut self, middleware: impl Middleware + 'static) -> Pipeline {
        self.chain.push(Box::new(middleware));
        self
    }

    /// Add a boxed middleware inside the ones already added.
    pub fn push(&mut self, middleware: Box<dyn Middleware>) {
        self.chain.push(middleware);
    }

    /// Names, outermost first (the stack diagram's framework parts).
    pub fn names(&self) -> Vec<String> {
        self.chain.iter().map(|m| m.name().to_string()).collect()
    }

    /// Send a request through the onion to `endpoint` and back.
    pub fn run<'a>(&'a self, req: Request, endpoint: &'a dyn Handler) -> BoxFuture<'a, Outcome> {
        Next {
            chain: &self.chain,
            position: 0,
            endpoint,
        }
        .run(req)
    }

    /// [`Pipeline::run`], with an exception turned into the framework's
    /// 500 (for callers that only want the response).
    pub async fn respond(&self, req: Request, endpoint: &dyn Handler) -> Response {
        match self.run(req, endpoint).await {
            Ok(res) => res,
            Err(_) => crate::framework::exception::server_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::trace::{Event, StepId};

    /// Writes down what it sees; `stop` makes it answer 418 itself.
    struct Probe {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
        stop: bool,
    }

    impl Middleware for Probe {
        fn name(&self) -> &'static str {
            self.name
        }
        fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
            Box::pin(async move {
                self.push(format!("{} down", self.name));
                if self.stop {
                    return Ok(Response::text(418, "short"));
                }
                let mut res = next.run(req).await?;
                res.set_header("X-Seen-By", self.name);
                self.push(format!("{} up", self.name));
                Ok(res)
            })
        }
    }

    impl Probe {
        fn push(&self, s: String) {
            self.log.lock().expect("test lock").push(s);
        }
    }

    fn pipeline(log: &Arc<Mutex<Vec<String>>>, stop_at: Option<&str>) -> Pipeline {
        let mut p = Pipeline::new();
        for name in ["a", "b", "c"] {
            p.push(Box::new(Probe {
                name,
                log: log.clone(),
                stop: stop_at == Some(name),
            }));
        }
        p
    }

    fn steps(events: &[Event], step: StepId) -> Vec<String> {
        events
            .iter()
            .filter(|e| e.step == step)
            .map(|e| e.summary.clone())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn enter_is_outermost_first_and_leave_is_reversed() {
        let (_guard, recording) = crate::framework::testing::record();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler_log = log.clone();
        let endpoint = move |_req: Request| {
            handler_log
                .lock()
                .expect("test lock")
                .push("handler".into());
            async { Response::text(200, "ok") }
        };
        let res = pipeline(&log, None)
            .respond(Request::new("GET", "/"), &endpoint)
            .await;
        assert_eq!(res.status, 200);
        // The outermost middleware touched the response last.
        assert_eq!(res.header("X-Seen-By"), Some("a"));
        assert_eq!(
            *log.lock().expect("test lock"),
            [
                "a down", "b down", "c down", "handler", "c up", "b up", "a up"
            ]
        );
        let events = recording.take();
        assert_eq!(
            steps(&events, StepId::FrameworkMiddlewareEnter),
            [
                "enters middleware a (1 of 3)",
                "enters middleware b (2 of 3)",
                "enters middleware c (3 of 3)"
            ]
        );
        assert_eq!(
            steps(&events, StepId::FrameworkMiddlewareLeave),
            [
                "leaves middleware c (3 of 3) with 200 OK",
                "leaves middleware b (2 of 3) with 200 OK",
                "leaves middleware a (1 of 3) with 200 OK"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn short_circuit_skips_inner_layers_and_handler() {
        let (_guard, recording) = crate::framework::testing::record();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler_log = log.clone();
        let endpoint = move |_req: Request| {
            handler_log
                .lock()
                .expect("test lock")
                .push("handler".into());
            async { Response::text(200, "ok") }
        };
        let res = pipeline(&log, Some("b"))
            .respond(Request::new("GET", "/"), &endpoint)
            .await;
        assert_eq!(res.status, 418);
        assert_eq!(
            *log.lock().expect("test lock"),
            ["a down", "b down", "a up"]
        );
        let events = recording.take();
        assert_eq!(steps(&events, StepId::FrameworkMiddlewareEnter).len(), 2);
        assert_eq!(
            steps(&events, StepId::FrameworkMiddlewareLeave),
            [
                "leaves middleware b (2 of 3) with 418",
                "leaves middleware a (1 of 3) with 418"
            ]
        );
    }
}
