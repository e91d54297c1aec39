//! gunicorn's gthread worker, as the trace shows it: threads that wait in
//! parallel, compute in turn under their worker's GIL, keep connections
//! alive for `keepalive`, and a heartbeat from the main loop that a stuck
//! thread does not stop. The `gthread` lesson's figures are predicted from
//! each variant's own configuration, never typed in.

use std::path::Path;

use roundtrip::scenario::{self, Lesson, Outcome};
use roundtrip::trace::{Event, StepId, Trace};

fn run(source: &str) -> Outcome {
    let path = Path::new("gthread-test.toml");
    let scenario =
        scenario::validate::parse(path, source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    let lesson = Lesson {
        name: "gthread-test".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    let outcome = scenario::run(&lesson).unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    outcome
}

fn one(source: &str) -> Trace {
    run(source).into_traces().remove(0)
}

fn steps(t: &Trace, step: StepId) -> Vec<&Event> {
    t.events.iter().filter(|e| e.step == step).collect()
}

/// When request `id` was answered to the client, in ms from the start.
fn answered_ms(t: &Trace, id: u64) -> u64 {
    t.events
        .iter()
        .find(|e| e.step == StepId::ClientResponseReceive && e.request == Some(id))
        .map(|e| e.at_ns / 1_000_000)
        .unwrap_or_else(|| panic!("request {id} got no answer"))
}

const GTHREAD_1X2: &str = "title = \"x\"\n[stack.app_server]\ninterface = \"wsgi\"\n\
     workers = 1\nworker_class = \"gthread\"\nthreads = 2\n";

#[test]
fn two_threads_of_one_worker_wait_on_io_at_the_same_time() {
    let t = one(&format!(
        "{GTHREAD_1X2}[[request]]\npath = \"/slow?ms=100\"\n[[request]]\npath = \"/slow?ms=100\"\n"
    ));
    assert_eq!((answered_ms(&t, 1), answered_ms(&t, 2)), (100, 100));
    assert_eq!(steps(&t, StepId::AppServerThread).len(), 2);
    assert!(steps(&t, StepId::AppServerGil).is_empty());
}

#[test]
fn two_threads_of_one_worker_take_turns_for_the_gil_when_they_compute() {
    let t = one(&format!(
        "{GTHREAD_1X2}[[request]]\npath = \"/cpu?ms=100\"\n[[request]]\npath = \"/cpu?ms=100\"\n"
    ));
    // 200 ms of CPU on one GIL: both finish near 200 ms, in 5 ms turns,
    // not one at 100 and one at 200.
    let (a, b) = (answered_ms(&t, 1), answered_ms(&t, 2));
    assert!(
        (190..=200).contains(&a) && (190..=200).contains(&b),
        "{a} {b}"
    );
    assert_eq!(steps(&t, StepId::AppServerGil).len(), 2);
}

#[test]
fn a_gthread_worker_keeps_the_connection_and_the_web_server_reuses_it() {
    let t = one(&format!(
        "{GTHREAD_1X2}[[request]]\npath = \"/notes\"\n[[request]]\npath = \"/notes\"\nat = \"500ms\"\n"
    ));
    assert_eq!(steps(&t, StepId::WebServerProxyConnect).len(), 1);
    assert_eq!(steps(&t, StepId::AppServerKeepalive).len(), 2);
    let sent = steps(&t, StepId::AppServerResponseSend);
    assert!(
        sent.iter()
            .all(|e| !format!("{:?}", e.data).contains("Connection: close")),
        "a kept-alive response says nothing of closing"
    );
}

#[test]
fn an_idle_kept_connection_is_closed_at_the_main_loops_first_wake_after_keepalive() {
    let t = one(&format!(
        "{GTHREAD_1X2}keepalive = \"2s\"\n[[request]]\npath = \"/notes\"\n\
         [[request]]\npath = \"/notes\"\nat = \"5s\"\n"
    ));
    let kept = steps(&t, StepId::AppServerKeepalive)[0].at_ns;
    let closed = steps(&t, StepId::AppServerKeepaliveTimeout)[0].at_ns;
    let idle = (closed - kept) as f64 / 1e9;
    // The deadline is 2 s; the loop looks at least once a second.
    assert!((2.0..3.0).contains(&idle), "closed after {idle} s idle");
    // The second request needs a new upstream connection.
    assert_eq!(steps(&t, StepId::WebServerProxyConnect).len(), 2);
}

#[test]
fn a_thread_stuck_longer_than_timeout_does_not_get_its_gthread_worker_killed() {
    let t = one(&format!(
        "{GTHREAD_1X2}timeout = \"2s\"\n[[request]]\npath = \"/blocking?ms=5000\"\n\
         expect = {{ status = 200 }}\n[[request]]\npath = \"/notes\"\nat = \"1s\"\n"
    ));
    assert!(steps(&t, StepId::AppServerWorkerTimeout).is_empty());
    assert_eq!(answered_ms(&t, 1), 5000);
    // The other thread serves meanwhile.
    assert!(answered_ms(&t, 2) < 1100);
}

#[test]
fn the_sync_class_with_more_than_one_thread_runs_gthread_as_gunicorn_does() {
    let t = one(
        "title = \"x\"\n[stack.app_server]\ninterface = \"wsgi\"\nworkers = 1\nthreads = 2\n\
         [[request]]\npath = \"/notes\"\n",
    );
    assert_eq!(steps(&t, StepId::AppServerThread).len(), 1);
    assert!(steps(&t, StepId::AppServerWorker).is_empty());
}

#[test]
fn past_worker_connections_a_worker_stops_accepting_and_the_rest_wait_in_the_backlog() {
    let mut src = String::from(
        "title = \"x\"\n[stack.app_server]\ninterface = \"wsgi\"\nworkers = 1\n\
         worker_class = \"gthread\"\nthreads = 1\nworker_connections = 2\n",
    );
    for _ in 0..4 {
        src.push_str("[[request]]\npath = \"/slow?ms=100\"\n");
    }
    let t = one(&src);
    let full = steps(&t, StepId::AppServerThreadQueue)
        .into_iter()
        .filter(|e| {
            e.knob
                .as_ref()
                .is_some_and(|k| k.name == "worker_connections")
        })
        .count();
    assert!(full >= 1, "the worker said it stopped accepting");
    let accepts = steps(&t, StepId::AppServerAccept);
    // Two accepted at once; the others only when a connection closed.
    assert_eq!(accepts.iter().filter(|e| e.at_ns == 0).count(), 2);
    assert_eq!(accepts.len(), 4);
}

/// What the `gthread` lesson should measure for one variant, from its own
/// configuration: on a closed loop of C clients and service time S,
/// X = min(capacity, C) / S, where the capacity is the number of requests
/// served at once: a sync worker serves one; a gthread worker serves
/// `threads` that wait on I/O, but only one that computes (its GIL).
fn predicted_throughput(trace: &Trace) -> f64 {
    let config = &trace.meta.config["app_server"];
    let load = trace
        .metrics
        .as_ref()
        .and_then(|m| m.load.as_ref())
        .expect("a load");
    let clients = load.clients.expect("a closed loop") as f64;
    let path = &load.mix[0].path;
    let ms: f64 = path
        .split_once("ms=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("{path} says no ms="));
    let s = ms / 1000.0;
    let workers = config["workers"].as_u64().expect("workers") as f64;
    let threads = config["threads"].as_u64().expect("threads") as f64;
    let gthread = config["worker_class"] == "gthread" || threads > 1.0;
    let per_worker = match (gthread, path.starts_with("/cpu")) {
        (false, _) => 1.0,
        (true, true) => 1.0,
        (true, false) => threads,
    };
    (workers * per_worker).min(clients) / s
}

#[test]
fn the_gthread_lesson_serves_what_each_variants_configuration_predicts() {
    let o = scenario::run_named("gthread").expect("the gthread lesson");
    assert!(o.unmet.is_empty(), "{:?}", o.unmet);
    let traces = o.into_traces();
    assert_eq!(traces.len(), 3);
    for t in &traces {
        let m = t.metrics.as_ref().expect("metrics");
        let measured = m.throughput_per_s.expect("a throughput");
        let predicted = predicted_throughput(t);
        let name = &t.meta.variant.as_ref().expect("a variant").name;
        assert!(
            (measured - predicted).abs() <= 0.10 * predicted,
            "{name}: measured {measured} requests/s, predicted {predicted}"
        );
        assert_eq!(m.errors, 0, "{name}");
    }
}
