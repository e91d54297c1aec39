//! Security headers: added to every response on its way up.
//!
//! | header | effect |
//! |---|---|
//! | `X-Content-Type-Options: nosniff` | the browser trusts `Content-Type` and never guesses (no running a "text" file as a script) |
//! | `X-Frame-Options: DENY` | no other site may show this page in a frame (clickjacking) |
//! | `Referrer-Policy: same-origin` | the full URL leaks in `Referer` only to this site |
//!
//! These are Django's defaults (`SecurityMiddleware` and
//! `XFrameOptionsMiddleware`). A header the handler already set is left
//! alone, so a view can opt out, as Django's `@xframe_options_exempt` does.
//!
//! What we simplify: no HSTS (it only counts over HTTPS) and no
//! `Content-Security-Policy` (it needs a policy per site).
//!
//! Book: "The framework" (book/src/framework.md).

use super::{Middleware, Next};
use crate::framework::{Outcome, Request};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// The headers, in the order they are added.
pub const HEADERS: [(&str, &str); 3] = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
];

/// Adds [`HEADERS`] to every response that lacks them.
#[derive(Debug, Default)]
pub struct SecurityHeaders;

impl SecurityHeaders {
    pub fn new() -> SecurityHeaders {
        SecurityHeaders
    }
}

impl Middleware for SecurityHeaders {
    fn name(&self) -> &'static str {
        "security_headers"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let mut res = next.run(req).await?;
            let mut added = Vec::new();
            for (name, value) in HEADERS {
                if res.header(name).is_none() {
                    res.set_header(name, value);
                    added.push((name.to_string(), value.to_string()));
                }
            }
            let names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
            let summary = if names.is_empty() {
                "adds no security headers: the response already has them".to_string()
            } else {
                ["adds ", &names.join(", ")].concat()
            };
            Step::new(
                StepId::FrameworkSecurityHeaders,
                Direction::Within,
                Kind::Step,
            )
            .summary(summary)
            .data(Data::Fields { entries: added })
            .emit();
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Response;
    use crate::framework::middleware::Pipeline;

    #[tokio::test(start_paused = true)]
    async fn django_defaults_are_added_on_the_way_up() {
        let p = Pipeline::new().with(SecurityHeaders::new());
        let endpoint = |_req: Request| async {
            Response::text(200, "hi").with_header("X-Frame-Options", "SAMEORIGIN")
        };
        let res = p.respond(Request::new("GET", "/"), &endpoint).await;
        assert_eq!(res.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(res.header("Referrer-Policy"), Some("same-origin"));
        // The handler's own choice wins.
        assert_eq!(res.header("X-Frame-Options"), Some("SAMEORIGIN"));
    }
}
