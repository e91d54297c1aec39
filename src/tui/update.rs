//! Actions → a new state. Pure: no terminal, no clock. The loop in
//! `tui/mod.rs` turns key presses (via `input::action_for`) and play-clock
//! ticks into [`Action`]s and hands them here.
//!
//! Moving by hand (step, rewind, jump, pause) stops play, and in
//! `serve --tui` stops following the newest request; `G` follows again.
//! So does picking a request from the request list (`r`): new traffic must
//! not carry the cursor away from the request the viewer chose.
//!
//! Book: "Using roundtrip" (book/src/using.md).

use super::breakpoint::BreakOn;
use super::input::{Action, LIST_PAGE, ListKey, PAGE_LINES};
use super::render::detail;
use super::render::detail::ms;
use super::state::{Focus, MAX_ZOOM, PlayerState, RequestList, SPEEDS, View, latency_ns};

/// Rows a page of the timeline moves: the rows it shows at 80x24.
pub const TIMELINE_PAGE: i64 = 4;

/// Apply one action.
pub fn update(state: &mut PlayerState, action: Action) {
    // The request list takes every key while it is open; play goes on
    // underneath (in `serve --tui` the list itself grows).
    if state.request_list.is_some()
        && !matches!(action, Action::List(_) | Action::Interrupt | Action::Tick)
    {
        return;
    }
    // The help overlay covers the player: only the keys that close it (and
    // the play clock) get through, so nothing moves unseen underneath.
    let through_help = matches!(
        action,
        Action::ToggleHelp | Action::Back | Action::Quit | Action::Interrupt | Action::Tick
    );
    if state.help && !through_help {
        return;
    }
    match action {
        Action::Tick => tick(state),
        Action::TogglePlay => toggle_play(state),
        Action::StepForward => navigate(state, state.cursor.saturating_add(1)),
        Action::StepBack => navigate(state, state.cursor.saturating_sub(1)),
        Action::Start => navigate(state, 0),
        Action::End => {
            navigate(state, state.len().saturating_sub(1));
            if let Some(live) = &mut state.live {
                live.following = true;
                state.playing = true;
                state.notice = Some(String::from("following the newest request"));
            }
        }
        Action::NextRequest => {
            let target = next_request_start(state);
            navigate(state, target.unwrap_or(state.cursor));
        }
        Action::PrevRequest => {
            let target = prev_request_start(state);
            navigate(state, target.unwrap_or(state.cursor));
        }
        Action::OpenRequests => {
            state.request_list = Some(RequestList::open(state));
        }
        Action::List(key) => list_key(state, key),
        Action::Faster => set_speed(state, state.speed.saturating_add(1)),
        Action::Slower => set_speed(state, state.speed.saturating_sub(1)),
        Action::ToggleBreakpoint => toggle_breakpoint(state),
        Action::NextVariant => next_variant(state),
        Action::FocusNext => state.focus = state.focus.next(),
        Action::FocusPrev => state.focus = state.focus.prev(),
        Action::ToggleHelp => state.help = !state.help,
        Action::ScrollUp => scroll(state, -1),
        Action::ScrollDown => scroll(state, 1),
        Action::PageUp if state.focus == Focus::Timeline => scroll_timeline(state, -TIMELINE_PAGE),
        Action::PageDown if state.focus == Focus::Timeline => {
            scroll_timeline(state, TIMELINE_PAGE);
        }
        Action::PageUp => scroll(state, -i32::from(PAGE_LINES)),
        Action::PageDown => scroll(state, i32::from(PAGE_LINES)),
        Action::ShowView(v) => show_view(state, v),
        Action::NextView => {
            let views = state.views();
            let now = state.view();
            let at = views.iter().position(|v| *v == now).unwrap_or(0);
            if let Some(&next) = views.get((at + 1) % views.len().max(1)) {
                show_view(state, next);
            }
        }
        Action::ZoomIn => zoom(state, state.timeline_zoom.saturating_add(1)),
        Action::ZoomOut => zoom(state, state.timeline_zoom.saturating_sub(1)),
        Action::Slowest => slowest(state),
        Action::Back if state.help => state.help = false,
        Action::Back | Action::Quit => state.quit = true,
        Action::Interrupt => {
            state.quit = true;
            state.interrupted = true;
        }
    }
}

