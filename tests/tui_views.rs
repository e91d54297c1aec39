//! The concurrency views of the player, drawn into ratatui's `TestBackend`
//! over the real lessons at the moments they are about: the worker pool
//! of `sync-vs-async` while its backlog grows, the event loop of
//! `blocking-the-loop` while a blocking call holds it, the pool of
//! `worker-timeout` as the replacement of a killed worker starts, and the
//! comparison of the three stacks of `sync-vs-async`. Then the keys: the
//! views (`1`–`4`, `c`), the timeline's scroll (PgUp/PgDn), zoom (`z`/`Z`)
//! and jump to the slowest request (`s`), each checked against facts
//! computed from the trace here, not typed in.
//!
//! Snapshots: `INSTA_UPDATE=always cargo test --test tui_views`, then read
//! every changed `.snap` and delete the `.snap.new` files.

mod tui_fixtures;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use roundtrip::scenario;
use roundtrip::trace::state::StateBoard;
use roundtrip::trace::{LoopState, QueueChange, StateChange, StepId, Trace};
use roundtrip::tui::render::timeline;
use roundtrip::tui::{Action, Focus, PlayerState, Theme, View, action_for, render, update};
use tui_fixtures::{lesson, many};

fn draw(state: &PlayerState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The centre pane's text (left of the detail pane), its lines joined.
fn centre_pane(screen: &str) -> String {
    screen
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

fn sync_vs_async() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| {
        scenario::run_named("sync-vs-async")
            .unwrap_or_else(|e| panic!("lesson sync-vs-async: {e}"))
            .into_traces()
    })
}

fn compared(cursor: usize) -> PlayerState {
    let mut state =
        PlayerState::with_variants(sync_vs_async().to_vec(), Vec::new(), Theme::plain());
    state.cursor = cursor.min(state.len() - 1);
    state
}

/// The app server's backlog length just after step `i`.
fn backlog_len(trace: &Trace, i: usize) -> u64 {
    StateBoard::at(&trace.events, i)
        .backlog
        .and_then(|(len, _)| len)
        .unwrap_or(0)
}

#[test]
fn sync_workers_view_shows_every_worker_busy_and_the_backlog_growing() {
    let trace = &sync_vs_async()[0];
    // One second in, as worker 1 takes its next request: every client
    // has sent, the other three workers are 100 ms into theirs, the rest wait.
    let first = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerWorker && e.at_ns >= 1_000_000_000)
        .expect("a worker takes a request after 1 s");
    let at = first;
    let len = backlog_len(trace, at);
    assert!(len >= 56, "sixty-four clients, four workers: {len} waiting");
    let state = compared(at);
    assert_eq!(
        state.view(),
        View::Workers,
        "a load lesson opens on its workers"
    );
    let screen = draw(&state, 80, 24);
    assert!(screen.contains("4 workers: 4 busy, 0 idle"), "{screen}");
    assert!(screen.contains("for 100 ms"), "{screen}");
    assert!(screen.contains(&format!("backlog {len}/2048")), "{screen}");
    assert!(screen.contains("accept() ◀ #"), "{screen}");
    insta::assert_snapshot!("sync-vs-async__workers_backlog_full__80x24", screen);
    insta::assert_snapshot!(
        "sync-vs-async__workers_backlog_full__120x40",
        draw(&state, 120, 40)
    );
}

/// While worker 1 is stuck in its five-second handler, worker 2 takes
/// request 2: the view says how long worker 1 has been busy, from the
/// trace's own clock.
#[test]
fn a_busy_workers_time_is_the_simulated_time_since_its_accept() {
    let trace = lesson("worker-timeout");
    let accepted = trace
        .events
        .iter()
        .find(|e| e.step == StepId::AppServerAccept)
        .expect("worker 1 accepts request 1")
        .at_ns;
    let at = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerWorker && e.request == Some(2))
        .expect("a worker takes request 2");
    let busy_ms = (trace.events[at].at_ns - accepted) / 1_000_000;
    assert!(busy_ms > 0);
    let screen = draw(&PlayerState::at(trace, at, Theme::plain()), 80, 24);
    let line = screen
        .lines()
        .find(|l| l.contains(" 1 busy  #1 "))
        .unwrap_or_else(|| panic!("worker 1 serves request 1:\n{screen}"));
    assert!(line.contains(&format!("for {busy_ms} ms")), "{line}");
    assert!(
        screen.contains("▶ 2 busy  #2"),
        "the request on screen is marked:\n{screen}"
    );
}

