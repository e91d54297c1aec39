//! `serve --tui`: the live player over real traffic.
//!
//! The header shows how many events the server dropped; the player holds
//! the newest `--history N` requests, and picking one from the request list
//! (`r`) stops following new traffic until `G`. The tmux test drives the real
//! binary inside tmux (on a private socket) with real HTTP requests, and
//! waits by polling `capture-pane` with a deadline; without tmux it says
//! why and passes (`.ci/run` installs it).

mod common;

use std::net::TcpListener;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::tui::{Action, ListKey, PlayerState, Theme, render, update};

use common::tmux::{Tmux, tmux_missing};

#[test]
fn the_live_header_shows_how_many_events_were_dropped() {
    let outcome = roundtrip::scenario::run_named("hello").expect("hello runs");
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(outcome.trace);
    if let Some(live) = &mut state.live {
        live.dropped = 1234;
    }
    let mut terminal = Terminal::new(TestBackend::new(140, 30)).expect("test backend");
    terminal
        .draw(|f| render(&state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer();
    let header: String = (0..buf.area.width)
        .map(|x| buf[(x, 0)].symbol().to_string())
        .collect();
    assert!(header.contains("1234 events dropped"), "{header}");
    assert!(header.contains("● live"), "{header}");
}

fn screen(state: &PlayerState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            row.trim_end().to_string() + "\n"
        })
        .collect()
}

#[test]
fn picking_a_past_request_stops_following_and_the_header_says_so() {
    let outcome = roundtrip::scenario::run_named("many-at-once").expect("many-at-once runs");
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(outcome.trace);
    update(&mut state, Action::OpenRequests);
    let open = screen(&state, 80, 24);
    assert!(open.contains("● live, following"), "{open}");
    assert!(open.contains("requests · 4 of 4"), "{open}");
    assert!(open.contains("enter replay (stops following)"), "{open}");
    update(&mut state, Action::List(ListKey::First));
    update(&mut state, Action::List(ListKey::Choose));
    let picked = screen(&state, 80, 24);
    assert!(picked.contains("● live, not following"), "{picked}");
    assert!(picked.contains("request 1/4"), "{picked}");
    assert!(
        picked.contains("request 1: not following new requests"),
        "{picked}"
    );
    update(&mut state, Action::End);
    let following = screen(&state, 80, 24);
    assert!(following.contains("● live, following"), "{following}");
}

#[test]
fn serve_tui_with_history_5_keeps_the_newest_5_and_a_picked_one_stays_put() {
    if let Some(why) = tmux_missing() {
        eprintln!("skipping the serve --tui test: {why}");
        return;
    }
    // The player hides the address line, so choose the port here.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let tmux = Tmux {
        socket: format!("roundtrip-serve-test-{}", std::process::id()),
        session: String::from("serve"),
    };
    let bin = env!("CARGO_BIN_EXE_roundtrip");
    let command = format!(
        "'{bin}' serve --tui --history 5 --listen 127.0.0.1:{port}; echo \"exit=$?\"; sleep 60"
    );
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "30",
        "-s",
        &tmux.session,
        &command,
    ]);
    assert!(out.status.success(), "new-session");
    tmux.wait_for("● live, following");

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for _ in 0..8 {
        let r = client
            .get(format!("http://127.0.0.1:{port}/notes"))
            .send()
            .expect("GET /notes");
        assert_eq!(r.status(), 200);
    }
    drop(client);
    let screen = tmux.wait_for("request 5/5");
    assert!(screen.contains("● live, following"), "{screen}");

    // Pick the request before the newest (request 7 of 4..8) from the list.
    tmux.send(&["r"]);
    let list = tmux.wait_for("requests · 5 of 5");
    assert!(list.contains("GET    /notes"), "{list}");
    tmux.send(&["Up"]);
    tmux.send(&["Enter"]);
    let picked = tmux.wait_for("● live, not following");
    assert!(picked.contains("request 4/5"), "{picked}");
    // New traffic does not move it: request 7 is now 2nd of 6..10.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for _ in 0..2 {
        let r = client
            .get(format!("http://127.0.0.1:{port}/notes"))
            .send()
            .expect("GET /notes");
        assert_eq!(r.status(), 200);
    }
    drop(client);
    tmux.wait_for("request 2/5");
    tmux.send(&["G"]);
    tmux.wait_for("● live, following");

    tmux.send(&["q"]);
    let after = tmux.wait_for("exit=0");
    assert!(
        after.contains("10 requests finished, the last 5 kept for the player"),
        "{after}"
    );
}

#[test]
fn an_external_app_is_one_box_and_the_player_steps_through_a_trace_with_no_app_server_steps() {
    use roundtrip::clock::Clock;
    use roundtrip::stack::{self, StackConfig, TcpOptions};
    use roundtrip::trace::{Layer, recorder::record_on_this_thread};
    use std::io::{Read, Write};

    // The app outside roundtrip: one answer per connection.
    let app = TcpListener::bind("127.0.0.1:0").expect("bind");
    let app_addr = app.local_addr().expect("address");
    std::thread::spawn(move || {
        for conn in app.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let events = rt.block_on(async {
        let (_guard, recording) = record_on_this_thread();
        let started = stack::start_tcp_with(
            &StackConfig::default(),
            TcpOptions {
                listen: "127.0.0.1:0".parse().expect("an address"),
                tls: None,
                files: stack::site::bundled(),
                external: Some(app_addr),
                control: "127.0.0.1:0".parse().expect("an address"),
            },
            Clock::real(),
        )
        .await
        .expect("the web server starts");
        assert!(started.apps.is_empty(), "no app server is started");
        let web = started.web;
        let answer = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(web).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            s.write_all(b"GET /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("write");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        })
        .await
        .expect("the client's thread");
        assert!(answer.ends_with("hello"), "{answer}");
        let mut running = started.running;
        running.drain(Duration::from_secs(5)).await;
        recording.take()
    });
    assert!(
        events.iter().all(|e| e.layer <= Layer::WebServer),
        "only the client's and the web server's steps are recorded"
    );
    let meta = roundtrip::trace::Meta {
        scenario: "serve".into(),
        title: format!("live traffic → an external app server at {app_addr}"),
        summary: String::new(),
        seed: 0,
        version: String::new(),
        started_at: String::new(),
        config: serde_json::Value::Null,
        variant: None,
    };
    let trace = roundtrip::trace::assemble(meta, stack::layers_external(app_addr), events);
    assert_eq!(trace.requests[0].status, Some(200));
    assert_eq!(trace.layers.len(), 3);
    assert!(trace.layers[2].detail.starts_with(stack::EXTERNAL));
    let steps = trace.events.len();
    let mut state = PlayerState::waiting(Vec::new(), Theme::plain());
    state.receive(trace);
    update(&mut state, Action::Start);
    let first = screen(&state, 120, 30);
    assert!(first.contains("external app"), "{first}");
    assert!(
        first.contains(&format!("external at {app_addr}")),
        "{first}"
    );
    assert!(!first.contains("framework"), "{first}");
    for _ in 0..steps {
        update(&mut state, Action::StepForward);
        let _ = screen(&state, 120, 30);
    }
}
