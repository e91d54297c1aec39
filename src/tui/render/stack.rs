//! The stack diagram: one box per layer, top (client) to bottom (database),
//! the request as a marker beside the box it is in, and between boxes what
//! crossed that boundary.
//!
//! ```text
//!      ┌ client ─────────────────────┐
//!      │ lesson runner               │
//!      └─────────────────────────────┘
//!        │ ↓ HTTP bytes (62 B)          what crossed, and which way
//!  ▶↓  ┏ web server ━━━━━━━━━━━━━━━━━━┓  ◀ the request is here (heavy border)
//!      ┃ nginx-like · limits, proxy   ┃
//!      ┃ ↩ answered here: 413 …       ┃  a layer that answers says so,
//!      ┃   because client_max_body_…  ┃  and names the setting that decided
//!      ┗━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┛
//!        ┃ ↑ response 413               crossed at this very step (heavy)
//! ```
//!
//! When the pane is too short for boxes (80x24), each layer is one line and
//! each boundary one line; when it is shorter still, the boundaries go.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "The screen".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Padding, Paragraph};

use super::super::state::{Focus, PlayerState};
use super::super::theme::Theme;
use super::super::view::{Answer, Crossing, Reach, StepView};
use super::instances::{self, Cell};
use super::text::{cut, wrap};
use crate::trace::state::StateBoard;
use crate::trace::{Direction, Layer, LayerInfo, LoopState, TaskState, WorkerState};

/// Columns left of the boxes for the request marker (`▶↓ `).
const GUTTER: u16 = 3;
/// Width of the layer label column in the one-line-per-layer layout.
const LABEL_WIDTH: usize = 11;

/// One box, as this step shows it.
struct BoxModel<'a> {
    info: &'a LayerInfo,
    reach: Reach,
    /// The marker, when the request is in this box.
    marker: Option<&'static str>,
    /// Set on the box that answered.
    answer: Option<&'a Answer>,
    /// What the layer's workers, tasks and queue are doing at this step.
    status: Vec<(String, bool)>,
    /// The app server of an upstream group: its instances side by side.
    instances: Option<Vec<Cell>>,
}