#[test]
fn event_loop_view_says_the_loop_is_blocked_by_whom_for_how_long_of_its_call() {
    let trace = lesson("blocking-the-loop");
    let blocked = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerLoopBlocked)
        .expect("the loop blocks");
    let freed = trace.events[blocked..]
        .iter()
        .find(|e| e.step == StepId::AppServerLoopFree)
        .expect("and is freed")
        .at_ns;
    let call_ms = (freed - trace.events[blocked].at_ns) / 1_000_000;
    // The last step while it is blocked: the three /slow connections queued.
    let during = blocked
        + trace.events[blocked..]
            .iter()
            .position(|e| e.step == StepId::AppServerLoopFree)
            .expect("freed")
        - 1;
    let waited_ms = (trace.events[during].at_ns - trace.events[blocked].at_ns) / 1_000_000;
    let state = PlayerState::at(trace.clone(), during, Theme::plain());
    assert_eq!(state.view(), View::EventLoop);
    let screen = draw(&state, 80, 24);
    let flat = centre_pane(&screen);
    assert!(
        flat.contains(&format!(
            "LOOP BLOCKED by request 1 for {waited_ms} ms of its {call_ms} ms call"
        )),
        "{screen}"
    );
    assert!(screen.contains("backlog 3/2048"), "{screen}");
    insta::assert_snapshot!("blocking-the-loop__loop_blocked__80x24", screen);
    insta::assert_snapshot!(
        "blocking-the-loop__loop_blocked__120x40",
        draw(&state, 120, 40)
    );

    let after = PlayerState::at(trace.clone(), during + 1, Theme::plain());
    let screen = draw(&after, 80, 24);
    assert!(!screen.contains("LOOP BLOCKED"), "{screen}");
}

#[test]
fn worker_pool_view_shows_the_killed_worker_and_its_replacement() {
    let trace = lesson("worker-timeout");
    let spawn = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerWorkerSpawn)
        .expect("a worker is replaced");
    let (old, new) = trace.events[spawn]
        .state
        .iter()
        .find_map(|s| match s {
            StateChange::Worker {
                worker,
                replaced_by: Some(new),
                ..
            } => Some((*worker, *new)),
            _ => None,
        })
        .expect("the exit names its replacement");
    let starts = spawn
        + trace.events[spawn..]
            .iter()
            .position(|e| e.step == StepId::AppServerWorkerIdle)
            .expect("the replacement starts");
    let state = PlayerState::at(trace.clone(), starts, Theme::plain());
    assert_eq!(state.view(), View::Workers);
    let screen = draw(&state, 80, 24);
    assert!(
        screen.contains(&format!("✕ {old} exited at 3 s serving #1 → {new}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("{new} idle  in accept() (replaces {old})")),
        "{screen}"
    );
    insta::assert_snapshot!("worker-timeout__replacement_starts__80x24", screen);
    insta::assert_snapshot!(
        "worker-timeout__replacement_starts__120x40",
        draw(&state, 120, 40)
    );
}

#[test]
fn comparison_view_sets_the_three_stacks_side_by_side_with_their_figures() {
    let state = compared(usize::MAX);
    assert_eq!(
        state.view(),
        View::Compare,
        "the last step shows the figures"
    );
    let screen = draw(&state, 80, 24);
    for t in sync_vs_async() {
        let name = &t.meta.variant.as_ref().expect("a variant").name;
        assert!(screen.contains(name.as_str()), "{name}:\n{screen}");
        let x = t
            .metrics
            .as_ref()
            .and_then(|m| m.throughput_per_s)
            .expect("a throughput");
        assert!(screen.contains(&format!("{x:.1}")), "{x}:\n{screen}");
    }
    insta::assert_snapshot!("sync-vs-async__compare__80x24", screen);
    let big = draw(&state, 120, 40);
    assert!(
        big.contains("throughput · req/s") && big.contains("latency p50 · ms"),
        "{big}"
    );
    insta::assert_snapshot!("sync-vs-async__compare__120x40", big);
}

#[test]
fn number_keys_pick_the_views_and_c_cycles_through_those_the_stack_has() {
    let key = |c| action_for(KeyEvent::from(KeyCode::Char(c)), Focus::Stack);
    assert_eq!(key('1'), Some(Action::ShowView(View::Stack)));
    assert_eq!(key('2'), Some(Action::ShowView(View::Workers)));
    assert_eq!(key('3'), Some(Action::ShowView(View::EventLoop)));
    assert_eq!(key('4'), Some(Action::ShowView(View::Compare)));
    assert_eq!(key('5'), Some(Action::ShowView(View::Lanes)));
    assert_eq!(key('c'), Some(Action::NextView));

    let mut state = PlayerState::at(lesson("worker-timeout"), 20, Theme::plain());
    assert_eq!(state.views(), [View::Stack, View::Workers]);
    update(&mut state, Action::ShowView(View::Stack));
    assert_eq!(state.view(), View::Stack);
    update(&mut state, Action::NextView);
    assert_eq!(state.view(), View::Workers);
    update(&mut state, Action::NextView);
    assert_eq!(state.view(), View::Stack);
    // A sync stack has no event loop: the view stays, the footer says why.
    update(&mut state, Action::ShowView(View::EventLoop));
    assert_eq!(state.view(), View::Stack);
    assert!(
        state
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("no event loop"))
    );
}

