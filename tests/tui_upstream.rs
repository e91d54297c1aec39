//! The player on the upstream-group lessons: the app server instances
//! side by side in the stack diagram, each with its process state, the
//! balancer's view of it (active connections, failed until when) and its
//! own workers; the instance the step is on (▶) and the balancer's choice
//! (◆) follow the cursor. The counts are checked against the balancer's
//! own facts at every choice it made.
//!
//! Snapshots at 80x24 and, for the boxes, at 120x50.

mod tui_fixtures;

use std::path::Path;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::scenario::{self, Lesson};
use roundtrip::trace::{Layer, StepId, Trace};
use roundtrip::tui::render::instances::cells;
use roundtrip::tui::{Action, PlayerState, Theme, render, update};
use tui_fixtures::lesson;

fn text(state: &PlayerState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(state, f))
        .expect("drawing into memory cannot fail");
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn at(trace: &Trace, cursor: usize) -> PlayerState {
    PlayerState::at(trace.clone(), cursor, Theme::plain())
}

/// Every trace of a lesson (one per compared variant).
fn traces(name: &str) -> Vec<Trace> {
    roundtrip::scenario::run_named(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_traces()
}

/// A lesson of `n` instances behind one group, two requests.
fn group_of(n: usize) -> Trace {
    let mut src = String::from(
        "title = \"instances\"\n[stack.app_server]\nworkers = 1\n\
         [stack.web_server.upstream]\nbalance = \"round_robin\"\n",
    );
    for k in 0..n {
        src.push_str(&format!(
            "[[stack.web_server.upstream.server]]\nname = \"app{k}\"\n"
        ));
    }
    src.push_str("[[request]]\npath = \"/notes\"\n[[request]]\npath = \"/notes\"\nat = \"10ms\"\n");
    let path = Path::new("instances.toml");
    let parsed = scenario::validate::parse(path, &src).expect("the lesson is valid");
    let lesson = Lesson {
        name: "instances".into(),
        path: path.to_path_buf(),
        source: src,
        scenario: parsed,
    };
    scenario::run(&lesson).expect("the lesson runs").trace
}

/// The step of the `n`th (from 0) balancer choice.
fn choice(trace: &Trace, n: usize) -> usize {
    trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.step == StepId::WebServerUpstreamChoose)
        .nth(n)
        .map(|(i, _)| i)
        .expect("a choice")
}

#[test]
fn load_balance_instances_at_80x24_and_120x50() {
    let trace = lesson("load-balance");
    // Request 5: b refused (stopped at 2 s), the try passed on to c.
    let failover = choice(&trace, 5);
    // At 12 s b runs again, but the balancer still skips it until 14 s.
    let skipped = trace
        .events
        .iter()
        .position(|e| e.at_ns >= 12_000_000_000)
        .expect("a step at 12 s");
    // Request 12 back on b, in its worker.
    let back = trace
        .events
        .iter()
        .rposition(|e| e.step == StepId::AppServerWorker && e.server.as_deref() == Some("b"))
        .expect("b works again");
    for (name, cursor) in [("failover", failover), ("skipped", skipped), ("back", back)] {
        insta::assert_snapshot!(
            format!("load-balance__{name}__80x24"),
            text(&at(&trace, cursor), 80, 24)
        );
    }
    let screen = text(&at(&trace, skipped), 120, 50);
    assert!(screen.contains("failed→14 s"), "{screen}");
    insta::assert_snapshot!("load-balance__skipped__120x50", screen);
}

