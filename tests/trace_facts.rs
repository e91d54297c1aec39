//! What the trace records beyond the happy path: a response the client never
//! got (nginx's 499), `Server-Timing` from every layer, and typed decisions.

mod common;
use common::lesson;
use std::time::Duration;

use roundtrip::clock::{Clock, LESSON_EPOCH_SECS};
use roundtrip::stack::{self, StackConfig};
use roundtrip::trace::recorder::record_on_this_thread;
use roundtrip::trace::{Failure, StepId, Verdict};
use tokio::io::AsyncWriteExt;

#[test]
fn a_client_that_leaves_before_its_response_is_logged_as_499() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let events = rt.block_on(async {
        let (_guard, recording) = record_on_this_thread();
        let clock = Clock::starting_at(LESSON_EPOCH_SECS);
        let (dialer, running) =
            stack::start_in_memory(&StackConfig::default(), clock, 1).expect("stack");
        let (mut stream, _) = dialer.http.dial().await.expect("dial");
        stream
            .write_all(b"GET /notes HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .await
            .expect("write");
        // Gone before the answer: the app takes db_latency (2 ms) to answer.
        drop(stream);
        drop(dialer);
        tokio::time::timeout(Duration::from_secs(60), running.wait())
            .await
            .expect("the stack stops");
        recording.take()
    });
    let gone = events
        .iter()
        .find(|e| e.step == StepId::WebServerClientGone)
        .expect("the failed write is recorded");
    // nginx notices the close while the request is upstream (499), before
    // any write of the answer could fail.
    assert_eq!(gone.failure, Some(Failure::Closed));
    assert_eq!(
        gone.decision.as_ref().map(|d| d.verdict),
        Some(Verdict::Drop { status: 499 })
    );
    assert_eq!(gone.request, Some(1));
    let meta = roundtrip::trace::Meta {
        scenario: "t".into(),
        title: String::new(),
        summary: String::new(),
        seed: 0,
        version: String::new(),
        started_at: String::new(),
        config: serde_json::Value::Null,
        variant: None,
    };
    let trace = roundtrip::trace::assemble(meta, Vec::new(), events);
    assert_eq!(trace.requests[0].status, Some(499));
}

#[test]
fn server_timing_names_the_app_server_the_proxy_hop_and_the_web_server() {
    let trace = lesson(
        r#"
title = "timing"
[stack.web_server]
server_timing = true
[stack.app_server]
server_timing = true
[stack.app]
db_latency = "5ms"
[[request]]
path = "/notes/1"
expect = { status = 200 }
"#,
    );
    let sent = trace
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerResponseSend)
        .expect("a response");
    let timing = sent
        .data
        .iter()
        .find_map(|d| match d {
            roundtrip::trace::Data::ResponseHead { headers, .. } => headers
                .iter()
                .find(|(n, _)| n == "Server-Timing")
                .map(|(_, v)| v.clone()),
            _ => None,
        })
        .expect("a Server-Timing field");
    // The app waited db_latency once; each layer's time includes the ones below.
    assert!(
        timing.contains(r#"app;desc="app server";dur=5.000"#),
        "{timing}"
    );
    assert!(
        timing.contains(r#"upstream;desc="proxy hop to the app server";dur=5.000"#),
        "{timing}"
    );
    assert!(
        timing.contains(r#"web;desc="web server (total)";dur=5.000"#),
        "{timing}"
    );
}

#[test]
fn server_timing_is_off_unless_asked_for() {
    let trace = lesson("title = \"t\"\n[[request]]\npath = \"/notes\"\n");
    assert!(!trace.events.iter().any(|e| {
        e.summary.contains("Server-Timing")
            || e.data
                .iter()
                .any(|d| format!("{d:?}").contains("Server-Timing"))
    }));
}

#[test]
fn a_413_carries_its_measured_length_and_knob_as_a_decision() {
    let trace = lesson(
        r#"
title = "big"
[[request]]
method = "POST"
path = "/notes"
body_size = "2m"
expect = { status = 413 }
"#,
    );
    let limit = trace
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerLimitBody)
        .expect("the limit step");
    let d = limit.decision.as_ref().expect("a decision");
    assert_eq!(d.verdict, Verdict::Refuse { status: 413 });
    assert_eq!(d.knobs[0].name, "client_max_body_size");
    assert_eq!(d.knobs[0].value, "1m");
    assert!(
        d.inputs
            .contains(&("content_length".to_string(), "2097152".to_string()))
    );
}

#[test]
fn a_request_refused_as_it_was_read_is_named_by_the_line_it_sent() {
    let trace = lesson(
        r#"
title = "t"
[[request]]
method = "get"
path = "/notes"
[[request]]
raw = "GET /notes HTTP/2.0\r\nHost: example.com\r\n\r\n"
[[request]]
raw = "garbage\r\n\r\n"
"#,
    );
    let named: Vec<(String, String, Option<u16>)> = trace
        .requests
        .iter()
        .map(|r| (r.method.clone(), r.target.clone(), r.status))
        .collect();
    assert_eq!(
        named,
        [
            ("get".into(), "/notes".into(), Some(400)),
            ("GET".into(), "/notes".into(), Some(505)),
            (String::new(), String::new(), Some(400)),
        ]
    );
}
