//! Cache-Control: the app says how long a response may be reused.
//!
//! Without `Cache-Control` a cache (the browser's, a CDN, a proxy) picks
//! its own freshness: RFC 9111 §4.2.2 lets it guess ("heuristic
//! freshness"), and RFC 9110 §15.1 names the statuses it may guess for,
//! 404 and 405 among them. An app that cares says what it means, with the
//! response directives of RFC 9111 §5.2.2:
//!
//! | directive | meaning |
//! |---|---|
//! | `no-store` | keep no copy at all (§5.2.2.5) |
//! | `private` | only the user's own cache (the browser) may keep it, not a shared one (§5.2.2.7) |
//! | `no-cache` | a copy may be kept, but must be revalidated before every reuse (§5.2.2.4) |
//! | `max-age=N` | fresh for N seconds: reused without asking (§5.2.2.1) |
//! | `must-revalidate` | once stale, never served without revalidating (§5.2.2.2) |
//!
//! `no-cache` is not "do not cache": it means "ask me first", and with an
//! `ETag` (the `conditional_get` middleware) asking is cheap: a 304.
//!
//! The policy here is one per route, as Django's `@cache_control` and
//! `@never_cache` decorators set one per view, and it is chosen in this
//! order:
//!
//! ```text
//! the handler set Cache-Control itself      ─▶ left alone
//! the method is unsafe (POST, PUT, …)       ─▶ no-store
//! the status is an error (≥ 400)            ─▶ no-store
//! the route has a policy                    ─▶ that policy
//! otherwise                                 ─▶ nothing: caches guess
//! ```
//!
//! A `POST` response is not reused for a later request anyway (RFC 9111
//! §3 needs explicit freshness for that), but a careful app says
//! `no-store` so that no proxy keeps a copy of a body that may carry the
//! user's data. An error gets `no-store` because it describes a moment:
//! a 404 for note 9 must not outlive the note being created.
//!
//! Book: "The framework" (book/src/framework.md), "Caching: Cache-Control
//! and ETag".

use super::{Middleware, Next};
use crate::framework::router::{Match, RouteError, Router};
use crate::framework::{Outcome, Request, Response};
use crate::gateway::BoxFuture;
use crate::http::text::push_decimal;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// The response directives of RFC 9111 §5.2.2 this app uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    pub private: bool,
    pub public: bool,
    pub no_cache: bool,
    /// `max-age`, in seconds.
    pub max_age: Option<u64>,
    pub must_revalidate: bool,
}

impl Directives {
    /// `no-store`: keep no copy (Django's `@never_cache` adds more
    /// directives for old HTTP/1.0 caches; `no-store` alone is enough for
    /// an HTTP/1.1 cache).
    pub fn no_store() -> Directives {
        Directives {
            no_store: true,
            ..Directives::default()
        }
    }

    /// `private`: only the user's own cache.
    pub fn private() -> Directives {
        Directives {
            private: true,
            ..Directives::default()
        }
    }

    /// Add `no-cache`: revalidate before every reuse.
    pub fn no_cache(mut self) -> Directives {
        self.no_cache = true;
        self
    }

    /// Add `max-age=seconds`.
    pub fn max_age(mut self, seconds: u64) -> Directives {
        self.max_age = Some(seconds);
        self
    }

    /// Add `must-revalidate`.
    pub fn must_revalidate(mut self) -> Directives {
        self.must_revalidate = true;
        self
    }

    /// The header value, e.g. `private, max-age=60`.
    pub fn header_value(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let flags = [
            (self.no_store, "no-store"),
            (self.private, "private"),
            (self.public, "public"),
            (self.no_cache, "no-cache"),
        ];
        parts.extend(
            flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, s)| s.to_string()),
        );
        if let Some(age) = self.max_age {
            let mut s = "max-age=".to_string();
            push_decimal(&mut s, age);
            parts.push(s);
        }
        if self.must_revalidate {
            parts.push("must-revalidate".to_string());
        }
        parts.join(", ")
    }
}

/// Why a response got the `Cache-Control` it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The handler set one: left alone.
    Handler,
    /// An unsafe method: `no-store`.
    UnsafeMethod,
    /// An error status: `no-store`.
    ErrorStatus,
    /// The route's own policy; the pattern it was found under.
    Route(String),
    /// No policy applies: no header, caches guess.
    Nothing,
}

impl Choice {
    /// The name the trace's decision uses.
    pub fn name(&self) -> &'static str {
        match self {
            Choice::Handler => "handler",
            Choice::UnsafeMethod => "unsafe_method",
            Choice::ErrorStatus => "error_status",
            Choice::Route(_) => "route",
            Choice::Nothing => "nothing",
        }
    }
}

/// Safe methods (RFC 9110 §9.2.1): read-only by definition.
fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// Sets `Cache-Control` on the way up, by route; see the module docs.
#[derive(Default)]
pub struct CacheControl {
    policies: Router<Directives>,
}

impl CacheControl {
    pub fn new() -> CacheControl {
        CacheControl::default()
    }

    /// Give the route `method pattern` (as the app routes it) a policy.
    pub fn route(
        mut self,
        method: &str,
        pattern: &str,
        directives: Directives,
    ) -> Result<CacheControl, RouteError> {
        self.policies.route(method, pattern, directives)?;
        Ok(self)
    }

