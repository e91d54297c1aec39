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
//! A lesson may also put the stack under load (`[load]`, see
//! [`Load`]): many clients, generated from the lesson's seed, instead of
//! (or beside) the requests written one by one.
//!
//! And it may compare stacks (`[[compare]]`, see [`Compare`]): the same
//! requests and the same seeded load, sent to two or more variants of
//! `[stack]`, each run on its own.
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::stack::StackConfig;
use crate::units::{ByteRate, Rate, Size, Time};

/// A roundtrip lesson: the stack to build, the requests to send through
/// it and when, what should happen, and what to say at each step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "roundtrip lesson")]
pub struct Scenario {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    /// Seeds the run's random choices (the arrivals and the mix of a
    /// `[load]`); recorded in the trace.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub stack: StackConfig,
    /// The requests the client sends, in order. Optional when the lesson
    /// has a `[load]`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Request>>")]
    pub request: Option<Spanned<Vec<Spanned<Request>>>>,
    /// Many requests, generated: see [`Load`].
    #[serde(default)]
    #[schemars(with = "Option<Load>")]
    pub load: Option<Spanned<Load>>,
    #[serde(default)]
    #[schemars(with = "Vec<Narration>")]
    pub narration: Vec<Spanned<Narration>>,
    /// Variants of `[stack]` to run the same requests and load against,
    /// one run each: see [`Compare`]. Empty: the lesson runs `[stack]`
    /// once.
    #[serde(default)]
    pub compare: Vec<Compare>,
}

fn default_seed() -> u64 {
    1
}

impl Scenario {
    /// The `[[request]]` tables, in file order (none when the lesson only
    /// has a `[load]`), each with its place in the file. Request N of the
    /// lesson is the Nth of these: the number `check`, the transcript,
    /// the player and narration's `request` all use.
    pub fn requests(&self) -> &[Spanned<Request>] {
        self.request
            .as_ref()
            .map_or(&[], |r| r.get_ref().as_slice())
    }

    /// How a message names request `n` (1-based, file order): "request 2",
    /// or "request 2 (login)" when the author named it.
    pub fn request_label(&self, n: usize) -> String {
        let name = self
            .requests()
            .get(n.wrapping_sub(1))
            .and_then(|r| r.get_ref().name.as_ref());
        match name {
            Some(name) => format!("request {n} ({})", name.get_ref()),
            None => format!("request {n}"),
        }
    }

    /// The number of the request with this `name`, if one has it.
    pub fn request_named(&self, name: &str) -> Option<usize> {
        self.requests()
            .iter()
            .position(|r| {
                r.get_ref()
                    .name
                    .as_ref()
                    .is_some_and(|n| n.get_ref() == name)
            })
            .map(|i| i + 1)
    }
}

/// `[load]`: traffic generated from the lesson's seed, as a load generator
/// (wrk, k6, locust) would send it. Exactly one of `rate` (an open loop)
/// and `clients` (a closed loop) is given.
///
/// ```toml
/// [load]
/// clients = 16        # closed loop: 16 clients, each sends, waits, thinks, sends again
/// think = "0ms"
/// duration = "10s"
///
/// [[load.mix]]
/// path = "/notes"
/// weight = 3
///
/// [[load.mix]]
/// method = "POST"
/// path = "/notes"
/// json = { title = "From the load" }
/// weight = 1
/// ```
///
/// Book: "Sync and async servers" (book/src/concurrency.md), "Writing a
/// lesson" (book/src/lessons.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Open loop: new clients arrive at this average rate, at random
    /// (Poisson) times, whatever the server is doing (`"50/s"`).
    #[schemars(with = "Option<Rate>")]
    pub rate: Option<Spanned<Rate>>,
    /// Closed loop: this many clients, each sending its next request only
    /// after the answer to the last (and `think`).
    #[schemars(with = "Option<u64>")]
    pub clients: Option<Spanned<u64>>,
    /// Closed loop: how long a client waits after an answer before its
    /// next request (default 0).
    #[schemars(with = "Option<Time>")]
    pub think: Option<Spanned<Time>>,
    /// How long new requests are sent, from the start of the lesson.
    /// Requests still in flight at the end finish.
    #[schemars(with = "Time")]
    pub duration: Spanned<Time>,
    /// The start of the run left out of the metrics, while queues fill
    /// (default 0).
    #[schemars(with = "Option<Time>")]
    pub warmup: Option<Spanned<Time>>,
    /// The requests to send, each picked with a probability proportional
    /// to its `weight`.
    #[schemars(with = "Vec<MixRequest>")]
    pub mix: Spanned<Vec<MixRequest>>,
}

