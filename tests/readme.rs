//! The README shows real output: its transcript excerpt is what the tool
//! prints today, line for line.

use roundtrip::scenario;
use roundtrip::trace::export::plain;

#[test]
fn readme_transcript_excerpt_is_what_run_too_large_plain_prints() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```text\n")
        .expect("the README has a transcript excerpt");
    let block = &readme[start + 8..];
    let block = &block[..block.find("```").expect("the excerpt ends")];
    let outcome = scenario::run_named("too-large").expect("the lesson runs");
    let transcript = plain::transcript(&outcome.trace);
    // The step lines: a time column, then the step. (The figures after
    // them mention milliseconds too, but never start with a time.)
    let is_step = |l: &&str| {
        l.split_once(" ms  ")
            .is_some_and(|(time, _)| time.trim().parse::<f64>().is_ok())
    };
    let printed: Vec<&str> = transcript.lines().filter(is_step).collect();
    let shown: Vec<&str> = block.lines().collect();
    assert_eq!(
        shown, printed,
        "update the README's excerpt from `roundtrip run too-large --plain`"
    );
}
