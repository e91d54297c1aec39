//! Traces for the TUI tests: the real lessons, recorded by the lesson
//! runner ([`lesson`]), and a long trace made of many `hello` requests
//! ([`many`]). Key frames are found by what happens at them
//! ([`key_frames`]), not by index, so they survive changes to a lesson.

#![allow(dead_code)]

use roundtrip::trace::{Direction, Meta, Trace};
use roundtrip::tui::view::StepView;
use roundtrip::tui::{PlayerState, Theme};

/// The trace of a lesson, by name.
pub fn lesson(name: &str) -> Trace {
    roundtrip::scenario::run_named(name)
        .unwrap_or_else(|e| panic!("lesson {name}: {e}"))
        .trace
}

/// The frames a learner would stop at: start, going down, the answer,
/// going back up, end. Found from the trace, so any recording works.
pub fn key_frames(trace: &Trace) -> Vec<(&'static str, usize)> {
    let last = trace.events.len() - 1;
    let state = PlayerState::new(trace.clone(), Vec::new(), Theme::plain());
    let crossing = |i: usize| {
        let s = PlayerState {
            cursor: i,
            ..state.clone()
        };
        StepView::of(&s).and_then(|v| {
            let b = v.crossing_now?;
            Some((b, v.crossings[b].as_ref()?.direction))
        })
    };
    let answer = trace
        .events
        .iter()
        .position(|e| e.answer.is_some())
        .expect("the trace has an answer");
    let down = (0..answer)
        .find(|&i| matches!(crossing(i), Some((b, Direction::Down)) if b >= 1))
        .or_else(|| (0..answer).find(|&i| matches!(crossing(i), Some((_, Direction::Down)))))
        .unwrap_or(0);
    let up = (answer + 1..=last)
        .find(|&i| matches!(crossing(i), Some((_, Direction::Up))))
        .unwrap_or(last);
    vec![
        ("1-start", 0),
        ("2-going-down", down),
        ("3-answer", answer),
        ("4-going-up", up),
        ("5-end", last),
    ]
}

/// A trace with `n` requests of the `hello` shape, one after another,
/// for the benchmark and the long-trace tests.
pub fn many(n: u64) -> Trace {
    let one = lesson("hello");
    let span = 2_000_000;
    let mut events = Vec::new();
    let mut requests = Vec::new();
    for id in 1..=n {
        let shift = (id - 1) * span;
        for e in &one.events {
            let mut e = e.clone();
            e.seq = events.len() as u64;
            e.at_ns += shift;
            e.request = e.request.map(|_| id);
            e.conn = Some(id);
            events.push(e);
        }
        let mut r = one.requests[0].clone();
        r.id = id;
        // The copies are the lesson's requests 1..=n, in order.
        r.lesson = Some(id);
        r.conn = Some(id);
        r.started_ns += shift;
        r.finished_ns += shift;
        for t in &mut r.timings {
            t.first_ns += shift;
            t.last_ns += shift;
        }
        requests.push(r);
    }
    let meta = Meta {
        scenario: "many".into(),
        title: "Many requests".into(),
        summary: "The hello request, again and again.".into(),
        ..one.meta.clone()
    };
    Trace {
        meta,
        requests,
        events,
        ..one
    }
}
