//! Authorization: "may you do this?" Looks up the rule of the route the
//! request is going to, and lets it through or answers for it.
//!
//! ```text
//!                       rule of (method, route)
//! identity ──▶ public ──────────────────────────────────▶ pass
//!          ──▶ login required, anonymous ──▶ page?  yes ─▶ 302 Location: /login?next=…
//!                                                  no ──▶ 401 + WWW-Authenticate
//!          ──▶ role required, user lacks it ────────────▶ 403 (or 404, hidden)
//! ```
//!
//! 401 and 403 are not interchangeable (RFC 9110 §15.5.2, §15.5.4): 401
//! says "I do not know who you are: authenticate", and MUST carry a
//! `WWW-Authenticate` challenge; 403 says "I know who you are, and no":
//! sending the same credentials again will not help. A browser asking for
//! an HTML page gets neither: it is redirected to the login form with
//! 302, as Django's `login_required` does, because a person can act on a
//! form and not on a 401. When configured, a 403 becomes a 404: a user who
//! may not see a resource need not learn that it exists (RFC 9110 §15.5.4
//! allows it; GitHub answers 404 for a private repository).
//!
//! The rule is found with a [`Router`] holding the same patterns as the
//! framework's router, so any path the router would send to a protected
//! handler (`/admin`, or `/notes/7` as the trie reads it) is judged by that
//! handler's rule: no spelling of a path reaches the handler around it.
//! A path the router will refuse (404, 405) passes here untouched, except
//! `OPTIONS`: it is judged by the rule of the path's `GET`, as a protected
//! Django view or a DRF `IsAuthenticated` view checks every method it
//! answers, `OPTIONS` included. So a CORS preflight (an `OPTIONS` that
//! never carries credentials) that reaches this middleware gets 401: the
//! cors middleware must sit outside it.
//!
//! The middleware reads `req.identity`. If nothing set it (the
//! authentication middleware is missing, or sits *inside* this one), the
//! request is treated as anonymous: authorization fails closed. Starlette
//! asserts instead ("AuthenticationMiddleware must be installed to access
//! request.user"), a 500; a hand-written check that skipped "no identity"
//! would fail open and let everyone in.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use serde_json::json;

use super::{Middleware, Next};
use crate::framework::identity::{Credential, Identity, Role};
use crate::framework::router::{Match, Router};
use crate::framework::{Outcome, Request, Response};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// Who may use a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    LoggedIn,
    /// A signed-in user with one of these roles.
    AnyRole(Vec<Role>),
}

impl Rule {
    pub fn describe(&self) -> String {
        match self {
            Rule::Public => "public".to_string(),
            Rule::LoggedIn => "login required".to_string(),
            Rule::AnyRole(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                ["role required: ", &names.join(" or ")].concat()
            }
        }
    }
}

/// A route's rule, and whether it is a page a browser navigates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub rule: Rule,
    /// An HTML page: an anonymous visitor is redirected to the login page
    /// instead of getting a 401.
    pub page: bool,
}

/// The authorization middleware's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationConfig {
    /// Where anonymous visitors of a page are sent (Django's `LOGIN_URL`).
    pub login_url: String,
    /// The realm of the `WWW-Authenticate` challenge.
    pub realm: String,
    /// Answer 404 instead of 403.
    pub hide_forbidden: bool,
}

/// Decides per route, with one rule per (method, pattern).
pub struct Authorization {
    policy: Router<Access>,
    config: AuthorizationConfig,
}

/// What was decided, before it is traced.
struct Verdicts {
    status: Option<u16>,
    why: String,
}

impl Authorization {
    pub fn new(policy: Router<Access>, config: AuthorizationConfig) -> Authorization {
        Authorization { policy, config }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): just the
    /// realm when no token came, `error="invalid_token"` when one did and
    /// failed.
    fn challenge(&self, identity: Option<&Identity>) -> String {
        let mut c = ["Bearer realm=\"", &self.config.realm, "\""].concat();
        if let Some(Identity::Anonymous {
            rejected: Some(why),
        }) = identity
            && why.credential == Credential::Bearer
        {
            c.push_str(", error=\"invalid_token\", error_description=\"");
            c.push_str(&why.reason.replace('"', "'"));
            c.push('"');
        }
        c
    }

