//! Authentication: "who are you?" Reads the request's credentials and
//! attaches an [`Identity`]: a user, or anonymous. It never refuses.
//!
//! ```text
//!            ┌─ backend: session cookie ─▶ SELECT … FROM sessions WHERE …
//! request ──▶│                                    │
//!            └─ backend: bearer token   ─▶ verify signature, exp
//!                                                 ▼
//!                      req.identity = alice (editor) │ anonymous (why)
//! ```
//!
//! Each backend looks for its own kind of credential and says one of three
//! things: "none of mine here", "this is user X", or "these credentials do
//! not hold, because …". The first backend that finds its credential
//! decides (Starlette's `AuthenticationMiddleware` takes one backend;
//! Django's `AUTHENTICATION_BACKENDS` are tried in order). Refusing is the
//! authorization middleware's job: a public page must still work for a
//! client whose session expired.
//!
//! The trace step `framework.authenticate` is a decision whose subject is
//! the identity established; its inputs name the credential that was read
//! (never its value: see the trace's redaction).
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use super::{Middleware, Next};
use crate::framework::identity::{Identity, Rejected, User};
use crate::framework::{Outcome, Request};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// What a backend made of a request.
pub enum Found {
    /// Its kind of credential is not in the request.
    Nothing,
    /// The credential holds: this user.
    User(User),
    /// The credential came and does not hold.
    Rejected(Rejected),
}

/// One way of proving who you are (Starlette's `AuthenticationBackend`).
pub trait AuthBackend: Send + Sync {
    /// What it reads, for the trace: `the cookie sessionid`.
    fn reads(&self) -> String;

    fn authenticate<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Found>;
}

/// Attaches `req.identity`, trying its backends in order.
pub struct Authentication {
    backends: Vec<Box<dyn AuthBackend>>,
}

impl Authentication {
    pub fn new(backends: Vec<Box<dyn AuthBackend>>) -> Authentication {
        Authentication { backends }
    }

    async fn identify(&self, req: &Request) -> (Identity, Option<String>) {
        for backend in &self.backends {
            match backend.authenticate(req).await {
                Found::Nothing => continue,
                Found::User(user) => return (Identity::User(user), Some(backend.reads())),
                Found::Rejected(why) => {
                    return (
                        Identity::Anonymous {
                            rejected: Some(why),
                        },
                        Some(backend.reads()),
                    );
                }
            }
        }
        (Identity::Anonymous { rejected: None }, None)
    }
}

impl Middleware for Authentication {
    fn name(&self) -> &'static str {
        "authentication"
    }

    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let (identity, read) = self.identify(&req).await;
            if Step::enabled() {
                let tried: Vec<String> = self.backends.iter().map(|b| b.reads()).collect();
                let mut decision = Decision::new(Verdict::Pass)
                    .subject(identity.describe())
                    .rule("authentication attaches an identity and never refuses; authorization decides");
                decision = decision.input("looked for", tried.join(", "));
                let summary = match (&identity, &read) {
                    (Identity::User(u), Some(read)) => {
                        decision = decision.input("credential", read).input("user id", u.id);
                        format!("authenticates {} from {read}", u.describe())
                    }
                    (
                        Identity::Anonymous {
                            rejected: Some(why),
                        },
                        Some(read),
                    ) => {
                        decision = decision
                            .input("credential", read)
                            .input("rejected", &why.reason);
                        format!(
                            "the {} does not hold ({}): the request goes on as anonymous",
                            why.credential.as_str(),
                            why.reason
                        )
                    }
                    _ => "finds no credentials: the request goes on as anonymous".to_string(),
                };
                Step::new(
                    StepId::FrameworkAuthenticate,
                    Direction::Within,
                    Kind::Decision,
                )
                .summary(summary)
                .decision(decision)
                .emit();
            }
            req.identity = Some(identity);
            next.run(req).await
        })
    }
}
