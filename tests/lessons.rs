//! Golden files for every bundled lesson (its transcript and its whole
//! trace), determinism (the same lesson file gives a byte-identical trace
//! every time), and the links of `many-at-once`: every step of its four
//! overlapping requests is attached to the right request, connection and
//! worker.
//!
//! A load lesson (`[load]`) records hundreds of requests: its whole trace
//! runs to megabytes, too large to review as a diff or to keep in git. Its
//! trace golden holds what a reviewer can read, the run's figures in full,
//! beside the size and a digest of the whole JSON, which pins every byte
//! of it just as well: a change anywhere in the trace changes the digest.
//!
//! A lesson that compares stacks (`[[compare]]`) has one trace per
//! variant: its transcript golden is the transcript of every variant and
//! the comparison, and its trace golden the JSON of all of them (for a
//! load, each variant's figures and a digest of that JSON).
//!
//! After a change that alters traces on purpose, regenerate the golden
//! files with `INSTA_UPDATE=always cargo test --test lessons` and review
//! the diff.

use std::collections::BTreeMap;

use roundtrip::scenario::{self, Outcome, bundled};
use roundtrip::trace::export::{json, plain};
use roundtrip::trace::state::StateBoard;
use roundtrip::trace::{
    ConnState, Event, Hop, Instance, Layer, QueueChange, StateChange, StepId, Trace, WorkerState,
};

/// Run a bundled lesson; it must meet its expectations and use all its
/// narration.
fn outcome(name: &str) -> Outcome {
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
    outcome
}

/// A bundled lesson's trace (a lesson that compares stacks: its first
/// variant's).
fn run(name: &str) -> Trace {
    outcome(name).trace
}

/// Every trace of a bundled lesson: one, or one per variant.
fn runs(name: &str) -> Vec<Trace> {
    outcome(name).into_traces()
}

fn transcript(name: &str) -> String {
    let o = outcome(name);
    plain::transcripts(&o.traces(), o.comparison.as_ref())
}

/// The whole trace, exactly as `roundtrip run NAME --json` prints it.
fn whole_trace(name: &str) -> String {
    let o = outcome(name);
    json::runs_to_json(&o.traces(), o.comparison.as_ref())
}

/// FNV-1a, 64 bits (Fowler, Noll, Vo): a digest fixed by its definition,
/// so the golden file never changes for any reason but the trace.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A load lesson's trace golden: its figures, and the size and digest of
/// the whole trace as `--json` prints it.
fn load_trace_digest(name: &str) -> String {
    let trace = run(name);
    let json = json::to_json(&trace);
    let metrics = serde_json::to_string_pretty(&trace.metrics).expect("metrics serialize");
    format!(
        "whole trace: {} bytes of JSON, {} events, {} requests, FNV-1a 64 {:016x}\nmetrics: {metrics}\n",
        json.len(),
        trace.events.len(),
        trace.requests.len(),
        fnv1a64(json.as_bytes())
    )
}

/// A load lesson that compares stacks: the size and digest of the JSON of
/// all its variants, then each variant's figures.
fn compared_load_digest(name: &str) -> String {
    let o = outcome(name);
    let json = json::runs_to_json(&o.traces(), o.comparison.as_ref());
    let mut out = format!(
        "all variants: {} bytes of JSON, FNV-1a 64 {:016x}\n",
        json.len(),
        fnv1a64(json.as_bytes())
    );
    for t in o.traces() {
        let name = t.meta.variant.as_ref().map_or("", |v| v.name.as_str());
        let metrics = serde_json::to_string_pretty(&t.metrics).expect("metrics serialize");
        out.push_str(&format!(
            "variant {name}: {} events, {} requests\nmetrics: {metrics}\n",
            t.events.len(),
            t.requests.len(),
        ));
    }
    out
}

