//! Golden files for every bundled lesson (its transcript and its whole
//! trace), determinism (the same lesson file gives a byte-identical trace
//! every time), and the links of `many-at-once`: every step of its four
//! overlapping requests is attached to the right request, connection and
//! worker.
//!
//! After a change that alters traces on purpose, regenerate the golden
//! files with `INSTA_UPDATE=always cargo test --test lessons` and review
//! the diff.

use std::collections::BTreeMap;

use roundtrip::scenario::{self, bundled};
use roundtrip::trace::export::{json, plain};
use roundtrip::trace::state::StateBoard;
use roundtrip::trace::{
    ConnState, Event, Hop, Instance, Layer, QueueChange, StateChange, StepId, Trace, WorkerState,
};

/// Run a bundled lesson; it must meet its expectations and use all its
/// narration.
fn run(name: &str) -> Trace {
    let outcome = scenario::run_named(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"));
    assert!(
        outcome.unmet.is_empty(),
        "lesson {name} missed its expectations: {:?}",
        outcome.unmet
    );
    assert!(
        outcome.unused_narration.is_empty(),
        "lesson {name} has narration that matches no step: {:?}",
        outcome.unused_narration
    );
    outcome.trace
}

fn transcript(name: &str) -> String {
    plain::transcript(&run(name))
}

/// The whole trace, exactly as `roundtrip run NAME --json` prints it.
fn whole_trace(name: &str) -> String {
    json::to_json(&run(name))
}

/// Every bundled lesson, with its two golden files.
const GOLDEN: &[&str] = &[
    "hello",
    "post-note",
    "keep-alive",
    "not-found",
    "method-not-allowed",
    "too-large",
    "bad-request",
    "many-at-once",
    "blocking-the-loop",
];

/// Two tests per lesson: the transcript (`tests/snapshots/lessons__NAME.snap`)
/// and the whole trace (`tests/snapshots/lessons__NAME.trace.snap`).
macro_rules! golden {
    ($transcript_test:ident, $trace_test:ident, $name:literal) => {
        #[test]
        fn $transcript_test() {
            insta::assert_snapshot!($name, transcript($name));
        }

        #[test]
        fn $trace_test() {
            insta::assert_snapshot!(concat!($name, ".trace"), whole_trace($name));
        }
    };
}

golden!(
    hello_transcript_crosses_every_layer,
    hello_whole_trace_is_unchanged,
    "hello"
);
golden!(
    post_note_transcript_inserts_and_answers_201,
    post_note_whole_trace_is_unchanged,
    "post-note"
);
golden!(
    keep_alive_transcript_reuses_one_connection,
    keep_alive_whole_trace_is_unchanged,
    "keep-alive"
);
golden!(
    not_found_transcript_turns_back_at_the_router,
    not_found_whole_trace_is_unchanged,
    "not-found"
);
golden!(
    method_not_allowed_transcript_lists_allow,
    method_not_allowed_whole_trace_is_unchanged,
    "method-not-allowed"
);
golden!(
    too_large_transcript_turns_back_at_the_web_server,
    too_large_whole_trace_is_unchanged,
    "too-large"
);
golden!(
    bad_request_transcript_refuses_cl_plus_te,
    bad_request_whole_trace_is_unchanged,
    "bad-request"
);
golden!(
    many_at_once_transcript_queues_two_requests_behind_two_workers,
    many_at_once_whole_trace_is_unchanged,
    "many-at-once"
);
golden!(
    blocking_the_loop_transcript_freezes_the_loop_then_frees_it,
    blocking_the_loop_whole_trace_is_unchanged,
    "blocking-the-loop"
);

#[test]
fn every_bundled_lesson_has_a_golden_transcript_and_a_golden_trace() {
    let snapshots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for name in bundled::names() {
        assert!(
            GOLDEN.contains(&name),
            "lesson {name} has no golden tests: add it to GOLDEN and a golden! line"
        );
        for file in [
            format!("lessons__{name}.snap"),
            format!("lessons__{name}.trace.snap"),
        ] {
            assert!(
                snapshots.join(&file).is_file(),
                "lesson {name} has no golden file tests/snapshots/{file}"
            );
        }
    }
    for name in GOLDEN {
        assert!(
            bundled::names().any(|n| n == *name),
            "{name} has golden tests but is not a bundled lesson"
        );
    }
}

#[test]
fn every_lesson_gives_byte_identical_json_twice() {
    for name in bundled::names() {
        let a = json::to_json(&scenario::run_named(name).unwrap().trace);
        let b = json::to_json(&scenario::run_named(name).unwrap().trace);
        assert!(a == b, "lesson {name} is not deterministic");
    }
}

#[test]
fn hello_goes_down_every_layer_and_back_up_in_order() {
    let trace = scenario::run_named("hello").unwrap().trace;
    // The first time each layer appears in the request's steps, in order,
    // is the way down.
    let mut first_seen = Vec::new();
    for e in trace.events.iter().filter(|e| e.request == Some(1)) {
        if !first_seen.contains(&e.layer) {
            first_seen.push(e.layer);
        }
    }
    assert_eq!(first_seen, Layer::ALL.to_vec());
    let last = trace.events.iter().rev().find(|e| {
        e.layer == Layer::Client && e.step == roundtrip::trace::StepId::ClientResponseReceive
    });
    assert!(last.is_some(), "the response reached the client");
    let r = &trace.requests[0];
    assert_eq!(r.status, Some(200));
    assert_eq!(r.answered_by, Some(Layer::Handler));
}

#[test]
fn too_large_never_reaches_the_app_server_and_names_the_knob() {
    let trace = scenario::run_named("too-large").unwrap().trace;
    // The sync workers exist (they start idle), but no step of the request
    // goes below the web server.
    assert!(
        trace
            .events
            .iter()
            .filter(|e| e.request.is_some())
            .all(|e| e.layer <= Layer::WebServer)
    );
    assert!(
        !trace
            .events
            .iter()
            .any(|e| e.step == roundtrip::trace::StepId::AppServerAccept),
        "the app server never accepted a connection"
    );
    let r = &trace.requests[0];
    assert_eq!(r.status, Some(413));
    assert_eq!(r.answered_by, Some(Layer::WebServer));
    assert_eq!(
        r.knob.as_ref().map(|k| k.name.as_str()),
        Some("client_max_body_size")
    );
}

#[test]
fn keep_alive_serves_both_requests_on_connection_one() {
    let trace = scenario::run_named("keep-alive").unwrap().trace;
    assert_eq!(trace.connections.len(), 1);
    assert_eq!(trace.connections[0].requests, vec![1, 2]);
}

#[test]
fn bad_request_closes_only_its_own_connection() {
    let trace = scenario::run_named("bad-request").unwrap().trace;
    let statuses: Vec<_> = trace.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(400), Some(200)]);
    assert_eq!(trace.requests[0].conn, Some(1));
    assert_eq!(trace.requests[1].conn, Some(2));
}

