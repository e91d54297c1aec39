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

use super::error::{Problems, ScenarioError};
use super::format::{Compare, Load, Narration, Request, RequestRef, Scenario};
use super::load::{MAX_LOAD_CLIENTS, MAX_LOAD_RATE, MAX_LOAD_REQUESTS};
use crate::stack::StackConfig;
use crate::trace::vocab::edit_distance;
use crate::trace::{Layer, StepId};

/// Parse and validate a lesson: every problem the file has, or the lesson.
pub fn parse(path: &Path, source: &str) -> Result<Scenario, Problems> {
    let scenario = match toml::from_str::<Scenario>(source) {
        Ok(s) => s,
        Err(whole) => {
            let mut list = piece_errors(path, source);
            if list.is_empty() {
                list.push(serde_error(path, source, &whole));
            }
            return Err(Problems::sorted(list));
        }
    };
    let mut scenario = scenario;
    let mut list = Vec::new();
    if let Err(e) = resolve_variants(path, source, &mut scenario) {
        list.push(e);
    }
    list.extend(check_rules(path, source, &scenario));
    if !list.is_empty() {
        // The lesson parsed: its warnings help fix it too.
        list.extend(warnings(path, source, &scenario));
    }
    if list.is_empty() {
        Ok(scenario)
    } else {
        Err(Problems::sorted(list))
    }
}

/// The parts of a lesson, each read on its own, so that one mistake does
/// not hide the next: each `[[request]]`, `[[narration]]` and
/// `[[compare]]` table, `[load]`, `[stack]`, the top-level fields. serde
/// stops at the first error of what it reads; reading the parts apart
/// gives the first error of each. A syntax error stops everything: it is
/// the one error then.
fn piece_errors(path: &Path, source: &str) -> Vec<ScenarioError> {
    use toml::de::{DeTable, DeValue, ValueDeserializer};
    let root = match DeTable::parse(source) {
        Ok(root) => root,
        Err(e) => return vec![serde_error(path, source, &e)],
    };
    /// Every error of one table (or value): after each, the key it is
    /// about is left out and the rest read again, so a misspelt key does
    /// not hide a wrong type below it.
    fn errors_of<T: serde::de::DeserializeOwned>(
        v: &toml::Spanned<DeValue<'_>>,
    ) -> Vec<toml::de::Error> {
        let mut v = v.clone();
        let mut errors = Vec::new();
        for _ in 0..MAX_ERRORS_PER_TABLE {
            let Err(e) = T::deserialize(ValueDeserializer::from(v.clone())) else {
                break;
            };
            let at = e.span().map(|s| s.start);
            let message = e.message().to_string();
            // A field left out after an error of its own is missing now
            // only because of that error.
            if message.starts_with("missing field") && !errors.is_empty() {
                break;
            }
            errors.push(e);
            if message.starts_with("missing field") {
                break;
            }
            let removed = match (v.get_mut(), at) {
                (DeValue::Table(table), Some(at)) => remove_at(table, at),
                _ => false,
            };
            if !removed {
                break;
            }
        }
        errors
    }
    /// Leave out the innermost key at byte `at` (the key, or its value).
    fn remove_at(table: &mut DeTable<'_>, at: usize) -> bool {
        let Some(key) = table
            .iter()
            .find(|(k, val)| k.span().contains(&at) || val.span().contains(&at))
            .map(|(k, _)| k.clone())
        else {
            // A table made by a `[a.b]` header spans only its header:
            // look inside every sub-table.
            let keys: Vec<_> = table.keys().cloned().collect();
            return keys.iter().any(|k| {
                table.get_mut(k).is_some_and(|value| match value.get_mut() {
                    DeValue::Table(inner) => remove_at(inner, at),
                    _ => false,
                })
            });
        };
        if let Some(value) = table.get_mut(&key)
            && value.span().contains(&at)
            && let DeValue::Table(inner) = value.get_mut()
            && remove_at(inner, at)
        {
            return true;
        }
        table.remove(&key);
        true
    }
    fn read<T: serde::de::DeserializeOwned>(
        v: &toml::Spanned<DeValue<'_>>,
    ) -> Vec<toml::de::Error> {
        errors_of::<T>(v)
    }
    /// Each entry of an array of tables on its own; any other value whole.
    fn each<T: serde::de::DeserializeOwned>(
        v: &toml::Spanned<DeValue<'_>>,
    ) -> Vec<toml::de::Error> {
        match v.get_ref() {
            DeValue::Array(items) => items.iter().flat_map(|i| read::<T>(i)).collect(),
            _ => read::<Vec<T>>(v),
        }
    }
    let mut errors: Vec<toml::de::Error> = Vec::new();
    let mut unknown = Vec::new();
    for (key, value) in root.get_ref() {
        let found = match key.get_ref().as_ref() {
            "title" | "summary" => read::<String>(value),
            "seed" => read::<u64>(value),
            "stack" => read::<StackConfig>(value),
            "request" => each::<Request>(value),
            "load" => read::<Load>(value),
            "narration" => each::<Narration>(value),
            "compare" => each::<Compare>(value),
            other => {
                unknown.push(unknown_top_field(path, source, other, key.span().start));
                Vec::new()
            }
        };
        errors.extend(found);
    }
    let mut list: Vec<ScenarioError> = errors
        .iter()
        .map(|e| serde_error(path, source, e))
        .collect();
    list.extend(unknown);
    if !root.get_ref().keys().any(|k| k.get_ref() == "title") {
        list.push(ScenarioError::at(
            path,
            source,
            0,
            "the lesson has no `title`",
            Some("add a first line like: title = \"What this lesson shows\"".into()),
        ));
    }
    list
}

