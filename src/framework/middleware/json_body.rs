//! JSON body parsing: turn a `Content-Type: application/json` body into a
//! value before the handler runs, or refuse the request.
//!
//! ```text
//! body bytes ──serde_json──▶ Ok(value)  → req.json = Some(value), go on
//!                       └──▶ Err(e)     → 400 {"error": "invalid JSON",
//!                                              "detail": "… line 1 column 9"}
//! ```
//!
//! A body that is not JSON at all is a client mistake that no handler can
//! fix, so the middleware answers 400 itself: a *short-circuit*. The inner
//! middleware, the router and the handler never run, and the trace shows
//! the request turning back here. serde_json's message says where the
//! parser gave up (line and column), which is what a client developer needs.
//!
//! Requests with another media type, or with no body, pass through with
//! `req.json = None`; a handler that needs a body decides what that means
//! (ours answer 422, as FastAPI does for a missing body).
//!
//! What we simplify: no size limit of our own (the web server's
//! `client_max_body_size` already applies) and no charset other than UTF-8,
//! which RFC 8259 requires for JSON between systems anyway.
//!
//! Book: "The framework" (book/src/framework.md).

use serde_json::{Value, json};

use super::{Middleware, Next};
use crate::framework::{Outcome, Request, Response};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// Parses JSON request bodies; bad JSON gets 400 here.
#[derive(Debug, Default)]
pub struct JsonBody;

impl JsonBody {
    pub fn new() -> JsonBody {
        JsonBody
    }
}

/// `application/json`, or a structured `+json` type such as
/// `application/problem+json` (RFC 6839).
fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// What kind of JSON value it is, in a few words for the summary.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(map) if map.len() == 1 => "an object with 1 key".to_string(),
        Value::Object(map) => format!("an object with {} keys", map.len()),
        Value::Array(items) if items.len() == 1 => "an array of 1 item".to_string(),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::String(_) => "a string".to_string(),
        Value::Number(_) => "a number".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Null => "null".to_string(),
    }
}

impl Middleware for JsonBody {
    fn name(&self) -> &'static str {
        "json_body"
    }

    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let media_type = req.media_type().unwrap_or_default();
            if !is_json(&media_type) || req.body.is_empty() {
                return next.run(req).await;
            }
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(value) => {
                    Step::new(
                        StepId::FrameworkJsonBodyParsed,
                        Direction::Within,
                        Kind::Step,
                    )
                    .summary(format!(
                        "parses the {}-byte JSON body: {}",
                        req.body.len(),
                        describe(&value)
                    ))
                    .data(Data::Fields {
                        entries: vec![
                            ("content-type".to_string(), media_type),
                            ("json".to_string(), value.to_string()),
                        ],
                    })
                    .emit();
                    req.json = Some(value);
                    next.run(req).await
                }
                Err(e) => {
                    let detail = e.to_string();
                    Step::new(StepId::FrameworkJsonBodyInvalid, Direction::Within,
                        Kind::Error,
                    )
                    .summary(format!(
                        "the body is not valid JSON ({detail}): answers 400 without calling the inner layers"
                    ))
                    .data(Data::Fields {
                        entries: vec![
                            ("content-type".to_string(), media_type),
                            (
                                "body".to_string(),
                                String::from_utf8_lossy(&req.body).into_owned(),
                            ),
                            ("error".to_string(), detail.clone()),
                        ],
                    })
                    .answer(400)
                    .emit();
                    Ok(Response::json(
                        400,
                        &json!({"error": "invalid JSON", "detail": detail}),
                    ))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::framework::middleware::Pipeline;

    #[tokio::test(start_paused = true)]
    async fn bad_json_gets_400_with_a_json_error_and_skips_the_handler() {
        let (_guard, recording) = crate::framework::testing::record();
        let called = AtomicBool::new(false);
        let endpoint = |_req: Request| {
            called.store(true, Ordering::Relaxed);
            async { Response::text(200, "") }
        };
        let p = Pipeline::new().with(JsonBody::new());
        let req = Request::new("POST", "/notes")
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"title": }"#);
        let res = p.respond(req, &endpoint).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.header("Content-Type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&res.body).expect("the error is JSON");
        assert_eq!(body["error"], "invalid JSON");
        assert_eq!(body["detail"], "expected value at line 1 column 11");
        assert!(!called.load(Ordering::Relaxed));
        let answered: Vec<_> = recording
            .take()
            .into_iter()
            .filter_map(|e| e.answer.map(|a| (e.step, a)))
            .collect();
        assert_eq!(
            answered,
            [(crate::trace::StepId::FrameworkJsonBodyInvalid, 400)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn good_json_reaches_the_handler_parsed() {
        let endpoint = |req: Request| async move {
            Response::text(
                200,
                req.json.map(|v| v["title"].to_string()).unwrap_or_default(),
            )
        };
        let p = Pipeline::new().with(JsonBody::new());
        let req = Request::new("POST", "/notes")
            .with_header("Content-Type", "application/json; charset=utf-8")
            .with_body(r#"{"title": "hi"}"#);
        assert_eq!(p.respond(req, &endpoint).await.body_text(), "\"hi\"");
    }

    #[tokio::test(start_paused = true)]
    async fn other_media_types_pass_through_unparsed() {
        let endpoint = |req: Request| async move { Response::text(200, format!("{:?}", req.json)) };
        let p = Pipeline::new().with(JsonBody::new());
        let req = Request::new("POST", "/")
            .with_header("Content-Type", "text/plain")
            .with_body("{not json");
        let res = p.respond(req, &endpoint).await;
        assert_eq!((res.status, res.body_text().as_str()), (200, "None"));
    }
}