/// `[[compare]]`: one variant of the lesson's stack. The lesson runs once
/// per variant, each run on its own paused clock, with the same
/// `[[request]]`s, the same `[load]` and the same seed, so the load's
/// arrivals (an open loop) and every client's picks from the mix are
/// identical; then it compares their figures side by side.
///
/// ```toml
/// [stack.app]               # the base stack: every variant starts from it
/// db_latency = "2ms"
///
/// [[compare]]
/// name = "gunicorn -w 4"
/// stack.app_server = { interface = "wsgi", workers = 4 }
/// expect = { throughput_min = 36, throughput_max = 44 }
///
/// [[compare]]
/// name = "uvicorn"
/// stack.app_server = { interface = "asgi" }
///
/// [[compare]]
/// name = "uvicorn, time.sleep in async def"
/// stack.app_server = { interface = "asgi" }
/// mix = [{ path = "/blocking?ms=100" }]   # the load's mix, entry by entry
/// ```
///
/// Book: "Sync and async servers" (book/src/concurrency.md, "Two stacks,
/// one load"), "Writing a lesson" (book/src/lessons.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    /// What the comparison calls this variant (a column of its table).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The settings this variant changes, as written: a `[stack]` table
    /// whose every table and key is optional. Read only to check it;
    /// [`Compare::stack`] is what runs.
    #[serde(default, rename = "stack")]
    pub overrides: Option<StackConfig>,
    /// This variant's version of the load's mix: entry `i` replaces
    /// `[[load.mix]]` entry `i`, with the same weight, so each client
    /// picks the same entries in the same order (the handler's code
    /// changes, the load does not).
    #[schemars(with = "Option<Vec<MixRequest>>")]
    pub mix: Option<Spanned<Vec<MixRequest>>>,
    /// What this variant's figures should show.
    #[schemars(with = "Option<CompareExpect>")]
    pub expect: Option<Spanned<CompareExpect>>,
    /// The stack this variant runs: `[stack]` with this variant's
    /// settings laid over it. Filled in by [`super::validate::parse`].
    #[serde(skip)]
    pub stack: StackConfig,
}

/// A variant's expectation: its throughput, in requests per second, lies
/// within these bounds (either may be left out).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareExpect {
    pub throughput_min: Option<f64>,
    pub throughput_max: Option<f64>,
}

/// One kind of request in a load's mix: the fields of a `[[request]]`
/// that describe what to send, and a `weight`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixRequest {
    /// How often this request is picked, relative to the others (default 1).
    #[serde(default = "default_weight")]
    #[schemars(with = "u64")]
    pub weight: Spanned<u64>,
    #[serde(default = "default_method")]
    pub method: String,
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    #[serde(default = "default_version")]
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "HeaderFields")]
    pub headers: toml::Table,
    pub body: Option<String>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<toml::Value>,
    #[schemars(with = "Option<Size>")]
    pub body_size: Option<Spanned<Size>>,
    #[serde(default)]
    pub chunked: bool,
    /// Add `Connection: close` (a closed-loop client then opens a new
    /// connection for its next request).
    #[serde(default)]
    pub close: bool,
}

fn default_weight() -> Spanned<u64> {
    Spanned::new(0..0, 1)
}

impl MixRequest {
    /// The same request as a `[[request]]`, for the client to send.
    pub fn as_request(&self) -> Request {
        Request {
            name: None,
            method: Spanned::new(0..0, self.method.clone()),
            path: Some(self.path.clone()),
            version: self.version.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            json: self.json.clone(),
            body_size: self.body_size.as_ref().map(|s| *s.get_ref()),
            chunked: self.chunked,
            raw: None,
            at: None,
            connection: None,
            from: None,
            close: self.close,
            timeout: None,
            upload_rate: None,
            head_rate: None,
            idle: None,
            stop_reading: None,
            jar: None,
            jar_from: None,
            csrf: None,
            save_token: None,
            bearer: None,
            tamper_token: false,
            scheme: None,
            sni: None,
            tls_hello: None,
            websocket: None,
            expect: None,
        }
    }
}

