//! Reading a lesson file and checking it before anything runs: syntax,
//! field names and types (serde), then the rules serde cannot express.
//! Every error points at `path:line:col` and carries a hint.
//!
//! A `[load]` is checked like the rest: one of `rate` and `clients`, values
//! in range, a mix whose every entry is a request that could be written
//! as a `[[request]]`.
//!
//! A lesson that compares stacks (`[[compare]]`) gets each variant's stack
//! here: `[stack]` with the variant's own settings laid over it, key by
//! key, then checked like `[stack]` itself. Its names must be distinct,
//! its `mix` must match the load's entry for entry, and a narration's
//! `variant` must name one of them.

use std::path::Path;

use toml::Spanned;

use super::error::ScenarioError;
use super::format::{Load, Request, Scenario};
use super::load::{MAX_LOAD_CLIENTS, MAX_LOAD_RATE, MAX_LOAD_REQUESTS};
use crate::stack::StackConfig;
use crate::trace::{Layer, StepId};

/// Parse and validate a lesson.
pub fn parse(path: &Path, source: &str) -> Result<Scenario, ScenarioError> {
    let mut scenario: Scenario = toml::from_str(source).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let message = e.message().trim().to_string();
        let hint = hint_for(&message);
        ScenarioError::at(path, source, offset, message, hint)
    })?;
    resolve_variants(path, source, &mut scenario)?;
    check_rules(path, source, &scenario)?;
    Ok(scenario)
}

/// Most variants one lesson may compare (each is a whole run).
pub const MAX_VARIANTS: usize = 6;

/// Longest name of a variant: it heads a column of the comparison.
pub const MAX_VARIANT_NAME: usize = 32;

/// Give each `[[compare]]` variant the stack it runs: `[stack]` as
/// written, with the variant's `stack` laid over it. Both were read once
/// already (serde checked every field and value, with their positions),
/// so here they are read again as plain TOML tables, to know which keys
/// the variant really gives: a key it leaves out keeps the base's value,
/// not the default.
fn resolve_variants(path: &Path, source: &str, s: &mut Scenario) -> Result<(), ScenarioError> {
    if s.compare.is_empty() {
        return Ok(());
    }
    let fail = |offset: usize, message: String| {
        ScenarioError::at(
            path,
            source,
            offset,
            message,
            Some("check this variant's `stack` settings against [stack]".to_string()),
        )
    };
    let doc: toml::Table = toml::from_str(source).map_err(|e| fail(0, e.message().to_string()))?;
    let base = doc
        .get("stack")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let written = doc.get("compare").and_then(toml::Value::as_array);
    for (i, variant) in s.compare.iter_mut().enumerate() {
        let over = written
            .and_then(|list| list.get(i))
            .and_then(|v| v.get("stack"))
            .and_then(toml::Value::as_table);
        let mut merged = base.clone();
        if let Some(over) = over {
            lay_over(&mut merged, over);
        }
        variant.stack = toml::Value::Table(merged)
            .try_into::<StackConfig>()
            .map_err(|e| {
                fail(
                    variant.name.span().start,
                    format!(
                        "compare {}: its stack cannot be built: {}",
                        i + 1,
                        e.message().trim()
                    ),
                )
            })?;
    }
    Ok(())
}

