//! A step's data in words: the parsed heads, the bytes with `\r\n`
//! visible, environ, scope, ASGI messages, the route match, SQL and its
//! rows, the decision and the state it changed. The player's detail pane
//! draws these lines with colours; `run --plain --detail` prints them as
//! they are, indented under the step, for a handout or a screen reader.
//! One source for both, so what a learner reads is the same in each.
//!
//! Book: "Using roundtrip" (book/src/using.md), "The screen" and "Reading
//! a lesson without the player".

use crate::trace::{
    Data, Decision, Hop, LoopState, QueueChange, StateChange, Trace, Verdict, WorkerState,
};

/// Widest a key column gets before values start (environ keys can be long).
const MAX_KEY_WIDTH: usize = 22;
/// Widest an SQL result cell gets before it is cut.
const MAX_CELL_WIDTH: usize = 18;

/// What a piece of a line is, for whoever draws it (the player picks a
/// colour; plain text ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Ordinary text.
    Plain,
    /// A section's title (`── SQL ──`).
    Heading,
    /// Bytes as they were on the wire.
    Bytes,
    /// Something left out (`… 200 more bytes not shown`).
    Dim,
    /// The verdict of a decision.
    Verdict,
}

/// One line: its pieces, each with its tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailLine(pub Vec<(Tone, String)>);

impl DetailLine {
    fn plain(text: impl Into<String>) -> DetailLine {
        DetailLine(vec![(Tone::Plain, text.into())])
    }

    fn toned(tone: Tone, text: impl Into<String>) -> DetailLine {
        DetailLine(vec![(tone, text.into())])
    }

    /// The line's text without tones.
    pub fn text(&self) -> String {
        self.0.iter().map(|(_, s)| s.as_str()).collect()
    }
}

fn heading(text: String) -> DetailLine {
    DetailLine::toned(Tone::Heading, format!("── {text} ──"))
}

/// `s` in at most `width` characters, ending in `…` when cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

