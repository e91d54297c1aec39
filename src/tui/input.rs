//! Keys → actions. A pure table: no terminal, no state, so every binding is
//! testable and the help overlay is generated from the same list.
//!
//! The arrow keys ↑/↓ depend on the focused pane (tab cycles it): in the
//! stack they step, in the detail pane they scroll, in the timeline they
//! jump between requests.
//!
//! Digits pick what the centre pane shows (the stack, the worker pool,
//! the event loop, the comparison of stacks, the websocket lanes); `z`/`Z` zoom the timeline
//! and `s` jumps to the slowest request.
//!
//! While the request list (`r`) is open, keys go to it instead
//! ([`list_action_for`]): letters type into its filter, arrows move.
//!
//! Book: "Using roundtrip" (book/src/using.md), section "Stepping and rewinding".

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{Focus, View};

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
    /// r or /: open the request list.
    OpenRequests,
    /// A key while the request list is open.
    List(ListKey),
    ToggleBreakpoint,
    /// v: a lesson that compares stacks shows its next variant.
    NextVariant,
    /// 1–5: the centre pane shows this view.
    ShowView(View),
    /// c: the centre pane shows the next view this trace has.
    NextView,
    /// z: the timeline shows half the time, around the cursor.
    ZoomIn,
    /// Z: the timeline shows twice the time.
    ZoomOut,
    /// s: jump to the first step of the request that took longest.
    Slowest,
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

/// What a key does in the request list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKey {
    /// A letter of the filter.
    Type(char),
    Backspace,
    Up,
    Down,
    PageUp,
    PageDown,
    /// Home: the oldest request.
    First,
    /// End: the newest request.
    Last,
    /// Enter: jump to the highlighted request's first step, close the list.
    Choose,
    /// Esc: clear the filter, or close the list when it is already empty.
    Back,
    /// q with an empty filter: close the list.
    Close,
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
        keys: "r /",
        what: "request list: pick one to replay",
        codes: &[KeyCode::Char('r'), KeyCode::Char('/')],
        ctrl: false,
    },
    Binding {
        keys: "b",
        what: "breakpoint on this layer (on/off)",
        codes: &[KeyCode::Char('b')],
        ctrl: false,
    },
    Binding {
        keys: "v",
        what: "next compared stack, same moment",
        codes: &[KeyCode::Char('v')],
        ctrl: false,
    },
    Binding {
        keys: "1–5 c",
        what: "stack/workers/loop/compare/lanes; c next",
        codes: &[
            KeyCode::Char('1'),
            KeyCode::Char('2'),
            KeyCode::Char('3'),
            KeyCode::Char('4'),
            KeyCode::Char('5'),
            KeyCode::Char('c'),
        ],
        ctrl: false,
    },
    Binding {
        keys: "z Z",
        what: "zoom the timeline in / out",
        codes: &[KeyCode::Char('z'), KeyCode::Char('Z')],
        ctrl: false,
    },
    Binding {
        keys: "s",
        what: "jump to the slowest request",
        codes: &[KeyCode::Char('s')],
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
        what: "scroll a page: detail or timeline",
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
/// Rows a page of the request list moves.
pub const LIST_PAGE: usize = 10;

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
        KeyCode::Char('r' | '/') => Action::OpenRequests,
        KeyCode::Char('b') => Action::ToggleBreakpoint,
        KeyCode::Char('v') => Action::NextVariant,
        KeyCode::Char('1') => Action::ShowView(View::Stack),
        KeyCode::Char('2') => Action::ShowView(View::Workers),
        KeyCode::Char('3') => Action::ShowView(View::EventLoop),
        KeyCode::Char('4') => Action::ShowView(View::Compare),
        KeyCode::Char('5') => Action::ShowView(View::Lanes),
        KeyCode::Char('c') => Action::NextView,
        KeyCode::Char('z') => Action::ZoomIn,
        KeyCode::Char('Z') => Action::ZoomOut,
        KeyCode::Char('s') => Action::Slowest,
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

/// The action for a key while the request list is open. Letters type into
/// the filter; while it is empty, `k`/`j` also move and `q` closes (no
/// method starts with them, and a target starts with `/`).
pub fn list_action_for(key: KeyEvent, filter_empty: bool) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Interrupt),
            _ => None,
        };
    }
    let list = match key.code {
        KeyCode::Up | KeyCode::BackTab => ListKey::Up,
        KeyCode::Down | KeyCode::Tab => ListKey::Down,
        KeyCode::Char('k') if filter_empty => ListKey::Up,
        KeyCode::Char('j') if filter_empty => ListKey::Down,
        KeyCode::Char('q') if filter_empty => ListKey::Close,
        KeyCode::PageUp => ListKey::PageUp,
        KeyCode::PageDown => ListKey::PageDown,
        KeyCode::Home => ListKey::First,
        KeyCode::End => ListKey::Last,
        KeyCode::Enter => ListKey::Choose,
        KeyCode::Esc => ListKey::Back,
        KeyCode::Backspace => ListKey::Backspace,
        KeyCode::Char(c) => ListKey::Type(c),
        _ => return None,
    };
    Some(Action::List(list))
}
