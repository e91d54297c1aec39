//! How long the player takes to draw a frame and to advance a step, on a
//! trace of 1000 requests (22 000 steps): the size of a long `serve --tui`
//! session. Targets (issue 4): a frame ≤ 2 ms, a step ≤ 1 ms.
//!
//! `cargo bench --bench tui_render` (harness = false: a plain `main` that
//! prints the mean per operation; no benchmarking crate needed).

#[path = "../tests/tui_fixtures/mod.rs"]
mod tui_fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::tui::{Action, PlayerState, Theme, render, update};

/// Requests in the synthetic trace.
const REQUESTS: u64 = 1000;
/// Frames drawn per measurement.
const FRAMES: u32 = 300;
/// Steps taken per measurement.
const STEPS: u32 = 10_000;

fn mean_us(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let trace = tui_fixtures::many(REQUESTS);
    let events = trace.events.len();

    let started = Instant::now();
    let state = PlayerState::new(trace, Vec::new(), Theme::colored());
    println!(
        "tui_render: {REQUESTS} requests, {events} steps; building the player state took {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        let mut state = PlayerState {
            cursor: events / 2,
            ..state.clone()
        };
        for _ in 0..20 {
            terminal.draw(|f| render(&state, f)).expect("draw");
        }
        let started = Instant::now();
        for i in 0..FRAMES {
            // Alternate two steps so every frame really changes.
            state.cursor = events / 2 + (i as usize % 2);
            terminal
                .draw(|f| render(black_box(&state), f))
                .expect("draw");
        }
        println!(
            "  render one frame at {w}x{h}: {:>8.1} µs (mean of {FRAMES})",
            mean_us(started.elapsed(), FRAMES)
        );
    }

    let mut state = state.clone();
    let started = Instant::now();
    for _ in 0..STEPS {
        update(&mut state, black_box(Action::StepForward));
    }
    println!(
        "  advance one step (update):  {:>8.3} µs (mean of {STEPS})",
        mean_us(started.elapsed(), STEPS)
    );

    let mut state = PlayerState {
        playing: true,
        cursor: 0,
        ..state
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let started = Instant::now();
    for _ in 0..FRAMES {
        update(&mut state, Action::Tick);
        terminal.draw(|f| render(&state, f)).expect("draw");
    }
    println!(
        "  play one step and redraw at 200x60: {:>8.1} µs (mean of {FRAMES})",
        mean_us(started.elapsed(), FRAMES)
    );
}