pub fn render(state: &PlayerState, view: Option<&StepView>, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let focused = state.focus == Focus::Stack;
    let border = if focused { theme.focused } else { theme.frame };
    let block = Block::bordered()
        .title(super::views_title(state))
        .border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let boxes = models(state, view);
    let crossings: Vec<Option<Crossing>> = view
        .map(|v| v.crossings.clone())
        .unwrap_or_else(|| vec![None; boxes.len().saturating_sub(1)]);
    let now = view.and_then(|v| v.crossing_now);
    // Text width inside a box: the gutter, two borders, two padding columns.
    let text_width = usize::from(inner.width.saturating_sub(GUTTER + 4));
    let boxed_height: u16 = boxes
        .iter()
        .map(|b| 2 + content(b, theme, text_width).len() as u16)
        .sum::<u16>()
        + boxes.len().saturating_sub(1) as u16;
    if inner.height >= boxed_height && inner.width >= GUTTER + 24 {
        boxed(&boxes, &crossings, now, theme, frame, inner, text_width);
        let spare = inner.height - boxed_height;
        if spare >= 4 {
            let legend_area = Rect {
                y: inner.y + inner.height - 3,
                height: 3,
                ..inner
            };
            frame.render_widget(Paragraph::new(legend(theme)), legend_area);
        }
    } else {
        let lines = compact(&boxes, &crossings, now, theme, inner);
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

fn models<'a>(state: &'a PlayerState, view: Option<&'a StepView>) -> Vec<BoxModel<'a>> {
    let cells = view.and_then(|_| instances::cells(state));
    // A group's instances show their own workers; the merged board would
    // mix every instance's worker 1 into one.
    let board = view
        .filter(|_| cells.is_none())
        .map(|_| state.index.board_at(&state.trace.events, state.cursor));
    state
        .index
        .boxes
        .iter()
        .enumerate()
        .map(|(i, info)| BoxModel {
            info,
            reach: view
                .and_then(|v| v.reach.get(i).copied())
                .unwrap_or(Reach::NotYet),
            marker: view
                .filter(|v| v.active_box == Some(i))
                .map(StepView::marker),
            answer: view
                .and_then(|v| v.answer.as_ref())
                .filter(|a| a.layer == info.layer),
            status: match (&board, info.layer) {
                (Some(board), Layer::AppServer) => app_server_status(&board.state),
                _ => Vec::new(),
            },
            instances: cells.clone().filter(|_| info.layer == Layer::AppServer),
        })
        .collect()
}

/// The app server at this step: its workers or its loop and tasks, and its
/// backlog; each line with whether it is an alarm (a blocked loop).
fn app_server_status(board: &StateBoard) -> Vec<(String, bool)> {
    // Short enough for the stack pane at 80x24.
    let mut lines = Vec::new();
    if let Some((LoopState::Blocked, request)) = board.event_loop {
        lines.push((
            match request {
                Some(r) => format!("LOOP BLOCKED by #{r}"),
                None => "LOOP BLOCKED".to_string(),
            },
            true,
        ));
    }
    if !board.workers.is_empty() {
        let busy: Vec<String> = board
            .workers
            .iter()
            .filter(|(_, (s, _))| *s == WorkerState::Busy)
            .map(|(w, (_, r))| match r {
                Some(r) => format!("{w}→#{r}"),
                None => w.to_string(),
            })
            .collect();
        let idle = board.workers.len() - busy.len();
        lines.push((
            if busy.is_empty() {
                format!("workers: {idle} idle")
            } else {
                format!("busy {} · {idle} idle", busy.join(" "))
            },
            false,
        ));
    }
    if !board.threads.is_empty() {
        // gthread: per worker, its busy threads of all, and its queue.
        let mut per: std::collections::BTreeMap<u64, (usize, usize)> = Default::default();
        for ((w, _), (s, _)) in &board.threads {
            let e = per.entry(*w).or_default();
            e.1 += 1;
            if *s == WorkerState::Busy {
                e.0 += 1;
            }
        }
        let parts: Vec<String> = per
            .iter()
            .map(|(w, (busy, all))| {
                let queued = board.thread_queues.get(w).copied().unwrap_or(0);
                if queued > 0 {
                    format!("w{w} {busy}/{all}+{queued}q")
                } else {
                    format!("w{w} {busy}/{all}")
                }
            })
            .collect();
        lines.push((format!("threads busy: {}", parts.join(" ")), false));
    }
    if !board.tasks.is_empty() {
        let count = |state: TaskState| board.tasks.values().filter(|(s, _)| *s == state).count();
        let parts: Vec<String> = [
            (TaskState::Running, "running"),
            (TaskState::Awaiting, "awaiting"),
            (TaskState::Ready, "ready"),
        ]
        .into_iter()
        .filter(|(s, _)| count(*s) > 0)
        .map(|(s, name)| format!("{} {name}", count(s)))
        .collect();
        lines.push((format!("tasks: {}", parts.join(", ")), false));
    }
    if let Some((Some(len), _)) = board.backlog
        && len > 0
    {
        lines.push((format!("backlog: {len} waiting"), false));
    }
    lines
}

/// The text inside a box: what the layer is, its parts, and an answer if it gave one.
fn content(b: &BoxModel, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let detail = match b.reach {
        Reach::NotReached => Line::styled("not reached", theme.dim),
        Reach::NotYet => Line::styled(b.info.detail.clone(), theme.dim),
        Reach::Visited => Line::from(b.info.detail.clone()),
    };
    lines.push(detail);
    if !b.info.parts.is_empty() && b.info.layer == Layer::Framework {
        let style = if b.reach == Reach::Visited {
            Style::new()
        } else {
            theme.dim
        };
        // Every middleware is listed: the onion's order is the point.
        let text = format!("middleware: {}", b.info.parts.join(" → "));
        for line in wrap(&text, width.max(8)) {
            lines.push(Line::styled(line, style));
        }
    }
    for (text, alarm) in &b.status {
        let style = if *alarm { theme.error } else { theme.dim };
        for line in wrap(text, width.max(8)) {
            lines.push(Line::styled(line, style));
        }
    }
    if let Some(a) = b.answer {
        lines.extend(answer_lines(a, theme));
    }
    if b.instances.is_some() {
        // Room for the instances' boxes, drawn over it by `boxed`.
        lines.extend(std::iter::repeat_n(Line::default(), instances::BOX_ROWS));
    }
    lines
}

fn answer_lines(a: &Answer, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!("↩ answered here: {} {}", a.status, a.reason),
        theme.answer,
    )];
    if let Some(k) = &a.knob {
        lines.push(Line::styled(
            format!("  because {} = {}", k.name, k.value),
            theme.answer,
        ));
    }
    lines
}

