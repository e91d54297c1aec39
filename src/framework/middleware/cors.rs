//! CORS: the browser asks another origin whether this page may read its
//! answer; the server says which origins, methods and headers it allows.
//!
//! ```text
//! page of http://app.example.com            this server (http://example.com)
//!   fetch(GET /me, credentials) ───────────▶ cors: Origin allowed ─▶ … ─▶ handler
//!                               ◀─────────── 200 + Access-Control-Allow-Origin: http://app.example.com
//!   fetch(PUT /notes/1, Authorization)
//!     first: OPTIONS /notes/1 ─────────────▶ cors answers itself (preflight):
//!            Access-Control-Request-Method: PUT      204 + Access-Control-Allow-Methods …
//!     then:  PUT /notes/1 ─────────────────▶ cors ─▶ … ─▶ handler
//! ```
//!
//! A browser keeps a page from reading responses from other origins (the
//! same-origin policy). The CORS protocol (Fetch Standard, §3.2 "CORS
//! protocol", <https://fetch.spec.whatwg.org/#http-cors-protocol>) lets the
//! server opt in, per response:
//!
//! * A request the page could have sent without scripts (GET, HEAD or POST
//!   with only CORS-safelisted headers) goes out at once, with `Origin`.
//!   The answer reaches the page only if it carries
//!   `Access-Control-Allow-Origin` naming that origin (or `*`), and, when
//!   the page sent cookies, `Access-Control-Allow-Credentials: true` with
//!   the origin itself: `*` never counts for a credentialed request
//!   (Fetch, "CORS protocol and credentials").
//! * Any other request is first *preflighted*: an `OPTIONS` with `Origin`,
//!   `Access-Control-Request-Method` and `Access-Control-Request-Headers`
//!   and no credentials. The browser sends the real request only if that
//!   answer has an ok status (200–299) and allows the method and headers
//!   (Fetch, "CORS-preflight fetch"); it may cache the yes for
//!   `Access-Control-Max-Age` seconds.
//!
//! The server never blocks anything: a disallowed origin gets its normal
//! response, without `Access-Control-Allow-Origin`, and the *browser*
//! withholds it from the page. That is why CORS is not access control.
//!
//! Behaviour follows Starlette's `CORSMiddleware` (allow-lists, `max_age`
//! 600, preflights answered without calling the app, 400 "Disallowed CORS
//! origin, method, headers" for a refused preflight), with two choices of
//! django-cors-headers: `Vary: Origin` on every response to a request with
//! `Origin` whose answer depends on it (Fetch, "CORS protocol and HTTP
//! caches"), and the origin itself instead of `*` whenever credentials are
//! allowed. A granted preflight answers 204 (Starlette and
//! django-cors-headers answer 200; both are ok statuses).
//!
//! Where it sits in the onion matters: a preflight carries no cookie and no
//! `Authorization`, so it must be answered outside `authentication` and
//! `authorization`, or it gets the 401 meant for an anonymous caller.
//!
//! Book: "Who are you, and what may you do", section "CORS: the browser
//! asks, the server answers" (book/src/auth.md).

use serde::{Deserialize, Serialize};

use super::{Middleware, Next};
use crate::framework::{Outcome, Request, Response};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};
use crate::units::Time;

/// Methods `*` stands for in `allow_methods` (Starlette's `ALL_METHODS`).
pub const ALL_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// Request headers a page may always send (Fetch, "CORS-safelisted request
/// header"); allowed in every preflight, as Starlette does.
pub const SAFELISTED_HEADERS: [&str; 4] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// `[stack.app.cors]`: which other origins' pages may read this app's
/// answers, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins (`scheme://host[:port]`) whose pages may read responses;
    /// `*` for any. Default: none.
    pub allow_origins: Vec<String>,
    /// Methods a preflight may ask for; `*` for all. Default `GET`.
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for beyond the safelisted
    /// ones; `*` for any. Matched without regard to case.
    pub allow_headers: Vec<String>,
    /// Let the page send cookies and read the answer
    /// (`Access-Control-Allow-Credentials: true`).
    pub allow_credentials: bool,
    /// Response headers the page's script may read beyond the safelisted
    /// ones (`Access-Control-Expose-Headers`).
    pub expose_headers: Vec<String>,
    /// How long the browser may cache a preflight's yes
    /// (`Access-Control-Max-Age`, whole seconds; Starlette's 600).
    pub max_age: Time,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allow_origins: Vec::new(),
            allow_methods: vec!["GET".to_string()],
            allow_headers: Vec::new(),
            allow_credentials: false,
            expose_headers: Vec::new(),
            max_age: Time::secs(600),
        }
    }
}

