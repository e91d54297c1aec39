//! The request list (`r` or `/`): every request the trace holds, one row
//! each, oldest first and newest last, over the player. In `serve --tui`
//! that is the `--history` ring, nothing more. Typing filters; ↑/↓, PgUp/PgDn
//! and Home/End move the highlight; Enter jumps to the request's first step.
//!
//! ```text
//! ┌ requests · 4 of 4 · newest last ─────────────────────────────────────────────┐
//! │filter: ▏                                            method, target or status │
//! │  id method target                               status answered by      took │
//! │   1 GET    /notes                               200    handler     40.000 ms │
//! │   2 POST   /notes                               201    handler     40.000 ms │
//! │ ● 3 GET    /notes/1                             200    handler     79.000 ms │
//! │▶  4 GET    /nothing-here                        404    framework   39.000 ms │
//! │ ↑↓ move  enter replay  esc close  ● on screen                                │
//! └──────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! `▶` and reverse video mark the highlighted row, `●` the request on
//! screen, so neither depends on colour. Long targets are cut with `…`; on a
//! narrow screen the layer column goes first, then the duration.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Watching live traffic".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::state::{PlayerState, RequestList};
use super::detail::ms;
use super::text::cut;
use crate::trace::RequestSummary;

/// Widest the overlay gets.
const MAX_WIDTH: u16 = 110;
/// Fewest columns a target keeps before other columns are dropped.
const MIN_TARGET: usize = 12;
/// Widest the method column gets (longer methods are cut).
const MAX_METHOD: usize = 7;

/// The columns of a row, sized for the requests on the list.
struct Columns {
    id: usize,
    method: usize,
    target: usize,
    status: bool,
    layer: bool,
    took: Option<usize>,
}

const STATUS_WIDTH: usize = 6;
const LAYER_WIDTH: usize = 11;

impl Columns {
    /// Sized for every request of the trace, measured once per trace
    /// ([`TraceIndex::list_widths`](super::super::state::TraceIndex)), so
    /// a frame costs the rows on screen, not the rows in the trace, and
    /// the columns stay put while the viewer types a filter.
    fn fit(state: &PlayerState, width: usize) -> Columns {
        let w = state.index.list_widths;
        let id = w.id.max(2);
        let method = w.method.clamp(6, MAX_METHOD);
        let took = w.took.max(4);
        let mut c = Columns {
            id,
            method,
            target: 0,
            status: true,
            layer: true,
            took: Some(took),
        };
        // Drop columns, least needed first, until the target has room.
        loop {
            let fixed = 2 + c.id + 1 + c.method + 1;
            let fixed = fixed
                + usize::from(c.status) * (STATUS_WIDTH + 1)
                + usize::from(c.layer) * (LAYER_WIDTH + 1)
                + c.took.map_or(0, |t| t + 1);
            let room = width.saturating_sub(fixed);
            if room >= MIN_TARGET || !(c.layer || c.took.is_some() || c.status) {
                c.target = room;
                return c;
            }
            if c.layer {
                c.layer = false;
            } else if c.took.is_some() {
                c.took = None;
            } else {
                c.status = false;
            }
        }
    }

    /// One row's cells (after the two marker columns), each with its style.
    fn cells(&self, r: &RequestSummary, state: &PlayerState) -> Vec<(String, Style)> {
        let theme = &state.theme;
        let mut out = vec![
            (format!("{:>w$} ", r.number(), w = self.id), Style::new()),
            (
                format!("{:<w$} ", cut(&r.method, self.method), w = self.method),
                Style::new(),
            ),
            (
                format!("{:<w$}", cut(&r.target, self.target), w = self.target),
                Style::new(),
            ),
        ];
        if self.status {
            let status = r
                .status
                .map_or_else(|| String::from("---"), |s| s.to_string());
            let style = if r.status.is_some_and(|s| s >= 400) {
                theme.error
            } else {
                Style::new()
            };
            out.push((format!(" {status:<STATUS_WIDTH$}"), style));
        }
        if self.layer {
            let layer = r.answered_by.map_or("-", |l| l.label());
            out.push((format!(" {layer:<LAYER_WIDTH$}"), Style::new()));
        }
        if let Some(w) = self.took {
            out.push((format!(" {:>w$}", took(r)), Style::new()));
        }
        out
    }