/// One data section of a step; table lines (SQL rows and their rule) cut
/// to `width` columns, since a wrapped table falls apart.
pub fn section(d: &Data, width: usize) -> Vec<DetailLine> {
    let mut out = Vec::new();
    match d {
        Data::Bytes { label, bytes } => {
            out.push(heading(format!("{label} · {} bytes", bytes.len)));
            shown_lines(bytes, &mut out);
        }
        Data::RequestHead {
            method,
            target,
            version,
            headers,
        } => {
            out.push(heading(String::from("request head")));
            out.push(DetailLine::plain(format!("{method} {target} {version}")));
            headers_lines(headers, &mut out);
        }
        Data::ResponseHead {
            version,
            status,
            reason,
            headers,
        } => {
            out.push(heading(String::from("response head")));
            out.push(DetailLine::plain(format!("{version} {status} {reason}")));
            headers_lines(headers, &mut out);
        }
        Data::Environ { entries } => {
            out.push(heading(format!("WSGI environ · {} keys", entries.len())));
            pairs(
                entries.iter().map(|(k, v)| (k.as_str(), v.clone())),
                &mut out,
            );
        }
        Data::Scope { entries } => {
            out.push(heading(String::from("ASGI scope")));
            pairs(entries.iter().map(|(k, v)| (k.as_str(), json(v))), &mut out);
        }
        Data::AsgiMessage { call, message } => {
            out.push(heading(format!("ASGI message via {call}()")));
            pairs(message.iter().map(|(k, v)| (k.as_str(), json(v))), &mut out);
        }
        Data::StartResponse { status, headers } => {
            out.push(heading(String::from("start_response(status, headers)")));
            out.push(DetailLine::plain(format!("status: {status}")));
            headers_lines(headers, &mut out);
        }
        Data::Route {
            method,
            path,
            pattern,
            params,
            allow,
        } => {
            out.push(heading(String::from("route match")));
            match pattern {
                Some(p) => out.push(DetailLine::plain(format!("{method} {path} → {p}"))),
                None => out.push(DetailLine::plain(format!(
                    "{method} {path} → no route matches"
                ))),
            }
            for (k, v) in params {
                out.push(DetailLine::plain(format!("  param {k} = {v:?}")));
            }
            if !allow.is_empty() {
                out.push(DetailLine::plain(format!("  allow: {}", allow.join(", "))));
            }
        }
        Data::Sql {
            sql,
            params,
            rows,
            columns,
            result,
        } => {
            out.push(heading(String::from("SQL")));
            for l in sql.lines() {
                out.push(DetailLine::toned(Tone::Bytes, l.to_string()));
            }
            if !params.is_empty() {
                out.push(DetailLine::plain(format!(
                    "params: [{}]",
                    params.join(", ")
                )));
            }
            table(columns, result, width, &mut out);
            if let Some(n) = rows {
                let what = if columns.is_empty() {
                    "changed"
                } else {
                    "returned"
                };
                out.push(DetailLine::plain(format!("{n} row{} {what}", plural(*n))));
            }
        }
        Data::WsFrame {
            fin,
            opcode,
            mask,
            length_form,
            len,
            payload,
            close_code,
            close_reason,
        } => {
            out.push(heading(format!("websocket frame: {opcode}")));
            out.push(DetailLine::plain(format!(
                "FIN {} · opcode {opcode} · {} · length {len} ({length_form})",
                u8::from(*fin),
                match mask {
                    Some(k) => format!("masked with {k}"),
                    None => String::from("unmasked"),
                }
            )));
            if let Some(code) = close_code {
                out.push(DetailLine::plain(format!(
                    "close code {code} ({}), reason {:?}",
                    crate::http::ws::CloseCode(*code).name(),
                    close_reason.as_deref().unwrap_or("")
                )));
            }
            shown_lines(payload, &mut out);
        }
        Data::WsAccept {
            key,
            concatenated,
            sha1_hex,
            accept,
        } => {
            out.push(heading(String::from("Sec-WebSocket-Accept")));
            out.push(DetailLine::plain(format!("key          {key}")));
            out.push(DetailLine::plain(format!("key + GUID   {concatenated}")));
            out.push(DetailLine::plain(format!("SHA-1        {sha1_hex}")));
            out.push(DetailLine::plain(format!("base64       {accept}")));
        }
        Data::Fields { entries } => {
            out.push(heading(String::from("details")));
            pairs(
                entries.iter().map(|(k, v)| (k.as_str(), v.clone())),
                &mut out,
            );
        }
    }
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Bytes as the trace shows them, line by line, and how many it cut.
fn shown_lines(bytes: &crate::trace::ShownBytes, out: &mut Vec<DetailLine>) {
    for line in bytes.text.split_inclusive('\n') {
        out.push(DetailLine::toned(
            Tone::Bytes,
            line.trim_end_matches('\n').to_string(),
        ));
    }
    if bytes.truncated > 0 {
        out.push(DetailLine::toned(
            Tone::Dim,
            format!("… {} more bytes not shown", bytes.truncated),
        ));
    }
}

fn headers_lines(headers: &[(String, String)], out: &mut Vec<DetailLine>) {
    for (k, v) in headers {
        out.push(DetailLine::plain(format!("{k}: {v}")));
    }
}

fn pairs<'a>(entries: impl Iterator<Item = (&'a str, String)>, out: &mut Vec<DetailLine>) {
    let entries: Vec<(&str, String)> = entries.collect();
    let width = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_KEY_WIDTH);
    for (k, v) in entries {
        out.push(DetailLine::plain(format!("{k:<width$} = {v}")));
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
fn table(columns: &[String], rows: &[Vec<String>], width: usize, out: &mut Vec<DetailLine>) {
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
    out.push(DetailLine::plain(cut(&fmt_row(columns), width)));
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    out.push(DetailLine::plain(cut(
        &format!("├─{}─┤", rule.join("─┼─")),
        width,
    )));
    for row in rows {
        out.push(DetailLine::plain(cut(&fmt_row(row), width)));
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

/// A decision: its verdict, the rule, what was measured, the settings, the
/// candidates and the choice.
pub fn decision(d: &Decision) -> Vec<DetailLine> {
    let verdict = match d.verdict {
        Verdict::Pass => "pass".to_string(),
        Verdict::Refuse { status } => format!("refuse with {status}"),
        Verdict::Answer { status } => format!("answer {status} here"),
        Verdict::Drop { status } => format!("log {status} and close, nothing sent"),
        Verdict::KeepOpen => "keep the connection open".to_string(),
        Verdict::Close => "close the connection".to_string(),
        Verdict::Delay { ms } => format!("wait {ms} ms, then go on"),
        Verdict::Retry => "send again".to_string(),
        Verdict::Rewrite => "rewrite the request".to_string(),
        Verdict::Choose => "choose".to_string(),
    };
    let mut out = vec![DetailLine(vec![
        (Tone::Heading, "decision: ".to_string()),
        (Tone::Verdict, verdict),
    ])];
    if let Some(rule) = &d.rule {
        out.push(DetailLine::plain(format!("  rule: {rule}")));
    }
    if let Some(who) = &d.subject {
        out.push(DetailLine::plain(format!("  applies to: {who}")));
    }
    for (name, value) in &d.inputs {
        out.push(DetailLine::plain(format!("  measured {name} = {value}")));
    }
    for k in &d.knobs {
        out.push(DetailLine::plain(format!(
            "  setting {} = {}",
            k.name, k.value
        )));
    }
    for c in &d.candidates {
        let facts: Vec<String> = c.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(DetailLine::plain(format!(
            "  candidate {} {}",
            c.name,
            facts.join(" ")
        )));
    }
    if let Some(chosen) = &d.chosen {
        out.push(DetailLine::plain(format!("  chosen: {chosen}")));
    }
    out
}

/// One change of state, as a person reads it; requests by the lesson's
/// number for them.
pub fn state_line(change: &StateChange, trace: &Trace) -> String {
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