    /// The directives for this request and response, and why.
    pub fn choose(&self, method: &str, path: &str, res: &Response) -> (Choice, Option<Directives>) {
        if res.header("Cache-Control").is_some() {
            return (Choice::Handler, None);
        }
        if !is_safe(method) {
            return (Choice::UnsafeMethod, Some(Directives::no_store()));
        }
        if res.status >= 400 {
            return (Choice::ErrorStatus, Some(Directives::no_store()));
        }
        match self.policies.at(method, path) {
            Match::Found {
                handler, pattern, ..
            } => (Choice::Route(pattern.to_string()), Some(*handler)),
            _ => (Choice::Nothing, None),
        }
    }
}

impl Middleware for CacheControl {
    fn name(&self) -> &'static str {
        "cache_control"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let method = req.method.clone();
            let path = req.path.clone();
            let mut res = next.run(req).await?;
            let (choice, directives) = self.choose(&method, &path, &res);
            if let Some(d) = directives {
                res.set_header("Cache-Control", d.header_value());
            }
            if Step::enabled() {
                emit(&method, &path, &res, &choice);
            }
            Ok(res)
        })
    }
}

/// The `framework.cache_control` step.
fn emit(method: &str, path: &str, res: &Response, choice: &Choice) {
    let value = res.header("Cache-Control").unwrap_or_default().to_string();
    let status = res.status_line();
    let (summary, rule) = match choice {
        Choice::Handler => (
            format!("leaves the handler's Cache-Control: {value}"),
            "a view's own Cache-Control wins",
        ),
        Choice::UnsafeMethod => (
            format!("{method} is not a safe method: Cache-Control: {value}"),
            "RFC 9110 §9.2.1: an unsafe method changes state; its answer is not kept",
        ),
        Choice::ErrorStatus => (
            format!("{status} is an error: Cache-Control: {value}"),
            "an error describes a moment; no cache may keep it (RFC 9110 §15.1 lets caches guess freshness for 404)",
        ),
        Choice::Route(pattern) => (
            format!("route {method} {pattern}: Cache-Control: {value}"),
            "the route's policy, as Django's @cache_control sets one per view",
        ),
        Choice::Nothing => (
            format!("no policy for {method} {path}: no Cache-Control, caches may guess"),
            "RFC 9111 §4.2.2: without explicit freshness a cache may use a heuristic",
        ),
    };
    let mut decision = Decision::new(Verdict::Choose)
        .rule(rule)
        .input("method", method)
        .input("path", path)
        .input("status", res.status)
        .chosen(choice.name());
    if let Choice::Route(pattern) = choice {
        decision = decision.input("route", pattern);
    }
    if !value.is_empty() {
        decision = decision.input("cache_control", &value);
    }
    Step::new(StepId::FrameworkCacheControl, Direction::Up, Kind::Decision)
        .summary(summary)
        .decision(decision)
        .emit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::middleware::Pipeline;

    fn policies() -> CacheControl {
        CacheControl::new()
            .route("GET", "/notes", Directives::private().no_cache())
            .and_then(|c| c.route("GET", "/notes/{id}", Directives::private().max_age(60)))
            .expect("valid routes")
    }

    async fn run(req: Request, res: Response) -> Response {
        let p = Pipeline::new().with(policies());
        let endpoint = move |_req: Request| {
            let res = res.clone();
            async move { res }
        };
        p.respond(req, &endpoint).await
    }

    #[test]
    fn directives_render_in_rfc_9111_spelling() {
        assert_eq!(Directives::no_store().header_value(), "no-store");
        assert_eq!(
            Directives::private().no_cache().header_value(),
            "private, no-cache"
        );
        assert_eq!(
            Directives::default()
                .max_age(0)
                .must_revalidate()
                .header_value(),
            "max-age=0, must-revalidate"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_route_gets_its_own_policy() {
        let list = run(Request::new("GET", "/notes"), Response::text(200, "[]")).await;
        assert_eq!(list.header("Cache-Control"), Some("private, no-cache"));
        let one = run(Request::new("GET", "/notes/7"), Response::text(200, "{}")).await;
        assert_eq!(one.header("Cache-Control"), Some("private, max-age=60"));
        // HEAD follows its GET route.
        let head = run(Request::new("HEAD", "/notes/7"), Response::text(200, "")).await;
        assert_eq!(head.header("Cache-Control"), Some("private, max-age=60"));
    }

    #[tokio::test(start_paused = true)]
    async fn unsafe_methods_and_errors_are_no_store() {
        let post = run(Request::new("POST", "/notes"), Response::text(201, "{}")).await;
        assert_eq!(post.header("Cache-Control"), Some("no-store"));
        let missing = run(Request::new("GET", "/notes/9"), Response::text(404, "no")).await;
        assert_eq!(missing.header("Cache-Control"), Some("no-store"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_route_without_policy_gets_no_header_and_a_handler_choice_wins() {
        let slow = run(Request::new("GET", "/slow"), Response::text(200, "ok")).await;
        assert_eq!(slow.header("Cache-Control"), None);
        let own = run(
            Request::new("GET", "/notes"),
            Response::text(200, "[]").with_header("Cache-Control", "public, max-age=5"),
        )
        .await;
        assert_eq!(own.header("Cache-Control"), Some("public, max-age=5"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_trace_names_the_rule_that_chose() {
        let (_guard, recording) = crate::framework::testing::record();
        run(Request::new("GET", "/notes/9"), Response::text(404, "no")).await;
        let events = recording.take();
        let step = events
            .iter()
            .find(|e| e.step == StepId::FrameworkCacheControl)
            .expect("a cache_control step");
        let d = step.decision.as_ref().expect("a decision");
        assert_eq!(d.chosen.as_deref(), Some("error_status"));
        assert!(
            d.inputs
                .contains(&("cache_control".to_string(), "no-store".to_string()))
        );
    }
}
