//! Comparing runs: one lesson, the same requests and the same seeded load,
//! sent to two or more variants of a stack (`[[compare]]`), each run on
//! its own paused clock. This module sets their figures side by side.
//!
//! ```text
//!   [load] + seed ──▶ variant 1 (gunicorn -w 4) ──▶ Trace ──▶ Metrics ─┐
//!                 ──▶ variant 2 (uvicorn)       ──▶ Trace ──▶ Metrics ─┼─▶ Comparison
//!                 ──▶ variant 3 (…)             ──▶ Trace ──▶ Metrics ─┘
//! ```
//!
//! Every figure here is one of [`super::metrics`], copied from the
//! variant's own trace: the comparison adds no measurement of its own, so
//! a figure in the table is always the figure in that variant's
//! transcript. Only the ratios of throughput (each variant's over the
//! first's) are new, and they are computed from those figures.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section "Two
//! stacks, one load".

use serde::{Deserialize, Serialize};

use super::metrics::Spread;
use super::model::{Data, Trace};
use super::vocab::{Layer, StepId};

/// The figures of every variant of one lesson, in the lesson's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The seed every variant's load was drawn from.
    pub seed: u64,
    pub variants: Vec<VariantFigures>,
}

/// One variant's figures, from its trace's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantFigures {
    pub name: String,
    /// The app server, as the stack diagram describes it
    /// ("WSGI · 4 sync workers").
    pub app_server: String,
    /// The requests of its load's mix, as `METHOD path` (empty without a
    /// `[load]`).
    pub mix: Vec<String>,
    /// Requests sent within the measured window.
    pub sent: u64,
    /// Requests whose whole response arrived within the window.
    pub completed: u64,
    /// Completed requests per second of window (X).
    pub throughput_per_s: Option<f64>,
    /// This variant's throughput divided by the first variant's.
    pub throughput_ratio: Option<f64>,
    /// From the client's first byte sent to the last byte received.
    pub latency: Option<Spread>,
    /// Waits in the app server's listen backlog.
    pub queue_wait: Option<Spread>,
    /// Event loop: waits between a task being ready and first running.
    pub task_ready_wait: Option<Spread>,
    /// Share of the window the sync workers were busy (0 to 1).
    pub worker_utilization: Option<f64>,
    /// Share of the window the event loop was running a task (0 to 1).
    pub loop_utilization: Option<f64>,
    /// Answers with status 400 or above, and requests with no answer.
    pub errors: u64,
    /// Steps recorded in the whole run.
    pub steps: u64,
    /// What crossed the gateway for the run's first request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayCrossing>,
}

/// What the app server handed the application for one request, and what
/// came back: WSGI's `environ` and `start_response`, or ASGI's `scope`
/// and messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCrossing {
    /// `environ` (WSGI) or `scope` (ASGI).
    pub handed: String,
    /// Its keys, in the order the server built it.
    pub keys: Vec<String>,
    /// In order: `start_response("200 OK", 6 headers)` (WSGI), or each
    /// ASGI message as `receive() http.request` / `send() http.response.start`.
    pub calls: Vec<String>,
}

/// Set the figures of `traces` (one per variant, in order) side by side.
pub fn compare(traces: &[&Trace]) -> Comparison {
    let mut variants: Vec<VariantFigures> = traces.iter().map(|t| figures(t)).collect();
    let first = variants.first().and_then(|v| v.throughput_per_s);
    for v in &mut variants {
        v.throughput_ratio = match (v.throughput_per_s, first) {
            (Some(x), Some(base)) if base > 0.0 => Some((x / base * 1000.0).round() / 1000.0),
            _ => None,
        };
    }
    Comparison {
        seed: traces.first().map_or(0, |t| t.meta.seed),
        variants,
    }
}

