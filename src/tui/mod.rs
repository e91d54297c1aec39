//! The terminal player: watch a recorded [`Trace`] as a request travelling
//! down the stack and back up, one step at a time.
//!
//! The player reads only the `Trace`, never a layer. It is split the way
//! well-made ratatui apps are, so that everything but this file's loops is
//! pure and testable without a terminal:
//!
//! ```text
//!  key press ──input::action_for──▶ Action ──update──▶ PlayerState ──render──▶ Frame
//!  play clock ───────── Tick ───────▲          (trace + cursor + choices)
//! ```
//!
//! * [`state`]: the trace, a cursor on one step, playing/paused, speed, focus,
//!   the centre view; [`board`]: workers, tasks, loop and backlog at a step;
//!   [`lanes`]: a trace's websockets as lanes of frames over time;
//!   [`instances`]: an upstream group's app server instances at a step.
//! * [`view`]: what the screen says at a step (where the request is, what
//!   crossed each boundary, who answered), derived from trace + cursor only.
//! * [`input`]: keys → [`Action`]s; [`update`](mod@update): actions → state.
//! * [`render`](mod@render): one file per pane or overlay (help, the request list);
//!   [`theme`]: colour or `NO_COLOR` styles.
//! * [`terminal`]: raw mode and the alternate screen, restored on every exit.
//! * [`picker`]: the lesson picker; [`breakpoint`]: `--break-on`.
//!
//! Play advances by *steps* on a clock of [`state::SPEEDS`] steps per second,
//! so stepping with ←/→ and playing land on exactly the same frames.
//!
//! Book: "Using roundtrip" (book/src/using.md).

pub mod board;
pub mod breakpoint;
pub mod input;
pub mod instances;
pub mod lanes;
pub mod picker;
pub mod render;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

use std::io;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent};

pub use breakpoint::BreakOn;
pub use input::{Action, ListKey, action_for, list_action_for};
pub use picker::{
    PickerAction, PickerState, filter, picker_action_for, picker_update, render_picker,
};
pub use render::render;
pub use state::{Focus, PlayerState, RequestList, View};
pub use theme::Theme;
pub use update::update;

use crate::trace::Trace;
use crate::trace::live::TraceFeed;
use terminal::TerminalGuard;

/// One line of the lesson picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonEntry {
    /// What `roundtrip run NAME` takes, e.g. `too-large`.
    pub name: String,
    pub title: String,
    /// One line saying what the lesson shows.
    pub summary: String,
}

/// Choices from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayerOptions {
    /// `--break-on 5xx|4xx|layer:NAME`, any number of times.
    pub break_on: Vec<BreakOn>,
}

/// How often the loop wakes when nothing plays: often enough to notice a
/// signal or a new trace in `serve --tui` within a tenth of a second.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Lesson picker; returns the chosen lesson name, or None when the user quit.
pub fn pick(lessons: &[LessonEntry]) -> io::Result<Option<String>> {
    let mut state = PickerState::new(lessons, Theme::from_env());
    let mut term = TerminalGuard::enter()?;
    loop {
        term.draw(|f| render_picker(&state, f))?;
        if let Some(outcome) = state.outcome.take() {
            return Ok(outcome);
        }
        if terminal::signalled() {
            return Ok(None);
        }
        if event::poll(IDLE_POLL)?
            && let TermEvent::Key(key) = event::read()?
            && let Some(action) = picker_action_for(key, state.filter.is_empty())
        {
            picker_update(&mut state, action);
        }
    }
}

/// Why the player ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// q or Esc: leave the player (the picker may open again).
    Quit,
    /// Ctrl-C or a signal: leave the program.
    Interrupted,
}

pub use terminal::signal_exit_code;

/// Player over one trace; returns when the user quits, saying how.
pub fn play(trace: &Trace, opts: &PlayerOptions) -> io::Result<Ended> {
    play_all(vec![trace.clone()], opts)
}

/// Player over a lesson's traces: one, or one per variant of a lesson that
/// compares stacks, the first on screen and `v` for the next.
pub fn play_all(traces: Vec<Trace>, opts: &PlayerOptions) -> io::Result<Ended> {
    let state = PlayerState::with_variants(traces, opts.break_on.clone(), Theme::from_env());
    run_player(state, None)
}

/// Live mode for `serve --tui`: traces arrive through the feed (each new
/// Trace replaces the previous and holds the server's recent history);
/// follow the newest request unless the user is stepping or picked a past
/// request from the request list (`r`). Returns when the user quits.
///
/// This blocks the calling thread: call it from a plain thread or
/// `spawn_blocking`, not from inside an async task.
pub fn follow(feed: TraceFeed, opts: &PlayerOptions) -> io::Result<Ended> {
    let state = PlayerState::waiting(opts.break_on.clone(), Theme::from_env());
    run_player(state, Some(feed))
}

/// The only place that waits for keys, ticks the play clock and draws.
fn run_player(mut state: PlayerState, feed: Option<TraceFeed>) -> io::Result<Ended> {
    let mut term = TerminalGuard::enter()?;
    let mut clock = PlayClock::default();
    while !state.quit {
        if let Some(feed) = &feed {
            receive_latest(feed, &mut state);
        }
        term.draw(|f| render(&state, f))?;
        let timeout = clock.wait(&state).min(IDLE_POLL);
        if event::poll(timeout)?
            && let TermEvent::Key(key) = event::read()?
            && let Some(action) = match &state.request_list {
                Some(list) => list_action_for(key, list.filter.is_empty()),
                None => action_for(key, state.focus),
            }
        {
            update(&mut state, action);
        }
        if terminal::signalled() {
            state.quit = true;
            state.interrupted = true;
        }
        if clock.due(&state) {
            update(&mut state, Action::Tick);
        }
    }
    Ok(if state.interrupted {
        Ended::Interrupted
    } else {
        Ended::Quit
    })
}

/// Take the newest trace in the feed, if any, and the count of dropped events.
fn receive_latest(feed: &TraceFeed, state: &mut PlayerState) {
    let got = feed.take();
    if let Some(live) = &mut state.live {
        live.dropped = got.dropped;
        live.ended |= got.closed;
    }
    if let Some(trace) = got.trace {
        state.receive(trace);
    }
}

/// When the next play step is due. Wall time only paces the steps; what a
/// step shows depends on the step alone.
#[derive(Debug, Default)]
struct PlayClock {
    next: Option<Instant>,
}

impl PlayClock {
    fn period(state: &PlayerState) -> Duration {
        Duration::from_secs_f64(1.0 / state.steps_per_second())
    }

    /// How long until the next step (IDLE_POLL when paused).
    fn wait(&mut self, state: &PlayerState) -> Duration {
        if !state.playing {
            self.next = None;
            return IDLE_POLL;
        }
        let now = Instant::now();
        let next = *self.next.get_or_insert(now + Self::period(state));
        next.saturating_duration_since(now)
    }

    /// Is a step due now? Moves the clock on by one period when it is.
    fn due(&mut self, state: &PlayerState) -> bool {
        let Some(next) = self.next.filter(|_| state.playing) else {
            return false;
        };
        let now = Instant::now();
        if now < next {
            return false;
        }
        let period = Self::period(state);
        // After a stall (a slow terminal), start afresh rather than rush to catch up.
        self.next = Some(if now - next > period {
            now + period
        } else {
            next + period
        });
        true
    }
}
