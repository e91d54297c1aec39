//! Reading a lesson file and checking it before anything runs: syntax,
//! field names and types (serde), then the rules serde cannot express.
//! Every error points at `path:line:col` and carries a hint.

use std::path::Path;

use super::error::ScenarioError;
use super::format::Scenario;
use crate::trace::{Layer, StepId};

/// Parse and validate a lesson.
pub fn parse(path: &Path, source: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(source).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let message = e.message().trim().to_string();
        let hint = hint_for(&message);
        ScenarioError::at(path, source, offset, message, hint)
    })?;
    check_rules(path, source, &scenario)?;
    Ok(scenario)
}

fn hint_for(message: &str) -> Option<String> {
    let hint = if message.contains("missing field `request`") {
        "a lesson needs at least one request: add a [[request]] table with a `path`"
    } else if message.contains("missing field `title`") {
        "add a line like: title = \"What this lesson shows\""
    } else if message.contains("unknown field") {
        "check the spelling; the fields allowed here are listed in the message"
    } else if message.contains("unknown variant") {
        "use one of the values the message lists"
    } else if message.contains("invalid value") {
        "the value is out of range for this field"
    } else if message.contains("invalid type") {
        "the value has the wrong type: text needs quotes, numbers and true/false do not"
    } else if message.contains("not a size")
        || message.contains("not a time")
        || message.contains("unit")
    {
        "sizes are written like 1024, 8k or 1m; times like 500ms, 60s or 2m"
    } else {
        "this is a TOML syntax error: check the quotes, brackets and `=` on this line"
    };
    Some(hint.to_string())
}

/// Largest body a lesson may generate with `body_size`.
pub const MAX_LESSON_BODY: u64 = 64 * 1024 * 1024;

/// Byte offset of `key =` in the source (for settings, which carry no
/// span of their own), or of the start of the file.
fn key_offset(source: &str, key: &str) -> usize {
    key_offset_from(source, 0, key)
}

/// Byte offset of `key =` inside the `n`th (1-based) `[[request]]` table,
/// or of that table's header when the key is not found there.
fn request_key_offset(source: &str, n: usize, key: &str) -> usize {
    let start = source
        .match_indices("[[request]]")
        .nth(n.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let end = source[start + 1..]
        .find("\n[")
        .map(|i| start + 1 + i)
        .unwrap_or(source.len());
    match key_offset_from(&source[..end], start, key) {
        0 => start,
        at => at,
    }
}

fn key_offset_from(source: &str, from: usize, key: &str) -> usize {
    let mut offset = from;
    for line in source[from..].split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return offset + (line.len() - t.len());
        }
        offset += line.len();
    }
    0
}

