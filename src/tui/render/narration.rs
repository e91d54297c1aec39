//! The narration line: the lesson's words for this step, or, when the lesson
//! has none, a sentence made from the step itself ("On the way down, the web
//! server parsed the request head."). On the last step it also says how
//! every request ended, so the last frame tells the lesson's outcome.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "The screen".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::super::state::PlayerState;
use super::super::view::{StepView, narration_at};

pub fn render(state: &PlayerState, view: Option<&StepView>, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let text = match view {
        Some(v) => narration_at(state, v),
        None => match state.live {
            Some(_) => String::from(
                "Waiting for the first request. Send one (curl, a browser) and watch it travel.",
            ),
            None => String::from("This trace has no steps."),
        },
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.frame)
        .title(" narration ");
    let para = Paragraph::new(Line::styled(text, theme.narration))
        .block(block)
        .wrap(Wrap { trim: true });
    frame.render_widget(para, area);
}
