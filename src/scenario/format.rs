//! The lesson file format (TOML). A lesson says what stack to build, what
//! requests to send and when, what should happen, and what to say at each
//! step.
//!
//! ```toml
//! title = "Hello, stack"
//! summary = "GET /notes travels through every layer and back."
//!
//! [stack.app_server]
//! interface = "wsgi"          # or "asgi"
//! workers = 2
//!
//! [[request]]
//! method = "GET"
//! path = "/notes"
//! expect = { status = 200, answered_by = "handler" }
//!
//! [[narration]]
//! step = "web_server.request.receive"
//! text = "nginx reads the request head first."
//! ```
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::stack::StackConfig;
use crate::units::{Size, Time};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    /// Seeds the run's random choices (none are made yet; recorded in the trace).
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub stack: StackConfig,
    /// The requests the client sends, in order.
    pub request: Spanned<Vec<Request>>,
    #[serde(default)]
    pub narration: Vec<Narration>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default = "default_method")]
    pub method: String,
    /// The request target, e.g. `/notes/1?x=y`.
    pub path: Option<String>,
    /// `HTTP/1.1` (default) or `HTTP/1.0`.
    #[serde(default = "default_version")]
    pub version: Spanned<String>,
    /// Extra header fields, in order. Host, User-Agent, Accept and
    /// Content-Length are added unless given here.
    #[serde(default)]
    pub headers: toml::Table,
    /// Body as text.
    pub body: Option<String>,
    /// Body as JSON (sets `Content-Type: application/json`).
    pub json: Option<toml::Value>,
    /// A body of this many `x` bytes (for size limits).
    pub body_size: Option<Size>,
    /// Send the body with `Transfer-Encoding: chunked`.
    #[serde(default)]
    pub chunked: bool,
    /// Send exactly these bytes instead of building a request (for
    /// malformed input). TOML escapes such as `\r\n` work here.
    pub raw: Option<String>,
    /// Earliest time to send, from the start of the lesson.
    #[serde(default)]
    pub at: Option<Time>,
    /// Which client connection to use (same number = same connection).
    /// Default: a new connection for every request.
    pub connection: Option<u64>,
    /// Add `Connection: close`.
    #[serde(default)]
    pub close: bool,
    /// What should happen.
    pub expect: Option<Expect>,
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_version() -> Spanned<String> {
    Spanned::new(0..0, "HTTP/1.1".to_string())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    /// `client`, `web_server`, `app_server`, `framework`, `handler` or `database`.
    pub answered_by: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Narration {
    /// The step name, e.g. `web_server.limit.body` (see `--json` output).
    pub step: Spanned<String>,
    /// Only for this request (1 = the first the web server read).
    pub request: Option<u64>,
    pub text: String,
}
