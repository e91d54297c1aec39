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
