//! The book names what the code has: every step of the trace vocabulary is
//! listed in the lesson-writing chapter, and every bundled lesson is named
//! somewhere in the book. A step or a lesson added without its words in
//! the book fails here.

use std::path::Path;

use roundtrip::scenario::bundled;
use roundtrip::trace::StepId;

/// book/src/lessons.md, the chapter that lists the step names.
const LESSONS_CHAPTER: &str = include_str!("../book/src/lessons.md");

#[test]
fn every_step_name_is_in_the_lesson_book() {
    let missing: Vec<&str> = StepId::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|name| !LESSONS_CHAPTER.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "book/src/lessons.md does not list these steps (in backticks): {missing:?}"
    );
}

#[test]
fn every_bundled_lesson_is_named_in_the_book() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut book = String::new();
    let mut chapters = 0;
    for entry in std::fs::read_dir(&dir).expect("book/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            book.push_str(&std::fs::read_to_string(&path).expect("a chapter is readable"));
            book.push('\n');
            chapters += 1;
        }
    }
    assert!(chapters > 1, "no chapters found in {}", dir.display());
    let missing: Vec<&str> = bundled::names()
        .filter(|name| !book.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "no chapter of book/src names these bundled lessons (in backticks): {missing:?}"
    );
}
