//! The detail pane: the real data of the step on screen, section by section
//! (bytes with `\r\n` visible, parsed heads, environ, scope, ASGI messages,
//! the route match, SQL and its rows), after a few lines of where and when.
//! Scrollable when focused (tab, then ↑/↓ or PgUp/PgDn).
//!
//! Book: "Using roundtrip" (book/src/using.md), section "The screen".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::super::state::{Focus, PlayerState};
use super::super::theme::Theme;
use super::super::view::StepView;
use super::text::cut;
use crate::trace::{
    Data, Decision, Event, Hop, Kind, LoopState, QueueChange, StateChange, Verdict, WorkerState,
};

/// Widest a key column gets before values start (environ keys can be long).
const MAX_KEY_WIDTH: usize = 22;
/// Widest an SQL result cell gets before it is cut.
const MAX_CELL_WIDTH: usize = 18;

pub fn render(state: &PlayerState, view: Option<&StepView>, frame: &mut Frame, area: Rect) {
    let focused = state.focus == Focus::Detail;
    let theme = &state.theme;
    let border = if focused { theme.focused } else { theme.frame };
    let title = if focused {
        " detail (↑↓ scroll) "
    } else {
        " detail "
    };
    let block = Block::bordered().title(title).border_style(border);
    // Prose wraps; a table cut to the pane stays a table.
    let width = usize::from(block.inner(area).width);
    let lines = match view {
        Some(v) => fitted(state, v.event, width),
        None => vec![Line::from("no step to show yet")],
    };
    let para = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((state.detail_scroll, 0));
    frame.render_widget(para, area);
}

/// How many lines the detail of `event` has (before wrapping); scrolling stops there.
pub fn line_count(state: &PlayerState, event: &Event) -> usize {
    lines(state, event).len()
}

/// The pane's text for one step.
pub fn lines(state: &PlayerState, e: &Event) -> Vec<Line<'static>> {
    fitted(state, e, usize::MAX)
}

/// The pane's text for one step, with table lines (SQL result rows and
/// their rule) cut to `width` columns: wrapped, a table falls apart.
fn fitted(state: &PlayerState, e: &Event, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let mut out = Vec::new();
    let mut where_ = format!(
        "{} {} {}: {}",
        e.layer.label(),
        e.direction.arrow(),
        e.kind.as_str(),
        e.step
    );
    if let Some(who) = &e.instance {
        where_.push_str(&format!(" · {}", who.label()));
    }
    out.push(Line::styled(where_, theme.heading));
    out.push(Line::from(timing(state, e)));
    let summary_style = if e.kind == Kind::Error {
        theme.error
    } else {
        theme.narration
    };
    out.push(Line::styled(e.summary.clone(), summary_style));
    if let Some(k) = &e.knob {
        out.push(Line::from(vec![
            Span::raw("setting: "),
            Span::styled(format!("{} = {}", k.name, k.value), theme.answer),
        ]));
    }
    if let Some(status) = e.answer {
        let request = e
            .request
            .and_then(|id| state.trace.requests.iter().find(|r| r.id == id));
        let reason = super::super::view::answer_reason(e, status, request);
        out.push(Line::styled(
            format!("↩ answered here: {status} {reason}"),
            theme.answer,
        ));
    }
    if let Some(f) = e.failure {
        out.push(Line::styled(
            format!("failure: {}", f.as_str()),
            theme.error,
        ));
    }
    if let Some(d) = &e.decision {
        out.push(Line::default());
        decision(d, theme, &mut out);
    }
    if !e.state.is_empty() {
        out.push(Line::default());
        out.push(Line::styled("state", theme.heading));
        for change in &e.state {
            out.push(Line::from(format!(
                "  {}",
                state_line(change, &state.trace)
            )));
        }
    }
    for d in &e.data {
        out.push(Line::default());
        section(d, theme, width, &mut out);
    }
    out
}

/// A decision: its verdict, the rule, what was measured, the settings, the
/// candidates and the choice.
fn decision(d: &Decision, theme: &Theme, out: &mut Vec<Line<'static>>) {
    let verdict = match d.verdict {
        Verdict::Pass => "pass".to_string(),
        Verdict::Refuse { status } => format!("refuse with {status}"),
        Verdict::Drop { status } => format!("log {status} and close, nothing sent"),
        Verdict::KeepOpen => "keep the connection open".to_string(),
        Verdict::Close => "close the connection".to_string(),
        Verdict::Retry => "send again".to_string(),
        Verdict::Rewrite => "rewrite the request".to_string(),
        Verdict::Choose => "choose".to_string(),
    };
    out.push(Line::from(vec![
        Span::styled("decision: ", theme.heading),
        Span::styled(verdict, theme.answer),
    ]));
    if let Some(rule) = &d.rule {
        out.push(Line::from(format!("  rule: {rule}")));
    }
    if let Some(who) = &d.subject {
        out.push(Line::from(format!("  applies to: {who}")));
    }
    for (name, value) in &d.inputs {
        out.push(Line::from(format!("  measured {name} = {value}")));
    }
    for k in &d.knobs {
        out.push(Line::from(format!("  setting {} = {}", k.name, k.value)));
    }
    for c in &d.candidates {
        let facts: Vec<String> = c.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(Line::from(format!(
            "  candidate {} {}",
            c.name,
            facts.join(" ")
        )));
    }
    if let Some(chosen) = &d.chosen {
        out.push(Line::from(format!("  chosen: {chosen}")));
    }
}

