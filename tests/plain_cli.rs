//! `roundtrip run NAME --plain` reads as a handout: the narration under its
//! step; `--detail` adds every step's data (environ, scope, SQL and rows).

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(args)
        .output()
        .expect("run roundtrip");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn plain_puts_the_narration_under_the_step_it_explains() {
    let (ok, out) = run(&["run", "hello", "--plain"]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let send = lines
        .iter()
        .position(|l| l.contains("client: sends GET /notes"))
        .expect("the client's send");
    assert!(
        lines[send + 1]
            .trim_start()
            .starts_with("» The client writes plain text bytes"),
        "{out}"
    );
    assert!(!out.contains("── WSGI environ"), "no data without --detail");
}

#[test]
fn plain_detail_adds_the_environ_the_sql_and_its_rows() {
    let (ok, out) = run(&["run", "hello", "--plain", "--detail"]);
    assert!(ok, "{out}");
    assert!(out.contains("── WSGI environ"), "{out}");
    assert!(out.contains("PATH_INFO"), "{out}");
    assert!(out.contains("── SQL ──"), "{out}");
    assert!(out.contains("SELECT id, title, body FROM notes"), "{out}");
    assert!(out.contains("3 rows returned"), "{out}");

    let (ok, out) = run(&["run", "post-note", "--plain", "--detail"]);
    assert!(ok, "{out}");
    assert!(out.contains("── ASGI scope"), "{out}");
    assert!(out.contains("── ASGI message via receive()"), "{out}");
}

#[test]
fn detail_without_plain_is_refused_with_a_message() {
    let (ok, out) = run(&["run", "hello", "--detail"]);
    assert!(!ok);
    assert!(out.contains("--plain"), "{out}");
}