/// `stop_reading = { after = "16k", for = "30s" }` on a `[[request]]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopReading {
    /// Bytes of the response (head included) read before stopping.
    pub after: Size,
    /// How long the client then reads nothing.
    #[serde(rename = "for")]
    pub pause: Time,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// A name for the request (`name = "login"`), used beside its number
    /// in `check`'s messages, the transcript and the player, and
    /// accepted by narration's `request`.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[serde(default = "default_spanned_method")]
    #[schemars(with = "String")]
    pub method: Spanned<String>,
    /// The request target, e.g. `/notes/1?x=y`.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// `HTTP/1.1` (default) or `HTTP/1.0`.
    #[serde(default = "default_version")]
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    /// Extra header fields, in order. Host, User-Agent, Accept and
    /// Content-Length are added unless given here.
    #[serde(default)]
    #[schemars(with = "HeaderFields")]
    pub headers: toml::Table,
    /// Body as text.
    pub body: Option<String>,
    /// Body as JSON (sets `Content-Type: application/json`).
    #[schemars(with = "Option<serde_json::Value>")]
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
    #[schemars(with = "Option<Time>")]
    pub at: Option<Spanned<Time>>,
    /// Which client connection to use (same number = same connection).
    /// Default: a new connection for every request.
    pub connection: Option<u64>,
    /// The client's IP address, the source of its connection, as the web
    /// server's `allow` / `deny` see it (`from = "198.51.100.23"`).
    /// Default: the lesson's client, 203.0.113.7. Requests sharing a
    /// `connection` share its address: the first one's.
    pub from: Option<std::net::IpAddr>,
    /// Add `Connection: close`.
    #[serde(default)]
    pub close: bool,
    /// The client's own timeout (curl's `--max-time`, Python requests'
    /// `timeout=`): with no whole response this long after it began
    /// sending, it gives up and closes the connection.
    #[schemars(with = "Option<Time>")]
    pub timeout: Option<Spanned<Time>>,
    /// Send the body this fast (`1k/s`): one piece a second, as a client
    /// on a slow link does.
    #[schemars(with = "Option<ByteRate>")]
    pub upload_rate: Option<Spanned<ByteRate>>,
    /// Send the request head this fast too (`8/s`): one piece a second,
    /// as a slow or malicious client (slowloris) trickles its header
    /// lines. The web server's `client_header_timeout` bounds the whole
    /// head, however steadily it comes.
    #[schemars(with = "Option<ByteRate>")]
    pub head_rate: Option<Spanned<ByteRate>>,
    /// After this request's response, keep the connection open and idle
    /// this long before closing it (`idle = "5s"`), as a browser keeps a
    /// connection for reuse. Only on the last request of its connection.
    /// If the server closes it first, the client records that.
    #[schemars(with = "Option<Time>")]
    pub idle: Option<Spanned<Time>>,
    /// Stop reading the response after `after` bytes of it, for `for`,
    /// then read on (`stop_reading = { after = "16k", for = "30s" }`): an
    /// app sent to the background, a download stalled behind a full
    /// disk. What the server writes meanwhile fills the connection's
    /// buffers, and then its writes wait: the web server's
    /// `send_timeout` is how long it lets them.
    #[schemars(with = "Option<StopReading>")]
    pub stop_reading: Option<Spanned<StopReading>>,
    /// A cookie jar, as a browser keeps one: send its cookies, keep what
    /// the response sets (see `scenario::jar`).
    pub jar: Option<String>,
    /// Copy this jar into `jar` first (a stolen copy of a cookie).
    pub jar_from: Option<String>,
    /// Send `X-CSRF-Token` with the `csrftoken` cookie of this jar, as a
    /// page's script of the same site would.
    pub csrf: Option<String>,
    /// Keep the `access_token` of the response's JSON under this name.
    pub save_token: Option<String>,
    /// Send `Authorization: Bearer` with the token kept under this name.
    pub bearer: Option<String>,
    /// Change the kept token's payload to claim the admin role, keeping
    /// its signature (a forgery the server must catch).
    #[serde(default)]
    pub tamper_token: bool,
    /// `https`: connect to the TLS port (443; the stack needs `ssl`)
    /// instead of port 80. Default `http`.
    #[schemars(with = "Option<String>")]
    pub scheme: Option<Spanned<String>>,
    /// The name the TLS client asks for (SNI) and checks the certificate
    /// against. Default: the lesson host, example.com.
    pub sni: Option<String>,
    /// How the TLS client starts (see `scenario::tls_client::HelloKind`):
    /// `rustls` (default), `TLSv1.0` or `TLSv1.1` (a client offering only
    /// that), `garbage`, `stall`, or `plain` (HTTP in the clear).
    #[schemars(with = "Option<String>")]
    pub tls_hello: Option<Spanned<String>>,
    /// Open a websocket with this request (it becomes the handshake: see
    /// [`WebsocketScript`]), then send its frames at their times.
    #[schemars(with = "Option<WebsocketScript>")]
    pub websocket: Option<Spanned<WebsocketScript>>,
    /// What should happen.
    #[schemars(with = "Option<Expect>")]
    pub expect: Option<Spanned<Expect>>,
}

