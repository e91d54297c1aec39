//! `roundtrip check`: broken lesson files get `path:line:col`, a hint, and
//! exit status 1; good ones pass.

use std::path::PathBuf;
use std::process::Command;

use roundtrip::trace::StepId;

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

/// The lines `check` printed, for exact comparison.
fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn every_error_of_a_file_is_reported_in_one_run_sorted_and_counted() {
    let (ok, out) = check(
        "many",
        "title = \"x\"\n[stack.app_server]\nworkers = \"two\"\ninterface = \"wsgii\"\n\
         [[request]]\nmethd = \"GET\"\npath = \"/notes\"\n\
         [[request]]\npath = \"/notes\"\nclose = \"yes\"\n",
    );
    assert!(!ok);
    let l = lines(&out);
    assert!(
        l[0].starts_with(
            "LESSON:3:11: `workers` must be a whole number (such as 4), not the text \"two\""
        ),
        "{out}"
    );
    assert!(
        l[2].starts_with("LESSON:4:13: `wsgii` is not a value `interface` takes"),
        "{out}"
    );
    assert!(
        l[4].starts_with("LESSON:6:1: `methd` is not a field of this [[request]]"),
        "{out}"
    );
    assert!(
        l[6].starts_with("LESSON:10:9: `close` must be true or false"),
        "{out}"
    );
    assert_eq!(l.last(), Some(&"4 errors"), "{out}");
}

#[test]
fn a_syntax_error_is_one_error_with_a_syntax_hint() {
    let (ok, out) = check("syntax-one", "title = \"x\"\n[[request]\npath = /notes\n");
    assert!(!ok);
    assert!(out.starts_with("LESSON:2:"), "{out}");
    assert!(out.contains("TOML syntax"), "{out}");
    assert!(out.contains("hint: check the quotes, brackets"), "{out}");
    assert_eq!(lines(&out).last(), Some(&"1 error"), "{out}");
}

#[test]
fn an_unknown_field_suggests_the_nearest_and_lists_the_fields() {
    let (_, out) = check("dym", "title = \"x\"\n[[request]]\npathh = \"/\"\n");
    assert!(
        out.starts_with("LESSON:3:1: `pathh` is not a field of this [[request]]"),
        "{out}"
    );
    assert!(
        out.contains("hint: did you mean `path`? the fields here are: `name`, `method`, `path`"),
        "{out}"
    );
    let (_, out) = check("dym-top", "titel = \"x\"\n[[request]]\npath = \"/\"\n");
    assert!(
        out.contains("LESSON:1:1: `titel` is not a field of a lesson"),
        "{out}"
    );
    assert!(out.contains("did you mean `title`?"), "{out}");
}

#[test]
fn a_wrong_type_names_the_kind_of_value_in_lesson_words() {
    for (line, message, hint) in [
        (
            "connection = \"two\"",
            "`connection` must be a whole number (such as 4), not the text \"two\"",
            "write the number without quotes, e.g. connection = 4",
        ),
        (
            "close = 1",
            "`close` must be true or false, not the number 1",
            "write close = true or close = false",
        ),
        (
            "method = 7",
            "`method` must be text in double quotes, not the number 7",
            "put the text in double quotes",
        ),
        (
            "expect = \"200\"",
            "`expect` is a table, such as `expect = { status = 200 }`",
            "write `expect = { status = 200 }` (not the text \"200\")",
        ),
        (
            "headers = \"Accept: */*\"",
            "`headers` is a table, such as `headers = { Accept = \"text/html\" }`",
            "write `headers",
        ),
    ] {
        let (ok, out) = check(
            "types",
            &format!("title = \"x\"\n[[request]]\npath = \"/\"\n{line}\n"),
        );
        assert!(!ok, "{line}");
        assert!(out.starts_with("LESSON:4:"), "{line}: {out}");
        assert!(out.contains(message), "{line}: {out}");
        assert!(out.contains(&format!("hint: {hint}")), "{line}: {out}");
        assert!(
            !out.contains("expected"),
            "{line}: serde's words leak: {out}"
        );
        assert!(!out.contains("text needs quotes"), "{line}: {out}");
    }
    let (_, out) = check(
        "list",
        "title = \"x\"\n[stack.app]\nmiddleware = \"csrf\"\n[[request]]\npath = \"/\"\n",
    );
    assert!(out.contains("LESSON:3:14: `middleware` is a list, such as `middleware = [\"request_id\", \"access_log\"]`"), "{out}");
}