/// Most errors reported for one table: after that many, the table is
/// probably not what it was meant to be.
const MAX_ERRORS_PER_TABLE: usize = 16;

/// The fields a lesson file has at its top level.
const TOP_FIELDS: [&str; 8] = [
    "title",
    "summary",
    "seed",
    "stack",
    "request",
    "load",
    "narration",
    "compare",
];

fn unknown_top_field(path: &Path, source: &str, name: &str, offset: usize) -> ScenarioError {
    let hint = match did_you_mean(name, TOP_FIELDS.iter().copied()) {
        Some(near) => format!(
            "did you mean `{near}`? a lesson's top level has: {}",
            quoted(&TOP_FIELDS)
        ),
        None => format!("a lesson's top level has: {}", quoted(&TOP_FIELDS)),
    };
    ScenarioError::at(
        path,
        source,
        offset,
        format!("`{name}` is not a field of a lesson"),
        Some(hint),
    )
}

/// `a`, `b`, `c`.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name among `known` closest to a misspelt one, if it is close.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        // Up to one edit in three characters, rounded up (`titel`: 2).
        .filter(|(d, _)| *d <= name.chars().count().max(4).div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A serde or TOML error, in the words of a lesson, at its position.
fn serde_error(path: &Path, source: &str, e: &toml::de::Error) -> ScenarioError {
    let offset = e.span().map_or(0, |s| s.start);
    let (message, hint) = super::explain::explain(e.message().trim(), source, offset);
    ScenarioError::at(path, source, offset, message, Some(hint))
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
fn check_ranges(stack: &StackConfig) -> Vec<(&'static str, String)> {
    let web = &stack.web_server;
    let app = &stack.app_server;
    let checks: [(&'static str, bool, &str); 13] = [
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
            "threads",
            (1..=1024).contains(&app.threads),
            "between 1 and 1024",
        ),
        (
            "worker_connections",
            (1..=100_000).contains(&app.worker_connections),
            "between 1 and 100000",
        ),
        (
            "max_requests",
            !(app.gthread() && app.max_requests > 0),
            "0 with gthread workers (roundtrip recycles only sync workers)",
        ),
        (
            "client_max_body_size",
            web.client_max_body_size.0 <= 1024 * 1024 * 1024,
            "at most 1g (0 turns the limit off)",
        ),
        (
            "brotli_comp_level",
            web.brotli_comp_level <= 11,
            "between 0 and 11",
        ),
        (
            "gzip_comp_level",
            (1..=9).contains(&web.gzip_comp_level),
            "between 1 and 9",
        ),
        (
            "ssl_protocols",
            !web.ssl_protocols.is_empty()
                && web
                    .ssl_protocols
                    .iter()
                    .all(|p| crate::server::tls::protocol(p).is_some()),
            "a list of TLSv1.2 and TLSv1.3 (the versions rustls speaks)",
        ),
        (
            "redirect_http",
            web.ssl || !web.redirect_http,
            "off unless ssl is on (it redirects to the TLS port)",
        ),
    ];
    let mut found: Vec<(&'static str, String)> = checks
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(key, _, range)| (key, format!("`{key}` must be {range}")))
        .collect();
    found.extend(crate::server::preaccess::config_problems(web));
    found
}

/// A problem found by a check: where (byte offset), what, and a hint.
type Problem = (usize, String, String);

fn push(found: &mut Vec<Problem>, offset: usize, message: String, hint: &str) {
    found.push((offset, message, hint.to_string()));
}

/// `scheme`, `sni` and `tls_hello`: https needs the web server's `ssl`,
/// and the TLS options need https.
fn check_tls_request(
    label: &str,
    r: &Request,
    s: &Scenario,
    key_at: &dyn Fn(&str) -> usize,
) -> Vec<Problem> {
    let mut found = Vec::new();
    let https = match &r.scheme {
        Some(scheme) => match scheme.get_ref().as_str() {
            "http" => false,
            "https" => true,
            other => {
                push(
                    &mut found,
                    scheme.span().start,
                    format!("{label}: scheme `{other}` is not http or https"),
                    "write scheme = \"https\" to use the TLS port",
                );
                false
            }
        },
        None => false,
    };
    if https && !s.stack.web_server.ssl {
        push(
            &mut found,
            key_at("scheme"),
            format!("{label} uses https, but the web server does not listen with ssl"),
            "add ssl = true under [stack.web_server]",
        );
    }
    if let Some(hello) = &r.tls_hello
        && crate::scenario::tls_client::HelloKind::parse(hello.get_ref()).is_none()
    {
        push(
            &mut found,
            hello.span().start,
            format!(
                "{label}: tls_hello `{}` is not one roundtrip knows",
                hello.get_ref()
            ),
            "use rustls, TLSv1.0, TLSv1.1, garbage, stall or plain",
        );
    }
    if !https && (r.tls_hello.is_some() || r.sni.is_some()) {
        push(
            &mut found,
            key_at(if r.sni.is_some() { "sni" } else { "tls_hello" }),
            format!("{label}: sni and tls_hello only mean something over https"),
            "add scheme = \"https\"",
        );
    }
    found
}

/// The rules every request to send obeys, written (`[[request]]`) or in a
/// load's mix. `path_at` is where to point for a missing path; `key_at`
/// finds a key of this request's table. A path without its leading `/`
/// is an error in a load's mix (every request of the load would get a
/// 400), a warning in a `[[request]]` (see [`warnings`]), where it may be
/// the lesson.
fn check_request(
    label: &str,
    r: &Request,
    path_at: usize,
    key_at: &dyn Fn(&str) -> usize,
    in_mix: bool,
) -> Vec<Problem> {
    let mut found = Vec::new();
    match (&r.path, &r.raw) {
        (None, None) => {
            push(
                &mut found,
                path_at,
                format!("{label} has neither `path` nor `raw`"),
                "give it a path such as path = \"/notes\", or raw bytes to send",
            );
        }
        (Some(p), _) if in_mix && !path_is_origin_form(p.get_ref()) => {
            let p = p.get_ref();
            push(
                &mut found,
                path_at,
                format!("{label}: path `{p}` must start with `/`"),
                "write the path as the request line carries it, e.g. \"/notes/1\"",
            );
        }
        _ => {}
    }
    let version = r.version.get_ref();
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        push(
            &mut found,
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
        push(
            &mut found,
            path_at,
            format!("{label} has more than one of `body`, `json` and `body_size`"),
            "keep one of them",
        );
    }
    if let Some(size) = r.body_size
        && size.0 > MAX_LESSON_BODY
    {
        push(
            &mut found,
            key_at("body_size"),
            format!("{label}: body_size {size} is larger than a lesson may send (64m)"),
            "anything over client_max_body_size shows the 413 just as well",
        );
    }
    if let Some(rate) = &r.upload_rate
        && (bodies == 0 || r.raw.is_some())
    {
        push(
            &mut found,
            rate.span().start,
            format!("{label}: `upload_rate` needs a body to send slowly"),
            "give the request a `body`, `json` or `body_size` (not `raw`)",
        );
    }
    if let Some(rate) = &r.head_rate
        && r.upload_rate.is_some()
    {
        push(
            &mut found,
            rate.span().start,
            format!("{label}: `head_rate` and `upload_rate` both set"),
            "`head_rate` already sends the body at the same rate; keep one",
        );
    }
    if let Some(stop) = &r.stop_reading {
        let pause = stop.get_ref().pause.0;
        if pause.is_zero() || pause > super::runner::MAX_LESSON_TIME {
            push(
                &mut found,
                stop.span().start,
                format!("{label}: `stop_reading.for` must be more than 0 and at most 1h"),
                "write how long the client reads nothing, e.g. for = \"30s\"",
            );
        }
        if r.websocket.is_some() {
            push(
                &mut found,
                stop.span().start,
                format!("{label}: `stop_reading` is for a response, not a websocket"),
                "leave it out, or drop `websocket`",
            );
        }
    }
    if let Some(t) = &r.timeout {
        if t.get_ref().0.is_zero() {
            push(
                &mut found,
                t.span().start,
                format!("{label}: a `timeout` of 0 gives up before sending"),
                "give the client time to wait, e.g. timeout = \"1s\"",
            );
        } else if t.get_ref().0 > super::runner::MAX_LESSON_TIME {
            push(
                &mut found,
                t.span().start,
                format!("{label}: `timeout` is longer than a lesson may run (1h)"),
                "leave `timeout` out to wait as long as the lesson runs",
            );
        }
    }
    if let Some(ws) = &r.websocket {
        check_websocket(label, r, ws, &mut found);
    }
    found
}

/// A `websocket` script: a handshake the client can build, and frames it
/// can send, in time order.
fn check_websocket(
    label: &str,
    r: &Request,
    ws: &Spanned<super::format::WebsocketScript>,
    found: &mut Vec<Problem>,
) {
    let at = ws.span().start;
    if r.raw.is_some() {
        push(
            found,
            at,
            format!("{label} has both `raw` and `websocket`"),
            "a websocket's handshake is built by the client; drop `raw`",
        );
    }
    if r.method.get_ref() != "GET" || r.body.is_some() || r.json.is_some() {
        push(
            found,
            at,
            format!("{label}: a websocket handshake is a GET with no body (RFC 6455 §4.1)"),
            "remove method and body, or remove `websocket`",
        );
    }
    let mut last = std::time::Duration::ZERO;
    for (i, send) in ws.get_ref().send.iter().enumerate() {
        let n = i + 1;
        let here = send.span().start;
        let f = send.get_ref();
        if f.kinds() != 1 {
            push(
                found,
                here,
                format!(
                    "{label}: websocket send {n} must name exactly one of `text`, `text_size`,                      `binary`, `ping`, `pong`, `close` and `drop`"
                ),
                "one frame (or message) per entry: { at = \"1s\", text = \"hi\" }",
            );
        }
        if let Some(t) = &f.at {
            if t.get_ref().0 < last {
                push(
                    found,
                    t.span().start,
                    format!(
                        "{label}: websocket send {n} is at {}, before the one above it",
                        t.get_ref()
                    ),
                    "list the frames in the order of their `at`",
                );
            }
            last = last.max(t.get_ref().0);
        }
        if let Some(code) = &f.close
            && !crate::http::ws::CloseCode(*code.get_ref()).sendable()
        {
            push(
                found,
                code.span().start,
                format!(
                    "{label}: close code {} may not be sent in a close frame (RFC 6455 §7.4)",
                    code.get_ref()
                ),
                "use 1000 (normal), 1001 (going away) or a code from 3000 to 4999",
            );
        }
        if let Some(p) = &f.fragments {
            let ok = *p.get_ref() >= 1 && *p.get_ref() <= 1000;
            let control = f.ping.is_some() || f.pong.is_some() || f.close.is_some() || f.drop;
            if !ok || control {
                push(
                    found,
                    p.span().start,
                    format!(
                        "{label}: websocket send {n}: fragments must be 1 to 1000, on a text or binary message"
                    ),
                    "control frames (ping, pong, close) are never fragmented (RFC 6455 §5.5)",
                );
            }
        }
        if let Some(size) = &f.text_size
            && size.get_ref().0 > MAX_LESSON_BODY
        {
            push(
                found,
                size.span().start,
                format!(
                    "{label}: text_size {} is larger than a lesson may send (64m)",
                    size.get_ref()
                ),
                "anything over the server's ws_max_size shows the 1009 just as well",
            );
        }
    }
}

/// A request target as a request line carries it to an origin server:
/// `/path` (RFC 9112 §3.2.1), or `*` for OPTIONS (§3.2.4).
fn path_is_origin_form(p: &str) -> bool {
    p.starts_with('/') || p == "*"
}

/// Longest a load may send new requests (its `duration`): the requests in
/// flight at the end must still finish well inside [`MAX_LESSON_TIME`].
///
/// [`MAX_LESSON_TIME`]: super::runner::MAX_LESSON_TIME
pub const MAX_LOAD_DURATION: std::time::Duration = std::time::Duration::from_secs(600);

/// Largest `weight` of one request in a load's mix.
pub const MAX_MIX_WEIGHT: u64 = 1_000_000;

/// The rules of a `[load]` table.
fn check_load(source: &str, load: &Spanned<Load>) -> Vec<Problem> {
    let mut found = Vec::new();
    let at = load.span().start;
    let l = load.get_ref();
    let duration = l.duration.get_ref().0;
    match (&l.rate, &l.clients) {
        (Some(_), Some(clients)) => {
            push(
                &mut found,
                clients.span().start,
                "[load] has both `rate` (an open loop) and `clients` (a closed loop)".into(),
                "keep `rate` for clients arriving at random times whatever the server does, \
                 or `clients` for a fixed number of clients that each wait for their answer",
            );
        }
        (None, None) => {
            push(
                &mut found,
                at,
                "[load] says neither `rate` nor `clients`".into(),
                "add rate = \"50/s\" (an open loop) or clients = 16 (a closed loop)",
            );
        }
        (Some(rate), None) => {
            let per_second = rate.get_ref().per_second();
            if !(per_second > 0.0 && per_second <= MAX_LOAD_RATE) {
                push(
                    &mut found,
                    rate.span().start,
                    format!("[load] rate must be above 0 and at most {MAX_LOAD_RATE}/s"),
                    "write the arrivals per second, e.g. rate = \"50/s\"",
                );
            }
            let expected = per_second * duration.as_secs_f64();
            if expected > MAX_LOAD_REQUESTS as f64 {
                push(
                    &mut found,
                    rate.span().start,
                    format!(
                        "[load] would send about {expected:.0} requests; a lesson may send at most {MAX_LOAD_REQUESTS}"
                    ),
                    "lower the rate or shorten the duration; a few seconds show a queue growing",
                );
            }
            if let Some(think) = &l.think {
                push(&mut found,
                    think.span().start,
                    "[load] `think` is for a closed loop (`clients`); an open loop's clients send once".into(),
                    "remove `think`, or use clients = N instead of rate",
                );
            }
        }
        (None, Some(clients)) => {
            if !(1..=MAX_LOAD_CLIENTS).contains(clients.get_ref()) {
                push(
                    &mut found,
                    clients.span().start,
                    format!("[load] clients must be between 1 and {MAX_LOAD_CLIENTS}"),
                    "pick a value in that range",
                );
            }
            if let Some(think) = &l.think
                && think.get_ref().0 > MAX_LOAD_DURATION
            {
                push(
                    &mut found,
                    think.span().start,
                    "[load] think is longer than a load may last (10m)".into(),
                    "a think time is usually milliseconds to seconds",
                );
            }
        }
    }
    if duration.is_zero() || duration > MAX_LOAD_DURATION {
        push(
            &mut found,
            l.duration.span().start,
            "[load] duration must be above 0 and at most 10m".into(),
            "lessons run on a simulated clock: 10s of load takes well under a second to run",
        );
    }
    if let Some(warmup) = &l.warmup
        && warmup.get_ref().0 >= duration
    {
        push(
            &mut found,
            warmup.span().start,
            "[load] warmup must be shorter than the duration".into(),
            "the metrics measure from warmup to duration; try a tenth of the duration",
        );
    }
    let mix = l.mix.get_ref();
    if mix.is_empty() {
        push(
            &mut found,
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
            push(
                &mut found,
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
        found.extend(check_request(
            &label,
            &m.as_request(),
            m.path.span().start,
            &key_at,
            true,
        ));
    }
    found
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
fn check_compare(source: &str, s: &Scenario) -> Vec<Problem> {
    let mut found = Vec::new();
    let Some(first) = s.compare.first() else {
        return found;
    };
    if s.compare.len() < 2 {
        push(
            &mut found,
            first.name.span().start,
            "the lesson compares only one stack".into(),
            "add a second [[compare]] table to compare with, or remove [[compare]] and put its settings in [stack]",
        );
    }
    if s.compare.len() > MAX_VARIANTS {
        let extra = &s.compare[MAX_VARIANTS];
        push(
            &mut found,
            extra.name.span().start,
            format!("a lesson may compare at most {MAX_VARIANTS} stacks"),
            "split the comparison into two lessons",
        );
    }
    for (i, c) in s.compare.iter().enumerate() {
        let n = i + 1;
        let name = c.name.get_ref();
        if name.trim().is_empty() || name.chars().count() > MAX_VARIANT_NAME {
            push(
                &mut found,
                c.name.span().start,
                format!("compare {n}: a name must have 1 to {MAX_VARIANT_NAME} characters"),
                "a short name heads its column, e.g. name = \"gunicorn -w 4\"",
            );
        }
        if s.compare[..i].iter().any(|o| o.name.get_ref() == name) {
            push(
                &mut found,
                c.name.span().start,
                format!("compare {n}: another variant is already called `{name}`"),
                "give each variant its own name: the comparison and the narration tell them apart by it",
            );
        }
        for (key, message) in check_ranges(&c.stack) {
            push(
                &mut found,
                compare_key_offset(source, n, key),
                format!("compare {n}: {message}"),
                "pick a value in that range",
            );
        }
        if let Some(mix) = &c.mix {
            found.extend(check_variant_mix(source, s, n, mix));
        }
        if let Some(expect) = &c.expect {
            let e = expect.get_ref();
            let bad = |x: Option<f64>| x.is_some_and(|x| !x.is_finite() || x < 0.0);
            if bad(e.throughput_min) || bad(e.throughput_max) {
                push(
                    &mut found,
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
                push(
                    &mut found,
                    expect.span().start,
                    format!("compare {n}: throughput_min ({lo}) is above throughput_max ({hi})"),
                    "swap them, or leave one out",
                );
            }
        }
    }
    found
}

/// A variant's `mix` replaces the load's entry for entry: as many entries,
/// each with the weight of the one it replaces, so that the seed picks the
/// same entries in the same order in every variant.
fn check_variant_mix(
    source: &str,
    s: &Scenario,
    n: usize,
    mix: &Spanned<Vec<super::format::MixRequest>>,
) -> Vec<Problem> {
    let mut found = Vec::new();
    let at = mix.span().start;
    let Some(load) = &s.load else {
        push(
            &mut found,
            at,
            format!("compare {n}: `mix` replaces the load's mix, but the lesson has no [load]"),
            "add a [load] with its [[load.mix]], or remove this `mix`",
        );
        return found;
    };
    let base = load.get_ref().mix.get_ref();
    let own = mix.get_ref();
    if own.len() != base.len() {
        push(
            &mut found,
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
            push(
                &mut found,
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
        found.extend(check_request(
            &label,
            &m.as_request(),
            m.path.span().start,
            &key_at,
            true,
        ));
    }
    found
}

fn check_rules(path: &Path, source: &str, s: &Scenario) -> Vec<ScenarioError> {
    let mut list = Vec::new();
    let mut err = |offset: usize, message: String, hint: &str| {
        list.push(ScenarioError::at(
            path,
            source,
            offset,
            message,
            Some(hint.to_string()),
        ));
    };
    for (i, fault) in s.stack.app.fault.iter().enumerate() {
        let n = i + 1;
        let at = |key: &str| table_key_offset(source, "[[stack.app.fault]]", n, key);
        if let Err(problem) = fault.check() {
            err(
                at(problem.key),
                format!("fault {n}: {}", problem.message),
                problem.hint,
            );
        }
        if crate::app::WEBSOCKET_HANDLERS.contains(&fault.handler.as_str()) && fault.raise.is_none()
        {
            err(
                at("handler"),
                format!(
                    "fault {n}: `{}` is a websocket endpoint: only `raise` applies to it",
                    fault.handler
                ),
                "give it raise = \"RuntimeError: ...\" (it raises on the client's first message)",
            );
        }
        let known = crate::app::handler_names_for(&s.stack.app);
        if !known.contains(&fault.handler) {
            let hint = match did_you_mean(&fault.handler, known.iter().map(String::as_str)) {
                Some(near) => format!(
                    "did you mean `{near}`? a handler of this app: {}",
                    known.join(", ")
                ),
                None => format!("a handler of this app: {}", known.join(", ")),
            };
            err(
                at("handler"),
                format!(
                    "fault {n}: `{}` is not a handler of this app",
                    fault.handler
                ),
                &hint,
            );
        }
    }
    for (key, message) in check_ranges(&s.stack) {
        err(
            key_offset(source, key),
            message,
            "pick a value in that range",
        );
    }
    for (i, loc) in s.stack.web_server.location.iter().enumerate() {
        if let Err(message) = loc.check() {
            let n = i + 1;
            err(
                table_key_offset(source, "[[stack.web_server.location]]", n, "match"),
                format!("location {n}: {message}"),
                "give each location one of root, alias, proxy_pass = \"http://app_server\" or return (see \"The web server\" in the book)",
            );
        }
    }
    for (offset, message, hint) in check_compare(source, s) {
        err(offset, message, &hint);
    }
    let requests_at = s.request.as_ref().map_or(0, |r| r.span().start);
    if s.requests().is_empty() && s.load.is_none() {
        err(
            requests_at,
            "the lesson sends no requests".into(),
            "add a [[request]] table with a `path`, or a [load] table",
        );
    }
    for (i, spanned) in s.requests().iter().enumerate() {
        let n = i + 1;
        let r = spanned.get_ref();
        let own_at = spanned.span().start;
        let label = s.request_label(n);
        let key_at = |key: &str| key_in(source, spanned.span(), key);
        for (offset, message, hint) in check_request(&label, r, own_at, &key_at, false) {
            err(offset, message, &hint);
        }
        for (offset, message, hint) in check_tls_request(&label, r, s, &key_at) {
            err(offset, message, &hint);
        }
        if let Some(name) = &r.name {
            let earlier = s.requests()[..i].iter().position(|o| {
                o.get_ref()
                    .name
                    .as_ref()
                    .is_some_and(|m| m.get_ref() == name.get_ref())
            });
            if name.get_ref().trim().is_empty() {
                err(
                    name.span().start,
                    format!("request {n}: its name is empty"),
                    "give it a short name, e.g. name = \"login\", or leave `name` out",
                );
            } else if let Some(k) = earlier {
                err(
                    name.span().start,
                    format!(
                        "request {n}: request {} is already called `{}`",
                        k + 1,
                        name.get_ref()
                    ),
                    "give each request its own name: narration and check tell them apart by it",
                );
            }
        }
        if let Some(at) = &r.at
            && at.get_ref().0 > super::runner::MAX_LESSON_TIME
        {
            err(
                at.span().start,
                format!("{label}: `at` is later than a lesson may run (1h)"),
                "lessons run on a simulated clock; keep `at` under 1h",
            );
        }
        if let Some(expect) = &r.expect
            && let Some(layer) = &expect.get_ref().answered_by
            && let Some((_, middleware)) = layer.get_ref().split_once('.')
        {
            let onion = crate::app::middleware_names(&s.stack.app);
            if !layer.get_ref().starts_with("framework.") || !onion.iter().any(|m| m == middleware)
            {
                let names: Vec<String> = onion.iter().map(|m| format!("framework.{m}")).collect();
                let hint = match did_you_mean(layer.get_ref(), names.iter().map(String::as_str)) {
                    Some(near) => format!(
                        "did you mean `{near}`? a middleware of this stack: {}",
                        names.join(", ")
                    ),
                    None => format!("a middleware of this stack: {}", names.join(", ")),
                };
                err(
                    layer.span().start,
                    format!(
                        "{label}: `{}` is not a middleware of this stack",
                        layer.get_ref()
                    ),
                    &hint,
                );
            }
        } else if let Some(expect) = &r.expect
            && let Some(layer) = &expect.get_ref().answered_by
            && Layer::parse(layer.get_ref()).is_none()
        {
            let names: Vec<&str> = Layer::ALL.iter().map(|l| l.as_str()).collect();
            let hint = match did_you_mean(layer.get_ref(), names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? use one of: {}", names.join(", ")),
                None => format!("use one of: {}", names.join(", ")),
            };
            err(
                layer.span().start,
                format!("{label}: `{}` is not a layer", layer.get_ref()),
                &hint,
            );
        }
    }
    for r in s.requests() {
        let r = r.get_ref();
        let Some(unreached) = r
            .expect
            .as_ref()
            .and_then(|e| e.get_ref().not_reached.as_ref())
        else {
            continue;
        };
        for name in unreached.get_ref() {
            if Layer::parse(name).is_none() {
                let names: Vec<&str> = Layer::ALL.iter().map(|l| l.as_str()).collect();
                let hint = match did_you_mean(name, names.iter().copied()) {
                    Some(near) => {
                        format!("did you mean `{near}`? use one of: {}", names.join(", "))
                    }
                    None => format!("use one of: {}", names.join(", ")),
                };
                err(
                    unreached.span().start,
                    format!("`not_reached`: `{name}` is not a layer"),
                    &hint,
                );
            }
        }
    }
    if let Some(load) = &s.load {
        for (offset, message, hint) in check_load(source, load) {
            err(offset, message, &hint);
        }
    }
    for n in &s.narration {
        for (offset, message, hint) in check_narration(s, n) {
            err(offset, message, &hint);
        }
    }
    list
}

/// Byte offset of `key =` inside the table at `span` (a `[[request]]`,
/// whose span is its header: the table runs on to the next header that
/// is not one of its own sub-tables), or of the table's start when the
/// key is not written there.
fn key_in(source: &str, span: std::ops::Range<usize>, key: &str) -> usize {
    let start = span.start.min(source.len());
    let from = span.end.clamp(start, source.len());
    let mut end = source.len();
    let mut offset = from;
    for line in source[from..].split_inclusive('\n') {
        let t = line.trim_start();
        if offset > from && t.starts_with('[') && !t.starts_with("[request.") {
            end = offset;
            break;
        }
        offset += line.len();
    }
    match key_offset_from(&source[..end], start, key) {
        0 => start,
        at => at,
    }
}

/// The names of the middleware a narration may target: those of the
/// lesson's stack and of every variant's.
fn middleware_names(s: &Scenario) -> Vec<String> {
    let mut names = crate::app::middleware_names(&s.stack.app);
    for c in &s.compare {
        for m in crate::app::middleware_names(&c.stack.app) {
            if !names.contains(&m) {
                names.push(m);
            }
        }
    }
    names
}

/// A narration's targets, checked against the trace vocabulary (steps
/// and layers), the stack's middleware, the lesson's requests and its
/// variants.
fn check_narration(s: &Scenario, spanned: &Spanned<Narration>) -> Vec<Problem> {
    let mut found = Vec::new();
    let n = spanned.get_ref();
    let at = spanned.span().start;
    if let Some(variant) = &n.variant {
        let name = variant.get_ref();
        let names: Vec<String> = s
            .compare
            .iter()
            .map(|c| format!("`{}`", c.name.get_ref()))
            .collect();
        if s.compare.is_empty() {
            push(
                &mut found,
                variant.span().start,
                format!("narration for variant `{name}`, but the lesson compares no stacks"),
                "`variant` is for a lesson with [[compare]] tables; remove it",
            );
        } else if !s.compare.iter().any(|c| c.name.get_ref() == name) {
            push(
                &mut found,
                variant.span().start,
                format!("narration for variant `{name}`, which no [[compare]] table names"),
                &format!("use one of: {}", names.join(", ")),
            );
        }
    }
    if n.step.is_none() && n.layer.is_none() && n.middleware.is_none() {
        push(
            &mut found,
            at,
            "this narration says no step to show its text at".into(),
            "add step = \"web_server.request.receive\" (a step), layer = \"framework\" (a layer's first step) or middleware = \"csrf\"",
        );
    }
    let step = n.step.as_ref().and_then(|st| {
        let name = st.get_ref();
        let parsed = StepId::parse(name);
        if parsed.is_none() {
            let hint = match StepId::suggest(name) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "steps look like web_server.request.receive; book/src/lessons.md lists them all, and `roundtrip run NAME --json` the steps of a lesson".to_string(),
            };
            push(
                &mut found,
                st.span().start,
                format!("narration step `{name}` is not a step roundtrip knows"),
                &hint,
            );
        }
        parsed
    });
    if let Some(layer) = &n.layer {
        let names: Vec<&str> = Layer::ALL.iter().map(|l| l.as_str()).collect();
        match Layer::parse(layer.get_ref()) {
            None => {
                let hint = match did_you_mean(layer.get_ref(), names.iter().copied()) {
                    Some(near) => format!(
                        "did you mean `{near}`? the layers are: {}",
                        names.join(", ")
                    ),
                    None => format!("the layers are: {}", names.join(", ")),
                };
                push(
                    &mut found,
                    layer.span().start,
                    format!("narration layer `{}` is not a layer", layer.get_ref()),
                    &hint,
                );
            }
            Some(l) => {
                if let Some(st) = step
                    && st.layer() != l
                {
                    push(
                        &mut found,
                        layer.span().start,
                        format!(
                            "step `{st}` is a step of the {}, not of the {}",
                            st.layer().as_str(),
                            l.as_str()
                        ),
                        "leave `layer` out: a step names its layer",
                    );
                }
            }
        }
    }
    if let Some(m) = &n.middleware {
        let names = middleware_names(s);
        if !names.iter().any(|x| x == m.get_ref()) {
            let list = names
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = match did_you_mean(m.get_ref(), names.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`? this stack's middleware: {list}"),
                None => format!("this stack's middleware: {list}"),
            };
            push(
                &mut found,
                m.span().start,
                format!(
                    "narration middleware `{}` is not in this stack's onion",
                    m.get_ref()
                ),
                &hint,
            );
        }
        if let Some(st) = step
            && !matches!(
                st,
                StepId::FrameworkMiddlewareEnter | StepId::FrameworkMiddlewareLeave
            )
        {
            push(
                &mut found,
                n.step.as_ref().map_or(at, |x| x.span().start),
                format!(
                    "with `middleware`, the step is the middleware's enter or leave, not `{st}`"
                ),
                "write step = \"framework.middleware.leave\" for the way back, or leave `step` out for the way in",
            );
        }
    }
    if let Some(r) = &n.request {
        let count = s.requests().len();
        match r.get_ref() {
            RequestRef::Number(k) => {
                let k = *k;
                if k == 0 || (s.load.is_none() && k as usize > count) {
                    push(
                        &mut found,
                        r.span().start,
                        format!(
                            "narration for request {k}, but the lesson has {}",
                            super::error::count(count, "request")
                        ),
                        "requests are numbered from 1 in the order of their [[request]] tables in the file",
                    );
                }
            }
            RequestRef::Name(name) => {
                if s.request_named(name).is_none() {
                    let names: Vec<&str> = s
                        .requests()
                        .iter()
                        .filter_map(|q| q.get_ref().name.as_ref().map(|x| x.get_ref().as_str()))
                        .collect();
                    let hint = match did_you_mean(name, names.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None if names.is_empty() => "no [[request]] has a `name`: add name = \"…\" to one, or give its number, e.g. request = 2".to_string(),
                        None => format!("the requests' names: {}", names.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")),
                    };
                    push(
                        &mut found,
                        r.span().start,
                        format!("narration for request `{name}`, but no [[request]] has that name"),
                        &hint,
                    );
                }
            }
        }
    }
    if let Some(nth) = &n.nth
        && *nth.get_ref() == 0
    {
        push(
            &mut found,
            nth.span().start,
            "`nth` counts from 1".into(),
            "nth = 1 is the first time the step happens, nth = 2 the second",
        );
    }
    found
}

/// Likely mistakes that are valid input: each is sent as written (it may
/// be the lesson), and `check` says what will happen.
pub fn warnings(path: &Path, source: &str, s: &Scenario) -> Vec<ScenarioError> {
    let mut list = Vec::new();
    let mut warn = |offset: usize, message: String, hint: &str| {
        list.push(
            ScenarioError::at(path, source, offset, message, Some(hint.to_string())).warning(),
        );
    };
    // When each request is sent: its `at`, or 0 on a connection of its own.
    let mut latest: Option<(usize, std::time::Duration)> = None;
    let mut connections_seen = Vec::new();
    for (i, spanned) in s.requests().iter().enumerate() {
        let n = i + 1;
        let r = spanned.get_ref();
        let label = s.request_label(n);
        let method = r.method.get_ref();
        if method.chars().any(|c| c.is_ascii_lowercase()) {
            warn(
                key_in(source, spanned.span(), "method"),
                format!(
                    "{label}: method `{method}` is not in capitals; methods are case-sensitive (RFC 9110 §9.1), so the web server will answer 400"
                ),
                &format!(
                    "write method = \"{}\" if you meant that method; keep it to show the 400",
                    method.to_ascii_uppercase()
                ),
            );
        }
        if let Some(p) = &r.path
            && !path_is_origin_form(p.get_ref())
        {
            warn(
                p.span().start,
                format!(
                    "{label}: path `{}` does not start with `/`; the web server will answer 400 (RFC 9112 §3.2.1)",
                    p.get_ref()
                ),
                &format!(
                    "write path = \"/{}\" if you meant that path; keep it to show the 400",
                    p.get_ref()
                ),
            );
        }
        if let Some(raw) = &r.raw {
            let line = raw.split('\n').next().unwrap_or("").trim_end();
            if line.ends_with("HTTP/2.0") || line.ends_with("HTTP/2") {
                warn(
                    key_in(source, spanned.span(), "raw"),
                    format!(
                        "{label}: the raw request line says HTTP/2; HTTP/2 is not sent as text (RFC 9113 §3), so the web server will answer 505"
                    ),
                    "write HTTP/1.1 if you meant a request that works; keep it to show the 505",
                );
            }
        }
        if let Some(problem) = content_length_mismatch(r) {
            warn(
                key_in(source, spanned.span(), "headers"),
                format!("{label}: {problem}"),
                "leave Content-Length out: the client adds the right one; keep it to show what the web server does with a wrong length",
            );
        }
        let reused = r.connection.is_some_and(|c| connections_seen.contains(&c));
        if let Some(c) = r.connection {
            connections_seen.push(c);
        }
        let sent_at = match (&r.at, reused) {
            (Some(at), _) => Some(at.get_ref().0),
            (None, false) => Some(std::time::Duration::ZERO),
            (None, true) => None,
        };
        if let Some(t) = sent_at {
            match latest {
                Some((k, before)) if t < before => {
                    let offset =
                        r.at.as_ref()
                            .map_or(spanned.span().start, |a| a.span().start);
                    warn(
                        offset,
                        format!(
                            "{label} is sent at {}, before {} (at {}): the web server reads it first",
                            show_time(t),
                            s.request_label(k),
                            show_time(before)
                        ),
                        &format!(
                            "this is fine: check, the transcript and narration still call it request {n}; move it up the file if it should come first there too"
                        ),
                    );
                }
                Some((_, before)) if t <= before => {}
                _ => latest = Some((n, t)),
            }
        }
    }
    list
}

fn show_time(t: std::time::Duration) -> String {
    if t.is_zero() {
        "0ms".to_string()
    } else {
        crate::units::Time(t).to_string()
    }
}

/// A `Content-Length` header given by hand that disagrees with the body
/// the request sends (RFC 9112 §6.2).
fn content_length_mismatch(r: &Request) -> Option<String> {
    let given = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| match v {
            toml::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        })?;
    let bytes = super::client::request_bytes(r);
    let body = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |at| bytes.len() - at - 4);
    if r.chunked || given == body.to_string() {
        return None;
    }
    Some(format!(
        "Content-Length says {given}, but the body is {body} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lesson, or the first of its errors (by position).
    fn check(src: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("lesson.toml"), src).map_err(|p| {
            p.0.into_iter()
                .find(|e| e.severity == super::super::error::Severity::Error)
                .expect("a failed parse has an error")
        })
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
                .is_some_and(|h| h.contains(StepId::WebServerLimitBody.as_str())),
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
    fn a_websocket_endpoint_takes_only_a_raise_fault() {
        let head =
            "title = \"t\"\n[[request]]\npath = \"/\"\n\n[[stack.app.fault]]\nhandler = \"chat\"\n";
        let e = check(&format!("{head}delay = \"1s\"\n")).expect_err("a delay on chat");
        assert!(e.to_string().contains("only `raise` applies"), "{e}");
        assert!(check(&format!("{head}raise = \"KeyError: 'text'\"\n")).is_ok());
    }

    #[test]
    fn a_fault_naming_no_handler_points_at_it_and_suggests_the_real_name() {
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\n\n[[stack.app.fault]]\nhandler = \"notes_lst\"\nraise = \"KeyError\"\n";
        let e = check(src).expect_err("an unknown handler");
        assert!(
            e.to_string()
                .contains("fault 1: `notes_lst` is not a handler"),
            "{e}"
        );
        assert!(
            e.to_string().contains(":6:"),
            "points at its handler line: {e}"
        );
        assert!(e.to_string().contains("did you mean `notes_list`?"), "{e}");
    }

    #[test]
    fn a_fault_counting_calls_from_0_points_at_its_calls_line() {
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\n\n[[stack.app.fault]]\nhandler = \"home\"\nraise = \"KeyError\"\ncalls = [0]\n";
        let e = check(src).expect_err("calls from 0");
        assert!(e.message.contains("`calls` counts from 1"), "{e}");
        assert_eq!(
            (e.line, e.col),
            (8, 1),
            "points at `calls`, not `handler`: {e}"
        );
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("calls = [1]")),
            "{e}"
        );
    }

    #[test]
    fn a_stop_reading_pause_of_zero_is_refused_and_one_without_for_names_the_key() {
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\nstop_reading = { after = \"1k\", for = \"0s\" }\n";
        let e = check(src).expect_err("a pause of nothing");
        assert!(e.to_string().contains("`stop_reading.for`"), "{e}");
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\nstop_reading = { after = \"1k\" }\n";
        let e = check(src).expect_err("no pause");
        assert!(e.to_string().contains("for"), "{e}");
    }

    #[test]
    fn a_fault_with_nothing_or_two_things_wrong_is_refused() {
        let src =
            "title = \"t\"\n[[request]]\npath = \"/\"\n\n[[stack.app.fault]]\nhandler = \"home\"\n";
        let e = check(src).expect_err("nothing goes wrong");
        assert!(
            e.to_string().contains("fault 1: says nothing goes wrong"),
            "{e}"
        );
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\n\n[[stack.app.fault]]\nhandler = \"home\"\nraise = \"KeyError\"\ndelay = \"1s\"\n";
        let e = check(src).expect_err("two things go wrong");
        assert!(e.to_string().contains("more than one thing"), "{e}");
    }

    #[test]
    fn an_upload_rate_without_a_body_or_a_zero_timeout_is_refused_at_its_value() {
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\nupload_rate = \"1k/s\"\n";
        let e = check(src).expect_err("no body");
        assert!(e.to_string().contains("`upload_rate` needs a body"), "{e}");
        assert!(e.to_string().contains(":4:"), "{e}");
        let src = "title = \"t\"\n[[request]]\npath = \"/\"\ntimeout = \"0s\"\n";
        let e = check(src).expect_err("zero timeout");
        assert!(e.to_string().contains("gives up before sending"), "{e}");
        let src =
            "title = \"t\"\n[[request]]\npath = \"/\"\nbody = \"x\"\nupload_rate = \"fast\"\n";
        let e = check(src).expect_err("not a rate");
        assert!(
            e.to_string().contains("1k/s"),
            "the hint shows how to write one: {e}"
        );
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
