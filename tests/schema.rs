//! The lesson format's JSON Schema (`roundtrip schema`,
//! scenarios/lesson.schema.json) is the one the code derives, and it
//! describes the lessons the code reads: every bundled lesson passes it,
//! and a misspelled key or a value of the wrong kind does not.

use roundtrip::scenario::{bundled, schema};

const SHIPPED: &str = include_str!("../scenarios/lesson.schema.json");

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&schema::lesson_schema()).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// A lesson's TOML as the JSON value an editor checks against the schema.
fn as_json(lesson: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(lesson).expect("the lesson is TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

fn errors(lesson: &str) -> Vec<String> {
    validator()
        .iter_errors(&as_json(lesson))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_shipped_schema_is_the_one_roundtrip_schema_prints() {
    assert!(
        SHIPPED == schema::lesson_schema(),
        "scenarios/lesson.schema.json is stale: run `cargo run -- schema > scenarios/lesson.schema.json`"
    );
}

#[test]
fn every_bundled_lesson_passes_the_schema() {
    let mut checked = 0;
    for (name, text) in bundled::LESSONS {
        let errors = errors(text);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        checked += 1;
    }
    assert!(checked > 10, "only {checked} lessons checked");
}

#[test]
fn a_misspelled_key_a_wrong_kind_and_a_bad_unit_fail_the_schema() {
    let ok = "title = \"t\"\n[[request]]\npath = \"/\"\n";
    assert!(errors(ok).is_empty(), "{:?}", errors(ok));
    for (lesson, why) in [
        (
            "title = \"t\"\n[[request]]\npth = \"/\"\n",
            "a key no request has",
        ),
        (
            "title = \"t\"\n[stack.app_server]\nworkers = \"two\"\n",
            "text where a number goes",
        ),
        (
            "title = \"t\"\n[stack.web_server]\nkeepalive_timeout = \"75 parsecs\"\n",
            "a time in no unit",
        ),
        (
            "title = \"t\"\n[stack.app_server]\ninterface = \"cgi\"\n",
            "an interface there is not",
        ),
        (
            "title = \"t\"\n[[request]]\npath = \"/\"\nupload_rate = \"1k\"\n",
            "a byte rate without /s",
        ),
        ("summary = \"no title\"\n", "a lesson without its title"),
    ] {
        assert!(!errors(lesson).is_empty(), "{why} passed the schema");
    }
}

#[test]
fn the_schema_describes_fields_with_their_doc_comments_and_real_defaults() {
    let schema: serde_json::Value =
        serde_json::from_str(&schema::lesson_schema()).expect("the schema is JSON");
    let defs = &schema["definitions"];
    let web = &defs["WebServerConfig"]["properties"];
    assert_eq!(
        web["keepalive_timeout"]["default"], "75s",
        "nginx's default"
    );
    assert!(
        web["client_max_body_size"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("client_max_body_size 1m")),
        "{}",
        web["client_max_body_size"]
    );
    assert_eq!(
        defs["AppServerConfig"]["properties"]["backlog"]["default"],
        2048
    );
}
