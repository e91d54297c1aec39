//! The player without a terminal: keys → actions → state. Stepping is a
//! true rewind, breakpoints stop play where they say, the picker finds the
//! lesson you type, the request list jumps to the request you pick, and
//! `serve --tui` follows the newest request until you pick one.

mod tui_fixtures;

use proptest::prelude::*;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use roundtrip::trace::{Data, Layer, Trace};
use roundtrip::tui::input::BINDINGS;
use roundtrip::tui::picker::{PickerAction, filter};
use roundtrip::tui::state::SPEEDS;
use roundtrip::tui::view::{Reach, StepView};
use roundtrip::tui::{
    Action, BreakOn, Focus, LessonEntry, ListKey, PickerState, PlayerState, Theme, action_for,
    list_action_for, picker_action_for, picker_update, update,
};
use tui_fixtures::{lesson, many};

fn player(trace: Trace, breakpoints: Vec<BreakOn>) -> PlayerState {
    PlayerState::new(trace, breakpoints, Theme::plain())
}

/// Play from the start until play stops by itself; where did it stop?
fn play_until_it_stops(state: &mut PlayerState) -> usize {
    update(state, Action::TogglePlay);
    let mut ticks = 0;
    while state.playing {
        update(state, Action::Tick);
        ticks += 1;
        assert!(ticks <= state.len(), "play never stopped");
    }
    state.cursor
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// `hello`, except the handler fails: 500 on the way up.
fn hello_with_500() -> Trace {
    let mut trace = lesson("hello");
    for e in &mut trace.events {
        if e.answer.is_some() {
            e.answer = Some(500);
        }
        for d in &mut e.data {
            if let Data::ResponseHead { status, reason, .. } = d {
                *status = 500;
                *reason = "Internal Server Error".into();
            }
        }
    }
    trace
}

proptest! {
    #[test]
    fn stepping_forward_n_then_back_n_returns_the_identical_state(start in 0usize..22, n in 0usize..22) {
        let trace = lesson("hello");
        let mut state = player(trace, vec![BreakOn::Status5xx]);
        state.cursor = start.min(state.len() - 1);
        let n = n.min(state.len() - 1 - state.cursor);
        let before = state.clone();
        for _ in 0..n {
            update(&mut state, Action::StepForward);
        }
        for _ in 0..n {
            update(&mut state, Action::StepBack);
        }
        prop_assert_eq!(state, before);
    }
}

#[test]
fn a_step_reached_by_stepping_looks_the_same_as_opening_it_directly() {
    for name in ["hello", "too-large"] {
        let trace = lesson(name);
        let mut walked = player(trace.clone(), Vec::new());
        update(&mut walked, Action::End);
        for cursor in (0..trace.events.len()).rev() {
            let direct = PlayerState::at(trace.clone(), cursor, Theme::plain());
            assert_eq!(
                StepView::of(&walked),
                StepView::of(&direct),
                "{name} step {cursor}"
            );
            update(&mut walked, Action::StepBack);
        }
    }
}

#[test]
fn breakpoint_on_5xx_stops_play_at_the_first_5xx_event() {
    let trace = hello_with_500();
    let first_5xx = trace
        .events
        .iter()
        .position(|e| e.answer == Some(500))
        .expect("the handler answers 500");
    let mut state = player(trace, vec!["5xx".parse().expect("5xx parses")]);
    assert_eq!(play_until_it_stops(&mut state), first_5xx);
    assert!(
        state.notice.as_deref().is_some_and(|n| n.contains("5xx")),
        "{:?}",
        state.notice
    );
    // Space goes on from there: the layers that relay the 500 further up do
    // not stop play again, so it runs to the end.
    let end = state.len() - 1;
    assert_eq!(play_until_it_stops(&mut state), end);
}

#[test]
fn breakpoint_on_5xx_lets_a_200_play_to_the_end() {
    let mut state = player(lesson("hello"), vec![BreakOn::Status5xx]);
    let end = state.len() - 1;
    assert_eq!(play_until_it_stops(&mut state), end);
}

#[test]
fn breakpoint_on_4xx_stops_where_the_web_server_decides_413() {
    let trace = lesson("too-large");
    let decision = trace
        .events
        .iter()
        .position(|e| e.answer == Some(413))
        .expect("413");
    let mut state = player(trace, vec![BreakOn::Status4xx]);
    assert_eq!(play_until_it_stops(&mut state), decision);
    assert_eq!(state.event().map(|e| e.layer), Some(Layer::WebServer));
}

#[test]
fn layer_breakpoint_stops_when_the_request_arrives_not_at_every_step_inside() {
    let trace = lesson("hello");
    let arrivals: Vec<usize> = (1..trace.events.len())
        .filter(|&i| {
            trace.events[i].layer == Layer::Framework
                && trace.events[i - 1].layer != Layer::Framework
        })
        .collect();
    assert_eq!(
        arrivals.len(),
        2,
        "down into the framework, and back up into it"
    );
    let mut state = player(trace, vec!["layer:framework".parse().expect("parses")]);
    assert_eq!(play_until_it_stops(&mut state), arrivals[0]);
    assert_eq!(play_until_it_stops(&mut state), arrivals[1]);
}

#[test]
fn b_toggles_a_breakpoint_on_the_layer_on_screen() {
    let mut state = player(lesson("hello"), Vec::new());
    let handler = state
        .trace
        .events
        .iter()
        .position(|e| e.layer == Layer::Handler)
        .expect("handler");
    state.cursor = handler;
    update(&mut state, Action::ToggleBreakpoint);
    assert_eq!(state.breakpoints, vec![BreakOn::Layer(Layer::Handler)]);
    update(&mut state, Action::Start);
    assert_eq!(play_until_it_stops(&mut state), handler);
    update(&mut state, Action::ToggleBreakpoint);
    assert!(state.breakpoints.is_empty());
}

#[test]
fn play_stops_at_the_end_and_space_there_replays_from_the_start() {
    let mut state = player(lesson("too-large"), Vec::new());
    let end = state.len() - 1;
    assert_eq!(play_until_it_stops(&mut state), end);
    update(&mut state, Action::TogglePlay);
    assert!(state.playing);
    assert_eq!(state.cursor, 0);
}

#[test]
fn stepping_by_hand_pauses_play() {
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::TogglePlay);
    update(&mut state, Action::StepForward);
    assert!(!state.playing);
}

