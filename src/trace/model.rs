//! The recorded `Trace`: what the TUI, the transcript, the JSON export and
//! the golden tests read. It is plain data (serde), built once by the
//! recorder and never changed by whoever shows it.
//!
//! ```text
//! Trace { meta, metrics, layers, connections, upstream_connections, requests, events }
//!   Event { seq, at_ns, layer, step: StepId, instance, conn, request,
//!           direction, kind, summary, knob, answer, state: [StateChange],
//!           decision, failure, data: [Data], narration }
//! ```
//!
//! An event belongs to a request (`request` set), or only to a connection
//! (`request` empty, `conn` set: an accept, an idle keep-alive close, a
//! lingering close), or to neither (a worker going idle).
//!
//! Book: "The journey of a request" (book/src/journey.md).

use serde::{Deserialize, Serialize};

pub use super::decision::{Candidate, Decision, Verdict};
pub use super::failure::Failure;
pub use super::instance::Instance;
pub use super::state::{
    ConnState, Hop, LoopState, QueueChange, StateChange, TaskState, WorkerState,
};
pub use super::vocab::{Direction, Kind, Layer, StepId};

/// One recorded run: a lesson, or one request in `serve` mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub meta: Meta,
    /// The run's figures (throughput, latency, queue wait, utilization,
    /// errors), computed from the events once the run is over; see
    /// [`super::metrics`]. Lessons always have them; a live trace from
    /// `serve` has none (its run is never over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<super::metrics::Metrics>,
    /// The layers of this stack, top to bottom, as the diagram draws them.
    pub layers: Vec<LayerInfo>,
    /// Client connections, by the web server's id.
    pub connections: Vec<ConnectionSummary>,
    /// Connections from the web server's proxy to app servers, by the
    /// proxy's id.
    pub upstream_connections: Vec<ConnectionSummary>,
    pub requests: Vec<RequestSummary>,
    /// Every step, in the order it happened (`seq` ascending).
    pub events: Vec<Event>,
}

/// Where the trace came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Lesson name (file stem), or `serve`.
    pub scenario: String,
    pub title: String,
    pub summary: String,
    /// Seed of the run's random number generator.
    pub seed: u64,
    /// roundtrip's version that recorded the trace.
    pub version: String,
    /// Wall-clock instant at simulated time zero (RFC 3339).
    pub started_at: String,
    /// The stack's configuration in effect, every knob with its value.
    pub config: serde_json::Value,
    /// In a lesson that compares stacks (`[[compare]]`): which of its
    /// variants this run is. Absent for a lesson that runs one stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<VariantMeta>,
}

/// One run of a lesson that compares stacks: the variant's place among
/// them, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantMeta {
    /// From 1, in the order of the lesson's `[[compare]]` tables.
    pub index: usize,
    /// How many variants the lesson compares.
    pub of: usize,
    pub name: String,
}

/// One box of the stack diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    pub layer: Layer,
    /// Short name, e.g. "web server".
    pub label: String,
    /// What kind of thing it is here, e.g. "WSGI · 2 sync workers".
    pub detail: String,
    /// Its inner parts in order, e.g. the framework's middleware, outermost first.
    pub parts: Vec<String>,
}

/// A connection: a client's to the web server, or the proxy's to an app
/// server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    /// The accepting side's id for it (client connections: the web
    /// server's; upstream connections: the proxy's).
    pub id: u64,
    pub hop: Hop,
    /// The connecting side's address (the client's, or the proxy's
    /// ephemeral port), as the accepting side saw it.
    pub peer: String,
    /// The address it was made to.
    pub local: String,
    pub opened_ns: u64,
    /// When it closed, if it did while recorded.
    pub closed_ns: Option<u64>,
    /// Requests carried on it, in order.
    pub requests: Vec<u64>,
    /// Events that belong to the connection and to no one request (`seq`).
    pub activity: Vec<u64>,
}

/// A configuration setting that decided an outcome, e.g. `client_max_body_size = 1m`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Knob {
    pub name: String,
    pub value: String,
}

/// One request from first byte to last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// Assigned by the web server in the order it read request heads (from
    /// 1): the server's own numbering, which the events' `request` uses.
    pub id: u64,
    /// The lesson's number for this request: N for the Nth `[[request]]`
    /// of the file, then the load's requests in the order the client sent
    /// them. What `check`, the transcript, the player and narration call
    /// it; it differs from `id` when `at` makes a later request go first.
    /// Absent outside lessons (`serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<u64>,
    /// The `name` the lesson gave the request (`name = "login"`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub conn: Option<u64>,
    /// Position on its connection: 1 for the first request, 2 for the next…
    pub ordinal: Option<u64>,
    pub method: String,
    pub target: String,
    /// The status the client got (or, for 408, the one only the log shows).
    pub status: Option<u16>,
    /// The reason phrase on the status line the client got (empty when no
    /// response was sent). nginx's own pages keep older names, e.g.
    /// "Request Entity Too Large" for 413.
    pub reason: String,
    /// The layer that produced the response (not the ones that relayed it):
    /// the first to answer, or the last that changed the status (a 304 made
    /// by the framework from the handler's 200).
    pub answered_by: Option<Layer>,
    /// When a limit decided the answer: which setting.
    pub knob: Option<Knob>,
    pub started_ns: u64,
    pub finished_ns: u64,
    /// First and last event per layer: the waterfall of the timeline.
    pub timings: Vec<LayerTiming>,
}

impl RequestSummary {
    /// The number a person is shown: the lesson's, else the server's id.
    pub fn number(&self) -> u64 {
        self.lesson.unwrap_or(self.id)
    }