/// Lay `over` onto `base`: a table in both is merged key by key, any
/// other value replaces the base's.
fn lay_over(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(below)), toml::Value::Table(above)) => lay_over(below, above),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn hint_for(message: &str) -> Option<String> {
    let hint = if message.contains("missing field `mix`") {
        "a load needs requests to send: add a [[load.mix]] table with a `path`"
    } else if message.contains("missing field `duration`") {
        "say how long the load lasts, e.g. duration = \"10s\""
    } else if message.contains("missing field `path`") {
        "each request of a load's mix needs a path, e.g. path = \"/notes\""
    } else if message.contains("missing field `title`") {
        "add a line like: title = \"What this lesson shows\""
    } else if message.contains("missing field") {
        "this table needs the field the message names"
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

/// Byte offset of `key =` inside the `n`th (1-based) table with this
/// `header` (e.g. `[[request]]`), or of that table's header when the key
/// is not found there (or of the file's start, without such a header).
fn table_key_offset(source: &str, header: &str, n: usize, key: &str) -> usize {
    let Some(start) = source
        .match_indices(header)
        .nth(n.saturating_sub(1))
        .map(|(i, _)| i)
    else {
        return 0;
    };
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
fn check_ranges(stack: &StackConfig) -> Result<(), (&'static str, String)> {
    let web = &stack.web_server;
    let app = &stack.app_server;
    let checks: [(&'static str, bool, &str); 7] = [
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
        (
            "gzip_comp_level",
            (1..=9).contains(&web.gzip_comp_level),
            "between 1 and 9",
        ),
    ];
    for (key, ok, range) in checks {
        if !ok {
            return Err((key, format!("`{key}` must be {range}")));
        }
    }
    Ok(())
}

/// A problem found by a check: where (byte offset), what, and a hint.
type Problem = (usize, String, String);

/// The rules every request to send obeys, written (`[[request]]`) or in a
/// load's mix. `path_at` is where to point for a bad path; `key_at` finds
/// a key of this request's table.
fn check_request(
    label: &str,
    r: &Request,
    path_at: usize,
    key_at: &dyn Fn(&str) -> usize,
) -> Result<(), Problem> {
    let problem =
        |offset: usize, message: String, hint: &str| Err((offset, message, hint.to_string()));
    match (&r.path, &r.raw) {
        (None, None) => {
            return problem(
                path_at,
                format!("{label} has neither `path` nor `raw`"),
                "give it a path such as path = \"/notes\", or raw bytes to send",
            );
        }
        (Some(p), _) if !(p.starts_with('/') || p == "*") => {
            return problem(
                path_at,
                format!("{label}: path `{p}` must start with `/`"),
                "write the path as the request line carries it, e.g. \"/notes/1\"",
            );
        }
        _ => {}
    }
    let version = r.version.get_ref();
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return problem(
            r.version.span().start,
            format!("{label}: version `{version}` is not HTTP/1.0 or HTTP/1.1"),
            "to send another version on purpose, write the request with `raw`",
        );
    }
    let bodies = [r.body.is_some(), r.json.is_some(), r.body_size.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if bodies > 1 {
        return problem(
            path_at,
            format!("{label} has more than one of `body`, `json` and `body_size`"),
            "keep one of them",
        );
    }
    if let Some(size) = r.body_size
        && size.0 > MAX_LESSON_BODY
    {
        return problem(
            key_at("body_size"),
            format!("{label}: body_size {size} is larger than a lesson may send (64m)"),
            "anything over client_max_body_size shows the 413 just as well",
        );
    }
    Ok(())
}

/// Longest a load may send new requests (its `duration`): the requests in
/// flight at the end must still finish well inside [`MAX_LESSON_TIME`].
///
/// [`MAX_LESSON_TIME`]: super::runner::MAX_LESSON_TIME
pub const MAX_LOAD_DURATION: std::time::Duration = std::time::Duration::from_secs(600);

/// Largest `weight` of one request in a load's mix.
pub const MAX_MIX_WEIGHT: u64 = 1_000_000;

/// The rules of a `[load]` table.
fn check_load(source: &str, load: &Spanned<Load>) -> Result<(), Problem> {
    let problem =
        |offset: usize, message: String, hint: &str| Err((offset, message, hint.to_string()));
    let at = load.span().start;
    let l = load.get_ref();
    let duration = l.duration.get_ref().0;
    match (&l.rate, &l.clients) {
        (Some(_), Some(clients)) => {
            return problem(
                clients.span().start,
                "[load] has both `rate` (an open loop) and `clients` (a closed loop)".into(),
                "keep `rate` for clients arriving at random times whatever the server does, \
                 or `clients` for a fixed number of clients that each wait for their answer",
            );
        }
        (None, None) => {
            return problem(
                at,
                "[load] says neither `rate` nor `clients`".into(),
                "add rate = \"50/s\" (an open loop) or clients = 16 (a closed loop)",
            );
        }
        (Some(rate), None) => {
            let per_second = rate.get_ref().per_second();
            if !(per_second > 0.0 && per_second <= MAX_LOAD_RATE) {
                return problem(
                    rate.span().start,
                    format!("[load] rate must be above 0 and at most {MAX_LOAD_RATE}/s"),
                    "write the arrivals per second, e.g. rate = \"50/s\"",
                );
            }
            let expected = per_second * duration.as_secs_f64();
            if expected > MAX_LOAD_REQUESTS as f64 {
                return problem(
                    rate.span().start,
                    format!(
                        "[load] would send about {expected:.0} requests; a lesson may send at most {MAX_LOAD_REQUESTS}"
                    ),
                    "lower the rate or shorten the duration; a few seconds show a queue growing",
                );
            }
            if let Some(think) = &l.think {
                return problem(
                    think.span().start,
                    "[load] `think` is for a closed loop (`clients`); an open loop's clients send once".into(),
                    "remove `think`, or use clients = N instead of rate",
                );
            }
        }
        (None, Some(clients)) => {
            if !(1..=MAX_LOAD_CLIENTS).contains(clients.get_ref()) {
                return problem(
                    clients.span().start,
                    format!("[load] clients must be between 1 and {MAX_LOAD_CLIENTS}"),
                    "pick a value in that range",
                );
            }
            if let Some(think) = &l.think
                && think.get_ref().0 > MAX_LOAD_DURATION
            {
                return problem(
                    think.span().start,
                    "[load] think is longer than a load may last (10m)".into(),
                    "a think time is usually milliseconds to seconds",
                );
            }
        }
    }
    if duration.is_zero() || duration > MAX_LOAD_DURATION {
        return problem(
            l.duration.span().start,
            "[load] duration must be above 0 and at most 10m".into(),
            "lessons run on a simulated clock: 10s of load takes well under a second to run",
        );
    }
    if let Some(warmup) = &l.warmup
        && warmup.get_ref().0 >= duration
    {
        return problem(
            warmup.span().start,
            "[load] warmup must be shorter than the duration".into(),
            "the metrics measure from warmup to duration; try a tenth of the duration",
        );
    }
    let mix = l.mix.get_ref();
    if mix.is_empty() {
        return problem(
            l.mix.span().start,
            "[load] has an empty mix: it would send nothing".into(),
            "add a [[load.mix]] table with a `path`",
        );
    }
    for (i, m) in mix.iter().enumerate() {
        let n = i + 1;
        let weight = m.weight.get_ref();
        if !(1..=MAX_MIX_WEIGHT).contains(weight) {
            let offset = match m.weight.span().start {
                0 => table_key_offset(source, "[[load.mix]]", n, "weight"),
                start => start,
            };
            return problem(
                offset,
                format!("load.mix {n}: weight must be between 1 and {MAX_MIX_WEIGHT}"),
                "weights are relative: 3 and 1 send three of the first for one of the second",
            );
        }
        let label = format!("load.mix {n}");
        let key_at = |key: &str| match table_key_offset(source, "[[load.mix]]", n, key) {
            0 => l.mix.span().start,
            offset => offset,
        };
        check_request(&label, &m.as_request(), m.path.span().start, &key_at)?;
    }
    Ok(())
}

/// Byte offset of `key =` inside the `n`th (1-based) `[[compare]]` table,
/// whether written on its own line, in an inline table
/// (`stack.app_server = { workers = 65 }`) or in a sub-table
/// (`[compare.stack.app_server]`); or of that table's header.
fn compare_key_offset(source: &str, n: usize, key: &str) -> usize {
    const HEADER: &str = "[[compare]]";
    let Some(start) = source
        .match_indices(HEADER)
        .nth(n.saturating_sub(1))
        .map(|(i, _)| i)
    else {
        return 0;
    };
    // The table runs to the next header that is not one of its own
    // sub-tables (`[compare.…]`).
    let body = start + HEADER.len();
    let mut end = source.len();
    let mut offset = body;
    for line in source[body..].split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') && !t.starts_with("[compare.") {
            end = offset;
            break;
        }
        offset += line.len();
    }
    let region = &source[body..end];
    let bytes = region.as_bytes();
    for (i, _) in region.match_indices(key) {
        let before_ok = i == 0 || {
            let b = bytes[i - 1];
            !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        let after = region[i + key.len()..].trim_start();
        if before_ok && after.starts_with('=') && !after.starts_with("==") {
            return body + i;
        }
    }
    start
}

/// The rules of `[[compare]]`: enough variants and not too many, distinct
/// names, each variant's stack in range, each variant's mix a version of
/// the load's, sensible expectations.
fn check_compare(source: &str, s: &Scenario) -> Result<(), Problem> {
    let problem =
        |offset: usize, message: String, hint: &str| Err((offset, message, hint.to_string()));
    let Some(first) = s.compare.first() else {
        return Ok(());
    };
    if s.compare.len() < 2 {
        return problem(
            first.name.span().start,
            "the lesson compares only one stack".into(),
            "add a second [[compare]] table to compare with, or remove [[compare]] and put its settings in [stack]",
        );
    }
    if s.compare.len() > MAX_VARIANTS {
        let extra = &s.compare[MAX_VARIANTS];
        return problem(
            extra.name.span().start,
            format!("a lesson may compare at most {MAX_VARIANTS} stacks"),
            "split the comparison into two lessons",
        );
    }
    for (i, c) in s.compare.iter().enumerate() {
        let n = i + 1;
        let name = c.name.get_ref();
        if name.trim().is_empty() || name.chars().count() > MAX_VARIANT_NAME {
            return problem(
                c.name.span().start,
                format!("compare {n}: a name must have 1 to {MAX_VARIANT_NAME} characters"),
                "a short name heads its column, e.g. name = \"gunicorn -w 4\"",
            );
        }
        if s.compare[..i].iter().any(|o| o.name.get_ref() == name) {
            return problem(
                c.name.span().start,
                format!("compare {n}: another variant is already called `{name}`"),
                "give each variant its own name: the comparison and the narration tell them apart by it",
            );
        }
        if let Err((key, message)) = check_ranges(&c.stack) {
            return problem(
                compare_key_offset(source, n, key),
                format!("compare {n}: {message}"),
                "pick a value in that range",
            );
        }
        if let Some(mix) = &c.mix {
            check_variant_mix(source, s, n, mix)?;
        }
        if let Some(expect) = &c.expect {
            let e = expect.get_ref();
            let bad = |x: Option<f64>| x.is_some_and(|x| !x.is_finite() || x < 0.0);
            if bad(e.throughput_min) || bad(e.throughput_max) {
                return problem(
                    expect.span().start,
                    format!(
                        "compare {n}: a throughput is a number of requests per second, 0 or more"
                    ),
                    "write e.g. expect = { throughput_min = 36, throughput_max = 44 }",
                );
            }
            if let (Some(lo), Some(hi)) = (e.throughput_min, e.throughput_max)
                && lo > hi
            {
                return problem(
                    expect.span().start,
                    format!("compare {n}: throughput_min ({lo}) is above throughput_max ({hi})"),
                    "swap them, or leave one out",
                );
            }
        }
    }
    Ok(())
}

/// A variant's `mix` replaces the load's entry for entry: as many entries,
/// each with the weight of the one it replaces, so that the seed picks the
/// same entries in the same order in every variant.
fn check_variant_mix(
    source: &str,
    s: &Scenario,
    n: usize,
    mix: &Spanned<Vec<super::format::MixRequest>>,
) -> Result<(), Problem> {
    let problem =
        |offset: usize, message: String, hint: &str| Err((offset, message, hint.to_string()));
    let at = mix.span().start;
    let Some(load) = &s.load else {
        return problem(
            at,
            format!("compare {n}: `mix` replaces the load's mix, but the lesson has no [load]"),
            "add a [load] with its [[load.mix]], or remove this `mix`",
        );
    };
    let base = load.get_ref().mix.get_ref();
    let own = mix.get_ref();
    if own.len() != base.len() {
        return problem(
            at,
            format!(
                "compare {n}: its mix has {} entr{}, the load's has {}",
                own.len(),
                if own.len() == 1 { "y" } else { "ies" },
                base.len()
            ),
            "a variant sends the same load with each request swapped for its own: give one entry for each [[load.mix]] entry, in the same order",
        );
    }
    for (k, (m, b)) in own.iter().zip(base).enumerate() {
        let label = format!("compare {n}, mix {}", k + 1);
        if m.weight.span().start != m.weight.span().end && m.weight.get_ref() != b.weight.get_ref()
        {
            return problem(
                m.weight.span().start,
                format!(
                    "{label}: weight {} differs from the load's {}",
                    m.weight.get_ref(),
                    b.weight.get_ref()
                ),
                "leave `weight` out: an entry takes the weight of the [[load.mix]] entry it replaces",
            );
        }
        let key_at = |key: &str| match compare_key_offset(source, n, key) {
            0 => at,
            offset => offset,
        };
        check_request(&label, &m.as_request(), m.path.span().start, &key_at)?;
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
    if let Err((key, message)) = check_ranges(&s.stack) {
        return err(
            key_offset(source, key),
            message,
            "pick a value in that range",
        );
    }
    for (i, loc) in s.stack.web_server.location.iter().enumerate() {
        if let Err(message) = loc.check() {
            let n = i + 1;
            return err(
                table_key_offset(source, "[[stack.web_server.location]]", n, "match"),
                format!("location {n}: {message}"),
                "give each location one of root, alias, proxy_pass = \"http://app_server\" or return (see \"The web server\" in the book)",
            );
        }
    }
    if let Err((offset, message, hint)) = check_compare(source, s) {
        return err(offset, message, &hint);
    }
    let requests_at = s.request.as_ref().map_or(0, |r| r.span().start);
    if s.requests().is_empty() && s.load.is_none() {
        return err(
            requests_at,
            "the lesson sends no requests".into(),
            "add a [[request]] table with a `path`, or a [load] table",
        );
    }
    for (i, r) in s.requests().iter().enumerate() {
        let n = i + 1;
        let label = format!("request {n}");
        let key_at = |key: &str| table_key_offset(source, "[[request]]", n, key);
        if let Err((offset, message, hint)) = check_request(&label, r, requests_at, &key_at) {
            return err(offset, message, &hint);
        }
        if let Some(at) = r.at
            && at.0 > super::runner::MAX_LESSON_TIME
        {
            return err(
                key_at("at"),
                format!("request {n}: `at` is later than a lesson may run (1h)"),
                "lessons run on a simulated clock; keep `at` under 1h",
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
    if let Some(load) = &s.load
        && let Err((offset, message, hint)) = check_load(source, load)
    {
        return err(offset, message, &hint);
    }
    for n in &s.narration {
        if let Some(variant) = &n.variant {
            let name = variant.get_ref();
            let names: Vec<String> = s
                .compare
                .iter()
                .map(|c| format!("`{}`", c.name.get_ref()))
                .collect();
            if s.compare.is_empty() {
                return err(
                    variant.span().start,
                    format!("narration for variant `{name}`, but the lesson compares no stacks"),
                    "`variant` is for a lesson with [[compare]] tables; remove it",
                );
            }
            if !s.compare.iter().any(|c| c.name.get_ref() == name) {
                return err(
                    variant.span().start,
                    format!("narration for variant `{name}`, which no [[compare]] table names"),
                    &format!("use one of: {}", names.join(", ")),
                );
            }
        }
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

    /// A lesson with a `[load]` (given as TOML lines after `[load]`) and
    /// one `[[load.mix]]` entry (given as lines after its header).
    fn load_lesson(load: &str, mix: &str) -> String {
        format!("title = \"x\"\n[load]\n{load}\n[[load.mix]]\n{mix}\n")
    }

    #[test]
    fn a_load_lesson_needs_no_written_request() {
        let s = check(&load_lesson(
            "clients = 4\nduration = \"1s\"",
            "path = \"/notes\"",
        ))
        .expect("valid");
        assert!(s.requests().is_empty());
        let load = s.load.expect("a load");
        assert_eq!(
            *load.get_ref().clients.as_ref().expect("clients").get_ref(),
            4
        );
        assert_eq!(*load.get_ref().mix.get_ref()[0].weight.get_ref(), 1);
    }

    #[test]
    fn a_load_with_both_rate_and_clients_points_at_clients() {
        let e = check(&load_lesson(
            "rate = \"50/s\"\nclients = 4\nduration = \"1s\"",
            "path = \"/\"",
        ))
        .unwrap_err();
        assert_eq!((e.line, e.col), (4, 11), "{e}");
        assert!(e.message.contains("both"), "{e}");
    }

    #[test]
    fn a_load_with_neither_rate_nor_clients_points_at_the_load_table() {
        let e = check(&load_lesson("duration = \"1s\"", "path = \"/\"")).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("clients")),
            "{e}"
        );
    }

    #[test]
    fn an_unreadable_rate_points_at_it_with_the_way_to_write_one() {
        let e = check(&load_lesson(
            "rate = \"lots\"\nduration = \"1s\"",
            "path = \"/\"",
        ))
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("50/s"), "{e}");
    }

    #[test]
    fn a_load_out_of_range_points_at_the_setting() {
        for (load, line) in [
            ("rate = \"0/s\"\nduration = \"1s\"", 3),
            ("rate = \"5000/s\"\nduration = \"10m\"", 3),
            ("clients = 0\nduration = \"1s\"", 3),
            ("clients = 100000\nduration = \"1s\"", 3),
            ("clients = 2\nduration = \"0s\"", 4),
            ("clients = 2\nduration = \"2h\"", 4),
            ("clients = 2\nduration = \"1s\"\nwarmup = \"1s\"", 5),
            ("rate = \"5/s\"\nthink = \"1s\"\nduration = \"1s\"", 4),
        ] {
            let e = check(&load_lesson(load, "path = \"/\"")).unwrap_err();
            assert_eq!(e.line, line, "{load}: {e}");
            assert!(e.hint.is_some(), "{e}");
        }
    }

    #[test]
    fn a_bad_mix_entry_points_at_its_field() {
        let load = "clients = 2\nduration = \"1s\"";
        for (mix, line, word) in [
            ("path = \"notes\"", 6, "must start with `/`"),
            ("path = \"/\"\nweight = 0", 7, "weight"),
            ("path = \"/\"\nversion = \"HTTP/2\"", 7, "HTTP/2"),
            ("path = \"/\"\nbody_size = \"65m\"", 7, "body_size"),
            ("path = \"/\"\nraw = \"GET / HTTP/1.1\"", 7, "raw"),
            ("method = \"POST\"", 5, "path"),
        ] {
            let e = check(&load_lesson(load, mix)).unwrap_err();
            assert_eq!(e.line, line, "{mix}: {e}");
            assert!(e.message.contains(word), "{mix}: {e}");
        }
    }

    #[test]
    fn an_empty_mix_says_what_to_add() {
        let e =
            check("title = \"x\"\n[load]\nclients = 2\nduration = \"1s\"\nmix = []\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("[[load.mix]]")),
            "{e}"
        );
        let e = check("title = \"x\"\n[load]\nclients = 2\nduration = \"1s\"\n").unwrap_err();
        assert!(e.message.contains("mix"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("[[load.mix]]")),
            "{e}"
        );
    }

    /// A lesson of one request and the given `[[compare]]` tables (TOML
    /// lines after the request).
    fn compare_lesson(rest: &str) -> String {
        format!(
            "title = \"x\"\n[stack.app]\ndb_latency = \"50ms\"\n[[request]]\npath = \"/\"\n{rest}"
        )
    }

    const TWO: &str = "[[compare]]\nname = \"a\"\nstack.app_server = { workers = 4 }\n[[compare]]\nname = \"b\"\nstack.app_server = { interface = \"asgi\" }\n";

    #[test]
    fn a_variant_keeps_the_base_stack_and_changes_only_what_it_names() {
        let s = check(&compare_lesson(TWO)).expect("valid");
        let (a, b) = (&s.compare[0].stack, &s.compare[1].stack);
        assert_eq!(a.app_server.workers, 4);
        assert_eq!(a.app_server.interface, crate::gateway::Interface::Wsgi);
        assert_eq!(b.app_server.interface, crate::gateway::Interface::Asgi);
        // Both keep the base's db_latency, not the default.
        for v in [a, b] {
            assert_eq!(v.app.db_latency, s.stack.app.db_latency);
            assert_eq!(v.app.db_latency.0, std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn a_variant_written_as_sub_tables_is_laid_over_the_base_too() {
        let s = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\n[compare.stack.app_server]\nworkers = 3\n[[compare]]\nname = \"b\"\n[compare.stack.app]\ndb_latency = \"1ms\"\n",
        ))
        .expect("valid");
        assert_eq!(s.compare[0].stack.app_server.workers, 3);
        assert_eq!(
            s.compare[0].stack.app.db_latency.0,
            std::time::Duration::from_millis(50)
        );
        assert_eq!(
            s.compare[1].stack.app.db_latency.0,
            std::time::Duration::from_millis(1)
        );
    }

    #[test]
    fn a_comparison_of_one_stack_points_at_its_name_and_says_to_add_another() {
        let e = check(&compare_lesson("[[compare]]\nname = \"a\"\n")).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("second")),
            "{e}"
        );
    }

    #[test]
    fn two_variants_of_one_name_are_refused_at_the_second() {
        let e = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\n[[compare]]\nname = \"a\"\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("already"), "{e}");
    }

    #[test]
    fn a_variants_value_out_of_range_points_at_it_in_its_inline_table() {
        let e = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\n[[compare]]\nname = \"b\"\nstack.app_server = { workers = 65 }\n",
        ))
        .unwrap_err();
        assert_eq!((e.line, e.col), (10, 22), "{e}");
        assert!(e.message.starts_with("compare 2: `workers`"), "{e}");
    }

    #[test]
    fn a_misspelt_setting_in_a_variant_points_at_it() {
        let e = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\nstack.app_server = { wrkers = 4 }\n[[compare]]\nname = \"b\"\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("wrkers"), "{e}");
    }

    #[test]
    fn a_variants_mix_needs_a_load_and_as_many_entries_as_its_mix() {
        let e = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\nmix = [{ path = \"/slow\" }]\n[[compare]]\nname = \"b\"\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("no [load]"), "{e}");
        let src = "title = \"x\"\n[load]\nclients = 2\nduration = \"1s\"\n[[load.mix]]\npath = \"/slow\"\n\
                   [[compare]]\nname = \"a\"\nmix = [{ path = \"/cpu\" }, { path = \"/slow\" }]\n[[compare]]\nname = \"b\"\n";
        let e = check(src).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("2 entries"), "{e}");
        let src = src
            .replace(", { path = \"/slow\" }", "")
            .replace("/cpu\"", "/cpu\", weight = 2");
        let e = check(&src).unwrap_err();
        assert!(e.message.contains("weight 2"), "{e}");
        let ok = src.replace(", weight = 2", "");
        let s = check(&ok).expect("valid");
        assert_eq!(
            s.compare[0].mix.as_ref().map(|m| m.get_ref().len()),
            Some(1)
        );
    }

    #[test]
    fn a_narration_for_an_unknown_variant_lists_the_variants() {
        let e = check(&compare_lesson(&format!(
            "{TWO}[[narration]]\nvariant = \"c\"\nstep = \"client.connect\"\ntext = \"t\"\n"
        )))
        .unwrap_err();
        assert_eq!(e.line, 13, "{e}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("`a`, `b`")),
            "{e}"
        );
        let e = check(
            "title = \"x\"\n[[request]]\npath = \"/\"\n[[narration]]\nvariant = \"a\"\nstep = \"client.connect\"\ntext = \"t\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("compares no stacks"), "{e}");
    }

    #[test]
    fn a_variants_throughput_bounds_must_be_in_order() {
        let e = check(&compare_lesson(
            "[[compare]]\nname = \"a\"\nexpect = { throughput_min = 50, throughput_max = 40 }\n[[compare]]\nname = \"b\"\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("above throughput_max"), "{e}");
    }

    #[test]
    fn a_location_with_two_handlers_or_a_bad_regex_is_refused_at_its_line() {
        let e = check("title = \"x\"\n[[stack.web_server.location]]\nmatch = \"/\"\nroot = \"/srv\"\nproxy_pass = \"http://app_server\"\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert!(
            e.message
                .contains("exactly one of root, alias, proxy_pass and return"),
            "{e}"
        );
        assert_eq!(e.line, 3, "{e}");
        let e = check("title = \"x\"\n[[stack.web_server.location]]\nmatch = \"~ (bad\"\nroot = \"/srv\"\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert!(e.message.contains("does not compile"), "{e}");
        let e = check("title = \"x\"\n[[stack.web_server.location]]\nmatch = \"/\"\nroot = \"/srv\"\ntry_files = [\"$uri\", \"=abc\"]\n[[request]]\npath = \"/\"\n").unwrap_err();
        assert!(e.message.contains("try_files fallback"), "{e}");
    }
}
