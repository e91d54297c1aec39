//! Every knob a trace names can be set from a lesson.
//!
//! A step that says "setting limit_request_line = 4094" teaches that
//! the setting exists; a teacher who then writes it under `[stack.*]`
//! must not be told it is unknown. This test runs every bundled lesson,
//! collects the name of every knob its trace shows (on steps and in
//! decisions), and checks that each is a field of a lesson's `[stack]`
//! tables (their full default form, with every optional table present),
//! or one of the few [`FIXED`] values, each with the reason it is not a
//! setting.

use std::collections::BTreeSet;

use roundtrip::scenario::{self, bundled};
use roundtrip::trace::Trace;

/// Values a trace names that are not settings of any server here, and why.
const FIXED: &[(&str, &str)] = &[
    (
        "tcp_syn_retries",
        "the client kernel's net.ipv4.tcp_syn_retries, not a server's setting",
    ),
    (
        "max_keepalived",
        "gunicorn computes it: worker_connections - threads",
    ),
    (
        "location",
        "names which [[stack.web_server.location]] decided; its fields are settings",
    ),
    (
        "allow",
        "an nginx `allow` rule: written in a lesson as an `access` entry, \"allow 10.0.0.0/8\"",
    ),
    (
        "deny",
        "an nginx `deny` rule: written in a lesson as an `access` entry, \"deny all\"",
    ),
    (
        "listen",
        "the lesson's ports are fixed (80, and 443 with `ssl`); `serve --listen` sets it live",
    ),
    (
        "ssl_certificate",
        "lessons use the certificate shipped under scenarios/tls; `serve --cert` sets it live",
    ),
];

/// Every key of a JSON value, at any depth.
fn keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// The names a lesson may set: every field of `[stack]`, with the
/// optional tables (auth, cors, a location, a fault) written out, as
/// `roundtrip check` accepts them.
fn settable() -> BTreeSet<String> {
    let source = r#"
title = "every table"
[stack.app.auth]
[stack.app.cors]
allow_origins = ["https://a.example"]
[[stack.app.fault]]
handler = "home"
raise = "KeyError"
[stack.web_server]
ssl = true
ssl_protocols = ["TLSv1.3"]
server_name = ["example.com"]
proxy_http_version = "1.0"
proxy_set_header = { Upgrade = "$http_upgrade" }
proxy_next_upstream = ["error", "timeout", "http_502"]
proxy_next_upstream_tries = 2
send_timeout = "10s"
limit_req_status = 429
limit_conn_status = 429
access = ["deny 192.0.2.1"]
server_tokens = "off"
[stack.web_server.upstream]
balance = "hash"
hash = "$request_uri consistent"
[[stack.web_server.upstream.server]]
name = "a"
max_fails = 2
fail_timeout = "5s"
[[stack.web_server.limit_req_zone]]
name = "z"
rate = "1r/s"
[[stack.web_server.limit_req]]
zone = "z"
burst = 2
delay = 1
[[stack.web_server.limit_req]]
zone = "z"
nodelay = true
[[stack.web_server.limit_conn_zone]]
name = "c"
[[stack.web_server.limit_conn]]
zone = "c"
conn = 1
[stack.app_server]
ws_max_size = "1k"
[[stack.web_server.location]]
match = "/x/"
limit_except = { methods = ["GET"], access = ["deny all"] }
root = "site"
index = ["index.html"]
try_files = ["$uri", "=404"]
[[stack.web_server.location]]
match = "= /y"
return = "404"
[[request]]
path = "/"
"#;
    let lesson = scenario::validate::parse(std::path::Path::new("every-table.toml"), source)
        .unwrap_or_else(|e| panic!("the all-tables lesson is valid: {e:?}"));
    let value = serde_json::to_value(&lesson.stack).expect("the stack serializes");
    let mut out = BTreeSet::new();
    keys(&value, &mut out);
    out
}

/// Every knob name in a trace.
fn knobs(trace: &Trace, out: &mut BTreeSet<String>) {
    for e in &trace.events {
        // `proxy_set_header Upgrade`: the setting is its first word.
        let setting = |name: &str| name.split(' ').next().unwrap_or(name).to_string();
        if let Some(k) = &e.knob {
            out.insert(setting(&k.name));
        }
        if let Some(d) = &e.decision {
            out.extend(d.knobs.iter().map(|k| setting(&k.name)));
        }
    }
}

#[test]
fn every_knob_a_lesson_trace_names_is_settable_in_a_lesson() {
    let settable = settable();
    let mut named = BTreeSet::new();
    for name in bundled::names() {
        let o = scenario::run_named(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"));
        for t in o.traces() {
            knobs(t, &mut named);
        }
    }
    assert!(named.len() > 20, "the lessons name many knobs: {named:?}");
    let missing: Vec<&String> = named
        .iter()
        .filter(|k| !settable.contains(*k) && !FIXED.iter().any(|(f, _)| f == k))
        .collect();
    assert!(
        missing.is_empty(),
        "knobs a trace names but no [stack] table accepts: {missing:?}\nsettable: {settable:?}"
    );
}

#[test]
fn the_reference_page_lists_every_setting_and_every_step() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/reference.md");
    let page = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    let settings = settable();
    assert!(
        settings.len() > 50,
        "the stack has many settings: {settings:?}"
    );
    let missing: Vec<&String> = settings
        .iter()
        .filter(|k| !page.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "book/src/reference.md does not name these settings (in backticks): {missing:?}"
    );
    let missing: Vec<&str> = roundtrip::trace::StepId::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|name| !page.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "book/src/reference.md does not list these steps (in backticks): {missing:?}"
    );
}
