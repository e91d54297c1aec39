//! Whole-screen frames of the player, drawn into ratatui's `TestBackend`:
//! the key frames of `hello` and `too-large` at 80x24 and 120x40.
//!
//! Text snapshots are taken with the plain (`NO_COLOR`) theme; a test proves
//! the colour theme draws exactly the same characters, so the text snapshots
//! stand for both. The styled snapshots (`*_styles`) record colours and
//! attributes for the frames where a layer answers.
//!
//! The request list (`r`) is drawn over `many-at-once`, the lesson with four
//! requests at once.

mod tui_fixtures;

use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use std::sync::OnceLock;

use roundtrip::trace::{Direction, Layer, Trace};
use roundtrip::tui::input::BINDINGS;
use roundtrip::tui::picker::PickerState;
use roundtrip::tui::view::StepView;
use roundtrip::tui::{
    Action, Focus, LessonEntry, ListKey, PlayerState, Theme, render, render_picker, update,
};
use tui_fixtures::{key_frames, lesson, many};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];
const LESSONS: [&str; 2] = ["hello", "too-large"];

fn draw(state: &PlayerState, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    terminal.backend().buffer().clone()
}

/// The characters of a buffer, one line per row (what a person sees).
fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if skip > 0 {
                skip -= 1;
                continue;
            }
            line.push_str(cell.symbol());
            skip = unicode_width(cell.symbol()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// ratatui writes wide symbols in one cell and blanks the next; none of
/// ours are wide, so every symbol is one column.
fn unicode_width(_: &str) -> usize {
    1
}

fn state_at(trace: &Trace, cursor: usize, theme: Theme) -> PlayerState {
    PlayerState::at(trace.clone(), cursor, theme)
}

#[test]
fn key_frames_of_each_lesson_at_80x24_and_120x40() {
    for name in LESSONS {
        let trace = lesson(name);
        for (frame, cursor) in key_frames(&trace) {
            for (w, h) in SIZES {
                let buf = draw(&state_at(&trace, cursor, Theme::plain()), w, h);
                insta::assert_snapshot!(format!("{name}__{frame}__{w}x{h}"), text(&buf));
            }
        }
    }
}

#[test]
fn colour_and_no_color_draw_the_same_characters() {
    for name in LESSONS {
        let trace = lesson(name);
        for cursor in 0..trace.events.len() {
            for (w, h) in SIZES {
                let colour = draw(&state_at(&trace, cursor, Theme::colored()), w, h);
                let plain = draw(&state_at(&trace, cursor, Theme::plain()), w, h);
                assert_eq!(
                    text(&colour),
                    text(&plain),
                    "{name} step {cursor} at {w}x{h}"
                );
            }
        }
    }
}

#[test]
fn no_color_frames_use_no_colour_at_all() {
    for name in LESSONS {
        let trace = lesson(name);
        for cursor in 0..trace.events.len() {
            let buf = draw(&state_at(&trace, cursor, Theme::plain()), 120, 40);
            for cell in buf.content() {
                assert_eq!(
                    (cell.fg, cell.bg),
                    (Color::Reset, Color::Reset),
                    "{name} step {cursor}"
                );
            }
        }
    }
}

#[test]
fn answer_frames_with_their_styles() {
    for name in LESSONS {
        let trace = lesson(name);
        let (_, answer) = key_frames(&trace)[2];
        for (w, h) in SIZES {
            let buf = draw(&state_at(&trace, answer, Theme::colored()), w, h);
            insta::assert_debug_snapshot!(format!("{name}__answer__{w}x{h}__colour_styles"), buf);
        }
        let buf = draw(&state_at(&trace, answer, Theme::plain()), 80, 24);
        insta::assert_debug_snapshot!(format!("{name}__answer__80x24__no_color_styles"), buf);
    }
}

#[test]
fn too_large_turns_back_at_the_web_server_and_names_the_knob() {
    let trace = lesson("too-large");
    let (_, answer) = key_frames(&trace)[2];
    for (w, h) in SIZES {
        let screen = text(&draw(&state_at(&trace, answer, Theme::plain()), w, h));
        assert!(screen.contains("▶↩"), "the marker turns back:\n{screen}");
        assert!(screen.contains("answered here: 413"), "{screen}");
        assert!(screen.contains("client_max_body_size = 1m"), "{screen}");
        assert!(screen.contains("not reached"), "{screen}");
    }
}

#[test]
fn hello_shows_the_real_bytes_and_the_sql_rows() {
    let trace = lesson("hello");
    let proxy = step(&trace, "web_server.proxy.send");
    let screen = text(&draw(&state_at(&trace, proxy, Theme::plain()), 120, 40));
    assert!(screen.contains(r"GET /notes HTTP/1.1\r\n"), "{screen}");
    assert!(screen.contains("HTTP bytes"), "{screen}");
    let query = step(&trace, "database.query");
    let screen = text(&draw(&state_at(&trace, query, Theme::plain()), 120, 40));
    assert!(
        screen.contains("SELECT id, title, body FROM notes"),
        "{screen}"
    );
    assert!(screen.contains("↓ SQL"), "{screen}");
    let result = step(&trace, "database.result");
    for (w, h) in SIZES {
        let screen = text(&draw(&state_at(&trace, result, Theme::plain()), w, h));
        // The rows go up as "3 rows", and the detail shows them as a table.
        assert!(screen.contains("┃ ↑ 3 rows"), "{w}x{h}:\n{screen}");
        assert!(screen.contains("3 rows returned"), "{w}x{h}:\n{screen}");
        for row in [
            "│ 1  │ Welcome",
            "│ 2  │ Shopping",
            "│ 3  │ Escaping matters",
        ] {
            assert!(screen.contains(row), "{w}x{h}: {row}\n{screen}");
        }
        // Cut to the pane, never wrapped: every table line ends with the
        // table's own edge or a cut mark, and none continues on the next.
        for line in screen.lines().filter(|l| l.contains("│ id │")) {
            assert!(line.contains("│ title"), "{w}x{h}:\n{screen}");
        }
        assert!(screen.contains("├────┼─"), "{w}x{h}:\n{screen}");
    }
}

/// The first step of `trace` named `name`.
fn step(trace: &Trace, name: &str) -> usize {
    trace
        .events
        .iter()
        .position(|e| e.step.as_str() == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

/// The letter under the timeline's cursor: the cell above the `▲` caret.
fn timeline_cursor_cell(buf: &Buffer) -> String {
    let area = buf.area;
    let (x, y) = (0..area.height)
        .flat_map(|y| (0..area.width).map(move |x| (x, y)))
        .find(|&(x, y)| buf[(x, y)].symbol() == "▲")
        .expect("the timeline draws a caret under the cursor");
    buf[(x, y - 1)].symbol().to_string()
}

#[test]
fn timeline_cursor_is_in_the_layer_of_the_step_on_screen() {
    let trace = lesson("hello");
    for (w, h) in SIZES {
        let cell =
            |cursor| timeline_cursor_cell(&draw(&state_at(&trace, cursor, Theme::plain()), w, h));
        assert_eq!(cell(0), "c", "{w}x{h}: the client connects");
        assert_eq!(cell(step(&trace, "database.query")), "d", "{w}x{h}");
        // Every step of the request, in order: its own layer's letter.
        for (i, e) in trace.events.iter().enumerate() {
            if e.request.is_some() {
                let letter = roundtrip::tui::render::timeline::letter(e.layer).to_string();
                assert_eq!(cell(i), letter, "{w}x{h} step {i} {}", e.step);
            }
        }
    }
}

#[test]
fn timeline_row_reads_in_the_order_the_layers_were_visited() {
    let trace = lesson("hello");
    let buf = draw(&state_at(&trace, 0, Theme::plain()), 80, 24);
    let screen = text(&buf);
    let row = screen
        .lines()
        .find(|l| l.contains("GET /notes") && l.contains("200│"))
        .expect("the request's row");
    let bar: String = row.split('│').nth(2).expect("the bar").chars().collect();
    let mut visited: Vec<char> = bar.chars().filter(|c| *c != ' ').collect();
    visited.dedup();
    // The web server dials; the connection waits in the app server's
    // backlog (a), the proxy's connect returns (w), a worker accepts (a).
    assert_eq!(visited.iter().collect::<String>(), "cwawafhdhfawc", "{row}");
}

#[test]
fn at_the_handlers_answer_the_response_crosses_to_the_framework() {
    let trace = lesson("hello");
    let ret = step(&trace, "handler.return");
    let state = state_at(&trace, ret, Theme::plain());
    let view = StepView::of(&state).expect("a step");
    let framework = state.index.box_of(Layer::Framework).expect("framework box");
    let handler = state.index.box_of(Layer::Handler).expect("handler box");
    assert_eq!(handler, framework + 1);
    assert_eq!(
        view.crossing_now,
        Some(framework),
        "between framework and handler"
    );
    let now = view.crossings[framework].as_ref().expect("crossed");
    assert_eq!(now.direction, Direction::Up);
    assert_eq!(now.label, "response 200");
    // The rows that came up from the database stay on their boundary.
    let rows = view.crossings[handler].as_ref().expect("rows crossed");
    assert_eq!(
        (rows.direction, rows.label.as_str()),
        (Direction::Up, "3 rows")
    );
    // On the way down the handler's first step is the arrival: the request
    // crossing from the framework, not yet the SQL.
    let call = state_at(&trace, step(&trace, "handler.call"), Theme::plain());
    let view_call = StepView::of(&call).expect("a step");
    assert_eq!(view_call.crossing_now, Some(framework));
    for (w, h) in SIZES {
        let screen = text(&draw(&state, w, h));
        assert!(screen.contains("┃ ↑ response 200"), "{w}x{h}:\n{screen}");
        assert!(screen.contains("│ ↑ 3 rows"), "{w}x{h}:\n{screen}");
        assert!(!screen.contains("↓ request"), "{w}x{h}:\n{screen}");
    }
}

#[test]
fn compact_stack_lists_every_middleware_when_rows_are_spare() {
    let trace = lesson("hello");
    let screen = text(&draw(&state_at(&trace, 0, Theme::plain()), 80, 24));
    // The stack's column, its lines joined: the list may wrap, not be cut.
    let stack: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.split("││").next())
        .flat_map(|l| l.trim_start_matches('│').split_whitespace())
        .collect();
    assert!(
        stack
            .join(" ")
            .contains("[request_id → access_log → conditional_get → cache_control → json_body → security_headers]"),
        "{screen}"
    );
}

#[test]
fn help_overlay_lists_every_key() {
    let mut state = state_at(&lesson("hello"), 3, Theme::plain());
    state.help = true;
    let screen = text(&draw(&state, 80, 24));
    for b in BINDINGS {
        assert!(
            screen.contains(b.keys) && screen.contains(b.what),
            "{} missing:\n{screen}",
            b.keys
        );
    }
    insta::assert_snapshot!("help_overlay__80x24", screen);
}

#[test]
fn focused_detail_pane_scrolls() {
    let trace = lesson("hello");
    let wsgi = trace
        .events
        .iter()
        .position(|e| e.step == roundtrip::trace::StepId::AppServerWsgiCall)
        .expect("wsgi step");
    let mut state = state_at(&trace, wsgi, Theme::plain());
    state.focus = Focus::Detail;
    state.detail_scroll = 6;
    let screen = text(&draw(&state, 80, 24));
    assert!(screen.contains("detail (↑↓ scroll)"), "{screen}");
    assert!(
        !screen.contains("app server ↓ hop"),
        "scrolled past the heading:\n{screen}"
    );
    insta::assert_snapshot!("hello__environ_scrolled__80x24", screen);
}

#[test]
fn timeline_of_a_thousand_requests_shows_the_ones_around_the_cursor() {
    let trace = many(1000);
    let cursor = trace
        .events
        .iter()
        .position(|e| e.request == Some(500))
        .expect("request 500");
    let screen = text(&draw(&state_at(&trace, cursor, Theme::plain()), 120, 40));
    assert!(screen.contains("▶500 GET /notes"), "{screen}");
    assert!(screen.contains("request 500/1000"), "{screen}");
}

#[test]
fn live_player_before_the_first_request_says_it_is_waiting() {
    let state = PlayerState::waiting(Vec::new(), Theme::plain());
    let screen = text(&draw(&state, 80, 24));
    assert!(screen.contains("Waiting for the first request"), "{screen}");
    insta::assert_snapshot!("live_waiting__80x24", screen);
}

#[test]
fn picker_at_80x24() {
    let lessons = vec![
        LessonEntry {
            name: "hello".into(),
            title: "Hello, notes".into(),
            summary: "One GET travels down every layer to SQLite and back.".into(),
        },
        LessonEntry {
            name: "too-large".into(),
            title: "Too large".into(),
            summary: "A 2 MiB upload meets client_max_body_size = 1m.".into(),
        },
    ];
    let mut state = PickerState::new(&lessons, Theme::plain());
    state.filter = "lar".into();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|f| render_picker(&state, f)).expect("draw");
    let screen = text(terminal.backend().buffer());
    assert!(screen.contains("▶ too-large"), "{screen}");
    insta::assert_snapshot!("picker_filtered__80x24", screen);
}

/// `many-at-once` on the first step of request `id`, with the request list open.
fn request_list_at(id: u64, theme: Theme) -> PlayerState {
    let trace = lesson("many-at-once");
    let first = trace
        .events
        .iter()
        .position(|e| e.request == Some(id))
        .expect("the request has steps");
    let mut state = state_at(&trace, first, theme);
    update(&mut state, Action::OpenRequests);
    state
}

#[test]
fn request_list_of_many_at_once_at_80x24() {
    let mut state = request_list_at(3, Theme::plain());
    update(&mut state, Action::List(ListKey::Down));
    let screen = text(&draw(&state, 80, 24));
    assert!(screen.contains("requests · 4 of 4"), "{screen}");
    // The request on screen (3) is marked ●, the highlight (4) ▶.
    assert!(screen.contains("│ ● 3 GET    /notes/1 "), "{screen}");
    assert!(screen.contains("│▶  4 GET    /nothing-here "), "{screen}");
    for line in screen.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    insta::assert_snapshot!("request_list__many-at-once__80x24", screen);
}

#[test]
fn request_list_filtered_at_80x24() {
    let mut state = request_list_at(1, Theme::plain());
    for c in "post".chars() {
        update(&mut state, Action::List(ListKey::Type(c)));
    }
    let screen = text(&draw(&state, 80, 24));
    assert!(screen.contains("filter: post▏"), "{screen}");
    assert!(screen.contains("requests · 1 of 4"), "{screen}");
    assert!(screen.contains("│▶  2 POST   /notes "), "{screen}");
    insta::assert_snapshot!("request_list_filtered__80x24", screen);
    for c in "zzz".chars() {
        update(&mut state, Action::List(ListKey::Type(c)));
    }
    let screen = text(&draw(&state, 80, 24));
    assert!(
        screen.contains("no request matches; Esc clears the filter"),
        "{screen}"
    );
}

#[test]
fn request_list_cuts_long_targets_to_the_screen() {
    let mut state = request_list_at(1, Theme::plain());
    let long = format!("/notes?q={}", "x".repeat(200));
    state.trace.requests[1].target = long;
    for (w, h) in [(80, 24), (40, 12), (120, 40)] {
        let screen = text(&draw(&state, w, h));
        assert!(screen.contains("/notes?q=xxx"), "{w}x{h}:\n{screen}");
        assert!(screen.contains("x…"), "{w}x{h}:\n{screen}");
        for line in screen.lines() {
            assert!(line.chars().count() <= usize::from(w), "{w}x{h}: {line}");
        }
    }
    // At 80 columns every column keeps its place.
    let screen = text(&draw(&state, 80, 24));
    for heading in ["id", "method", "target", "status", "answered by", "took"] {
        assert!(screen.contains(heading), "{heading}:\n{screen}");
    }
}

#[test]
fn request_list_without_colour_uses_no_colour_and_the_same_characters() {
    let plain = draw(&request_list_at(2, Theme::plain()), 80, 24);
    let colour = draw(&request_list_at(2, Theme::colored()), 80, 24);
    assert_eq!(text(&plain), text(&colour));
    for cell in plain.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
}

/// The traces the render-anything property draws: the lessons, and a few
/// `hello` requests one after another.
fn traces() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| {
        vec![
            lesson("hello"),
            lesson("too-large"),
            many(3),
            lesson("many-at-once"),
        ]
    })
}

