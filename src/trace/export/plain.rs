//! The plain transcript (`roundtrip run NAME --plain`): one line per step,
//! indented by layer, with an arrow for the direction, the answering layer
//! marked, and the lesson's narration under the step it explains (`»`).
//! It is also the screen-reader mode and the handout, so every line is a
//! sentence that makes sense read aloud, and nothing depends on colour.
//!
//! ```text
//!     0.000 ms  client ↓ sends request 1 on connection 1: GET /notes HTTP/1.1 (62 bytes)
//!     0.000 ms    web server · accepted connection 1 from 203.0.113.7:50001
//! ```
//!
//! The run's figures ([`crate::trace::metrics`]) close the transcript. A
//! lesson with a `[load]` sends hundreds or thousands of requests, more
//! than anyone reads line by line: its transcript follows the first
//! [`LOAD_TRANSCRIBED`] requests step by step, says so, and lets the
//! figures speak for the rest.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::detail;
use crate::trace::compare::{Comparison, app_server_steps};
use crate::trace::metrics::{LoadModel, Metrics, Spread};
use crate::trace::{Event, Instance, RequestSummary, Trace};

/// How many requests of a load lesson the transcript follows step by step.
pub const LOAD_TRANSCRIBED: usize = 3;

/// Render the whole trace (for a load lesson, its first requests and the
/// figures).
pub fn transcript(trace: &Trace) -> String {
    transcript_with(trace, false)
}

/// [`transcript`], with each step's data under it when `detail` is set
/// (`run --plain --detail`).
pub fn transcript_with(trace: &Trace, detail: bool) -> String {
    let mut out = String::new();
    lesson_header(trace, &mut out);
    if let Some(v) = &trace.meta.variant {
        let _ = writeln!(out, "variant {} of {}: {}", v.index, v.of, v.name);
    }
    stack_line(trace, &mut out);
    body(trace, detail, &mut out);
    out
}

/// Render a lesson's every run: for a lesson that compares stacks, the
/// lesson's title once, then each variant's transcript and figures under
/// its name, then the comparison ([`comparison`]). For one run, the same as
/// [`transcript`].
pub fn transcripts(traces: &[&Trace], compared: Option<&Comparison>) -> String {
    transcripts_with(traces, compared, false)
}

/// [`transcripts`], with each step's data under it when `detail` is set.
pub fn transcripts_with(traces: &[&Trace], compared: Option<&Comparison>, detail: bool) -> String {
    let (Some(first), Some(c)) = (traces.first(), compared) else {
        return traces.iter().map(|t| transcript_with(t, detail)).collect();
    };
    let mut out = String::new();
    lesson_header(first, &mut out);
    let _ = writeln!(
        out,
        "This lesson sends the same requests to {} stacks, one run each, then compares them.",
        traces.len()
    );
    for t in traces {
        let _ = writeln!(out);
        let name = t.meta.variant.as_ref().map_or_else(
            || t.meta.scenario.clone(),
            |v| format!("variant {} of {}: {}", v.index, v.of, v.name),
        );
        let _ = writeln!(out, "━━ {name} ━━");
        stack_line(t, &mut out);
        body(t, detail, &mut out);
    }
    let _ = writeln!(out);
    comparison(c, traces, &mut out);
    out
}

/// The steps and the figures of one run, after its header.
fn body(trace: &Trace, detail: bool, out: &mut String) {
    let _ = writeln!(out);
    // With several requests, every line says whose step it is: interleaved
    // requests cannot be told apart by order alone.
    let tagged = (trace.requests.len() > 1).then_some(trace);
    let load = trace.metrics.as_ref().and_then(|m| m.load.as_ref());
    let shown = match (load, trace.requests.get(..LOAD_TRANSCRIBED)) {
        (Some(_), Some(first)) if trace.requests.len() > first.len() => {
            let _ = writeln!(
                out,
                "This lesson sends a load of {} requests. The transcript follows the first \
                 {LOAD_TRANSCRIBED} step by step, then gives the figures of the whole run.",
                trace.requests.len()
            );
            let _ = writeln!(out);
            Some(first)
        }
        _ => None,
    };
    match shown {
        None => {
            for e in &trace.events {
                event_line(e, tagged, out);
                if detail {
                    step_detail(e, trace, tagged.is_some(), out);
                }
            }
            let _ = writeln!(out);
            outcome(trace, out);
        }
        Some(first) => {
            for e in first_requests_events(trace, first) {
                event_line(e, tagged, out);
                if detail {
                    step_detail(e, trace, tagged.is_some(), out);
                }
            }
            let _ = writeln!(out);
            for r in first {
                let _ = writeln!(out, "{}", request_line(r));
            }
            let _ = writeln!(
                out,
                "… and {} more requests, not transcribed (see the figures below, or --json)",
                trace.requests.len() - first.len()
            );
        }
    }
    if let Some(m) = &trace.metrics {
        let _ = writeln!(out);
        metrics(m, out);
    }
}

