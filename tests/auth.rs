//! Authentication and authorization through the whole stack: attacks that
//! must never reach a protected handler, 401 against 403, the object
//! check, middleware order, and secrets that never reach a trace.

mod common;
use common::lesson;

use std::sync::Arc;

use proptest::prelude::*;
use roundtrip::app::{AppConfig, auth::AuthConfig};
use roundtrip::framework::{Framework, Request};
use roundtrip::scenario;
use roundtrip::trace::recorder::record_on_this_thread;
use roundtrip::trace::{Data, Event, StepId, Trace};

/// The handlers that ran for request `id`.
fn handlers_called(trace: &Trace, id: u64) -> Vec<String> {
    trace
        .events
        .iter()
        .filter(|e| e.request == Some(id) && e.step == StepId::HandlerCall)
        .filter_map(|e| match e.data.first() {
            Some(Data::Fields { entries }) => entries
                .iter()
                .find(|(k, _)| k == "handler")
                .map(|(_, v)| v.clone()),
            _ => None,
        })
        .collect()
}

fn status(trace: &Trace, id: u64) -> Option<u16> {
    trace.requests.iter().find(|r| r.id == id)?.status
}

/// A lesson with accounts: bob (a viewer) signs in at 0 ms, then each
/// attack is sent on its own connection, 10 ms apart, with bob's cookie
/// when `as_bob`.
fn attacks(requests: &[(&str, &str, &str, bool)]) -> Trace {
    let mut toml = String::from(
        "title = \"attacks\"\n[stack.app.auth]\n\n[[request]]\nmethod = \"POST\"\npath = \"/login\"\njar = \"bob\"\njson = { username = \"bob\", password = \"builder\" }\nexpect = { status = 200 }\n",
    );
    for (i, (method, path, headers, as_bob)) in requests.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[request]]\nmethod = \"{method}\"\npath = '{path}'\nat = \"{}ms\"\nheaders = {{ {headers} }}\n",
            10 * (i + 1)
        ));
        if *as_bob {
            toml.push_str("jar = \"bob\"\n");
        }
    }
    lesson(&toml)
}

#[test]
fn path_tricks_around_the_admin_page_never_reach_its_handler() {
    let tricks = [
        "/admin",
        "/ADMIN",
        "/Admin",
        "/admin/",
        "//admin",
        "/admin//",
        "/admin;x=1",
        "/%61dmin",
        "/%41DMIN",
        "/%2561dmin",
        "/admin%2f",
        "/./admin",
        "/notes/../admin",
        "/notes/%2e%2e/admin",
        "/admin?role=admin",
        "/admin#x",
    ];
    let mut requests = Vec::new();
    for t in tricks {
        requests.push(("GET", t, "", false));
        requests.push(("GET", t, "", true));
        requests.push(("HEAD", t, "", true));
    }
    let trace = attacks(&requests);
    for (i, (method, path, _, as_bob)) in requests.iter().enumerate() {
        let id = i as u64 + 2;
        assert!(
            !handlers_called(&trace, id).iter().any(|h| h == "admin"),
            "{method} {path} (as bob: {as_bob}) reached the admin handler"
        );
        let got = status(&trace, id);
        assert!(
            matches!(got, Some(302 | 400 | 403 | 404)),
            "{method} {path} (as bob: {as_bob}) got {got:?}"
        );
    }
}

#[test]
fn method_override_headers_and_parameters_do_not_turn_a_post_into_a_delete() {
    let requests = [
        (
            "POST",
            "/notes/1",
            "X-HTTP-Method-Override = \"DELETE\"",
            true,
        ),
        ("POST", "/notes/1", "X-HTTP-Method = \"DELETE\"", true),
        ("POST", "/notes/1?_method=DELETE", "", true),
        (
            "POST",
            "/notes/1",
            "X-HTTP-Method-Override = \"DELETE\"",
            false,
        ),
    ];
    let trace = attacks(&requests);
    // With bob's cookie and no CSRF token the csrf middleware refuses
    // first (403); without a cookie the router has no POST route (405).
    for (id, expected) in [(2, 403), (3, 403), (4, 403), (5, 405)] {
        assert_eq!(status(&trace, id), Some(expected), "request {id}");
        assert!(handlers_called(&trace, id).is_empty(), "request {id}");
    }
    let deleted = trace.events.iter().any(
        |e| matches!(e.data.first(), Some(Data::Sql { sql, .. }) if sql.starts_with("DELETE")),
    );
    assert!(!deleted, "no DELETE statement may run");
}

