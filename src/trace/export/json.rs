//! The trace as JSON (`roundtrip run NAME --json`): the whole [`Trace`],
//! pretty-printed. Same lesson, same bytes.

use crate::trace::Trace;

pub fn to_json(trace: &Trace) -> String {
    // A Trace holds only strings, numbers and lists: serializing cannot fail.
    serde_json::to_string_pretty(trace).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