fn figures(trace: &Trace) -> VariantFigures {
    let name = trace
        .meta
        .variant
        .as_ref()
        .map_or_else(|| trace.meta.scenario.clone(), |v| v.name.clone());
    let app_server = trace
        .layers
        .iter()
        .find(|l| l.layer == Layer::AppServer)
        .map(|l| l.detail.clone())
        .unwrap_or_default();
    let m = trace.metrics.as_ref();
    VariantFigures {
        name,
        app_server,
        mix: m
            .and_then(|m| m.load.as_ref())
            .map(|l| {
                l.mix
                    .iter()
                    .map(|x| format!("{} {}", x.method, x.path))
                    .collect()
            })
            .unwrap_or_default(),
        sent: m.map_or(0, |m| m.sent),
        completed: m.map_or(0, |m| m.completed),
        throughput_per_s: m.and_then(|m| m.throughput_per_s),
        throughput_ratio: None,
        latency: m.and_then(|m| m.latency),
        queue_wait: m.and_then(|m| m.queue_wait),
        task_ready_wait: m.and_then(|m| m.task_ready_wait),
        worker_utilization: m.and_then(|m| m.workers.map(|w| w.utilization)),
        loop_utilization: m.and_then(|m| m.event_loop.map(|l| l.utilization)),
        errors: m.map_or(0, |m| m.errors),
        steps: trace.events.len() as u64,
        gateway: gateway_crossing(trace),
    }
}

/// What crossed the gateway for the first request of `trace`, from the
/// data of its app server steps.
pub fn gateway_crossing(trace: &Trace) -> Option<GatewayCrossing> {
    let first = trace.requests.first()?.id;
    let mut crossing: Option<GatewayCrossing> = None;
    let mut calls = Vec::new();
    for e in trace
        .events
        .iter()
        .filter(|e| e.request == Some(first) && e.layer == Layer::AppServer)
    {
        for d in &e.data {
            match d {
                Data::Environ { entries } => {
                    crossing = Some(GatewayCrossing {
                        handed: "environ".into(),
                        keys: entries.iter().map(|(k, _)| k.clone()).collect(),
                        calls: Vec::new(),
                    });
                }
                Data::Scope { entries } => {
                    crossing = Some(GatewayCrossing {
                        handed: "scope".into(),
                        keys: entries.iter().map(|(k, _)| k.clone()).collect(),
                        calls: Vec::new(),
                    });
                }
                Data::StartResponse { status, headers } => calls.push(format!(
                    "start_response(\"{status}\", {} header{})",
                    headers.len(),
                    if headers.len() == 1 { "" } else { "s" }
                )),
                Data::AsgiMessage { call, message } => {
                    let kind = message
                        .iter()
                        .find(|(k, _)| k == "type")
                        .and_then(|(_, v)| v.as_str())
                        .unwrap_or("?");
                    calls.push(format!("{call}() {kind}"));
                }
                _ => {}
            }
        }
    }
    crossing.map(|c| GatewayCrossing { calls, ..c })
}

/// The app server's steps for the first request of `trace`, in order:
/// what a WSGI and an ASGI gateway do differently with the same request.
pub fn app_server_steps(trace: &Trace) -> Vec<StepId> {
    let Some(first) = trace.requests.first().map(|r| r.id) else {
        return Vec::new();
    };
    trace
        .events
        .iter()
        .filter(|e| e.request == Some(first) && e.layer == Layer::AppServer)
        .map(|e| e.step)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::{Meta, VariantMeta};

    fn trace(name: &str) -> Trace {
        Trace {
            meta: Meta {
                scenario: "lesson".into(),
                title: String::new(),
                summary: String::new(),
                seed: 7,
                version: String::new(),
                started_at: String::new(),
                config: serde_json::Value::Null,
                variant: Some(VariantMeta {
                    index: 1,
                    of: 2,
                    name: name.into(),
                }),
            },
            metrics: None,
            layers: Vec::new(),
            connections: Vec::new(),
            upstream_connections: Vec::new(),
            requests: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_comparison_names_each_variant_in_order_and_keeps_the_seed() {
        let (a, b) = (trace("sync"), trace("async"));
        let c = compare(&[&a, &b]);
        assert_eq!(c.seed, 7);
        let names: Vec<&str> = c.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["sync", "async"]);
        // No figures, no ratio.
        assert_eq!(c.variants[1].throughput_ratio, None);
    }
}