/// A key in the request list.
fn list_key(state: &mut PlayerState, key: ListKey) {
    let Some(list) = &mut state.request_list else {
        return;
    };
    let trace = &state.trace;
    let visible = list.visible(trace);
    let row = list.selected_row(trace, &visible);
    // Move the highlight to `row` of `visible`, clamped.
    let select = |list: &mut RequestList, visible: &[usize], row: usize| {
        if let Some(&pos) = visible.get(row.min(visible.len().saturating_sub(1))) {
            list.selected = Some(trace.requests[pos].id);
        }
    };
    let row = row.unwrap_or(0);
    match key {
        ListKey::Type(c) => {
            list.filter.push(c);
            refilter(list, trace);
        }
        ListKey::Backspace => {
            list.filter.pop();
            refilter(list, trace);
        }
        ListKey::Up => select(list, &visible, row.saturating_sub(1)),
        ListKey::Down => select(list, &visible, row.saturating_add(1)),
        ListKey::PageUp => select(list, &visible, row.saturating_sub(LIST_PAGE)),
        ListKey::PageDown => select(list, &visible, row.saturating_add(LIST_PAGE)),
        ListKey::First => select(list, &visible, 0),
        ListKey::Last => select(list, &visible, usize::MAX),
        ListKey::Back if !list.filter.is_empty() => {
            list.filter.clear();
            refilter(list, trace);
        }
        ListKey::Back | ListKey::Close => state.request_list = None,
        ListKey::Choose => {
            let Some(&pos) = visible.get(row) else {
                return;
            };
            // The lesson's number for it (what the transcript says).
            let id = trace.requests[pos].number();
            let first = state.index.request_events.get(pos).and_then(|s| s.first());
            let Some(&first) = first else {
                return;
            };
            state.request_list = None;
            navigate(state, first);
            state.notice = Some(if state.live.is_some() {
                format!(
                    "request {id}: not following new requests · space plays it · G follows again"
                )
            } else {
                format!("request {id} · space plays it")
            });
        }
    }
}

/// After the filter changed: pin the highlight on the row it lands on.
fn refilter(list: &mut RequestList, trace: &crate::trace::Trace) {
    let visible = list.visible(trace);
    if let Some(row) = list.selected_row(trace, &visible) {
        list.selected = Some(trace.requests[visible[row]].id);
    }
}

/// Move the cursor by hand: play stops, the detail pane goes back to its
/// top, the timeline back to the cursor's rows.
fn navigate(state: &mut PlayerState, target: usize) {
    state.playing = false;
    state.notice = None;
    state.timeline_scroll = 0;
    if let Some(live) = &mut state.live {
        live.following = false;
    }
    go_to(state, target);
}

fn go_to(state: &mut PlayerState, target: usize) {
    let target = target.min(state.len().saturating_sub(1));
    if target != state.cursor {
        state.cursor = target;
        state.detail_scroll = 0;
    }
}

/// One step of play; stops at a breakpoint or at the end.
fn tick(state: &mut PlayerState) {
    if !state.playing {
        return;
    }
    if state.at_end() {
        // Live: keep "playing" so the next request plays as it arrives.
        if state.live.is_none() {
            state.playing = false;
            state.notice = Some(String::from("end of the trace — g to replay"));
        }
        return;
    }
    go_to(state, state.cursor + 1);
    if let Some(b) = state.breakpoint_here() {
        state.playing = false;
        state.notice = Some(format!("paused at breakpoint {b} — space to go on"));
    }
}

fn toggle_play(state: &mut PlayerState) {
    if state.playing {
        state.playing = false;
        state.notice = None;
        if let Some(live) = &mut state.live {
            live.following = false;
        }
        return;
    }
    if state.at_end() && state.live.is_none() {
        go_to(state, 0);
    }
    state.playing = !state.is_empty();
    state.notice = None;
}

/// `v`: the next variant of a lesson that compares stacks, at the same
/// moment; play goes on (or stays paused) as it was.
fn next_variant(state: &mut PlayerState) {
    if !state.next_variant() {
        state.notice = Some(String::from(
            "this lesson runs one stack: v switches between the stacks of a lesson that compares them",
        ));
        return;
    }
    let name = state
        .trace
        .meta
        .variant
        .as_ref()
        .map_or_else(String::new, |v| format!("{}/{} {}", v.index, v.of, v.name));
    let at = state.event().map_or(0, |e| e.at_ns);
    state.notice = Some(format!(
        "stack {name}, at {:.3} s · v for the next",
        at as f64 / 1e9
    ));
}

