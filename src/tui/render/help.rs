//! The help overlay (`?`): every key, generated from the same table that
//! `input::action_for` is tested against, plus what the symbols mean for a
//! terminal without colour. Esc or `?` closes it.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Stepping and rewinding".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::input::BINDINGS;
use super::super::state::PlayerState;

/// Width of the key column.
const KEYS_WIDTH: usize = 11;

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:<KEYS_WIDTH$}", b.keys), theme.key),
                Span::raw(b.what),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled("▶ request  ↓ down  ↑ up  · within", theme.dim));
    lines.push(Line::styled(
        "↩ answered, turns back  ┃ crossing now",
        theme.dim,
    ));
    lines.push(Line::styled(
        "lanes: ▸◂ text ? ping ! pong x close ├┤ open…close",
        theme.dim,
    ));
    if !state.breakpoints.is_empty() {
        let list: Vec<String> = state.breakpoints.iter().map(ToString::to_string).collect();
        lines.push(Line::styled(
            format!("breakpoints: {}", list.join(", ")),
            theme.dim,
        ));
    }
    let width = 53.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::bordered()
        .title(" keys · ? or Esc closes ")
        .border_style(theme.focused);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