#[test]
fn speed_moves_along_the_table_and_stays_within_half_to_32_steps_per_second() {
    let mut state = player(lesson("hello"), Vec::new());
    assert_eq!(state.steps_per_second(), 4.0);
    for _ in 0..20 {
        update(&mut state, Action::Faster);
    }
    assert_eq!(state.steps_per_second(), 32.0);
    for _ in 0..20 {
        update(&mut state, Action::Slower);
    }
    assert_eq!(state.steps_per_second(), SPEEDS[0]);
}

#[test]
fn g_and_shift_g_go_to_the_first_and_last_step() {
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::End);
    assert_eq!(state.cursor, state.len() - 1);
    update(&mut state, Action::Start);
    assert_eq!(state.cursor, 0);
}

#[test]
fn n_and_shift_n_jump_between_requests() {
    let trace = many(3);
    let starts: Vec<usize> = (1..=3)
        .map(|id| {
            trace
                .events
                .iter()
                .position(|e| e.request == Some(id))
                .expect("request")
        })
        .collect();
    let mut state = player(trace, Vec::new());
    update(&mut state, Action::NextRequest);
    assert_eq!(state.cursor, starts[0]);
    update(&mut state, Action::NextRequest);
    assert_eq!(state.cursor, starts[1]);
    update(&mut state, Action::StepForward);
    update(&mut state, Action::PrevRequest);
    assert_eq!(
        state.cursor, starts[1],
        "N goes to the start of the current request first"
    );
    update(&mut state, Action::PrevRequest);
    assert_eq!(state.cursor, starts[0]);
}

#[test]
fn esc_closes_help_before_it_quits() {
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::ToggleHelp);
    update(&mut state, Action::Back);
    assert!(!state.help && !state.quit);
    update(&mut state, Action::Back);
    assert!(state.quit);
}

#[test]
fn q_esc_and_ctrl_c_quit() {
    assert_eq!(
        action_for(key(KeyCode::Char('q')), Focus::Stack),
        Some(Action::Quit)
    );
    assert_eq!(
        action_for(key(KeyCode::Esc), Focus::Stack),
        Some(Action::Back)
    );
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_c, Focus::Detail), Some(Action::Interrupt));
}

