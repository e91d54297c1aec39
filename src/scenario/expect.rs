//! A request's `expect` checked against what really happened: the
//! response the client received (status, header fields, body), the layer
//! or middleware that answered, and the layers the request never reached.
//!
//! Each unmet expectation is one sentence and the position of the key
//! that said it, so `check` points at the line to look at.
//!
//! Book: "Writing a lesson" (book/src/lessons.md), "What a request expects".

use super::format::Expect;
use crate::trace::bytes::show_at_most;
use crate::trace::{Data, Event, Layer, RequestSummary, ShownBytes, StepId, Trace};

/// One expectation that did not hold: where it is written, and why not.
pub type Miss = (usize, String);

/// Check `expect` for the request `summary` of `trace`.
pub fn check(expect: &Expect, summary: &RequestSummary, trace: &Trace) -> Vec<Miss> {
    let mut misses = Vec::new();
    if let Some(want) = &expect.status
        && summary.status != Some(*want.get_ref())
    {
        misses.push((
            want.span().start,
            format!(
                "expected status {}, got {}",
                want.get_ref(),
                summary.status.map_or("none".to_string(), |s| s.to_string())
            ),
        ));
    }
    if let Some(want) = &expect.answered_by {
        let answered = answering_event(trace, summary);
        if !answered_by(want.get_ref(), summary, answered) {
            misses.push((
                want.span().start,
                format!(
                    "expected to be answered by the {}, but {} answered",
                    want.get_ref(),
                    who_answered(summary, answered)
                ),
            ));
        }
    }
    let (fields, shown) = response(trace, summary.id).unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(want) = &expect.headers {
        for (name, value) in want.get_ref() {
            match field(name) {
                Some(got) if got == value => {}
                Some(got) => misses.push((
                    want.span().start,
                    format!("expected `{name}: {value}`, got `{name}: {got}`"),
                )),
                None => misses.push((
                    want.span().start,
                    format!("expected `{name}: {value}`, but the response has no {name}"),
                )),
            }
        }
    }
    if let Some(want) = &expect.has_headers {
        for name in want.get_ref() {
            if field(name).is_none() {
                misses.push((
                    want.span().start,
                    format!("expected a {name} header field, but the response has none"),
                ));
            }
        }
    }
    if let Some(want) = &expect.no_headers {
        for name in want.get_ref() {
            if let Some(got) = field(name) {
                misses.push((
                    want.span().start,
                    format!(
                        "expected no {name} header field, but the response has `{name}: {got}`"
                    ),
                ));
            }
        }
    }
    if let Some(want) = &expect.body_contains
        && !shown.is_some_and(|b| body_contains(b, want.get_ref()))
    {
        let kept = match shown {
            Some(b) if b.truncated > 0 => format!(
                "; the trace keeps the first {} of its {} bytes",
                b.len.saturating_sub(b.truncated),
                b.len
            ),
            Some(b) => format!("; {} bytes received", b.len),
            None => "; no response arrived".to_string(),
        };
        misses.push((
            want.span().start,
            format!(
                "expected the body to contain {:?}, but it does not{kept}",
                want.get_ref()
            ),
        ));
    }
    if let Some(want) = &expect.not_reached {
        for name in want.get_ref() {
            let Some(layer) = Layer::parse(name) else {
                continue;
            };
            if let Some(e) = trace
                .events
                .iter()
                .find(|e| e.request == Some(summary.id) && e.layer == layer)
            {
                misses.push((
                    want.span().start,
                    format!(
                        "expected never to reach the {}, but it did ({})",
                        layer.label(),
                        e.step
                    ),
                ));
            }
        }
    }
    misses
}

/// The step that produced the request's response: of the steps of the
/// answering layer that set an answer, the last (a middleware that turns
/// the handler's 200 into a 304 answers after the handler did).
fn answering_event<'a>(trace: &'a Trace, summary: &RequestSummary) -> Option<&'a Event> {
    trace.events.iter().rev().find(|e| {
        e.request == Some(summary.id) && e.answer.is_some() && Some(e.layer) == summary.answered_by
    })
}

/// Whether `want` (a layer, or `framework.NAME` for a middleware) names
/// who answered.
fn answered_by(want: &str, summary: &RequestSummary, answered: Option<&Event>) -> bool {
    match want.split_once('.') {
        Some(("framework", middleware)) => answered.is_some_and(|e| {
            summary.answered_by == Some(Layer::Framework) && step_of_middleware(e.step, middleware)
        }),
        _ => Layer::parse(want) == summary.answered_by,
    }
}

/// A middleware's own steps are named after it: `framework.NAME` or
/// `framework.NAME.…` (`framework.json_body.invalid`).
fn step_of_middleware(step: StepId, middleware: &str) -> bool {
    let name = step.as_str();
    let own = format!("framework.{middleware}");
    name == own || name.starts_with(&format!("{own}."))
}

/// "the web server", or "the framework (framework.json_body.invalid)".
fn who_answered(summary: &RequestSummary, answered: Option<&Event>) -> String {
    match (summary.answered_by, answered) {
        (Some(Layer::Framework), Some(e)) => format!("the framework ({})", e.step),
        (Some(layer), _) => format!("the {}", layer.label()),
        (None, _) => "nobody".to_string(),
    }
}

/// A response as the client received it: its header fields, and its
/// bytes as the trace shows them.
type Received<'a> = (&'a [(String, String)], Option<&'a ShownBytes>);

/// The response the client received for request `id`, when one arrived.
fn response(trace: &Trace, id: u64) -> Option<Received<'_>> {
    let e = trace
        .events
        .iter()
        .find(|e| e.request == Some(id) && e.step == StepId::ClientResponseReceive)?;
    let headers = e.data.iter().find_map(|d| match d {
        Data::ResponseHead { headers, .. } => Some(headers.as_slice()),
        _ => None,
    })?;
    let bytes = e.data.iter().find_map(|d| match d {
        Data::Bytes { bytes, .. } => Some(bytes),
        _ => None,
    });
    Some((headers, bytes))
}

/// Whether the body in `shown` (a whole response as the trace shows it)
/// contains `text`. Both are compared in the trace's own escaped form
/// ([`show_at_most`]), which escapes byte by byte, so a match there is a
/// match in the bytes, whatever the body holds (`\r\n`, `\`, non-ASCII).
fn body_contains(shown: &ShownBytes, text: &str) -> bool {
    // The head ends with an empty line: `\r\n` shown, then a line break.
    let body = shown
        .text
        .split_once("\\r\\n\n\\r\\n\n")
        .map_or("", |(_, body)| body);
    body.contains(&show_at_most(text.as_bytes(), usize::MAX).text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::bytes::show;

    #[test]
    fn body_contains_matches_the_bytes_of_the_body_only_whatever_they_hold() {
        let shown = show(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nline one\r\nC:\\notes\t\xff end");
        assert!(body_contains(&shown, "line one\r\nC:\\notes\t"));
        assert!(body_contains(&shown, "end"));
        assert!(!body_contains(&shown, "200 OK"), "the head is not the body");
        assert!(!body_contains(&shown, "line two"));
    }
}
