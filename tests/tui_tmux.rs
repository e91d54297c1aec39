//! End to end in a real terminal: `roundtrip run hello` inside tmux (80x24),
//! step twice, open and close the request list, open the help, quit, and check the terminal came back: the
//! alternate screen is gone, the shell prints the exit status, and the tty
//! is in canonical (cooked) mode again.
//!
//! Needs `tmux` (`.ci/run` installs it); without it the test says why and
//! passes. The test runs its own tmux server on a private socket and waits
//! for the screen by polling `capture-pane` with a deadline: a real
//! terminal gives no other signal that a frame was drawn.

mod common;

use common::tmux::{Tmux, tmux_missing};

#[test]
fn run_hello_steps_picks_a_request_shows_help_and_quits_to_a_clean_terminal() {
    if let Some(why) = tmux_missing() {
        eprintln!("skipping the tmux end-to-end test: {why}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_roundtrip");
    let tmux = Tmux {
        socket: format!("roundtrip-test-{}", std::process::id()),
        session: String::from("tui"),
    };
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-s",
        &tmux.session,
        "env",
        "PS1=$ ",
        "sh",
    ]);
    assert!(
        out.status.success(),
        "new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&[&format!("'{bin}' run hello; echo \"exit=$?\""), "Enter"]);

    let first = tmux.wait_for("step 1/");
    assert!(first.contains("roundtrip · hello"), "{first}");
    assert!(
        first.contains("stack") && first.contains("detail"),
        "{first}"
    );
    assert!(
        tmux.alternate_on(),
        "the player draws on the alternate screen"
    );

    tmux.send(&["l"]);
    tmux.wait_for("step 2/");
    tmux.send(&["l"]);
    let third = tmux.wait_for("step 3/");
    assert!(
        third.contains("▶"),
        "the request marker is on screen:\n{third}"
    );

    // To the last step, then back to the request's first through the list.
    tmux.send(&["G"]);
    tmux.wait_until("the last step", |s| !s.contains("step 3/"));
    tmux.send(&["r"]);
    let list = tmux.wait_for("requests · 1 of 1");
    assert!(list.contains("GET    /notes"), "{list}");
    tmux.send(&["Enter"]);
    let back = tmux.wait_until("the list closed on request 1's first step", |s| {
        !s.contains("requests · 1 of 1") && s.contains("request 1 · space plays it")
    });
    assert!(
        back.contains("client.request.send"),
        "Enter jumped to the request's first step:\n{back}"
    );

    tmux.send(&["?"]);
    // The overlay is drawn row by row: wait for its last binding, or a
    // capture taken mid-draw would miss it.
    let help = tmux.wait_until("the help overlay is drawn whole", |s| {
        s.contains("? or Esc closes") && s.contains("quit roundtrip")
    });
    assert!(help.contains("step back (rewind)"), "{help}");

    tmux.send(&["q"]);
    let after = tmux.wait_for("exit=0");
    assert!(!tmux.alternate_on(), "the alternate screen was left");
    assert!(
        !after.contains("? or Esc closes"),
        "the player's frame is gone:\n{after}"
    );

    tmux.send(&[
        "printf 'tty:%s\\n' \"$(stty -a | grep -o -- '-\\{0,1\\}icanon')\"",
        "Enter",
    ]);
    let tty = tmux.wait_until("the stty output", |s| {
        s.lines().any(|l| l.starts_with("tty:"))
    });
    let mut lines = tty.lines().filter(|l| l.starts_with("tty:"));
    assert_eq!(
        lines.next(),
        Some("tty:icanon"),
        "raw mode was switched off:\n{tty}"
    );
}
