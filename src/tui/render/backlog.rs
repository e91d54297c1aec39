//! The app server's listen backlog, drawn as a queue: how many connections
//! wait of how many the kernel would hold (`backlog`, gunicorn's and
//! uvicorn's default 2048, capped by `net.core.somaxconn`; listen(2)), and
//! who they are, front first, the side `accept()` takes from.
//!
//! ```text
//!  backlog 12/2048 · front waited 300 ms
//!  accept() ◀ #5 #6 #7 #8 #9 … +7
//! ```
//!
//! The kernel completes the TCP handshake of a queued connection, so the
//! web server's connect succeeds and its request waits here, unseen by
//! the app, until a worker or the loop accepts it.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section
//! "Watching it in the player".

use ratatui::text::{Line, Span};

use super::super::board::Board;
use super::super::theme::Theme;
use super::text::{cut, duration};

/// Up to two lines about the backlog at `now_ns`: nothing when the app
/// server never queued a connection yet.
pub fn lines(board: &Board, now_ns: u64, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let Some((len, capacity)) = board.state.backlog else {
        return Vec::new();
    };
    let len = len.unwrap_or(board.waiting.len() as u64);
    let mut head = format!("backlog {len}/{capacity}");
    if len == 0 {
        head.push_str(" · empty");
    } else if let Some(front) = board.waiting.front() {
        head.push_str(&format!(
            " · front waited {}",
            duration(now_ns.saturating_sub(front.since_ns))
        ));
    }
    let style = if len > 0 { theme.answer } else { theme.dim };
    let mut out = vec![Line::styled(cut(&head, width), style)];
    if len > 0 {
        out.push(Line::from(vec![
            Span::styled("accept() ◀", theme.dim),
            Span::raw(queue(board, len, width.saturating_sub(10))),
        ]));
    }
    out
}

/// ` #5 #6 #7 … +7`: as many as fit in `width`, then how many more.
fn queue(board: &Board, len: u64, width: usize) -> String {
    let mut s = String::new();
    let mut shown = 0u64;
    for w in &board.waiting {
        let name = match w.request {
            Some(r) => format!(" #{r}"),
            None => String::from(" ·"),
        };
        let left = len.saturating_sub(shown + 1);
        // Keep room for " … +N" unless this is the last one.
        let tail = if left > 0 {
            format!(" … +{left}").chars().count()
        } else {
            0
        };
        if s.chars().count() + name.chars().count() + tail > width {
            break;
        }
        s.push_str(&name);
        shown += 1;
    }
    let left = len.saturating_sub(shown);
    if left > 0 {
        s.push_str(&format!(" … +{left}"));
    }
    cut(&s, width)
}
