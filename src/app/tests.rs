//! The notes app through the whole framework, against a real in-memory
//! SQLite database, on the paused clock.

use serde_json::{Value, json};

use super::*;
use crate::framework::testing::record as recorded;
use crate::gateway::asgi::{AsgiApp, Message, Scope, message};
use crate::gateway::wsgi::{Environ, StartResponse, WsgiApp};
use crate::trace::{Event, StepId};

fn app() -> Arc<Framework> {
    build(&AppConfig::default(), 1).expect("the default app builds")
}

fn body_json(res: &Response) -> Value {
    serde_json::from_slice(&res.body).expect("the body is JSON")
}

fn post_json(path: &str, body: &str) -> Request {
    Request::new("POST", path)
        .with_header("Content-Type", "application/json")
        .with_body(body)
}

/// (step, answer) for every event that produced the response.
fn answers(events: &[Event]) -> Vec<(StepId, u16)> {
    events
        .iter()
        .filter_map(|e| e.answer.map(|a| (e.step, a)))
        .collect()
}

#[test]
fn build_installs_the_documented_middleware_and_routes() {
    let app = app();
    assert_eq!(
        app.middleware_names(),
        middleware_names(&AppConfig::default())
    );
    let routes: Vec<(String, String, String)> = app
        .routes()
        .into_iter()
        .map(|r| (r.method, r.pattern, r.handler))
        .collect();
    let expected: Vec<(String, String, String)> = ROUTES
        .iter()
        .map(|(m, p, h)| (m.to_string(), p.to_string(), h.to_string()))
        .collect();
    assert_eq!(routes, expected);
    let handlers = [
        "home",
        "notes_list",
        "notes_create",
        "notes_get",
        "slow",
        "cpu",
        "blocking",
        "threadpool",
        "chat_page",
    ];
    assert_eq!(app.handler_names(), handlers);
    assert_eq!(handler_names(), handlers);
}

#[test]
fn config_reads_from_toml_and_rejects_unknown_fields() {
    let config: AppConfig =
        toml::from_str("db_latency = \"50ms\"\nseed_notes = [{ title = \"Only\" }]")
            .expect("valid config");
    assert_eq!(config.db_latency, Time(Duration::from_millis(50)));
    assert_eq!(config.seed_notes, [NoteSeed::new("Only", "")]);
    assert_eq!(
        toml::from_str::<AppConfig>("").ok(),
        Some(AppConfig::default())
    );
    assert!(toml::from_str::<AppConfig>("db_latncy = \"1ms\"").is_err());
}

#[test]
fn default_seed_has_three_notes_one_with_a_script_tag() {
    let seeds = AppConfig::default().seed_notes;
    assert_eq!(seeds.len(), 3);
    assert!(seeds.iter().any(|n| n.body.contains("<script>")));
}

#[tokio::test(start_paused = true)]
async fn seeding_emits_no_trace_events() {
    let (_guard, recording) = recorded();
    let _app = app();
    assert!(recording.take().is_empty());
}

#[tokio::test(start_paused = true)]
async fn notes_list_returns_the_seeded_notes_as_json() {
    let (_guard, recording) = recorded();
    let res = app().handle(Request::new("GET", "/notes")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("Content-Type"), Some("application/json"));
    let notes = body_json(&res);
    assert_eq!(notes.as_array().map(Vec::len), Some(3));
    assert_eq!(notes[0]["id"], 1);
    assert_eq!(notes[0]["title"], "Welcome");
    assert_eq!(
        res.header("Content-Length"),
        Some(res.body.len().to_string().as_str())
    );
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::HandlerReturn, 200)]);
    let ret = events
        .iter()
        .find(|e| e.step == crate::trace::StepId::HandlerReturn)
        .expect("a handler.return step");
    assert_eq!(ret.summary, "notes_list returns 200 OK with 3 notes");
}