/// A `[stack.app.cors]` that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsConfigError {
    #[error(
        "allow_origins entry `{0}` is not an origin: write scheme://host or scheme://host:port, with no path and no trailing slash (an Origin header never has one)"
    )]
    NotAnOrigin(String),
    #[error(
        "{knob} entry `{value}` is not a header or method name (letters, digits and !#$%&'*+-.^_`|~ only)"
    )]
    NotAToken { knob: &'static str, value: String },
}

/// Whether `s` is a serialized origin: `scheme://host[:port]`.
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    scheme_ok
        && !host.is_empty()
        && !host.contains(['/', '?', '#', '@', ' '])
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// RFC 9110 §5.6.2 `token`: what a method or a field name is made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What a preflight asked for that the configuration does not allow, in
/// Starlette's order and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Origin,
    Method,
    Headers,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Origin => "origin",
            Refusal::Method => "method",
            Refusal::Headers => "headers",
        }
    }

    /// The setting that refused it.
    pub fn knob(self) -> &'static str {
        match self {
            Refusal::Origin => "allow_origins",
            Refusal::Method => "allow_methods",
            Refusal::Headers => "allow_headers",
        }
    }
}

/// The cors middleware, built from a checked [`CorsConfig`].
#[derive(Debug, Clone)]
pub struct Cors {
    config: CorsConfig,
    any_origin: bool,
    any_header: bool,
    /// Methods a preflight may ask for (`*` expanded).
    methods: Vec<String>,
    /// Safelisted and configured request headers, lower case, sorted.
    headers: Vec<String>,
}

impl Cors {
    /// Check the configuration; a bad entry is an error, not a silent
    /// never-matching rule.
    pub fn new(config: CorsConfig) -> Result<Cors, CorsConfigError> {
        for origin in &config.allow_origins {
            if origin != "*" && !is_origin(origin) {
                return Err(CorsConfigError::NotAnOrigin(origin.clone()));
            }
        }
        for (knob, list) in [
            ("allow_methods", &config.allow_methods),
            ("allow_headers", &config.allow_headers),
            ("expose_headers", &config.expose_headers),
        ] {
            if let Some(bad) = list.iter().find(|v| *v != "*" && !is_token(v)) {
                return Err(CorsConfigError::NotAToken {
                    knob,
                    value: bad.clone(),
                });
            }
        }
        let methods = if config.allow_methods.iter().any(|m| m == "*") {
            ALL_METHODS.iter().map(|m| m.to_string()).collect()
        } else {
            config.allow_methods.clone()
        };
        let mut headers: Vec<String> = SAFELISTED_HEADERS.iter().map(|h| h.to_string()).collect();
        headers.extend(
            config
                .allow_headers
                .iter()
                .filter(|h| *h != "*")
                .map(|h| h.to_ascii_lowercase()),
        );
        headers.sort();
        headers.dedup();
        Ok(Cors {
            any_origin: config.allow_origins.iter().any(|o| o == "*"),
            any_header: config.allow_headers.iter().any(|h| h == "*"),
            methods,
            headers,
            config,
        })
    }

