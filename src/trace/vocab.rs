//! The words of the trace: which layer, which way, what kind of step.
//!
//! Every event a layer emits names one [`Layer`], one [`Direction`] and one
//! [`Kind`]. The string forms (`as_str`) are what travels through `tracing`
//! fields and what the JSON trace contains, so they are part of the format:
//! change them only together with the golden traces.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use serde::{Deserialize, Serialize};

/// The `tracing` target every roundtrip event is emitted under. The recorder
/// ignores events with any other target (a crate's own debug logs, say).
pub const TARGET: &str = "roundtrip";

/// Field names used on spans and events. Layers never write these by hand:
/// they go through [`crate::trace::emit`], so a name cannot be misspelt.
pub mod field {
    /// Span and event field: the client connection the request came in on.
    pub const CONN: &str = "conn";
    /// Span and event field: the request id the web server assigned.
    pub const REQUEST: &str = "request";
    /// Event field: the request's position on its connection (1 = first).
    pub const ORDINAL: &str = "ordinal";
    pub const LAYER: &str = "layer";
    pub const DIRECTION: &str = "direction";
    pub const KIND: &str = "kind";
    pub const STEP: &str = "step";
    /// Event field: how many data sections were handed over beside the
    /// event (see `emit`).
    pub const DATA_SECTIONS: &str = "data_sections";
    pub const KNOB: &str = "knob";
    pub const KNOB_VALUE: &str = "knob_value";
    /// Event field: this step *produced* a response with this status.
    pub const ANSWER: &str = "answer";
    pub const MESSAGE: &str = "message";
}

/// The layers of the stack, top (client) to bottom (database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The HTTP client: the lesson's runner, or curl in `serve` mode.
    Client,
    /// The nginx-like web server: parsing, limits, proxying.
    WebServer,
    /// The gunicorn/uvicorn-like app server and its WSGI or ASGI gateway.
    AppServer,
    /// The framework: middleware onion and router.
    Framework,
    /// The view function the router picked.
    Handler,
    /// SQLite, reached by the handler.
    Database,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Client,
        Layer::WebServer,
        Layer::AppServer,
        Layer::Framework,
        Layer::Handler,
        Layer::Database,
    ];

    /// The machine name, as in JSON and `--break-on layer:NAME`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Client => "client",
            Layer::WebServer => "web_server",
            Layer::AppServer => "app_server",
            Layer::Framework => "framework",
            Layer::Handler => "handler",
            Layer::Database => "database",
        }
    }

    /// The name a person reads (and a screen reader says).
    pub fn label(self) -> &'static str {
        match self {
            Layer::Client => "client",
            Layer::WebServer => "web server",
            Layer::AppServer => "app server",
            Layer::Framework => "framework",
            Layer::Handler => "handler",
            Layer::Database => "database",
        }
    }

    /// How deep the layer sits: 0 for the client, 5 for the database.
    pub fn depth(self) -> usize {
        self as usize
    }

    pub fn parse(name: &str) -> Option<Layer> {
        let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Layer::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

/// Which way the step moves the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the database: the request going in.
    Down,
    /// Towards the client: the response coming back.
    Up,
    /// Work inside one layer.
    Within,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Down => "down",
            Direction::Up => "up",
            Direction::Within => "within",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "down" => Some(Direction::Down),
            "up" => Some(Direction::Up),
            "within" => Some(Direction::Within),
            _ => None,
        }
    }

    /// One symbol, readable without colour.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Down => "↓",
            Direction::Up => "↑",
            Direction::Within => "·",
        }
    }
}

/// What sort of step it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something crosses from one layer to the next (bytes, environ, a message).
    Hop,
    /// Work inside a layer (parsing, matching, running SQL).
    Step,
    /// The layer chose something: keep-alive or close, which route, to answer early.
    Decision,
    /// Something went wrong: bad input, a limit, a timeout.
    Error,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hop => "hop",
            Kind::Step => "step",
            Kind::Decision => "decision",
            Kind::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "hop" => Some(Kind::Hop),
            "step" => Some(Kind::Step),
            "decision" => Some(Kind::Decision),
            "error" => Some(Kind::Error),
            _ => None,
        }
    }
}