#[test]
fn a_viewer_is_forbidden_and_the_anonymous_are_challenged() {
    let trace = attacks(&[
        ("GET", "/admin", "", true),
        ("GET", "/me", "", false),
        ("DELETE", "/notes/1", "", true),
        ("DELETE", "/notes/1", "", false),
    ]);
    assert_eq!(status(&trace, 2), Some(403));
    assert_eq!(status(&trace, 3), Some(401));
    assert_eq!(status(&trace, 4), Some(403), "no CSRF token, and a viewer");
    assert_eq!(status(&trace, 5), Some(401));
    let response_of = |id: u64| {
        trace
            .events
            .iter()
            .find(|e| e.request == Some(id) && e.step == StepId::ClientResponseReceive)
            .and_then(|e| {
                e.data.iter().find_map(|d| match d {
                    Data::ResponseHead { headers, .. } => Some(headers.clone()),
                    _ => None,
                })
            })
            .unwrap_or_default()
    };
    let challenge = |id: u64| {
        response_of(id)
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v)
    };
    assert_eq!(challenge(3).as_deref(), Some("Bearer realm=\"notes\""));
    assert_eq!(challenge(2), None, "a 403 is no challenge");
    for (id, refuser) in [
        (2, StepId::FrameworkAuthorize),
        (3, StepId::FrameworkAuthorize),
        (4, StepId::FrameworkCsrf),
        (5, StepId::FrameworkAuthorize),
    ] {
        assert!(handlers_called(&trace, id).is_empty(), "request {id}");
        let refused_by: Vec<StepId> = trace
            .events
            .iter()
            .filter(|e| e.request == Some(id) && e.answer.is_some())
            .map(|e| e.step)
            .collect();
        assert_eq!(refused_by, [refuser], "request {id}");
    }
}

#[test]
fn a_cookie_from_a_logged_out_session_is_anonymous_and_never_reaches_the_handler() {
    let trace = scenario::run_named("login-session")
        .expect("login-session runs")
        .trace;
    // Request 8 replays the thief's copy after sign-out.
    assert_eq!(status(&trace, 8), Some(401));
    assert!(handlers_called(&trace, 8).is_empty());
    let auth = trace
        .events
        .iter()
        .find(|e| e.request == Some(8) && e.step == StepId::FrameworkAuthenticate)
        .and_then(|e| e.decision.clone())
        .expect("authentication decided");
    assert_eq!(auth.subject.as_deref(), Some("anonymous"));
    assert!(
        auth.inputs
            .iter()
            .any(|(k, v)| k == "rejected" && v.contains("no such session"))
    );
}

#[test]
fn only_the_owner_or_an_admin_changes_a_note_and_hiding_turns_403_into_404() {
    let outcome = scenario::run_named("object-ownership").expect("runs");
    let traces = outcome.traces();
    let verdicts = |t: &Trace| -> Vec<(u64, Option<u16>)> {
        t.events
            .iter()
            .filter(|e| e.step == StepId::HandlerPermission)
            .map(|e| (e.request.unwrap_or(0), e.answer))
            .collect()
    };
    assert_eq!(verdicts(traces[0]), [(4, Some(403)), (5, None), (6, None)]);
    assert_eq!(verdicts(traces[1]), [(4, Some(404)), (5, None), (6, None)]);
    for t in traces {
        let updates: Vec<u64> = t
            .events
            .iter()
            .filter(|e| e.step == StepId::DatabaseQuery)
            .filter(|e| matches!(e.data.first(), Some(Data::Sql { sql, .. }) if sql.starts_with("UPDATE")))
            .filter_map(|e| e.request)
            .collect();
        assert_eq!(updates, [5], "only alice's own change runs");
    }
}

#[test]
fn authorization_outside_authentication_refuses_a_good_session() {
    let outcome = scenario::run_named("middleware-order").expect("runs");
    let traces = outcome.traces();
    assert_eq!(status(traces[0], 2), Some(401));
    assert_eq!(status(traces[1], 2), Some(200));
    let authenticated = |t: &Trace| {
        t.events
            .iter()
            .any(|e| e.request == Some(2) && e.step == StepId::FrameworkAuthenticate)
    };
    assert!(
        !authenticated(traces[0]),
        "authentication never ran: it sat inside the refusal"
    );
    assert!(authenticated(traces[1]));
}

/// Everything a trace says, as one string.
fn everything(events: &[Event]) -> String {
    serde_json::to_string(events).expect("events serialize")
}