fn label_style(b: &BoxModel, theme: &Theme) -> Style {
    if b.marker.is_some() {
        theme.active
    } else if b.answer.is_some() {
        theme.answer
    } else if b.reach == Reach::Visited {
        theme.frame
    } else {
        theme.dim
    }
}

fn boxed(
    boxes: &[BoxModel],
    crossings: &[Option<Crossing>],
    now: Option<usize>,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    text_width: usize,
) {
    let mut y = area.y;
    let bottom = area.y + area.height;
    for (i, b) in boxes.iter().enumerate() {
        let lines = content(b, theme, text_width);
        let height = (2 + lines.len() as u16).min(bottom.saturating_sub(y));
        if height == 0 {
            return;
        }
        let rect = Rect {
            x: area.x + GUTTER,
            y,
            width: area.width - GUTTER,
            height,
        };
        let style = label_style(b, theme);
        let block = Block::bordered()
            .padding(Padding::horizontal(1))
            .border_type(if b.marker.is_some() {
                BorderType::Thick
            } else {
                BorderType::Plain
            })
            .border_style(style)
            .title(Line::styled(format!(" {} ", b.info.label), style));
        let full = 2 + lines.len() as u16;
        frame.render_widget(Paragraph::new(lines).block(block), rect);
        if let Some(cells) = &b.instances
            && height == full
            && rect.width > 4
        {
            let boxes = Rect {
                x: rect.x + 2,
                y: rect.y + full - 1 - instances::BOX_ROWS as u16,
                width: rect.width - 4,
                height: instances::BOX_ROWS as u16,
            };
            instances::draw_boxes(cells, theme, frame, boxes);
        }
        if let Some(m) = b.marker
            && height > 1
        {
            let gutter = Rect {
                x: area.x,
                y: y + 1,
                width: GUTTER,
                height: 1,
            };
            frame.render_widget(
                Paragraph::new(Line::styled(format!("▶{m}"), theme.marker)),
                gutter,
            );
        }
        y += height;
        if i + 1 < boxes.len() && y < bottom {
            let line = connector(crossings.get(i).cloned().flatten(), now == Some(i), theme);
            let row = Rect {
                x: area.x + GUTTER,
                y,
                width: area.width - GUTTER,
                height: 1,
            };
            frame.render_widget(Paragraph::new(line), row);
            y += 1;
        }
    }
}

/// The line between two boxes: `│ ↓ HTTP bytes (62 B)`; heavy `┃` when crossed now.
fn connector(c: Option<Crossing>, now: bool, theme: &Theme) -> Line<'static> {
    let bar = if now { "  ┃ " } else { "  │ " };
    match c {
        None => Line::styled(bar.to_string(), theme.dim),
        Some(c) => {
            let arrow = match c.direction {
                Direction::Up => "↑",
                _ => "↓",
            };
            let style = if now { theme.crossing } else { Style::new() };
            Line::from(vec![
                Span::styled(bar.to_string(), style),
                Span::styled(format!("{arrow} {}", c.label), style),
            ])
        }
    }
}

