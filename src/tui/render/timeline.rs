//! The timeline: a waterfall with one row per request, simulated time
//! across. Each cell of a row shows where the request was at that time, as
//! the layer's letter (so it reads without colour): a request that waits
//! 3 ms on SQLite is a row of `d`. The cursor column (`▲` under the row) is
//! the step on screen; `▶` marks its request. With focus (tab twice), ↑/↓
//! jump between requests.
//!
//! ```text
//!  ▶  1 GET /notes        200 │cwwwaaffhhhhddhhffaawwwc
//!     2 POST /notes       413 │    cww┃w
//! ```
//!
//! When every step happened at the same simulated instant (a lesson that
//! never waits) the axis counts steps instead of time.
//!
//! Steps that take no simulated time would all land in one column, so each
//! layer the request visits keeps at least one cell of its own, in the
//! order it was visited: `hello` reads `cwafhddd…dhfawc`, not `ddd…dc`.
//! Only when a row is narrower than its layers do segments share a cell;
//! then the one under the cursor is drawn last, so the cursor cell always
//! shows the layer of the step on screen.
//!
//! With thousands of requests: PgUp/PgDn (timeline focused) scroll the
//! rows, `z`/`Z` zoom the time axis in and out around the cursor (the
//! title says `×8` and the window shown), and `s` jumps to the slowest
//! request.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "The screen".

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::state::{Axis, Focus, PlayerState, Segment};
use super::detail::ms;
use crate::trace::Layer;

/// Widest the request label (`▶ id METHOD target status`) gets.
const MAX_LABEL_WIDTH: u16 = 34;

/// The letter drawn for a layer's segment.
pub fn letter(layer: Layer) -> char {
    match layer {
        Layer::Client => 'c',
        Layer::WebServer => 'w',
        Layer::AppServer => 'a',
        Layer::Framework => 'f',
        Layer::Handler => 'h',
        Layer::Database => 'd',
    }
}

/// Rows the timeline wants for a trace with `requests` requests, in a
/// screen `height` rows tall (borders included).
pub fn wanted_height(requests: usize, height: u16) -> u16 {
    let max_rows = (height / 6).max(1);
    (requests.max(1) as u16).min(max_rows) + 2
}

/// The part of the trace's axis the timeline shows: all of it, or at zoom
/// `z` a window 1/2^z as wide, centred on the cursor (moved in at the ends).
pub fn window(state: &PlayerState) -> Axis {
    let full = state.index.axis;
    let span = full.hi.saturating_sub(full.lo);
    let Some(e) = state
        .event()
        .filter(|_| state.timeline_zoom > 0 && span > 0)
    else {
        return full;
    };
    let width = (span >> state.timeline_zoom.min(63)).max(1);
    let at = full.value(state.cursor, e);
    let lo = at
        .saturating_sub(width / 2)
        .max(full.lo)
        .min(full.hi.saturating_sub(width));
    Axis {
        lo,
        hi: lo.saturating_add(width),
        ..full
    }
}

/// First row on screen: the rows around the cursor's request, moved by
/// the viewer's scroll, within the list.
pub fn first_row(state: &PlayerState, rows: usize) -> usize {
    let n = state.trace.requests.len();
    let current = state.request_pos().unwrap_or(0);
    let centred = current.saturating_sub(rows / 2);
    let last_first = n.saturating_sub(rows);
    let moved = i64::try_from(centred)
        .unwrap_or(i64::MAX)
        .saturating_add(state.timeline_scroll)
        .max(0);
    usize::try_from(moved).unwrap_or(0).min(last_first)
}

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let focused = state.focus == Focus::Timeline;
    let axis = window(state);
    let span = if axis.by_steps {
        format!("steps {}–{}", axis.lo + 1, axis.hi + 1)
    } else {
        format!("{} → {}", ms(axis.lo), ms(axis.hi))
    };
    let zoom = if state.timeline_zoom > 0 {
        format!(" ×{}", 1u64 << state.timeline_zoom.min(63))
    } else {
        String::new()
    };
    let n = state.trace.requests.len();
    let rows_note = if n > usize::from(area.height.saturating_sub(2)) {
        format!(" · {n} requests")
    } else {
        String::new()
    };
    let title = format!(" timeline · {span}{zoom}{rows_note} · c w a f h d = client…database ");
    let border = if focused { theme.focused } else { theme.frame };
    let block = Block::bordered().title(title).border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let n = state.trace.requests.len();
    if n == 0 {
        frame.render_widget(
            Paragraph::new(Line::styled("no requests yet", theme.dim)),
            inner,
        );
        return;
    }
    let rows = inner.height as usize;
    let current = state.request_pos().unwrap_or(0);
    let first = first_row(state, rows);
    let label_width = (inner.width / 3).min(MAX_LABEL_WIDTH);
    let bar_x = inner.x + label_width + 1;
    let bar_width = inner.width.saturating_sub(label_width + 1);
    // The cursor sits in the cell of its own layer's segment on its row.
    let (current_segments, current_at) = shown(
        axis,
        &state.index.segments[current],
        cursor_segment(state, current),
    );
    let cursor_x = state.event().map(|e| {
        let x = column(axis, axis.value(state.cursor, e), bar_width);
        let x = match current_at {
            Some(k) => {
                let cells = layout(axis, &current_segments, bar_width);
                cells.get(k).map_or(x, |&(lo, hi)| x.clamp(lo, hi))
            }
            None => x,
        };
        bar_x + x
    });
    let buf = frame.buffer_mut();
    for (row, pos) in (first..n).take(rows).enumerate() {
        let y = inner.y + row as u16;
        let r = &state.trace.requests[pos];
        let is_current = pos == current;
        let status = r
            .status
            .map_or_else(|| String::from("---"), |s| s.to_string());
        let mark = if is_current { "▶" } else { " " };
        let target = format!("{mark}{:>3} {} {}", r.number(), r.method, r.target);
        let label = fit(&target, status.as_str(), label_width as usize);
        let style = if is_current {
            theme.selected
        } else {
            Style::new()
        };
        buf.set_line(
            inner.x,
            y,
            &Line::from(Span::styled(label, style)),
            label_width,
        );
        buf.set_string(bar_x - 1, y, "│", theme.frame);
        let at = if is_current {
            cursor_segment(state, pos)
        } else {
            None
        };
        let (segments, at) = shown(axis, &state.index.segments[pos], at);
        let cells = layout(axis, &segments, bar_width);
        // The cursor's segment last: where segments share a cell, it wins.
        let last = at.filter(|_| is_current);
        let order = (0..segments.len()).filter(|&k| Some(k) != last).chain(last);
        for k in order {
            let (seg, (lo, hi)) = (&segments[k], cells[k]);
            for x in lo..=hi {
                put(buf, bar_x + x, y, letter(seg.layer), theme.layer(seg.layer));
            }
        }
        if let Some(cx) = cursor_x {
            cursor(buf, cx, y, theme.cursor);
        }
    }
    // A caret on the bottom border, so the cursor shows without colour too.
    if let Some(cx) = cursor_x
        && area.height > 1
    {
        put(buf, cx, area.y + area.height - 1, '▲', theme.marker);
    }
}

