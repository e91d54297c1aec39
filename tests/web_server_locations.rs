//! The web server's locations, through whole lessons: which location each
//! request of `location-matching` gets, with the role of every other
//! candidate, and that a request the web server answers itself never
//! reaches the app server.

use roundtrip::scenario;
use roundtrip::trace::{Layer, StepId, Trace, Verdict};

fn trace(name: &str) -> Trace {
    let outcome = scenario::run_named(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"));
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    outcome.trace
}

/// (chosen location, the role of each candidate) for each request.
fn choices(trace: &Trace) -> Vec<(u64, String, Vec<String>)> {
    trace
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerLocation)
        .map(|e| {
            let d = e
                .decision
                .as_ref()
                .expect("a location step carries a decision");
            assert_eq!(d.verdict, Verdict::Choose);
            let roles = d
                .candidates
                .iter()
                .map(|c| {
                    c.facts
                        .iter()
                        .find(|(k, _)| k == "role")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect();
            (
                e.request.expect("a location step belongs to a request"),
                d.chosen.clone().unwrap_or_default(),
                roles,
            )
        })
        .collect()
}

#[test]
fn location_matching_chooses_as_the_nginx_docs_say() {
    let t = trace("location-matching");
    let chosen: Vec<(u64, String)> = choices(&t).into_iter().map(|(r, c, _)| (r, c)).collect();
    assert_eq!(
        chosen,
        [
            (1, "location = /".to_string()),
            (2, "location ^~ /static/".to_string()),
            (3, "location /notes".to_string()),
            (4, "location ~* \\.(css|js|svg)$".to_string()),
            (5, "location ^~ /assets/".to_string()),
            (6, "location /notes".to_string()),
        ]
    );
}

#[test]
fn a_caret_tilde_prefix_leaves_the_regex_untried_and_a_plain_prefix_does_not() {
    let t = trace("location-matching");
    let all = choices(&t);
    let roles_of = |request: u64| {
        all.iter()
            .find(|(r, _, _)| *r == request)
            .map(|(_, _, roles)| roles.clone())
            .expect("the request chose a location")
    };
    // The regex is the fifth location written.
    assert_eq!(roles_of(2)[4], "not tried");
    assert_eq!(roles_of(3)[4], "does not match");
    assert_eq!(roles_of(3)[1], "matches, not chosen");
    assert_eq!(roles_of(3)[2], "chosen");
}

#[test]
fn requests_the_web_server_answers_never_reach_the_app_server() {
    let t = trace("location-matching");
    for request in [1, 2, 4, 5] {
        let layers: Vec<Layer> = t
            .events
            .iter()
            .filter(|e| e.request == Some(request))
            .map(|e| e.layer)
            .collect();
        assert!(
            !layers.contains(&Layer::AppServer),
            "request {request} reached the app server"
        );
        let summary = t
            .requests
            .iter()
            .find(|r| r.id == request)
            .expect("summary");
        assert_eq!(
            summary.answered_by,
            Some(Layer::WebServer),
            "request {request}"
        );
    }
}

#[test]
fn the_default_stack_serves_static_from_the_site_and_proxies_the_rest() {
    let t = trace("hello");
    let location = t
        .events
        .iter()
        .find(|e| e.step == StepId::WebServerLocation)
        .and_then(|e| e.decision.as_ref())
        .and_then(|d| d.chosen.clone());
    assert_eq!(location.as_deref(), Some("location /"));
}

/// The bytes the client received for each request of a lesson.
fn responses(trace: &Trace) -> Vec<(u64, String)> {
    trace
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerResponseSend)
        .filter_map(|e| {
            e.data.iter().find_map(|d| match d {
                roundtrip::trace::Data::Bytes { bytes, .. } => {
                    Some((e.request.unwrap_or(0), bytes.text.clone()))
                }
                _ => None,
            })
        })
        .collect()
}

#[test]
fn static_vs_dynamic_sends_nginx_validators_and_a_304_without_a_body() {
    let t = trace("static-vs-dynamic");
    let sent = responses(&t);
    let first = &sent.iter().find(|(r, _)| *r == 1).expect("request 1").1;
    assert!(first.contains("ETag: \"692cda80-155\""), "{first}");
    assert!(
        first.contains("Last-Modified: Mon, 01 Dec 2025 00:00:00 GMT"),
        "{first}"
    );
    assert!(first.contains("Content-Type: text/css"), "{first}");
    let not_modified = &sent.iter().find(|(r, _)| *r == 4).expect("request 4").1;
    assert!(
        not_modified.starts_with("HTTP/1.1 304 Not Modified"),
        "{not_modified}"
    );
    assert!(!not_modified.contains("Content-Length"), "{not_modified}");
    let head = &sent.iter().find(|(r, _)| *r == 3).expect("request 3").1;
    assert!(head.contains("Content-Length: 204"), "{head}");
    assert!(
        !head.contains("addEventListener"),
        "HEAD sent the body: {head}"
    );
}

#[test]
fn path_traversal_never_sends_a_file_from_outside_the_root() {
    let t = trace("path-traversal");
    for (request, bytes) in responses(&t) {
        assert!(
            !bytes.contains("root:"),
            "request {request} sent /etc/passwd"
        );
    }
    let served: Vec<u64> = t
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerStaticFile)
        .filter_map(|e| e.request)
        .collect();
    assert_eq!(
        served,
        [7],
        "only the `..` that stays inside the root is served"
    );
}

#[test]
fn range_request_sends_the_parts_asked_for() {
    let t = trace("range-request");
    let sent = responses(&t);
    let of = |r: u64| {
        sent.iter()
            .find(|(n, _)| *n == r)
            .expect("a response")
            .1
            .clone()
    };
    assert!(of(1).contains("Content-Range: bytes 0-63/341"));
    assert!(of(1).contains("Content-Length: 64"));
    assert!(of(2).contains("Content-Range: bytes 300-340/341"));
    assert!(of(3).contains("Content-Range: bytes 321-340/341"));
    assert!(of(4).contains("multipart/byteranges; boundary=00000000000000000001"));
    assert!(of(5).contains("Content-Range: bytes */341"));
    assert!(of(6).starts_with("HTTP/1.1 200 OK"));
    assert!(of(7).starts_with("HTTP/1.1 206 Partial Content"));
}