#[test]
fn the_instances_count_connections_as_the_balancer_does_at_every_choice() {
    let mut checked = 0;
    for name in ["load-balance", "least-conn", "upstream-down"] {
        for trace in traces(name) {
            let state = at(&trace, 0);
            let group = &state.index.group;
            for (i, e) in trace.events.iter().enumerate() {
                let Some(d) = e
                    .decision
                    .as_ref()
                    .filter(|_| e.step == StepId::WebServerUpstreamChoose)
                else {
                    continue;
                };
                // Just before the choice, as the balancer saw them.
                let before = group.at(&trace.events, i - 1);
                for c in &d.candidates {
                    let k = group
                        .names
                        .iter()
                        .position(|n| *n == c.name)
                        .expect("known");
                    let fact = |f: &str| {
                        c.facts
                            .iter()
                            .find(|(n, _)| n == f)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    assert_eq!(
                        before[k].conns.to_string(),
                        fact("conns"),
                        "{name} step {i}: {}",
                        c.name
                    );
                    let state = fact("state");
                    if let Some(from) = state.strip_prefix("failed: eligible again from ") {
                        let until = before[k].failed_until_ns.expect("known to have failed");
                        let secs = until / 1_000_000_000;
                        let clock = format!(
                            "T{:02}:{:02}:{:02}Z",
                            secs / 3600,
                            secs / 60 % 60,
                            secs % 60
                        );
                        assert!(from.ends_with(&clock), "{name} step {i}: {from} vs {clock}");
                        assert!(before[k].failed_at(e.at_ns), "{name} step {i}");
                    } else if state == "eligible" {
                        assert!(!before[k].failed_at(e.at_ns), "{name} step {i}: {}", c.name);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 30, "{checked} candidates checked");
}

#[test]
fn stepping_moves_the_marks_to_the_instance_the_step_is_on_and_the_one_chosen() {
    let trace = lesson("load-balance");
    let mut state = at(&trace, 0);
    let mut seen_on = 0;
    for _ in 0..trace.events.len() {
        let e = &trace.events[state.cursor];
        let shown = cells(&state).expect("a group");
        let on: Vec<&str> = shown
            .iter()
            .filter(|c| c.current)
            .map(|c| c.name.as_str())
            .collect();
        match e.server.as_deref() {
            Some(s) if e.layer.depth() >= Layer::AppServer.depth() => {
                assert_eq!(on, [s], "step {}", state.cursor);
                seen_on += 1;
            }
            _ => assert!(on.is_empty(), "step {}", state.cursor),
        }
        // The balancer's choice for this request, once it made one.
        if e.step == StepId::WebServerUpstreamChoose
            && let Some(chosen) = e.decision.as_ref().and_then(|d| d.chosen.clone())
        {
            let marked: Vec<&str> = shown
                .iter()
                .filter(|c| c.chosen)
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(marked, [chosen.as_str()], "step {}", state.cursor);
        }
        update(&mut state, Action::StepForward);
    }
    assert!(seen_on > 100);
    // Stepping back gives back the same instances.
    let here = cells(&state);
    update(&mut state, Action::StepBack);
    update(&mut state, Action::StepForward);
    assert_eq!(cells(&state), here);
}

#[test]
fn a_stopped_instance_is_down_until_it_starts_again() {
    let trace = lesson("load-balance");
    let stop = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerInstanceStop)
        .expect("b stops");
    let start = trace
        .events
        .iter()
        .position(|e| e.step == StepId::AppServerInstanceStart)
        .expect("b starts");
    let b = |i: usize| {
        cells(&at(&trace, i))
            .expect("a group")
            .into_iter()
            .find(|c| c.name == "b")
            .expect("b")
            .process
    };
    assert_eq!(b(stop - 1), "up");
    assert_eq!(b(stop), "down");
    assert_eq!(b(start - 1), "down");
    assert_eq!(b(start), "up");
}

#[test]
fn two_to_four_instances_fit_at_80x24_and_more_say_how_many_more() {
    for n in 2..=4 {
        let trace = group_of(n);
        let screen = text(&at(&trace, choice(&trace, 0)), 80, 24);
        for k in 0..n {
            assert!(screen.contains(&format!("app{k}")), "{n}: app{k}\n{screen}");
        }
        assert!(!screen.contains("more"), "{n}:\n{screen}");
        if n == 4 {
            insta::assert_snapshot!("four_instances__80x24", screen);
        }
    }
    let trace = group_of(7);
    let screen = text(&at(&trace, choice(&trace, 1)), 80, 24);
    assert!(screen.contains("+4 more"), "{screen}");
    assert!(
        screen.contains("◆app1"),
        "the chosen one is kept:\n{screen}"
    );
    insta::assert_snapshot!("seven_instances__80x24", screen);
}

#[test]
fn a_stack_without_a_group_draws_no_instances() {
    for name in ["hello", "many-at-once"] {
        let state = at(&lesson(name), 0);
        assert!(state.index.group.is_empty(), "{name}");
        assert_eq!(cells(&state), None, "{name}");
    }
}
