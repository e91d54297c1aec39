//! The lesson format as a JSON Schema, for editors.
//!
//! A JSON Schema (json-schema.org, draft-07) describes what a document may
//! hold: each table's keys, each value's type, which keys are required,
//! and a description an editor shows on hover. TOML editors read it too:
//! taplo, and Even Better TOML that is built on it, check and complete a
//! TOML file against the schema named on its first line,
//! `#:schema ./lesson.schema.json` (taplo's "schema directive").
//!
//! The schema is derived from the same serde types that read a lesson
//! (see [`super::format`]), so it cannot drift from what `check` accepts:
//! the descriptions are their doc comments, the defaults their `Default`s.
//! It is shipped as `scenarios/lesson.schema.json` and printed by
//! `roundtrip schema`; a test fails when the two differ.
//!
//! The schema checks shapes, not meanings: a path that matches no route
//! or a narration naming no step passes it, and only `roundtrip check`
//! finds those.
//!
//! Book: "Writing a lesson" (book/src/lessons.md), "Editor support".

use schemars::generate::SchemaSettings;

use super::format::Scenario;

/// The name the bundled lessons and `roundtrip new` give the schema file,
/// beside the lesson.
pub const FILE_NAME: &str = "lesson.schema.json";

/// The line that points taplo (and Even Better TOML) at the schema beside
/// the lesson; it must come before any other comment or key.
pub const DIRECTIVE: &str = "#:schema ./lesson.schema.json";

/// The schema of a lesson file, as the JSON text shipped in the repo
/// (pretty-printed, ending in a newline).
pub fn lesson_schema() -> String {
    // draft-07: the draft taplo's validator and most editors know best.
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<Scenario>().to_value();
    plain_descriptions(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|e| format!("{{\"error\": \"the schema did not serialize: {e}\"}}"));
    text.push('\n');
    text
}

/// The descriptions are doc comments, written for rustdoc: an intra-doc
/// link such as ``[`super::location`]`` becomes `` `location` `` for an
/// editor's hover, which shows no links.
fn plain_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(text) if key == "description" => {
                        *text = unlink(text);
                    }
                    _ => plain_descriptions(v),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}

/// ``[`a::b::Name`]`` → `` `Name` ``; other text as it is.
fn unlink(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("[`") {
        let Some(end) = rest[at..].find("`]").map(|e| at + e) else {
            break;
        };
        let inner = &rest[at + 2..end];
        out.push_str(&rest[..at]);
        out.push('`');
        out.push_str(inner.rsplit("::").next().unwrap_or(inner));
        out.push('`');
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::unlink;

    #[test]
    fn intra_doc_links_become_plain_code_for_editors() {
        assert_eq!(
            unlink("see [`super::location`] and [`Load`], not [this]"),
            "see `location` and `Load`, not [this]"
        );
    }
}
