//! The player over a lesson that compares stacks (`[[compare]]`): it opens
//! the first variant, `v` shows the next at the same moment of simulated
//! time, the header names the variant on screen, and a lesson of one
//! stack says what `v` is for. Drawn into ratatui's `TestBackend`.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use roundtrip::scenario;
use roundtrip::trace::Trace;
use roundtrip::tui::{Action, Focus, PlayerState, Theme, action_for, render, update};

fn traces(name: &str) -> Vec<Trace> {
    scenario::run_named(name)
        .unwrap_or_else(|e| panic!("lesson {name}: {e}"))
        .into_traces()
}

/// The first line of the screen at 80x24.
fn header(state: &PlayerState) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer();
    (0..buf.area.width)
        .map(|x| buf[(x, 0)].symbol().to_string())
        .collect()
}

fn variant_name(state: &PlayerState) -> String {
    state
        .trace
        .meta
        .variant
        .as_ref()
        .map(|v| v.name.clone())
        .unwrap_or_default()
}

#[test]
fn v_is_the_key_for_the_next_variant() {
    assert_eq!(
        action_for(KeyEvent::from(KeyCode::Char('v')), Focus::Stack),
        Some(Action::NextVariant)
    );
}

#[test]
fn the_player_opens_the_first_variant_and_v_cycles_through_all_of_them() {
    let all = traces("wsgi-vs-asgi");
    let names: Vec<String> = all
        .iter()
        .map(|t| t.meta.variant.as_ref().expect("a variant").name.clone())
        .collect();
    let mut state = PlayerState::with_variants(all, Vec::new(), Theme::plain());
    assert_eq!(state.variants.len(), 2);
    assert_eq!(variant_name(&state), names[0]);
    assert!(header(&state).contains(&format!("[1/2 {}]", names[0])));
    update(&mut state, Action::NextVariant);
    assert_eq!(variant_name(&state), names[1]);
    let top = header(&state);
    assert!(top.contains(&format!("[2/2 {}]", names[1])), "{top}");
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains(&names[1])),
        "{:?}",
        state.notice
    );
    update(&mut state, Action::NextVariant);
    assert_eq!(variant_name(&state), names[0], "after the last, the first");
}

#[test]
fn switching_variants_keeps_the_moment_of_simulated_time() {
    let all = traces("sync-vs-async");
    let mut state = PlayerState::with_variants(all, Vec::new(), Theme::plain());
    // Somewhere in the middle of the sync workers' run.
    state.cursor = state.len() / 2;
    let at = state.event().expect("a step").at_ns;
    update(&mut state, Action::NextVariant);
    let now = state.event().expect("a step").at_ns;
    assert!(now <= at, "{now} after {at}");
    let next = state.trace.events.get(state.cursor + 1).map(|e| e.at_ns);
    assert!(
        next.is_none_or(|n| n > at),
        "the last step at or before {at} ns"
    );
    // Going round to the first variant lands on a step of the same moment.
    update(&mut state, Action::NextVariant);
    update(&mut state, Action::NextVariant);
    assert_eq!(state.event().expect("a step").at_ns, at);
    assert_eq!(state.trace.meta.variant.as_ref().map(|v| v.index), Some(1));
}

#[test]
fn v_in_a_lesson_of_one_stack_says_what_it_is_for() {
    let mut state = PlayerState::with_variants(traces("hello"), Vec::new(), Theme::plain());
    let before = state.clone();
    update(&mut state, Action::NextVariant);
    assert_eq!(state.trace, before.trace);
    assert_eq!(state.cursor, before.cursor);
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("one stack")),
        "{:?}",
        state.notice
    );
}
