//! The lesson client loses nothing: when the server closes the connection
//! a lesson grouped requests on, the next request goes on a new
//! connection (`client.reconnect`), as a browser or curl would send it,
//! and `check` says the lesson's `connection = N` did not hold.

mod common;

use common::lesson_with_unmet;
use roundtrip::trace::{StepId, Trace};

fn count(trace: &Trace, step: StepId) -> usize {
    trace.events.iter().filter(|e| e.step == step).count()
}

fn statuses(trace: &Trace) -> Vec<Option<u16>> {
    trace.requests.iter().map(|r| r.status).collect()
}

#[test]
fn after_an_http_1_0_response_the_next_request_goes_on_a_new_connection_and_check_says_so() {
    let (trace, unmet) = lesson_with_unmet(
        r#"
title = "t"
[[request]]
path = "/notes"
version = "HTTP/1.0"
connection = 1
[[request]]
path = "/notes"
connection = 1
"#,
    );
    assert_eq!(statuses(&trace), [Some(200), Some(200)]);
    assert_eq!(count(&trace, StepId::ClientReconnect), 1);
    assert_eq!(count(&trace, StepId::ClientConnect), 2);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert!(
        unmet[0].starts_with("request 2 was to go on `connection = 1`")
            && unmet[0].contains("Connection: close"),
        "{unmet:?}"
    );
}

#[test]
fn past_keepalive_requests_the_rest_go_on_new_connections() {
    let (trace, unmet) = lesson_with_unmet(
        r#"
title = "t"
[stack.web_server]
keepalive_requests = 2
[[request]]
path = "/notes"
connection = 1
[[request]]
path = "/notes"
connection = 1
[[request]]
path = "/notes"
connection = 1
"#,
    );
    assert_eq!(statuses(&trace), [Some(200); 3]);
    assert_eq!(count(&trace, StepId::ClientReconnect), 1);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert!(unmet[0].starts_with("request 3 "), "{unmet:?}");
}

#[test]
fn a_get_on_a_connection_closed_while_idle_is_sent_again_on_a_new_one() {
    let (trace, unmet) = lesson_with_unmet(
        r#"
title = "t"
[stack.web_server]
keepalive_timeout = "1s"
[[request]]
path = "/notes"
connection = 1
[[request]]
path = "/notes"
connection = 1
at = "2s"
"#,
    );
    assert_eq!(statuses(&trace), [Some(200), Some(200)]);
    assert_eq!(count(&trace, StepId::ClientReconnect), 1);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert!(unmet[0].starts_with("request 2 "), "{unmet:?}");
}

#[test]
fn requests_the_server_keeps_alive_stay_on_their_connection_with_nothing_to_report() {
    let (trace, unmet) = lesson_with_unmet(
        r#"
title = "t"
[[request]]
path = "/notes"
connection = 1
[[request]]
path = "/notes"
connection = 1
"#,
    );
    assert_eq!(statuses(&trace), [Some(200), Some(200)]);
    assert_eq!(count(&trace, StepId::ClientReconnect), 0);
    assert_eq!(count(&trace, StepId::ClientConnect), 1);
    assert!(unmet.is_empty(), "{unmet:?}");
}

#[test]
fn a_100_continue_is_not_the_answer_the_client_reads_on_to_the_final_response() {
    let (trace, unmet) = lesson_with_unmet(
        r#"
title = "t"
[[request]]
raw = "POST /notes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 42\r\nExpect: 100-continue\r\n\r\n{\"title\":\"Buy milk\",\"body\":\"Semi-skimmed\"}"
"#,
    );
    assert_eq!(count(&trace, StepId::WebServerContinue), 1);
    assert_eq!(statuses(&trace), [Some(201)]);
    assert_eq!(count(&trace, StepId::WebServerClientGone), 0, "no 499");
    assert!(unmet.is_empty(), "{unmet:?}");
}

#[test]
fn a_post_after_the_app_server_closed_the_idle_upstream_connection_goes_on_a_new_one() {
    // uvicorn closes an idle keep-alive connection after 5 s; nginx's
    // keepalive cache drops it then, so a POST (never retried once sent)
    // is not sent on a dead connection and gets its 201, not a 502.
    let (trace, _) = lesson_with_unmet(
        r#"
title = "t"
[stack.app_server]
interface = "asgi"
[[request]]
path = "/notes"
[[request]]
method = "POST"
path = "/notes"
json = { title = "Buy milk", body = "Semi-skimmed" }
at = "10s"
"#,
    );
    assert_eq!(statuses(&trace), [Some(200), Some(201)]);
    assert_eq!(count(&trace, StepId::WebServerProxyRetry), 0);
    assert_eq!(count(&trace, StepId::WebServerProxyConnect), 2);
    assert_eq!(trace.upstream_connections[0].requests, [1]);
}
