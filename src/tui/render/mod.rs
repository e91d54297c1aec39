//! Drawing the player: `render(&PlayerState, &mut Frame)`, one function per
//! pane, no I/O. Each pane reads the state and the [`StepView`] derived from it.
//!
//! ```text
//!  ┌────────────────────────────── header ─────────────────────────────────┐
//!  │ roundtrip · hello — …                    step 5/32 · ⏸ paused · 4/s   │
//!  ├─ stack ─────────────────────┬─ detail ────────────────────────────────┤
//!  │   client                    │ web server ↓ hop · web_server.proxy      │
//!  │     │ ↓ HTTP bytes (62 B)   │ step 5 of 32 · at 0.120 ms               │
//!  │ ▶↓ web server               │ ── bytes to app server · 74 bytes ──     │
//!  │     │                       │ GET /notes HTTP/1.1\r\n                  │
//!  │    app server …             │ …                                        │
//!  ├─ narration ─────────────────┴──────────────────────────────────────────┤
//!  │ On the way down, the web server forwards the request to the app server │
//!  ├─ timeline ─────────────────────────────────────────────────────────────┤
//!  │ ▶  1 GET /notes    200 │cwwaaffhhddhhffaawwc                           │
//!  └─ footer: keys, or what just happened ("paused at breakpoint 5xx") ─────┘
//! ```
//!
//! The centre pane shows one of five views (`1`–`5`, `c`; [`View`]): the
//! stack above, the worker pool ([`pool`]), the event loop
//! ([`event_loop`]), the comparison of stacks ([`compare`]), which
//! takes the detail pane's room too, or the websocket lanes ([`lanes`]).
//!
//! Overlays go on top: the request list (`r`, [`requests`]) over the body,
//! between header and footer; the help (`?`, [`help`]) in the middle.
//!
//! Narrow screens (under [`SIDE_BY_SIDE_MIN_WIDTH`] columns) put the detail
//! under the stack; short ones (under [`TIMELINE_MIN_BODY`] rows) drop the
//! timeline. At 80x24 everything shows, the stack one line per layer.
//!
//! Book: "Using roundtrip" (book/src/using.md).

pub mod backlog;
pub mod compare;
pub mod detail;
pub mod event_loop;
pub mod help;
pub mod instances;
pub mod lanes;
pub mod narration;
pub mod pool;
pub mod requests;
pub mod stack;
pub mod text;
pub mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::state::{PlayerState, View};
use super::view::StepView;

/// Below this width the detail pane goes under the stack instead of beside it.
pub const SIDE_BY_SIDE_MIN_WIDTH: u16 = 64;
/// Below this many body rows the timeline is left out.
pub const TIMELINE_MIN_BODY: u16 = 16;
/// Rows the stack takes when stacked above the detail (one line per layer and boundary).
const STACKED_STACK_HEIGHT: u16 = 13;

/// Draw the whole player.
pub fn render(state: &PlayerState, frame: &mut Frame) {
    let area = frame.area();
    let view = StepView::of(state);
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header(state, view.as_ref(), frame, header_area);
    footer(state, frame, footer_area);

    let max_narration_lines = if body.height >= 40 { 4 } else { 3 };
    let narration_lines = view.as_ref().map_or(1, |v| {
        let text = super::view::narration_at(state, v);
        text::wrap(&text, usize::from(area.width)).len()
    });
    let narration_height = 1 + narration_lines.clamp(2, max_narration_lines) as u16;
    let timeline_height = if body.height < TIMELINE_MIN_BODY {
        0
    } else {
        timeline::wanted_height(state.trace.requests.len(), area.height)
    };
    let [middle, narration_area, timeline_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(narration_height),
        Constraint::Length(timeline_height),
    ])
    .areas(body);
    match state.view() {
        // The comparison is of whole runs, not of the step: it takes the
        // detail pane's room too.
        View::Compare => compare::render(state, frame, middle),
        centre => {
            let (centre_area, detail_area) = split_middle(middle);
            match centre {
                View::Workers => pool::render(state, frame, centre_area),
                View::EventLoop => event_loop::render(state, frame, centre_area),
                View::Lanes => lanes::render(state, frame, centre_area),
                _ => stack::render(state, view.as_ref(), frame, centre_area),
            }
            detail::render(state, view.as_ref(), frame, detail_area);
        }
    }
    narration::render(state, view.as_ref(), frame, narration_area);
    if timeline_height > 0 {
        timeline::render(state, frame, timeline_area);
    }
    if let Some(list) = &state.request_list {
        requests::render(state, list, frame, area);
    }
    if state.help {
        help::render(state, frame, area);
    }
}