    /// "request 2", or "request 2 (login)" when the lesson named it.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("request {} ({name})", self.number()),
            None => format!("request {}", self.number()),
        }
    }
}

impl Trace {
    /// The number a person is shown for the request the web server calls
    /// `id` (see [`RequestSummary::number`]).
    pub fn request_number(&self, id: u64) -> u64 {
        self.requests
            .iter()
            .find(|r| r.id == id)
            .map_or(id, RequestSummary::number)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTiming {
    pub layer: Layer,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// One step of one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Order of recording, from 0.
    pub seq: u64,
    /// Simulated nanoseconds since the run started (paused clock in lessons).
    pub at_ns: u64,
    pub layer: Layer,
    /// Which step (its layer is `layer`).
    pub step: StepId,
    /// The part of the layer that took the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Instance>,
    /// The app server instance (by its name in the `upstream` block) whose
    /// process took the step, or that the proxy's try went to: set only
    /// when the lesson declares an upstream group, so a stack of one
    /// instance records none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Client connection id (the web server's); filled in for the client's
    /// and app server's steps from linked facts.
    pub conn: Option<u64>,
    /// The upstream connection (web server ↔ app server, the proxy's id):
    /// set by the proxy's steps, filled in for the app server's from the
    /// address pair both ends recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<u64>,
    /// The app server's own id for the connection it acted on (its accept
    /// order), recorded by the app server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_conn: Option<u64>,
    pub request: Option<u64>,
    /// Position of the request on its connection (client-side steps carry it).
    pub ordinal: Option<u64>,
    pub direction: Direction,
    pub kind: Kind,
    /// One line of prose saying what happened.
    pub summary: String,
    /// The setting that decided this step, when one did.
    pub knob: Option<Knob>,
    /// Set when this step produced the response: its status code.
    pub answer: Option<u16>,
    /// States this step changed (a worker went busy, a connection idle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state: Vec<StateChange>,
    /// What the layer decided, with its inputs, when the step is a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The kind of failure, when the step records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The real data of the step, in sections.
    pub data: Vec<Data>,
    /// The lesson's narration for this step, if it has one.
    pub narration: Option<String>,
}

/// Bytes as shown to a person: `\r` and `\n` visible, other control bytes
/// as `\xNN`, cut after a limit with the count of what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownBytes {
    /// The escaped text; a real newline follows every `\n` marker.
    pub text: String,
    /// How many bytes there really were.
    pub len: usize,
    /// How many bytes were left out of `text` (0 when all are shown).
    pub truncated: usize,
}

/// A section of an event's data. Each variant is one thing a learner can
/// read in the detail pane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Data {
    /// Bytes on a wire (client ↔ web server, web server ↔ app server).
    Bytes { label: String, bytes: ShownBytes },
    /// A parsed request head.
    RequestHead {
        method: String,
        target: String,
        version: String,
        headers: Vec<(String, String)>,
    },
    /// A parsed or built response head.
    ResponseHead {
        version: String,
        status: u16,
        reason: String,
        headers: Vec<(String, String)>,
    },
    /// The WSGI `environ` dict, in the order the server built it.
    Environ { entries: Vec<(String, String)> },
    /// The ASGI `scope` dict (values as JSON: bytes shown as `b"..."` strings).
    Scope {
        entries: Vec<(String, serde_json::Value)>,
    },
    /// One ASGI message passed through `receive()` or `send()`.
    AsgiMessage {
        /// `receive` or `send`.
        call: String,
        message: Vec<(String, serde_json::Value)>,
    },
    /// WSGI `start_response(status, response_headers)` as the app called it.
    StartResponse {
        status: String,
        headers: Vec<(String, String)>,
    },
    /// The router's verdict.
    Route {
        method: String,
        path: String,
        /// The route pattern that matched, e.g. `/notes/{id}`.
        pattern: Option<String>,
        params: Vec<(String, String)>,
        /// Methods the path allows (what a 405 lists in `Allow`).
        allow: Vec<String>,
    },
    /// A statement sent to SQLite, and what came back.
    Sql {
        sql: String,
        params: Vec<String>,
        /// Rows returned (SELECT) or changed (INSERT/UPDATE/DELETE).
        rows: Option<u64>,
        /// Column names and the rows themselves, for SELECTs.
        columns: Vec<String>,
        result: Vec<Vec<String>>,
    },
    /// One websocket frame's header fields and payload (RFC 6455 §5.2).
    WsFrame {
        fin: bool,
        /// `text`, `binary`, `continuation`, `close`, `ping` or `pong`.
        opcode: String,
        /// The masking key in hex (`37fa213d`), when the frame is masked.
        mask: Option<String>,
        /// `7-bit`, `16-bit` or `64-bit`: how the length was written.
        length_form: String,
        /// Payload bytes (unmasked), shown below.
        len: u64,
        /// The payload, unmasked.
        payload: ShownBytes,
        /// For a close frame: its code (`None`: no payload) and reason.
        close_code: Option<u16>,
        close_reason: Option<String>,
    },
    /// `Sec-WebSocket-Accept` computed from `Sec-WebSocket-Key`, every
    /// stage of it (RFC 6455 §4.2.2).
    WsAccept {
        key: String,
        /// The key with the GUID appended: the text that is hashed.
        concatenated: String,
        /// Its SHA-1, 40 hex digits.
        sha1_hex: String,
        /// The digest in base64: the header's value.
        accept: String,
    },
    /// Anything else worth showing, as ordered name/value pairs.
    Fields { entries: Vec<(String, String)> },
}