#[test]
fn a_lesson_that_is_not_about_concurrency_opens_on_the_stack() {
    for name in ["hello", "many-at-once", "wsgi-vs-asgi"] {
        let state = PlayerState::at(lesson(name), 5, Theme::plain());
        assert_eq!(state.view(), View::Stack, "{name}");
    }
}

#[test]
fn the_chosen_concurrency_view_follows_v_to_a_stack_of_the_other_kind() {
    let mut state = compared(400);
    update(&mut state, Action::ShowView(View::Workers));
    update(&mut state, Action::NextVariant);
    assert_eq!(
        state.view(),
        View::EventLoop,
        "uvicorn has a loop, not workers"
    );
}

#[test]
fn z_halves_the_timeline_window_around_the_cursor_and_z_shifted_doubles_it() {
    let key = |c| action_for(KeyEvent::from(KeyCode::Char(c)), Focus::Stack);
    assert_eq!(key('z'), Some(Action::ZoomIn));
    assert_eq!(key('Z'), Some(Action::ZoomOut));
    let trace = &sync_vs_async()[0];
    let mut state = compared(trace.events.len() / 2);
    let full = timeline::window(&state);
    let now = trace.events[state.cursor].at_ns;
    for level in 1..=3u32 {
        update(&mut state, Action::ZoomIn);
        let w = timeline::window(&state);
        assert_eq!(
            w.hi - w.lo,
            (full.hi - full.lo) >> level,
            "zoom ×{}",
            1 << level
        );
        assert!(w.lo <= now && now <= w.hi, "the cursor stays in view");
    }
    let screen = draw(&state, 80, 24);
    assert!(screen.contains("×8"), "{screen}");
    update(&mut state, Action::ZoomOut);
    let w = timeline::window(&state);
    assert_eq!(w.hi - w.lo, (full.hi - full.lo) >> 2);
    for _ in 0..20 {
        update(&mut state, Action::ZoomOut);
    }
    assert_eq!(timeline::window(&state), full);
}