#[test]
fn a_missing_field_names_it_and_shows_the_line_to_add() {
    let (ok, out) = check(
        "missing-text",
        "title = \"x\"\n[[request]]\npath = \"/\"\n[[narration]]\nstep = \"client.connect\"\n",
    );
    assert!(!ok);
    assert!(
        out.starts_with("LESSON:4:1: this [[narration]] needs `text`, and it has none"),
        "{out}"
    );
    assert!(out.contains("hint: add a line like: text = \""), "{out}");
    assert!(!out.contains("syntax"), "{out}");
}

#[test]
fn an_out_of_range_number_says_the_range() {
    let (_, out) = check(
        "range",
        "title = \"x\"\n[[request]]\npath = \"/\"\nexpect = { status = 70000 }\n",
    );
    assert!(out.starts_with("LESSON:4:21: `status` is out of range: the number 70000 is not a whole number from 0 to 65535"), "{out}");
    assert!(out.contains("hint: pick a value in that range"), "{out}");
}

#[test]
fn a_bad_value_lists_the_allowed_ones() {
    let (_, out) = check(
        "enum",
        "title = \"x\"\n[stack.app_server]\ninterface = \"asgii\"\n[[request]]\npath = \"/\"\n",
    );
    assert!(
        out.starts_with("LESSON:3:13: `asgii` is not a value `interface` takes"),
        "{out}"
    );
    assert!(
        out.contains("hint: did you mean `asgi`? use one of: `wsgi`, `asgi`"),
        "{out}"
    );
}

#[test]
fn a_rule_broken_by_request_two_points_at_request_two() {
    let (ok, out) = check(
        "second",
        "title = \"x\"\n[[request]]\npath = \"/\"\n\n[[request]]\nmethod = \"POST\"\n",
    );
    assert!(!ok);
    assert!(
        out.starts_with("LESSON:5:1: request 2 has neither `path` nor `raw`"),
        "{out}"
    );
}

#[test]
fn an_unmet_expectation_of_request_two_points_at_its_status_key() {
    let (ok, out) = check(
        "unmet-second",
        "title = \"x\"\n[[request]]\npath = \"/notes\"\n\n[[request]]\npath = \"/notes/999\"\nexpect = { status = 200 }\n",
    );
    assert!(!ok);
    assert!(
        out.starts_with("LESSON:7:21: request 2 expected status 200, got 404"),
        "{out}"
    );
    assert_eq!(lines(&out).last(), Some(&"1 error"), "{out}");
}

#[test]
fn likely_mistakes_are_warnings_that_do_not_fail_the_check() {
    let (ok, out) = check(
        "warnings",
        "title = \"x\"\n\
         [[request]]\npath = \"/notes\"\nat = \"10ms\"\n\
         [[request]]\nmethod = \"get\"\npath = \"notes\"\n\
         [[request]]\nraw = \"GET / HTTP/2.0\\r\\nHost: x\\r\\n\\r\\n\"\nat = \"20ms\"\n\
         [[request]]\nmethod = \"POST\"\npath = \"/notes\"\nbody = \"hello\"\nheaders = { Content-Length = \"3\" }\nat = \"30ms\"\n",
    );
    assert!(ok, "{out}");
    let l = lines(&out);
    assert!(l[0].starts_with("LESSON:5:1: warning: request 2 is sent at 0ms, before request 1 (at 10ms): the web server reads it first"), "{out}");
    assert!(
        l[2].starts_with("LESSON:6:1: warning: request 2: method `get` is not in capitals"),
        "{out}"
    );
    assert!(l[2].contains("will answer 400"), "{out}");
    assert!(
        l[4].starts_with("LESSON:7:8: warning: request 2: path `notes` does not start with `/`"),
        "{out}"
    );
    assert!(
        out.contains("LESSON:9:1: warning: request 3: the raw request line says HTTP/2"),
        "{out}"
    );
    assert!(
        out.contains(
            "LESSON:15:1: warning: request 4: Content-Length says 3, but the body is 5 bytes"
        ),
        "{out}"
    );
    assert!(
        out.contains("ok (4 requests, expectations met, 5 warnings)"),
        "{out}"
    );
    for w in l.iter().filter(|l| l.contains("warning:")) {
        let next = l.iter().skip_while(|x| *x != w).nth(1).unwrap_or(&"");
        assert!(next.starts_with("  hint: "), "{w} has no hint: {out}");
    }
}

