//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod serve;
pub mod tmux;

use std::path::Path;

use roundtrip::scenario::{self, Lesson};
use roundtrip::trace::Trace;

/// Run a lesson written inline in a test; its expectations must hold.
pub fn lesson(source: &str) -> Trace {
    let path = Path::new("inline.toml");
    let scenario = scenario::validate::parse(path, source).unwrap_or_else(|e| panic!("{e}"));
    let lesson = Lesson {
        name: "inline".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    let outcome = scenario::run(&lesson).unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.unmet.is_empty(), "{:?}", outcome.unmet);
    outcome.trace
}

/// Run a lesson written inline; return its trace and the sentences
/// `check` would print for its unmet expectations.
pub fn lesson_with_unmet(source: &str) -> (Trace, Vec<String>) {
    let path = Path::new("inline.toml");
    let scenario = scenario::validate::parse(path, source).unwrap_or_else(|e| panic!("{e}"));
    let lesson = Lesson {
        name: "inline".into(),
        path: path.to_path_buf(),
        source: source.into(),
        scenario,
    };
    let outcome = scenario::run(&lesson).unwrap_or_else(|e| panic!("{e}"));
    let unmet = outcome
        .unmet
        .iter()
        .map(|u| u.describe(&lesson.scenario))
        .collect();
    (outcome.trace, unmet)
}