proptest! {
    #[test]
    fn any_terminal_size_and_step_renders_without_panicking(
        w in 1u16..260, h in 1u16..90, cursor in 0usize..400, help: bool,
        which in 0usize..4, focus in 0u8..3, scroll in 0u16..80,
        list in 0u8..3, moves in 0usize..6,
    ) {
        let trace = &traces()[which];
        let mut state = state_at(trace, cursor.min(trace.events.len() - 1), Theme::colored());
        state.help = help;
        state.focus = match focus {
            0 => Focus::Stack,
            1 => Focus::Detail,
            _ => Focus::Timeline,
        };
        state.detail_scroll = scroll;
        if list > 0 {
            update(&mut state, Action::OpenRequests);
            if list == 2 {
                update(&mut state, Action::List(ListKey::Type('/')));
            }
            for _ in 0..moves {
                update(&mut state, Action::List(ListKey::Up));
            }
        }
        draw(&state, w, h);
    }
}

/// A blocked event loop is on screen at 80x24 in the stack pane, and gone
/// once the loop is free again; a sync worker pool shows who is busy.
#[test]
fn the_stack_pane_says_when_the_event_loop_is_blocked_and_which_workers_are_busy() {
    let trace = lesson("blocking-the-loop");
    let blocked = step(&trace, "app_server.loop.blocked");
    let free = step(&trace, "app_server.loop.free");
    // The lesson opens on the event loop's view; this is the stack's (1).
    let stack_at = |cursor| {
        let mut s = state_at(&trace, cursor, Theme::plain());
        s.chosen_view = Some(roundtrip::tui::View::Stack);
        s
    };
    let during = text(&draw(&stack_at(blocked), 80, 24));
    assert!(during.contains("LOOP BLOCKED by #1"), "{during}");
    let after = text(&draw(&stack_at(free), 80, 24));
    assert!(!after.contains("LOOP BLOCKED"), "{after}");

    let trace = lesson("many-at-once");
    let busy = trace
        .events
        .iter()
        .rposition(|e| e.step == roundtrip::trace::StepId::AppServerWorker)
        .expect("a worker takes a request");
    let screen = text(&draw(&state_at(&trace, busy, Theme::plain()), 80, 24));
    assert!(screen.contains("busy 1→#"), "{screen}");
}

#[test]
fn the_detail_pane_calls_a_request_by_the_lessons_number_not_the_servers() {
    // In arrival-order the web server reads the lesson's request 2
    // ("quick") first: its id 1 is the lesson's 2.
    let trace = lesson("arrival-order");
    let quick = trace
        .requests
        .iter()
        .find(|r| r.name.as_deref() == Some("quick"))
        .expect("the quick request");
    assert_eq!((quick.id, quick.lesson), (1, Some(2)));
    let cursor = trace
        .events
        .iter()
        .position(|e| e.request == Some(quick.id))
        .expect("a step of the quick request");
    let screen = text(&draw(&state_at(&trace, cursor, Theme::plain()), 120, 40));
    assert!(screen.contains("· request 2"), "{screen}");
    assert!(!screen.contains("· request 1"), "{screen}");
}