/// One change of state, as a person reads it.
/// One state change in words; requests by the lesson's number for them.
fn state_line(change: &StateChange, trace: &crate::trace::Trace) -> String {
    let n = |r: &u64| trace.request_number(*r);
    match change {
        StateChange::Connection {
            hop,
            conn,
            state,
            local,
            peer,
        } => {
            let hop = match hop {
                Hop::Client => "client connection",
                Hop::Upstream => "upstream connection",
            };
            let mut s = format!("{hop} {conn}: {state:?}").to_lowercase();
            if let (Some(l), Some(p)) = (local, peer) {
                s.push_str(&format!(" ({l} ↔ {p})"));
            }
            s
        }
        StateChange::Worker {
            worker,
            state,
            request,
            replaced_by,
        } => match (state, request, replaced_by) {
            (WorkerState::Busy, Some(r), _) => {
                format!("worker {worker}: busy with request {}", n(r))
            }
            (WorkerState::Busy, None, _) => format!("worker {worker}: busy"),
            (WorkerState::Idle, ..) => format!("worker {worker}: idle"),
            (WorkerState::Exited, _, Some(new)) => {
                format!("worker {worker}: exited; worker {new} replaces it")
            }
            (WorkerState::Exited, ..) => format!("worker {worker}: exited"),
        },
        StateChange::Thread {
            worker,
            thread,
            state,
            request,
        } => match (state, request) {
            (WorkerState::Busy, Some(r)) => {
                format!(
                    "worker {worker} thread {thread}: busy with request {}",
                    n(r)
                )
            }
            (WorkerState::Busy, None) => format!("worker {worker} thread {thread}: busy"),
            (WorkerState::Idle, _) => format!("worker {worker} thread {thread}: idle"),
            (WorkerState::Exited, _) => format!("worker {worker} thread {thread}: exited"),
        },
        StateChange::ThreadQueue {
            worker,
            change,
            len,
            capacity,
        } => {
            let way = match change {
                QueueChange::Enqueue => "a connection joins",
                QueueChange::Dequeue => "a thread takes one",
            };
            format!("worker {worker}'s queue: {way}; {len} waiting (worker_connections {capacity})")
        }
        StateChange::Backlog {
            change,
            len,
            capacity,
            ..
        } => {
            let way = match change {
                QueueChange::Enqueue => "a connection joins",
                QueueChange::Dequeue => "accept() takes one",
            };
            match len {
                Some(n) => format!("backlog: {way}; {n} of {capacity} waiting"),
                None => format!("backlog: {way} (capacity {capacity})"),
            }
        }
        StateChange::Task {
            task,
            state,
            request,
        } => {
            let mut s = format!("task {task}: {state:?}").to_lowercase();
            if let Some(r) = request {
                s.push_str(&format!(" (request {})", n(r)));
            }
            s
        }
        StateChange::Loop {
            state: LoopState::Blocked,
            request,
            ..
        } => match request {
            Some(r) => format!("event loop: BLOCKED by request {}", n(r)),
            None => "event loop: BLOCKED".to_string(),
        },
        StateChange::Loop { .. } => "event loop: free".to_string(),
    }
}

fn timing(state: &PlayerState, e: &Event) -> String {
    let mut s = format!(
        "step {} of {} · at {}",
        state.cursor + 1,
        state.len(),
        ms(e.at_ns)
    );
    if let Some(prev) = state
        .cursor
        .checked_sub(1)
        .and_then(|i| state.trace.events.get(i))
    {
        s.push_str(&format!(" (+{})", ms(e.at_ns.saturating_sub(prev.at_ns))));
    }
    if let Some(r) = e.request {
        s.push_str(&format!(" · request {}", state.trace.request_number(r)));
    }
    s
}

/// Simulated nanoseconds as milliseconds, three decimals.
pub fn ms(ns: u64) -> String {
    format!("{}.{:03} ms", ns / 1_000_000, (ns % 1_000_000) / 1_000)
}

fn heading(text: String, theme: &Theme) -> Line<'static> {
    Line::styled(format!("── {text} ──"), theme.heading)
}