    fn judge(&self, access: &Access, identity: Option<&Identity>) -> Verdicts {
        let user = identity.and_then(Identity::user);
        match (&access.rule, user) {
            (Rule::Public, _) => Verdicts {
                status: None,
                why: "the route is public".to_string(),
            },
            (Rule::LoggedIn | Rule::AnyRole(_), None) => Verdicts {
                // A client that sent a bearer token is a program, even on a
                // page: it gets the 401 it can act on, not a login form.
                status: Some(if access.page && !sent_bearer(identity) {
                    302
                } else {
                    401
                }),
                why: match identity {
                    None => {
                        "no identity is attached (authentication has not run): treated as anonymous"
                            .to_string()
                    }
                    Some(_) => "the request is anonymous".to_string(),
                },
            },
            (Rule::LoggedIn, Some(u)) => Verdicts {
                status: None,
                why: [&u.username, " is signed in"].concat(),
            },
            (Rule::AnyRole(roles), Some(u)) if roles.iter().any(|r| u.has_role(*r)) => Verdicts {
                status: None,
                why: [&u.describe(), " has a required role"].concat(),
            },
            (Rule::AnyRole(_), Some(u)) => Verdicts {
                status: Some(if self.config.hide_forbidden { 404 } else { 403 }),
                why: [&u.describe(), " has none of the required roles"].concat(),
            },
        }
    }

    fn refuse(&self, status: u16, req: &Request) -> Response {
        match status {
            302 => {
                let location = [
                    &self.config.login_url,
                    "?next=",
                    &crate::http::target::percent_encode(req.path.as_bytes()),
                ]
                .concat();
                Response::html(
                    302,
                    "<!doctype html>\n<title>Sign in</title>\n<p>This page needs you to sign in first.</p>\n".to_string(),
                )
                .with_header("Location", location)
            }
            401 => Response::json(401, &json!({"detail": "Not authenticated"}))
                .with_header("WWW-Authenticate", self.challenge(req.identity.as_ref())),
            404 => Response::json(404, &json!({"detail": "Not Found"})),
            _ => {
                let mut res = Response::json(403, &json!({"detail": "Forbidden"}));
                if let Some(Identity::User(u)) = &req.identity
                    && u.via == Credential::Bearer
                {
                    let value = [
                        "Bearer realm=\"",
                        &self.config.realm,
                        "\", error=\"insufficient_scope\"",
                    ]
                    .concat();
                    res.set_header("WWW-Authenticate", value);
                }
                res
            }
        }
    }
}

/// Did the request come with a bearer token (that did not hold)?
fn sent_bearer(identity: Option<&Identity>) -> bool {
    matches!(
        identity,
        Some(Identity::Anonymous { rejected: Some(why) }) if why.credential == Credential::Bearer
    )
}

impl Middleware for Authorization {
    fn name(&self) -> &'static str {
        "authorization"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let (access, pattern) = match self.policy.at(&req.method, &req.path) {
                Match::Found {
                    handler, pattern, ..
                } => (handler, pattern),
                // OPTIONS reads, as GET does: it is judged by the rule of
                // the path's GET, as a protected view answers every method.
                Match::MethodNotAllowed { .. } if req.method == "OPTIONS" => {
                    match self.policy.at("GET", &req.path) {
                        Match::Found {
                            handler, pattern, ..
                        } => (handler, pattern),
                        _ => return next.run(req).await,
                    }
                }
                // No such route: the router answers 404 or 405 itself.
                Match::NotFound | Match::MethodNotAllowed { .. } => return next.run(req).await,
            };
            let verdict = self.judge(access, req.identity.as_ref());
            let subject = req
                .identity
                .as_ref()
                .map_or_else(|| "no identity".to_string(), Identity::describe);
            let rule = [&req.method, " ", pattern, ": ", &access.rule.describe()].concat();
            let res = verdict.status.map(|status| self.refuse(status, &req));
            if Step::enabled() {
                let decision = Decision::new(match verdict.status {
                    Some(status) => Verdict::Refuse { status },
                    None => Verdict::Pass,
                })
                .rule(rule.clone())
                .subject(subject.clone())
                .input("route", [&req.method, " ", pattern].concat())
                .input("why", &verdict.why)
                .knob("hide_forbidden", self.config.hide_forbidden);
                let mut step = Step::new(
                    StepId::FrameworkAuthorize,
                    Direction::Within,
                    Kind::Decision,
                )
                .decision(decision);
                step = match (&res, verdict.status) {
                    (Some(res), Some(status)) => step
                        .summary(format!(
                            "refuses {subject} on {rule} ({}): answers {} without calling the inner layers",
                            verdict.why,
                            res.status_line()
                        ))
                        .answer(status),
                    _ => step.summary(format!("lets {subject} through: {rule} ({})", verdict.why)),
                };
                step.emit();
            }
            match res {
                Some(res) => Ok(res),
                None => next.run(req).await,
            }
        })
    }
}
