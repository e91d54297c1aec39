//! The web server's timeouts, timed on the paused clock: the upstream
//! timers (504 with nginx's error log line), the ladder against gunicorn's
//! worker timeout (500 or 504 by which is shorter), and the client timers
//! (408 sent as nothing, keepalive_timeout's quiet close).

mod common;

use common::lesson;

use roundtrip::scenario;
use roundtrip::trace::{Data, Event, StepId, Trace};

const SECOND: u64 = 1_000_000_000;

fn bundled(name: &str) -> Vec<Trace> {
    let outcome = scenario::run_named(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"));
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    outcome.into_traces()
}

/// The lesson's `n`th request's id in the trace.
fn request_id(trace: &Trace, n: u64) -> u64 {
    trace
        .requests
        .iter()
        .find(|r| r.lesson == Some(n))
        .map(|r| r.id)
        .unwrap_or_else(|| panic!("request {n}"))
}

fn step_of(trace: &Trace, step: StepId, request: u64) -> &Event {
    trace
        .events
        .iter()
        .find(|e| e.step == step && e.request == Some(request))
        .unwrap_or_else(|| panic!("{step:?} for request {request}"))
}

fn error_log(e: &Event) -> String {
    e.data
        .iter()
        .find_map(|d| match d {
            Data::Fields { entries } => entries
                .iter()
                .find(|(k, _)| k == "error_log")
                .map(|(_, v)| v.clone()),
            _ => None,
        })
        .expect("an error_log field")
}

#[test]
fn a_silent_app_server_gets_504_at_exactly_proxy_read_timeout_with_nginxs_log_line() {
    let trace = &bundled("upstream-timeout")[0];
    let slow = request_id(trace, 1);
    let error = step_of(trace, StepId::WebServerProxyError, slow);
    assert_eq!(error.at_ns, 3 * SECOND);
    assert_eq!(error.answer, Some(504));
    assert_eq!(
        error.knob.as_ref().map(|k| k.name.as_str()),
        Some("proxy_read_timeout")
    );
    let log = error_log(error);
    assert!(
        log.starts_with(
            "[error] *1 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 203.0.113.7, "
        ),
        "{log}"
    );
    assert!(
        log.contains("request: \"GET /blocking?ms=5000 HTTP/1.1\""),
        "{log}"
    );
    let closed = step_of(trace, StepId::WebServerUpstreamClose, slow);
    assert_eq!(
        closed.at_ns,
        3 * SECOND,
        "nginx closes the upstream hop itself"
    );
}

#[test]
fn the_worker_runs_on_after_the_504_and_holds_the_next_requests_in_the_backlog() {
    let trace = &bundled("upstream-timeout")[0];
    let done = step_of(trace, StepId::HandlerReturn, request_id(trace, 1));
    assert_eq!(done.at_ns, 5 * SECOND, "the handler ends its 5 s of work");
    let queued = trace
        .requests
        .iter()
        .find(|r| r.lesson == Some(2))
        .expect("request 2");
    assert_eq!(queued.status, Some(200));
    assert!(
        queued.finished_ns > 5 * SECOND,
        "served only once the worker is free"
    );
}

#[test]
fn a_full_backlog_is_a_504_after_proxy_connect_timeout_not_a_502() {
    let trace = &bundled("upstream-timeout")[0];
    let error = step_of(trace, StepId::WebServerProxyError, request_id(trace, 4));
    assert_eq!(error.at_ns, 2_600_000_000 + 1_500_000_000);
    assert_eq!(error.answer, Some(504));
    assert_eq!(
        error.knob.as_ref().map(|k| k.name.as_str()),
        Some("proxy_connect_timeout")
    );
    assert!(
        error_log(error).contains(
            "upstream timed out (110: Connection timed out) while connecting to upstream"
        )
    );
}

#[test]
fn the_shorter_timeout_answers_gunicorns_500_at_31s_or_nginxs_504_at_20s() {
    let traces = bundled("timeout-ladder");
    assert_eq!(traces.len(), 2);
    // The status, and when the client had it.
    let slow = |t: &Trace| {
        let id = request_id(t, 1);
        let status = t
            .requests
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.status);
        let got = step_of(t, StepId::ClientResponseReceive, id);
        (status, got.at_ns / SECOND)
    };
    assert_eq!(
        slow(&traces[0]),
        (Some(500), 31),
        "gunicorn's timeout first"
    );
    assert_eq!(slow(&traces[1]), (Some(504), 20), "nginx's timeout first");
    // The worker is killed at 31 s in both: the 504 did not stop it.
    for t in &traces {
        let kill = step_of(t, StepId::AppServerWorkerTimeout, request_id(t, 1));
        assert_eq!(kill.at_ns, 31 * SECOND);
    }
}

