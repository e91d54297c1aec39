//! An upstream group's app server instances, side by side inside the app
//! server's box of the stack diagram: each one's name, whether its process
//! is up, how the balancer sees it (active connections, or failed and
//! skipped until when) and what its own workers or loop are doing.
//!
//! ```text
//!  ┌ app server ──────────────────────────────┐
//!  │ WSGI · 1 sync worker                     │
//!  │ ┏ ▶◆a ━━━━━┓┌ b ───────┐┌ c ───────┐     │   ▶ the step is in it
//!  │ ┃ up       ┃│ down     ││ up       │     │   ◆ the balancer chose it
//!  │ ┃ 1 conn   ┃│ fail→14s ││ 0 conns  │     │     for this request
//!  │ ┃ 1/1 busy ┃│ 0/1 busy ││ 0/1 busy │     │
//!  │ ┗━━━━━━━━━━┛└──────────┘└──────────┘     │
//! ```
//!
//! On a short pane (80x24) the same facts take one line each under the
//! app server's line, a column per instance; when the instances do not
//! fit, the last column says "+N more" (the ones marked ▶ or ◆ are kept).
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Upstream
//! instances".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::super::instances::InstanceState;
use super::super::state::PlayerState;
use super::super::theme::Theme;
use super::text::{cut, duration};
use crate::trace::{Layer, LoopState, StepId, TaskState, WorkerState};

/// Rows the boxes take in the boxed diagram: border, three facts, border.
pub const BOX_ROWS: usize = 5;
/// Narrowest column of the one-line-per-fact form.
const MIN_COLUMN: usize = 7;
/// Narrowest box.
const MIN_BOX: usize = 11;

/// One instance as this step shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub name: String,
    /// The step on screen is this instance's (its process took it).
    pub current: bool,
    /// The balancer's choice for the request on screen, so far.
    pub chosen: bool,
    /// "up" or "down" (its process).
    pub process: &'static str,
    /// The balancer's view: failed until when, if it skips it.
    pub failed_until_ns: Option<u64>,
    pub backup: bool,
    pub conns: u64,
    /// Its workers or loop, in a few characters; and whether it is an alarm.
    pub work: (String, bool),
}

/// "+3 more", or an instance.
enum Column<'a> {
    One(&'a Cell),
    More(usize),
}

/// The group's instances at the step on screen (None without a group).
pub fn cells(state: &PlayerState) -> Option<Vec<Cell>> {
    let group = &state.index.group;
    if group.is_empty() {
        return None;
    }
    let event = state.event()?;
    let now = event.at_ns;
    let states = group.at(&state.trace.events, state.cursor);
    let current = event
        .server
        .as_deref()
        .filter(|_| event.layer.depth() >= Layer::AppServer.depth());
    let chosen = chosen(state);
    Some(
        group
            .names
            .iter()
            .zip(states.iter())
            .map(|(name, s)| Cell {
                name: name.clone(),
                current: current == Some(name.as_str()),
                chosen: chosen.as_deref() == Some(name.as_str()),
                process: if s.stopped || s.marked_down {
                    "down"
                } else {
                    "up"
                },
                failed_until_ns: s.failed_until_ns.filter(|_| s.failed_at(now)),
                backup: s.backup,
                conns: s.conns,
                work: work(s),
            })
            .collect(),
    )
}

/// The instance the balancer last chose for the request on screen, by
/// the step on screen.
fn chosen(state: &PlayerState) -> Option<String> {
    let pos = state.request_pos()?;
    let steps = state.index.request_events.get(pos)?;
    let upto = steps.partition_point(|&i| i <= state.cursor);
    steps[..upto].iter().rev().find_map(|&i| {
        let e = &state.trace.events[i];
        (e.step == StepId::WebServerUpstreamChoose)
            .then(|| e.decision.as_ref()?.chosen.clone())
            .flatten()
    })
}

/// "1/2 busy", "3 tasks", "BLOCKED".
fn work(s: &InstanceState) -> (String, bool) {
    let b = &s.board;
    if let Some((LoopState::Blocked, _)) = b.event_loop {
        return (String::from("BLOCKED"), true);
    }
    if !b.threads.is_empty() {
        let busy = b
            .threads
            .values()
            .filter(|(w, _)| *w == WorkerState::Busy)
            .count();
        return (format!("{busy}/{} thr", b.threads.len()), false);
    }
    if !b.workers.is_empty() {
        let busy = b
            .workers
            .values()
            .filter(|(w, _)| *w == WorkerState::Busy)
            .count();
        return (format!("{busy}/{} busy", b.workers.len()), false);
    }
    let tasks = b
        .tasks
        .values()
        .filter(|(t, _)| *t != TaskState::Done)
        .count();
    (
        format!("{tasks} task{}", if tasks == 1 { "" } else { "s" }),
        false,
    )
}

/// Which columns fit in `width` at `min` each (one space between): every
/// instance, or the first ones with the marked kept, and "+N more".
fn columns(cells: &[Cell], width: usize, min: usize) -> Vec<Column<'_>> {
    let fit = (width + 1) / (min + 1);
    if cells.len() <= fit.max(1) {
        return cells.iter().map(Column::One).collect();
    }
    let room = fit.saturating_sub(1).max(1);
    let marked: Vec<usize> = (0..cells.len())
        .filter(|&i| cells[i].current || cells[i].chosen)
        .collect();
    let mut keep: Vec<usize> = marked.iter().copied().take(room).collect();
    for i in 0..cells.len() {
        if keep.len() >= room {
            break;
        }
        if !keep.contains(&i) {
            keep.push(i);
        }
    }
    keep.sort_unstable();
    let more = cells.len() - keep.len();
    let mut out: Vec<Column> = keep.into_iter().map(|i| Column::One(&cells[i])).collect();
    out.push(Column::More(more));
    out
}