/// The title of the centre pane: the view on screen in brackets, and the
/// keys of the others this trace has (` [2 workers] 1 stack 4 compare `);
/// just ` stack ` when the stack is all there is.
/// The bordered frame of a centre view (stack, workers, loop), titled with
/// the views and lit when focused; the room inside it, or `None` when
/// there is none to draw in.
pub fn view_frame(state: &PlayerState, frame: &mut Frame, area: Rect) -> Option<Rect> {
    let theme = &state.theme;
    let border = if state.focus == super::state::Focus::Stack {
        theme.focused
    } else {
        theme.frame
    };
    let block = ratatui::widgets::Block::bordered()
        .title(views_title(state))
        .border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    (inner.height > 0 && inner.width > 0).then_some(inner)
}

pub fn views_title(state: &PlayerState) -> String {
    let views = state.views();
    let now = state.view();
    if views.len() < 2 {
        return format!(" {} ", now.key_and_name().1);
    }
    let mut s = String::from(" ");
    let (k, name) = now.key_and_name();
    s.push_str(&format!("[{k} {name}]"));
    for v in views.into_iter().filter(|v| *v != now) {
        let (k, name) = v.key_and_name();
        s.push_str(&format!(" {k} {name}"));
    }
    s.push(' ');
    s
}

/// Stack and detail side by side, or stack above detail on a narrow screen.
fn split_middle(middle: Rect) -> (Rect, Rect) {
    if middle.width >= SIDE_BY_SIDE_MIN_WIDTH {
        let stack_width = (middle.width * 47 / 100).clamp(38, 64);
        let [s, d] =
            Layout::horizontal([Constraint::Length(stack_width), Constraint::Min(0)]).areas(middle);
        (s, d)
    } else {
        let [s, d] = Layout::vertical([
            Constraint::Length(STACKED_STACK_HEIGHT.min(middle.height)),
            Constraint::Min(0),
        ])
        .areas(middle);
        (s, d)
    }
}

fn header(state: &PlayerState, view: Option<&StepView>, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let meta = &state.trace.meta;
    let mut left = format!(" roundtrip · {}", meta.scenario);
    if !meta.title.is_empty() {
        left.push_str(&format!(" — {}", meta.title));
    }
    let play = if state.playing {
        "▶ playing"
    } else {
        "⏸ paused"
    };
    let mut right = String::new();
    // A lesson that compares stacks: which one is on screen comes first,
    // before the title, which is cut when room runs out.
    if let Some(v) = &meta.variant {
        right.push_str(&format!("[{}/{} {}] · ", v.index, v.of, v.name));
    }
    if let Some(live) = state.live {
        // Not following: the viewer stepped, paused or picked a request,
        // and new traffic leaves the cursor where it is until G.
        right.push_str(if live.following {
            "● live, following · "
        } else {
            "● live, not following · "
        });
        if live.dropped > 0 {
            right.push_str(&format!("{} events dropped · ", live.dropped));
        }
    }
    // Position among the trace's requests, not the id: in `serve --tui`
    // the oldest requests are dropped and ids keep counting.
    if view.and_then(|v| v.request).is_some()
        && let Some(pos) = state.request_pos()
    {
        right.push_str(&format!(
            "request {}/{} · ",
            pos + 1,
            state.trace.requests.len()
        ));
    }
    right.push_str(&format!(
        "step {}/{} · {play} · {}/s ",
        if state.is_empty() {
            0
        } else {
            state.cursor + 1
        },
        state.len(),
        state.steps_per_second()
    ));
    let width = area.width as usize;
    let room = width.saturating_sub(right.chars().count() + 2);
    let mut left = text::cut(&left, room);
    let pad = width.saturating_sub(left.chars().count() + right.chars().count());
    left.push_str(&" ".repeat(pad));
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::raw(left), Span::raw(right)])).style(theme.title),
        area,
    );
}

fn footer(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let line = match &state.notice {
        Some(n) => Line::styled(format!(" {n}"), theme.answer),
        None => {
            let hints = [
                ("space", "play"),
                ("←→", "step"),
                ("n/N", "request"),
                ("r", "list"),
                ("b", "break"),
                ("tab", "focus"),
                ("?", "help"),
                ("q", "quit"),
            ];
            let mut spans = Vec::new();
            for (k, what) in hints {
                spans.push(Span::styled(format!(" {k}"), theme.key));
                spans.push(Span::raw(format!(" {what} ")));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}