/// Every bundled lesson, with its two golden files.
const GOLDEN: &[&str] = &[
    "hello",
    "post-note",
    "keep-alive",
    "not-found",
    "method-not-allowed",
    "static-vs-dynamic",
    "location-matching",
    "path-traversal",
    "access-deny",
    "range-request",
    "cache-304",
    "gzip",
    "brotli",
    "tls-handshake",
    "https-redirect",
    "too-large",
    "rate-limit-burst",
    "limit-conn",
    "load-balance",
    "least-conn",
    "hash-consistent",
    "upstream-down",
    "bad-request",
    "arrival-order",
    "many-at-once",
    "wsgi-vs-asgi",
    "sync-vs-async",
    "blocking-the-loop",
    "gthread",
    "worker-timeout",
    "backlog-full",
    "handler-raises",
    "exception-propagates",
    "client-gives-up",
    "slow-upload",
    "upstream-timeout",
    "timeout-ladder",
    "slow-client",
    "send-timeout",
    "littles-law",
    "login-session",
    "401-vs-403",
    "token-auth",
    "object-ownership",
    "csrf",
    "middleware-order",
    "cors-preflight",
    "ws-handshake",
    "ws-chat",
    "ws-through-wsgi",
    "ws-proxy-misconfigured",
    "ws-idle-timeout",
    "ws-close-codes",
    "ws-app-error",
];

