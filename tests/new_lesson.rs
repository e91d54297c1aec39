//! `roundtrip new NAME` writes a lesson that passes `check` and plays,
//! with both its narrations on their steps, and never writes over a file.

use std::process::Command;

fn roundtrip(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run roundtrip");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_new_lesson_checks_clean_plays_with_its_narration_and_is_never_overwritten() {
    let dir = std::env::temp_dir().join(format!("roundtrip-new-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _ = std::fs::remove_file(dir.join("first-lesson.toml"));
    let _ = std::fs::remove_file(dir.join("lesson.schema.json"));

    let (ok, out) = roundtrip(&dir, &["new", "first-lesson"]);
    assert!(ok, "{out}");
    assert!(out.contains("wrote first-lesson.toml"), "{out}");
    let text = std::fs::read_to_string(dir.join("first-lesson.toml")).expect("written");
    assert!(text.contains("title = \"first lesson\""), "{text}");
    // taplo's schema directive, first, and the schema it names beside it.
    assert_eq!(text.lines().next(), Some("#:schema ./lesson.schema.json"));
    let (_, printed) = roundtrip(&dir, &["schema"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("lesson.schema.json")).expect("schema written"),
        printed
    );

    let (ok, out) = roundtrip(&dir, &["check", "first-lesson.toml"]);
    assert!(ok, "{out}");
    assert!(out.contains("ok (2 requests, expectations met)"), "{out}");

    let (ok, out) = roundtrip(&dir, &["run", "first-lesson.toml", "--plain"]);
    assert!(ok, "{out}");
    assert!(out.matches("» ").count() >= 2, "{out}");
    assert!(
        !out.contains("note:"),
        "every narration found its step:\n{out}"
    );

    let (ok, out) = roundtrip(&dir, &["new", "first-lesson.toml"]);
    assert!(!ok);
    assert!(out.contains("already exists"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("first-lesson.toml")).expect("still there"),
        text
    );
}