// ---- many-at-once: four overlapping requests, two sync workers ----------
//
// Each test below works the link out again from facts the trace holds
// (address pairs, the worker step, the state changes) and checks it against
// what assembly put on each event, so a wrong link fails here even when
// the transcript reads well.

/// The client's own number for the connection each request was sent on
/// (from its `client.request.send`).
fn client_conn_of_request(trace: &Trace) -> BTreeMap<u64, u64> {
    trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientRequestSend)
        .filter_map(|e| match (&e.instance, e.request) {
            (Some(Instance::Client { conn }), Some(r)) => Some((r, *conn)),
            _ => None,
        })
        .collect()
}

/// The web server's id for each of the client's connections, found by the
/// client's own address (`client.connect`) in the web server's list of
/// accepted peers.
fn web_conn_of_client_conn(trace: &Trace) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for e in trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientConnect)
    {
        for s in &e.state {
            if let StateChange::Connection {
                hop: Hop::Client,
                conn,
                state: ConnState::Open,
                local: Some(local),
                ..
            } = s
            {
                let web = trace
                    .connections
                    .iter()
                    .find(|c| &c.peer == local)
                    .unwrap_or_else(|| panic!("no web server connection from {local}"));
                out.insert(*conn, web.id);
            }
        }
    }
    out
}

/// The worker each request was given (its `app_server.worker` step).
fn worker_of_request(trace: &Trace) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for e in trace
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerWorker)
    {
        let (Some(Instance::Worker { worker }), Some(r)) = (&e.instance, e.request) else {
            panic!("app_server.worker #{} names no worker or request", e.seq);
        };
        assert!(
            e.state.contains(&StateChange::Worker {
                worker: *worker,
                state: WorkerState::Busy,
                request: Some(r),
            }),
            "app_server.worker #{} does not mark worker {worker} busy with request {r}",
            e.seq
        );
        assert_eq!(out.insert(r, *worker), None, "request {r} taken twice");
    }
    out
}

/// The upstream connection the proxy sent each request on.
fn upstream_of_request(trace: &Trace) -> BTreeMap<u64, u64> {
    trace
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerProxySend)
        .filter_map(|e| Some((e.request?, e.upstream?)))
        .collect()
}