/// The segments of a row that fall in the window, cut to it, and where
/// the cursor's segment (`at`, of the whole row) is among them.
fn shown(axis: Axis, segments: &[Segment], at: Option<usize>) -> (Vec<Segment>, Option<usize>) {
    let mut out = Vec::with_capacity(segments.len());
    let mut moved = None;
    for (k, seg) in segments.iter().enumerate() {
        if seg.hi < axis.lo || seg.lo > axis.hi {
            continue;
        }
        if Some(k) == at {
            moved = Some(out.len());
        }
        out.push(Segment {
            layer: seg.layer,
            lo: seg.lo.max(axis.lo),
            hi: seg.hi.min(axis.hi),
        });
    }
    (out, moved)
}

/// Which of request `pos`'s segments holds the step on screen (None when
/// the step is not one of that request's, e.g. a connection-level step).
fn cursor_segment(state: &PlayerState, pos: usize) -> Option<usize> {
    let steps = state.index.request_events.get(pos)?;
    let k = steps.binary_search(&state.cursor).ok()?;
    let events = &state.trace.events;
    // Segments are runs of consecutive steps in one layer: count the changes.
    let run = steps[..=k]
        .windows(2)
        .filter(|w| events[w[0]].layer != events[w[1]].layer)
        .count();
    let segments = state.index.segments.get(pos)?;
    Some(run.min(segments.len().checked_sub(1)?))
}

/// The cells (first, last; inclusive) of each segment of a row in a bar
/// `width` cells wide: where its time puts it, but at least one cell after
/// the segment before, so the row reads in the order the layers were
/// visited. A row pushed past its end by that moves back left; only when
/// the bar is narrower than the row's segments do some share a cell.
fn layout(axis: Axis, segments: &[Segment], width: u16) -> Vec<(u16, u16)> {
    let n = segments.len();
    let last_col = width.saturating_sub(1);
    let mut starts: Vec<u16> = Vec::with_capacity(n);
    for seg in segments {
        let at = column(axis, seg.lo, width);
        let after = starts.last().map_or(0, |&s| s.saturating_add(1));
        starts.push(at.max(after));
    }
    let (Some(first), Some(end)) = (segments.first(), segments.last()) else {
        return Vec::new();
    };
    let first_col = column(axis, first.lo, width);
    let end_col = column(axis, end.hi, width);
    let limit = end_col
        .max(first_col.saturating_add(u16::try_from(n - 1).unwrap_or(u16::MAX)))
        .min(last_col);
    let mut next = limit.saturating_add(1);
    for s in starts.iter_mut().rev() {
        *s = (*s).min(next.saturating_sub(1));
        next = *s;
    }
    (0..n)
        .map(|k| {
            let lo = starts[k];
            let hi = match starts.get(k + 1) {
                // The segment ends in the cell before the next one starts.
                Some(&s) => s.saturating_sub(1).max(lo),
                None => end_col.min(last_col).max(lo),
            };
            (lo, hi)
        })
        .collect()
}

/// Column of an axis value in a bar `width` cells wide.
fn column(axis: Axis, v: u64, width: u16) -> u16 {
    let span = axis.hi.saturating_sub(axis.lo);
    if span == 0 || width <= 1 {
        return 0;
    }
    let off = v.saturating_sub(axis.lo).min(span);
    ((u128::from(off) * u128::from(width - 1)) / u128::from(span)) as u16
}

fn put(buf: &mut Buffer, x: u16, y: u16, c: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(c).set_style(style);
    }
}

/// The cursor: a bar on empty cells, the cell reversed where a segment is.
fn cursor(buf: &mut Buffer, x: u16, y: u16, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        if cell.symbol() == " " {
            cell.set_char('┃');
        }
        cell.set_style(style);
    }
}

/// `left` cut or padded so that `right` ends at `width`.
fn fit(left: &str, right: &str, width: usize) -> String {
    let room = width.saturating_sub(right.chars().count() + 1);
    let mut l: String = left.chars().take(room).collect();
    if left.chars().count() > room && room > 0 {
        l.pop();
        l.push('…');
    }
    format!("{l:<room$} {right}")
}