/// `websocket = { … }` on a `[[request]]`: the request becomes an
/// opening handshake (RFC 6455 §4.1: `Upgrade: websocket`, `Connection:
/// Upgrade`, a `Sec-WebSocket-Key` from the lesson's seed, version 13),
/// and once a 101 comes back the client sends `send`'s frames, each at
/// its `at`, while it reads and records every frame the server sends. It
/// answers pings and close frames as a browser does. A socket whose
/// script does not end with `close` or `drop` is closed with 1000 one
/// second after its last frame.
///
/// ```toml
/// [[request]]
/// path = "/chat?name=ada"
/// websocket = { protocols = ["chat"], send = [
///     { at = "100ms", text = "hello" },
///     { at = "200ms", ping = "still there?" },
///     { at = "300ms", close = 1000 },
/// ] }
/// expect = { status = 101 }
/// ```
///
/// Book: "WebSockets" (book/src/websockets.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsocketScript {
    /// `Sec-WebSocket-Protocol`: subprotocols offered, preferred first.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// `Sec-WebSocket-Version` (default `"13"`, the only one there is).
    pub version: Option<String>,
    /// The frames to send, in time order.
    #[serde(default)]
    #[schemars(with = "Vec<WsSend>")]
    pub send: Vec<Spanned<WsSend>>,
}

/// One thing the lesson's websocket client does at `at`: exactly one of
/// `text`, `binary`, `ping`, `pong`, `close` and `drop`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WsSend {
    /// When, from the start of the lesson (default: at once).
    #[schemars(with = "Option<Time>")]
    pub at: Option<Spanned<Time>>,
    /// A text message.
    pub text: Option<String>,
    /// A text message of this many `x` (for size limits).
    #[schemars(with = "Option<Size>")]
    pub text_size: Option<Spanned<Size>>,
    /// A binary message (the string's UTF-8 bytes).
    pub binary: Option<String>,
    pub ping: Option<String>,
    pub pong: Option<String>,
    /// A close frame with this code (and `reason`).
    #[schemars(with = "Option<u16>")]
    pub close: Option<Spanned<u16>>,
    #[serde(default)]
    pub reason: String,
    /// Drop the TCP connection with no close frame (the app sees 1006).
    #[serde(default)]
    pub drop: bool,
    /// Split the message into this many frames (RFC 6455 §5.4).
    #[schemars(with = "Option<usize>")]
    pub fragments: Option<Spanned<usize>>,
    /// Send the frame unmasked, as no client may (the server fails the
    /// connection with 1002).
    #[serde(default)]
    pub unmasked: bool,
}