#[test]
fn no_password_or_session_id_appears_anywhere_in_a_trace() {
    let outcome = scenario::run_named("login-session").expect("runs");
    let json = serde_json::to_string(&outcome.trace).expect("serializes");
    for password in ["wonderland", "wunderland", "builder"] {
        assert!(!json.contains(password), "{password} is in the trace");
    }
    // Every session cookie shows its name and attributes, never its value.
    for (i, _) in json.match_indices("sessionid=") {
        let after = &json[i + "sessionid=".len()..];
        assert!(
            after.starts_with("[redacted]") || after.starts_with(';') || after.starts_with("\\\""),
            "a session id leaks: {}",
            &after[..after.len().min(30)]
        );
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn app() -> Arc<Framework> {
    let config = AppConfig {
        auth: Some(AuthConfig::default()),
        ..AppConfig::default()
    };
    roundtrip::app::build(&config, 1).expect("the app builds")
}

#[test]
fn the_real_session_id_is_in_the_response_and_nowhere_in_the_trace() {
    let app = app();
    rt().block_on(async {
        let (_guard, recording) = record_on_this_thread();
        let login = Request::new("POST", "/login")
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"username":"alice","password":"wonderland"}"#);
        let res = app.handle(login).await;
        assert_eq!(res.status, 200);
        let cookie = res
            .header("Set-Cookie")
            .expect("a cookie is set")
            .to_string();
        let id = cookie
            .split(';')
            .next()
            .and_then(|c| c.strip_prefix("sessionid="))
            .expect("the session cookie")
            .to_string();
        assert_eq!(id.len(), 43, "32 random bytes, base64url");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        let me = Request::new("GET", "/me").with_header("Cookie", &format!("sessionid={id}"));
        assert_eq!(app.handle(me).await.status, 200);
        let text = everything(&recording.take());
        assert!(!text.contains(&id), "the session id is in the trace");
        assert!(!text.contains("wonderland"));
        assert!(text.contains("sessionid=[redacted]; HttpOnly; SameSite=Lax; Path=/"));
    });
}

/// Ways to write `/admin` (or something near it) that a careless check
/// might read differently from the router.
fn spelling() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("admin".to_string()),
        Just("ADMIN".to_string()),
        Just("Admin".to_string()),
        Just("%61dmin".to_string()),
        Just("admin;x=1".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just(String::new()),
        Just("notes".to_string()),
        "[a-z%;.]{1,6}",
    ];
    (prop::collection::vec(segment, 1..5), any::<bool>()).prop_map(|(segs, trailing)| {
        let mut p = ["/", &segs.join("/")].concat();
        if trailing {
            p.push('/');
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever path the router would send to a protected handler, the
    /// authorization middleware judged it by that handler's rule first:
    /// an anonymous request never reaches `admin`, `account` or `me`.
    #[test]
    fn no_spelling_of_a_path_lets_the_anonymous_reach_a_protected_handler(path in spelling(), method in prop_oneof![Just("GET"), Just("HEAD")]) {
        let app = app();
        let (status, called) = rt().block_on(async {
            let (_guard, recording) = record_on_this_thread();
            let res = app.handle(Request::new(method, &path)).await;
            let called: Vec<String> = recording
                .take()
                .into_iter()
                .filter(|e| e.step == StepId::HandlerCall)
                .map(|e| e.summary)
                .collect();
            (res.status, called)
        });
        for protected in ["admin(", "account(", "me("] {
            prop_assert!(
                !called.iter().any(|c| c.starts_with(&["calls ", protected].concat())),
                "{} {} reached {}: {:?} (status {})", method, path, protected, called, status
            );
        }
    }
}

/// The `WWW-Authenticate` the client got for request `id`.
fn challenge_of(trace: &Trace, id: u64) -> Option<String> {
    trace
        .events
        .iter()
        .find(|e| e.request == Some(id) && e.step == StepId::ClientResponseReceive)?
        .data
        .iter()
        .find_map(|d| match d {
            Data::ResponseHead { headers, .. } => headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
                .map(|(_, v)| v.clone()),
            _ => None,
        })
}

#[test]
fn tampered_foreign_key_alg_none_and_expired_tokens_get_invalid_token_and_no_handler() {
    let trace = scenario::run_named("token-auth").expect("runs").trace;
    assert_eq!(status(&trace, 2), Some(200));
    for id in [3, 4, 5, 7] {
        assert_eq!(status(&trace, id), Some(401), "request {id}");
        assert!(handlers_called(&trace, id).is_empty(), "request {id}");
        let c = challenge_of(&trace, id).unwrap_or_default();
        assert!(c.contains("error=\"invalid_token\""), "request {id}: {c}");
    }
    assert_eq!(status(&trace, 6), Some(403));
    let c = challenge_of(&trace, 6).unwrap_or_default();
    assert!(c.contains("insufficient_scope"), "{c}");
    let json = serde_json::to_string(&trace).expect("serializes");
    assert!(!json.contains("eyJ"), "a token reached the trace");
}

#[test]
fn a_forged_missing_or_foreign_csrf_token_is_refused_before_the_handler_and_the_fifth_guess_waits()
{
    let trace = scenario::run_named("csrf").expect("runs").trace;
    for id in [2, 3, 4] {
        assert_eq!(status(&trace, id), Some(403), "request {id}");
        assert!(handlers_called(&trace, id).is_empty(), "request {id}");
        let by: Vec<StepId> = trace
            .events
            .iter()
            .filter(|e| e.request == Some(id) && e.answer.is_some())
            .map(|e| e.step)
            .collect();
        assert_eq!(by, [StepId::FrameworkCsrf], "request {id}");
    }
    assert_eq!(status(&trace, 5), Some(200));
    assert_eq!(status(&trace, 9), Some(429));
    let retry = trace
        .events
        .iter()
        .find(|e| e.request == Some(9) && e.step == StepId::ClientResponseReceive)
        .and_then(|e| {
            e.data.iter().find_map(|d| match d {
                Data::ResponseHead { headers, .. } => headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
                    .map(|(_, v)| v.clone()),
                _ => None,
            })
        });
    assert_eq!(retry.as_deref(), Some("60"));
    // The right password, refused unchecked: no argon2 verdict for it.
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.request == Some(9) && e.step == StepId::HandlerPassword)
    );
}
