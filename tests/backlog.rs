//! The `backlog-full` lesson: a listen backlog that overflows. Linux with
//! `tcp_abort_on_overflow = 0` drops the SYNs it has no room for, and the
//! connecting side retransmits them after 1 s, then 2 s more: every
//! request is answered, late, and none is refused.

use roundtrip::scenario;
use roundtrip::trace::{StepId, Trace};

fn trace() -> Trace {
    let o = scenario::run_named("backlog-full").expect("the backlog-full lesson");
    assert!(o.unmet.is_empty(), "{:?}", o.unmet);
    o.into_traces().remove(0)
}

fn config_usize(t: &Trace, key: &str) -> usize {
    t.meta.config["app_server"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("app_server.{key}")) as usize
}

#[test]
fn an_overflowing_backlog_drops_syns_and_answers_every_request_late_but_refuses_none() {
    let t = trace();
    let backlog = config_usize(&t, "backlog");
    let requests = t.requests.len();
    assert!(t.requests.iter().all(|r| r.status == Some(200)));
    // All connect at once: the accept queue takes backlog + 1, the rest
    // of the first SYNs are dropped at 0 ms.
    let dropped_at_once = t
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerBacklogFull && e.at_ns == 0)
        .count();
    assert_eq!(dropped_at_once, requests - (backlog + 1));
    assert!(
        t.events
            .iter()
            .all(|e| e.step != StepId::WebServerProxyError),
        "no connect failed"
    );
}

#[test]
fn a_dropped_syn_gets_in_on_a_retransmission_1_s_then_3_s_after_the_first() {
    let t = trace();
    let dropped: std::collections::BTreeSet<u64> = t
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerBacklogFull)
        .filter_map(|e| e.request)
        .collect();
    assert!(!dropped.is_empty());
    let mut retried_at: Vec<u64> = t
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerBacklog)
        .filter(|e| e.request.is_some_and(|r| dropped.contains(&r)))
        .map(|e| e.at_ns / 1_000_000)
        .collect();
    retried_at.dedup();
    assert_eq!(retried_at, [1000, 3000]);
}