#[tokio::test(start_paused = true)]
async fn a_request_crosses_every_layer_in_onion_order() {
    let (_guard, recording) = recorded();
    app().handle(Request::new("GET", "/notes")).await;
    let steps: Vec<StepId> = recording.take().into_iter().map(|e| e.step).collect();
    let expected = [
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkRequestId,
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkMiddlewareEnter,
        StepId::FrameworkRoute,
        StepId::HandlerCall,
        StepId::DatabaseQuery,
        StepId::DatabaseResult,
        StepId::HandlerReturn,
        StepId::FrameworkSecurityHeaders,
        StepId::FrameworkMiddlewareLeave,
        StepId::FrameworkMiddlewareLeave,
        StepId::FrameworkCacheControl,
        StepId::FrameworkMiddlewareLeave,
        StepId::FrameworkConditionalGet,
        StepId::FrameworkMiddlewareLeave,
        StepId::FrameworkAccessLog,
        StepId::FrameworkMiddlewareLeave,
        StepId::FrameworkMiddlewareLeave,
    ];
    assert_eq!(steps, expected);
}

#[tokio::test(start_paused = true)]
async fn a_revalidated_list_is_304_yet_its_query_still_ran() {
    let app = app();
    let first = app.handle(Request::new("GET", "/notes")).await;
    assert_eq!(first.header("Cache-Control"), Some("private, no-cache"));
    let etag = first.header("ETag").expect("an ETag").to_string();
    let (_guard, recording) = recorded();
    let again = app
        .handle(Request::new("GET", "/notes").with_header("If-None-Match", &etag))
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    assert_eq!(again.header("Cache-Control"), Some("private, no-cache"));
    let events = recording.take();
    // The 304 saves bytes, not work: the SELECT was sent all the same.
    assert!(events.iter().any(|e| e.step == StepId::DatabaseQuery));
    assert_eq!(
        answers(&events),
        [
            (StepId::HandlerReturn, 200),
            (StepId::FrameworkConditionalGet, 304)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_note_changes_the_lists_etag_and_posts_are_no_store() {
    let app = app();
    let before = app.handle(Request::new("GET", "/notes")).await;
    let etag = before.header("ETag").expect("an ETag").to_string();
    let created = app
        .handle(
            Request::new("POST", "/notes")
                .with_header("Content-Type", "application/json")
                .with_body(r#"{"title": "New", "body": ""}"#),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("Cache-Control"), Some("no-store"));
    assert_eq!(created.header("ETag"), None);
    let after = app
        .handle(Request::new("GET", "/notes").with_header("If-None-Match", &etag))
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("ETag"), Some(etag.as_str()));
    let one = app.handle(Request::new("GET", "/notes/1")).await;
    assert_eq!(one.header("Cache-Control"), Some("private, max-age=60"));
    let missing = app.handle(Request::new("GET", "/notes/99")).await;
    assert_eq!(missing.header("Cache-Control"), Some("no-store"));
}

#[tokio::test(start_paused = true)]
async fn response_carries_request_id_and_security_headers() {
    let req = Request::new("GET", "/notes").with_header("X-Request-Id", "42");
    let res = app().handle(req).await;
    assert_eq!(res.header("X-Request-Id"), Some("42"));
    assert_eq!(res.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(res.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(res.header("Referrer-Policy"), Some("same-origin"));
}

#[tokio::test(start_paused = true)]
async fn notes_get_returns_one_note_after_the_db_latency() {
    let start = tokio::time::Instant::now();
    let res = app().handle(Request::new("GET", "/notes/2")).await;
    assert_eq!(start.elapsed(), Duration::from_millis(2));
    assert_eq!(res.status, 200);
    assert_eq!(
        body_json(&res),
        json!({"id": 2, "title": "Shopping", "body": "Milk, eggs, and coffee for tomorrow morning."})
    );
}

#[tokio::test(start_paused = true)]
async fn missing_note_gets_404_from_the_handler_not_the_router() {
    let (_guard, recording) = recorded();
    let res = app().handle(Request::new("GET", "/notes/7")).await;
    assert_eq!(res.status, 404);
    assert_eq!(body_json(&res), json!({"detail": "note 7 not found"}));
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::HandlerReturn, 404)]);
    assert!(
        events
            .iter()
            .any(|e| e.step == crate::trace::StepId::DatabaseQuery)
    );
}

#[tokio::test(start_paused = true)]
async fn non_numeric_id_gets_404_without_a_query() {
    let (_guard, recording) = recorded();
    let res = app().handle(Request::new("GET", "/notes/abc")).await;
    assert_eq!(res.status, 404);
    assert_eq!(body_json(&res), json!({"detail": "note abc not found"}));
    assert!(
        !recording
            .take()
            .iter()
            .any(|e| e.step == crate::trace::StepId::DatabaseQuery)
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_path_gets_404_from_the_router() {
    let (_guard, recording) = recorded();
    let res = app().handle(Request::new("GET", "/nope")).await;
    assert_eq!(res.status, 404);
    assert_eq!(body_json(&res), json!({"detail": "Not Found"}));
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::FrameworkRoute, 404)]);
    assert!(
        !events
            .iter()
            .any(|e| e.layer == crate::trace::Layer::Handler)
    );
    // The onion still runs for unmatched requests.
    assert_eq!(res.header("X-Frame-Options"), Some("DENY"));
}

#[tokio::test(start_paused = true)]
async fn wrong_method_gets_405_with_allow() {
    let (_guard, recording) = recorded();
    let res = app().handle(Request::new("DELETE", "/notes/1")).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("Allow"), Some("GET, HEAD"));
    assert_eq!(body_json(&res), json!({"detail": "Method Not Allowed"}));
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::FrameworkRoute, 405)]);
    let route = events
        .iter()
        .find(|e| e.step == crate::trace::StepId::FrameworkRoute)
        .expect("route step");
    assert!(matches!(
        &route.data[..],
        [crate::trace::Data::Route { allow, pattern: None, .. }] if allow == &["GET", "HEAD"]
    ));
}