/// The steps of `first` (some requests), and the steps of no request that
/// belong to their connections or to none (a worker going idle), up to
/// the last step of those requests.
fn first_requests_events<'a>(
    trace: &'a Trace,
    first: &[RequestSummary],
) -> impl Iterator<Item = &'a Event> {
    let ids: BTreeSet<u64> = first.iter().map(|r| r.id).collect();
    let conns: BTreeSet<u64> = first.iter().filter_map(|r| r.conn).collect();
    let upstreams: BTreeSet<u64> = trace
        .events
        .iter()
        .filter(|e| e.request.is_some_and(|r| ids.contains(&r)))
        .filter_map(|e| e.upstream)
        .collect();
    let last = trace
        .events
        .iter()
        .rev()
        .find(|e| e.request.is_some_and(|r| ids.contains(&r)))
        .map_or(0, |e| e.seq);
    trace
        .events
        .iter()
        .take_while(move |e| e.seq <= last)
        .filter(move |e| match e.request {
            Some(r) => ids.contains(&r),
            None => match (e.conn, e.upstream) {
                (Some(c), _) if conns.contains(&c) => true,
                (_, Some(u)) => upstreams.contains(&u),
                (Some(_), None) => false,
                (None, None) => !matches!(e.instance, Some(Instance::Client { .. })),
            },
        })
}