/// Settings whose values would make a lesson unrunnable (or a machine
/// run out of memory): each must lie in a range.
fn check_ranges(s: &Scenario) -> Result<(), (&'static str, String)> {
    let web = &s.stack.web_server;
    let app = &s.stack.app_server;
    let checks: [(&'static str, bool, &str); 6] = [
        (
            "max_headers",
            (1..=10_000).contains(&web.max_headers),
            "between 1 and 10000",
        ),
        (
            "large_client_header_buffer_size",
            (64..=1024 * 1024).contains(&web.large_client_header_buffer_size.0),
            "between 64 and 1m",
        ),
        (
            "large_client_header_buffers",
            (1..=64).contains(&web.large_client_header_buffers),
            "between 1 and 64",
        ),
        (
            "workers",
            (1..=64).contains(&app.workers),
            "between 1 and 64",
        ),
        (
            "backlog",
            (1..=65_535).contains(&app.backlog),
            "between 1 and 65535",
        ),
        (
            "client_max_body_size",
            web.client_max_body_size.0 <= 1024 * 1024 * 1024,
            "at most 1g (0 turns the limit off)",
        ),
    ];
    for (key, ok, range) in checks {
        if !ok {
            return Err((key, format!("`{key}` must be {range}")));
        }
    }
    Ok(())
}

fn check_rules(path: &Path, source: &str, s: &Scenario) -> Result<(), ScenarioError> {
    let err = |offset: usize, message: String, hint: &str| {
        Err(ScenarioError::at(
            path,
            source,
            offset,
            message,
            Some(hint.to_string()),
        ))
    };
    if let Err((key, message)) = check_ranges(s) {
        return err(
            key_offset(source, key),
            message,
            "pick a value in that range",
        );
    }
    let requests_at = s.request.span().start;
    if s.request.get_ref().is_empty() {
        return err(
            requests_at,
            "the lesson sends no requests".into(),
            "add a [[request]] table with a `path`",
        );
    }
    for (i, r) in s.request.get_ref().iter().enumerate() {
        let n = i + 1;
        match (&r.path, &r.raw) {
            (None, None) => {
                return err(
                    requests_at,
                    format!("request {n} has neither `path` nor `raw`"),
                    "give it a path such as path = \"/notes\", or raw bytes to send",
                );
            }
            (Some(p), _) if !(p.starts_with('/') || p == "*") => {
                return err(
                    requests_at,
                    format!("request {n}: path `{p}` must start with `/`"),
                    "write the path as the request line carries it, e.g. \"/notes/1\"",
                );
            }
            _ => {}
        }
        let version = r.version.get_ref();
        if version != "HTTP/1.1" && version != "HTTP/1.0" {
            return err(
                r.version.span().start,
                format!("request {n}: version `{version}` is not HTTP/1.0 or HTTP/1.1"),
                "to send another version on purpose, write the request with `raw`",
            );
        }
        let bodies = [r.body.is_some(), r.json.is_some(), r.body_size.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if bodies > 1 {
            return err(
                requests_at,
                format!("request {n} has more than one of `body`, `json` and `body_size`"),
                "keep one of them",
            );
        }
        if let Some(at) = r.at
            && at.0 > super::runner::MAX_LESSON_TIME
        {
            return err(
                request_key_offset(source, n, "at"),
                format!("request {n}: `at` is later than a lesson may run (1h)"),
                "lessons run on a simulated clock; keep `at` under 1h",
            );
        }
        if let Some(size) = r.body_size
            && size.0 > MAX_LESSON_BODY
        {
            return err(
                request_key_offset(source, n, "body_size"),
                format!("request {n}: body_size {size} is larger than a lesson may send (64m)"),
                "anything over client_max_body_size shows the 413 just as well",
            );
        }
        if let Some(expect) = &r.expect
            && let Some(layer) = &expect.answered_by
            && Layer::parse(layer.get_ref()).is_none()
        {
            return err(
                layer.span().start,
                format!("request {n}: `{}` is not a layer", layer.get_ref()),
                "use one of: client, web_server, app_server, framework, handler, database",
            );
        }
    }
    for n in &s.narration {
        let step = n.step.get_ref();
        if StepId::parse(step).is_none() {
            let hint = match StepId::suggest(step) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "steps look like web_server.request.receive; `roundtrip run NAME --json` lists the steps of a lesson".to_string(),
            };
            return err(
                n.step.span().start,
                format!("narration step `{step}` is not a step roundtrip knows"),
                &hint,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("lesson.toml"), src)
    }

    #[test]
    fn syntax_error_points_at_its_line() {
        let e = check("title = \"x\"\n[[request]\npath = \"/\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.hint.is_some());
    }

    #[test]
    fn unknown_field_points_at_the_field() {
        let e = check("title = \"x\"\n[[request]]\npath = \"/\"\nmethd = \"GET\"\n").unwrap_err();
        assert_eq!((e.line, e.col), (4, 1), "{e}");
        assert!(e.message.contains("methd"), "{e}");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let e = check("title = \"x\"\n[[request]]\npath = \"/\"\nclose = \"yes\"\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn missing_requests_say_what_to_add() {
        let e = check("title = \"x\"\n").unwrap_err();
        assert!(e.message.contains("request"), "{e}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains("[[request]]"),
            "{e}"
        );
    }

    #[test]
    fn bad_layer_in_expect_points_at_it() {
        let e = check(
            "title = \"x\"\n[[request]]\npath = \"/\"\nexpect = { answered_by = \"nginx\" }\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("nginx"));
    }

    #[test]
    fn absurd_values_are_refused_with_their_line() {
        let e = check("title = \"x\"\n[[request]]\npath = \"/\"\nat = \"18446744073709551615s\"\n")
            .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = check("title = \"x\"\n[[request]]\npath = \"/\"\nat = \"9999999999999999h\"\n")
            .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e =
            check("title = \"x\"\n[[request]]\npath = \"/\"\nbody_size = \"64g\"\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = check("title = \"x\"\n[stack.web_server]\nmax_headers = 18446744073709551615\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e =
            check("title = \"x\"\n[stack.app_server]\nworkers = 0\n[[request]]\npath = \"/\"\n")
                .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn bad_size_in_stack_config_points_at_it() {
        let e = check("title = \"x\"\n[stack.web_server]\nclient_max_body_size = \"lots\"\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn a_misspelt_narration_step_points_at_it_and_suggests_the_real_name() {
        let e = check(
            "title = \"x\"\n[[request]]\npath = \"/\"\n[[narration]]\nstep = \"web_server.limit.bdy\"\ntext = \"t\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("web_server.limit.bdy"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("web_server.limit.body")),
            "{e}"
        );
    }
}
