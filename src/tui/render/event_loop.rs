//! The event-loop view (`3`): uvicorn's loop at this step. Its tasks, one
//! per request, by state: *running* (at most one: the loop runs one task
//! at a time), *ready* (waiting for the loop to get to them) and
//! *awaiting* (suspended at an `await`, costing the loop nothing). When a
//! task calls something that blocks instead of awaiting, the loop is
//! blocked: nothing else runs, accepts or times out until it returns, and
//! the first line says so, for how long so far and how long the call takes
//! (from the step that frees the loop, when the trace has it).
//!
//! ```text
//! ┌ [3 event loop] 1 stack ───────────┐
//! │‼ LOOP BLOCKED by request 1        │
//! │  for 1 ms of its 100 ms call      │
//! │running  #1                        │
//! │ready    -                         │
//! │awaiting -                         │
//! │backlog 3 / 2048 · front waited 0 s│
//! │accept() ◀ #2 #3 #4                │
//! └───────────────────────────────────┘
//! ```
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section
//! "Watching it in the player".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::board::Board;
use super::super::state::{PlayerState, TraceIndex};
use super::backlog;
use super::text::{cut, duration, wrap};
use crate::trace::{LoopState, TaskState};

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let Some(inner) = super::view_frame(state, frame, area) else {
        return;
    };
    let board = state.index.board_at(&state.trace.events, state.cursor);
    let now = state.event().map_or(0, |e| e.at_ns);
    let width = usize::from(inner.width);
    let mut out = blocked_lines(&board, &state.index, now, width, state);
    out.extend(task_lines(&board, width, state));
    out.extend(backlog::lines(&board, now, width, theme));
    out.truncate(usize::from(inner.height));
    frame.render_widget(Paragraph::new(out), inner);
}

/// "loop blocked by request 17 for 40 ms of its 100 ms call", or "free"
/// (the request by the lesson's number for it).
pub fn blocked_text(
    board: &Board,
    index: &TraceIndex,
    now: u64,
    trace: &crate::trace::Trace,
) -> Option<String> {
    let b = board.block?;
    let who = b.request.map_or_else(
        || String::from("a task"),
        |r| format!("request {}", trace.request_number(r)),
    );
    let so_far = duration(now.saturating_sub(b.since_ns));
    Some(match index.loop_freed.get(&b.step) {
        Some(&freed) => format!(
            "LOOP BLOCKED by {who} for {so_far} of its {} call",
            duration(freed.saturating_sub(b.since_ns))
        ),
        None => format!("LOOP BLOCKED by {who} for {so_far} so far"),
    })
}

fn blocked_lines(
    board: &Board,
    index: &TraceIndex,
    now: u64,
    width: usize,
    state: &PlayerState,
) -> Vec<Line<'static>> {
    let theme = &state.theme;
    match (
        board.state.event_loop,
        blocked_text(board, index, now, &state.trace),
    ) {
        (Some((LoopState::Blocked, _)), Some(text)) => {
            // Reverse video: it shows without colour, and nothing else on
            // the screen looks like it.
            let alarm = theme
                .error
                .add_modifier(Modifier::REVERSED | Modifier::BOLD);
            wrap(&format!("‼ {text}"), width)
                .into_iter()
                .map(|l| Line::styled(format!("{l:<width$}"), alarm))
                .collect()
        }
        (None, _) if board.state.tasks.is_empty() => vec![Line::styled(
            cut("loop free: no task yet", width),
            theme.dim,
        )],
        _ => vec![Line::styled(
            cut("loop free: runs tasks as ready", width),
            theme.dim,
        )],
    }
}

/// One line per task state: its requests, as many as fit, then how many more.
fn task_lines(board: &Board, width: usize, state: &PlayerState) -> Vec<Line<'static>> {
    let theme = &state.theme;
    [
        (TaskState::Running, "running "),
        (TaskState::Ready, "ready   "),
        (TaskState::Awaiting, "awaiting"),
    ]
    .into_iter()
    .map(|(s, name)| {
        let names: Vec<String> = board
            .state
            .tasks
            .iter()
            .filter(|(_, (t, _))| *t == s)
            .map(|(task, (_, r))| match r {
                Some(r) => format!("#{r}"),
                None => format!("task {task}"),
            })
            .collect();
        let list = fit_list(&names, width.saturating_sub(name.len() + 1));
        let style = if names.is_empty() {
            theme.dim
        } else if s == TaskState::Running {
            theme.marker
        } else {
            ratatui::style::Style::new()
        };
        Line::from(vec![
            Span::styled(format!("{name} "), theme.heading),
            Span::styled(list, style),
        ])
    })
    .collect()
}

/// `#1 #2 #3 … +5` in `width` columns; `-` when empty.
fn fit_list(names: &[String], width: usize) -> String {
    if names.is_empty() {
        return String::from("-");
    }
    let mut s = String::new();
    for (k, n) in names.iter().enumerate() {
        let left = names.len() - k - 1;
        let tail = if left > 0 {
            format!(" … +{left}").chars().count()
        } else {
            0
        };
        let sep = usize::from(!s.is_empty());
        if s.chars().count() + sep + n.chars().count() + tail > width {
            let more = names.len() - k;
            s.push_str(&format!("{}… +{more}", if s.is_empty() { "" } else { " " }));
            return cut(&s, width);
        }
        if sep == 1 {
            s.push(' ');
        }
        s.push_str(n);
    }
    s
}
