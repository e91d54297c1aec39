//! Access log: one line per request, written when the response passes on
//! its way up, in the Common Log Format that nginx and Apache made familiar:
//!
//! ```text
//! 10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /notes HTTP/1.1" 200 85
//! host      ident user  time                 request line          status bytes
//! ```
//!
//! It measures how long the inner onion took: the clock is read before
//! `next.run(req)` and after it, so the duration covers the inner
//! middleware, the router, the handler and the database. Put it outermost
//! to time everything, inside a short-circuiting middleware to time less.
//! Time comes from tokio's clock, so in a lesson (paused clock) the
//! duration is simulated and the same on every run.
//!
//! What we simplify: the line goes into the trace, not a file; the host is
//! `X-Real-IP` from our web server (behind a proxy the socket's peer is the
//! proxy itself, which is why nginx sets that header).
//!
//! Book: "The framework" (book/src/framework.md).

use std::time::Duration;

use tokio::time::Instant;

use super::{Middleware, Next};
use crate::clock::Clock;
use crate::framework::{Outcome, Request};
use crate::gateway::BoxFuture;
use crate::http::text::{decimal, push_decimal};
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// Logs method, path, status, size and duration of every request.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    /// Where the `[time]` of each line comes from.
    clock: Clock,
}

impl AccessLog {
    pub fn new(clock: Clock) -> AccessLog {
        AccessLog { clock }
    }
}

impl Middleware for AccessLog {
    fn name(&self) -> &'static str {
        "access_log"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            // Nobody recording: the line goes nowhere, so build none of it.
            if !Step::enabled() {
                return next.run(req).await;
            }
            let started = Instant::now();
            let time = clf_time(&self.clock.http_date());
            let host = req.header("x-real-ip").unwrap_or("-").to_string();
            let target = if req.query.is_empty() {
                req.path.clone()
            } else {
                [req.path.as_str(), "?", &req.query].concat()
            };
            let (method, path, version) =
                (req.method.clone(), req.path.clone(), req.version.clone());
            let res = next.run(req).await?;
            let took = millis(started.elapsed());
            let bytes = res.body.len();
            let status = decimal(u64::from(res.status));
            let size = decimal(bytes as u64);
            #[rustfmt::skip]
            let line = [
                &host, " - - [", &time, "] \"", &method, " ", &target, " ", &version, "\" ",
                &status, " ", &size,
            ]
            .concat();
            #[rustfmt::skip]
            let summary = [
                "logs ", &method, " ", &path, " → ", &res.status_line(), ", ", &size,
                " bytes, took ", &took,
            ]
            .concat();
            Step::new(StepId::FrameworkAccessLog, Direction::Within, Kind::Step)
                .summary(summary)
                .data(Data::Fields {
                    entries: vec![
                        ("method".to_string(), method),
                        ("path".to_string(), path),
                        ("status".to_string(), status),
                        ("bytes".to_string(), size),
                        ("duration".to_string(), took),
                        ("line".to_string(), line),
                    ],
                })
                .emit();
            Ok(res)
        })
    }
}

/// `Thu, 01 Jan 2026 00:00:00 GMT` → `01/Jan/2026:00:00:00 +0000`.
fn clf_time(http_date: &str) -> String {
    let mut parts = http_date.split_whitespace();
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(_), Some(day), Some(month), Some(year), Some(hms), Some(_), None) => {
            [day, "/", month, "/", year, ":", hms, " +0000"].concat()
        }
        _ => http_date.to_string(),
    }
}

/// A duration in milliseconds, decimals only when needed: `2ms`, `2.5ms`.
/// The same text as `format!("{}ms", micros as f64 / 1000.0)`: a whole
/// number of milliseconds has no decimals, and a fraction drops its
/// trailing zeros (shortest round-trip, as `f64`'s `Display` writes it).
fn millis(d: Duration) -> String {
    let micros = d.as_micros();
    let mut s = String::with_capacity(12);
    push_decimal(&mut s, u64::try_from(micros / 1000).unwrap_or(u64::MAX));
    let frac = (micros % 1000) as u32;
    if frac != 0 {
        s.push('.');
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        // Not all three are zero: drop the trailing zeros.
        let mut used = 3;
        while digits[used - 1] == 0 {
            used -= 1;
        }
        for d in &digits[..used] {
            s.push(char::from(b'0' + *d as u8));
        }
    }
    s.push_str("ms");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::LESSON_EPOCH_SECS;
    use crate::framework::Response;
    use crate::framework::middleware::Pipeline;

    #[test]
    fn http_date_becomes_common_log_time() {
        assert_eq!(
            clf_time("Thu, 01 Jan 2026 00:00:00 GMT"),
            "01/Jan/2026:00:00:00 +0000"
        );
        assert_eq!(millis(Duration::from_micros(2500)), "2.5ms");
        assert_eq!(millis(Duration::from_millis(2)), "2ms");
        // As f64's Display writes micros / 1000, for every fraction.
        for micros in (0..3000).chain([1_234_567, 86_400_000_001, 999_999_999_999]) {
            let d = Duration::from_micros(micros);
            assert_eq!(
                millis(d),
                format!("{}ms", micros as f64 / 1000.0),
                "{micros}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn duration_covers_the_inner_onion() {
        let (_guard, recording) = crate::framework::testing::record();
        let p = Pipeline::new().with(AccessLog::new(Clock::starting_at(LESSON_EPOCH_SECS)));
        let endpoint = |_req: Request| async {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Response::text(200, "four")
        };
        let req = Request::new("GET", "/notes").with_header("X-Real-IP", "10.0.0.1");
        p.respond(req, &endpoint).await;
        let events = recording.take();
        let log = events
            .iter()
            .find(|e| e.step == crate::trace::StepId::FrameworkAccessLog)
            .expect("an access log event");
        assert_eq!(log.summary, "logs GET /notes → 200 OK, 4 bytes, took 3ms");
        let Some(Data::Fields { entries }) = log.data.first() else {
            panic!("access log carries fields");
        };
        assert_eq!(
            entries.last().map(|(_, v)| v.as_str()),
            Some("10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET /notes HTTP/1.1\" 200 4")
        );
    }
}
