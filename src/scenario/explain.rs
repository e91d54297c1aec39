//! serde's and TOML's error messages, said in the words of a lesson.
//!
//! serde speaks Rust ("invalid type: string \"200\", expected struct
//! Expect", "expected usize"); a teacher writing a lesson knows TOML and
//! HTTP. Each shape of message serde and the TOML parser produce for the
//! lesson format gets its own sentence and a hint that fits it: a wrong
//! type names the kind of value the field takes, with an example; a
//! table given as text shows the table; a missing field shows the line
//! to add; an unknown field or value lists the allowed ones, with the
//! closest as a did-you-mean.
//!
//! Book: "Writing a lesson" (book/src/lessons.md, "When check says no").

use super::validate::did_you_mean;

/// The message and hint for a serde/TOML error `raw`, reported at byte
/// `offset` of `source`.
pub fn explain(raw: &str, source: &str, offset: usize) -> (String, String) {
    let offset = char_floor(source, offset);
    let key = key_at(source, offset);
    let key_name = key.as_deref().unwrap_or("this value");
    let shown = |k: &str| format!("`{k}`");
    let field = key
        .as_deref()
        .map_or_else(|| "this value".to_string(), shown);
    if let Some(rest) = raw.strip_prefix("unknown field ") {
        let (name, allowed) = name_and_allowed(rest);
        let place = table_at(source, offset);
        let message = format!("`{name}` is not a field of {place}");
        let list = quoted(&allowed);
        let hint = match did_you_mean(&name, allowed.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`? the fields here are: {list}"),
            None if allowed.is_empty() => "this table takes no fields".to_string(),
            None => format!("the fields here are: {list}"),
        };
        return (message, hint);
    }
    if let Some(rest) = raw.strip_prefix("unknown variant ") {
        let (name, allowed) = name_and_allowed(rest);
        let message = format!("`{name}` is not a value {field} takes");
        let list = quoted(&allowed);
        let hint = match did_you_mean(&name, allowed.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`? use one of: {list}"),
            None => format!("use one of: {list}"),
        };
        return (message, hint);
    }
    if let Some(rest) = raw.strip_prefix("missing field ") {
        let name = rest.trim_matches('`').to_string();
        let place = table_at(source, offset);
        let message = format!("{place} needs `{name}`, and it has none");
        return (message, format!("add a line like: {}", example(&name)));
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let (found, expected) = split_expected(rest);
        let found = found_words(found);
        return match kind(expected) {
            Kind::Table => (
                format!("{field} is a table, such as {}", example(key_name)),
                format!("write {} (not {found})", example(key_name)),
            ),
            Kind::List => (
                format!("{field} is a list, such as {}", example(key_name)),
                format!("write {} (not {found})", example(key_name)),
            ),
            Kind::Scalar { words, write } => (
                format!("{field} must be {words}, not {found}"),
                write.replace("KEY", key_name),
            ),
        };
    }
    if let Some(rest) = raw.strip_prefix("invalid value: ") {
        let (found, expected) = split_expected(rest);
        let found = found_words(found);
        let range = match expected {
            "u8" => "a whole number from 0 to 255",
            "u16" => "a whole number from 0 to 65535",
            "u32" | "u64" | "usize" => "a whole number, 0 or more",
            other => other,
        };
        return (
            format!("{field} is out of range: {found} is not {range}"),
            "pick a value in that range".to_string(),
        );
    }
    if raw.contains("did not match any variant of untagged enum") {
        return (
            format!("{field} is not a size, a time or a rate roundtrip can read"),
            "sizes are written like 1024, \"8k\" or \"1m\"; times like \"500ms\", \"60s\" or \"2m\"; rates like \"50/s\"".to_string(),
        );
    }
    if raw.contains("not a size") || raw.contains("not a time") || raw.contains("unit") {
        return (
            raw.to_string(),
            "sizes are written like 1024, \"8k\" or \"1m\"; times like \"500ms\", \"60s\" or \"2m\""
                .to_string(),
        );
    }
    if looks_like_syntax(raw) {
        let first = raw.lines().next().unwrap_or(raw).to_string();
        return (
            format!("TOML syntax: {first}"),
            "check the quotes, brackets and `=` on this line: text goes in \"double quotes\", a table header in [brackets]".to_string(),
        );
    }
    // A message of roundtrip's own (a custom serde error): already in
    // lesson words.
    (
        raw.to_string(),
        format!("see \"Writing a lesson\" in the book for what {field} takes"),
    )
}