fn section(d: &Data, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    match d {
        Data::Bytes { label, bytes } => {
            out.push(heading(format!("{label} · {} bytes", bytes.len), theme));
            for line in bytes.text.split_inclusive('\n') {
                out.push(Line::styled(
                    line.trim_end_matches('\n').to_string(),
                    theme.bytes,
                ));
            }
            if bytes.truncated > 0 {
                out.push(Line::styled(
                    format!("… {} more bytes not shown", bytes.truncated),
                    theme.dim,
                ));
            }
        }
        Data::RequestHead {
            method,
            target,
            version,
            headers,
        } => {
            out.push(heading(String::from("request head"), theme));
            out.push(Line::from(format!("{method} {target} {version}")));
            headers_lines(headers, out);
        }
        Data::ResponseHead {
            version,
            status,
            reason,
            headers,
        } => {
            out.push(heading(String::from("response head"), theme));
            out.push(Line::from(format!("{version} {status} {reason}")));
            headers_lines(headers, out);
        }
        Data::Environ { entries } => {
            out.push(heading(
                format!("WSGI environ · {} keys", entries.len()),
                theme,
            ));
            pairs(entries.iter().map(|(k, v)| (k.as_str(), v.clone())), out);
        }
        Data::Scope { entries } => {
            out.push(heading(String::from("ASGI scope"), theme));
            pairs(entries.iter().map(|(k, v)| (k.as_str(), json(v))), out);
        }
        Data::AsgiMessage { call, message } => {
            out.push(heading(format!("ASGI message via {call}()"), theme));
            pairs(message.iter().map(|(k, v)| (k.as_str(), json(v))), out);
        }
        Data::StartResponse { status, headers } => {
            out.push(heading(
                String::from("start_response(status, headers)"),
                theme,
            ));
            out.push(Line::from(format!("status: {status}")));
            headers_lines(headers, out);
        }
        Data::Route {
            method,
            path,
            pattern,
            params,
            allow,
        } => {
            out.push(heading(String::from("route match"), theme));
            match pattern {
                Some(p) => out.push(Line::from(format!("{method} {path} → {p}"))),
                None => out.push(Line::from(format!("{method} {path} → no route matches"))),
            }
            for (k, v) in params {
                out.push(Line::from(format!("  param {k} = {v:?}")));
            }
            if !allow.is_empty() {
                out.push(Line::from(format!("  allow: {}", allow.join(", "))));
            }
        }
        Data::Sql {
            sql,
            params,
            rows,
            columns,
            result,
        } => {
            out.push(heading(String::from("SQL"), theme));
            for l in sql.lines() {
                out.push(Line::styled(l.to_string(), theme.bytes));
            }
            if !params.is_empty() {
                out.push(Line::from(format!("params: [{}]", params.join(", "))));
            }
            table(columns, result, width, out);
            if let Some(n) = rows {
                let what = if columns.is_empty() {
                    "changed"
                } else {
                    "returned"
                };
                out.push(Line::from(format!("{n} row{} {what}", plural(*n))));
            }
        }
        Data::Fields { entries } => {
            out.push(heading(String::from("details"), theme));
            pairs(entries.iter().map(|(k, v)| (k.as_str(), v.clone())), out);
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn headers_lines(headers: &[(String, String)], out: &mut Vec<Line<'static>>) {
    for (k, v) in headers {
        out.push(Line::from(format!("{k}: {v}")));
    }
}

fn pairs<'a>(entries: impl Iterator<Item = (&'a str, String)>, out: &mut Vec<Line<'static>>) {
    let entries: Vec<(&str, String)> = entries.collect();
    let width = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_KEY_WIDTH);
    for (k, v) in entries {
        out.push(Line::from(format!("{k:<width$} = {v}")));
    }
}

/// A JSON value as a person reads it: strings without quotes.
fn json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A result table; each line cut to `width` (with `…`) so it never wraps.
fn table(columns: &[String], rows: &[Vec<String>], width: usize, out: &mut Vec<Line<'static>>) {
    if columns.is_empty() {
        return;
    }
    let mut widths: Vec<usize> = columns.iter().map(|c| cell(c).chars().count()).collect();
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell(v).chars().count());
            }
        }
    }
    let fmt_row = |cells: &[String]| -> String {
        let parts: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let v = cells.get(i).map(|s| cell(s)).unwrap_or_default();
                format!("{v:<w$}")
            })
            .collect();
        format!("│ {} │", parts.join(" │ "))
    };
    out.push(Line::from(cut(&fmt_row(columns), width)));
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    out.push(Line::from(cut(&format!("├─{}─┤", rule.join("─┼─")), width)));
    for row in rows {
        out.push(Line::from(cut(&fmt_row(row), width)));
    }
}

/// A cell cut to [`MAX_CELL_WIDTH`] characters.
fn cell(s: &str) -> String {
    if s.chars().count() <= MAX_CELL_WIDTH {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX_CELL_WIDTH - 1).collect();
        format!("{cut}…")
    }
}
