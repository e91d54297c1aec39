//! `limit_req` and `limit_conn` on the paused clock, as small lessons:
//! the bucket's boundary to the millisecond (nginx's integer arithmetic),
//! when a delayed request reaches the app server, what a refusal names,
//! that the limits run after the location is chosen and before the
//! handler, and `limit_conn` counting requests in progress.

mod common;

use common::lesson;

use roundtrip::trace::{Event, Layer, StepId, Trace, Verdict};

fn steps(trace: &Trace, step: StepId) -> Vec<&Event> {
    trace.events.iter().filter(|e| e.step == step).collect()
}

fn input<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    e.decision
        .as_ref()?
        .inputs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn at_1r_s_without_burst_999_ms_is_refused_with_503_and_1000_ms_passes() {
    let trace = lesson(
        r#"
title = "boundary"
[[stack.web_server.limit_req_zone]]
name = "one"
rate = "1r/s"
[[stack.web_server.limit_req]]
zone = "one"
[[request]]
path = "/notes"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "999ms"
expect = { status = 503, answered_by = "web_server" }
[[request]]
path = "/notes"
at = "1000ms"
expect = { status = 200, answered_by = "handler" }
"#,
    );
    let judged = steps(&trace, StepId::WebServerLimitReq);
    assert_eq!(judged.len(), 3);
    let verdicts: Vec<Verdict> = judged
        .iter()
        .map(|e| e.decision.as_ref().expect("a decision").verdict)
        .collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Pass,
            Verdict::Refuse { status: 503 },
            Verdict::Pass
        ]
    );
    // 0.999 leaked of the first request's 1: excess 0.001 is over burst 0.
    assert_eq!(input(judged[1], "excess"), Some("0.001"));
    assert_eq!(input(judged[1], "excess_after"), Some("0.000"));
    // The refusal did not move the bucket: 1000 ms after the first, empty.
    assert_eq!(input(judged[2], "elapsed_ms"), Some("1000"));
    assert_eq!(input(judged[2], "excess"), Some("0.000"));
    let refused = &trace.requests[1];
    assert_eq!(refused.answered_by, Some(Layer::WebServer));
    assert_eq!(
        refused.knob.as_ref().map(|k| k.name.as_str()),
        Some("limit_req")
    );
    // nginx's own reason phrase for 503.
    assert_eq!(refused.reason, "Service Temporarily Unavailable");
}

const BURST: &str = r#"
title = "burst"
[stack.web_server]
limit_req_status = 429
[[stack.web_server.limit_req_zone]]
name = "one"
rate = "2r/s"
[[stack.web_server.limit_req]]
zone = "one"
burst = 2
LIMIT_EXTRA
[[request]]
path = "/notes"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "1ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "2ms"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "3ms"
expect = { status = 429, answered_by = "web_server" }
"#;

/// When each request reached the app server, by lesson order.
fn app_arrivals(trace: &Trace) -> Vec<u64> {
    let mut at: Vec<(u64, u64)> = steps(trace, StepId::AppServerRequestReceive)
        .iter()
        .filter_map(|e| Some((trace.request_number(e.request?), e.at_ns / 1_000_000)))
        .collect();
    at.sort();
    at.into_iter().map(|(_, ms)| ms).collect()
}

#[test]
fn delayed_requests_reach_the_app_server_after_exactly_their_computed_delay() {
    let trace = lesson(&BURST.replace("LIMIT_EXTRA", ""));
    // Request 2 at 1 ms: excess 1 − 0.002 = 0.998, waits 998·1000/2000 =
    // 499 ms; request 3 at 2 ms: 1.996, waits 998 ms. Each reaches the app
    // server on the 500 ms grid the rate sets.
    assert_eq!(app_arrivals(&trace), [0, 500, 1000]);
    let resumed = steps(&trace, StepId::WebServerLimitReqResume);
    let at: Vec<u64> = resumed.iter().map(|e| e.at_ns / 1_000_000).collect();
    assert_eq!(at, [500, 1000]);
    let delays: Vec<Option<&str>> = steps(&trace, StepId::WebServerLimitReq)
        .iter()
        .map(|e| input(e, "delay_ms"))
        .collect();
    assert_eq!(delays, [None, Some("499"), Some("998"), None]);
}