#[test]
fn narration_targets_are_checked_with_did_you_mean() {
    let (ok, out) = check(
        "narration-names",
        "title = \"x\"\n[[request]]\nname = \"login\"\npath = \"/\"\n\
         [[narration]]\nstep = \"client.conect\"\ntext = \"t\"\n\
         [[narration]]\nlayer = \"framwork\"\ntext = \"t\"\n\
         [[narration]]\nmiddleware = \"acess_log\"\ntext = \"t\"\n\
         [[narration]]\nstep = \"client.connect\"\nrequest = \"logn\"\ntext = \"t\"\n\
         [[narration]]\nstep = \"client.connect\"\nrequest = 3\ntext = \"t\"\n\
         [[narration]]\nstep = \"client.connect\"\nnth = 0\ntext = \"t\"\n\
         [[narration]]\ntext = \"t\"\n",
    );
    assert!(!ok);
    for want in [
        "LESSON:6:8: narration step `client.conect` is not a step roundtrip knows\n  hint: did you mean `client.connect`?",
        "LESSON:9:9: narration layer `framwork` is not a layer\n  hint: did you mean `framework`?",
        "LESSON:12:14: narration middleware `acess_log` is not in this stack's onion\n  hint: did you mean `access_log`?",
        "LESSON:16:11: narration for request `logn`, but no [[request]] has that name\n  hint: did you mean `login`?",
        "LESSON:20:11: narration for request 3, but the lesson has 1 request",
        "LESSON:24:7: `nth` counts from 1",
        "LESSON:26:1: this narration says no step to show its text at",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert_eq!(lines(&out).last(), Some(&"7 errors"), "{out}");
}

/// A lesson whose first `[[request]]` is sent after its second: the
/// lesson's numbers (file order) and names hold everywhere.
const REORDERED: &str = "title = \"x\"\n\
[[request]]\nname = \"late\"\npath = \"/notes\"\nat = \"10ms\"\nexpect = { status = 404 }\n\
[[request]]\nname = \"early\"\npath = \"/notes/999\"\nexpect = { status = 404 }\n\
[[narration]]\nstep = \"client.request.send\"\nrequest = \"late\"\ntext = \"the late one\"\n\
[[narration]]\nstep = \"client.request.send\"\nrequest = 2\ntext = \"the early one\"\n";

#[test]
fn a_reordered_lesson_keeps_one_numbering_in_check_transcript_and_narration() {
    let (ok, out) = check("reordered", REORDERED);
    assert!(!ok);
    // check: the file's request 1, at its own `status`.
    assert!(
        out.contains("LESSON:6:21: request 1 (late) expected status 404, got 200"),
        "{out}"
    );
    assert!(
        out.contains(
            "LESSON:7:1: warning: request 2 (early) is sent at 0ms, before request 1 (late)"
        ),
        "{out}"
    );
    let dir = std::env::temp_dir().join(format!("roundtrip-check-{}", std::process::id()));
    let path = dir.join("reordered.toml");
    let lesson = roundtrip::scenario::load_file(&path).expect("loads");
    let outcome = roundtrip::scenario::run(&lesson).expect("runs");
    let t = &outcome.trace;
    // The web server read the early one first: its id 1 is the lesson's 2.
    let early = t
        .requests
        .iter()
        .find(|r| r.target == "/notes/999")
        .expect("early");
    assert_eq!(
        (early.id, early.lesson, early.name.as_deref()),
        (1, Some(2), Some("early"))
    );
    let late = t
        .requests
        .iter()
        .find(|r| r.target == "/notes")
        .expect("late");
    assert_eq!((late.id, late.lesson), (2, Some(1)));
    // Transcript: the lesson's numbers, in the lesson's order.
    let text = roundtrip::trace::export::plain::transcripts(&outcome.traces(), None);
    let i1 = text
        .find("request 1 (late): GET /notes → 200")
        .expect(&text);
    let i2 = text
        .find("request 2 (early): GET /notes/999 → 404")
        .expect(&text);
    assert!(i1 < i2, "{text}");
    assert!(
        text.contains("#2  ↓ client: sends GET /notes/999"),
        "{text}"
    );
    // Narration: by name and by number, each on its own request's send.
    let narrated = |words: &str| {
        t.events
            .iter()
            .find(|e| e.narration.as_deref() == Some(words))
            .and_then(|e| e.request)
    };
    assert_eq!(narrated("the late one"), Some(late.id));
    assert_eq!(narrated("the early one"), Some(early.id));
}

#[test]
fn narration_can_target_the_nth_step_and_a_middleware_by_name() {
    let src = "title = \"x\"\n[[request]]\npath = \"/notes\"\n[[request]]\npath = \"/notes/1\"\n\
               [[narration]]\nstep = \"database.query\"\nnth = 2\ntext = \"second query\"\n\
               [[narration]]\nmiddleware = \"json_body\"\nstep = \"framework.middleware.leave\"\nrequest = 2\ntext = \"json out\"\n\
               [[narration]]\nlayer = \"handler\"\nrequest = 1\ntext = \"first handler step\"\n";
    let (ok, out) = check("nth", src);
    assert!(ok, "{out}");
    let dir = std::env::temp_dir().join(format!("roundtrip-check-{}", std::process::id()));
    let lesson = roundtrip::scenario::load_file(&dir.join("nth.toml")).expect("loads");
    let t = roundtrip::scenario::run(&lesson).expect("runs").trace;
    let at = |words: &str| {
        t.events
            .iter()
            .find(|e| e.narration.as_deref() == Some(words))
            .expect(words)
    };
    let second_query = t
        .events
        .iter()
        .filter(|e| e.step == StepId::DatabaseQuery)
        .nth(1)
        .expect("two queries");
    assert_eq!(at("second query").seq, second_query.seq);
    let leave = at("json out");
    assert_eq!(leave.step, StepId::FrameworkMiddlewareLeave);
    assert!(leave.summary.contains("json_body"), "{}", leave.summary);
    assert_eq!(t.request_number(leave.request.expect("a request")), 2);
    let h = at("first handler step");
    assert_eq!(h.layer.as_str(), "handler");
    assert_eq!(t.request_number(h.request.expect("a request")), 1);
}

/// The blocks of book/src/lessons.md that follow `marker` (an HTML
/// comment), in order: the text between the fence lines.
fn book_blocks<'a>(chapter: &'a str, marker: &str) -> Vec<&'a str> {
    chapter
        .split(marker)
        .skip(1)
        .filter_map(|rest| {
            let body = rest.split_once("```")?.1.split_once('\n')?.1;
            Some(&body[..body.find("```")?])
        })
        .collect()
}

