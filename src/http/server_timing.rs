//! The `Server-Timing` response field (W3C Server Timing, §3): each layer
//! that handled a response adds a metric with its name, a description and
//! its duration in milliseconds. Browser DevTools draw them as bars, so a
//! page loaded through `serve --server-timing` shows the same layers as the
//! trace.
//!
//! Book: "Using roundtrip" (book/src/using.md).

use std::time::Duration;

/// One metric, e.g. `app;desc="app server";dur=2.000`.
pub fn metric(name: &str, desc: &str, took: Duration) -> String {
    format!(
        "{name};desc=\"{desc}\";dur={:.3}",
        took.as_secs_f64() * 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_has_name_description_and_milliseconds() {
        assert_eq!(
            metric("app", "app server", Duration::from_micros(2500)),
            "app;desc=\"app server\";dur=2.500"
        );
    }
}