    /// Whether a page of `origin` may read responses. An exact compare: an
    /// origin is compared as the browser serialized it.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.any_origin || self.config.allow_origins.iter().any(|o| o == origin)
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin: `*`
    /// only when any origin is allowed and credentials are not.
    fn allow_origin_value<'a>(&self, origin: &'a str) -> &'a str {
        if self.any_origin && !self.config.allow_credentials {
            "*"
        } else {
            origin
        }
    }

    /// Whether the answer depends on `Origin`, so caches must key on it.
    fn varies(&self) -> bool {
        !self.any_origin || self.config.allow_credentials
    }

    /// Judge a preflight: what it asked for that is not allowed.
    pub fn judge_preflight(
        &self,
        origin: &str,
        method: &str,
        requested_headers: Option<&str>,
    ) -> Vec<Refusal> {
        let mut refused = Vec::new();
        if !self.allows_origin(origin) {
            refused.push(Refusal::Origin);
        }
        if !self.methods.iter().any(|m| m == method) {
            refused.push(Refusal::Method);
        }
        if !self.any_header
            && let Some(list) = requested_headers
            && requested(list).any(|h| !self.headers.contains(&h))
        {
            refused.push(Refusal::Headers);
        }
        refused
    }

    /// The answer to a preflight. Its `Access-Control-Allow-*` fields are
    /// sent on a refusal too, as Starlette does: they tell the developer
    /// what would have been allowed.
    pub fn preflight(&self, req: &Request, origin: &str) -> (Response, Vec<Refusal>) {
        let method = req
            .header("access-control-request-method")
            .unwrap_or_default()
            .trim();
        let asked = req.header("access-control-request-headers");
        let refused = self.judge_preflight(origin, method, asked);
        let mut res = if refused.is_empty() {
            Response::no_content()
        } else {
            let names: Vec<&str> = refused.iter().map(|r| r.as_str()).collect();
            Response::text(400, ["Disallowed CORS ", &names.join(", ")].concat())
        };
        if !refused.contains(&Refusal::Origin) {
            res.set_header(
                "Access-Control-Allow-Origin",
                self.allow_origin_value(origin),
            );
        }
        if self.varies() {
            add_vary_origin(&mut res);
        }
        res.set_header("Access-Control-Allow-Methods", self.methods.join(", "));
        let allow_headers = match (self.any_header, asked) {
            (true, Some(asked)) => asked.to_string(),
            (true, None) => String::new(),
            (false, _) => self.headers.join(", "),
        };
        if !allow_headers.is_empty() {
            res.set_header("Access-Control-Allow-Headers", allow_headers);
        }
        res.set_header(
            "Access-Control-Max-Age",
            self.config.max_age.0.as_secs().to_string(),
        );
        if self.config.allow_credentials {
            res.set_header("Access-Control-Allow-Credentials", "true");
        }
        (res, refused)
    }

    /// Add the CORS fields to a cross-origin response on its way up; true
    /// when the origin is allowed (and so got `Access-Control-Allow-Origin`).
    pub fn decorate(&self, res: &mut Response, origin: &str) -> bool {
        if self.varies() {
            add_vary_origin(res);
        }
        if !self.allows_origin(origin) {
            return false;
        }
        res.set_header(
            "Access-Control-Allow-Origin",
            self.allow_origin_value(origin),
        );
        if self.config.allow_credentials {
            res.set_header("Access-Control-Allow-Credentials", "true");
        }
        if !self.config.expose_headers.is_empty() {
            res.set_header(
                "Access-Control-Expose-Headers",
                self.config.expose_headers.join(", "),
            );
        }
        true
    }

    /// The settings, as the trace shows them.
    fn knobs(&self, decision: Decision, which: &[&str]) -> Decision {
        let c = &self.config;
        which.iter().fold(decision, |d, name| match *name {
            "allow_origins" => d.knob(name, list(&c.allow_origins)),
            "allow_methods" => d.knob(name, list(&c.allow_methods)),
            "allow_headers" => d.knob(name, list(&c.allow_headers)),
            "allow_credentials" => d.knob(name, c.allow_credentials),
            "expose_headers" => d.knob(name, list(&c.expose_headers)),
            "max_age" => d.knob(name, c.max_age.0.as_secs().to_string() + "s"),
            _ => d,
        })
    }
}

/// The names in an `Access-Control-Request-Headers` value, lower case.
fn requested(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Add `Origin` to `Vary` unless it is there (or `Vary: *`).
fn add_vary_origin(res: &mut Response) {
    match res.header("vary").map(str::to_string) {
        None => res.set_header("Vary", "Origin"),
        Some(v)
            if v.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("origin")) => {}
        Some(v) => res.set_header("Vary", [&v, ", Origin"].concat()),
    }
}

/// Whether a request is a CORS preflight (Fetch, "CORS-preflight request").
pub fn is_preflight(req: &Request) -> bool {
    req.method == "OPTIONS"
        && req.header("origin").is_some()
        && req.header("access-control-request-method").is_some()
}