#[test]
fn nodelay_sends_the_burst_at_once_and_refuses_the_same_request() {
    let trace = lesson(&BURST.replace("LIMIT_EXTRA", "nodelay = true"));
    assert_eq!(app_arrivals(&trace), [0, 1, 2]);
    assert!(steps(&trace, StepId::WebServerLimitReqResume).is_empty());
}

#[test]
fn delay_n_sends_n_of_the_burst_at_once_and_delays_the_rest() {
    let trace = lesson(&BURST.replace("LIMIT_EXTRA", "delay = 1"));
    // Request 3's excess 1.996 is 0.996 over delay=1: 498 ms.
    assert_eq!(app_arrivals(&trace), [0, 1, 500]);
}

#[test]
fn the_limit_is_judged_after_the_location_and_before_a_static_file_is_served() {
    let trace = lesson(
        r#"
title = "static"
[[stack.web_server.limit_req_zone]]
name = "one"
rate = "1r/s"
[[stack.web_server.limit_req]]
zone = "one"
[[request]]
path = "/static/css/site.css"
expect = { status = 200, answered_by = "web_server" }
[[request]]
path = "/static/css/site.css"
at = "10ms"
expect = { status = 503, answered_by = "web_server" }
"#,
    );
    let order: Vec<StepId> = trace
        .events
        .iter()
        .filter(|e| e.request == Some(trace.requests[0].id))
        .map(|e| e.step)
        .filter(|s| {
            [
                StepId::WebServerLocation,
                StepId::WebServerLimitReq,
                StepId::WebServerStaticFile,
            ]
            .contains(s)
        })
        .collect();
    assert_eq!(
        order,
        [
            StepId::WebServerLocation,
            StepId::WebServerLimitReq,
            StepId::WebServerStaticFile
        ]
    );
    assert_eq!(steps(&trace, StepId::WebServerStaticFile).len(), 1);
}

#[test]
fn limit_conn_refuses_a_second_request_in_progress_and_counts_none_after_it_finishes() {
    let trace = lesson(
        r#"
title = "conn"
[[stack.web_server.limit_conn_zone]]
name = "addr"
[[stack.web_server.limit_conn]]
zone = "addr"
conn = 1
[[request]]
path = "/slow?ms=100"
expect = { status = 200 }
[[request]]
path = "/notes"
at = "50ms"
expect = { status = 503, answered_by = "web_server" }
[[request]]
path = "/notes"
at = "200ms"
expect = { status = 200, answered_by = "handler" }
"#,
    );
    let counted: Vec<(Verdict, Option<&str>)> = steps(&trace, StepId::WebServerLimitConn)
        .iter()
        .map(|e| {
            (
                e.decision.as_ref().expect("a decision").verdict,
                input(e, "in_progress"),
            )
        })
        .collect();
    assert_eq!(
        counted,
        [
            (Verdict::Pass, Some("1")),
            (Verdict::Refuse { status: 503 }, Some("1")),
            (Verdict::Pass, Some("1")),
        ]
    );
    assert_eq!(
        trace.requests[1].knob.as_ref().map(|k| k.name.as_str()),
        Some("limit_conn")
    );
}

#[test]
fn a_limit_naming_no_zone_and_nodelay_with_delay_are_refused_before_the_lesson_runs() {
    let source = r#"
title = "bad"
[[stack.web_server.limit_req_zone]]
name = "one"
rate = "1r/s"
[[stack.web_server.limit_req]]
zone = "two"
nodelay = true
delay = 2
[[request]]
path = "/"
"#;
    let e = roundtrip::scenario::validate::parse(std::path::Path::new("x.toml"), source)
        .expect_err("refused");
    let text = e.to_string();
    assert!(text.contains("no limit_req_zone defines"), "{text}");
    assert!(text.contains("both nodelay and delay"), "{text}");
    let bad_rate = source.replace("\"1r/s\"", "\"1.5r/s\"");
    let e = roundtrip::scenario::validate::parse(std::path::Path::new("x.toml"), &bad_rate)
        .expect_err("refused");
    assert!(e.to_string().contains("10r/s"), "{e}");
}