#[test]
fn every_key_the_help_lists_does_something() {
    for b in BINDINGS {
        for &code in b.codes {
            let mods = if b.ctrl {
                KeyModifiers::CONTROL
            } else {
                KeyModifiers::NONE
            };
            for focus in [Focus::Stack, Focus::Detail, Focus::Timeline] {
                assert!(
                    action_for(KeyEvent::new(code, mods), focus).is_some(),
                    "{} ({code:?}) does nothing in {focus:?}",
                    b.keys
                );
            }
        }
    }
}

#[test]
fn each_key_maps_to_the_action_the_help_promises() {
    let plain = |c| action_for(key(c), Focus::Stack);
    assert_eq!(plain(KeyCode::Char(' ')), Some(Action::TogglePlay));
    assert_eq!(plain(KeyCode::Char('l')), Some(Action::StepForward));
    assert_eq!(plain(KeyCode::Right), Some(Action::StepForward));
    assert_eq!(plain(KeyCode::Char('h')), Some(Action::StepBack));
    assert_eq!(plain(KeyCode::Left), Some(Action::StepBack));
    assert_eq!(plain(KeyCode::Char('+')), Some(Action::Faster));
    assert_eq!(plain(KeyCode::Char('=')), Some(Action::Faster));
    assert_eq!(plain(KeyCode::Char('-')), Some(Action::Slower));
    assert_eq!(plain(KeyCode::Char('_')), Some(Action::Slower));
    assert_eq!(plain(KeyCode::Char('g')), Some(Action::Start));
    assert_eq!(plain(KeyCode::Home), Some(Action::Start));
    assert_eq!(plain(KeyCode::Char('G')), Some(Action::End));
    assert_eq!(plain(KeyCode::End), Some(Action::End));
    assert_eq!(plain(KeyCode::Char('n')), Some(Action::NextRequest));
    assert_eq!(plain(KeyCode::Char('N')), Some(Action::PrevRequest));
    assert_eq!(plain(KeyCode::Char('r')), Some(Action::OpenRequests));
    assert_eq!(plain(KeyCode::Char('/')), Some(Action::OpenRequests));
    assert_eq!(plain(KeyCode::Char('b')), Some(Action::ToggleBreakpoint));
    assert_eq!(plain(KeyCode::Tab), Some(Action::FocusNext));
    assert_eq!(plain(KeyCode::Char('?')), Some(Action::ToggleHelp));
    assert_eq!(plain(KeyCode::Char('q')), Some(Action::Quit));
    assert_eq!(plain(KeyCode::Esc), Some(Action::Back));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_c, Focus::Stack), Some(Action::Interrupt));
}

#[test]
fn ctrl_c_leaves_the_program_and_q_only_the_player() {
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::Quit);
    assert!(state.quit && !state.interrupted);
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::Interrupt);
    assert!(state.quit && state.interrupted);
}

#[test]
fn keys_do_nothing_underneath_the_help_overlay() {
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::ToggleHelp);
    let before = state.clone();
    for a in [
        Action::StepForward,
        Action::TogglePlay,
        Action::End,
        Action::NextRequest,
    ] {
        update(&mut state, a);
    }
    assert_eq!(state.cursor, before.cursor);
    assert_eq!(state.playing, before.playing);
    assert!(state.help);
    update(&mut state, Action::Back);
    assert!(!state.help && !state.quit, "Esc closes the help first");
}

#[test]
fn arrow_keys_follow_the_focused_pane() {
    let down = key(KeyCode::Down);
    assert_eq!(action_for(down, Focus::Stack), Some(Action::StepForward));
    assert_eq!(action_for(down, Focus::Detail), Some(Action::ScrollDown));
    assert_eq!(action_for(down, Focus::Timeline), Some(Action::NextRequest));
    let mut state = player(lesson("hello"), Vec::new());
    update(&mut state, Action::FocusNext);
    assert_eq!(state.focus, Focus::Detail);
    update(&mut state, Action::FocusNext);
    update(&mut state, Action::FocusNext);
    assert_eq!(state.focus, Focus::Stack);
}

