//! The worker-pool view (`2`): gunicorn's sync workers at this step, one
//! line each: idle in `accept()`, or busy with one request and for how
//! long (simulated time since its `accept()`); the workers that exited
//! (the arbiter's `timeout` killed them, or `max_requests` recycled them)
//! and the worker forked in each one's place; and under them the listen
//! backlog, where every request waits while all the workers are busy.
//!
//! ```text
//! ┌ [2 workers] 1 stack 4 compare ────┐
//! │4 workers: 4 busy, 0 idle          │
//! │▶ 1 busy  #17  for 80 ms           │
//! │  2 busy  #18  for 60 ms           │
//! │  3 idle       (replaces 1)        │
//! │✕ 1 exited at 3 s serving #1 → 3   │
//! │backlog 12 / 2048 · front waited 1 s│
//! │accept() ◀ #19 #20 #21 … +9        │
//! └───────────────────────────────────┘
//! ```
//!
//! `▶` marks the worker serving the request on screen. A sync worker holds
//! its request from start to finish, waiting included; that is why N
//! workers finish at most N / S requests per second (S the service time).
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section
//! "Watching it in the player".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::super::board::Board;
use super::super::state::PlayerState;
use super::backlog;
use super::text::{cut, duration};
use crate::trace::WorkerState;

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let Some(inner) = super::view_frame(state, frame, area) else {
        return;
    };
    let board = state.index.board_at(&state.trace.events, state.cursor);
    let now = state.event().map_or(0, |e| e.at_ns);
    let on_screen = state
        .request_pos()
        .and_then(|p| state.trace.requests.get(p))
        .map(|r| r.id);
    let lines = lines(
        &board,
        now,
        on_screen,
        usize::from(inner.width),
        usize::from(inner.height),
        state,
    );
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The view's lines, at most `rows` of them: when the workers do not all
/// fit, the last worker line says how many more, busy and idle; the
/// backlog and the exits keep their lines.
fn lines(
    board: &Board,
    now: u64,
    on_screen: Option<u64>,
    width: usize,
    rows: usize,
    state: &PlayerState,
) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let workers = &board.state.workers;
    let busy = workers
        .values()
        .filter(|(s, _)| *s == WorkerState::Busy)
        .count();
    let summary = format!(
        "{} worker{}: {busy} busy, {} idle",
        workers.len(),
        if workers.len() == 1 { "" } else { "s" },
        workers.len() - busy
    );
    let exits: Vec<Line<'static>> = board
        .exited
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|x| {
            let mut s = format!("✕ {} exited at {}", x.worker, duration(x.at_ns));
            if let Some(r) = x.request {
                s.push_str(&format!(" serving #{r}"));
            }
            if let Some(n) = x.replaced_by {
                s.push_str(&format!(" → {n}"));
            }
            Line::styled(cut(&s, width), theme.error)
        })
        .collect();
    let queue = backlog::lines(board, now, width, theme);
    if workers.is_empty() {
        let mut out = vec![Line::styled(
            cut("no sync worker has started yet", width),
            theme.dim,
        )];
        out.extend(exits);
        out.extend(queue);
        out.truncate(rows);
        return out;
    }
    let room = rows.saturating_sub(exits.len() + queue.len());
    // The summary line comes first when every worker fits under it.
    let with_summary = room > workers.len();
    let mut out = Vec::with_capacity(rows);
    if with_summary {
        out.push(Line::styled(cut(&summary, width), theme.heading));
    }
    let worker_rows = if with_summary { workers.len() } else { room };
    let cut_list = workers.len() > worker_rows;
    let listed = if cut_list {
        worker_rows.saturating_sub(1)
    } else {
        worker_rows
    };
    for (&w, &(s, request)) in workers.iter().take(listed) {
        let mark = if request.is_some() && request == on_screen {
            "▶"
        } else {
            " "
        };
        let since = board.worker_since.get(&w).copied().unwrap_or(now);
        let text = match (s, request) {
            (WorkerState::Busy, Some(r)) => format!(
                "{mark}{w:>2} busy  #{r:<5} for {}",
                duration(now.saturating_sub(since))
            ),
            (WorkerState::Busy, None) => format!(
                "{mark}{w:>2} busy  reading for {}",
                duration(now.saturating_sub(since))
            ),
            _ => {
                let mut t = format!("{mark}{w:>2} idle  in accept()");
                if let Some(old) = board.replaces.get(&w) {
                    t.push_str(&format!(" (replaces {old})"));
                }
                t
            }
        };
        let style = match s {
            WorkerState::Busy if mark == "▶" => theme.marker,
            WorkerState::Busy => ratatui::style::Style::new(),
            _ => theme.dim,
        };
        let text = if s == WorkerState::Busy {
            match board.replaces.get(&w) {
                Some(old) => format!("{text} (replaces {old})"),
                None => text,
            }
        } else {
            text
        };
        out.push(Line::styled(cut(&text, width), style));
    }
    if cut_list && worker_rows > 0 {
        let more = workers.len() - listed;
        let busy_more = workers
            .values()
            .skip(listed)
            .filter(|(s, _)| *s == WorkerState::Busy)
            .count();
        out.push(Line::styled(
            cut(
                &format!("… {more} more: {busy_more} busy, {} idle", more - busy_more),
                width,
            ),
            theme.dim,
        ));
    }
    out.extend(exits);
    out.extend(queue);
    out.truncate(rows);
    out
}