    fn headings(&self) -> String {
        let mut s = format!(
            "  {:>id$} {:<m$} {:<t$}",
            "id",
            "method",
            "target",
            id = self.id,
            m = self.method,
            t = self.target
        );
        if self.status {
            s.push_str(&format!(" {:<STATUS_WIDTH$}", "status"));
        }
        if self.layer {
            s.push_str(&format!(" {:<LAYER_WIDTH$}", "answered by"));
        }
        if let Some(w) = self.took {
            s.push_str(&format!(" {:>w$}", "took"));
        }
        s
    }
}

/// How long the request took, first step to last (`-` while in flight).
fn took(r: &RequestSummary) -> String {
    if r.finished_ns < r.started_ns {
        String::from("-")
    } else {
        ms(r.finished_ns - r.started_ns)
    }
}

/// Where the overlay goes: just below the header (which says whether live
/// mode follows), as tall as the trace's requests need, at most down to the
/// footer. Sized by every request, not the filtered ones, so it keeps its
/// place while the viewer types.
fn placement(area: Rect, requests: usize) -> Rect {
    let width = area.width.min(MAX_WIDTH);
    let (y, room) = if area.height >= 8 {
        (area.y + 1, area.height - 2)
    } else {
        (area.y, area.height)
    };
    // Borders, filter, headings, hints, and one row per request.
    let wanted = u16::try_from(requests.max(1))
        .unwrap_or(u16::MAX)
        .saturating_add(5);
    Rect {
        x: area.x + (area.width - width) / 2,
        y,
        width,
        height: wanted.min(room),
    }
}

pub fn render(state: &PlayerState, list: &RequestList, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let visible = list.visible(&state.trace);
    let total = state.trace.requests.len();
    let rect = placement(area, total);
    let title = format!(" requests · {} of {total} · newest last ", visible.len());
    let block = Block::bordered().title(title).border_style(theme.focused);
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    // One blank column on the right, as the `▶` column is on the left.
    let width = usize::from(inner.width).saturating_sub(1);
    let line = |y: u16, line: Line, frame: &mut Frame| {
        let at = Rect {
            y: inner.y + y,
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(line), at);
    };

    // The filter, with a hint of what it matches while it is empty.
    let mut prompt = vec![
        Span::styled("filter: ", theme.heading),
        Span::raw(list.filter.clone()),
        Span::styled("▏", theme.marker),
    ];
    if list.filter.is_empty() {
        let hint = "method, target or status";
        let used = "filter: ▏".chars().count();
        if width > used + hint.len() {
            prompt.push(Span::raw(" ".repeat(width - used - hint.len())));
            prompt.push(Span::styled(hint, theme.dim));
        }
    }
    line(0, Line::from(prompt), frame);
    if inner.height < 3 {
        return;
    }

    let hints_row = inner.height - 1;
    let mut hints = Vec::new();
    let following = state.live.is_some_and(|l| l.following);
    let enter = if following {
        "replay (stops following)"
    } else {
        "replay"
    };
    for (k, what) in [
        ("↑↓", "move"),
        ("enter", enter),
        ("esc", "close"),
        ("●", "on screen"),
    ] {
        hints.push(Span::styled(format!(" {k}"), theme.key));
        hints.push(Span::raw(format!(" {what} ")));
    }
    line(hints_row, Line::from(hints), frame);

    let columns = Columns::fit(state, width);
    line(
        1,
        Line::styled(cut(&columns.headings(), width), theme.dim),
        frame,
    );
    let rows = usize::from(hints_row.saturating_sub(2));
    if rows == 0 {
        return;
    }
    if visible.is_empty() {
        let why = if total == 0 {
            "no requests yet"
        } else {
            "no request matches; Esc clears the filter"
        };
        line(2, Line::styled(cut(why, width), theme.dim), frame);
        return;
    }
    let selected = list.selected_row(&state.trace, &visible).unwrap_or(0);
    let on_screen = state.request_pos();
    let first = selected
        .saturating_sub(rows / 2)
        .min(visible.len().saturating_sub(rows));
    for (k, &pos) in visible.iter().enumerate().skip(first).take(rows) {
        let r = &state.trace.requests[pos];
        let is_selected = k == selected;
        let base = if is_selected {
            theme.selected
        } else {
            Style::new()
        };
        let mut spans = vec![
            Span::styled(
                if is_selected { "▶" } else { " " },
                base.patch(theme.marker),
            ),
            Span::styled(
                if on_screen == Some(pos) { "●" } else { " " },
                base.patch(theme.marker),
            ),
        ];
        for (text, style) in columns.cells(r, state) {
            spans.push(Span::styled(text, base.patch(style)));
        }
        let y = 2 + (k - first) as u16;
        line(y, Line::from(spans), frame);
    }
}
