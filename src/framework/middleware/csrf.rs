//! CSRF protection: a cookie-authenticated request that changes something
//! must prove it came from one of this site's own pages.
//!
//! ```text
//! evil.example's page ── POST /notes/1 (the browser adds alice's cookie!) ──▶ csrf: no token → 403
//! this site's page    ── POST /notes/1 + X-CSRF-Token: <t> ─────────────────▶ csrf: t fits → pass
//! ```
//!
//! A browser attaches cookies to every request to a site, whichever page
//! made it: that is cross-site request forgery (OWASP CSRF Prevention
//! Cheat Sheet). `SameSite=Lax` already keeps the session cookie off
//! cross-site POSTs in today's browsers; this is the defence that does not
//! depend on the browser. Two checks, as Django's `CsrfViewMiddleware`
//! makes them, for unsafe methods only (GET, HEAD, OPTIONS and TRACE
//! change nothing, RFC 9110 §9.2.1):
//!
//! 1. **Origin**: when the browser says where the request came from, it
//!    must be this site (`scheme://Host`).
//! 2. **Token**: the request carries a token, in `X-CSRF-Token` or a form
//!    field `csrf_token`, equal to HMAC-SHA256(server key, session id). The
//!    server hands it out in a `csrftoken` cookie that page scripts may read
//!    (not `HttpOnly`, as Django's); a page of another site cannot read this
//!    site's cookies, so it cannot send the token. The compare runs in
//!    constant time (`subtle`), so its speed says nothing about how many
//!    bytes were right.
//!
//! A request without a session cookie (anonymous, or a bearer token, which
//! a browser never adds by itself) has nothing for a forger to ride on,
//! and passes. Failures answer 403: the client is known, and refused.
//!
//! What we simplify: the token is not masked per response (Django masks
//! it against BREACH), and the sign-in form itself is not protected.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use base64::Engine;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{Middleware, Next};
use crate::framework::{Outcome, Request, Response, cookies};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// The cookie the token is handed out in (Django's `CSRF_COOKIE_NAME`).
pub const COOKIE: &str = "csrftoken";
/// The header a page's script sends it back in.
pub const HEADER: &str = "x-csrf-token";
/// The form field an HTML form sends it back in.
pub const FIELD: &str = "csrf_token";

/// The CSRF token of a session: HMAC-SHA256(key, session id), base64url.
pub fn token_for(key: &[u8], session_id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, session_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// Checks unsafe, cookie-authenticated requests.
pub struct Csrf {
    key: Vec<u8>,
    session_cookie: String,
}

impl Csrf {
    pub fn new(key: &[u8], session_cookie: &str) -> Csrf {
        Csrf {
            key: key.to_vec(),
            session_cookie: session_cookie.to_string(),
        }
    }

    fn session_id<'a>(&self, req: &'a Request) -> Option<&'a str> {
        req.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .find_map(|(_, v)| cookies::get(v, &self.session_cookie))
    }

    /// The token the request sent: the header, or the form field.
    fn sent_token(req: &Request) -> Option<String> {
        if let Some(t) = req.header(HEADER) {
            return Some(t.trim().to_string());
        }
        if req.media_type().as_deref() == Some("application/x-www-form-urlencoded") {
            return String::from_utf8_lossy(&req.body)
                .split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(n, _)| *n == FIELD)
                .map(|(_, v)| v.to_string());
        }
        None
    }

    /// `None` to pass, or the reason for a 403.
    fn judge(&self, req: &Request) -> (Option<String>, String) {
        if matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "TRACE") {
            return (None, "a safe method changes nothing".to_string());
        }
        let Some(session) = self.session_id(req) else {
            return (
                None,
                "no session cookie: nothing for a forger to ride on".to_string(),
            );
        };
        if let Some(origin) = req.header("origin") {
            let own = [&req.scheme, "://", req.header("host").unwrap_or_default()].concat();
            if origin != own {
                return (
                    Some(format!(
                        "Origin checking failed - {origin} does not match {own}"
                    )),
                    "the request came from another site's page".to_string(),
                );
            }
        }
        let Some(sent) = Self::sent_token(req) else {
            return (
                Some("CSRF token missing".to_string()),
                "a cookie-authenticated unsafe request without a token".to_string(),
            );
        };
        let expected = token_for(&self.key, session);
        if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            (
                None,
                "the token fits the session (compared in constant time)".to_string(),
            )
        } else {
            (
                Some("CSRF token incorrect".to_string()),
                "the token does not fit the session".to_string(),
            )
        }
    }
}

impl Middleware for Csrf {
    fn name(&self) -> &'static str {
        "csrf"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let (refusal, why) = self.judge(&req);
            if Step::enabled() {
                let decision = Decision::new(match refusal {
                    Some(_) => Verdict::Refuse { status: 403 },
                    None => Verdict::Pass,
                })
                .rule("unsafe methods with a session cookie need a matching Origin and token")
                .subject([&req.method, " ", &req.path].concat())
                .input("why", &why)
                .input("origin", req.header("origin").unwrap_or("(none)"))
                .input("token sent", Self::sent_token(&req).is_some());
                let mut step = Step::new(StepId::FrameworkCsrf, Direction::Within, Kind::Decision)
                    .decision(decision);
                step = match &refusal {
                    Some(detail) => step
                        .summary(format!(
                            "refuses {} {}: CSRF Failed: {detail}: answers 403 without calling the inner layers",
                            req.method, req.path
                        ))
                        .answer(403),
                    None => step.summary(format!("lets {} {} through: {why}", req.method, req.path)),
                };
                step.emit();
            }
            match refusal {
                Some(detail) => Ok(Response::json(
                    403,
                    &json!({"detail": format!("CSRF Failed: {detail}.")}),
                )),
                None => next.run(req).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::middleware::Pipeline;

    fn run(req: Request) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let p = Pipeline::new().with(Csrf::new(b"key", "sessionid"));
        let endpoint = |_req: Request| async { Response::text(200, "changed") };
        rt.block_on(p.respond(req, &endpoint)).status
    }

    fn post() -> Request {
        Request::new("POST", "/notes")
            .with_header("Host", "example.com")
            .with_header("Cookie", "sessionid=s1")
    }

    #[test]
    fn a_forged_or_missing_token_or_a_foreign_origin_is_refused() {
        let good = token_for(b"key", "s1");
        assert_eq!(run(post().with_header("X-CSRF-Token", &good)), 200);
        assert_eq!(run(post()), 403);
        assert_eq!(run(post().with_header("X-CSRF-Token", "forged")), 403);
        let other_session = token_for(b"key", "s2");
        assert_eq!(run(post().with_header("X-CSRF-Token", &other_session)), 403);
        let evil = post()
            .with_header("Origin", "https://evil.example")
            .with_header("X-CSRF-Token", &good);
        assert_eq!(run(evil), 403);
    }

    #[test]
    fn safe_methods_and_requests_without_a_session_cookie_pass() {
        assert_eq!(
            run(Request::new("GET", "/").with_header("Cookie", "sessionid=s1")),
            200
        );
        assert_eq!(run(Request::new("POST", "/tokens")), 200);
    }
}
