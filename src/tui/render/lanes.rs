//! The lanes view (`5`): each websocket as a lane that stays open, its
//! frames on it as they cross, time flowing left to right.
//!
//! ```text
//! ┌ [5 lanes] 1 stack 3 event loop ───┐
//! │          ▸     ▸                  │  client → server frames above
//! │ ada  ├─────────────────┤1000      │  the lane: ├ the 101, ┤ the close
//! │       ◂ ◂ ◂ ◂ ◂ ◂  x              │  server → client frames below
//! │          ▸   x                    │
//! │▶bo      ├──────────────           │  still open: drawn up to now
//! │            ◂ ◂ ◂                  │
//! │               ▲ at 60 ms          │  the current moment
//! └───────────────────────────────────┘
//! ```
//!
//! Text frames are arrows that point the way they go (`▸` to the server,
//! `◂` to the client); `b` binary, `+` continuation, `?` ping, `!` pong,
//! `x` close. The frame of the step on screen is drawn reversed, `▶`
//! marks its lane. Only what has happened by the step on screen is drawn,
//! so stepping back takes frames away again.
//!
//! When the pane is short, each lane takes one row (the marks on the lane
//! itself), then lanes that are not the current one go, counted as
//! "+N more"; when it is narrow, the view keeps the latest moments and
//! marks the cut with `…`.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Lanes:
//! long-lived connections".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::lanes::{Lane, Lanes, Way};
use super::super::state::PlayerState;
use super::text::{cut, duration};

/// Longest lane label drawn (names are cut to it).
const LABEL_MAX: usize = 6;
/// Columns kept right of the track for the close code after `┤`.
const CODE_ROOM: usize = 4;
/// A pause between two moments at least this long is drawn `┄`: time
/// passes and nothing crosses (the idle timeout's lesson).
const LONG_GAP_NS: u64 = 1_000_000_000;

/// One cell of the grid: a character and its style.
type Cell = (char, Style);

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let Some(inner) = super::view_frame(state, frame, area) else {
        return;
    };
    let lines = lines(state, usize::from(inner.width), usize::from(inner.height));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Where each column is drawn: one cell per column, plus a blank between
/// two moments when everything fits that way; and the first drawn.
struct Xs {
    pos: Vec<usize>,
    offset: usize,
    /// Blank cells (by position) that stand for a long pause.
    dashed: std::collections::BTreeSet<usize>,
}

impl Xs {
    fn new(lanes: &Lanes, now: usize, room: usize) -> Xs {
        let columns = &lanes.column_ns[..=now.min(lanes.column_ns.len().saturating_sub(1))];
        let spaced: Vec<usize> = columns
            .iter()
            .enumerate()
            .scan(0usize, |gaps, (c, ns)| {
                if c > 0 && columns[c - 1] != *ns {
                    *gaps += 1;
                }
                Some(c + *gaps)
            })
            .collect();
        let pos = if spaced.last().is_some_and(|&p| p < room) {
            spaced
        } else {
            (0..columns.len()).collect()
        };
        let last = pos.last().copied().unwrap_or(0);
        let dashed = (1..pos.len())
            .filter(|&c| {
                pos[c] > pos[c - 1] + 1 && columns[c].saturating_sub(columns[c - 1]) >= LONG_GAP_NS
            })
            .map(|c| pos[c] - 1)
            .collect();
        Xs {
            offset: (last + 1).saturating_sub(room),
            pos,
            dashed,
        }
    }

    /// The cell of column `c` on the track, when it is in view.
    fn x(&self, c: usize) -> Option<usize> {
        self.pos.get(c)?.checked_sub(self.offset)
    }

    /// Like `x`, but a column left of the view is its left edge.
    fn clamped(&self, c: usize) -> Option<usize> {
        let p = *self.pos.get(c)?;
        Some(p.saturating_sub(self.offset))
    }
}

