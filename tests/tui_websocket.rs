//! The player on the websocket lessons: each socket as a lane that stays
//! open from its 101 to its close, its frames both ways over time, the
//! frame of the step on screen highlighted; the stack (`1`) still shows a
//! websocket step as it did, and request/response lessons have no lanes.
//!
//! Snapshots at 80x24 (what a projector shows) and 120x40; smaller
//! screens are drawn at every step to prove they degrade without a panic.

mod tui_fixtures;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use roundtrip::trace::{Data, StepId, Trace};
use roundtrip::tui::lanes::{Opcode, Way};
use roundtrip::tui::{Action, PlayerState, Theme, View, render, update};
use tui_fixtures::lesson;

fn draw(state: &PlayerState, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    terminal.backend().buffer().clone()
}

fn text_of(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn text(state: &PlayerState, width: u16, height: u16) -> String {
    text_of(&draw(state, width, height))
}

fn at(trace: &Trace, cursor: usize) -> PlayerState {
    PlayerState::at(trace.clone(), cursor, Theme::plain())
}

/// The `n`th step (from 0) that is `step`.
fn nth(trace: &Trace, step: StepId, n: usize) -> usize {
    trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.step == step)
        .nth(n)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("a {step} number {n}"))
}

/// The step where the first lane ends.
fn first_close(trace: &Trace) -> usize {
    let state = at(trace, 0);
    state.index.lanes.lanes[0]
        .end
        .expect("the first lane closes")
        .step
}

#[test]
fn every_step_of_the_chat_lesson_draws_and_names_its_frames() {
    let trace = lesson("ws-chat");
    let mut named_a_frame = false;
    for cursor in 0..trace.events.len() {
        let screen = text(&at(&trace, cursor), 120, 40);
        named_a_frame |= screen.contains("frame");
    }
    assert!(
        named_a_frame,
        "some step of the chat shows a websocket frame"
    );
}

#[test]
fn a_broadcast_reaching_a_client_at_120x40() {
    let trace = lesson("ws-chat");
    // Ada reads Bo's join: the server spoke without being asked.
    let cursor = nth(&trace, StepId::ClientWebsocketReceive, 2);
    // `1`: the stack, drawn exactly as before the lanes existed.
    let mut state = at(&trace, cursor);
    update(&mut state, Action::ShowView(View::Stack));
    let screen = text(&state, 120, 40);
    insta::assert_snapshot!("ws-chat__broadcast_received__120x40", screen);
}

#[test]
fn chat_lanes_at_80x24_and_120x40() {
    let trace = lesson("ws-chat");
    // Everyone has read ada's "hi, who is here?": the broadcast is one
    // column of marks across the three lanes.
    let broadcast = nth(&trace, StepId::ClientWebsocketReceive, 8);
    let end = trace.events.len() - 1;
    for (name, cursor) in [
        ("broadcast", broadcast),
        ("first_close", first_close(&trace)),
        ("end", end),
    ] {
        let state = at(&trace, cursor);
        assert_eq!(state.view(), View::Lanes, "{name}");
        insta::assert_snapshot!(
            format!("ws-chat__lanes_{name}__80x24"),
            text(&state, 80, 24)
        );
    }
    insta::assert_snapshot!(
        "ws-chat__lanes_broadcast__120x40",
        text(&at(&trace, broadcast), 120, 40)
    );
}

#[test]
fn idle_timeout_lanes_show_the_quiet_lane_closing_1006() {
    let trace = lesson("ws-idle-timeout");
    let quiet = at(&trace, 0).index.lanes.lanes[1]
        .end
        .expect("ada's lane ends");
    assert_eq!(quiet.code, 1006, "proxy_read_timeout: no close frame");
    let screen = text(&at(&trace, quiet.step), 80, 24);
    assert!(screen.contains("┤1006"), "{screen}");
    assert!(
        screen.contains('┄'),
        "the long pauses are dashed:\n{screen}"
    );
    insta::assert_snapshot!("ws-idle-timeout__lanes_timeout__80x24", screen);
}

#[test]
fn each_lane_ends_with_its_close_code() {
    let trace = lesson("ws-close-codes");
    let state = at(&trace, trace.events.len() - 1);
    let codes: Vec<u16> = state
        .index
        .lanes
        .lanes
        .iter()
        .map(|l| l.end.expect("every lane closes").code)
        .collect();
    assert_eq!(codes, [1000, 1002, 1008, 1009, 1006]);
    // Five lanes do not fit three rows each at 80x24: one row each.
    let screen = text(&state, 80, 24);
    for code in codes {
        assert!(screen.contains(&format!("┤{code}")), "{code}:\n{screen}");
    }
    insta::assert_snapshot!("ws-close-codes__lanes_end__80x24", screen);
}

#[test]
fn every_frame_read_is_the_frame_that_was_sent() {
    for name in [
        "ws-chat",
        "ws-close-codes",
        "ws-idle-timeout",
        "ws-handshake",
    ] {
        let trace = lesson(name);
        let lanes = at(&trace, 0).index.lanes;
        let frame = |i: usize| {
            trace.events[i].data.iter().find_map(|d| match d {
                Data::WsFrame {
                    opcode, payload, ..
                } => Some((opcode.clone(), payload.text.clone())),
                _ => None,
            })
        };
        let mut read = 0;
        for (i, e) in trace.events.iter().enumerate() {
            let reads = matches!(
                (e.step, e.direction),
                (StepId::ClientWebsocketReceive, _)
                    | (
                        StepId::AppServerWebsocketFrame,
                        roundtrip::trace::Direction::Down
                    )
            );
            if !reads || frame(i).is_none() {
                continue;
            }
            let sent = lanes
                .frame_at(i)
                .unwrap_or_else(|| panic!("{name} step {i}"));
            assert_eq!(frame(sent.step), frame(i), "{name} step {i}");
            assert_eq!(trace.events[sent.step].conn, e.conn, "{name} step {i}");
            let way = match e.step {
                StepId::ClientWebsocketReceive => Way::ToClient,
                _ => Way::ToServer,
            };
            assert_eq!(sent.way, way, "{name} step {i}");
            read += 1;
        }
        assert!(read > 0, "{name} reads frames");
    }
}