/// One line per layer and per boundary, for short panes. The middleware
/// list wraps into the rows left over (cut with `…` when they run out);
/// when even the rest does not fit, the boundaries go, empty ones first.
fn compact(
    boxes: &[BoxModel],
    crossings: &[Option<Crossing>],
    now: Option<usize>,
    theme: &Theme,
    area: Rect,
) -> Vec<Line<'static>> {
    let (width, height) = (area.width as usize, area.height as usize);
    // (priority, line): 0 = always shown; higher numbers are dropped first:
    // 5 middleware list, 4 empty boundary, 3 app server status, 2 boundary
    // that says what crossed, 1 answer.
    let mut rows: Vec<(u8, Line<'static>)> = Vec::new();
    // The middleware list goes in last, into whatever rows are spare:
    // (where, text).
    let mut middleware: Option<(usize, String)> = None;
    for (i, b) in boxes.iter().enumerate() {
        let style = label_style(b, theme);
        let gutter = match b.marker {
            Some(m) => Span::styled(format!("▶{m} "), theme.marker),
            None => Span::raw("   "),
        };
        let room = width.saturating_sub(GUTTER as usize + LABEL_WIDTH + 1);
        let tail = match b.reach {
            Reach::NotReached => Span::styled("not reached", theme.dim),
            Reach::NotYet => Span::styled(cut(&b.info.detail, room), theme.dim),
            Reach::Visited => Span::raw(cut(&b.info.detail, room)),
        };
        let label = format!("{:<LABEL_WIDTH$} ", b.info.label);
        rows.push((
            0,
            Line::from(vec![gutter, Span::styled(label, style), tail]),
        ));
        if let Some(cells) = &b.instances {
            rows.extend(instances::compact_rows(
                cells,
                theme,
                GUTTER as usize + 1,
                width,
            ));
        }
        if !b.info.parts.is_empty() && b.info.layer == Layer::Framework {
            middleware = Some((rows.len(), format!("[{}]", b.info.parts.join(" → "))));
        }
        // A blocked loop is never dropped; the rest of the status goes
        // when rows are short, after the empty boundaries and before those
        // that say what crossed.
        for (text, alarm) in &b.status {
            let indent = GUTTER as usize + LABEL_WIDTH + 1;
            let style = if *alarm { theme.error } else { theme.dim };
            let line = Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(cut(text, width.saturating_sub(indent)), style),
            ]);
            rows.push((if *alarm { 0 } else { 3 }, line));
        }
        if let Some(a) = b.answer {
            let indent = GUTTER as usize + 1;
            // Short form: the reason phrase is in the detail pane.
            let mut text = format!("↩ answered here: {}", a.status);
            if let Some(k) = &a.knob {
                text.push_str(&format!(" ({} = {})", k.name, k.value));
            } else {
                text.push_str(&format!(" {}", a.reason));
            }
            for piece in wrap(&text, width.saturating_sub(indent)) {
                rows.push((
                    1,
                    Line::from(vec![
                        Span::raw(" ".repeat(indent)),
                        Span::styled(piece, theme.answer),
                    ]),
                ));
            }
        }
        if i + 1 < boxes.len() {
            let c = crossings.get(i).cloned().flatten();
            // An empty boundary goes before one that says what crossed.
            let priority = if c.is_some() { 2 } else { 4 };
            let mut line = connector(c, now == Some(i), theme);
            line.spans.insert(0, Span::raw(" ".repeat(GUTTER as usize)));
            rows.push((priority, line));
        }
    }
    if let Some((at, text)) = middleware {
        let spare = height.saturating_sub(rows.len());
        // Under the framework's detail when it fits on one line; else
        // indented like an answer, so that it wraps into fewer rows.
        let mut indent = GUTTER as usize + LABEL_WIDTH + 1;
        if text.chars().count() > width.saturating_sub(indent) {
            indent = GUTTER as usize + 1;
        }
        let pad = " ".repeat(indent);
        let pieces = fill(&text, width.saturating_sub(indent), spare);
        for (k, piece) in pieces.into_iter().enumerate() {
            rows.insert(
                at + k,
                (5, Line::styled(format!("{pad}{piece}"), theme.dim)),
            );
        }
    }
    for drop in [5u8, 4, 3, 2, 1] {
        if rows.len() <= height {
            break;
        }
        rows.retain(|(p, _)| *p < drop);
    }
    rows.into_iter().map(|(_, l)| l).collect()
}

/// `text` wrapped to `width` in at most `rows` lines; when it needs more,
/// the last line takes the rest, cut with `…`.
fn fill(text: &str, width: usize, rows: usize) -> Vec<String> {
    let mut lines = wrap(text, width.max(1));
    if lines.len() > rows {
        let rest = lines.split_off(rows.saturating_sub(1)).join(" ");
        if rows > 0 {
            lines.push(cut(&rest, width));
        }
    }
    lines
}

fn legend(theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled("▶ the request   ↓ going down   ↑ coming back up", theme.dim),
        Line::styled("· inside a layer   ↩ answered here, turns back", theme.dim),
        Line::styled("┃ crossed at this step   ┏━┓ the active layer", theme.dim),
    ]
}
