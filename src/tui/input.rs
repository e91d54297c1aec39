//! Keys → actions. A pure table: no terminal, no state, so every binding is
//! testable and the help overlay is generated from the same list.
//!
//! The arrow keys ↑/↓ depend on the focused pane (tab cycles it): in the
//! stack they step, in the detail pane they scroll, in the timeline they
//! jump between requests.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Stepping and rewinding".

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::Focus;

/// Everything the viewer can ask of the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    TogglePlay,
    StepForward,
    StepBack,
    Faster,
    Slower,
    Start,
    End,
    NextRequest,
    PrevRequest,
    ToggleBreakpoint,
    FocusNext,
    FocusPrev,
    ToggleHelp,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    /// Esc: close the help overlay, or quit when it is closed.
    Back,
    /// q: leave the player (back to the picker, if it came from there).
    Quit,
    /// Ctrl-C: leave the program.
    Interrupt,
    /// The play clock ticked: advance one step if playing.
    Tick,
}

/// One line of the help overlay: keys, what they do, and the key codes
/// (`ctrl` for chords such as Ctrl-C) that `action_for` must accept.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
    pub codes: &'static [KeyCode],
    pub ctrl: bool,
}

/// Every key the player knows, in the order the help overlay lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "space",
        what: "play / pause",
        codes: &[KeyCode::Char(' ')],
        ctrl: false,
    },
    Binding {
        keys: "→ l",
        what: "step forward",
        codes: &[KeyCode::Right, KeyCode::Char('l')],
        ctrl: false,
    },
    Binding {
        keys: "← h",
        what: "step back (rewind)",
        codes: &[KeyCode::Left, KeyCode::Char('h')],
        ctrl: false,
    },
    Binding {
        keys: "+ - = _",
        what: "faster / slower (0.5–32 steps/s)",
        codes: &[
            KeyCode::Char('+'),
            KeyCode::Char('-'),
            KeyCode::Char('='),
            KeyCode::Char('_'),
        ],
        ctrl: false,
    },
    Binding {
        keys: "g G",
        what: "first / last step (also Home, End)",
        codes: &[
            KeyCode::Char('g'),
            KeyCode::Char('G'),
            KeyCode::Home,
            KeyCode::End,
        ],
        ctrl: false,
    },
    Binding {
        keys: "n N",
        what: "next / previous request",
        codes: &[KeyCode::Char('n'), KeyCode::Char('N')],
        ctrl: false,
    },
    Binding {
        keys: "b",
        what: "breakpoint on this layer (on/off)",
        codes: &[KeyCode::Char('b')],
        ctrl: false,
    },
    Binding {
        keys: "tab",
        what: "focus: stack → detail → timeline",
        codes: &[KeyCode::Tab, KeyCode::BackTab],
        ctrl: false,
    },
    Binding {
        keys: "↑ ↓ k j",
        what: "step / scroll detail / pick request",
        codes: &[
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Char('k'),
            KeyCode::Char('j'),
        ],
        ctrl: false,
    },
    Binding {
        keys: "PgUp PgDn",
        what: "scroll the detail pane a page",
        codes: &[KeyCode::PageUp, KeyCode::PageDown],
        ctrl: false,
    },
    Binding {
        keys: "?",
        what: "this help (Esc closes it)",
        codes: &[KeyCode::Char('?')],
        ctrl: false,
    },
    Binding {
        keys: "q Esc",
        what: "leave the player (back to the list)",
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        ctrl: false,
    },
    Binding {
        keys: "ctrl-c",
        what: "quit roundtrip",
        codes: &[KeyCode::Char('c')],
        ctrl: true,
    },
];

/// Lines a detail-pane page moves.
pub const PAGE_LINES: u16 = 10;

/// The action for a key press in the focused pane, if any.
pub fn action_for(key: KeyEvent, focus: Focus) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Interrupt),
            _ => None,
        };
    }
    let action = match key.code {
        KeyCode::Char(' ') => Action::TogglePlay,
        KeyCode::Right | KeyCode::Char('l') => Action::StepForward,
        KeyCode::Left | KeyCode::Char('h') => Action::StepBack,
        KeyCode::Char('+' | '=') => Action::Faster,
        KeyCode::Char('-' | '_') => Action::Slower,
        KeyCode::Char('g') | KeyCode::Home => Action::Start,
        KeyCode::Char('G') | KeyCode::End => Action::End,
        KeyCode::Char('n') => Action::NextRequest,
        KeyCode::Char('N') => Action::PrevRequest,
        KeyCode::Char('b') => Action::ToggleBreakpoint,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Esc => Action::Back,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Up | KeyCode::Char('k') => match focus {
            Focus::Stack => Action::StepBack,
            Focus::Detail => Action::ScrollUp,
            Focus::Timeline => Action::PrevRequest,
        },
        KeyCode::Down | KeyCode::Char('j') => match focus {
            Focus::Stack => Action::StepForward,
            Focus::Detail => Action::ScrollDown,
            Focus::Timeline => Action::NextRequest,
        },
        _ => return None,
    };
    Some(action)
}
