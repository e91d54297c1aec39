//! How long the player takes to draw a frame and to advance a step, on
//! traces the size of a long `serve --tui` session and of a big load
//! lesson. Targets: a frame ≤ 2 ms with 10,000 requests (issues 4 and 9),
//! a step ≤ 1 ms.
//!
//! Three traces:
//! - `many(1000)` and `many(10000)`: the hello request again and again, one
//!   after the other (22 steps each, one connection each, never two at
//!   once), as `serve` records them;
//! - a load lesson of 10,000 requests (4 sync workers, 10 ms of database
//!   each, 16 clients in a closed loop for 25 s): always 4 requests being
//!   served and 12 in the backlog, so the stack pane draws every request in
//!   flight, the worker pool and the queue.
//!
//! And the views of issue 12 and 14, on their lessons: the websocket
//! lanes and the upstream group's instances, each beside `hello`.
//!
//! `cargo bench --bench tui_render` (harness = false: a plain `main` that
//! prints the mean per operation; no benchmarking crate needed). Each frame
//! line ends with `ok` or `MISS` against the 2 ms budget.

#[path = "../tests/tui_fixtures/mod.rs"]
mod tui_fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::scenario::{self, Lesson};
use roundtrip::trace::Trace;
use roundtrip::tui::{Action, PlayerState, Theme, render, update};

/// Frames drawn per measurement.
const FRAMES: u32 = 200;
/// Steps taken per measurement.
const STEPS: u32 = 10_000;
/// The frame budget, in µs.
const FRAME_BUDGET_US: f64 = 2000.0;
/// The step budget, in µs.
const STEP_BUDGET_US: f64 = 1000.0;

/// 4 workers / 10 ms = 400 requests/s, for 25 s: 10,000 requests.
const LOAD_LESSON: &str = "title = \"bench: 10,000 requests\"\n\
    [stack.app_server]\nworkers = 4\n[stack.app]\ndb_latency = \"10ms\"\n\
    [load]\nclients = 16\nduration = \"25s\"\n[[load.mix]]\npath = \"/notes\"\n";

fn mean_us(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(n)
}

fn verdict(us: f64, budget: f64) -> &'static str {
    if us <= budget { "ok" } else { "MISS" }
}

fn load_trace() -> Trace {
    let path = std::path::Path::new("bench-10000.toml");
    let scenario = scenario::validate::parse(path, LOAD_LESSON).expect("the bench lesson is valid");
    let lesson = Lesson {
        name: "bench-10000".into(),
        path: path.to_path_buf(),
        source: LOAD_LESSON.into(),
        scenario,
    };
    scenario::run(&lesson).expect("the bench lesson runs").trace
}

/// Index of the event at or after the middle of the trace's time span: in
/// a load lesson, the steady state (workers busy, backlog full).
fn middle(trace: &Trace) -> usize {
    let (lo, hi) = trace.events.iter().fold((u64::MAX, 0), |(lo, hi), e| {
        (lo.min(e.at_ns), hi.max(e.at_ns))
    });
    let mid = lo + (hi.saturating_sub(lo)) / 2;
    trace
        .events
        .iter()
        .position(|e| e.at_ns >= mid)
        .unwrap_or(trace.events.len() / 2)
}

fn frame_us(state: &PlayerState, w: u16, h: u16, at: usize) -> f64 {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut state = PlayerState {
        cursor: at,
        ..state.clone()
    };
    for _ in 0..10 {
        terminal.draw(|f| render(&state, f)).expect("draw");
    }
    let started = Instant::now();
    for i in 0..FRAMES {
        // Alternate two steps so every frame really changes.
        state.cursor = at + (i as usize % 2);
        terminal
            .draw(|f| render(black_box(&state), f))
            .expect("draw");
    }
    mean_us(started.elapsed(), FRAMES)
}