#[test]
fn detail_scroll_stops_at_the_last_line_and_resets_on_a_new_step() {
    let mut state = player(lesson("hello"), Vec::new());
    state.cursor = state
        .trace
        .events
        .iter()
        .position(|e| e.step == roundtrip::trace::StepId::AppServerWsgiCall)
        .expect("wsgi");
    for _ in 0..100 {
        update(&mut state, Action::PageDown);
    }
    let bottom = state.detail_scroll;
    assert!(bottom > 0 && bottom < 100, "{bottom}");
    update(&mut state, Action::StepForward);
    assert_eq!(state.detail_scroll, 0);
}

#[test]
fn break_on_parses_4xx_5xx_and_layer_names() {
    assert_eq!("4xx".parse(), Ok(BreakOn::Status4xx));
    assert_eq!("5XX".parse(), Ok(BreakOn::Status5xx));
    assert_eq!(
        "layer:web_server".parse(),
        Ok(BreakOn::Layer(Layer::WebServer))
    );
    assert_eq!(
        "layer:app-server".parse(),
        Ok(BreakOn::Layer(Layer::AppServer))
    );
    let err = "layer:nginx".parse::<BreakOn>().expect_err("not a layer");
    assert!(err.contains("nginx") && err.contains("web_server"), "{err}");
    let err = "3xx".parse::<BreakOn>().expect_err("not a breakpoint");
    assert!(err.contains("4xx, 5xx or layer:NAME"), "{err}");
}

#[test]
fn too_large_view_turns_back_at_the_web_server_and_never_reaches_the_app() {
    let trace = lesson("too-large");
    let answer = trace
        .events
        .iter()
        .position(|e| e.answer.is_some())
        .expect("answer");
    let state = PlayerState::at(trace, answer, Theme::plain());
    let view = StepView::of(&state).expect("a step");
    let a = view.answer.as_ref().expect("answered");
    assert_eq!((a.layer, a.status, a.early), (Layer::WebServer, 413, true));
    assert_eq!(
        a.describe(),
        "413 Request Entity Too Large (client_max_body_size = 1m)"
    );
    assert_eq!(view.marker(), "↩");
    assert_eq!(&view.reach[2..], &[Reach::NotReached; 4]);
}

#[test]
fn boundaries_say_what_crosses_them() {
    let trace = lesson("hello");
    let at = |step: &str| {
        let i = trace
            .events
            .iter()
            .position(|e| e.step.as_str() == step)
            .expect(step);
        let state = PlayerState::at(trace.clone(), i, Theme::plain());
        let view = StepView::of(&state).expect("a step");
        let b = view.crossing_now.expect("crosses a boundary");
        (b, view.crossings[b].clone().expect("labelled").label)
    };
    assert_eq!(
        at("client.request.send"),
        (0, "HTTP bytes (104 B)".to_string())
    );
    assert_eq!(
        at("web_server.proxy.send"),
        (1, "HTTP bytes (200 B)".to_string())
    );
    assert_eq!(at("app_server.wsgi.call"), (2, "WSGI environ".to_string()));
    assert_eq!(at("database.query"), (4, "SQL".to_string()));
    assert_eq!(at("database.result"), (4, "3 rows".to_string()));
    assert_eq!(
        at("app_server.wsgi.start_response"),
        (2, "start_response 200 OK".to_string())
    );
}

#[test]
fn generated_narration_reads_as_a_sentence() {
    let mut trace = lesson("hello");
    for e in &mut trace.events {
        e.narration = None;
    }
    let i = trace
        .events
        .iter()
        .position(|e| e.step == roundtrip::trace::StepId::FrameworkRoute)
        .expect("route");
    let state = PlayerState::at(trace, i, Theme::plain());
    let view = StepView::of(&state).expect("a step");
    let text = roundtrip::tui::view::narration(view.event, view.answer.as_ref());
    assert_eq!(
        text,
        "The framework matches GET /notes to /notes → notes_list."
    );
}

fn lessons() -> Vec<LessonEntry> {
    [
        (
            "hello",
            "Hello, notes",
            "One GET down every layer and back.",
        ),
        ("not-found", "Not found", "The router has no route: 404."),
        (
            "too-large",
            "Too large",
            "A 2 MiB upload meets client_max_body_size.",
        ),
        (
            "rate-limit-burst",
            "Rate limit",
            "Requests beyond the burst get 503.",
        ),
    ]
    .into_iter()
    .map(|(n, t, s)| LessonEntry {
        name: n.into(),
        title: t.into(),
        summary: s.into(),
    })
    .collect()
}

