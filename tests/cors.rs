//! CORS through the whole stack: preflights answered by the cors
//! middleware before the router, authentication or a handler; the headers
//! the browser reads, as the client received them; the order in the onion;
//! and a property: an origin outside the allow-list never gets
//! `Access-Control-Allow-Origin`, whatever it sends.

mod common;
use common::lesson;

use proptest::prelude::*;
use roundtrip::framework::middleware::{Cors, CorsConfig, Pipeline};
use roundtrip::framework::{Request, Response};
use roundtrip::scenario;
use roundtrip::trace::{Data, Layer, StepId, Trace, Verdict};
use roundtrip::units::Time;

const APP: &str = "http://app.example.com";

/// The response headers the client received for request `id`.
fn received(trace: &Trace, id: u64) -> Vec<(String, String)> {
    trace
        .events
        .iter()
        .filter(|e| e.request == Some(id) && e.step == StepId::ClientResponseReceive)
        .flat_map(|e| e.data.iter())
        .find_map(|d| match d {
            Data::ResponseHead { headers, .. } => Some(headers.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("request {id}: no response head at the client"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn reached(trace: &Trace, id: u64, step: StepId) -> bool {
    trace
        .events
        .iter()
        .any(|e| e.request == Some(id) && e.step == step)
}

#[test]
fn the_lesson_answers_preflights_in_the_middleware_and_never_routes_them() {
    let trace = scenario::run_named("cors-preflight").expect("runs").trace;
    for id in [4, 6, 8] {
        let r = trace.requests.iter().find(|r| r.id == id).expect("request");
        assert_eq!(r.answered_by, Some(Layer::Framework), "request {id}");
        assert!(
            !reached(&trace, id, StepId::FrameworkRoute),
            "request {id} was routed"
        );
        assert!(
            !reached(&trace, id, StepId::HandlerCall),
            "request {id} reached a handler"
        );
        assert!(
            !reached(&trace, id, StepId::FrameworkAuthenticate),
            "request {id} met authentication"
        );
        let answered = trace
            .events
            .iter()
            .find(|e| e.request == Some(id) && e.step == StepId::FrameworkCorsPreflight)
            .expect("a preflight step");
        assert_eq!(answered.answer, r.status);
    }
    // The preflight to /me, a route that needs sign-in: 204, not 401.
    let me = trace
        .requests
        .iter()
        .find(|r| r.id == 8)
        .expect("request 8");
    assert_eq!(me.status, Some(204));
}

#[test]
fn the_credentialed_get_gets_its_own_origin_back_and_evil_gets_no_allow_origin() {
    let trace = scenario::run_named("cors-preflight").expect("runs").trace;
    let me = received(&trace, 3);
    assert_eq!(header(&me, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&me, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        header(&me, "access-control-expose-headers"),
        Some("X-Request-Id")
    );
    assert_eq!(header(&me, "vary"), Some("Origin"));

    let granted = received(&trace, 4);
    assert_eq!(
        header(&granted, "access-control-allow-methods"),
        Some("GET, POST, PUT, DELETE")
    );
    assert_eq!(header(&granted, "access-control-max-age"), Some("600"));
    assert_eq!(header(&granted, "content-length"), None);

    let refused = received(&trace, 6);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    // The evil GET reached the handler and was answered 200: the server
    // does not block; only the browser, lacking the field, does.
    assert!(reached(&trace, 7, StepId::HandlerCall));
    let evil = received(&trace, 7);
    assert_eq!(header(&evil, "access-control-allow-origin"), None);
    assert_eq!(header(&evil, "access-control-allow-credentials"), None);
    let step = trace
        .events
        .iter()
        .find(|e| e.request == Some(7) && e.step == StepId::FrameworkCors)
        .expect("a cors step");
    let decision = step.decision.as_ref().expect("a decision");
    assert_eq!(decision.verdict, Verdict::Pass);
    assert!(decision.knobs.iter().any(|k| k.name == "allow_origins"));
}

/// A lesson with cors placed inside `authorization`: the preflight meets
/// the login check first.
#[test]
fn cors_inside_authorization_lets_the_preflight_be_401d() {
    let source = |middleware: &str| {
        format!(
            "title = \"order\"\n[stack.app]\n{middleware}\n[stack.app.auth]\n[stack.app.cors]\nallow_origins = [\"{APP}\"]\nallow_headers = [\"Authorization\"]\n\n[[request]]\nmethod = \"OPTIONS\"\npath = \"/me\"\nheaders = {{ Origin = \"{APP}\", Access-Control-Request-Method = \"GET\", Access-Control-Request-Headers = \"authorization\" }}\n"
        )
    };
    let inside = lesson(&source(
        "middleware = [\"request_id\", \"access_log\", \"security_headers\", \"json_body\", \"authentication\", \"csrf\", \"authorization\", \"cors\"]",
    ));
    let r = &inside.requests[0];
    assert_eq!(r.status, Some(401));
    assert!(
        !reached(&inside, r.id, StepId::FrameworkCorsPreflight),
        "cors never heard of it"
    );

    let default = lesson(&source(""));
    assert_eq!(default.requests[0].status, Some(204));
}

#[test]
fn a_cors_setting_that_cannot_work_is_a_clear_error() {
    let source = "title = \"bad\"\n[stack.app.cors]\nallow_origins = [\"https://app.example/\"]\n[[request]]\npath = \"/\"\n";
    let path = std::path::Path::new("inline.toml");
    let scenario = scenario::validate::parse(path, source).expect("parses");
    let lesson = scenario::Lesson {
        name: "inline".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    let Err(err) = scenario::run(&lesson) else {
        panic!("a lesson with a bad origin ran");
    };
    let err = err.to_string();
    assert!(
        err.contains("`https://app.example/` is not an origin"),
        "{err}"
    );
}

/// The cors middleware alone, in front of an endpoint that answers 200.
fn through_cors(config: &CorsConfig, req: Request) -> Response {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let p = Pipeline::new().with(Cors::new(config.clone()).expect("valid"));
    let endpoint = |_req: Request| async { Response::text(200, "ok") };
    rt.block_on(p.respond(req, &endpoint))
}

/// Origins as pages serialize them, and near misses of the allowed ones.
fn origin() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            "(http|https)",
            "[a-z]{1,8}(\\.[a-z]{1,6}){0,2}",
            proptest::option::of(1u16..65535)
        )
            .prop_map(|(scheme, host, port)| match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            }),
        Just(APP.to_string()),
        Just(format!("{APP}/")),
        Just(format!("{APP}:80")),
        Just("https://app.example.com".to_string()),
        Just("http://APP.example.com".to_string()),
        Just("http://app.example.com.evil.example".to_string()),
        Just("null".to_string()),
        "[ -~]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_origin_not_in_the_allow_list_never_gets_allow_origin(
        origin in origin(),
        allowed in proptest::collection::vec(origin(), 0..3),
        credentials in any::<bool>(),
        preflight in any::<bool>(),
        method in prop_oneof![Just("GET"), Just("PUT"), Just("DELETE"), Just("PATCH")],
    ) {
        let allowed: Vec<String> = allowed
            .into_iter()
            .filter(|o| o.split_once("://").is_some_and(|(s, h)| !s.is_empty() && !h.is_empty() && !h.contains(['/', '?', '#', '@', ' ', ':'])) && o.chars().all(|c| !c.is_ascii_uppercase()))
            .collect();
        let config = CorsConfig {
            allow_origins: allowed.clone(),
            allow_methods: vec!["*".into()],
            allow_headers: vec!["*".into()],
            allow_credentials: credentials,
            expose_headers: vec!["X-Request-Id".into()],
            max_age: Time::secs(600),
        };
        prop_assume!(Cors::new(config.clone()).is_ok());
        let mut req = Request::new(if preflight { "OPTIONS" } else { method }, "/notes/1")
            .with_header("Origin", &origin)
            .with_header("Cookie", "sessionid=s");
        if preflight {
            req = req.with_header("Access-Control-Request-Method", method);
        }
        let res = through_cors(&config, req);
        let acao = res.header("access-control-allow-origin");
        if allowed.contains(&origin) {
            prop_assert_eq!(acao, Some(origin.as_str()));
        } else {
            prop_assert_eq!(acao, None, "{} is not in {:?}", origin, allowed);
            prop_assert_eq!(res.header("access-control-expose-headers"), None);
            if preflight {
                prop_assert_eq!(res.status, 400);
            }
        }
    }
}
