//! The `[load]` generator: what it sends, on which connections, and that
//! the lesson's seed alone decides it.

use std::collections::BTreeMap;

use roundtrip::scenario::{self, Outcome};
use roundtrip::trace::export::json;
use roundtrip::trace::{Instance, StepId, Trace};

fn outcome(source: &str) -> Outcome {
    let path = std::path::Path::new("load-test.toml");
    let scenario = scenario::validate::parse(path, source).unwrap_or_else(|e| panic!("{e}"));
    let lesson = scenario::Lesson {
        name: "load-test".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    scenario::run(&lesson).expect("the lesson runs")
}

fn trace(source: &str) -> Trace {
    outcome(source).trace
}

/// An open loop of `rate` for 2 s, mixing two targets 3 : 1.
fn open_loop(seed: u64, rate: &str) -> String {
    format!(
        "title = \"open\"\nseed = {seed}\n[stack.app]\ndb_latency = \"5ms\"\n\
         [load]\nrate = \"{rate}\"\nduration = \"2s\"\n\
         [[load.mix]]\npath = \"/notes\"\nweight = 3\n\
         [[load.mix]]\npath = \"/notes/1\"\nweight = 1\n"
    )
}

/// When each request was sent, and to what target.
fn sends(trace: &Trace) -> Vec<(u64, String)> {
    trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientRequestSend)
        .map(|e| (e.at_ns, e.summary.clone()))
        .collect()
}

/// How many requests the client sent on each of its connections.
fn requests_per_client_connection(trace: &Trace) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for e in trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientRequestSend)
    {
        if let Some(Instance::Client { conn }) = e.instance {
            *out.entry(conn).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn the_same_seed_sends_the_same_requests_at_the_same_nanoseconds() {
    let a = trace(&open_loop(7, "40/s"));
    let b = trace(&open_loop(7, "40/s"));
    assert_eq!(json::to_json(&a), json::to_json(&b));
    let c = trace(&open_loop(8, "40/s"));
    assert_ne!(sends(&a), sends(&c), "another seed, other arrivals");
}

#[test]
fn an_open_loop_sends_about_rate_times_duration_at_uneven_gaps() {
    let t = trace(&open_loop(1, "100/s"));
    let sent = sends(&t);
    let expected = 100.0 * 2.0;
    let n = sent.len() as f64;
    // A Poisson count has a standard deviation of √n: allow four.
    assert!(
        (n - expected).abs() <= 4.0 * expected.sqrt(),
        "{n} sent, about {expected} expected"
    );
    // Exponential gaps: their standard deviation is their mean (a
    // metronome's would be 0). tokio's timer counts whole milliseconds, so
    // the gaps are rounded to them; that changes the spread only a little.
    let gaps: Vec<f64> = sent.windows(2).map(|w| (w[1].0 - w[0].0) as f64).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    assert!(
        (sd / mean - 1.0).abs() < 0.2,
        "gaps: mean {mean} ns, sd {sd} ns"
    );
    assert!(sent.iter().all(|(at, _)| *at < 2_000_000_000));
}

#[test]
fn the_mix_is_sent_in_proportion_to_its_weights() {
    let t = trace(&open_loop(3, "200/s"));
    let sent = sends(&t);
    let one = sent
        .iter()
        .filter(|(_, s)| s.contains("GET /notes/1 "))
        .count() as f64;
    let share = one / sent.len() as f64;
    // Weight 1 of 4.
    assert!(
        (share - 0.25).abs() < 0.05,
        "{share} of requests were /notes/1"
    );
}

#[test]
fn every_open_loop_arrival_opens_its_own_connection() {
    let t = trace(&open_loop(1, "50/s"));
    let per_conn = requests_per_client_connection(&t);
    assert!(per_conn.len() > 50);
    assert!(per_conn.values().all(|&n| n == 1), "{per_conn:?}");
}

#[test]
fn a_closed_loop_client_keeps_its_connection_while_the_server_keeps_it_alive() {
    let t = trace(
        "title = \"closed\"\n[stack.app]\ndb_latency = \"10ms\"\n\
         [load]\nclients = 3\nduration = \"1s\"\n[[load.mix]]\npath = \"/notes\"\n",
    );
    let per_conn = requests_per_client_connection(&t);
    assert_eq!(per_conn.len(), 3, "one connection per client: {per_conn:?}");
    assert!(per_conn.values().all(|&n| n > 10), "{per_conn:?}");
}

#[test]
fn a_closed_loop_client_reconnects_after_connection_close() {
    let t = trace(
        "title = \"closed\"\n[stack.app]\ndb_latency = \"10ms\"\n\
         [load]\nclients = 2\nduration = \"500ms\"\n\
         [[load.mix]]\npath = \"/notes\"\nclose = true\n",
    );
    let per_conn = requests_per_client_connection(&t);
    assert!(per_conn.len() > 2);
    assert!(per_conn.values().all(|&n| n == 1), "{per_conn:?}");
    // Two clients, 10 ms a request: about 50 requests each.
    let total: u64 = per_conn.values().sum();
    assert!((90..=110).contains(&total), "{total} requests");
}

#[test]
fn a_closed_loop_client_thinks_between_requests() {
    let t = trace(
        "title = \"think\"\n[stack.app]\ndb_latency = \"10ms\"\n\
         [load]\nclients = 1\nthink = \"90ms\"\nduration = \"1s\"\n[[load.mix]]\npath = \"/notes\"\n",
    );
    let at: Vec<u64> = sends(&t).into_iter().map(|(at, _)| at).collect();
    // 10 ms of service and 90 ms of thought: one request every 100 ms.
    assert_eq!(at.len(), 10);
    assert!(at.windows(2).all(|w| w[1] - w[0] == 100_000_000), "{at:?}");
}

#[test]
fn a_written_request_during_a_load_is_sent_and_checked_as_usual() {
    let o = outcome(
        "title = \"both\"\n[stack.app_server]\nworkers = 2\n[stack.app]\ndb_latency = \"100ms\"\n\
         [load]\nclients = 4\nduration = \"2s\"\n[[load.mix]]\npath = \"/notes\"\n\
         [[request]]\npath = \"/notes/1\"\nat = \"1s\"\nexpect = { status = 200, answered_by = \"handler\" }\n",
    );
    assert!(o.unmet.is_empty(), "{:?}", o.unmet);
    let written: Vec<_> = o
        .trace
        .requests
        .iter()
        .filter(|r| r.target == "/notes/1")
        .collect();
    assert_eq!(written.len(), 1);
    // It queued behind the load: more than its own 100 ms.
    let r = written[0];
    assert!(r.finished_ns - r.started_ns > 100_000_000, "{r:?}");
    let m = o.trace.metrics.expect("metrics");
    assert_eq!(m.load.expect("a load").clients, Some(4));
}