#[test]
fn picker_filter_selects_the_right_lesson() {
    let lessons = lessons();
    let mut state = PickerState::new(&lessons, Theme::plain());
    for c in "large".chars() {
        picker_update(&mut state, PickerAction::Type(c));
    }
    assert_eq!(
        state.selected_lesson().map(|l| l.name.as_str()),
        Some("too-large")
    );
    picker_update(&mut state, PickerAction::Choose);
    assert_eq!(state.outcome, Some(Some("too-large".to_string())));
}

#[test]
fn picker_ranks_name_matches_before_summary_matches() {
    let lessons = lessons();
    // "rate" is in rate-limit-burst's name and nowhere else; "404" only in a summary.
    assert_eq!(filter(&lessons, "rate"), vec![3]);
    assert_eq!(filter(&lessons, "404"), vec![1]);
    assert_eq!(filter(&lessons, "").len(), 4);
    assert!(filter(&lessons, "websocket").is_empty());
}

#[test]
fn picker_q_quits_only_while_the_filter_is_empty() {
    let q = key(KeyCode::Char('q'));
    assert_eq!(picker_action_for(q, true), Some(PickerAction::Quit));
    assert_eq!(picker_action_for(q, false), Some(PickerAction::Type('q')));
    let lessons = lessons();
    let mut state = PickerState::new(&lessons, Theme::plain());
    picker_update(&mut state, PickerAction::Type('x'));
    picker_update(&mut state, PickerAction::Clear);
    assert_eq!((state.filter.as_str(), state.outcome.clone()), ("", None));
    picker_update(&mut state, PickerAction::Clear);
    assert_eq!(state.outcome, Some(None));
}

#[test]
fn live_player_follows_the_newest_request() {
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(many(1));
    assert!(state.playing);
    state.receive(many(2));
    let second = state
        .trace
        .events
        .iter()
        .position(|e| e.request == Some(2))
        .expect("request 2");
    assert_eq!(state.cursor, second);
}

#[test]
fn live_player_stays_on_its_step_while_the_user_is_stepping() {
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(many(1));
    update(&mut state, Action::StepForward);
    let seq = state.event().map(|e| e.seq);
    state.receive(many(3));
    assert_eq!(state.event().map(|e| e.seq), seq);
    assert!(!state.live.expect("live").following);
    update(&mut state, Action::End);
    assert!(state.live.expect("live").following, "G follows again");
}

/// The first step of request `id`.
fn first_step(trace: &Trace, id: u64) -> usize {
    trace
        .events
        .iter()
        .position(|e| e.request == Some(id))
        .unwrap_or_else(|| panic!("request {id} has steps"))
}

/// The id of the highlighted request in the open list.
fn highlighted(state: &PlayerState) -> Option<u64> {
    let list = state.request_list.as_ref().expect("the list is open");
    let visible = list.visible(&state.trace);
    let row = list.selected_row(&state.trace, &visible)?;
    Some(state.trace.requests[visible[row]].id)
}

fn list(state: &mut PlayerState, key: ListKey) {
    update(state, Action::List(key));
}

/// `many-at-once` (four requests) on the first step of request `id`.
fn many_at_once_on(id: u64) -> PlayerState {
    let trace = lesson("many-at-once");
    assert_eq!(trace.requests.len(), 4);
    let cursor = first_step(&trace, id);
    PlayerState::at(trace, cursor, Theme::plain())
}

#[test]
fn r_opens_the_request_list_on_the_request_on_screen() {
    let mut state = many_at_once_on(2);
    update(&mut state, Action::OpenRequests);
    assert_eq!(highlighted(&state), Some(2));
    let list = state.request_list.as_ref().expect("open");
    assert_eq!(list.filter, "");
    assert_eq!(list.visible(&state.trace), vec![0, 1, 2, 3], "oldest first");
}