impl Middleware for Cors {
    fn name(&self) -> &'static str {
        "cors"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(origin) = req.header("origin").map(str::to_string) else {
                if Step::enabled() {
                    Step::new(StepId::FrameworkCors, Direction::Within, Kind::Decision)
                        .summary(format!(
                            "lets {} {} through untouched: no Origin header, so no browser is asking on another origin's behalf",
                            req.method, req.path
                        ))
                        .decision(
                            Decision::new(Verdict::Pass)
                                .rule("a request without Origin is not a CORS request (Fetch §3.2)")
                                .subject([&req.method, " ", &req.path].concat())
                                .input("origin", "(none)"),
                        )
                        .emit();
                }
                return next.run(req).await;
            };
            if is_preflight(&req) {
                let (res, refused) = self.preflight(&req, &origin);
                if Step::enabled() {
                    emit_preflight(self, &req, &origin, &res, &refused);
                }
                return Ok(res);
            }
            // What the trace needs of the request, before the inner layers take it.
            let seen = Step::enabled().then(|| Seen {
                subject: [&req.method, " ", &req.path, " from ", &origin].concat(),
                cookie: req.header("cookie").is_some(),
            });
            let mut res = next.run(req).await?;
            let allowed = self.decorate(&mut res, &origin);
            if let Some(seen) = seen {
                emit_response(self, &seen, &origin, &res, allowed);
            }
            Ok(res)
        })
    }
}

fn emit_preflight(cors: &Cors, req: &Request, origin: &str, res: &Response, refused: &[Refusal]) {
    let method = req
        .header("access-control-request-method")
        .unwrap_or_default();
    let asked = req
        .header("access-control-request-headers")
        .unwrap_or("(none)");
    let subject = ["preflight for ", method, " ", &req.path, " from ", origin].concat();
    let mut decision = Decision::new(if refused.is_empty() {
        Verdict::Answer { status: res.status }
    } else {
        Verdict::Refuse { status: res.status }
    })
    .rule("a preflight is answered by the cors middleware; the browser sends the real request only after an ok status (200-299) that allows its origin, method and headers (Fetch, CORS-preflight fetch)")
    .subject(subject.clone())
    .input("origin", origin)
    .input("access-control-request-method", method)
    .input("access-control-request-headers", asked)
    .input("credentials sent", req.header("cookie").is_some() || req.header("authorization").is_some());
    let summary = if refused.is_empty() {
        decision = cors.knobs(
            decision.input("allowed", "origin, method and headers"),
            &[
                "allow_origins",
                "allow_methods",
                "allow_headers",
                "allow_credentials",
                "max_age",
            ],
        );
        format!(
            "answers the {subject} itself: {}, the browser may send {method} with {} and keep this yes for {}s; the router and the handler never see it",
            res.status_line(),
            res.header("access-control-allow-headers")
                .unwrap_or("the safelisted headers"),
            cors.config.max_age.0.as_secs()
        )
    } else {
        let names: Vec<&str> = refused.iter().map(|r| r.as_str()).collect();
        let knobs: Vec<&str> = refused.iter().map(|r| r.knob()).collect();
        decision = cors.knobs(decision.input("refused", names.join(", ")), &knobs);
        format!(
            "refuses the {subject}: {}, \"Disallowed CORS {}\" (not in {}); the browser will not send the request",
            res.status_line(),
            names.join(", "),
            knobs.join(", ")
        )
    };
    Step::new(
        StepId::FrameworkCorsPreflight,
        Direction::Within,
        Kind::Decision,
    )
    .summary(summary)
    .decision(decision)
    .answer(res.status)
    .emit();
}

/// The request, as the response's trace step describes it.
struct Seen {
    subject: String,
    cookie: bool,
}