/// `1`–`5`, `c`: the centre pane shows `view`, or says why this trace has none.
fn show_view(state: &mut PlayerState, view: View) {
    if state.views().contains(&view) {
        state.chosen_view = Some(view);
        state.notice = None;
        return;
    }
    state.notice = Some(String::from(match view {
        View::Stack => "the stack is always there: 1",
        View::Workers => "this app server has no sync workers: it runs an event loop (3 shows it)",
        View::EventLoop => "this app server has no event loop: it runs sync workers (2 shows them)",
        View::Compare => {
            "this lesson runs one stack and no load: nothing to compare (see sync-vs-async)"
        }
        View::Lanes => "no websocket in this lesson: nothing stays open (see ws-chat)",
    }));
}

/// `z`/`Z`: the timeline's zoom, from the whole trace (0) to [`MAX_ZOOM`].
fn zoom(state: &mut PlayerState, level: u8) {
    state.timeline_zoom = level.min(MAX_ZOOM);
    let axis = state.index.axis;
    let shown = axis.hi.saturating_sub(axis.lo) >> state.timeline_zoom;
    state.notice = Some(if state.timeline_zoom == 0 {
        String::from("timeline: the whole trace · z zooms in")
    } else if axis.by_steps {
        format!(
            "timeline: ×{} · {} steps around the cursor · Z zooms out",
            1u64 << state.timeline_zoom,
            shown.max(1)
        )
    } else {
        format!(
            "timeline: ×{} · {} around the cursor · Z zooms out",
            1u64 << state.timeline_zoom,
            ms(shown.max(1))
        )
    });
}

/// PgUp/PgDn on the focused timeline: scroll its rows, the cursor stays.
fn scroll_timeline(state: &mut PlayerState, by: i64) {
    let n = i64::try_from(state.trace.requests.len()).unwrap_or(i64::MAX);
    let current = state
        .request_pos()
        .and_then(|p| i64::try_from(p).ok())
        .unwrap_or(0);
    state.timeline_scroll = state
        .timeline_scroll
        .saturating_add(by)
        .clamp(-current, (n - 1 - current).max(0));
}

/// `s`: the first step of the request that took longest.
fn slowest(state: &mut PlayerState) {
    let Some(pos) = state.index.slowest else {
        state.notice = Some(String::from("no request yet"));
        return;
    };
    let Some(&first) = state.index.request_events.get(pos).and_then(|s| s.first()) else {
        return;
    };
    navigate(state, first);
    if let Some(r) = state.trace.requests.get(pos) {
        state.notice = Some(format!(
            "request {}: the slowest of {}, {} first step to last",
            r.number(),
            state.trace.requests.len(),
            ms(latency_ns(r).unwrap_or(0))
        ));
    }
}

fn set_speed(state: &mut PlayerState, speed: usize) {
    state.speed = speed.min(SPEEDS.len() - 1);
    state.notice = Some(format!("speed: {} steps/s", state.steps_per_second()));
}

fn toggle_breakpoint(state: &mut PlayerState) {
    let Some(layer) = state.event().map(|e| e.layer) else {
        return;
    };
    let b = BreakOn::Layer(layer);
    if let Some(i) = state.breakpoints.iter().position(|x| *x == b) {
        state.breakpoints.remove(i);
        state.notice = Some(format!("breakpoint cleared: {}", layer.label()));
    } else {
        state.breakpoints.push(b);
        state.notice = Some(format!(
            "breakpoint set: play stops when a request arrives in the {}",
            layer.label()
        ));
    }
}

fn scroll(state: &mut PlayerState, by: i32) {
    let lines = state.event().map_or(0, |e| detail::line_count(state, e));
    let max = u16::try_from(lines.saturating_sub(1)).unwrap_or(u16::MAX);
    let next = i32::from(state.detail_scroll)
        .saturating_add(by)
        .clamp(0, i32::from(max));
    state.detail_scroll = u16::try_from(next).unwrap_or(0);
}

/// First step of the next request to start after the cursor.
fn next_request_start(state: &PlayerState) -> Option<usize> {
    request_starts(state).filter(|&i| i > state.cursor).min()
}

/// First step of the latest request to start before the cursor (so `N`
/// goes to the start of the current request first, then to the one before).
fn prev_request_start(state: &PlayerState) -> Option<usize> {
    request_starts(state).filter(|&i| i < state.cursor).max()
}

fn request_starts(state: &PlayerState) -> impl Iterator<Item = usize> + '_ {
    state
        .index
        .request_events
        .iter()
        .filter_map(|steps| steps.first().copied())
}
