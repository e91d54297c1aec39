//! Ways to print a [`Trace`](super::Trace): a plain transcript for people,
//! pipes and screen readers, and JSON for tools.

pub mod detail;
pub mod json;
pub mod plain;