#[test]
fn the_books_when_check_says_no_rounds_are_what_check_prints() {
    let chapter = include_str!("../book/src/lessons.md");
    let lesson = book_blocks(chapter, "<!-- check-lesson -->");
    let outputs = book_blocks(chapter, "<!-- check-output -->");
    assert_eq!(
        (lesson.len(), outputs.len()),
        (1, 4),
        "the section's blocks"
    );
    // The fixes the section describes, round by round.
    let rounds: [&[(&str, &str)]; 4] = [
        &[],
        &[
            (
                "expect = \"413\"",
                "expect = { status = 413, answered_by = \"nginx\" }",
            ),
            ("conection = 1\n", ""),
        ],
        &[
            ("\"nginx\"", "\"web_server\""),
            ("limit.bdy", "limit.body"),
            ("\"uplaod\"", "\"upload\""),
        ],
        &[("\"post\"", "\"POST\""), ("\"notes\"", "\"/notes\"")],
    ];
    let dir = std::env::temp_dir().join(format!("roundtrip-book-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut source = lesson[0].to_string();
    for (round, (fixes, shown)) in rounds.iter().zip(&outputs).enumerate() {
        for (from, to) in *fixes {
            assert!(
                source.contains(from),
                "round {}: `{from}` not in the lesson",
                round + 1
            );
            source = source.replace(from, to);
        }
        std::fs::write(dir.join("my-lesson.toml"), &source).expect("write lesson");
        let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .current_dir(&dir)
            .args(["check", "my-lesson.toml"])
            .output()
            .expect("run check");
        let printed = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            printed.as_str(),
            *shown,
            "round {}: update \"When check says no\" in book/src/lessons.md",
            round + 1
        );
        assert_eq!(out.status.success(), round == 3, "round {}", round + 1);
    }
}

#[test]
fn completions_name_every_subcommand_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .args(["completions", shell])
            .output()
            .expect("run roundtrip completions");
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        for sub in ["run", "check", "serve", "new", "list"] {
            assert!(script.contains(sub), "{shell} script lacks `{sub}`");
        }
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["completions", "tcsh"])
        .output()
        .expect("run roundtrip completions tcsh");
    assert!(!bad.status.success(), "an unknown shell is refused");
}
