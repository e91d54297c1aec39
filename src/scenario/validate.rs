//! Reading a lesson file and checking it before anything runs: syntax,
//! field names and types (serde), then the rules serde cannot express.
//! Every error points at `path:line:col` and carries a hint.

use std::path::Path;

use super::error::ScenarioError;
use super::format::Scenario;
use crate::trace::Layer;

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
        let layer = step.split('.').next().unwrap_or("");
        if Layer::parse(layer).is_none() || !step.contains('.') {
            return err(
                n.step.span().start,
                format!("narration step `{step}` does not name a layer's step"),
                "steps look like web_server.request.receive; `roundtrip run NAME --json` lists every step",
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
    fn bad_size_in_stack_config_points_at_it() {
        let e = check("title = \"x\"\n[stack.web_server]\nclient_max_body_size = \"lots\"\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }
}