impl WsSend {
    /// How many of the kinds of thing to send this entry names.
    pub fn kinds(&self) -> usize {
        [
            self.text.is_some(),
            self.text_size.is_some(),
            self.binary.is_some(),
            self.ping.is_some(),
            self.pong.is_some(),
            self.close.is_some(),
            self.drop,
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_spanned_method() -> Spanned<String> {
    Spanned::new(0..0, default_method())
}

fn default_version() -> Spanned<String> {
    Spanned::new(0..0, "HTTP/1.1".to_string())
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[schemars(with = "Option<u16>")]
    pub status: Option<Spanned<u16>>,
    /// `client`, `web_server`, `app_server`, `framework`, `handler` or
    /// `database`; or a middleware of the framework, `framework.NAME`
    /// (e.g. `framework.json_body`), when that middleware answered.
    #[schemars(with = "Option<String>")]
    pub answered_by: Option<Spanned<String>>,
    /// Response header fields and the value each must have (names in any
    /// case, values compared exactly): `headers = { "Cache-Control" = "no-store" }`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    /// Response header fields that must be present, whatever their value.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub has_headers: Option<Spanned<Vec<String>>>,
    /// Response header fields that must be absent.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub no_headers: Option<Spanned<Vec<String>>>,
    /// Text the response body must contain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub body_contains: Option<Spanned<String>>,
    /// Layers the request must never reach (no step of it there).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub not_reached: Option<Spanned<Vec<String>>>,
}

/// `[[narration]]`: a text shown at one step of the run. It targets a
/// step by any of `step`, `layer` and `middleware` (at least one), in
/// any request or only in `request`; of the steps that fit, the `nth`
/// (default the first).
///
/// ```toml
/// [[narration]]
/// middleware = "csrf"       # framework.middleware.enter of csrf…
/// request = "transfer"      # …in the request named "transfer"…
/// nth = 1                   # …the first time
/// text = "The CSRF middleware compares the header with the cookie."
/// ```
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Narration {
    /// The step name, e.g. `web_server.limit.body` (see `--json` output).
    /// With `middleware` and no `step`: `framework.middleware.enter`.
    #[schemars(with = "Option<String>")]
    pub step: Option<Spanned<String>>,
    /// A step of this layer (`client`, `web_server`, …).
    #[schemars(with = "Option<String>")]
    pub layer: Option<Spanned<String>>,
    /// A step of this middleware (its name in the onion, e.g. `csrf`):
    /// its `framework.middleware.enter`, or its `leave` with that `step`.
    #[schemars(with = "Option<String>")]
    pub middleware: Option<Spanned<String>>,
    /// Only in this request of the lesson: its number (file order, as
    /// `check` counts) or its `name`.
    #[schemars(with = "Option<RequestRef>")]
    pub request: Option<Spanned<RequestRef>>,
    /// The Nth of the steps that fit (from 1; default 1).
    #[schemars(with = "Option<u64>")]
    pub nth: Option<Spanned<u64>>,
    /// Only in this variant of a `[[compare]]` lesson (its `name`);
    /// without it, in every variant.
    #[schemars(with = "Option<String>")]
    pub variant: Option<Spanned<String>>,
    pub text: String,
}

/// A lesson's request as narration names it: its number in the file
/// (`request = 2`) or the `name` its author gave it (`request = "login"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRef {
    Number(u64),
    Name(String),
}

crate::units::schema_as_text!(RequestRef, "RequestRef", {
    "description": "A request of the lesson: its number in the file (from 1) or its `name`.",
    "anyOf": [
        { "type": "integer", "minimum": 1 },
        { "type": "string", "minLength": 1 }
    ]
});

/// The schema of a `headers` table: field names, each with its value
/// (text; a number or a boolean is sent as TOML writes it).
pub struct HeaderFields;

crate::units::schema_as_text!(HeaderFields, "HeaderFields", {
    "description": "Header fields, in order: `{ \"Accept-Encoding\" = \"gzip\" }`.",
    "type": "object",
    "additionalProperties": { "type": ["string", "integer", "number", "boolean"] }
});

impl<'de> Deserialize<'de> for RequestRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RequestRef, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = RequestRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a request's number (such as 2) or its name (such as \"login\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RequestRef, E> {
                u64::try_from(v)
                    .map(RequestRef::Number)
                    .map_err(|_| E::custom("a request's number starts at 1"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RequestRef, E> {
                Ok(RequestRef::Number(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RequestRef, E> {
                Ok(RequestRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Narration {
    /// What this narration targets, in words: "step `web_server.limit.body`
    /// in request 1, the 2nd time".
    pub fn target(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.middleware {
            parts.push(format!("middleware `{}`", m.get_ref()));
        }
        if let Some(s) = &self.step {
            parts.push(format!("step `{}`", s.get_ref()));
        }
        if let Some(l) = &self.layer {
            parts.push(format!("a step of the {}", l.get_ref()));
        }
        let mut out = parts.join(", ");
        match self.request.as_ref().map(|r| r.get_ref()) {
            Some(RequestRef::Number(n)) => out.push_str(&format!(" in request {n}")),
            Some(RequestRef::Name(n)) => out.push_str(&format!(" in request `{n}`")),
            None => {}
        }
        if let Some(k) = &self.nth {
            out.push_str(&format!(", time {}", k.get_ref()));
        }
        out
    }
}