fn emit_response(cors: &Cors, seen: &Seen, origin: &str, res: &Response, allowed: bool) {
    let decision = Decision::new(Verdict::Pass)
        .rule("the browser lets the page read a cross-origin response only if Access-Control-Allow-Origin names its origin (or is *, never with credentials)")
        .subject(seen.subject.clone())
        .input("origin", origin)
        .input("cookie sent", seen.cookie)
        .input(
            "access-control-allow-origin",
            res.header("access-control-allow-origin").unwrap_or("(not sent)"),
        );
    let (decision, summary) = if allowed {
        (
            cors.knobs(
                decision,
                &["allow_origins", "allow_credentials", "expose_headers"],
            ),
            format!(
                "adds Access-Control-Allow-Origin: {}{} to the {}: the page of {origin} may read it",
                res.header("access-control-allow-origin")
                    .unwrap_or_default(),
                if cors.config.allow_credentials {
                    " and Access-Control-Allow-Credentials: true"
                } else {
                    ""
                },
                res.status_line()
            ),
        )
    } else {
        (
            cors.knobs(decision, &["allow_origins"]),
            format!(
                "adds no Access-Control-Allow-Origin to the {}: {origin} is not in allow_origins; the answer goes out all the same, and the browser keeps it from the page",
                res.status_line()
            ),
        )
    };
    Step::new(StepId::FrameworkCors, Direction::Up, Kind::Decision)
        .summary(summary)
        .decision(decision)
        .emit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::middleware::Pipeline;

    const APP: &str = "http://app.example.com";

    fn config() -> CorsConfig {
        CorsConfig {
            allow_origins: vec![APP.to_string()],
            allow_methods: vec!["GET".into(), "PUT".into(), "DELETE".into()],
            allow_headers: vec!["Authorization".into(), "X-Client".into()],
            allow_credentials: true,
            expose_headers: vec!["X-Request-Id".into()],
            max_age: Time::secs(600),
        }
    }

    /// Run `req` through a pipeline of just the cors middleware; the
    /// endpoint answers 200 "from the handler" and counts its calls.
    fn run_with(config: CorsConfig, req: Request) -> (Response, usize) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let p = Pipeline::new().with(Cors::new(config).expect("valid config"));
        let endpoint = move |_req: Request| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Response::text(200, "from the handler") }
        };
        let res = rt.block_on(p.respond(req, &endpoint));
        (res, calls.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn run(req: Request) -> (Response, usize) {
        run_with(config(), req)
    }

    fn preflight(origin: &str, method: &str, headers: Option<&str>) -> Request {
        let r = Request::new("OPTIONS", "/notes/1")
            .with_header("Origin", origin)
            .with_header("Access-Control-Request-Method", method);
        match headers {
            Some(h) => r.with_header("Access-Control-Request-Headers", h),
            None => r,
        }
    }

    #[test]
    fn a_request_without_origin_passes_untouched() {
        let (res, calls) = run(Request::new("GET", "/notes"));
        assert_eq!(calls, 1);
        assert_eq!(res.headers, Response::text(200, "from the handler").headers);
    }

    #[test]
    fn an_allowed_origin_gets_itself_back_never_a_star_with_credentials() {
        let (res, _) = run(Request::new("GET", "/me").with_header("Origin", APP));
        assert_eq!(res.header("access-control-allow-origin"), Some(APP));
        assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(
            res.header("access-control-expose-headers"),
            Some("X-Request-Id")
        );
        assert_eq!(res.header("vary"), Some("Origin"));
        // Even `*` in the list mirrors the origin when credentials are allowed.
        let any = CorsConfig {
            allow_origins: vec!["*".into()],
            ..config()
        };
        let (res, _) = run_with(
            any,
            Request::new("GET", "/").with_header("Origin", "http://x.test"),
        );
        assert_eq!(
            res.header("access-control-allow-origin"),
            Some("http://x.test")
        );
    }

    #[test]
    fn star_without_credentials_is_star_and_does_not_vary() {
        let any = CorsConfig {
            allow_origins: vec!["*".into()],
            allow_credentials: false,
            ..config()
        };
        let (res, _) = run_with(
            any,
            Request::new("GET", "/").with_header("Origin", "http://x.test"),
        );
        assert_eq!(res.header("access-control-allow-origin"), Some("*"));
        assert_eq!(res.header("access-control-allow-credentials"), None);
        assert_eq!(res.header("vary"), None);
    }

    #[test]
    fn a_disallowed_origin_gets_the_normal_answer_without_allow_origin() {
        let (res, calls) =
            run(Request::new("GET", "/notes").with_header("Origin", "http://evil.example"));
        assert_eq!(calls, 1, "the server does not block: the handler ran");
        assert_eq!(res.status, 200);
        assert_eq!(res.body_text(), "from the handler");
        assert_eq!(res.header("access-control-allow-origin"), None);
        assert_eq!(res.header("access-control-allow-credentials"), None);
        assert_eq!(
            res.header("vary"),
            Some("Origin"),
            "a cache must not serve it to the allowed origin"
        );
    }

    #[test]
    fn an_allowed_preflight_is_answered_204_without_the_handler() {
        let (res, calls) = run(preflight(
            APP,
            "PUT",
            Some("authorization,content-type,x-client"),
        ));
        assert_eq!(calls, 0);
        assert_eq!(res.status, 204);
        assert!(res.body.is_empty());
        assert_eq!(
            res.header("content-length"),
            None,
            "RFC 9110 §8.6: no Content-Length in a 204"
        );
        assert_eq!(res.header("access-control-allow-origin"), Some(APP));
        assert_eq!(
            res.header("access-control-allow-methods"),
            Some("GET, PUT, DELETE")
        );
        assert_eq!(
            res.header("access-control-allow-headers"),
            Some(
                "accept, accept-language, authorization, content-language, content-type, x-client"
            )
        );
        assert_eq!(res.header("access-control-max-age"), Some("600"));
        assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(res.header("vary"), Some("Origin"));
    }

    #[test]
    fn a_preflight_names_each_refused_part_as_starlette_does() {
        let (res, calls) = run(preflight("http://evil.example", "DELETE", None));
        assert_eq!((res.status, calls), (400, 0));
        assert_eq!(res.body_text(), "Disallowed CORS origin");
        assert_eq!(res.header("access-control-allow-origin"), None);

        let (res, _) = run(preflight(APP, "PATCH", None));
        assert_eq!(
            (res.status, res.body_text().as_str()),
            (400, "Disallowed CORS method")
        );
        assert_eq!(res.header("access-control-allow-origin"), Some(APP));

        let (res, _) = run(preflight(APP, "PUT", Some("x-client, x-secret")));
        assert_eq!(
            (res.status, res.body_text().as_str()),
            (400, "Disallowed CORS headers")
        );

        let (res, _) = run(preflight("http://evil.example", "PATCH", Some("x-secret")));
        assert_eq!(res.body_text(), "Disallowed CORS origin, method, headers");
    }

    #[test]
    fn methods_compare_exactly_and_headers_without_case() {
        let (res, _) = run(preflight(APP, "put", None));
        assert_eq!(
            res.status, 400,
            "RFC 9110 §9.1: method names are case-sensitive"
        );
        let (res, _) = run(preflight(APP, "DELETE", Some("X-CLIENT, Authorization")));
        assert_eq!(res.status, 204);
    }

    #[test]
    fn an_options_without_request_method_is_not_a_preflight() {
        let (res, calls) = run(Request::new("OPTIONS", "/notes").with_header("Origin", APP));
        assert_eq!(calls, 1);
        assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    }

    #[test]
    fn star_headers_mirror_what_was_asked() {
        let any = CorsConfig {
            allow_headers: vec!["*".into()],
            ..config()
        };
        let (res, _) = run_with(any, preflight(APP, "GET", Some("x-anything")));
        assert_eq!(res.status, 204);
        assert_eq!(
            res.header("access-control-allow-headers"),
            Some("x-anything")
        );
    }

    #[test]
    fn an_existing_vary_keeps_its_fields() {
        let mut res = Response::text(200, "x").with_header("Vary", "Accept-Encoding");
        add_vary_origin(&mut res);
        assert_eq!(res.header("vary"), Some("Accept-Encoding, Origin"));
        add_vary_origin(&mut res);
        assert_eq!(res.header("vary"), Some("Accept-Encoding, Origin"));
    }

    #[test]
    fn a_bad_configuration_is_an_error_that_names_the_entry() {
        for bad in [
            "https://app.example/",
            "app.example",
            "https://app.example/x",
            "HTTPS://a",
            "https://a:x",
        ] {
            let c = CorsConfig {
                allow_origins: vec![bad.into()],
                ..config()
            };
            assert_eq!(
                Cors::new(c).err(),
                Some(CorsConfigError::NotAnOrigin(bad.into())),
                "{bad}"
            );
        }
        for good in ["https://app.example", "http://localhost:8080", "*", "null"] {
            let c = CorsConfig {
                allow_origins: vec![good.into()],
                ..config()
            };
            if good == "null" {
                assert!(
                    Cors::new(c).is_err(),
                    "`null` is what sandboxed pages send: never allow it"
                );
            } else {
                assert!(Cors::new(c).is_ok(), "{good}");
            }
        }
        let c = CorsConfig {
            allow_headers: vec!["X Client".into()],
            ..config()
        };
        assert!(matches!(
            Cors::new(c),
            Err(CorsConfigError::NotAToken {
                knob: "allow_headers",
                ..
            })
        ));
    }
}
