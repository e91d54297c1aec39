//! One lesson, several stacks (`[[compare]]`): each variant is a run of its
//! own, on its own paused clock, sent the same requests and the same
//! seeded load. These tests prove "the same": identical arrivals, identical
//! picks from the mix, identical written requests, and that nothing of one
//! run leaks into another.

use std::collections::BTreeMap;
use std::path::Path;

use roundtrip::scenario::{self, Lesson, Outcome};
use roundtrip::trace::export::{json, plain};
use roundtrip::trace::{Instance, StepId, Trace};

fn run(source: &str) -> Outcome {
    let path = Path::new("compare-test.toml");
    let scenario =
        scenario::validate::parse(path, source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    let lesson = Lesson {
        name: "compare-test".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    let outcome = scenario::run(&lesson).unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    outcome
}

/// What the client sent, per connection of its own, in order: (when, the
/// request line).
fn sends(trace: &Trace) -> BTreeMap<u64, Vec<(u64, String)>> {
    let mut out: BTreeMap<u64, Vec<(u64, String)>> = BTreeMap::new();
    for e in &trace.events {
        if e.step != StepId::ClientRequestSend {
            continue;
        }
        let Some(Instance::Client { conn }) = e.instance else {
            continue;
        };
        let target = trace
            .requests
            .iter()
            .find(|r| Some(r.id) == e.request)
            .map(|r| format!("{} {}", r.method, r.target))
            .unwrap_or_default();
        out.entry(conn).or_default().push((e.at_ns, target));
    }
    out
}

#[test]
fn an_open_loop_sends_every_variant_the_same_arrivals_at_the_same_nanoseconds() {
    let o = run("title = \"x\"\n[stack.app]\ndb_latency = \"20ms\"\n\
         [load]\nrate = \"40/s\"\nduration = \"2s\"\n\
         [[load.mix]]\npath = \"/notes\"\nweight = 3\n[[load.mix]]\npath = \"/notes/1\"\n\
         [[compare]]\nname = \"one worker\"\nstack.app_server = { workers = 1 }\n\
         [[compare]]\nname = \"event loop\"\nstack.app_server = { interface = \"asgi\" }\n");
    let traces = o.traces();
    assert_eq!(traces.len(), 2);
    let (a, b) = (sends(traces[0]), sends(traces[1]));
    assert!(a.len() > 40, "{} arrivals", a.len());
    assert_eq!(a, b, "the same arrivals, the same picks");
    // But the stacks differ: the one worker queues what the loop does not.
    let wait = |t: &Trace| {
        t.metrics
            .as_ref()
            .and_then(|m| m.queue_wait)
            .map_or(0, |q| q.max_ns)
    };
    assert!(wait(traces[0]) > wait(traces[1]));
}

#[test]
fn a_variants_mix_swaps_each_request_and_every_client_picks_the_same_entries() {
    let o = run("title = \"x\"\n[stack.app]\ndb_latency = \"10ms\"\n\
         [load]\nclients = 4\nduration = \"1s\"\n\
         [[load.mix]]\npath = \"/slow?ms=10\"\nweight = 3\n[[load.mix]]\npath = \"/cpu?ms=10\"\n\
         [[compare]]\nname = \"as written\"\nstack.app_server = { workers = 4 }\n\
         [[compare]]\nname = \"swapped\"\nstack.app_server = { workers = 4 }\n\
         mix = [{ path = \"/threadpool?ms=10\" }, { path = \"/blocking?ms=10\" }]\n");
    let traces = o.traces();
    let entry = |target: &str| match target.split('?').next() {
        Some("GET /slow" | "GET /threadpool") => 0,
        Some("GET /cpu" | "GET /blocking") => 1,
        other => panic!("{other:?}"),
    };
    let picks = |t: &Trace| -> BTreeMap<u64, Vec<usize>> {
        sends(t)
            .into_iter()
            .map(|(c, list)| (c, list.iter().map(|(_, target)| entry(target)).collect()))
            .collect()
    };
    let (a, b) = (picks(traces[0]), picks(traces[1]));
    assert_eq!(a, b);
    assert!(
        a.values().flatten().any(|&i| i == 1),
        "both entries are picked"
    );
    let mix: Vec<String> = traces[1]
        .metrics
        .as_ref()
        .and_then(|m| m.load.as_ref())
        .map(|l| {
            l.mix
                .iter()
                .map(|m| format!("{} × {}", m.path, m.weight))
                .collect()
        })
        .unwrap_or_default();
    // The swapped entries keep the load's weights.
    assert_eq!(mix, ["/threadpool?ms=10 × 3", "/blocking?ms=10 × 1"]);
}

#[test]
fn each_variant_runs_on_its_own_clock_and_records_its_own_stack() {
    let o = run("title = \"x\"\n[[request]]\npath = \"/slow?ms=30\"\n\
         [[request]]\npath = \"/slow?ms=30\"\n[[request]]\npath = \"/slow?ms=30\"\n\
         [[compare]]\nname = \"one worker\"\nstack.app_server = { workers = 1 }\n\
         [[compare]]\nname = \"three workers\"\nstack.app_server = { workers = 3 }\n");
    let traces = o.traces();
    let last = |t: &Trace| t.events.iter().map(|e| e.at_ns).max().unwrap_or(0);
    // One worker serves the three in turn, three serve them at once; the
    // second run starts at zero, not where the first ended.
    assert_eq!(last(traces[0]) / 1_000_000, 90);
    assert_eq!(last(traces[1]) / 1_000_000, 30);
    assert_eq!(traces[1].events[0].seq, 0);
    let workers = |t: &Trace| t.meta.config["app_server"]["workers"].as_u64();
    assert_eq!((workers(traces[0]), workers(traces[1])), (Some(1), Some(3)));
    let v: Vec<_> = traces
        .iter()
        .map(|t| t.meta.variant.clone().expect("a variant"))
        .map(|v| (v.index, v.of, v.name))
        .collect();
    assert_eq!(
        v,
        [
            (1, 2, "one worker".to_string()),
            (2, 2, "three workers".to_string())
        ]
    );
}

#[test]
fn a_variant_narration_goes_to_its_variant_and_a_shared_one_to_each() {
    let o = run("title = \"x\"\n[[request]]\npath = \"/notes\"\n\
         [[compare]]\nname = \"a\"\n[[compare]]\nname = \"b\"\n\
         [[narration]]\nstep = \"client.connect\"\ntext = \"both\"\n\
         [[narration]]\nvariant = \"b\"\nstep = \"database.query\"\ntext = \"only b\"\n");
    let said = |t: &Trace| -> Vec<String> {
        t.events
            .iter()
            .filter_map(|e| e.narration.clone())
            .collect()
    };
    let traces = o.traces();
    assert_eq!(said(traces[0]), ["both"]);
    assert_eq!(said(traces[1]), ["both", "only b"]);
    assert!(o.unused_narration.is_empty());
}

#[test]
fn the_json_of_a_comparison_holds_the_table_and_every_variants_whole_trace() {
    let o = run("title = \"x\"\n[[request]]\npath = \"/notes\"\n\
         [[compare]]\nname = \"a\"\n[[compare]]\nname = \"b\"\nstack.app_server = { interface = \"asgi\" }\n");
    let text = json::runs_to_json(&o.traces(), o.comparison.as_ref());
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["comparison"]["variants"][1]["name"], "b");
    let variants = value["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    for (v, t) in variants.iter().zip(o.traces()) {
        let back: Trace = serde_json::from_value(v.clone()).expect("a whole trace");
        assert_eq!(&back, t);
    }
    // Streamed, the same bytes.
    let mut streamed = Vec::new();
    json::write_runs(&o.traces(), o.comparison.as_ref(), &mut streamed).expect("write");
    assert_eq!(String::from_utf8_lossy(&streamed), format!("{text}\n"));
}

#[test]
fn the_transcript_of_a_comparison_gives_each_variant_then_the_table() {
    let o = run("title = \"x\"\n[[request]]\npath = \"/notes\"\n\
         [[compare]]\nname = \"sync\"\n[[compare]]\nname = \"async\"\nstack.app_server = { interface = \"asgi\" }\n");
    let text = plain::transcripts(&o.traces(), o.comparison.as_ref());
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("no {s:?} in\n{text}"))
    };
    assert!(at("━━ variant 1 of 2: sync ━━") < at("━━ variant 2 of 2: async ━━"));
    assert!(at("━━ variant 2 of 2: async ━━") < at("comparison of 2 stacks"));
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("sync") && l.contains("async"))
        .unwrap_or_else(|| panic!("no column header in\n{text}"));
    assert!(header.find("sync") < header.find("async"), "{header}");
    for row in [
        "throughput (requests/s)",
        "latency p50",
        "latency p95",
        "latency p99",
        "backlog wait p50",
        "errors",
    ] {
        assert!(text.lines().any(|l| l.starts_with(row)), "no row {row:?}");
    }
    // The lesson's title once, not once per variant.
    assert_eq!(text.matches("lesson compare-test: x").count(), 1);
}
