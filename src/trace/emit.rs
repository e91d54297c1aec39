//! How layers speak: one typed helper around `tracing::event!`.
//!
//! A layer builds a [`Step`] and calls [`Step::emit`]. The helper emits a
//! plain `tracing` event under the `roundtrip` target, with the step's name
//! and summary as fields (so any `tracing` subscriber can print it). A layer
//! never touches the recorder: whoever installed a subscriber (the lesson
//! runner, `serve`, a test) decides what happens to the event.
//!
//! The typed part of the step (its [`StepId`], instance, state changes,
//! decision, data sections…) cannot travel in `tracing` fields, which hold
//! only numbers and text. It is handed over beside the event: put in a
//! per-thread slot just before it, taken by the recorder in `on_event`
//! (`tracing` calls subscribers synchronously, on the emitting thread), and
//! cleared just after. Formatting it into text and parsing it back would
//! cost more than everything else a request does in `serve`.
//!
//! ```
//! use roundtrip::trace::{Direction, Kind, StepId, emit::Step};
//! Step::new(StepId::WebServerAccept, Direction::Within, Kind::Step)
//!     .summary("accepted a connection from 127.0.0.1:50001")
//!     .emit();
//! ```
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::cell::RefCell;

use super::decision::Decision;
use super::failure::Failure;
use super::instance::Instance;
use super::model::{Data, Knob};
use super::state::StateChange;
use super::vocab::{Direction, Kind, StepId, TARGET};

thread_local! {
    /// The step being emitted on this thread.
    static HANDOVER: RefCell<Option<Step>> = const { RefCell::new(None) };
}

/// The recorder's side of the hand-over: the step that is being dispatched
/// on this thread right now.
pub(crate) fn take_step() -> Option<Step> {
    HANDOVER.with(|slot| slot.borrow_mut().take())
}

/// One step about to be emitted. The fields are read by the recorder.
#[derive(Debug, Clone)]
#[must_use = "a Step does nothing until .emit() is called"]
pub struct Step {
    pub(crate) step: StepId,
    pub(crate) direction: Direction,
    pub(crate) kind: Kind,
    pub(crate) summary: String,
    pub(crate) data: Vec<Data>,
    pub(crate) knob: Option<Knob>,
    pub(crate) answer: Option<u16>,
    pub(crate) conn: Option<u64>,
    pub(crate) upstream: Option<u64>,
    pub(crate) app_conn: Option<u64>,
    pub(crate) request: Option<u64>,
    pub(crate) ordinal: Option<u64>,
    pub(crate) instance: Option<Instance>,
    pub(crate) state: Vec<StateChange>,
    pub(crate) decision: Option<Decision>,
    pub(crate) failure: Option<Failure>,
    pub(crate) server: Option<String>,
}

impl Step {
    pub fn new(step: StepId, direction: Direction, kind: Kind) -> Step {
        Step {
            step,
            direction,
            kind,
            summary: String::new(),
            data: Vec::new(),
            knob: None,
            answer: None,
            conn: None,
            upstream: None,
            app_conn: None,
            request: None,
            ordinal: None,
            instance: None,
            state: Vec::new(),
            decision: None,
            failure: None,
            server: None,
        }
    }

    /// A step that only changes state (kind [`Kind::State`]).
    pub fn state_only(step: StepId, change: StateChange) -> Step {
        Step::new(step, Direction::Within, Kind::State).state(change)
    }

    /// Is anyone recording? Lets a caller skip building an expensive
    /// summary or data section when nobody will read it.
    pub fn enabled() -> bool {
        tracing::event_enabled!(target: TARGET, tracing::Level::INFO)
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Step {
        self.summary = summary.into();
        self
    }

    pub fn data(mut self, data: Data) -> Step {
        self.data.push(data);
        self
    }

    /// The configuration setting that decided this step (also listed among
    /// the decision's knobs, if the step carries a decision).
    pub fn knob(mut self, name: &str, value: impl ToString) -> Step {
        let knob = Knob {
            name: name.to_string(),
            value: value.to_string(),
        };
        if let Some(d) = &mut self.decision
            && !d.knobs.iter().any(|k| k.name == knob.name)
        {
            d.knobs.insert(0, knob.clone());
        }
        self.knob = Some(knob);
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

    /// The upstream connection (the proxy's id) this step happened on.
    pub fn upstream(mut self, conn: u64) -> Step {
        self.upstream = Some(conn);
        self
    }

    /// The app server's own id for its connection (instead of a span's).
    pub fn app_conn(mut self, conn: u64) -> Step {
        self.app_conn = Some(conn);
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

    /// Which part of the layer took the step.
    pub fn instance(mut self, instance: Instance) -> Step {
        self.instance = Some(instance);
        self
    }

    /// A state this step changed.
    pub fn state(mut self, change: StateChange) -> Step {
        self.state.push(change);
        self
    }

    /// What the step decided. The step's knob, if set, is among its knobs.
    pub fn decision(mut self, mut decision: Decision) -> Step {
        if let Some(k) = &self.knob
            && !decision.knobs.iter().any(|d| d.name == k.name)
        {
            decision.knobs.insert(0, k.clone());
        }
        self.decision = Some(decision);
        self
    }

    /// The app server instance this step belongs to (instead of a span's):
    /// its listen backlog's steps are taken as the proxy dials.
    pub fn server(mut self, server: impl Into<String>) -> Step {
        self.server = Some(server.into());
        self
    }

    /// The kind of failure this step records.
    pub fn failure(mut self, failure: Failure) -> Step {
        self.failure = Some(failure);
        self
    }

    pub fn emit(self) {
        // Nobody listening (no subscriber, or one that ignores us): skip the
        // work of building the event.
        if !Step::enabled() {
            return;
        }
        let name = self.step.as_str();
        // The summary travels as a text field (every subscriber can print
        // it); the recorder takes the rest from the hand-over slot.
        let mut step = self;
        let summary = std::mem::take(&mut step.summary);
        HANDOVER.with(|slot| *slot.borrow_mut() = Some(step));
        tracing::info!(target: TARGET, step = name, summary = summary.as_str());
        // If no recorder took the step, it must not leak into the next event.
        HANDOVER.with(|slot| slot.borrow_mut().take());
    }
}

/// The span a layer opens for a client connection; events inside inherit `conn`.
pub fn connection_span(conn: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "connection", conn = conn)
}

/// The span the app server opens for a connection it accepted; events
/// inside inherit `app_conn`.
pub fn app_connection_span(app_conn: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "app_connection", app_conn = app_conn)
}

/// The span a sync worker runs in; app-server events inside are the worker's.
pub fn worker_span(worker: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "worker", worker = worker)
}

/// The span an event-loop task runs in; app-server events inside are the task's.
pub fn task_span(task: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "task", task = task)
}

/// The span an app server instance runs in (one of several behind an
/// upstream group), and the span of the proxy's try on it: events inside
/// inherit `server`.
pub fn server_span(server: &str) -> tracing::Span {
    tracing::info_span!(target: TARGET, "upstream_server", server = server)
}

/// The span a layer opens for one request; events inside inherit `request`.
pub fn request_span(request: u64) -> tracing::Span {
    tracing::info_span!(target: TARGET, "request", request = request)
}
