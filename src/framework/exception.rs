//! Exceptions: what happens when a handler raises instead of returning.
//!
//! In Python a view that hits a bug (`KeyError`), or a database that
//! fails under it (`sqlite3.OperationalError`), raises an exception. It
//! does not return a response: it *unwinds*, through every middleware
//! the request entered, skipping the code each one runs after
//! `call_next` / `get_response` (so no security headers, no access-log
//! line, no CORS fields), until something catches it:
//!
//! ```text
//! handler raises ──▶ middleware N … 1 (their after-code skipped)
//!                      ──▶ the framework's outermost layer
//!                            catches: answers 500 itself ─────────┐
//!                            propagates ─▶ the app server's 500 ──┤
//!                                                                 ▼
//!                                                 the web server, the client
//! ```
//!
//! Which layer answers is a setting, `[stack.framework] exceptions`:
//!
//! * `catch` (the default): the framework answers `500 Internal Server
//!   Error` itself, as Starlette's `ServerErrorMiddleware` (the outermost
//!   layer of every Starlette and FastAPI app) and Flask's
//!   `handle_exception` do. Starlette then raises the exception again, so
//!   the server logs it; uvicorn, seeing the response already started,
//!   closes the connection (uvicorn's `run_asgi`). Flask only logs it.
//! * `propagate`: the framework lets it out (Flask's
//!   `PROPAGATE_EXCEPTIONS = True`, or an ASGI app with no error layer),
//!   and the app server answers: gunicorn's worker sends its own 500 page
//!   (`Worker.handle_error`), uvicorn sends `Internal Server Error` as
//!   text with `connection: close` (`send_500_response`).
//!
//! Rust has no exceptions; an [`Outcome`] is `Result<Response, Exception>`
//! and `?` is the unwinding, which is why a middleware writes
//! `next.run(req).await?`.
//!
//! Book: "When things fail" (book/src/failures.md).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::response::Response;

/// An exception the app did not catch: its Python class, its message and
/// the handler it was raised in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The exception's class, e.g. `KeyError`, `sqlite3.OperationalError`.
    pub class: String,
    /// Its message, e.g. `'title'`, `no such table: notes`.
    pub message: String,
    /// The handler it was raised in (the route's handler name).
    pub raised_in: String,
}

impl Exception {
    /// `class: message`, as the last line of a Python traceback reads.
    pub fn line(&self) -> String {
        if self.message.is_empty() {
            self.class.clone()
        } else {
            format!("{}: {}", self.class, self.message)
        }
    }

    /// The trace's fields for it.
    pub fn fields(&self) -> Vec<(String, String)> {
        vec![
            ("exception".to_string(), self.class.clone()),
            ("message".to_string(), self.message.clone()),
            ("raised_in".to_string(), self.raised_in.clone()),
        ]
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// What a handler or a middleware gives back: a response, or an exception
/// on its way up.
pub type Outcome = Result<Response, Exception>;

/// A handler's return value: a [`Response`] (a handler that cannot raise)
/// or an [`Outcome`].
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Response {
    fn into_outcome(self) -> Outcome {
        Ok(self)
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

/// Which layer answers an exception that reached the framework's
/// outermost layer (`[stack.framework] exceptions`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Exceptions {
    /// The framework answers 500 (Starlette's `ServerErrorMiddleware`,
    /// Flask's default).
    #[default]
    Catch,
    /// The app server answers 500 (Flask's `PROPAGATE_EXCEPTIONS`).
    Propagate,
}

impl Exceptions {
    pub fn as_str(self) -> &'static str {
        match self {
            Exceptions::Catch => "catch",
            Exceptions::Propagate => "propagate",
        }
    }
}

/// What the framework hands its interface adapter (WSGI or ASGI): the
/// response to send, if it made one, and the exception it lets out, if
/// any. Both are set when it caught an exception and raises it again
/// after answering (Starlette).
#[derive(Debug)]
pub struct Answer {
    pub response: Option<Response>,
    pub raised: Option<Exception>,
}

/// The framework's own 500 body and type: Starlette's
/// `PlainTextResponse("Internal Server Error", status_code=500)`.
pub fn server_error() -> Response {
    Response::text(500, "Internal Server Error")
}
