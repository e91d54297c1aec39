//! The trace as JSON (`roundtrip run NAME --json`): the whole [`Trace`],
//! pretty-printed. Same lesson, same bytes.

use std::io::{self, Write};

use crate::trace::Trace;

pub fn to_json(trace: &Trace) -> String {
    // A Trace holds only strings, numbers and lists: serializing cannot fail.
    serde_json::to_string_pretty(trace).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Write the same JSON as [`to_json`], and a final newline, to `out` as it
/// is produced: a load lesson's trace runs to tens of megabytes, and
/// building it as one string first would hold it in memory twice.
pub fn write(trace: &Trace, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    // `io::Error::from` keeps the kind of a failed write (a closed pipe).
    serde_json::to_writer_pretty(&mut out, trace).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}