fn backlog_change(e: &Event) -> Option<QueueChange> {
    e.state.iter().find_map(|s| match s {
        StateChange::Backlog { change, .. } => Some(*change),
        _ => None,
    })
}

#[test]
fn many_at_once_sends_four_requests_on_four_connections_within_one_millisecond() {
    let trace = run("many-at-once");
    let sends: Vec<&Event> = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientRequestSend)
        .collect();
    assert_eq!(sends.len(), 4);
    assert!(sends.iter().all(|e| e.at_ns <= 1_000_000));
    assert_eq!(trace.connections.len(), 4);
    assert!(trace.connections.iter().all(|c| c.requests.len() == 1));
    let statuses: Vec<_> = trace.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(200), Some(201), Some(200), Some(404)]);
}

#[test]
fn many_at_once_links_every_request_event_to_the_connection_its_client_used() {
    let trace = run("many-at-once");
    let client_conn = client_conn_of_request(&trace);
    let web_conn = web_conn_of_client_conn(&trace);
    assert_eq!(client_conn.len(), 4, "every request was sent by the client");
    let mut checked = 0;
    for e in trace.events.iter() {
        let Some(r) = e.request else { continue };
        let want = web_conn[&client_conn[&r]];
        assert_eq!(
            e.conn,
            Some(want),
            "#{} {} of request {r} is on connection {:?}, but its client sent it on \
             web server connection {want}",
            e.seq,
            e.step,
            e.conn
        );
        if let Some(Instance::Client { conn }) = e.instance {
            assert_eq!(conn, client_conn[&r], "#{}: the client's own number", e.seq);
        }
        checked += 1;
    }
    // Every layer's steps were checked, not only the web server's.
    assert!(checked > 100, "only {checked} events carry a request");
    // A request's summary names the same connection.
    for r in &trace.requests {
        assert_eq!(r.conn, Some(web_conn[&client_conn[&r.id]]));
    }
}

#[test]
fn many_at_once_names_for_every_app_server_step_the_worker_that_took_the_request() {
    let trace = run("many-at-once");
    let worker = worker_of_request(&trace);
    // Worker 1 takes requests 1 and then 3; worker 2 takes 2 and then 4.
    assert_eq!(worker, BTreeMap::from([(1, 1), (2, 2), (3, 1), (4, 2)]));
    let request_on_upstream: BTreeMap<u64, u64> = upstream_of_request(&trace)
        .into_iter()
        .map(|(r, u)| (u, r))
        .collect();
    for e in trace.events.iter().filter(|e| e.layer == Layer::AppServer) {
        // The kernel queues a connection before any worker has it.
        if e.step == StepId::AppServerBacklog {
            assert!(
                !matches!(e.instance, Some(Instance::Worker { .. })),
                "#{}: a connection in the backlog belongs to no worker yet",
                e.seq
            );
            continue;
        }
        // A worker that starts or goes idle serves nobody.
        if e.step == StepId::AppServerWorkerIdle {
            continue;
        }
        // Steps before the request is read (accept) or after it is done
        // (close) belong to its upstream connection.
        let request = e
            .request
            .or_else(|| {
                e.upstream
                    .and_then(|u| request_on_upstream.get(&u).copied())
            })
            .unwrap_or_else(|| panic!("#{} {} has no request or upstream", e.seq, e.step));
        assert_eq!(
            e.instance,
            Some(Instance::Worker {
                worker: worker[&request]
            }),
            "#{} {} of request {request}",
            e.seq,
            e.step
        );
    }
}

#[test]
fn many_at_once_never_gives_one_worker_two_requests_at_once() {
    let trace = run("many-at-once");
    let mut board = StateBoard::default();
    let mut most_busy = 0;
    for e in &trace.events {
        for s in &e.state {
            let StateChange::Worker {
                worker,
                state: WorkerState::Busy,
                request,
            } = s
            else {
                continue;
            };
            let before = board.workers.get(worker).copied();
            let ok = match (before, request) {
                // accept() from idle; the request is not read yet.
                (Some((WorkerState::Idle, _)), None) => true,
                // The head is read: the same connection's request.
                (Some((WorkerState::Busy, None)), Some(_)) => true,
                (Some((WorkerState::Idle, _)), Some(_)) => true,
                _ => false,
            };
            assert!(
                ok,
                "#{} {}: worker {worker} goes busy with {request:?} while {before:?}",
                e.seq, e.step
            );
        }
        board.apply(e);
        let serving: Vec<u64> = board
            .workers
            .values()
            .filter(|(s, _)| *s == WorkerState::Busy)
            .filter_map(|(_, r)| *r)
            .collect();
        let mut unique = serving.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), serving.len(), "#{}: {serving:?}", e.seq);
        most_busy = most_busy.max(serving.len());
    }
    assert_eq!(most_busy, 2, "both workers were busy at the same time");
    assert!(
        board.workers.values().all(|(s, _)| *s == WorkerState::Idle),
        "every worker is idle at the end: {:?}",
        board.workers
    );
}

