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
use crate::trace::export::detail::{self, DetailLine, Tone};
use crate::trace::{Event, Kind};

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
        out.extend(detail::decision(d).iter().map(|l| styled(l, theme)));
    }
    if !e.state.is_empty() {
        out.push(Line::default());
        out.push(Line::styled("state", theme.heading));
        for change in &e.state {
            out.push(Line::from(format!(
                "  {}",
                detail::state_line(change, &state.trace)
            )));
        }
    }
    for d in &e.data {
        out.push(Line::default());
        out.extend(detail::section(d, width).iter().map(|l| styled(l, theme)));
    }
    out
}

/// A line of the step's data in the theme's colours.
fn styled(line: &DetailLine, theme: &Theme) -> Line<'static> {
    let spans: Vec<Span<'static>> = line
        .0
        .iter()
        .map(|(tone, text)| {
            let style = match tone {
                Tone::Plain => ratatui::style::Style::new(),
                Tone::Heading => theme.heading,
                Tone::Bytes => theme.bytes,
                Tone::Dim => theme.dim,
                Tone::Verdict => theme.answer,
            };
            Span::styled(text.clone(), style)
        })
        .collect();
    Line::from(spans)
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
