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

/// mdBook's id for a heading: lower case, spaces to `-`, only letters,
/// digits, `-` and `_` kept (its `normalize_id`).
fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Every chapter file, with its text.
fn chapters() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("book/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, std::fs::read_to_string(&path).expect("readable")));
        }
    }
    out.sort();
    out
}

/// The ids of a chapter's headings (outside code blocks).
fn ids(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced && line.starts_with('#') {
            out.push(heading_id(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of a chapter's links: inline (`[text](target)`) and
/// reference definitions (`[name]: target`), outside code blocks and
/// code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans hold examples, not links: drop every other piece.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let trimmed = prose.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]: ")
        {
            out.push(target.split_whitespace().next().unwrap_or("").to_string());
            continue;
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            // `[text](target "title")`: the target is the first word.
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// What is wrong with the links of these chapters (name, text): a link
/// to a chapter that is not there, to a heading the chapter lacks, or to
/// a file of the repository that does not exist (`root` is book/src).
/// Also how many links were checked.
fn broken_links(chapters: &[(String, String)], root: &Path) -> (Vec<String>, usize) {
    let mut broken = Vec::new();
    let mut checked = 0;
    for (name, text) in chapters {
        for target in link_targets(text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if file.is_empty() { name.as_str() } else { file };
            checked += 1;
            let Some((_, linked)) = chapters.iter().find(|(n, _)| n == file) else {
                if file.ends_with(".md") || !root.join(file).exists() {
                    broken.push(format!("{name}: ({target}): no chapter or file {file}"));
                }
                continue;
            };
            if let Some(anchor) = anchor
                && !ids(linked).iter().any(|id| id == anchor)
            {
                broken.push(format!(
                    "{name}: ({target}): no heading #{anchor} in {file}"
                ));
            }
        }
    }
    (broken, checked)
}

/// SUMMARY.md's list is the book: mdBook leaves out any chapter it does
/// not name.
fn chapters_missing_from_summary(chapters: &[(String, String)]) -> Vec<String> {
    let summary = chapters
        .iter()
        .find(|(n, _)| n == "SUMMARY.md")
        .map_or("", |(_, text)| text.as_str());
    let listed = link_targets(summary);
    chapters
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != "SUMMARY.md" && !listed.iter().any(|t| t == n))
        .collect()
}

#[test]
fn every_chapter_is_in_the_summary() {
    let chapters = chapters();
    assert!(
        chapters.iter().any(|(n, _)| n == "SUMMARY.md"),
        "book/src/SUMMARY.md is missing"
    );
    let missing = chapters_missing_from_summary(&chapters);
    assert!(
        missing.is_empty(),
        "not in SUMMARY.md, so mdBook would leave them out: {missing:?}"
    );
}

#[test]
fn every_link_between_chapters_finds_its_chapter_and_heading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let (broken, checked) = broken_links(&chapters(), &root);
    assert!(
        checked > 20,
        "only {checked} links found: is the book there?"
    );
    assert!(broken.is_empty(), "broken links in the book: {broken:#?}");
}

/// The checks above would catch each kind of mistake: a made-up book
/// with one of each.
#[test]
fn a_broken_link_a_missing_heading_and_an_unlisted_chapter_are_each_caught() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let book = vec![
        (
            "SUMMARY.md".to_string(),
            "# Summary\n\n- [One](one.md)\n".to_string(),
        ),
        (
            "one.md".to_string(),
            "# One\n\n## Real heading\n\nSee [two](two.md), [here](#real-heading), \
             [there](#no-such-heading), [a file](../../Cargo.toml), \
             [no file](../../no-such-file.txt) and [ref].\n\n\
             `[not a link](nowhere.md)`\n\n[ref]: gone.md#x\n"
                .to_string(),
        ),
        ("orphan.md".to_string(), "# Orphan\n".to_string()),
    ];
    let (broken, _) = broken_links(&book, &root);
    assert_eq!(
        broken,
        [
            "one.md: (two.md): no chapter or file two.md",
            "one.md: (#no-such-heading): no heading #no-such-heading in one.md",
            "one.md: (../../no-such-file.txt): no chapter or file ../../no-such-file.txt",
            "one.md: (gone.md#x): no chapter or file gone.md",
        ]
    );
    assert_eq!(chapters_missing_from_summary(&book), ["orphan.md"]);
}

#[test]
fn a_heading_gets_the_id_mdbook_gives_it() {
    assert_eq!(heading_id(" Two stacks, one load"), "two-stacks-one-load");
    assert_eq!(
        heading_id(" Who is the client: REMOTE_ADDR and scope[\"client\"]"),
        "who-is-the-client-remote_addr-and-scopeclient"
    );
}