#[test]
fn request_list_moves_with_arrows_pages_home_and_end() {
    let mut state = many_at_once_on(2);
    update(&mut state, Action::OpenRequests);
    list(&mut state, ListKey::Down);
    assert_eq!(highlighted(&state), Some(3));
    list(&mut state, ListKey::Up);
    list(&mut state, ListKey::Up);
    assert_eq!(highlighted(&state), Some(1));
    list(&mut state, ListKey::Up);
    assert_eq!(highlighted(&state), Some(1), "stops at the oldest");
    list(&mut state, ListKey::PageDown);
    assert_eq!(
        highlighted(&state),
        Some(4),
        "a page, at most to the newest"
    );
    list(&mut state, ListKey::PageUp);
    assert_eq!(highlighted(&state), Some(1));
    list(&mut state, ListKey::Last);
    assert_eq!(highlighted(&state), Some(4));
    list(&mut state, ListKey::First);
    assert_eq!(highlighted(&state), Some(1));
    // The player underneath did not move.
    assert_eq!(state.cursor, first_step(&state.trace, 2));
}

#[test]
fn typing_filters_the_request_list_by_method_target_and_status() {
    let mut state = many_at_once_on(1);
    update(&mut state, Action::OpenRequests);
    let shown = |state: &PlayerState| -> Vec<u64> {
        let list = state.request_list.as_ref().expect("open");
        list.visible(&state.trace)
            .iter()
            .map(|&p| state.trace.requests[p].id)
            .collect()
    };
    for c in "POST".chars() {
        list(&mut state, ListKey::Type(c));
    }
    assert_eq!(shown(&state), vec![2], "method, any case");
    assert_eq!(
        highlighted(&state),
        Some(2),
        "the highlight goes to a match"
    );
    for _ in 0..4 {
        list(&mut state, ListKey::Backspace);
    }
    for c in "/notes/".chars() {
        list(&mut state, ListKey::Type(c));
    }
    assert_eq!(shown(&state), vec![3], "target");
    list(&mut state, ListKey::Back);
    assert!(state.request_list.is_some(), "Esc first clears the filter");
    assert_eq!(shown(&state), vec![1, 2, 3, 4]);
    assert_eq!(highlighted(&state), Some(3), "and keeps the highlight");
    for c in "404".chars() {
        list(&mut state, ListKey::Type(c));
    }
    assert_eq!(shown(&state), vec![4], "status");
    list(&mut state, ListKey::Back);
    for c in "2xx get".chars() {
        list(&mut state, ListKey::Type(c));
    }
    assert_eq!(shown(&state), vec![1, 3], "a status class and a method");
    list(&mut state, ListKey::Back);
    for c in "nothing matches this".chars() {
        list(&mut state, ListKey::Type(c));
    }
    assert!(shown(&state).is_empty());
    assert_eq!(highlighted(&state), None);
    let before = state.cursor;
    list(&mut state, ListKey::Choose);
    assert!(
        state.request_list.is_some(),
        "Enter on nothing does nothing"
    );
    assert_eq!(state.cursor, before);
}

#[test]
fn enter_jumps_to_the_first_step_of_the_chosen_request_and_closes() {
    let mut state = many_at_once_on(1);
    update(&mut state, Action::TogglePlay);
    update(&mut state, Action::OpenRequests);
    list(&mut state, ListKey::Last);
    list(&mut state, ListKey::Up);
    list(&mut state, ListKey::Choose);
    assert!(state.request_list.is_none());
    assert_eq!(state.cursor, first_step(&state.trace, 3));
    assert_eq!(state.event().and_then(|e| e.request), Some(3));
    assert!(!state.playing, "paused on the step, space plays it");
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("request 3")),
        "{:?}",
        state.notice
    );
}

#[test]
fn esc_closes_the_request_list_and_leaves_the_cursor_unchanged() {
    let mut state = many_at_once_on(2);
    state.cursor += 3;
    let before = state.clone();
    update(&mut state, Action::OpenRequests);
    list(&mut state, ListKey::Down);
    list(&mut state, ListKey::Type('4'));
    list(&mut state, ListKey::Back);
    list(&mut state, ListKey::Back);
    assert_eq!(
        state, before,
        "nothing but the list changed, and it is gone"
    );
    update(&mut state, Action::OpenRequests);
    list(&mut state, ListKey::Close);
    assert_eq!(state, before, "q closes it too");
}

