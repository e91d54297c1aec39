//! An upstream group on the paused clock: the balancer's choices as
//! data, passive health to the millisecond (nginx keeps `fail_timeout`
//! in whole seconds), failover, recovery, and what is not retried.

mod common;

use common::lesson;

use roundtrip::trace::{Event, Layer, StepId, Trace, Verdict};

fn steps(trace: &Trace, step: StepId) -> Vec<&Event> {
    trace.events.iter().filter(|e| e.step == step).collect()
}

/// The state the choice at `at_ms` saw for `server`.
fn state_at(trace: &Trace, at_ms: u64, server: &str) -> String {
    let e = steps(trace, StepId::WebServerUpstreamChoose)
        .into_iter()
        .find(|e| e.at_ns == at_ms * 1_000_000)
        .unwrap_or_else(|| panic!("no choice at {at_ms} ms"));
    let d = e.decision.as_ref().expect("a decision");
    let c = d
        .candidates
        .iter()
        .find(|c| c.name == server)
        .expect("the candidate");
    c.facts
        .iter()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.clone())
        .expect("a state")
}

fn chosen(trace: &Trace) -> Vec<(u64, Option<String>)> {
    steps(trace, StepId::WebServerUpstreamChoose)
        .into_iter()
        .map(|e| {
            (
                e.at_ns / 1_000_000,
                e.decision.as_ref().and_then(|d| d.chosen.clone()),
            )
        })
        .collect()
}

const FAILOVER: &str = r#"
title = "failover"
[stack.app_server]
interface = "wsgi"
workers = 1
[stack.web_server.upstream]
server = [{ name = "a" }, { name = "b" }]
[[stack.web_server.upstream.event]]
at = "500ms"
server = "b"
action = "stop"
[[stack.web_server.upstream.event]]
at = "5s"
server = "b"
action = "start"
[[request]]
path = "/notes"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "1200ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "11999ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "12000ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "12100ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "12200ms"
expect = { status = 200 }
"#;

#[test]
fn a_refused_try_goes_to_the_next_server_and_the_client_gets_200() {
    let trace = lesson(FAILOVER);
    let choices = chosen(&trace);
    assert_eq!(choices[0], (0, Some("a".into())));
    assert_eq!(choices[1], (1200, Some("b".into())));
    assert_eq!(choices[2], (1200, Some("a".into())));
    let next = steps(&trace, StepId::WebServerUpstreamNext);
    assert_eq!(next.len(), 1);
    let d = next[0].decision.as_ref().expect("a decision");
    assert_eq!(d.verdict, Verdict::Retry);
    assert_eq!(next[0].server.as_deref(), Some("b"));
    assert_eq!(trace.requests[1].status, Some(200));
}

#[test]
fn a_server_that_failed_at_1_2_s_is_skipped_through_11_999_s_and_eligible_at_12_000_s() {
    let trace = lesson(FAILOVER);
    assert!(state_at(&trace, 11_999, "b").starts_with("failed"));
    assert_eq!(state_at(&trace, 12_000, "b"), "eligible");
    // Nothing was sent to b while it was marked failed.
    for (at, who) in chosen(&trace) {
        if (1201..12_000).contains(&at) {
            assert_ne!(who.as_deref(), Some("b"), "b chosen at {at} ms");
        }
    }
}

#[test]
fn a_restarted_server_gets_requests_again_once_fail_timeout_is_over_and_answers_them() {
    let trace = lesson(FAILOVER);
    let back = chosen(&trace)
        .into_iter()
        .find(|(at, who)| *at >= 12_000 && who.as_deref() == Some("b"))
        .expect("b chosen again");
    // Its own process answered: the handler's steps carry its name.
    let answered_by_b = trace.events.iter().any(|e| {
        e.layer == Layer::Handler
            && e.server.as_deref() == Some("b")
            && e.at_ns >= back.0 * 1_000_000
    });
    assert!(answered_by_b, "b's handler ran after {} ms", back.0);
    assert_eq!(steps(&trace, StepId::AppServerInstanceStart).len(), 1);
}

#[test]
fn a_post_cut_off_by_a_killed_server_is_not_sent_again_and_gets_502() {
    let trace = lesson(
        r#"
title = "post"
[stack.app_server]
interface = "wsgi"
workers = 1
[[stack.app.fault]]
handler = "notes_create"
delay = "2s"
[[stack.app.fault]]
handler = "notes_list"
delay = "2s"
[stack.web_server.upstream]
server = [{ name = "a" }, { name = "b" }, { name = "c" }]
[[stack.web_server.upstream.event]]
at = "1s"
server = "a"
action = "kill"
[[request]]
method = "POST"
path = "/notes"
json = { title = "t", body = "b" }
expect = { status = 502, answered_by = "web_server" }
"#,
    );
    let next = steps(&trace, StepId::WebServerUpstreamNext);
    assert_eq!(next.len(), 1);
    let d = next[0].decision.as_ref().expect("a decision");
    assert_eq!(d.verdict, Verdict::Pass);
    assert!(d.inputs.contains(&("request_sent".into(), "true".into())));
    assert_eq!(next[0].at_ns, 1_000_000_000);
    assert_eq!(chosen(&trace).len(), 1, "only one try");
}

