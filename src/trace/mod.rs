//! The trace: the one interface between the layers and whoever shows them.
//!
//! ```text
//!  layers ──tracing events──▶ Recorder ──▶ [Event] ──assemble──▶ Trace
//!                                                        │
//!                        TUI · transcript (--plain) · JSON · golden tests
//! ```
//!
//! Layers emit plain `tracing` events through [`emit::Step`], inside spans
//! that carry the connection and request ids. The [`Recorder`] (a
//! `tracing_subscriber::Layer`) records them; [`assemble`] links each step
//! to its request and summarises the run; [`metrics`] computes the run's
//! figures from the assembled trace; [`compare`] sets the figures of
//! several runs side by side (a lesson that compares stacks). Nothing here
//! knows a UI exists.
//!
//! Book: "The journey of a request" (book/src/journey.md).

pub mod assemble;
pub mod bytes;
pub mod compare;
pub mod decision;
pub mod emit;
pub mod export;
pub mod failure;
pub mod instance;
pub mod live;
pub mod metrics;
pub mod model;
pub mod recorder;
pub mod redact;
pub mod state;
pub mod visit;
pub mod vocab;

pub use assemble::assemble;
pub use model::*;
pub use recorder::{Recorder, Recording};
pub use vocab::{Direction, Kind, Layer, StepId};
