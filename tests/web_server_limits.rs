//! Web-server behaviour that needs time or odd framing, run as small
//! lessons on the paused clock: a head that never finishes (408, nothing
//! sent), chunked bodies (decoded and forwarded, or refused with 413).

mod common;

use common::lesson;

use roundtrip::trace::Layer;

#[test]
fn head_that_never_ends_is_logged_408_and_gets_no_response() {
    let trace = lesson(
        r#"
title = "slow"
[stack.web_server]
client_header_timeout = "10s"
[[request]]
raw = "GET /notes HTTP/1.1\r\nHost: example.com\r\n"
expect = { status = 408, answered_by = "web_server" }
"#,
    );
    let r = &trace.requests[0];
    assert_eq!(
        r.knob.as_ref().map(|k| k.name.as_str()),
        Some("client_header_timeout")
    );
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.step == roundtrip::trace::StepId::ClientResponseNone)
    );
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == roundtrip::trace::StepId::WebServerResponseSend)
    );
    let timeout = trace
        .events
        .iter()
        .find(|e| e.answer == Some(408))
        .expect("the 408 step");
    assert_eq!(
        timeout.at_ns, 10_000_000_000,
        "after exactly client_header_timeout"
    );
}

#[test]
fn chunked_body_is_decoded_and_forwarded_with_a_length() {
    let trace = lesson(
        r#"
title = "chunked"
[[request]]
method = "POST"
path = "/notes"
chunked = true
json = { title = "chunky", body = "in pieces" }
expect = { status = 201, answered_by = "handler" }
"#,
    );
    let proxied = trace
        .events
        .iter()
        .find(|e| e.step == roundtrip::trace::StepId::WebServerProxySend)
        .expect("proxied");
    let text = serde_json::to_string(&proxied.data).unwrap();
    assert!(text.contains("Content-Length"), "{text}");
    assert!(!text.contains("Transfer-Encoding"), "{text}");
}

#[test]
fn chunked_body_over_the_limit_gets_413_from_the_web_server() {
    let trace = lesson(
        r#"
title = "chunked too large"
[stack.web_server]
client_max_body_size = "1k"
[[request]]
method = "POST"
path = "/notes"
chunked = true
body_size = "4k"
expect = { status = 413, answered_by = "web_server" }
"#,
    );
    assert_app_server_never_reached(&trace);
}

#[test]
fn lower_case_method_and_dot_dot_paths_are_refused_by_the_web_server() {
    let trace = lesson(
        r#"
title = "odd requests"
[[request]]
raw = "get /notes HTTP/1.1\r\nHost: example.com\r\n\r\n"
expect = { status = 400, answered_by = "web_server" }
[[request]]
path = "/notes/%2e%2e/%2e%2e/etc/passwd"
at = "1ms"
expect = { status = 400, answered_by = "web_server" }
"#,
    );
    assert_app_server_never_reached(&trace);
}

#[test]
fn absolute_form_targets_and_newer_minor_versions_are_accepted() {
    let trace = lesson(
        r#"
title = "forms"
[[request]]
raw = "GET http://example.com/notes/1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n"
expect = { status = 200, answered_by = "handler" }
[[request]]
raw = "GET /notes HTTP/1.2\r\nHost: example.com\r\nConnection: close\r\n\r\n"
at = "1ms"
expect = { status = 200, answered_by = "handler" }
"#,
    );
    let proxied = trace
        .events
        .iter()
        .find(|e| e.step == roundtrip::trace::StepId::WebServerProxySend)
        .expect("proxied");
    let text = serde_json::to_string(&proxied.data).unwrap();
    assert!(text.contains(r"GET /notes/1 HTTP/1.1\\r\\n"), "{text}");
    assert!(
        text.contains("Host: example.com"),
        "the target's host wins: {text}"
    );
}

