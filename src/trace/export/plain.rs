//! The plain transcript (`roundtrip run NAME --plain`): one line per step,
//! indented by layer, with an arrow for the direction, the answering layer
//! marked. It is also the screen-reader mode, so every line is a sentence
//! that makes sense read aloud, and nothing depends on colour.
//!
//! ```text
//!     0.000 ms  client ↓ sends request 1 on connection 1: GET /notes HTTP/1.1 (62 bytes)
//!     0.000 ms    web server · accepted connection 1 from 203.0.113.7:50001
//! ```

use std::fmt::Write;

use crate::trace::{Event, RequestSummary, Trace};

/// Render the whole trace.
pub fn transcript(trace: &Trace) -> String {
    let mut out = String::new();
    header(trace, &mut out);
    let _ = writeln!(out);
    // With several requests, every line says whose step it is: interleaved
    // requests cannot be told apart by order alone.
    let tagged = trace.requests.len() > 1;
    for e in &trace.events {
        event_line(e, tagged, &mut out);
    }
    let _ = writeln!(out);
    outcome(trace, &mut out);
    out
}

/// Only the steps of one request (for `serve --plain`).
pub fn request_transcript(trace: &Trace, request: u64) -> String {
    let mut out = String::new();
    for e in trace.events.iter().filter(|e| e.request == Some(request)) {
        event_line(e, false, &mut out);
    }
    if let Some(r) = trace.requests.iter().find(|r| r.id == request) {
        let _ = writeln!(out, "{}", request_line(r));
    }
    out
}

fn header(trace: &Trace, out: &mut String) {
    let m = &trace.meta;
    let _ = writeln!(out, "lesson {}: {}", m.scenario, m.title);
    if !m.summary.is_empty() {
        let _ = writeln!(out, "{}", m.summary.trim());
    }
    let stack: Vec<String> = trace
        .layers
        .iter()
        .map(|l| {
            let mut s = l.label.clone();
            if !l.detail.is_empty() {
                let _ = write!(s, " ({})", l.detail);
            }
            if !l.parts.is_empty() {
                let _ = write!(s, " [{}]", l.parts.join(", "));
            }
            s
        })
        .collect();
    let _ = writeln!(out, "stack: {}", stack.join(" → "));
}

/// One step: time, the request (when `tagged`), indentation by depth,
/// arrow, layer, sentence.
pub fn event_line(e: &Event, tagged: bool, out: &mut String) {
    let ms = e.at_ns as f64 / 1_000_000.0;
    let indent = "  ".repeat(e.layer.depth());
    let _ = write!(out, "{ms:>10.3} ms  ");
    if tagged {
        let tag = e.request.map(|r| format!("#{r}")).unwrap_or_default();
        let _ = write!(out, "{tag:<4}");
    }
    let _ = write!(
        out,
        "{indent}{} {}: {}",
        e.direction.arrow(),
        e.layer.label(),
        e.summary
    );
    if let Some(status) = e.answer {
        let _ = write!(out, "  ◆ answered here with {status}");
        if let Some(k) = &e.knob {
            let _ = write!(out, " (setting {} = {})", k.name, k.value);
        }
    }
    out.push('\n');
}

fn request_line(r: &RequestSummary) -> String {
    let mut s = if r.method.is_empty() {
        format!("request {}: (no request line could be read)", r.id)
    } else {
        format!("request {}: {} {}", r.id, r.method, r.target)
    };
    match r.status {
        Some(status) => {
            let _ = write!(s, " → {status}");
        }
        None => s.push_str(" → no response"),
    }
    if let Some(layer) = r.answered_by {
        let _ = write!(s, ", answered by the {}", layer.label());
    }
    if let Some(k) = &r.knob {
        let _ = write!(s, " because of {} = {}", k.name, k.value);
    }
    if let Some(c) = r.conn {
        let _ = write!(s, " (connection {c})");
    }
    s
}

fn outcome(trace: &Trace, out: &mut String) {
    for r in &trace.requests {
        let _ = writeln!(out, "{}", request_line(r));
    }
}
