//! What each kind of work holds, measured on the lesson clock: awaited
//! waits overlap on one event loop, a blocking call or CPU time serializes
//! it, the thread pool frees it again, and sync workers serve
//! ceil(requests / workers) rounds. Every expected time is computed from
//! the lesson's own numbers.

mod common;

use std::time::Duration;

use common::lesson;
use roundtrip::trace::{Layer, LoopState, StateChange, StepId, TaskState, Trace, Verdict};

/// `n` requests for `path` sent at once, each on its own connection.
fn at_once(interface: &str, workers: usize, path: &str, n: usize) -> String {
    let mut s = format!(
        "title = \"t\"\n[stack.app_server]\ninterface = \"{interface}\"\nworkers = {workers}\n"
    );
    for _ in 0..n {
        s.push_str(&format!("[[request]]\npath = \"{path}\"\n"));
    }
    s
}

/// When the last client had its whole response, from the lesson's start.
fn last_response(trace: &Trace) -> Duration {
    let ns = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::ClientResponseReceive)
        .map(|e| e.at_ns)
        .max()
        .expect("some response arrived");
    Duration::from_nanos(ns)
}

fn statuses(trace: &Trace) -> Vec<Option<u16>> {
    trace.requests.iter().map(|r| r.status).collect()
}

/// Within 10% above `expected` (the stack adds no simulated time of its
/// own beyond the work, so "at least" is exact).
fn about(measured: Duration, expected: Duration) -> bool {
    measured >= expected && measured <= expected + expected / 10
}

const S: Duration = Duration::from_millis(100);
const N: usize = 5;

#[test]
fn awaited_waits_overlap_on_one_event_loop() {
    let trace = lesson(&at_once("asgi", 1, "/slow?ms=100", N));
    assert_eq!(statuses(&trace), vec![Some(200); N]);
    let took = last_response(&trace);
    assert!(about(took, S), "{N} awaited waits of {S:?} took {took:?}");
}

#[test]
fn a_blocking_call_in_async_code_serializes_the_loop() {
    let trace = lesson(&at_once("asgi", 1, "/blocking?ms=100", N));
    assert_eq!(statuses(&trace), vec![Some(200); N]);
    let took = last_response(&trace);
    assert!(
        about(took, S * N as u32),
        "{N} blocking calls took {took:?}"
    );
    let blocked = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerLoopBlocked)
        .count();
    assert_eq!(blocked, N);
}

#[test]
fn cpu_time_holds_the_loop_like_a_blocking_call() {
    let trace = lesson(&at_once("asgi", 1, "/cpu?ms=100", N));
    let took = last_response(&trace);
    assert!(
        about(took, S * N as u32),
        "{N} CPU-bound requests took {took:?}"
    );
}

#[test]
fn the_thread_pool_frees_the_loop() {
    let trace = lesson(&at_once("asgi", 1, "/threadpool?ms=100", N));
    let took = last_response(&trace);
    assert!(about(took, S), "{N} calls in the thread pool took {took:?}");
    assert!(
        trace
            .events
            .iter()
            .all(|e| e.step != StepId::AppServerLoopBlocked)
    );
}

#[test]
fn sync_workers_serve_requests_in_rounds_of_the_pool_size() {
    for workers in [1usize, 2, 3, 5] {
        for path in ["/slow?ms=100", "/blocking?ms=100"] {
            let trace = lesson(&at_once("wsgi", workers, path, 6));
            let rounds = 6usize.div_ceil(workers) as u32;
            let took = last_response(&trace);
            assert!(
                about(took, S * rounds),
                "6 × {path} on {workers} workers took {took:?}, expected {rounds} rounds"
            );
        }
    }
}