/// No request's step went below the web server, and the app server never
/// accepted a connection (its idle workers exist, but took nothing).
fn assert_app_server_never_reached(trace: &roundtrip::trace::Trace) {
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
            .any(|e| e.step == roundtrip::trace::StepId::AppServerAccept)
    );
}

/// The access phase runs before the body is read: a denied POST costs no
/// body read, gets its 403 without a `100 Continue` (nginx's error pages
/// mark the expectation tested), and its body is then read and dropped so
/// the next request on the connection is read from the right byte.
#[test]
fn a_denied_post_is_answered_before_its_body_is_read_and_the_body_is_discarded() {
    let trace = lesson(
        r#"
title = "denied upload"
[[stack.web_server.location]]
match = "/notes"
proxy_pass = "http://app_server"
limit_except = { methods = ["GET"], access = ["deny all"] }

[[request]]
method = "POST"
path = "/notes"
headers = { Expect = "100-continue" }
json = { title = "Buy milk", body = "Semi-skimmed" }
connection = 1
expect = { status = 403, answered_by = "web_server", not_reached = ["app_server"] }

[[request]]
path = "/notes"
connection = 1
at = "10ms"
expect = { status = 200, answered_by = "handler" }
"#,
    );
    use roundtrip::trace::StepId;
    let steps = |id: u64| -> Vec<StepId> {
        trace
            .events
            .iter()
            .filter(|e| e.request == Some(id))
            .map(|e| e.step)
            .collect()
    };
    let first = steps(1);
    assert!(!first.contains(&StepId::WebServerContinue), "{first:?}");
    assert!(!first.contains(&StepId::WebServerBodyReceive), "{first:?}");
    let answered = first
        .iter()
        .position(|s| *s == StepId::WebServerResponseSend)
        .expect("the 403 is sent");
    let discarded = first
        .iter()
        .position(|s| *s == StepId::WebServerBodyDiscard)
        .expect("the body is discarded");
    assert!(answered < discarded, "the answer goes before the discard");
    // The second request came on the same connection and was read whole.
    assert_eq!(trace.requests[1].status, Some(200));
    assert_eq!(trace.requests[0].conn, trace.requests[1].conn);
}

/// A body is read only once the request is known to go upstream: the
/// location is chosen before a byte of it is read.
#[test]
fn the_location_is_chosen_before_the_body_is_read() {
    let trace = lesson(
        r#"
title = "post"
[[request]]
method = "POST"
path = "/notes"
json = { title = "Buy milk", body = "Semi-skimmed" }
expect = { status = 201, answered_by = "handler" }
"#,
    );
    use roundtrip::trace::StepId;
    let at = |id: StepId| trace.events.iter().position(|e| e.step == id);
    let location = at(StepId::WebServerLocation).expect("a location step");
    let body = at(StepId::WebServerBodyReceive).expect("the body is read");
    assert!(location < body);
}

/// `proxy_set_header Host $host`: the app server gets the host as the web
/// server validated it (lower-cased, without a trailing dot or the port),
/// not the bytes the client sent.
#[test]
fn the_host_sent_upstream_is_dollar_host_not_the_clients_bytes() {
    use roundtrip::trace::{Data, StepId};
    for (sent, upstream) in [
        ("EXAMPLE.com", "example.com"),
        ("example.com.", "example.com"),
        ("example.com:8080", "example.com"),
        ("[::1]:8080", "[::1]"),
    ] {
        let trace = lesson(&format!(
            r#"
title = "host"
[[request]]
path = "/notes"
headers = {{ Host = "{sent}" }}
expect = {{ status = 200, answered_by = "handler" }}
"#
        ));
        let proxied = trace
            .events
            .iter()
            .find(|e| e.step == StepId::WebServerProxySend)
            .expect("the request is proxied");
        let host = proxied.data.iter().find_map(|d| match d {
            Data::RequestHead { headers, .. } => headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("host"))
                .map(|(_, v)| v.clone()),
            _ => None,
        });
        assert_eq!(host.as_deref(), Some(upstream), "Host: {sent}");
    }
}