/// Two tests per lesson: the transcript (`tests/snapshots/lessons__NAME.snap`)
/// and the trace (`tests/snapshots/lessons__NAME.trace.snap`): the whole
/// trace, or for a load lesson (too large to read) its figures and a
/// digest of the whole trace (`load_trace_digest`).
macro_rules! golden {
    ($transcript_test:ident, $trace_test:ident, $name:literal) => {
        golden!($transcript_test, $trace_test, $name, whole_trace);
    };
    ($transcript_test:ident, $trace_test:ident, $name:literal, $trace:ident) => {
        #[test]
        fn $transcript_test() {
            insta::assert_snapshot!($name, transcript($name));
        }

        #[test]
        fn $trace_test() {
            insta::assert_snapshot!(concat!($name, ".trace"), $trace($name));
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
    static_vs_dynamic_transcript_answers_files_at_the_web_server,
    static_vs_dynamic_whole_trace_is_unchanged,
    "static-vs-dynamic"
);
golden!(
    path_traversal_transcript_refuses_every_climb,
    path_traversal_whole_trace_is_unchanged,
    "path-traversal"
);
golden!(
    access_deny_transcript_refuses_by_address_method_host_and_target_form,
    access_deny_whole_trace_is_unchanged,
    "access-deny"
);
golden!(
    range_request_transcript_serves_parts_with_206_and_416,
    range_request_whole_trace_is_unchanged,
    "range-request"
);
golden!(
    cache_304_transcript_revalidates_at_the_web_server_and_at_the_framework,
    cache_304_whole_trace_is_unchanged,
    "cache-304"
);
golden!(
    gzip_transcript_compresses_what_qualifies_and_names_each_refusal,
    gzip_whole_trace_is_unchanged,
    "gzip"
);
golden!(
    brotli_transcript_prefers_br_whatever_the_q_values_and_gzip_only_when_br_is_refused,
    brotli_whole_trace_is_unchanged,
    "brotli"
);
golden!(
    rate_limit_burst_transcript_delays_the_burst_then_refuses_and_nodelay_does_not_wait,
    rate_limit_burst_whole_trace_is_unchanged,
    "rate-limit-burst"
);
golden!(
    load_balance_transcript_fails_over_skips_the_failed_server_and_takes_it_back,
    load_balance_whole_trace_is_unchanged,
    "load-balance"
);
golden!(
    least_conn_transcript_sends_quick_requests_past_the_busy_server,
    least_conn_whole_traces_are_unchanged,
    "least-conn"
);
golden!(
    upstream_down_transcript_refuses_to_resend_a_post_then_finds_no_live_upstreams,
    upstream_down_whole_trace_is_unchanged,
    "upstream-down"
);
golden!(
    limit_conn_transcript_refuses_the_second_request_in_progress,
    limit_conn_whole_trace_is_unchanged,
    "limit-conn"
);
golden!(
    tls_handshake_transcript_shows_the_hello_the_agreement_and_each_refusal_by_knob,
    tls_handshake_whole_trace_is_unchanged,
    "tls-handshake"
);
golden!(
    https_redirect_transcript_redirects_plain_http_and_sends_hsts_only_over_tls,
    https_redirect_whole_trace_is_unchanged,
    "https-redirect"
);
golden!(
    location_matching_transcript_picks_one_location_per_request,
    location_matching_whole_trace_is_unchanged,
    "location-matching"
);
golden!(
    handler_raises_transcript_unwinds_to_the_frameworks_500,
    handler_raises_whole_trace_is_unchanged,
    "handler-raises"
);
golden!(
    exception_propagates_transcript_gets_gunicorns_500_page,
    exception_propagates_whole_trace_is_unchanged,
    "exception-propagates"
);
golden!(
    client_gives_up_transcript_logs_499_and_the_worker_finishes_for_nobody,
    client_gives_up_whole_trace_is_unchanged,
    "client-gives-up"
);
golden!(
    slow_upload_transcript_buffers_the_body_while_the_worker_serves_others,
    slow_upload_whole_trace_is_unchanged,
    "slow-upload"
);
golden!(
    upstream_timeout_transcript_answers_504_while_the_worker_runs_on,
    upstream_timeout_whole_trace_is_unchanged,
    "upstream-timeout"
);
golden!(
    timeout_ladder_transcript_gives_500_or_504_by_which_timeout_is_shorter,
    timeout_ladder_whole_trace_is_unchanged,
    "timeout-ladder"
);
golden!(
    slow_client_transcript_logs_408_and_serves_the_others,
    slow_client_whole_trace_is_unchanged,
    "slow-client"
);
golden!(
    hash_consistent_transcript_keeps_each_uri_on_its_server_and_moves_only_bs,
    hash_consistent_whole_trace_is_unchanged,
    "hash-consistent"
);
golden!(
    send_timeout_transcript_closes_a_stalled_download_and_serves_the_others,
    send_timeout_whole_trace_is_unchanged,
    "send-timeout"
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
    wsgi_vs_asgi_transcript_sends_one_request_through_each_gateway,
    wsgi_vs_asgi_whole_traces_are_unchanged,
    "wsgi-vs-asgi"
);
golden!(
    sync_vs_async_transcript_follows_three_requests_per_stack_then_compares,
    sync_vs_async_figures_and_digest_are_unchanged,
    "sync-vs-async",
    compared_load_digest
);
golden!(
    gthread_transcript_follows_three_requests_per_stack_then_compares,
    gthread_figures_and_digest_are_unchanged,
    "gthread",
    compared_load_digest
);
golden!(
    blocking_the_loop_transcript_freezes_the_loop_then_frees_it,
    blocking_the_loop_whole_trace_is_unchanged,
    "blocking-the-loop"
);

golden!(
    backlog_full_transcript_drops_syns_and_the_client_retransmits,
    backlog_full_whole_trace_is_unchanged,
    "backlog-full"
);
golden!(
    worker_timeout_transcript_kills_the_stuck_worker_and_answers_500,
    worker_timeout_whole_trace_is_unchanged,
    "worker-timeout"
);
golden!(
    auth_login_session_transcript_signs_in_reads_the_session_then_ends_it,
    auth_login_session_whole_trace_is_unchanged,
    "login-session"
);
golden!(
    auth_401_vs_403_transcript_challenges_the_anonymous_and_forbids_the_viewer,
    auth_401_vs_403_whole_trace_is_unchanged,
    "401-vs-403"
);
golden!(
    auth_token_auth_transcript_accepts_the_signed_token_and_refuses_four_forgeries,
    auth_token_auth_whole_trace_is_unchanged,
    "token-auth"
);
golden!(
    auth_object_ownership_transcript_refuses_another_users_note_in_the_handler,
    auth_object_ownership_whole_traces_are_unchanged,
    "object-ownership"
);
golden!(
    auth_csrf_transcript_refuses_three_forgeries_and_passes_the_sites_own_page,
    auth_csrf_whole_trace_is_unchanged,
    "csrf"
);
golden!(
    auth_middleware_order_transcript_refuses_alice_when_authorization_runs_first,
    auth_middleware_order_whole_traces_are_unchanged,
    "middleware-order"
);
golden!(
    auth_cors_preflight_transcript_answers_preflights_in_the_middleware_and_withholds_allow_origin_from_evil,
    auth_cors_preflight_whole_trace_is_unchanged,
    "cors-preflight"
);
golden!(
    littles_law_transcript_follows_three_requests_then_gives_the_figures,
    littles_law_figures_and_trace_digest_are_unchanged,
    "littles-law",
    load_trace_digest
);

#[test]
fn littles_law_lesson_serves_workers_over_service_time_as_its_narration_predicts() {
    let trace = run("littles-law");
    let config = &trace.meta.config;
    let workers = config["app_server"]["workers"].as_u64().expect("workers");
    let service = config["app"]["db_latency"].as_str().expect("db_latency");
    let service = roundtrip::units::Time::parse(service).expect("a time").0;
    let m = trace.metrics.as_ref().expect("metrics");
    let predicted = workers as f64 / service.as_secs_f64();
    let measured = m.throughput_per_s.expect("throughput");
    assert!(
        (measured - predicted).abs() <= 0.01 * predicted,
        "{measured} vs {predicted}"
    );
    let clients = m
        .load
        .as_ref()
        .and_then(|l| l.clients)
        .expect("a closed loop");
    // Little's law gives each request's time: W = L / λ.
    let w = m.latency.expect("latency").mean_ns as f64 / 1e9;
    assert!(
        (w - clients as f64 / predicted).abs() <= 0.01 * w,
        "W = {w} s"
    );
}

#[test]
fn a_load_lessons_transcript_says_it_follows_only_its_first_requests() {
    let text = transcript("littles-law");
    assert!(
        text.contains("The transcript follows the first 3"),
        "{text}"
    );
    assert!(text.contains("more requests, not transcribed"), "{text}");
    // Only requests 1 to 3 are tagged on the lines.
    for line in text.lines() {
        if let Some(rest) = line.split(" ms  #").nth(1) {
            let id: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a request tag in {line}"));
            assert!((1..=3).contains(&id), "{line}");
        }
    }
    assert!(text.lines().count() < 200, "{} lines", text.lines().count());
}

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
    let json_of = |name: &str| {
        let o = scenario::run_named(name).unwrap();
        json::runs_to_json(&o.traces(), o.comparison.as_ref())
    };
    for name in bundled::names() {
        let (a, b) = (json_of(name), json_of(name));
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
                replaced_by: None,
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
                ..
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

/// Every run of every bundled lesson, each variant of a comparison on its
/// own, named `lesson` or `lesson/variant`.
fn every_run() -> Vec<(String, Trace)> {
    bundled::names()
        .flat_map(|name| {
            runs(name).into_iter().map(move |t| {
                let label = match &t.meta.variant {
                    Some(v) => format!("{name}/{}", v.name),
                    None => name.to_string(),
                };
                (label, t)
            })
        })
        .collect()
}

#[test]
fn every_lessons_request_events_belong_to_the_connection_their_client_used() {
    for (name, trace) in every_run() {
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
    for (name, trace) in every_run() {
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
            // A request sent on an idle connection the app server had
            // already closed is sent again on another (nginx's retry of a
            // stale keep-alive connection): this one never carried it.
            let retried = in_order(StepId::WebServerProxyRetry);
            let delivered: Vec<u64> = sent
                .iter()
                .copied()
                .filter(|r| !retried.contains(r))
                .collect();
            assert_eq!(
                in_order(StepId::AppServerRequestReceive),
                delivered,
                "{what}: read"
            );
            // A request the instance was running when it was killed is
            // never answered: the kernel closed its sockets under it.
            let instance = trace
                .events
                .iter()
                .find(|e| e.step == StepId::WebServerProxyConnect && e.upstream == Some(u.id))
                .and_then(|e| e.server.clone());
            let mut running: Vec<u64> = Vec::new();
            let mut killed: Vec<u64> = Vec::new();
            for e in &trace.events {
                match e.step {
                    StepId::AppServerRequestReceive if e.upstream == Some(u.id) => {
                        running.extend(e.request)
                    }
                    StepId::AppServerResponseSend if e.upstream == Some(u.id) => {
                        running.retain(|r| Some(*r) != e.request)
                    }
                    StepId::AppServerInstanceStop if e.server.is_some() && e.server == instance => {
                        killed.append(&mut running)
                    }
                    _ => {}
                }
            }
            let delivered: Vec<u64> = delivered
                .iter()
                .copied()
                .filter(|r| !killed.contains(r))
                .collect();
            assert_eq!(
                in_order(StepId::AppServerResponseSend),
                delivered,
                "{what}: answered"
            );
            // A request whose client left while it was upstream (499), or
            // that the web server gave up on (proxy_read_timeout: 504), is
            // abandoned: its answer is never read back.
            let abandoned: Vec<u64> = trace
                .events
                .iter()
                .filter(|e| {
                    e.step == StepId::WebServerClientGone
                        || (e.step == StepId::WebServerProxyError
                            && e.knob
                                .as_ref()
                                .is_some_and(|k| k.name == "proxy_read_timeout"))
                })
                .filter_map(|e| e.request)
                .collect();
            let relayed: Vec<u64> = delivered
                .iter()
                .copied()
                .filter(|r| !abandoned.contains(r))
                .collect();
            assert_eq!(
                in_order(StepId::WebServerProxyReceive),
                relayed,
                "{what}: relayed"
            );
            reused |= sent.len() > 1;
        }
    }
    assert!(reused, "some lesson reuses an upstream connection");
}

/// Each request the client sent and whose whole response it read:
/// (sent at, received at), from the client's own steps.
fn client_round_trips(trace: &Trace) -> Vec<(u64, u64)> {
    let mut sent: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &trace.events {
        let (Some(Instance::Client { conn }), Some(ordinal)) = (&e.instance, e.ordinal) else {
            continue;
        };
        match e.step {
            StepId::ClientRequestSend => {
                sent.insert((*conn, ordinal), e.at_ns);
            }
            StepId::ClientResponseReceive => {
                let from = sent[&(*conn, ordinal)];
                out.push((from, e.at_ns));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_lessons_figures_agree_with_the_round_trips_its_client_recorded() {
    for (name, trace) in every_run() {
        let m = trace.metrics.as_ref().expect("metrics");
        let in_window: Vec<u64> = client_round_trips(&trace)
            .into_iter()
            .filter(|(_, done)| m.window.contains(*done))
            .map(|(from, done)| done - from)
            .collect();
        assert_eq!(m.completed, in_window.len() as u64, "{name}");
        let latency = m.latency.expect("some request completed");
        assert_eq!(
            latency.max_ns,
            in_window.iter().copied().max().unwrap_or(0),
            "{name}"
        );
        // The time per layer cuts each latency into parts: they add up.
        let total: u64 = in_window.iter().sum();
        let by_layer: u64 = m.layers.iter().map(|l| l.total_ns).sum();
        assert_eq!(by_layer, total, "{name}: {:?}", m.layers);
        let answers: u64 = m.responses.iter().map(|r| r.count).sum();
        assert_eq!(answers, m.completed + m.unanswered, "{name}");
    }
}

// ---- lessons that compare stacks -----------------------------------------

/// The service time a mix entry asks for: its `?ms=N`.
fn service_time_of(path: &str) -> std::time::Duration {
    let ms = path
        .split_once("ms=")
        .and_then(|(_, n)| n.split('&').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{path} says no ms="));
    std::time::Duration::from_millis(ms)
}

/// What queueing theory predicts for one variant of `sync-vs-async`, from
/// its own configuration (Little's law on a closed loop, X = min(μ, C / S)):
/// N sync workers serve N / S; an event loop whose handler awaits serves
/// every client at once, C / S; one whose handler blocks serves one
/// request at a time, 1 / S.
fn predicted_throughput(trace: &Trace) -> f64 {
    let config = &trace.meta.config["app_server"];
    let load = trace
        .metrics
        .as_ref()
        .and_then(|m| m.load.as_ref())
        .expect("a load");
    let clients = load.clients.expect("a closed loop") as f64;
    let path = &load.mix[0].path;
    let s = service_time_of(path).as_secs_f64();
    match config["interface"].as_str() {
        Some("wsgi") => {
            let workers = config["workers"].as_u64().expect("workers") as f64;
            workers.min(clients) / s
        }
        Some("asgi") if path.starts_with("/blocking") => 1.0 / s,
        Some("asgi") => clients / s,
        other => panic!("interface {other:?}"),
    }
}

#[test]
fn sync_vs_async_serves_what_each_stacks_configuration_predicts() {
    let traces = runs("sync-vs-async");
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

#[test]
fn sync_vs_async_queues_in_the_workers_backlog_and_not_on_the_event_loop() {
    let traces = runs("sync-vs-async");
    let (sync, event_loop) = (&traces[0], &traces[1]);
    let load = sync.metrics.as_ref().and_then(|m| m.load.as_ref()).unwrap();
    let clients = load.clients.unwrap() as f64;
    let s = service_time_of(&load.mix[0].path).as_secs_f64();
    let workers = sync.meta.config["app_server"]["workers"].as_u64().unwrap() as f64;
    // Little's law: each request spends C / X = C · S / N in the stack, S
    // of it served, the rest in the backlog.
    let m = sync.metrics.as_ref().unwrap();
    let wait = m.queue_wait.expect("backlog waits").p50_ns as f64 / 1e9;
    let predicted_wait = clients * s / workers - s;
    assert!(
        (wait - predicted_wait).abs() <= 0.10 * predicted_wait,
        "sync workers: backlog wait {wait} s, predicted {predicted_wait} s"
    );
    let w = m.workers.expect("sync workers");
    assert!(w.utilization > 0.99, "{w:?}");
    // The event loop serves each request in its service time: no queue.
    let m = event_loop.metrics.as_ref().unwrap();
    let latency = m.latency.expect("latency").p99_ns as f64 / 1e9;
    assert!(
        (latency - s).abs() <= 0.10 * s,
        "event loop p99 {latency} s"
    );
    assert!(
        m.queue_wait
            .is_none_or(|q| q.max_ns as f64 / 1e9 <= 0.10 * s)
    );
}

#[test]
fn sync_vs_async_sends_every_stack_the_same_load_from_the_same_seed() {
    let o = outcome("sync-vs-async");
    let loads: Vec<_> = o
        .traces()
        .iter()
        .map(|t| t.metrics.as_ref().and_then(|m| m.load.clone()).unwrap())
        .collect();
    for l in &loads[1..] {
        assert_eq!(
            (
                l.model,
                l.clients,
                l.think_ns,
                l.duration_ns,
                l.warmup_ns,
                l.seed
            ),
            (
                loads[0].model,
                loads[0].clients,
                loads[0].think_ns,
                loads[0].duration_ns,
                loads[0].warmup_ns,
                loads[0].seed
            )
        );
        assert_eq!(l.mix.len(), loads[0].mix.len());
    }
    // The comparison holds each variant's own figures, ratios to the first.
    let c = o.comparison.as_ref().expect("a comparison");
    for (v, t) in c.variants.iter().zip(o.traces()) {
        let m = t.metrics.as_ref().unwrap();
        assert_eq!(v.throughput_per_s, m.throughput_per_s);
        assert_eq!(v.latency, m.latency);
        assert_eq!(v.queue_wait, m.queue_wait);
        assert_eq!(v.errors, m.errors);
    }
    let x = |i: usize| c.variants[i].throughput_per_s.unwrap();
    let ratio = c.variants[1].throughput_ratio.unwrap();
    assert!((ratio - x(1) / x(0)).abs() < 0.001, "{ratio}");
}

#[test]
fn wsgi_vs_asgi_hands_the_app_environ_in_one_and_scope_and_messages_in_the_other() {
    let o = outcome("wsgi-vs-asgi");
    let traces = o.traces();
    assert_eq!(traces.len(), 2);
    let interfaces: Vec<&str> = traces
        .iter()
        .map(|t| t.meta.config["app_server"]["interface"].as_str().unwrap())
        .collect();
    assert_eq!(interfaces, ["wsgi", "asgi"]);
    let c = o.comparison.as_ref().expect("a comparison");
    let wsgi = c.variants[0].gateway.as_ref().expect("WSGI crossed");
    let asgi = c.variants[1].gateway.as_ref().expect("ASGI crossed");
    assert_eq!(wsgi.handed, "environ");
    assert!(wsgi.keys.iter().any(|k| k == "PATH_INFO"), "{wsgi:?}");
    assert!(wsgi.calls.iter().all(|c| c.starts_with("start_response")));
    assert_eq!(asgi.handed, "scope");
    assert!(asgi.keys.iter().any(|k| k == "type"), "{asgi:?}");
    assert_eq!(
        asgi.calls,
        [
            "receive() http.request",
            "send() http.response.start",
            "send() http.response.body"
        ]
    );
    // The rest of the stack is the same: the same status from the same
    // layer, after the same SQL.
    let sql = |t: &Trace| -> Vec<String> {
        t.events
            .iter()
            .flat_map(|e| &e.data)
            .filter_map(|d| match d {
                roundtrip::trace::Data::Sql { sql, .. } => Some(sql.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(sql(traces[0]), sql(traces[1]));
    for t in &traces {
        assert_eq!(t.requests[0].status, Some(200));
        assert_eq!(t.requests[0].answered_by, Some(Layer::Handler));
    }
}

golden!(
    arrival_order_transcript_keeps_the_lessons_numbers,
    arrival_order_whole_trace_is_unchanged,
    "arrival-order"
);

golden!(
    ws_handshake_transcript_shows_the_upgrade_and_the_frames,
    ws_handshake_whole_trace_is_unchanged,
    "ws-handshake"
);

golden!(
    ws_chat_transcript_broadcasts_to_three_sockets,
    ws_chat_whole_trace_is_unchanged,
    "ws-chat"
);

golden!(
    ws_through_wsgi_transcript_answers_the_upgrade_as_a_plain_get,
    ws_through_wsgi_whole_trace_is_unchanged,
    "ws-through-wsgi"
);

golden!(
    ws_proxy_misconfigured_transcript_drops_the_hop_by_hop_upgrade,
    ws_proxy_misconfigured_whole_trace_is_unchanged,
    "ws-proxy-misconfigured"
);

golden!(
    ws_idle_timeout_transcript_cuts_the_quiet_socket_and_keeps_the_pinging_one,
    ws_idle_timeout_whole_trace_is_unchanged,
    "ws-idle-timeout"
);

golden!(
    ws_close_codes_transcript_ends_five_sockets_five_ways,
    ws_close_codes_whole_trace_is_unchanged,
    "ws-close-codes"
);

golden!(
    ws_app_error_transcript_cuts_the_socket_with_no_close_frame,
    ws_app_error_whole_trace_is_unchanged,
    "ws-app-error"
);