/// The cells of the centre pane (left half, below the header, above the
/// narration) drawn reversed: the highlighted frame.
fn reversed(buf: &Buffer) -> Vec<String> {
    let mut out = Vec::new();
    for y in 1..buf.area.height / 2 {
        for x in 0..buf.area.width / 2 {
            let c = &buf[(x, y)];
            if c.modifier.contains(Modifier::REVERSED) {
                out.push(c.symbol().to_string());
            }
        }
    }
    out
}

#[test]
fn stepping_moves_the_highlight_to_the_frame_of_the_step_and_back() {
    let trace = lesson("ws-chat");
    let mut state = at(&trace, 0);
    let mut highlights = Vec::new();
    for _ in 0..trace.events.len() {
        let buf = draw(&state, 80, 24);
        let cells = reversed(&buf);
        let frame = state.index.lanes.frame_at(state.cursor).cloned();
        if state.view() == View::Lanes
            && let Some(f) = &frame
        {
            let mark = f.opcode.mark(f.way).to_string();
            assert_eq!(
                cells,
                [mark],
                "step {}: the frame and nothing else is highlighted",
                state.cursor
            );
        }
        highlights.push((state.cursor, frame));
        update(&mut state, Action::StepForward);
    }
    // Rewinding gives back each step's highlight.
    for (cursor, frame) in highlights.into_iter().rev() {
        assert_eq!(state.cursor, cursor);
        assert_eq!(state.index.lanes.frame_at(state.cursor).cloned(), frame);
        update(&mut state, Action::StepBack);
    }
}

#[test]
fn a_relay_through_the_tunnel_highlights_the_frame_in_flight() {
    let trace = lesson("ws-chat");
    let lanes = at(&trace, 0).index.lanes;
    let send = nth(&trace, StepId::ClientWebsocketSend, 0);
    let relay = (send..trace.events.len())
        .find(|&i| trace.events[i].step == StepId::WebServerTunnel)
        .expect("the proxy relays it");
    assert_eq!(lanes.frame_at(relay), lanes.frame_at(send));
    let f = lanes.frame_at(send).expect("a frame");
    assert_eq!((f.way, f.opcode), (Way::ToServer, Opcode::Text));
}

#[test]
fn a_lane_appears_at_its_101_and_is_drawn_only_up_to_now() {
    let trace = lesson("ws-chat");
    let open = at(&trace, 0).index.lanes.lanes[0].open_step;
    let before = at(&trace, open - 1);
    assert_ne!(before.view(), View::Lanes, "the handshake is on the stack");
    let screen = text(&at(&trace, open), 80, 24);
    assert!(screen.contains("▶ada ├"), "{screen}");
    assert!(!screen.contains("┤"), "nothing has closed yet:\n{screen}");
}

#[test]
fn small_screens_draw_every_step_of_every_websocket_lesson() {
    for name in ["ws-chat", "ws-close-codes", "ws-idle-timeout"] {
        let trace = lesson(name);
        for cursor in 0..trace.events.len() {
            for (w, h) in [(40, 12), (60, 16), (30, 8)] {
                let mut state = at(&trace, cursor);
                update(&mut state, Action::ShowView(View::Lanes));
                draw(&state, w, h);
            }
        }
    }
    let trace = lesson("ws-chat");
    let broadcast = nth(&trace, StepId::ClientWebsocketReceive, 8);
    insta::assert_snapshot!(
        "ws-chat__lanes_broadcast__60x16",
        text(&at(&trace, broadcast), 60, 16)
    );
}

#[test]
fn request_response_lessons_have_no_lanes_and_keep_their_view() {
    for name in ["hello", "ws-through-wsgi", "ws-proxy-misconfigured"] {
        let trace = lesson(name);
        let mut state = at(&trace, trace.events.len() - 1);
        assert!(state.index.lanes.is_empty(), "{name}");
        assert!(!state.views().contains(&View::Lanes), "{name}");
        let view = state.view();
        update(&mut state, Action::ShowView(View::Lanes));
        assert_eq!(state.view(), view, "{name}: 5 changes nothing");
        assert!(
            state
                .notice
                .as_deref()
                .is_some_and(|n| n.contains("websocket")),
            "{name}: 5 says why"
        );
    }
}

#[test]
fn c_cycles_between_the_lanes_and_the_stack_of_a_websocket_lesson() {
    let trace = lesson("ws-chat");
    let mut state = at(&trace, nth(&trace, StepId::ClientWebsocketSend, 0));
    assert_eq!(state.views(), [View::Stack, View::Lanes]);
    assert_eq!(state.view(), View::Lanes);
    update(&mut state, Action::NextView);
    assert_eq!(state.view(), View::Stack);
    update(&mut state, Action::NextView);
    assert_eq!(state.view(), View::Lanes);
}
