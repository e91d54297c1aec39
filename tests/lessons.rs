//! Golden transcripts for every bundled lesson, and determinism: the same
//! lesson file gives a byte-identical trace every time.

use roundtrip::scenario::{self, bundled};
use roundtrip::trace::Layer;
use roundtrip::trace::export::{json, plain};

fn transcript(name: &str) -> String {
    let outcome = scenario::run_named(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"));
    assert!(
        outcome.unmet.is_empty(),
        "lesson {name} missed its expectations: {:?}",
        outcome.unmet
    );
    assert!(
        outcome.unused_narration.is_empty(),
        "lesson {name} has narration that matches no step: {:?}",
        outcome.unused_narration
    );
    plain::transcript(&outcome.trace)
}

macro_rules! golden {
    ($test:ident, $name:literal) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!($name, transcript($name));
        }
    };
}

golden!(hello_transcript_crosses_every_layer, "hello");
golden!(post_note_transcript_inserts_and_answers_201, "post-note");
golden!(keep_alive_transcript_reuses_one_connection, "keep-alive");
golden!(not_found_transcript_turns_back_at_the_router, "not-found");
golden!(
    method_not_allowed_transcript_lists_allow,
    "method-not-allowed"
);
golden!(
    too_large_transcript_turns_back_at_the_web_server,
    "too-large"
);
golden!(bad_request_transcript_refuses_cl_plus_te, "bad-request");

#[test]
fn every_bundled_lesson_has_a_golden_test() {
    let tested = [
        "hello",
        "post-note",
        "keep-alive",
        "not-found",
        "method-not-allowed",
        "too-large",
        "bad-request",
    ];
    for name in bundled::names() {
        assert!(
            tested.contains(&name),
            "lesson {name} has no golden transcript test"
        );
    }
}

#[test]
fn every_lesson_gives_byte_identical_json_twice() {
    for name in bundled::names() {
        let a = json::to_json(&scenario::run_named(name).unwrap().trace);
        let b = json::to_json(&scenario::run_named(name).unwrap().trace);
        assert!(a == b, "lesson {name} is not deterministic");
    }
}

#[test]
fn hello_goes_down_every_layer_and_back_up_in_order() {
    let trace = scenario::run_named("hello").unwrap().trace;
    // The first time each layer appears in the request's steps, in order,
    // is the way down.
    let mut first_seen = Vec::new();
    for e in trace.events.iter().filter(|e| e.request == Some(1)) {
        if !first_seen.contains(&e.layer) {
            first_seen.push(e.layer);
        }
    }
    assert_eq!(first_seen, Layer::ALL.to_vec());
    let last = trace.events.iter().rev().find(|e| {
        e.layer == Layer::Client && e.step == roundtrip::trace::StepId::ClientResponseReceive
    });
    assert!(last.is_some(), "the response reached the client");
    let r = &trace.requests[0];
    assert_eq!(r.status, Some(200));
    assert_eq!(r.answered_by, Some(Layer::Handler));
}

#[test]
fn too_large_never_reaches_the_app_server_and_names_the_knob() {
    let trace = scenario::run_named("too-large").unwrap().trace;
    // The sync workers exist (they start idle), but no step of the request
    // goes below the web server.
    assert!(
        trace
            .events
            .iter()
            .filter(|e| e.request.is_some())
            .all(|e| e.layer <= Layer::WebServer)
    );
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == roundtrip::trace::StepId::AppServerAccept),
        "the app server never accepted a connection"
    );
    let r = &trace.requests[0];
    assert_eq!(r.status, Some(413));
    assert_eq!(r.answered_by, Some(Layer::WebServer));
    assert_eq!(
        r.knob.as_ref().map(|k| k.name.as_str()),
        Some("client_max_body_size")
    );
}

#[test]
fn keep_alive_serves_both_requests_on_connection_one() {
    let trace = scenario::run_named("keep-alive").unwrap().trace;
    assert_eq!(trace.connections.len(), 1);
    assert_eq!(trace.connections[0].requests, vec![1, 2]);
}

#[test]
fn bad_request_closes_only_its_own_connection() {
    let trace = scenario::run_named("bad-request").unwrap().trace;
    let statuses: Vec<_> = trace.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(400), Some(200)]);
    assert_eq!(trace.requests[0].conn, Some(1));
    assert_eq!(trace.requests[1].conn, Some(2));
}