fn markers(c: &Cell) -> &'static str {
    match (c.current, c.chosen) {
        (true, true) => "▶◆",
        (true, false) => "▶",
        (false, true) => "◆",
        (false, false) => "",
    }
}

fn conns(n: u64) -> String {
    format!("{n} conn{}", if n == 1 { "" } else { "s" })
}

/// The balancer's line: failed until when, or active connections.
fn balancer(c: &Cell, width: usize) -> String {
    match c.failed_until_ns {
        Some(until) if width >= 8 => format!("fail→{}", short_secs(until)),
        Some(until) => format!("✕{}", short_secs(until)),
        None if c.backup => format!("backup {}", c.conns),
        None => conns(c.conns),
    }
}

/// Whole seconds since the run started: `14s`.
fn short_secs(ns: u64) -> String {
    format!("{}s", ns / 1_000_000_000)
}

fn name_style(c: &Cell, theme: &Theme) -> Style {
    if c.current || c.chosen {
        theme.active
    } else if c.process == "down" {
        theme.dim
    } else {
        Style::new()
    }
}

/// The one-line-per-fact form, for the compact diagram: (priority, line)
/// as `stack::compact` drops them (0 kept, higher dropped first).
pub fn compact_rows(
    cells: &[Cell],
    theme: &Theme,
    indent: usize,
    width: usize,
) -> Vec<(u8, Line<'static>)> {
    let room = width.saturating_sub(indent);
    let cols = columns(cells, room, MIN_COLUMN);
    let w = ((room + 1) / cols.len().max(1)).saturating_sub(1).max(1);
    let row = |f: &dyn Fn(&Cell) -> (String, Style), more: bool| {
        let mut spans = vec![Span::raw(" ".repeat(indent))];
        for (k, col) in cols.iter().enumerate() {
            let (text, style) = match col {
                Column::One(c) => f(c),
                Column::More(n) if more => (format!("+{n} more"), theme.dim),
                Column::More(_) => (String::new(), Style::new()),
            };
            let sep = if k + 1 < cols.len() { " " } else { "" };
            spans.push(Span::styled(format!("{:<w$}{sep}", cut(&text, w)), style));
        }
        Line::from(spans)
    };
    // Abbreviated when a column is narrow: the process state moves to
    // the balancer's line ("up 1c"), "1/2 busy" loses its word.
    let roomy = cols.iter().all(|col| match col {
        Column::One(c) => {
            format!("{}{} {}", markers(c), c.name, c.process)
                .chars()
                .count()
                <= w
        }
        Column::More(_) => true,
    });
    vec![
        (
            0,
            row(
                &|c| {
                    let text = if roomy {
                        format!("{}{} {}", markers(c), c.name, c.process)
                    } else {
                        format!("{}{}", markers(c), c.name)
                    };
                    (text, name_style(c, theme))
                },
                true,
            ),
        ),
        (
            1,
            row(
                &|c| {
                    let style = if c.failed_until_ns.is_some() {
                        theme.error
                    } else {
                        theme.dim
                    };
                    let text = match c.failed_until_ns {
                        None if !roomy => format!("{} {}c", c.process, c.conns),
                        _ => balancer(c, w),
                    };
                    (text, style)
                },
                false,
            ),
        ),
        (
            3,
            row(
                &|c| {
                    let style = if c.work.1 { theme.error } else { theme.dim };
                    let text = match c.work.0.split_once(' ') {
                        Some((short, _)) if c.work.0.chars().count() > w => short.to_string(),
                        _ => c.work.0.clone(),
                    };
                    (text, style)
                },
                false,
            ),
        ),
    ]
}

/// The boxes, side by side in `area` (its height is [`BOX_ROWS`]).
pub fn draw_boxes(cells: &[Cell], theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let cols = columns(cells, width, MIN_BOX);
    let w = ((width + 1) / cols.len().max(1)).saturating_sub(1).max(3);
    for (k, col) in cols.iter().enumerate() {
        let x = area.x + (k * (w + 1)) as u16;
        let rect = Rect {
            x,
            y: area.y,
            width: (w as u16).min(area.x + area.width - x),
            height: area.height.min(BOX_ROWS as u16),
        };
        match col {
            Column::More(n) => {
                let text = Paragraph::new(vec![
                    Line::default(),
                    Line::styled(format!("+{n} more"), theme.dim),
                ]);
                frame.render_widget(text, rect);
            }
            Column::One(c) => {
                let style = name_style(c, theme);
                let marks = markers(c);
                let title = if marks.is_empty() {
                    format!(" {} ", c.name)
                } else {
                    format!(" {marks}{} ", c.name)
                };
                let block = Block::bordered()
                    .border_type(if c.current {
                        BorderType::Thick
                    } else {
                        BorderType::Plain
                    })
                    .border_style(style)
                    .title(Line::styled(title, style));
                let inner = w.saturating_sub(2);
                let failed = c
                    .failed_until_ns
                    .map(|until| format!("failed→{}", duration(until)));
                let lines = vec![
                    Line::from(cut(c.process, inner)),
                    match failed {
                        Some(f) => Line::styled(cut(&f, inner), theme.error),
                        None => Line::styled(cut(&balancer(c, inner), inner), theme.dim),
                    },
                    Line::styled(
                        cut(&c.work.0, inner),
                        if c.work.1 { theme.error } else { theme.dim },
                    ),
                ];
                frame.render_widget(Paragraph::new(lines).block(block), rect);
            }
        }
    }
}
