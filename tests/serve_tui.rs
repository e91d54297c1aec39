//! `serve --tui`: the live player over real traffic.
//!
//! The header shows how many events the server dropped; the player holds
//! the newest `--history N` requests. The second test drives the real
//! binary inside tmux (on a private socket) with real HTTP requests, and
//! waits by polling `capture-pane` with a deadline; without tmux it says
//! why and passes (`.ci/run` installs it).

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::tui::{PlayerState, Theme, render};

/// How long one expected screen may take.
const SCREEN_DEADLINE: Duration = Duration::from_secs(20);
/// Pause between two looks at the pane.
const POLL_EVERY: Duration = Duration::from_millis(50);

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

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "send-keys {keys:?}");
    }

    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            let out = self.run(&["capture-pane", "-p", "-J", "-t", &self.session]);
            let screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what:?}; the pane shows:\n{screen}"
            );
            std::thread::sleep(POLL_EVERY);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Our own server on our own socket: nobody else's tmux is touched.
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn serve_tui_with_history_5_holds_the_newest_5_of_8_requests() {
    if !Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipping the serve --tui test: tmux is not installed");
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

    tmux.send(&["q"]);
    let after = tmux.wait_for("exit=0");
    assert!(
        after.contains("8 requests finished, the last 5 kept for the player"),
        "{after}"
    );
}