/// The view's lines: the lanes open by now, an axis with the moment on
/// screen, a legend when there is room.
pub fn lines(state: &PlayerState, width: usize, height: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let lanes = &state.index.lanes;
    let cursor = state.cursor;
    let started: Vec<usize> = (0..lanes.lanes.len())
        .filter(|&l| lanes.lanes[l].open_step <= cursor)
        .collect();
    let (Some(now), false) = (lanes.now_col(cursor), started.is_empty()) else {
        return vec![
            Line::styled(
                cut("no websocket is open yet: its handshake", width),
                theme.dim,
            ),
            Line::styled(cut("is on its way (1 shows the stack)", width), theme.dim),
        ];
    };
    let event = state.event();
    let current_lane = event.and_then(|e| lanes.lane_of(e.conn?, cursor));
    let current_frame = lanes.frame_at(cursor);

    // Rows: three per lane when they fit with the axis, else one; lanes
    // past what fits go, the current one and the open ones kept first.
    let three = started.len() * 3 < height;
    let per = if three { 3 } else { 1 };
    let fit = if started.len() * per < height {
        started.len()
    } else {
        height.saturating_sub(2) / per
    };
    let shown = keep(lanes, &started, current_lane, cursor, fit);
    let more = started.len() - shown.len();

    let label_width = shown
        .iter()
        .map(|&l| lanes.lanes[l].label.chars().count().min(LABEL_MAX))
        .max()
        .unwrap_or(1);
    // `▶`, the label, a space.
    let left = 1 + label_width + 1;
    let room = width.saturating_sub(left + CODE_ROOM).max(1);
    let xs = Xs::new(lanes, now, room);
    let track = width.saturating_sub(left);

    let mut out = Vec::new();
    for &l in &shown {
        let lane = &lanes.lanes[l];
        let mut above = vec![(' ', Style::new()); track];
        let mut line = vec![(' ', Style::new()); track];
        let mut below = vec![(' ', Style::new()); track];
        draw_lane(lane, now, &xs, &mut line, theme.dim);
        for f in lanes
            .frames_until(cursor)
            .iter()
            .filter(|f| f.lane == l && f.col <= now)
        {
            let Some(x) = xs.x(f.col).filter(|&x| x < track) else {
                continue;
            };
            let style = if current_frame == Some(f) {
                theme.cursor
            } else {
                Style::new()
            };
            let row = match (three, f.way) {
                (false, _) => &mut line,
                (true, Way::ToServer) => &mut above,
                (true, Way::ToClient) => &mut below,
            };
            row[x] = (f.opcode.mark(f.way), style);
        }
        let marker = if current_lane == Some(l) { "▶" } else { " " };
        let name = format!("{:<label_width$} ", cut(&lane.label, label_width));
        let label_style = if current_lane == Some(l) {
            theme.active
        } else if lane.end.is_some_and(|e| e.step <= cursor) {
            theme.dim
        } else {
            Style::new()
        };
        let pad = " ".repeat(left);
        if three {
            out.push(row_line(Span::raw(pad.clone()), &above));
        }
        let head = Span::styled(format!("{marker}{name}"), label_style);
        out.push(row_line(head, &line));
        if three {
            out.push(row_line(Span::raw(pad), &below));
        }
    }
    if more > 0 {
        out.push(Line::styled(
            cut(&format!(" +{more} more (closed first)"), width),
            theme.dim,
        ));
    }
    // The axis: the moment on screen, and `…` when earlier ones are cut.
    if out.len() < height {
        let mut axis = vec![(' ', Style::new()); track];
        let at = lanes.column_ns.get(now).copied().unwrap_or(0);
        let first = lanes.column_ns.first().copied().unwrap_or(0);
        let text = format!(" at {}", duration(at.saturating_sub(first)));
        if let Some(x) = xs.x(now).filter(|&x| x < track) {
            axis[x] = ('▲', theme.marker);
            let start = if x + 1 + text.chars().count() <= track {
                x + 1
            } else {
                x.saturating_sub(text.chars().count())
            };
            for (k, ch) in text.chars().enumerate() {
                if let Some(cell) = axis.get_mut(start + k)
                    && cell.0 == ' '
                {
                    *cell = (ch, theme.dim);
                }
            }
        }
        let head = if xs.offset > 0 { "…" } else { " " };
        out.push(row_line(
            Span::styled(format!("{head:<left$}"), theme.dim),
            &axis,
        ));
    }
    let legend = [
        "▸ client→server  ◂ server→client",
        "? ping  ! pong  x close  b binary",
    ];
    if out.len() + legend.len() < height {
        out.push(Line::default());
        for l in legend {
            out.push(Line::styled(cut(l, width), theme.dim));
        }
    }
    out
}

/// The lane itself on its row: `├` at the 101, `─` while open (`┄` across
/// a long pause), `┤` and the close code where it ended; drawn up to now.
fn draw_lane(lane: &Lane, now: usize, xs: &Xs, row: &mut [Cell], dim: Style) {
    let end = lane.end.filter(|e| e.col <= now);
    let last = end.map_or(now, |e| e.col);
    let (Some(from), Some(to)) = (xs.clamped(lane.open_col), xs.clamped(last)) else {
        return;
    };
    if end.is_some() && xs.x(last).is_none() {
        // Ended before the first moment in view.
        let code = end.map_or(0, |e| e.code);
        for (k, ch) in format!("closed {code}").chars().enumerate() {
            if let Some(cell) = row.get_mut(k) {
                *cell = (ch, dim);
            }
        }
        return;
    }
    for (x, cell) in row.iter_mut().enumerate().take(to + 1).skip(from) {
        let long = xs.dashed.contains(&(x + xs.offset));
        *cell = (if long { '┄' } else { '─' }, Style::new());
    }
    if xs.x(lane.open_col).is_some()
        && let Some(cell) = row.get_mut(from)
    {
        *cell = ('├', Style::new());
    }
    if let Some(e) = end {
        if let Some(cell) = row.get_mut(to) {
            *cell = ('┤', Style::new());
        }
        for (k, ch) in e.code.to_string().chars().enumerate() {
            if let Some(cell) = row.get_mut(to + 1 + k) {
                *cell = (ch, dim);
            }
        }
    }
}

/// Which started lanes get rows when not all fit: the current lane, then
/// the open ones, then those that closed last; shown in their order.
fn keep(
    lanes: &Lanes,
    started: &[usize],
    current: Option<usize>,
    cursor: usize,
    fit: usize,
) -> Vec<usize> {
    if started.len() <= fit {
        return started.to_vec();
    }
    let mut ranked: Vec<usize> = started.to_vec();
    ranked.sort_by_key(|&l| {
        let lane = &lanes.lanes[l];
        let closed = lane.end.filter(|e| e.step <= cursor);
        (
            current != Some(l),
            closed.is_some(),
            std::cmp::Reverse(closed.map_or(lane.open_step, |e| e.step)),
        )
    });
    ranked.truncate(fit);
    ranked.sort_unstable();
    ranked
}

/// A row: its head (marker and label, or blanks), then the track's cells
/// as spans of one style each.
fn row_line(head: Span<'static>, cells: &[Cell]) -> Line<'static> {
    let mut spans = vec![head];
    let mut text = String::new();
    let mut style = Style::new();
    for &(ch, s) in cells {
        if s != style && !text.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut text), style));
        }
        style = s;
        text.push(ch);
    }
    let trimmed = text.trim_end().to_string();
    if !trimmed.is_empty() {
        spans.push(Span::styled(trimmed, style));
    }
    Line::from(spans)
}
