//! Named styles for every part of the screen, in two flavours: colour, and
//! plain for terminals (and people) that set `NO_COLOR` (<https://no-color.org>).
//!
//! The plain theme uses only bold, reverse and dim, never a colour. Nothing on
//! screen depends on colour alone: direction is an arrow (`↓ ↑ ·`), the active
//! box has a heavy border and a `▶` marker, the answering layer says "answered
//! here", and the timeline writes a letter per layer. The theme is a value in
//! the player's state, so tests pick one instead of reading the environment.
//!
//! Book: "Using roundtrip" (book/src/using.md).

use ratatui::style::{Color, Modifier, Style};

use crate::trace::Layer;

/// Every style the player and picker use, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether this theme uses colour (false under `NO_COLOR`).
    pub color: bool,
    /// The header bar.
    pub title: Style,
    /// Borders and labels of panes and boxes that are not active.
    pub frame: Style,
    /// The pane that has keyboard focus.
    pub focused: Style,
    /// The box of the layer the request is in now.
    pub active: Style,
    /// Boxes and labels the request has not reached (or never will).
    pub dim: Style,
    /// The request marker (`▶↓`) next to the active box.
    pub marker: Style,
    /// "answered here: …" and the turning-back marker.
    pub answer: Style,
    /// The label of a boundary crossed at this very step.
    pub crossing: Style,
    /// Headings inside the detail pane.
    pub heading: Style,
    /// Raw bytes in the detail pane.
    pub bytes: Style,
    /// Error steps (a limit hit, a bad request).
    pub error: Style,
    /// The narration line.
    pub narration: Style,
    /// Key names in the footer and the help overlay.
    pub key: Style,
    /// The selected row (timeline request, picker lesson).
    pub selected: Style,
    /// The timeline cursor column.
    pub cursor: Style,
}

impl Theme {
    /// The colour theme.
    pub fn colored() -> Theme {
        Theme {
            color: true,
            title: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            frame: Style::new().fg(Color::Gray),
            focused: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            active: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            dim: Style::new().fg(Color::DarkGray),
            marker: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            answer: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            crossing: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            heading: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            bytes: Style::new().fg(Color::LightGreen),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            narration: Style::new().fg(Color::White),
            key: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            cursor: Style::new().fg(Color::Black).bg(Color::Yellow),
        }
    }

    /// The plain theme: attributes only, no colour.
    pub fn plain() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            color: false,
            title: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            frame: Style::new(),
            focused: bold,
            active: bold,
            dim: Style::new().add_modifier(Modifier::DIM),
            marker: bold,
            answer: bold,
            crossing: bold,
            heading: bold,
            bytes: Style::new(),
            error: bold,
            narration: Style::new(),
            key: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            cursor: Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// Plain when `NO_COLOR` is set to anything non-empty, colour otherwise.
    pub fn from_env() -> Theme {
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The rule of <https://no-color.org>, given the variable's value.
    pub fn for_no_color(value: Option<&std::ffi::OsStr>) -> Theme {
        match value {
            Some(v) if !v.is_empty() => Theme::plain(),
            _ => Theme::colored(),
        }
    }

    /// A layer's timeline segments.
    pub fn layer(&self, layer: Layer) -> Style {
        if !self.color {
            return Style::new();
        }
        let bg = match layer {
            Layer::Client => Color::Blue,
            Layer::WebServer => Color::Green,
            Layer::AppServer => Color::Yellow,
            Layer::Framework => Color::Magenta,
            Layer::Handler => Color::Cyan,
            Layer::Database => Color::Red,
        };
        Style::new().fg(Color::Black).bg(bg)
    }
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::from_env()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_set_to_anything_non_empty_means_plain() {
        assert!(!Theme::for_no_color(Some(OsStr::new("1"))).color);
        assert!(Theme::for_no_color(Some(OsStr::new(""))).color);
        assert!(Theme::for_no_color(None).color);
    }
}
