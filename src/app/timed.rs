//! Endpoints that take time, each a different kind of work: what the
//! sync-vs-async lessons put under load.
//!
//! | route | work | in a sync worker | on the event loop |
//! |---|---|---|---|
//! | `GET /slow?ms=100` | awaits an external call | holds the worker | frees the loop |
//! | `GET /cpu?ms=20` | computes | holds the worker | holds the loop |
//! | `GET /blocking?ms=100` | a blocking call inside async code (`time.sleep`) | holds the worker | **holds the whole loop** |
//! | `GET /threadpool?ms=100` | the same call, through `run_in_threadpool` | holds the worker | holds a pool thread, frees the loop |
//!
//! `ms` sets the duration (default as in the table, at most 60000); a value
//! that is not a whole number gets FastAPI's 422 for a bad query parameter.
//! What each kind of work holds is decided by the app server running the
//! handler, not here: see `gateway::work`.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md).

use std::time::Duration;

use serde_json::json;

use crate::framework::{Request, Response};
use crate::gateway::work::{Work, perform};

/// Longest a timed endpoint may be asked to take.
pub const MAX_MS: u64 = 60_000;

/// `GET /slow`: awaits a (simulated) external call.
pub async fn slow(req: Request) -> Response {
    timed(req, 100, Work::Io).await
}

/// `GET /cpu`: computes.
pub async fn cpu(req: Request) -> Response {
    timed(req, 20, Work::Cpu).await
}

/// `GET /blocking`: a blocking call inside `async def`.
pub async fn blocking(req: Request) -> Response {
    timed(req, 100, Work::Blocking).await
}

/// `GET /threadpool`: the blocking call, handed to the thread pool.
pub async fn threadpool(req: Request) -> Response {
    timed(req, 100, Work::Threadpool).await
}

async fn timed(req: Request, default_ms: u64, work: fn(Duration) -> Work) -> Response {
    let ms = match duration_ms(&req, default_ms) {
        Ok(ms) => ms,
        Err(bad) => return bad,
    };
    let work = work(Duration::from_millis(ms));
    perform(work).await;
    Response::json(200, &json!({"work": work.label(), "ms": ms}))
        .with_note(format!("after {} of {ms} ms", work.label()))
}

/// The `ms` query parameter, or FastAPI's 422 for a bad one.
fn duration_ms(req: &Request, default_ms: u64) -> Result<u64, Response> {
    let Some(raw) = req.query_param("ms") else {
        return Ok(default_ms);
    };
    let invalid = |kind: &str, msg: String| {
        Response::json(
            422,
            &json!({"detail": [{"type": kind, "loc": ["query", "ms"], "msg": msg, "input": raw}]}),
        )
        .with_note("because ms is not a duration this endpoint accepts")
    };
    match raw.parse::<u64>() {
        Ok(ms) if ms <= MAX_MS => Ok(ms),
        Ok(_) => Err(invalid(
            "less_than_equal",
            format!("Input should be less than or equal to {MAX_MS}"),
        )),
        Err(_) => Err(invalid(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_defaults_parses_and_refuses_what_is_not_a_duration() {
        let req = |q: &str| Request {
            query: q.to_string(),
            ..Request::new("GET", "/slow")
        };
        assert_eq!(duration_ms(&req(""), 100).ok(), Some(100));
        assert_eq!(duration_ms(&req("ms=250"), 100).ok(), Some(250));
        assert_eq!(duration_ms(&req("x=1&ms=7"), 100).ok(), Some(7));
        let bad = duration_ms(&req("ms=abc"), 100).err().map(|r| r.status);
        assert_eq!(bad, Some(422));
        let big = duration_ms(&req("ms=60001"), 100).err().map(|r| r.status);
        assert_eq!(big, Some(422));
    }
}
