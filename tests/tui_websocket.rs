//! The player on a websocket lesson: every step of `ws-chat` draws, and
//! the frame where a broadcast reaches a client is pinned as a snapshot.
//! (The player draws the socket's frames as steps of its handshake
//! request; lanes of their own for long-lived connections are not built.)

mod tui_fixtures;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::trace::StepId;
use roundtrip::tui::{PlayerState, Theme, render};
use tui_fixtures::lesson;

fn text(state: &PlayerState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn every_step_of_the_chat_lesson_draws_and_names_its_frames() {
    let trace = lesson("ws-chat");
    let mut named_a_frame = false;
    for cursor in 0..trace.events.len() {
        let screen = text(
            &PlayerState::at(trace.clone(), cursor, Theme::plain()),
            120,
            40,
        );
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
    let cursor = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.step == StepId::ClientWebsocketReceive)
        .nth(2)
        .map(|(i, _)| i)
        .expect("a third frame received");
    let screen = text(&PlayerState::at(trace, cursor, Theme::plain()), 120, 40);
    insta::assert_snapshot!("ws-chat__broadcast_received__120x40", screen);
}