#[test]
fn many_at_once_requests_three_and_four_wait_in_the_backlog_while_both_workers_are_busy() {
    let trace = run("many-at-once");
    let upstream = upstream_of_request(&trace);
    let mut waited = BTreeMap::new();
    for r in 1..=4 {
        let enqueue = trace
            .events
            .iter()
            .position(|e| {
                e.step == StepId::AppServerBacklog
                    && e.request == Some(r)
                    && backlog_change(e) == Some(QueueChange::Enqueue)
            })
            .unwrap_or_else(|| panic!("request {r} never joined the app server's backlog"));
        let dequeue = trace
            .events
            .iter()
            .position(|e| {
                e.step == StepId::AppServerAccept
                    && e.upstream == Some(upstream[&r])
                    && backlog_change(e) == Some(QueueChange::Dequeue)
            })
            .unwrap_or_else(|| panic!("request {r} never left the app server's backlog"));
        assert!(
            dequeue > enqueue,
            "request {r}: dequeued before it was queued"
        );
        let (queued, taken) = (&trace.events[enqueue], &trace.events[dequeue]);
        waited.insert(r, (taken.at_ns - queued.at_ns) / 1_000_000);
        if r >= 3 {
            let board = StateBoard::at(&trace.events, enqueue);
            let busy = board
                .workers
                .values()
                .filter(|(s, _)| *s == WorkerState::Busy)
                .count();
            assert_eq!(busy, 2, "request {r} queued while both workers were busy");
            assert_eq!(
                board.backlog.and_then(|(len, _)| len),
                Some(r - 2),
                "request {r} is number {} in the queue",
                r - 2
            );
        }
    }
    // Milliseconds between joining the backlog and being accepted.
    assert_eq!(waited, BTreeMap::from([(1, 0), (2, 0), (3, 39), (4, 39)]));
    let took = |r: u64| {
        let s = trace.requests.iter().find(|s| s.id == r).unwrap();
        (s.finished_ns - s.started_ns) / 1_000_000
    };
    // Request 3 is the slowest: 39 ms in the backlog, 40 ms in the database.
    assert_eq!((took(1), took(2), took(3), took(4)), (40, 40, 79, 39));
}

#[test]
fn many_at_once_answers_request_four_before_request_three() {
    let trace = run("many-at-once");
    let received: Vec<u64> = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientResponseReceive)
        .filter_map(|e| e.request)
        .collect();
    assert_eq!(received, vec![1, 2, 4, 3]);
}

#[test]
fn every_lessons_request_events_belong_to_the_connection_their_client_used() {
    for name in bundled::names() {
        let trace = run(name);
        let client_conn = client_conn_of_request(&trace);
        let web_conn = web_conn_of_client_conn(&trace);
        for e in &trace.events {
            let Some(r) = e.request else { continue };
            let Some(c) = client_conn.get(&r) else {
                continue;
            };
            assert_eq!(
                e.conn,
                Some(web_conn[c]),
                "{name} #{} {} of request {r}",
                e.seq,
                e.step
            );
        }
    }
}

#[test]
fn every_upstream_connection_carries_its_requests_in_the_order_the_proxy_sent_them() {
    let mut reused = false;
    for name in bundled::names() {
        let trace = run(name);
        for u in &trace.upstream_connections {
            let in_order = |step: StepId| {
                let mut seen: Vec<u64> = Vec::new();
                for e in &trace.events {
                    if e.step == step
                        && e.upstream == Some(u.id)
                        && let Some(r) = e.request
                        && !seen.contains(&r)
                    {
                        seen.push(r);
                    }
                }
                seen
            };
            let sent = in_order(StepId::WebServerProxySend);
            let what = format!("{name}: upstream connection {}", u.id);
            assert!(!sent.is_empty(), "{what} carried no request");
            assert_eq!(u.requests, sent, "{what}: summary");
            assert_eq!(
                in_order(StepId::AppServerRequestReceive),
                sent,
                "{what}: read"
            );
            assert_eq!(
                in_order(StepId::AppServerResponseSend),
                sent,
                "{what}: answered"
            );
            assert_eq!(
                in_order(StepId::WebServerProxyReceive),
                sent,
                "{what}: relayed"
            );
            reused |= sent.len() > 1;
        }
    }
    assert!(reused, "some lesson reuses an upstream connection");
}
