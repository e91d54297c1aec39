//! Request id: one id per request, shared by every log line and echoed to
//! the client as `X-Request-Id`, so a user's bug report can be matched to
//! the server's logs.
//!
//! A proxy in front usually assigns it (our web server does, as nginx's
//! `$request_id` does); then the app reuses it, so web server, app server and
//! framework logs all carry the same id. Only when no proxy set one does the
//! middleware make one up.
//!
//! What we simplify: production ids are random (UUIDs) so two servers never
//! collide; ours reuse the web server's id (which counts up from 1)
//! or count up from `req-1` when there is none, so lessons replay byte for
//! byte.
//!
//! Book: "The framework" (book/src/framework.md).

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Middleware, Next};
use crate::framework::{Outcome, Request};
use crate::gateway::BoxFuture;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// The header that carries the id, both ways.
pub const HEADER: &str = "X-Request-Id";

/// Reuses an incoming `X-Request-Id`, else generates `req-N`.
#[derive(Debug, Default)]
pub struct RequestId {
    /// How many ids this middleware generated so far.
    generated: AtomicU64,
}

impl RequestId {
    pub fn new() -> RequestId {
        RequestId::default()
    }
}

impl Middleware for RequestId {
    fn name(&self) -> &'static str {
        "request_id"
    }

    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let incoming = req
                .header(HEADER)
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string);
            let (id, source) = match incoming {
                Some(id) => (id, "reused from the incoming X-Request-Id header"),
                None => {
                    let n = self.generated.fetch_add(1, Ordering::Relaxed) + 1;
                    (format!("req-{n}"), "generated: no X-Request-Id came in")
                }
            };
            Step::new(StepId::FrameworkRequestId, Direction::Within, Kind::Step)
                .summary(["request id ", &id, " (", source, ")"].concat())
                .data(Data::Fields {
                    entries: vec![
                        ("request_id".to_string(), id.clone()),
                        ("source".to_string(), source.to_string()),
                    ],
                })
                .emit();
            req.request_id = Some(id.clone());
            let mut res = next.run(req).await?;
            res.set_header(HEADER, id);
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Response;
    use crate::framework::middleware::Pipeline;

    #[tokio::test(start_paused = true)]
    async fn incoming_id_is_reused_and_echoed() {
        let p = Pipeline::new().with(RequestId::new());
        let endpoint =
            |req: Request| async move { Response::text(200, req.request_id.unwrap_or_default()) };
        let req = Request::new("GET", "/").with_header("X-Request-Id", "17");
        let res = p.respond(req, &endpoint).await;
        assert_eq!(res.body_text(), "17");
        assert_eq!(res.header("x-request-id"), Some("17"));
    }

    #[tokio::test(start_paused = true)]
    async fn missing_id_is_generated_sequentially() {
        let p = Pipeline::new().with(RequestId::new());
        let endpoint = |_req: Request| async { Response::text(200, "") };
        let first = p.respond(Request::new("GET", "/"), &endpoint).await;
        let second = p.respond(Request::new("GET", "/"), &endpoint).await;
        assert_eq!(first.header(HEADER), Some("req-1"));
        assert_eq!(second.header(HEADER), Some("req-2"));
    }
}
