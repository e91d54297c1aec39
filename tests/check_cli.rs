//! `roundtrip check`: broken lesson files get `path:line:col`, a hint, and
//! exit status 1; good ones pass.

use std::path::PathBuf;
use std::process::Command;

fn check(name: &str, source: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("roundtrip-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join(format!("{name}.toml"));
    std::fs::write(&path, source).expect("write lesson");
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .arg("check")
        .arg(&path)
        .output()
        .expect("run roundtrip check");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        text.replace(&*path.to_string_lossy(), "LESSON"),
    )
}

#[test]
fn syntax_error_is_reported_at_its_line_with_a_hint() {
    let (ok, out) = check("syntax", "title = \"x\"\n[[request]\npath = \"/\"\n");
    assert!(!ok);
    assert!(out.starts_with("LESSON:2:"), "{out}");
    assert!(out.contains("hint:"), "{out}");
}

#[test]
fn unknown_field_is_reported_at_the_field() {
    let (ok, out) = check(
        "unknown",
        "title = \"x\"\n\n[[request]]\npath = \"/notes\"\nstatus = 200\n",
    );
    assert!(!ok);
    assert!(out.starts_with("LESSON:5:1: "), "{out}");
    assert!(out.contains("status"), "{out}");
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let (ok, out) = check(
        "type",
        "title = \"x\"\n[stack.app_server]\nworkers = \"two\"\n[[request]]\npath = \"/\"\n",
    );
    assert!(!ok);
    assert!(out.starts_with("LESSON:3:"), "{out}");
}

#[test]
fn missing_request_says_to_add_one() {
    let (ok, out) = check("missing", "title = \"x\"\nsummary = \"no requests\"\n");
    assert!(!ok);
    assert!(out.contains("[[request]]"), "{out}");
    assert!(out.starts_with("LESSON:1:1: "), "{out}");
}

#[test]
fn out_of_range_values_are_refused_not_run() {
    let (ok, out) = check(
        "huge",
        "title = \"x\"\n[[request]]\npath = \"/\"\nbody_size = \"64g\"\n",
    );
    assert!(!ok);
    assert!(out.starts_with("LESSON:4:1: "), "{out}");
    let (ok, out) = check(
        "late",
        "title = \"x\"\n[[request]]\npath = \"/\"\nat = \"9999999999999999h\"\n",
    );
    assert!(!ok);
    assert!(out.starts_with("LESSON:4:"), "{out}");
}

#[test]
fn unmet_expectation_fails_the_check() {
    let (ok, out) = check(
        "unmet",
        "title = \"x\"\n[[request]]\npath = \"/notes\"\nexpect = { status = 404 }\n",
    );
    assert!(!ok);
    assert!(out.contains("expected status 404, got 200"), "{out}");
}

#[test]
fn every_bundled_lesson_passes_check() {
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&scenarios)
        .expect("scenarios dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .arg("check")
        .args(&paths)
        .output()
        .expect("run check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_lesson_name_suggests_list() {
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["run", "no-such-lesson", "--plain"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("roundtrip list"));
}

#[test]
fn list_shows_every_bundled_lesson() {
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .arg("list")
        .output()
        .expect("run list");
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "hello",
        "not-found",
        "method-not-allowed",
        "too-large",
        "bad-request",
        "post-note",
        "keep-alive",
        "littles-law",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{text}"
        );
    }
}

#[test]
fn a_load_lesson_passes_check_and_says_how_many_requests_it_sent() {
    let (ok, out) = check(
        "load-ok",
        "title = \"x\"\n[stack.app]\ndb_latency = \"100ms\"\n[load]\nclients = 2\nduration = \"1s\"\n[[load.mix]]\npath = \"/notes\"\n",
    );
    assert!(ok, "{out}");
    // Two clients, one request each per 100 ms, for one second.
    assert!(
        out.contains("ok (a load of 20 requests, expectations met)"),
        "{out}"
    );
}

#[test]
fn a_broken_load_is_reported_at_its_line_with_a_hint() {
    let (ok, out) = check(
        "load-bad",
        "title = \"x\"\n[load]\nrate = \"50/s\"\nclients = 4\nduration = \"1s\"\n[[load.mix]]\npath = \"/notes\"\n",
    );
    assert!(!ok);
    assert!(out.starts_with("LESSON:4:11: "), "{out}");
    assert!(out.contains("hint:"), "{out}");
}

#[test]
fn a_variant_that_misses_its_throughput_is_reported_at_its_expect_with_its_name() {
    let (ok, out) = check(
        "compare-unmet",
        "title = \"x\"\n[stack.app]\ndb_latency = \"100ms\"\n[load]\nclients = 4\nduration = \"1s\"\n\
         [[load.mix]]\npath = \"/notes\"\n\
         [[compare]]\nname = \"one worker\"\nstack.app_server = { workers = 1 }\n\
         expect = { throughput_min = 20 }\n\
         [[compare]]\nname = \"four workers\"\nstack.app_server = { workers = 4 }\n\
         expect = { throughput_min = 20 }\n",
    );
    assert!(!ok, "{out}");
    // One worker at 100 ms serves 10 a second; four serve 40.
    assert!(
        out.starts_with("LESSON:12:10: variant `one worker` expected a throughput of at least 20"),
        "{out}"
    );
    assert!(!out.contains("four workers"), "{out}");
}

#[test]
fn a_comparison_passes_check_and_says_what_each_stack_was_sent() {
    let (ok, out) = check(
        "compare-ok",
        "title = \"x\"\n[[request]]\npath = \"/notes\"\nexpect = { status = 200 }\n\
         [[compare]]\nname = \"wsgi\"\nstack.app_server = { interface = \"wsgi\" }\n\
         [[compare]]\nname = \"asgi\"\nstack.app_server = { interface = \"asgi\" }\n",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("ok (2 stacks compared, 1 request each, expectations met)"),
        "{out}"
    );
}
