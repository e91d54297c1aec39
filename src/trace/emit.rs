//! How layers speak: one typed helper around `tracing::event!`.
//!
//! A layer builds a [`Step`] and calls [`Step::emit`]. The helper turns it
//! into a plain `tracing` event under the `roundtrip` target, with the
//! vocabulary's field names. A layer never touches the recorder: whoever
//! installed a subscriber (the lesson runner, `serve`, a test) decides what
//! happens to the event.
//!
//! The data sections (bytes, environ, SQL…) are structured values, which
//! `tracing` fields cannot carry. They are handed over beside the event: put
//! in a per-thread slot just before it, taken by the recorder in
//! `on_event` (`tracing` calls subscribers synchronously, on the emitting
//! thread), and cleared just after. The event itself says how many sections
//! it has (`data_sections`). Formatting them into a text field and parsing
//! them back cost more than everything else a request does in `serve`.
//!
//! ```
//! use roundtrip::trace::{Direction, Kind, Layer, emit::Step};
//! Step::new(Layer::WebServer, "web_server.accept", Direction::Within, Kind::Step)
//!     .summary("accepted a connection from 127.0.0.1:50001")
//!     .emit();
//! ```
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::cell::RefCell;

use super::model::{Data, Knob};
use super::vocab::{Direction, Kind, Layer, TARGET};

thread_local! {
    /// The data sections of the event being emitted on this thread.
    static DATA: RefCell<Option<Vec<Data>>> = const { RefCell::new(None) };
}

/// The recorder's side of the hand-over: the sections of the event that is
/// being dispatched on this thread right now.
pub(crate) fn take_data() -> Option<Vec<Data>> {
    DATA.with(|slot| slot.borrow_mut().take())
}

/// One step about to be emitted.
#[derive(Debug, Clone)]
#[must_use = "a Step does nothing until .emit() is called"]
pub struct Step {
    layer: Layer,
    step: &'static str,
    direction: Direction,
    kind: Kind,
    summary: String,
    data: Vec<Data>,
    knob: Option<Knob>,
    answer: Option<u16>,
    conn: Option<u64>,
    request: Option<u64>,
    ordinal: Option<u64>,
}

impl Step {
    pub fn new(layer: Layer, step: &'static str, direction: Direction, kind: Kind) -> Step {
        Step {
            layer,
            step,
            direction,
            kind,
            summary: String::new(),
            data: Vec::new(),
            knob: None,
            answer: None,
            conn: None,
            request: None,
            ordinal: None,
        }
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Step {
        self.summary = summary.into();
        self
    }

    pub fn data(mut self, data: Data) -> Step {
        self.data.push(data);
        self
    }

    /// The configuration setting that decided this step.
    pub fn knob(mut self, name: &str, value: impl ToString) -> Step {
        self.knob = Some(Knob {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// This step produced the response, with this status.
    pub fn answer(mut self, status: u16) -> Step {
        self.answer = Some(status);
        self
    }

    /// Set the connection explicitly (instead of inheriting it from a span).
    pub fn conn(mut self, conn: u64) -> Step {
        self.conn = Some(conn);
        self
    }

    /// Set the request explicitly (instead of inheriting it from a span).
    pub fn request(mut self, request: u64) -> Step {
        self.request = Some(request);
        self
    }

    /// The request's position on its connection.
    pub fn ordinal(mut self, ordinal: u64) -> Step {
        self.ordinal = Some(ordinal);
        self
    }

    pub fn emit(self) {
        // Nobody listening (no subscriber, or one that ignores us): skip the
        // work of building the event.
        if !tracing::event_enabled!(target: TARGET, tracing::Level::INFO) {
            return;
        }
        let sections = self.data.len() as u64;
        DATA.with(|slot| *slot.borrow_mut() = Some(self.data));
        let (knob, knob_value) = match &self.knob {
            Some(k) => (Some(k.name.as_str()), Some(k.value.as_str())),
            None => (None, None),
        };
        tracing::info!(
            target: TARGET,
            layer = self.layer.as_str(),
            step = self.step,
            direction = self.direction.as_str(),
            kind = self.kind.as_str(),
            data_sections = sections,
            knob = knob,
            knob_value = knob_value,
            answer = self.answer.map(u64::from),
            conn = self.conn,
            request = self.request,
            ordinal = self.ordinal,
            "{}",
            self.summary
        );
        // If no recorder took the sections, they must not leak into the
        // next event.
        DATA.with(|slot| slot.borrow_mut().take());
    }
}

/// The span a layer opens for a client connection; events inside inherit `conn`.
pub fn connection_span(conn: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "connection", conn = conn)
}

/// The span a layer opens for one request; events inside inherit `request`.
pub fn request_span(request: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "request", request = request)
}