/// A duration for a person: milliseconds below a second, then seconds.
fn duration(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        let secs = format!("{:.3}", ns as f64 / 1e9);
        format!("{} s", secs.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn spread(s: &Spread) -> String {
    format!(
        "p50 {}, p95 {}, p99 {}, max {} (mean {})",
        duration(s.p50_ns),
        duration(s.p95_ns),
        duration(s.p99_ns),
        duration(s.max_ns),
        duration(s.mean_ns)
    )
}

/// The figures of the run, one sentence a line.
pub fn metrics(m: &Metrics, out: &mut String) {
    let window = m.window;
    match &m.load {
        Some(l) => {
            let shape = match l.model {
                LoadModel::Open => format!(
                    "open loop, new clients arriving at {}/s on average (Poisson), each on its own connection",
                    l.rate_per_s.unwrap_or_default()
                ),
                LoadModel::Closed => format!(
                    "closed loop of {} client{}, each sending its next request {} after its answer",
                    l.clients.unwrap_or_default(),
                    if l.clients == Some(1) { "" } else { "s" },
                    match l.think_ns {
                        Some(t) if t > 0 => format!("{} (think time)", duration(t)),
                        _ => "at once".to_string(),
                    }
                ),
            };
            let mix: Vec<String> = l
                .mix
                .iter()
                .map(|m| format!("{} {} × {}", m.method, m.path, m.weight))
                .collect();
            let _ = writeln!(
                out,
                "load: {shape}, for {}; mix {}; seed {}; {} requests sent{}",
                duration(l.duration_ns),
                mix.join(", "),
                l.seed,
                l.sent,
                if l.cap_reached {
                    " (stopped at the most a lesson may send)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "figures: measured from {} to {}; requests that completed in that window count",
                duration(window.start_ns),
                duration(window.end_ns)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "figures: measured over the whole run, {}",
                duration(window.len_ns())
            );
        }
    }
    let mut line = format!(
        "completed: {} request{}",
        m.completed,
        if m.completed == 1 { "" } else { "s" }
    );
    if let Some(x) = m.throughput_per_s {
        let _ = write!(line, ", throughput {x:.1} requests/s");
    }
    if m.unanswered > 0 {
        let _ = write!(line, "; {} got no response", m.unanswered);
    }
    let _ = writeln!(out, "{line}");
    if let Some(l) = &m.latency {
        let _ = writeln!(out, "latency (send to whole response): {}", spread(l));
    }
    if let (Some(x), Some(l), Some(in_flight)) = (m.throughput_per_s, &m.latency, m.in_flight_mean)
    {
        let w = l.mean_ns as f64 / 1e9;
        let _ = write!(
            out,
            "in flight: {in_flight:.1} requests on average; Little's law: throughput × mean latency = {x:.1}/s × {w:.3} s = {:.1}",
            x * w
        );
        // L = λW describes a system in balance. An overloaded open loop is
        // not: what arrives piles up, and the requests still queued at the
        // end are in flight without having completed.
        if m.sent as f64 > 1.1 * (m.completed + m.unanswered) as f64 {
            let _ = write!(
                out,
                " (the law holds for a stable system; here {} requests arrived and {} completed: the queue grew)",
                m.sent, m.completed
            );
        } else if m.unanswered > 0 {
            // Requests that ended with no answer spent time in flight but
            // count in no latency: L and λW measure different sets.
            let _ = write!(
                out,
                " (not equal: {} of the requests in flight ended with no response, so they count in L but not in λW)",
                m.unanswered
            );
        } else if (in_flight - x * w).abs() > 0.1 * in_flight {
            // A closed loop whose queue is still filling: the requests in
            // flight have waited longer than those that completed.
            let _ = write!(
                out,
                " (not equal: the law holds in a steady state, and this window is not one yet; the requests still waiting have waited longer than those that completed)"
            );
        }
        out.push('\n');
    }
    match &m.queue_wait {
        Some(q) => {
            let _ = writeln!(
                out,
                "queue wait in the app server's listen backlog: {} connection{}, {}",
                q.count,
                if q.count == 1 { "" } else { "s" },
                spread(q)
            );
        }
        None => {
            let _ = writeln!(out, "queue wait in the app server's listen backlog: none");
        }
    }
    if let Some(q) = &m.task_ready_wait {
        let _ = writeln!(
            out,
            "queue wait on the event loop (a task ready until it first runs): {}",
            spread(q)
        );
    }
    if !m.layers.is_empty() {
        let parts: Vec<String> = m
            .layers
            .iter()
            .map(|l| {
                format!(
                    "{} {} ({:.0}%)",
                    l.layer.label(),
                    duration(l.mean_ns),
                    l.share * 100.0
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "time per layer, per request on average: {}",
            parts.join(", ")
        );
    }
    if let Some(w) = &m.workers {
        let _ = writeln!(
            out,
            "sync workers: {}, busy {:.1}% of the time ({:.1} busy on average)",
            w.workers,
            w.utilization * 100.0,
            w.busy_mean
        );
    }
    if let Some(l) = &m.event_loop {
        let _ = writeln!(
            out,
            "event loop: {} task{}, {:.1} in flight on average (at most {}), running tasks {:.1}% of the time",
            l.tasks,
            if l.tasks == 1 { "" } else { "s" },
            l.mean_in_flight,
            l.peak_in_flight,
            l.utilization * 100.0
        );
    }
    let answers: Vec<String> = m
        .responses
        .iter()
        .map(|r| {
            let status = r
                .status
                .map_or("no response".to_string(), |s| s.to_string());
            match r.answered_by {
                Some(layer) => format!("{} × {status} from the {}", r.count, layer.label()),
                None => format!("{} × {status}", r.count),
            }
        })
        .collect();
    if !answers.is_empty() {
        let _ = writeln!(out, "responses: {}", answers.join(", "));
    }
    let _ = writeln!(
        out,
        "errors: {}",
        if m.errors == 0 {
            "none".to_string()
        } else {
            m.errors.to_string()
        }
    );
}

/// The comparison of a lesson's variants: what each one was, a table of
/// their figures side by side (a row per figure, a column per variant),
/// and the app server's steps for each one's first request.
pub fn comparison(c: &Comparison, traces: &[&Trace], out: &mut String) {
    let loaded = c.variants.iter().any(|v| !v.mix.is_empty());
    let _ = writeln!(
        out,
        "comparison of {} stacks, each sent the same {} (seed {}):",
        c.variants.len(),
        if loaded {
            "requests and load"
        } else {
            "requests"
        },
        c.seed
    );
    for (i, v) in c.variants.iter().enumerate() {
        let mut line = format!("  {}. {}: app server {}", i + 1, v.name, v.app_server);
        if !v.mix.is_empty() {
            let _ = write!(line, "; mix {}", v.mix.join(", "));
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    let none = || "—".to_string();
    let pct = |x: Option<f64>| x.map_or_else(none, |x| format!("{:.1}%", x * 100.0));
    let at = |s: Option<Spread>, f: fn(&Spread) -> u64| s.map_or_else(none, |s| duration(f(&s)));
    let mut rows: Vec<(&str, Vec<String>)> = vec![
        (
            "completed",
            c.variants.iter().map(|v| v.completed.to_string()).collect(),
        ),
        (
            "throughput (requests/s)",
            c.variants
                .iter()
                .map(|v| v.throughput_per_s.map_or_else(none, |x| format!("{x:.1}")))
                .collect(),
        ),
        (
            "throughput ÷ the first's",
            c.variants
                .iter()
                .map(|v| v.throughput_ratio.map_or_else(none, |x| format!("{x:.2}")))
                .collect(),
        ),
    ];
    for (label, f) in [
        ("latency p50", (|s: &Spread| s.p50_ns) as fn(&Spread) -> u64),
        ("latency p95", |s: &Spread| s.p95_ns),
        ("latency p99", |s: &Spread| s.p99_ns),
    ] {
        rows.push((label, c.variants.iter().map(|v| at(v.latency, f)).collect()));
    }
    for (label, f) in [
        (
            "backlog wait p50",
            (|s: &Spread| s.p50_ns) as fn(&Spread) -> u64,
        ),
        ("backlog wait p99", |s: &Spread| s.p99_ns),
    ] {
        rows.push((
            label,
            c.variants.iter().map(|v| at(v.queue_wait, f)).collect(),
        ));
    }
    if c.variants.iter().any(|v| v.task_ready_wait.is_some()) {
        rows.push((
            "loop wait p99 (task ready)",
            c.variants
                .iter()
                .map(|v| at(v.task_ready_wait, |s| s.p99_ns))
                .collect(),
        ));
    }
    rows.push((
        "sync workers busy",
        c.variants
            .iter()
            .map(|v| pct(v.worker_utilization))
            .collect(),
    ));
    rows.push((
        "event loop busy",
        c.variants.iter().map(|v| pct(v.loop_utilization)).collect(),
    ));
    rows.push((
        "errors",
        c.variants.iter().map(|v| v.errors.to_string()).collect(),
    ));
    rows.push((
        "steps recorded",
        c.variants.iter().map(|v| v.steps.to_string()).collect(),
    ));
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = c
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            rows.iter()
                .filter_map(|(_, cells)| cells.get(i))
                .map(|cell| cell.chars().count())
                .chain([v.name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |label: &str, cells: &[String]| {
        let mut s = format!("{label}{}", " ".repeat(label_width - label.chars().count()));
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(
                s,
                "   {}{cell}",
                " ".repeat(width.saturating_sub(cell.chars().count()))
            );
        }
        s
    };
    let names: Vec<String> = c.variants.iter().map(|v| v.name.clone()).collect();
    let _ = writeln!(out, "{}", line("", &names));
    for (label, cells) in &rows {
        let _ = writeln!(out, "{}", line(label, cells));
    }
    let _ = writeln!(out);
    for (t, v) in traces.iter().zip(&c.variants) {
        let steps = app_server_steps(t);
        if steps.is_empty() {
            continue;
        }
        // Repeated steps in a row as one, counted: "task ×2".
        let mut runs: Vec<(&str, usize)> = Vec::new();
        for s in &steps {
            let name = s.as_str().trim_start_matches("app_server.");
            match runs.last_mut() {
                Some((last, n)) if *last == name => *n += 1,
                _ => runs.push((name, 1)),
            }
        }
        let names: Vec<String> = runs
            .iter()
            .map(|(name, n)| match n {
                1 => (*name).to_string(),
                n => format!("{name} ×{n}"),
            })
            .collect();
        let _ = writeln!(
            out,
            "request 1 in the app server, {}: {}",
            v.name,
            names.join(", ")
        );
    }
    for v in &c.variants {
        let Some(g) = &v.gateway else { continue };
        let _ = writeln!(
            out,
            "request 1 through the gateway, {}: the app is handed {}, {} keys: {}; then {}",
            v.name,
            g.handed,
            g.keys.len(),
            g.keys.join(", "),
            if g.calls.is_empty() {
                "nothing more".to_string()
            } else {
                g.calls.join("; ")
            }
        );
    }
}

/// Only the steps of one request (for `serve --plain`).
pub fn request_transcript(trace: &Trace, request: u64) -> String {
    let mut out = String::new();
    for e in trace.events.iter().filter(|e| e.request == Some(request)) {
        event_line(e, None, &mut out);
    }
    if let Some(r) = trace.requests.iter().find(|r| r.id == request) {
        let _ = writeln!(out, "{}", request_line(r));
    }
    out
}

/// The lesson's name, title and summary.
fn lesson_header(trace: &Trace, out: &mut String) {
    let m = &trace.meta;
    let _ = writeln!(out, "lesson {}: {}", m.scenario, m.title);
    if !m.summary.is_empty() {
        let _ = writeln!(out, "{}", m.summary.trim());
    }
}

/// The stack this run went through, top to bottom.
fn stack_line(trace: &Trace, out: &mut String) {
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

/// One step: time, the request (when `tagged`: its number in the lesson,
/// looked up in that trace), indentation by depth, arrow, layer, sentence.
pub fn event_line(e: &Event, tagged: Option<&Trace>, out: &mut String) {
    let ms = e.at_ns as f64 / 1_000_000.0;
    let indent = "  ".repeat(e.layer.depth());
    let _ = write!(out, "{ms:>10.3} ms  ");
    if let Some(trace) = tagged {
        let tag = e
            .request
            .map(|r| format!("#{}", trace.request_number(r)))
            .unwrap_or_default();
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
    if let Some(text) = &e.narration {
        narration(text, tagged.is_some(), out);
    }
}

/// A step's data under its line (`--plain --detail`): the decision, the
/// state it changed, then each section (bytes, heads, environ, scope, ASGI
/// messages, SQL and rows), indented and in full, read top to bottom.
fn step_detail(e: &Event, trace: &Trace, tagged: bool, out: &mut String) {
    let margin = under_summary(tagged);
    let mut lines: Vec<String> = Vec::new();
    if let (Some(k), None) = (&e.knob, &e.decision) {
        lines.push(format!("setting: {} = {}", k.name, k.value));
    }
    if let Some(d) = &e.decision {
        lines.extend(detail::decision(d).iter().map(|l| l.text()));
    }
    for change in &e.state {
        lines.push(format!("state: {}", detail::state_line(change, trace)));
    }
    for d in &e.data {
        lines.extend(detail::section(d, usize::MAX).iter().map(|l| l.text()));
    }
    for line in lines {
        let _ = writeln!(out, "{margin}  {}", line.trim_end());
    }
}

/// Spaces that line text up under a step line's time column and tag
/// (`{ms:>10.3} ms  ` is 14 characters, the `#N` tag 4 more).
fn under_summary(tagged: bool) -> String {
    " ".repeat(if tagged { 18 } else { 14 })
}

/// Width the narration is wrapped to, like a printed page.
const NARRATION_WIDTH: usize = 78;

/// The lesson's narration for a step, under its line: set off by `»` and
/// wrapped, so the transcript reads as a handout and a screen reader
/// announces it as its own paragraph.
fn narration(text: &str, tagged: bool, out: &mut String) {
    let margin = under_summary(tagged);
    let mut line = String::new();
    for word in text.split_whitespace() {
        let width = margin.len() + 2 + line.chars().count() + 1 + word.chars().count();
        if !line.is_empty() && width > NARRATION_WIDTH {
            let _ = writeln!(out, "{margin}» {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{margin}» {line}");
    }
}

fn request_line(r: &RequestSummary) -> String {
    let mut s = if r.method.is_empty() {
        format!("{}: (no request line could be read)", r.label())
    } else {
        format!("{}: {} {}", r.label(), r.method, r.target)
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

/// Every request's outcome, in the lesson's numbering.
fn outcome(trace: &Trace, out: &mut String) {
    let mut requests: Vec<&RequestSummary> = trace.requests.iter().collect();
    requests.sort_by_key(|r| (r.number(), r.id));
    for r in requests {
        let _ = writeln!(out, "{}", request_line(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narration_is_wrapped_under_its_step_within_the_page_width() {
        let text = "The web server (nginx's job) reads bytes until the empty line, then \
                    parses the head under strict limits. It has not decided anything yet.";
        let mut out = String::new();
        narration(text, true, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        for line in &lines {
            assert!(
                line.starts_with(&format!("{}» ", " ".repeat(18))),
                "{line:?}"
            );
            assert!(line.chars().count() <= NARRATION_WIDTH, "{line:?}");
        }
        let words: Vec<&str> = lines
            .iter()
            .flat_map(|l| l.trim_start().trim_start_matches('»').split_whitespace())
            .collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }
}