/// Whether a message is the TOML parser's (not serde's, not ours).
fn looks_like_syntax(raw: &str) -> bool {
    const SHAPES: [&str; 12] = [
        "invalid table header",
        "invalid string",
        "invalid key",
        "invalid basic string",
        "invalid literal string",
        "invalid inline table",
        "invalid array",
        "expected",
        "unclosed",
        "duplicate key",
        "string values must be quoted",
        "extra assignment",
    ];
    SHAPES.iter().any(|s| raw.starts_with(s)) || raw.contains("\nexpected")
}

enum Kind {
    Table,
    List,
    /// A kind of value in words, and how to write one (`KEY`: the key).
    Scalar {
        words: &'static str,
        write: &'static str,
    },
}

/// What serde's "expected …" means for a lesson's author.
fn kind(expected: &str) -> Kind {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" || e.contains("table") {
        return Kind::Table;
    }
    if e.starts_with("a sequence") || e.starts_with("an array") || e.starts_with("array") {
        return Kind::List;
    }
    let (words, write) = match e {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => (
            "a whole number (such as 4)",
            "write the number without quotes, e.g. KEY = 4",
        ),
        "f32" | "f64" => (
            "a number (such as 2.5)",
            "write the number without quotes, e.g. KEY = 2.5",
        ),
        "a boolean" => (
            "true or false",
            "write KEY = true or KEY = false, without quotes",
        ),
        "a string" | "a borrowed string" | "string" => (
            "text in double quotes",
            "put the text in double quotes, e.g. KEY = \"…\"",
        ),
        _ if e.contains("request's number") => (
            "a request's number (such as 2) or its name (such as \"login\")",
            "write request = 2 (the second [[request]] of the file) or request = \"login\" (its name)",
        ),
        _ => (
            "a value of another kind",
            "see \"Writing a lesson\" in the book for what KEY takes",
        ),
    };
    Kind::Scalar { words, write }
}

/// serde's description of the value it found, in a lesson's words.
fn found_words(found: &str) -> String {
    let f = found.trim();
    if let Some(s) = f.strip_prefix("string ") {
        return format!("the text {s}");
    }
    for (prefix, what) in [
        ("integer ", "the number "),
        ("floating point ", "the number "),
        ("boolean ", ""),
    ] {
        if let Some(v) = f.strip_prefix(prefix) {
            return format!("{what}{}", v.trim_matches('`'));
        }
    }
    match f {
        "map" => "a table".to_string(),
        "sequence" => "a list".to_string(),
        other => other.to_string(),
    }
}

/// `found, expected x` → (`found`, `x`).
fn split_expected(rest: &str) -> (&str, &str) {
    match rest.split_once(", expected ") {
        Some((found, expected)) => (found, expected),
        None => (rest, ""),
    }
}

