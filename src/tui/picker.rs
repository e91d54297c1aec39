//! The lesson picker (`roundtrip` with no arguments): every bundled lesson
//! with its title and one-line summary. Typing filters the list; ↑/↓ move;
//! Enter plays the selected lesson; q (with an empty filter), Esc (with an
//! empty filter) or Ctrl-C quit.
//!
//! Matching is case-insensitive on the name, then the title, then the
//! summary, so `large` puts `too-large` first.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Opening a lesson".

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};

use super::LessonEntry;
use super::theme::Theme;

/// What a key does in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    Type(char),
    Backspace,
    /// Esc: clear the filter, or quit when it is already empty.
    Clear,
    Up,
    Down,
    Choose,
    Quit,
}

/// The picker: the lessons, the filter typed so far, the selected row.
#[derive(Debug, Clone, PartialEq)]
pub struct PickerState {
    pub lessons: Vec<LessonEntry>,
    pub filter: String,
    /// Index into [`PickerState::visible`].
    pub selected: usize,
    pub theme: Theme,
    /// Set when the viewer is done: Some(name) chosen, or None for quit.
    pub outcome: Option<Option<String>>,
}

impl PickerState {
    pub fn new(lessons: &[LessonEntry], theme: Theme) -> PickerState {
        PickerState {
            lessons: lessons.to_vec(),
            filter: String::new(),
            selected: 0,
            theme,
            outcome: None,
        }
    }

    /// The lessons that match the filter, best first (indices into `lessons`).
    pub fn visible(&self) -> Vec<usize> {
        filter(&self.lessons, &self.filter)
    }

    /// The lesson Enter would play.
    pub fn selected_lesson(&self) -> Option<&LessonEntry> {
        let visible = self.visible();
        visible
            .get(self.selected)
            .and_then(|&i| self.lessons.get(i))
    }
}

/// Lessons matching `query`, ranked: name starts with it, name contains it,
/// title contains it, summary contains it. An empty query keeps the order.
pub fn filter(lessons: &[LessonEntry], query: &str) -> Vec<usize> {
    let q = query.trim().to_lowercase();
    let mut ranked: Vec<(u8, usize)> = lessons
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let name = l.name.to_lowercase();
            let rank = if q.is_empty() || name.starts_with(&q) {
                0
            } else if name.contains(&q) {
                1
            } else if l.title.to_lowercase().contains(&q) {
                2
            } else if l.summary.to_lowercase().contains(&q) {
                3
            } else {
                return None;
            };
            Some((rank, i))
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, i)| i).collect()
}

/// The action for a key in the picker; `filter_empty` decides whether q quits.
pub fn picker_action_for(key: KeyEvent, filter_empty: bool) -> Option<PickerAction> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(PickerAction::Quit),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') if filter_empty => PickerAction::Quit,
        KeyCode::Char(c) => PickerAction::Type(c),
        KeyCode::Backspace => PickerAction::Backspace,
        KeyCode::Esc => PickerAction::Clear,
        KeyCode::Up => PickerAction::Up,
        KeyCode::Down | KeyCode::Tab => PickerAction::Down,
        KeyCode::Enter => PickerAction::Choose,
        _ => return None,
    })
}

pub fn picker_update(state: &mut PickerState, action: PickerAction) {
    match action {
        PickerAction::Type(c) => {
            state.filter.push(c);
            state.selected = 0;
        }
        PickerAction::Backspace => {
            state.filter.pop();
            state.selected = 0;
        }
        PickerAction::Clear if !state.filter.is_empty() => {
            state.filter.clear();
            state.selected = 0;
        }
        PickerAction::Clear | PickerAction::Quit => state.outcome = Some(None),
        PickerAction::Up => state.selected = state.selected.saturating_sub(1),
        PickerAction::Down => {
            let n = state.visible().len();
            state.selected = (state.selected + 1).min(n.saturating_sub(1));
        }
        PickerAction::Choose => {
            if let Some(l) = state.selected_lesson() {
                state.outcome = Some(Some(l.name.clone()));
            }
        }
    }
}

pub fn render_picker(state: &PickerState, frame: &mut Frame) {
    let theme = &state.theme;
    let [title, input, list_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(" roundtrip · pick a lesson to watch a request go down the stack and back")
            .style(theme.title),
        title,
    );
    let prompt = Line::from(vec![
        Span::styled("filter: ", theme.heading),
        Span::raw(state.filter.clone()),
        Span::styled("▏", theme.marker),
    ]);
    frame.render_widget(
        Paragraph::new(prompt).block(Block::bordered().border_style(theme.focused)),
        input,
    );
    let visible = state.visible();
    let name_width = state
        .lessons
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut items: Vec<ListItem> = visible
        .iter()
        .filter_map(|&i| state.lessons.get(i))
        .map(|l| {
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(format!("{:<name_width$}  ", l.name), theme.key),
                    Span::raw(l.title.clone()),
                ]),
                Line::styled(format!("{:<name_width$}  {}", "", l.summary), theme.dim),
            ])
        })
        .collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            "no lesson matches; Esc clears the filter",
            theme.dim,
        )));
    }
    let title = format!(" lessons · {} of {} ", visible.len(), state.lessons.len());
    let list = List::new(items)
        .block(Block::bordered().title(title).border_style(theme.frame))
        .highlight_style(theme.selected)
        .highlight_symbol("▶ ");
    let mut list_state = ListState::default().with_selected(if visible.is_empty() {
        None
    } else {
        Some(state.selected)
    });
    frame.render_stateful_widget(list, list_area, &mut list_state);
    let hints = Line::from(vec![
        Span::styled(" type", theme.key),
        Span::raw(" to filter "),
        Span::styled(" ↑↓", theme.key),
        Span::raw(" choose "),
        Span::styled(" enter", theme.key),
        Span::raw(" play "),
        Span::styled(" esc", theme.key),
        Span::raw(" clear "),
        Span::styled(" q", theme.key),
        Span::raw(" quit"),
    ]);
    frame.render_widget(Paragraph::new(hints), footer);
}