#[test]
fn while_the_loop_is_blocked_every_other_request_waits() {
    let trace = lesson(
        r#"
title = "t"
[stack.app_server]
interface = "asgi"
[[request]]
path = "/blocking?ms=100"
[[request]]
path = "/slow?ms=10"
at = "1ms"
"#,
    );
    let second = &trace.requests[1];
    let waited = Duration::from_nanos(second.finished_ns - second.started_ns);
    // Sent at 1 ms, its 10 ms wait could start only when the loop was free
    // at 100 ms.
    assert!(waited >= Duration::from_millis(109), "{waited:?}");
    let states: Vec<LoopState> = trace
        .events
        .iter()
        .flat_map(|e| &e.state)
        .filter_map(|c| match c {
            StateChange::Loop { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(states, [LoopState::Blocked, LoopState::Free]);
}

#[test]
fn over_limit_concurrency_the_app_server_answers_503_itself() {
    let trace = lesson(
        r#"
title = "t"
[stack.app_server]
interface = "asgi"
limit_concurrency = 2
[[request]]
path = "/slow?ms=100"
[[request]]
path = "/slow?ms=100"
at = "1ms"
[[request]]
path = "/slow?ms=100"
at = "1ms"
"#,
    );
    let refused: Vec<_> = trace
        .requests
        .iter()
        .filter(|r| r.status == Some(503))
        .collect();
    assert!(!refused.is_empty(), "{:?}", statuses(&trace));
    assert!(
        refused
            .iter()
            .all(|r| r.answered_by == Some(Layer::AppServer))
    );
    // The first came alone; the next two found its connection open and
    // theirs, uvicorn counts both: 2 of 2.
    assert_eq!(statuses(&trace), [Some(200), Some(503), Some(503)]);
    let decision = trace
        .events
        .iter()
        .find(|e| e.step == StepId::AppServerLimitConcurrency)
        .and_then(|e| e.decision.as_ref())
        .expect("the refusal carries its decision");
    assert_eq!(decision.verdict, Verdict::Refuse { status: 503 });
    // The app never saw a refused request.
    for r in &refused {
        assert!(
            !trace
                .events
                .iter()
                .any(|e| e.request == Some(r.id) && e.layer == Layer::Handler)
        );
    }
}

#[test]
fn a_bad_duration_gets_fastapis_422() {
    let trace = lesson(
        r#"
title = "t"
[[request]]
path = "/slow?ms=soon"
expect = { status = 422, answered_by = "handler" }
"#,
    );
    assert_eq!(statuses(&trace), vec![Some(422)]);
}

/// A closed loop of `clients` (wrk -c) on `path` for `secs`: throughput.
fn saturated(interface: &str, workers: usize, path: &str, clients: usize, secs: u64) -> f64 {
    let trace = lesson(&format!(
        "title = \"t\"\n[stack.app_server]\ninterface = \"{interface}\"\nworkers = {workers}\n\
         [load]\nclients = {clients}\nduration = \"{secs}s\"\n[[load.mix]]\npath = \"{path}\"\n"
    ));
    trace
        .metrics
        .as_ref()
        .and_then(|m| m.throughput_per_s)
        .expect("a load lesson has a throughput")
}

fn within_10_percent(measured: f64, predicted: f64) -> bool {
    (measured - predicted).abs() <= predicted / 10.0
}

/// The three throughput rows measured with the real servers (wrk -c64, a
/// 100 ms handler): gunicorn -w 4 sync, uvicorn awaiting, uvicorn blocking.
/// The predictions come from the mechanism: workers / S, clients / S, 1 / S.
#[test]
fn under_wrk_c64_the_three_models_give_their_real_world_throughput() {
    let s = S.as_secs_f64();
    let clients = 64;
    let sync = saturated("wsgi", 4, "/slow?ms=100", clients, 3);
    assert!(within_10_percent(sync, 4.0 / s), "gunicorn-like: {sync}/s");
    let awaiting = saturated("asgi", 1, "/slow?ms=100", clients, 3);
    assert!(
        within_10_percent(awaiting, clients as f64 / s),
        "uvicorn awaiting: {awaiting}/s"
    );
    let blocking = saturated("asgi", 1, "/blocking?ms=100", clients, 3);
    assert!(
        within_10_percent(blocking, 1.0 / s),
        "uvicorn blocking: {blocking}/s"
    );
    // The thread pool frees the loop, and is itself a pool: 40 threads.
    let fixed = saturated("asgi", 1, "/threadpool?ms=100", clients, 3);
    let threads = clients.min(roundtrip::gateway::work::THREADPOOL_SIZE);
    assert!(
        within_10_percent(fixed, threads as f64 / s),
        "uvicorn with the thread pool: {fixed}/s"
    );
}

/// When request `id`'s client had its whole response.
fn answered_at(trace: &Trace, id: u64) -> Duration {
    let ns = trace
        .events
        .iter()
        .find(|e| e.step == StepId::ClientResponseReceive && e.request == Some(id))
        .map(|e| e.at_ns)
        .expect("the request was answered");
    Duration::from_nanos(ns)
}

const STUCK: &str = r#"
title = "t"
[stack.app_server]
workers = 1
timeout = "2s"
[[request]]
path = "/blocking?ms=5000"
[[request]]
path = "/notes"
at = "4s"
"#;

#[test]
fn a_stuck_worker_is_killed_at_the_arbiters_first_look_after_timeout_and_replaced() {
    use roundtrip::gateway::wsgi::workers::ARBITER_TICK;
    let trace = lesson(STUCK);
    let first = &trace.requests[0];
    assert_eq!(first.status, Some(500));
    assert_eq!(first.answered_by, Some(Layer::AppServer));
    // The arbiter looks every tick; the first look with the heartbeat
    // (taken at 0) older than the 2 s timeout.
    let timeout = Duration::from_secs(2);
    let ticks = (timeout.as_nanos() / ARBITER_TICK.as_nanos() + 1) as u32;
    let expected = ARBITER_TICK * ticks;
    assert_eq!(answered_at(&trace, 1), expected);
    // The real gunicorn 27 answered after 2.9 s with the same settings.
    assert!(within_10_percent(expected.as_secs_f64(), 2.9));
    // The pool is back to one worker, under a new number, and serves.
    assert_eq!(trace.requests[1].status, Some(200));
    let spawned = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerWorkerSpawn)
        .count();
    assert_eq!(spawned, 1);
}

#[test]
fn behind_a_shorter_proxy_read_timeout_the_web_server_answers_504_first() {
    let trace = lesson(&STUCK.replace(
        "[stack.app_server]",
        "[stack.web_server]\nproxy_read_timeout = \"1s\"\n[stack.app_server]",
    ));
    let first = &trace.requests[0];
    assert_eq!(first.status, Some(504));
    assert_eq!(first.answered_by, Some(Layer::WebServer));
    assert_eq!(answered_at(&trace, 1), Duration::from_secs(1));
}

#[test]
fn timeout_0_lets_a_worker_run_as_long_as_it_takes() {
    let trace = lesson(&STUCK.replace("timeout = \"2s\"", "timeout = \"0s\""));
    assert_eq!(trace.requests[0].status, Some(200));
    assert_eq!(answered_at(&trace, 1), Duration::from_secs(5));
}

#[test]
fn a_worker_restarts_after_max_requests_plus_its_jitter() {
    let trace = lesson(
        r#"
title = "t"
[stack.app_server]
workers = 1
max_requests = 2
max_requests_jitter = 3
[load]
clients = 1
duration = "1s"
[[load.mix]]
path = "/notes"
"#,
    );
    let recycled: Vec<u64> = trace
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerWorkerRecycle)
        .filter_map(|e| e.decision.as_ref())
        .filter_map(|d| d.inputs.iter().find(|(name, _)| name == "served"))
        .filter_map(|(_, value)| value.parse().ok())
        .collect();
    assert!(recycled.len() > 3, "{recycled:?}");
    assert!(recycled.iter().all(|n| (2..=5).contains(n)), "{recycled:?}");
    // Every request was still answered.
    assert!(trace.requests.iter().all(|r| r.status == Some(200)));
}

#[test]
fn the_event_loop_completes_lifespan_startup_before_its_first_accept_and_shuts_down_last() {
    let trace = lesson(&at_once("asgi", 1, "/notes", 2));
    let position =
        |pred: &dyn Fn(&roundtrip::trace::Event) -> bool| trace.events.iter().position(pred);
    let ready =
        position(&|e| e.summary.contains("lifespan.startup.complete)")).expect("startup completes");
    let first_accept = position(&|e| e.step == StepId::AppServerAccept).expect("the loop accepts");
    assert!(ready < first_accept);
    let last_close = trace
        .events
        .iter()
        .rposition(|e| e.step == StepId::AppServerConnectionClose)
        .expect("connections close");
    let shutdown = trace
        .events
        .iter()
        .rposition(|e| e.step == StepId::AppServerLifespan)
        .expect("lifespan shutdown");
    assert!(shutdown > last_close);
    assert!(
        trace.events[shutdown]
            .summary
            .contains("lifespan.shutdown.complete")
    );
}

#[test]
fn a_timeout_too_large_to_add_never_kills_and_never_panics() {
    let trace = lesson(&STUCK.replace("timeout = \"2s\"", "timeout = \"18446744073709551615s\""));
    assert_eq!(trace.requests[0].status, Some(200));
}

/// Each task's state changes, in trace order: (task, state, request).
fn task_states(trace: &Trace) -> Vec<(u64, TaskState, Option<u64>)> {
    trace
        .events
        .iter()
        .flat_map(|e| &e.state)
        .filter_map(|c| match c {
            StateChange::Task {
                task,
                state,
                request,
            } => Some((*task, *state, *request)),
            _ => None,
        })
        .collect()
}

#[test]
fn requests_read_while_the_loop_was_blocked_all_get_tasks_before_any_runs_and_run_in_order() {
    let trace = lesson(
        r#"
title = "t"
[stack.app_server]
interface = "asgi"
[[request]]
path = "/blocking?ms=100"
[[request]]
path = "/slow?ms=10"
at = "1ms"
[[request]]
path = "/slow?ms=10"
at = "2ms"
[[request]]
path = "/slow?ms=10"
at = "3ms"
"#,
    );
    let states = task_states(&trace);
    let later: Vec<u64> = trace.requests[1..].iter().map(|r| r.id).collect();
    let position = |state: TaskState, request: u64| {
        states
            .iter()
            .position(|(_, s, r)| *s == state && *r == Some(request))
            .expect("each task is created and runs")
    };
    let last_created = later
        .iter()
        .map(|&r| position(TaskState::Ready, r))
        .max()
        .expect("three tasks");
    let runs: Vec<usize> = later
        .iter()
        .map(|&r| position(TaskState::Running, r))
        .collect();
    // uvicorn reads every waiting request when the loop is free again and
    // creates its task; only then does the loop run them, first come first.
    assert!(runs.iter().all(|&p| p > last_created), "{states:?}");
    assert!(runs.windows(2).all(|w| w[0] < w[1]), "{states:?}");
}

#[test]
fn a_task_resumes_once_per_await_that_finished_and_never_on_its_own() {
    let trace = lesson(&at_once("asgi", 1, "/slow?ms=100", 3));
    for r in &trace.requests {
        let mine: Vec<TaskState> = task_states(&trace)
            .into_iter()
            .filter(|(_, _, req)| *req == Some(r.id))
            .map(|(_, s, _)| s)
            .collect();
        // Ready, then runs and awaits in pairs, then done: every resume
        // follows an await, and nothing runs twice in a row.
        assert_eq!(mine.first(), Some(&TaskState::Ready), "{mine:?}");
        assert_eq!(mine.last(), Some(&TaskState::Done), "{mine:?}");
        let middle = &mine[1..mine.len() - 1];
        assert!(!middle.is_empty() && middle.len() % 2 == 1, "{mine:?}");
        for (i, s) in middle.iter().enumerate() {
            let want = if i % 2 == 0 {
                TaskState::Running
            } else {
                TaskState::Awaiting
            };
            assert_eq!(*s, want, "{mine:?}");
        }
        // The 100 ms wait is one await: at least one suspension.
        assert!(middle.contains(&TaskState::Awaiting), "{mine:?}");
    }
}