#[test]
fn keys_go_to_the_request_list_while_it_is_open() {
    let k = |c| list_action_for(key(c), true);
    assert_eq!(k(KeyCode::Up), Some(Action::List(ListKey::Up)));
    assert_eq!(k(KeyCode::Char('k')), Some(Action::List(ListKey::Up)));
    assert_eq!(k(KeyCode::Down), Some(Action::List(ListKey::Down)));
    assert_eq!(k(KeyCode::Char('j')), Some(Action::List(ListKey::Down)));
    assert_eq!(k(KeyCode::PageUp), Some(Action::List(ListKey::PageUp)));
    assert_eq!(k(KeyCode::PageDown), Some(Action::List(ListKey::PageDown)));
    assert_eq!(k(KeyCode::Home), Some(Action::List(ListKey::First)));
    assert_eq!(k(KeyCode::End), Some(Action::List(ListKey::Last)));
    assert_eq!(k(KeyCode::Enter), Some(Action::List(ListKey::Choose)));
    assert_eq!(k(KeyCode::Esc), Some(Action::List(ListKey::Back)));
    assert_eq!(k(KeyCode::Char('q')), Some(Action::List(ListKey::Close)));
    assert_eq!(
        k(KeyCode::Char('G')),
        Some(Action::List(ListKey::Type('G')))
    );
    assert_eq!(
        k(KeyCode::Char('/')),
        Some(Action::List(ListKey::Type('/')))
    );
    // Once something is typed, j, k and q are letters of the filter.
    for c in ['j', 'k', 'q'] {
        assert_eq!(
            list_action_for(key(KeyCode::Char(c)), false),
            Some(Action::List(ListKey::Type(c)))
        );
    }
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(list_action_for(ctrl_c, true), Some(Action::Interrupt));
    // The player's own keys do nothing underneath the list.
    let mut state = many_at_once_on(1);
    update(&mut state, Action::OpenRequests);
    let before = state.clone();
    for a in [
        Action::StepForward,
        Action::TogglePlay,
        Action::End,
        Action::NextRequest,
        Action::Quit,
        Action::ToggleHelp,
    ] {
        update(&mut state, a);
    }
    assert_eq!(state, before);
}

#[test]
fn live_picking_a_request_stops_following_until_g() {
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(many(3));
    assert!(state.live.expect("live").following);
    update(&mut state, Action::OpenRequests);
    assert_eq!(highlighted(&state), Some(3), "the newest is on screen");
    // New traffic while the list is open: the highlight stays put.
    state.receive(many(4));
    assert_eq!(highlighted(&state), Some(3));
    list(&mut state, ListKey::Up);
    list(&mut state, ListKey::Choose);
    let second = first_step(&state.trace, 2);
    assert_eq!(state.cursor, second);
    let live = state.live.expect("live");
    assert!(!live.following, "picking a request stops following");
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("not following") && n.contains("G")),
        "{:?}",
        state.notice
    );
    // More traffic does not carry the cursor away.
    state.receive(many(6));
    assert_eq!(state.cursor, second);
    update(&mut state, Action::End);
    assert!(state.live.expect("live").following, "G follows again");
}

#[test]
fn the_list_keeps_its_highlight_when_the_ring_forgets_old_requests() {
    // The ring after requests 1 and 2 were forgotten: 3, 4 and 5 are left.
    let forget = |trace: Trace, below: u64| {
        let mut trace = trace;
        trace.requests.retain(|r| r.id >= below);
        trace
            .events
            .retain(|e| e.request.is_none_or(|id| id >= below));
        trace
    };
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(many(4));
    update(&mut state, Action::OpenRequests);
    list(&mut state, ListKey::First);
    list(&mut state, ListKey::Down);
    list(&mut state, ListKey::Down);
    assert_eq!(highlighted(&state), Some(3));
    state.receive(forget(many(5), 3));
    assert_eq!(
        highlighted(&state),
        Some(3),
        "still request 3, now the oldest"
    );
    state.receive(forget(many(6), 4));
    assert_eq!(
        highlighted(&state),
        Some(4),
        "3 is gone: the next one after it"
    );
    list(&mut state, ListKey::Choose);
    assert_eq!(state.event().and_then(|e| e.request), Some(4));
}