#[test]
fn a_trickled_head_is_dropped_at_client_header_timeout_while_others_are_served() {
    let trace = &bundled("slow-client")[0];
    let timeout = trace
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerLimitHeaderTimeout)
        .expect("the 408 step");
    assert_eq!(timeout.at_ns, 5 * SECOND, "one timer for the whole head");
    assert_eq!(timeout.answer, Some(408));
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == StepId::WebServerLingeringClose),
        "no lingering close after a timeout"
    );
    let meanwhile = trace
        .requests
        .iter()
        .find(|r| r.lesson == Some(2))
        .expect("request 2");
    assert_eq!(meanwhile.status, Some(200));
    assert!(meanwhile.finished_ns - meanwhile.started_ns < SECOND / 10);
    assert!(meanwhile.finished_ns < timeout.at_ns);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_quietly_after_keepalive_timeout() {
    let trace = &bundled("slow-client")[0];
    let answered = trace
        .requests
        .iter()
        .find(|r| r.lesson == Some(3))
        .expect("request 3");
    let idle = trace
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerKeepaliveTimeout)
        .expect("the keepalive timeout");
    assert_eq!(idle.at_ns, answered.finished_ns + 3 * SECOND);
    let noticed = trace
        .events
        .iter()
        .find(|e| e.step == StepId::ClientIdleClosed)
        .expect("the client sees the close");
    assert_eq!(noticed.at_ns, idle.at_ns);
}

#[test]
fn a_head_sent_slowly_within_client_header_timeout_is_served() {
    let trace = lesson(
        r#"
title = "patient"
[stack.web_server]
client_header_timeout = "60s"
[[request]]
path = "/notes"
head_rate = "32/s"
expect = { status = 200, answered_by = "handler" }
"#,
    );
    let pieces = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientTrickle)
        .count();
    assert_eq!(pieces, 3, "91 bytes at 32 a second: three pieces");
}

/// A decision's input by name.
fn input(e: &Event, name: &str) -> String {
    e.decision
        .as_ref()
        .and_then(|d| d.inputs.iter().find(|(k, _)| k == name))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no input {name} on {:?}", e.step))
}

#[test]
fn a_client_that_stops_reading_is_closed_at_send_timeout_and_logged_with_the_status_sent() {
    let trace = &bundled("send-timeout")[0];
    let stalled = request_id(trace, 1);
    let timeout = step_of(trace, StepId::WebServerSendTimeout, stalled);
    // The pipe (64 KiB) and the 16 KiB the client read are all that left;
    // the write then waited send_timeout, from the start.
    assert_eq!(timeout.at_ns, 10 * SECOND);
    assert_eq!(
        timeout
            .knob
            .as_ref()
            .map(|k| (k.name.as_str(), k.value.as_str())),
        Some(("send_timeout", "10s"))
    );
    assert_eq!(timeout.failure, Some(roundtrip::trace::Failure::TimedOut));
    assert_eq!(
        input(timeout, "bytes_written"),
        (16_384 + 65_536).to_string()
    );
    assert_eq!(input(timeout, "status"), "200", "the status line had gone");
    let body_sent: u64 = input(timeout, "body_bytes_sent").parse().expect("a number");
    assert!(body_sent < 163_876, "less than the file: {body_sent}");
    assert!(
        error_log(timeout).starts_with(
            "[info] *1 client timed out (110: Connection timed out) while sending response to \
             client, client: 203.0.113.7, server: , request: \"GET /static/downloads/notes-2025.txt HTTP/1.1\""
        ),
        "{}",
        error_log(timeout)
    );
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == StepId::WebServerLingeringClose),
        "no lingering close after a timeout"
    );
    let summary = trace
        .requests
        .iter()
        .find(|r| r.id == stalled)
        .expect("request 1");
    assert_eq!(summary.status, Some(200));
    // The client reads again at 30 s and finds the response cut short.
    let cut = trace
        .events
        .iter()
        .find(|e| e.step == StepId::ClientResponseTruncated)
        .expect("a truncated response");
    assert_eq!(cut.at_ns, 30 * SECOND);
    assert!(
        cut.summary.contains(&format!("{body_sent} of the 163876")),
        "{}",
        cut.summary
    );
}

#[test]
fn a_pause_shorter_than_send_timeout_gets_the_whole_file_and_a_stalled_reader_delays_no_one() {
    let trace = &bundled("send-timeout")[0];
    let paused = request_id(trace, 2);
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == StepId::WebServerSendTimeout && e.request == Some(paused))
    );
    let whole = step_of(trace, StepId::ClientResponseReceive, paused);
    assert_eq!(whole.at_ns, 6 * SECOND, "read on after its 5 s pause");
    let meanwhile = trace
        .requests
        .iter()
        .find(|r| r.lesson == Some(3))
        .expect("request 3");
    assert_eq!(meanwhile.status, Some(200));
    assert!(meanwhile.finished_ns - meanwhile.started_ns < SECOND / 10);
}

#[test]
fn a_client_that_reads_nothing_gets_one_buffer_of_it_and_is_still_logged_with_200() {
    // The status line fits in the buffer with the rest: it was sent, so
    // the log keeps 200 (408 is only for a response of which nothing left).
    let trace = lesson(
        r#"
title = "nothing taken"
[stack.web_server]
send_timeout = "2s"
[[request]]
path = "/static/downloads/notes-2025.txt"
stop_reading = { after = "0", for = "10s" }
"#,
    );
    let timeout = trace
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerSendTimeout)
        .expect("the send_timeout step");
    assert_eq!(timeout.at_ns, 2 * SECOND);
    assert_eq!(input(timeout, "bytes_written"), "65536");
    assert_eq!(input(timeout, "status"), "200");
}