fn measure(label: &str, trace: Trace) {
    let requests = trace.requests.len();
    let events = trace.events.len();
    let at = middle(&trace);
    let started = Instant::now();
    let state = PlayerState::new(trace, Vec::new(), Theme::colored());
    println!(
        "tui_render: {label}: {requests} requests, {events} steps; building the player state took {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let us = frame_us(&state, w, h, at);
        println!(
            "  render one frame at {w}x{h}: {us:>8.1} µs (mean of {FRAMES})  budget {FRAME_BUDGET_US:.0} µs {}",
            verdict(us, FRAME_BUDGET_US)
        );
    }

    // The request list open (r), as when looking for one request of many.
    let mut listed = PlayerState {
        cursor: at,
        ..state.clone()
    };
    update(&mut listed, Action::OpenRequests);
    let us = frame_us(&listed, 120, 40, at);
    println!(
        "  render with the request list open at 120x40: {us:>8.1} µs (mean of {FRAMES})  budget {FRAME_BUDGET_US:.0} µs {}",
        verdict(us, FRAME_BUDGET_US)
    );

    let mut stepping = PlayerState {
        cursor: at,
        ..state.clone()
    };
    let steps = STEPS.min((events - at).saturating_sub(1).max(1) as u32);
    let started = Instant::now();
    for _ in 0..steps {
        update(&mut stepping, black_box(Action::StepForward));
    }
    let us = mean_us(started.elapsed(), steps);
    println!(
        "  advance one step (update):  {us:>8.3} µs (mean of {steps})  budget {STEP_BUDGET_US:.0} µs {}",
        verdict(us, STEP_BUDGET_US)
    );

    let mut playing = PlayerState {
        playing: true,
        cursor: at,
        ..state
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let started = Instant::now();
    for _ in 0..FRAMES {
        update(&mut playing, Action::Tick);
        terminal.draw(|f| render(&playing, f)).expect("draw");
    }
    let us = mean_us(started.elapsed(), FRAMES);
    println!(
        "  play one step and redraw at 200x60: {us:>8.1} µs (mean of {FRAMES})  budget {FRAME_BUDGET_US:.0} µs {}",
        verdict(us, FRAME_BUDGET_US)
    );
}

/// The websocket lanes (ws-chat, at its middle: three lanes open) and the
/// upstream group's instances (load-balance, at its middle), each frame
/// beside the same frame size of `hello`'s stack in this invocation.
fn views() {
    let at_middle = |name: &str| {
        let trace = tui_fixtures::lesson(name);
        let at = middle(&trace);
        (PlayerState::new(trace, Vec::new(), Theme::colored()), at)
    };
    let (hello, hello_at) = at_middle("hello");
    for (label, name) in [
        ("lanes (ws-chat)", "ws-chat"),
        ("instances (load-balance)", "load-balance"),
    ] {
        let (state, at) = at_middle(name);
        println!("tui_render: views: {label}, the {:?} view", {
            let s = PlayerState {
                cursor: at,
                ..state.clone()
            };
            s.view()
        });
        for (w, h) in [(80u16, 24u16), (120, 40)] {
            let base = frame_us(&hello, w, h, hello_at);
            let us = frame_us(&state, w, h, at);
            println!(
                "  render one frame at {w}x{h}: {us:>8.1} µs, hello's stack {base:>8.1} µs, ratio {:.2}  budget {FRAME_BUDGET_US:.0} µs {}",
                us / base,
                verdict(us, FRAME_BUDGET_US)
            );
        }
    }
}

fn main() {
    // `cargo bench --bench tui_render -- load` runs only the traces whose
    // label contains "load".
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |label: &str| only.as_deref().is_none_or(|o| label.contains(o));

    if wanted("many(1000)") {
        measure("many(1000)", tui_fixtures::many(1000));
    }
    if wanted("many(10000)") {
        measure("many(10000)", tui_fixtures::many(10_000));
    }
    if wanted("views") {
        views();
    }
    if wanted("load lesson") {
        let started = Instant::now();
        let trace = load_trace();
        println!(
            "tui_render: ran the 10,000-request load lesson in {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        measure("load lesson (4 workers, 16 clients)", trace);
    }
}