#[tokio::test(start_paused = true)]
async fn head_runs_the_get_handler_without_a_body() {
    let app = app();
    let get = app.handle(Request::new("GET", "/notes")).await;
    let head = app.handle(Request::new("HEAD", "/notes")).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
}

#[tokio::test(start_paused = true)]
async fn create_note_answers_201_with_location_and_really_inserts() {
    let (_guard, recording) = recorded();
    let app = app();
    let res = app
        .handle(post_json(
            "/notes",
            r#"{"title": "Call Ada", "body": "about the engine"}"#,
        ))
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(res.header("Location"), Some("/notes/4"));
    assert_eq!(
        body_json(&res),
        json!({"id": 4, "title": "Call Ada", "body": "about the engine"})
    );
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::HandlerReturn, 201)]);
    let insert = events
        .iter()
        .find(|e| e.step == crate::trace::StepId::DatabaseQuery)
        .expect("an INSERT");
    assert!(insert.summary.starts_with("sends INSERT INTO notes"));
    let fetched = app.handle(Request::new("GET", "/notes/4")).await;
    assert_eq!(body_json(&fetched)["title"], "Call Ada");
}

#[tokio::test(start_paused = true)]
async fn invalid_fields_get_422_listing_every_problem() {
    let res = app()
        .handle(post_json("/notes", r#"{"title": "", "body": 7}"#))
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(
        body_json(&res),
        json!({"detail": [
            {"type": "string_too_short", "loc": ["body", "title"],
             "msg": "String should have at least 1 character", "input": "",
             "ctx": {"min_length": 1}},
            {"type": "string_type", "loc": ["body", "body"],
             "msg": "Input should be a valid string", "input": 7},
        ]})
    );
}

#[tokio::test(start_paused = true)]
async fn missing_body_or_fields_get_422() {
    let app = app();
    let no_body = app.handle(Request::new("POST", "/notes")).await;
    assert_eq!(no_body.status, 422);
    assert_eq!(body_json(&no_body)["detail"][0]["loc"], json!(["body"]));
    let no_title = app.handle(post_json("/notes", r#"{"body": "x"}"#)).await;
    assert_eq!(no_title.status, 422);
    assert_eq!(body_json(&no_title)["detail"][0]["type"], "missing");
    assert_eq!(
        body_json(&no_title)["detail"][0]["loc"],
        json!(["body", "title"])
    );
    let array = app.handle(post_json("/notes", "[1, 2]")).await;
    assert_eq!(
        body_json(&array)["detail"][0]["type"],
        "model_attributes_type"
    );
}

#[tokio::test(start_paused = true)]
async fn bad_json_gets_400_from_the_middleware_before_the_router() {
    let (_guard, recording) = recorded();
    let res = app().handle(post_json("/notes", "{\"title\": oops}")).await;
    assert_eq!(res.status, 400);
    assert_eq!(
        body_json(&res),
        json!({"error": "invalid JSON", "detail": "expected value at line 1 column 11"})
    );
    let events = recording.take();
    assert_eq!(answers(&events), [(StepId::FrameworkJsonBodyInvalid, 400)]);
    assert!(
        !events
            .iter()
            .any(|e| e.step == crate::trace::StepId::FrameworkRoute)
    );
    // security_headers sits inside json_body, so it never saw this response.
    assert_eq!(res.header("X-Frame-Options"), None);
    assert!(res.header("X-Request-Id").is_some());
}

#[tokio::test(start_paused = true)]
async fn home_page_is_html_with_script_tags_escaped() {
    let res = app().handle(Request::new("GET", "/")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("Content-Type"), Some("text/html; charset=utf-8"));
    let page = res.body_text();
    assert!(page.contains("<title>Notes</title>"));
    assert!(page.contains("&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
}

#[tokio::test(start_paused = true)]
async fn wsgi_call_uses_start_response_and_returns_body_chunks() {
    let mut environ = Environ::new();
    environ.insert("REQUEST_METHOD", "GET");
    environ.insert("PATH_INFO", "/notes/1");
    environ.insert("QUERY_STRING", "");
    environ.insert("SERVER_PROTOCOL", "HTTP/1.1");
    environ.insert("HTTP_X_REQUEST_ID", "9");
    let mut start_response = StartResponse::new();
    let app = app();
    let chunks = WsgiApp::call(&*app, environ, &mut start_response)
        .await
        .expect("the app does not raise");
    assert_eq!(start_response.status.as_deref(), Some("200 OK"));
    assert!(
        start_response
            .headers
            .contains(&("X-Request-Id".to_string(), "9".to_string()))
    );
    let body: Vec<u8> = chunks.concat();
    assert_eq!(
        serde_json::from_slice::<Value>(&body)
            .ok()
            .map(|v| v["id"].clone()),
        Some(json!(1))
    );
}

#[tokio::test(start_paused = true)]
async fn asgi_call_reads_the_body_and_sends_start_then_body() {
    let scope = Scope {
        http_version: "1.1".into(),
        method: "POST".into(),
        scheme: "http".into(),
        path: "/notes".into(),
        raw_path: b"/notes".to_vec(),
        query_string: Vec::new(),
        root_path: String::new(),
        headers: vec![(b"content-type".to_vec(), b"application/json".to_vec())],
        client: None,
        server: None,
    };
    let (to_app, receive, send, mut from_app) = message::channel();
    for (chunk, more_body) in [
        (&b"{\"title\": \"A\","[..], true),
        (&b" \"body\": \"B\"}"[..], false),
    ] {
        to_app
            .send(Message::HttpRequest {
                body: chunk.to_vec(),
                more_body,
            })
            .await
            .expect("the app is listening");
    }
    let app = app();
    AsgiApp::call(&*app, scope, receive, send)
        .await
        .expect("the app answers");
    let Some(Message::HttpResponseStart { status, headers }) = from_app.recv().await else {
        panic!("http.response.start first");
    };
    assert_eq!(status, 201);
    assert!(headers.contains(&(b"location".to_vec(), b"/notes/4".to_vec())));
    assert!(
        headers
            .iter()
            .all(|(n, _)| n.iter().all(|b| !b.is_ascii_uppercase()))
    );
    let Some(Message::HttpResponseBody { body, more_body }) = from_app.recv().await else {
        panic!("http.response.body second");
    };
    assert!(!more_body);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).ok(),
        Some(json!({"id": 4, "title": "A", "body": "B"}))
    );
}