#[test]
fn with_every_server_failed_the_request_gets_502_without_a_try() {
    let trace = lesson(
        r#"
title = "none"
[stack.web_server.upstream]
server = [{ name = "a" }, { name = "b" }]
[[stack.web_server.upstream.event]]
at = "0s"
server = "a"
action = "stop"
[[stack.web_server.upstream.event]]
at = "0s"
server = "b"
action = "stop"
[[request]]
path = "/notes"
at = "100ms"
expect = { status = 502, answered_by = "web_server" }
[[request]]
path = "/notes"
at = "200ms"
expect = { status = 502, answered_by = "web_server" }
"#,
    );
    let choices = chosen(&trace);
    // Request 1: a refused, b refused: each server once, so the tries are
    // over and the last failure (refused) is the 502.
    assert_eq!(choices[0].1.as_deref(), Some("a"));
    assert_eq!(choices[1].1.as_deref(), Some("b"));
    // Request 2: both failed within fail_timeout; nothing is tried.
    assert_eq!(choices[2], (200, None));
    assert_eq!(choices.len(), 3);
    let errors = steps(&trace, StepId::WebServerProxyError);
    assert!(
        errors[0]
            .summary
            .contains("connect() to the app server failed")
    );
    assert!(
        errors[1]
            .summary
            .contains("no live upstreams while connecting to upstream")
    );
}

/// The server that answered each request (its last choice), by the
/// request's target, in request order.
fn chosen_by_target(trace: &Trace) -> Vec<(String, String)> {
    trace
        .requests
        .iter()
        .filter_map(|r| {
            let last = steps(trace, StepId::WebServerUpstreamChoose)
                .into_iter()
                .rfind(|e| e.request == Some(r.id))?;
            Some((r.target.clone(), last.decision.as_ref()?.chosen.clone()?))
        })
        .collect()
}

#[test]
fn hash_consistent_keeps_each_uri_on_one_server_and_a_stopped_server_loses_only_its_own() {
    let outcome = roundtrip::scenario::run_named("hash-consistent").expect("the lesson runs");
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    let trace = &outcome.into_traces()[0];
    let choices = chosen_by_target(trace);
    // Before b stops (requests 1 to 9): each page always on one server.
    let mut home = std::collections::BTreeMap::new();
    for (target, server) in &choices[..9] {
        let first = home.entry(target.clone()).or_insert_with(|| server.clone());
        assert_eq!(first, server, "{target} moved while every server was up");
    }
    let on: Vec<&str> = home.values().map(String::as_str).collect();
    assert!(on.contains(&"a") && on.contains(&"b") && on.contains(&"c"));
    // After: b's pages go elsewhere, every other page stays home.
    for (target, server) in &choices[9..] {
        let was = &home[target];
        if was == "b" {
            assert_ne!(server, "b", "{target}");
        } else if server != "b" {
            assert_eq!(server, was, "{target} moved though its server is up");
        }
    }
    // Each choice says what it weighed: the key, its CRC-32, the ring.
    let first = steps(trace, StepId::WebServerUpstreamChoose)[0];
    let d = first.decision.as_ref().expect("a decision");
    let input = |n: &str| {
        d.inputs
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no input {n}"))
    };
    assert_eq!(input("key"), "\"/notes?page=7\"");
    assert_eq!(input("crc32"), "0x995fdf97");
    assert_eq!(input("ring_points"), "480");
    assert!(
        input("walk").starts_with("point 277 of 480"),
        "{}",
        input("walk")
    );
    assert!(
        d.knobs
            .iter()
            .any(|k| k.name == "hash" && k.value == "$request_uri consistent")
    );
}

#[test]
fn hash_without_consistent_and_hash_with_backup_or_without_balance_are_told_apart() {
    let trace = lesson(
        r#"
title = "plain hash"
[stack.web_server.upstream]
balance = "hash"
hash = "$arg_user"
server = [{ name = "a" }, { name = "b" }, { name = "c" }]
[[request]]
path = "/notes?user=ada"
[[request]]
path = "/notes?user=ada"
at = "100ms"
"#,
    );
    let chosen = chosen(&trace);
    assert_eq!(chosen.len(), 2);
    assert_eq!(chosen[0].1, chosen[1].1, "one user, one server");
    let choose = steps(&trace, StepId::WebServerUpstreamChoose)[0];
    let walk = choose
        .decision
        .as_ref()
        .and_then(|d| d.inputs.iter().find(|(k, _)| k == "walk"))
        .map(|(_, v)| v.clone())
        .expect("a walk");
    assert!(walk.starts_with("hash "), "{walk}");
    for (bad, says) in [
        (
            "balance = \"hash\"\nhash = \"$uri\"\nserver = [{ name = \"a\" }, { name = \"b\", backup = true }]",
            "hash does not support backup servers",
        ),
        (
            "balance = \"hash\"\nserver = [{ name = \"a\" }]",
            "needs its key",
        ),
        (
            "hash = \"$uri\"\nserver = [{ name = \"a\" }]",
            "balancing method of its own",
        ),
    ] {
        let source = format!(
            "title = \"bad\"\n[stack.web_server.upstream]\n{bad}\n[[request]]\npath = \"/\"\n"
        );
        let path = std::path::Path::new("bad.toml");
        let err = match roundtrip::scenario::validate::parse(path, &source) {
            Err(e) => e.to_string(),
            Ok(scenario) => {
                let lesson = roundtrip::scenario::Lesson {
                    name: "bad".into(),
                    path: path.to_path_buf(),
                    source: source.clone(),
                    scenario,
                };
                match roundtrip::scenario::run(&lesson) {
                    Err(e) => e.to_string(),
                    Ok(_) => panic!("{bad} was accepted"),
                }
            }
        };
        assert!(err.contains(says), "{bad}: {err}");
    }
}