#[test]
fn page_keys_scroll_the_focused_timeline_rows_and_leave_the_cursor() {
    let trace = many(1000);
    let cursor = trace
        .events
        .iter()
        .position(|e| e.request == Some(500))
        .expect("request 500");
    let mut state = PlayerState::at(trace, cursor, Theme::plain());
    state.focus = Focus::Timeline;
    let rows = 6;
    let before = timeline::first_row(&state, rows);
    update(&mut state, Action::PageDown);
    assert_eq!(state.cursor, cursor);
    assert_eq!(timeline::first_row(&state, rows), before + 4);
    let screen = draw(&state, 120, 40);
    assert!(
        !screen.contains("▶500 GET"),
        "request 500 scrolled out of view:\n{screen}"
    );
    update(&mut state, Action::PageUp);
    update(&mut state, Action::PageUp);
    assert_eq!(timeline::first_row(&state, rows), before - 4);
    // Stepping brings the cursor's rows back.
    update(&mut state, Action::StepForward);
    assert_eq!(state.timeline_scroll, 0);
    // Without focus on the timeline, PgDn scrolls the detail pane.
    state.focus = Focus::Detail;
    update(&mut state, Action::PageDown);
    assert_eq!(state.timeline_scroll, 0);
}

#[test]
fn s_jumps_to_the_request_that_took_longest() {
    assert_eq!(
        action_for(KeyEvent::from(KeyCode::Char('s')), Focus::Stack),
        Some(Action::Slowest)
    );
    for trace in [sync_vs_async()[2].clone(), lesson("worker-timeout")] {
        // Each request's time, first step to last, from the events alone.
        let mut span: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for e in &trace.events {
            if let Some(r) = e.request {
                let s = span.entry(r).or_insert((e.at_ns, e.at_ns));
                s.0 = s.0.min(e.at_ns);
                s.1 = s.1.max(e.at_ns);
            }
        }
        let longest = span.values().map(|(a, b)| b - a).max().expect("requests");
        let mut state = PlayerState::at(trace, 0, Theme::plain());
        update(&mut state, Action::Slowest);
        let pos = state.request_pos().expect("on a request");
        let id = state.trace.requests[pos].id;
        let (a, b) = span[&id];
        assert_eq!(b - a, longest, "request {id}");
        assert_eq!(
            state.index.request_events[pos].first(),
            Some(&state.cursor),
            "on its first step"
        );
    }
}

#[test]
fn the_blocking_variant_shows_the_loop_blocked_in_its_view() {
    let traces = sync_vs_async();
    let blocked = traces[2]
        .events
        .iter()
        .position(|e| {
            e.state.iter().any(|s| {
                matches!(
                    s,
                    StateChange::Loop {
                        state: LoopState::Blocked,
                        ..
                    }
                )
            })
        })
        .expect("time.sleep blocks the loop");
    let mut state = compared(0);
    update(&mut state, Action::NextVariant);
    update(&mut state, Action::NextVariant);
    state.cursor = blocked;
    let screen = draw(&state, 80, 24);
    assert!(screen.contains("LOOP BLOCKED by request"), "{screen}");
    // A queue change is what the backlog's front waits on.
    assert!(
        traces[2]
            .events
            .iter()
            .any(|e| e.state.iter().any(|s| matches!(
                s,
                StateChange::Backlog {
                    change: QueueChange::Enqueue,
                    ..
                }
            )))
    );
}

fn view_traces() -> &'static [(Vec<Trace>, &'static str)] {
    static TRACES: OnceLock<Vec<(Vec<Trace>, &'static str)>> = OnceLock::new();
    TRACES.get_or_init(|| {
        vec![
            (sync_vs_async().to_vec(), "sync-vs-async"),
            (vec![lesson("blocking-the-loop")], "blocking-the-loop"),
            (vec![lesson("worker-timeout")], "worker-timeout"),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn every_view_renders_at_any_size_without_panicking(
        w in 1u16..220, h in 1u16..70, at in 0.0f64..1.0, which in 0usize..3,
        view in 0usize..4, zoom in 0u8..14, scroll in -50i64..50, variant in 0usize..3,
    ) {
        let (traces, _) = &view_traces()[which];
        let mut state = PlayerState::with_variants(traces.clone(), Vec::new(), Theme::colored());
        for _ in 0..variant {
            update(&mut state, Action::NextVariant);
        }
        state.cursor = ((state.len() - 1) as f64 * at) as usize;
        state.chosen_view = Some(View::ALL[view]);
        state.timeline_zoom = zoom.min(roundtrip::tui::state::MAX_ZOOM);
        state.timeline_scroll = scroll;
        draw(&state, w, h);
    }
}
