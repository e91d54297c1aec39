//! A request's `expect` can say what a teacher checks in a response: its
//! header fields (equal, present, absent), its body, which middleware
//! answered, and which layers it never reached. Each miss is reported.

mod common;

use common::lesson_with_unmet;

const HEADER: &str = "title = \"t\"\n";

fn unmet(requests: &str) -> Vec<String> {
    lesson_with_unmet(&format!("{HEADER}{requests}")).1
}

#[test]
fn expectations_that_hold_report_nothing() {
    let misses = unmet(
        r#"
[[request]]
path = "/notes"
expect = { status = 200, headers = { "Cache-Control" = "private, no-cache" }, has_headers = ["ETag"], no_headers = ["Set-Cookie"], body_contains = "Welcome", not_reached = [] }

[[request]]
method = "POST"
path = "/notes"
headers = { Content-Type = "application/json" }
body = "{not json"
expect = { status = 400, answered_by = "framework.json_body", not_reached = ["handler", "database"] }

[[request]]
path = "/static/app.js"
expect = { status = 200, answered_by = "web_server", not_reached = ["app_server", "framework"] }
"#,
    );
    assert!(misses.is_empty(), "{misses:?}");
}

#[test]
fn each_expectation_that_fails_says_what_was_there_instead() {
    let misses = unmet(
        r#"
[[request]]
path = "/notes"
expect = { headers = { "Cache-Control" = "no-store" }, has_headers = ["X-Nope"], no_headers = ["ETag"], body_contains = "not in any note", not_reached = ["database"], answered_by = "framework.json_body" }
"#,
    );
    let all = misses.join("\n");
    for part in [
        "expected `Cache-Control: no-store`, got `Cache-Control: private, no-cache`",
        "expected a X-Nope header field, but the response has none",
        "expected no ETag header field, but the response has `ETag: ",
        "expected the body to contain \"not in any note\"",
        "expected never to reach the database, but it did (database.query)",
        "expected to be answered by the framework.json_body, but the handler answered",
    ] {
        assert!(all.contains(part), "missing {part:?} in:\n{all}");
    }
    assert_eq!(misses.len(), 6, "{all}");
}

#[test]
fn a_middleware_this_stack_does_not_have_is_refused_at_its_line_with_a_hint() {
    let source = format!(
        "{HEADER}[[request]]\npath = \"/notes\"\nexpect = {{ answered_by = \"framework.json_bdy\" }}\n"
    );
    let problems = roundtrip::scenario::validate::parse(std::path::Path::new("l.toml"), &source)
        .err()
        .map(|p| p.to_string())
        .unwrap_or_default();
    assert!(problems.contains("l.toml:4:"), "{problems}");
    assert!(
        problems.contains("not a middleware of this stack"),
        "{problems}"
    );
    assert!(
        problems.contains("did you mean `framework.json_body`"),
        "{problems}"
    );
}