/// "`methd`, expected one of `a`, `b`" → ("methd", [a, b]).
fn name_and_allowed(rest: &str) -> (String, Vec<String>) {
    let (name, expected) = split_expected(rest);
    let allowed = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (name.trim().trim_matches('`').to_string(), allowed)
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a field is written, for hints ("add a line like: …").
pub fn example(key: &str) -> String {
    let line = match key {
        "title" => "title = \"What this lesson shows\"",
        "text" => "text = \"What the learner should notice here\"",
        "path" => "path = \"/notes\"",
        "duration" => "duration = \"10s\"",
        "mix" => "[[load.mix]] with path = \"/notes\"",
        "name" => "name = \"gunicorn -w 4\"",
        "match" => "match = \"/\"",
        "expect" => "`expect = { status = 200 }`",
        "headers" => "`headers = { Accept = \"text/html\" }`",
        "json" => "`json = { title = \"A note\" }`",
        "stack" => "`[stack.app_server]` with `workers = 2` under it",
        "app_server" => "`app_server = { workers = 2 }` (or a [stack.app_server] section)",
        "web_server" => {
            "`web_server = { keepalive_timeout = \"75s\" }` (or a [stack.web_server] section)"
        }
        "app" => "`app = { db_latency = \"2ms\" }` (or a [stack.app] section)",
        "load" => "`[load]` with clients = 4 and duration = \"10s\" under it",
        "request" => "`[[request]]` with path = \"/notes\" under it",
        "narration" => "`[[narration]]` with step = \"…\" and text = \"…\" under it",
        "compare" => "`[[compare]]` with name = \"…\" under it",
        "location" => "`[[stack.web_server.location]]` with match = \"/\" under it",
        "middleware" => "`middleware = [\"request_id\", \"access_log\"]`",
        "index" => "`index = [\"index.html\"]`",
        "try_files" => "`try_files = [\"$uri\", \"=404\"]`",
        other => return format!("`{other} = …`"),
    };
    line.to_string()
}

/// The key whose value starts at `offset` (`workers` in `workers = "two"`
/// or in `{ workers = "two" }`), or the key at `offset` itself.
fn key_at(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = source[line_start..offset].trim_end();
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    let key_from = |text: &str| {
        let name: String = text
            .chars()
            .rev()
            .take_while(|&c| is_key(c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let name = name.rsplit('.').next().unwrap_or("").to_string();
        (!name.is_empty()).then_some(name)
    };
    if let Some(head) = before.strip_suffix('=') {
        return key_from(head.trim_end());
    }
    // The error points at a key (or at a table header).
    let rest = &source[offset..];
    let here: String = rest.chars().take_while(|&c| is_key(c)).collect();
    if !here.is_empty() && rest[here.len()..].trim_start().starts_with('=') {
        return here.rsplit('.').next().map(str::to_string);
    }
    None
}

/// The table a position lies in, as a person names it: "this
/// [[request]]", "[stack.app_server]", "the lesson's top level".
fn table_at(source: &str, offset: usize) -> String {
    let offset = offset.min(source.len());
    // An inline table on the same line: `expect = { … }`.
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &source[line_start..offset];
    if let Some(brace) = line.rfind('{')
        && let Some(key) = key_at(source, line_start + brace)
    {
        return format!("`{key}`");
    }
    let here_to_eol = source[offset..].lines().next().unwrap_or("").trim();
    let header = if here_to_eol.starts_with('[') {
        Some(here_to_eol)
    } else {
        source[..offset]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
    };
    match header {
        Some(h) => {
            let h = h.split('#').next().unwrap_or(h).trim();
            if h.starts_with("[[") {
                format!("this {h}")
            } else {
                h.to_string()
            }
        }
        None => "the lesson's top level".to_string(),
    }
}

/// `offset`, moved back to the start of the character it falls in (and
/// into the text), so that slicing at it cannot panic.
fn char_floor(source: &str, offset: usize) -> usize {
    let mut at = offset.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serdes_words_become_a_lessons_words() {
        let src = "workers = \"two\"\n";
        let (m, h) = explain("invalid type: string \"two\", expected u64", src, 10);
        assert_eq!(
            m,
            "`workers` must be a whole number (such as 4), not the text \"two\""
        );
        assert_eq!(h, "write the number without quotes, e.g. workers = 4");
        let src = "[[request]]\nexpect = \"200\"\n";
        let (m, _) = explain(
            "invalid type: string \"200\", expected struct Expect",
            src,
            21,
        );
        assert_eq!(
            m,
            "`expect` is a table, such as `expect = { status = 200 }`"
        );
    }

    #[test]
    fn a_missing_field_names_its_table_and_the_line_to_add() {
        let src = "title = \"x\"\n[[narration]]\nstep = \"client.connect\"\n";
        let (m, h) = explain("missing field `text`", src, 12);
        assert_eq!(m, "this [[narration]] needs `text`, and it has none");
        assert!(h.starts_with("add a line like: text = "), "{h}");
    }

    #[test]
    fn a_syntax_error_is_called_one() {
        let (m, h) = explain(
            "invalid table header\nexpected `.`, `]]`",
            "[[request]\n",
            9,
        );
        assert_eq!(m, "TOML syntax: invalid table header");
        assert!(h.contains("quotes, brackets"), "{h}");
    }

    proptest! {
        /// Any message, any text, any offset (even inside a character):
        /// an explanation, never a panic.
        #[test]
        fn explaining_never_panics(raw in ".{0,60}", source in "(\\PC|\n|=|\\{|\\[){0,80}", offset in 0usize..200) {
            let (message, hint) = explain(&raw, &source, offset);
            prop_assert!(!hint.is_empty());
            let _ = message;
        }
    }
}
