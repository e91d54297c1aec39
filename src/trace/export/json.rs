//! The trace as JSON (`roundtrip run NAME --json`): the whole [`Trace`],
//! pretty-printed. Same lesson, same bytes.

use std::io::{self, Write};

use serde::Serialize;

use crate::trace::Trace;
use crate::trace::compare::Comparison;

/// What `--json` prints for a lesson that compares stacks: the figures
/// side by side, then each variant's whole trace, in the lesson's order.
#[derive(Serialize)]
struct Compared<'a> {
    comparison: &'a Comparison,
    variants: &'a [&'a Trace],
}

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

/// A lesson's every run as JSON: its one trace (exactly [`to_json`]), or
/// for a lesson that compares stacks `{"comparison": …, "variants": [trace, …]}`.
pub fn runs_to_json(traces: &[&Trace], compared: Option<&Comparison>) -> String {
    match (compared, traces.first()) {
        (Some(comparison), _) => serde_json::to_string_pretty(&Compared {
            comparison,
            variants: traces,
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")),
        (None, Some(one)) => to_json(one),
        (None, None) => String::from("null"),
    }
}

/// Write the same JSON as [`runs_to_json`], and a final newline, as it is
/// produced (see [`write`]).
pub fn write_runs(
    traces: &[&Trace],
    compared: Option<&Comparison>,
    out: impl Write,
) -> io::Result<()> {
    let Some(comparison) = compared else {
        return match traces.first() {
            Some(one) => write(one, out),
            None => Ok(()),
        };
    };
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    let compared = Compared {
        comparison,
        variants: traces,
    };
    serde_json::to_writer_pretty(&mut out, &compared).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}
