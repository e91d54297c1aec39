//! Secrets never reach a trace: passwords, session ids and tokens are
//! replaced with `[redacted]` wherever they would appear.
//!
//! A trace is meant to be read, shared and pasted into bug reports, so it
//! must be as safe as a production access log (OWASP Logging Cheat Sheet:
//! never log passwords, session ids or access tokens). Redaction happens
//! in the trace module, at the one place every event passes through (the
//! recorder) and where bytes are made printable ([`super::bytes::show`]),
//! so no layer can forget it:
//!
//! | where | what is kept | what becomes `[redacted]` |
//! |---|---|---|
//! | `Authorization:` | the scheme (`Bearer`, `Basic`) | the credentials |
//! | `Cookie:` | each cookie's name | each cookie's value |
//! | `Set-Cookie:` | the name and every attribute (`HttpOnly`, `Path=/` …) | the value (an empty one, a deletion, stays empty) |
//! | `X-CSRF-Token:` | the name | the value |
//! | a JSON or form field named `password`, `token`, `access_token`, `csrf_token` | the name | the value |
//! | anything shaped like a JWT (`eyJ….….…`) | | all of it |
//!
//! The same rules read raw HTTP bytes, WSGI environ keys (`HTTP_COOKIE`),
//! ASGI header pairs (`b"cookie"`), JSON bodies and prose summaries.
//!
//! What we simplify: the patterns are found in one buffer at a time, so a
//! secret split across two chunks of a chunked body would escape them; the
//! stack's own messages never split one.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use std::borrow::Cow;

use serde_json::Value;

use super::decision::Decision;
use super::model::Data;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Header fields whose values are credentials, lower-case.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-csrf-token",
];

/// JSON keys and form fields whose values are secrets.
const SECRET_FIELDS: [&str; 5] = [
    "password",
    "token",
    "access_token",
    "csrf_token",
    "csrfmiddlewaretoken",
];

/// Is this header's value a credential?
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The header name a WSGI environ key carries (`HTTP_COOKIE` → `cookie`).
fn environ_header(key: &str) -> Option<String> {
    key.strip_prefix("HTTP_")
        .map(|rest| rest.replace('_', "-").to_ascii_lowercase())
}

/// A header's value with its secret parts redacted (see the table above);
/// other headers come back unchanged.
pub fn header_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => match value.trim().split_once(' ') {
            Some((scheme, _)) => Cow::Owned([scheme, " ", REDACTED].concat()),
            None if value.trim().is_empty() => Cow::Borrowed(value),
            None => Cow::Borrowed(REDACTED),
        },
        "cookie" => Cow::Owned(
            value
                .split(';')
                .map(|pair| match pair.trim().split_once('=') {
                    Some((n, _)) => [n, "=", REDACTED].concat(),
                    None => REDACTED.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        "set-cookie" => {
            let (first, attributes) = value.split_once(';').unwrap_or((value, ""));
            let shown = match first.split_once('=') {
                Some((n, v)) if v.trim().is_empty() => [n, "="].concat(),
                Some((n, _)) => [n, "=", REDACTED].concat(),
                None => REDACTED.to_string(),
            };
            if attributes.is_empty() {
                Cow::Owned(shown)
            } else {
                Cow::Owned([&shown, ";", attributes].concat())
            }
        }
        "x-csrf-token" => Cow::Borrowed(REDACTED),
        _ => Cow::Borrowed(value),
    }
}

/// Redact a list of header pairs in place.
pub fn headers(pairs: &mut [(String, String)]) {
    for (name, value) in pairs.iter_mut() {
        if is_secret_header(name) {
            *value = header_value(name, value).into_owned();
        } else if let Cow::Owned(v) = text(value) {
            *value = v;
        }
    }
}

/// Redact WSGI environ entries in place: `HTTP_*` keys by their header's
/// rule, every other value by the text rules.
pub fn environ(entries: &mut [(String, String)]) {
    for (key, value) in entries.iter_mut() {
        match environ_header(key) {
            Some(header) if is_secret_header(&header) => {
                *value = header_value(&header, value).into_owned();
            }
            _ => {
                if let Cow::Owned(v) = text(value) {
                    *value = v;
                }
            }
        }
    }
}

/// Redact a JSON value in place: secret keys of objects, `[name, value]`
/// header pairs (ASGI's `b"cookie"`), and every string by the text rules.
pub fn json(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(v) = text(s) {
                *s = v;
            }
        }
        Value::Array(items) => {
            if let [Value::String(name), Value::String(v)] = items.as_mut_slice() {
                let bare = unquote_bytes(name);
                if is_secret_header(bare) {
                    let inner = unquote_bytes(v);
                    let shown = header_value(bare, inner).into_owned();
                    *v = if v.starts_with("b\"") {
                        ["b\"", &shown, "\""].concat()
                    } else {
                        shown
                    };
                    return;
                }
            }
            items.iter_mut().for_each(json);
        }
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_field(key) && v.is_string() {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    json(v);
                }
            }
        }
        _ => {}
    }
}

/// Redact one event's summary, data sections and decision in place: what
/// the recorder does to every event before keeping it.
pub fn event(summary: &mut String, data: &mut [Data], decision: Option<&mut Decision>) {
    redact_string(summary);
    for section in data {
        match section {
            // Already redacted when the bytes were made printable.
            Data::Bytes { .. } => {}
            Data::RequestHead {
                target, headers: h, ..
            } => {
                redact_string(target);
                headers(h);
            }
            Data::ResponseHead { headers: h, .. } | Data::StartResponse { headers: h, .. } => {
                headers(h)
            }
            Data::Environ { entries } => environ(entries),
            Data::Scope { entries }
            | Data::AsgiMessage {
                message: entries, ..
            } => {
                for (key, value) in entries.iter_mut() {
                    if key == "headers" || !is_secret_field(key) {
                        json(value);
                    } else {
                        *value = Value::String(REDACTED.to_string());
                    }
                }
            }
            Data::Route { path, .. } => redact_string(path),
            // Frames and accept keys carry no credentials of the stack's.
            Data::WsFrame { .. } | Data::WsAccept { .. } => {}
            Data::Sql { params, result, .. } => {
                params.iter_mut().for_each(redact_string);
                result.iter_mut().flatten().for_each(redact_string);
            }
            Data::Fields { entries } => {
                for (key, value) in entries.iter_mut() {
                    if is_secret_field(key) || is_secret_header(key) {
                        *value = header_or_field(key, value);
                    } else {
                        redact_string(value);
                    }
                }
            }
        }
    }
    if let Some(d) = decision {
        d.subject.iter_mut().for_each(redact_string);
        d.rule.iter_mut().for_each(redact_string);
        for (_, value) in d.inputs.iter_mut() {
            redact_string(value);
        }
    }
}

fn header_or_field(key: &str, value: &str) -> String {
    if is_secret_header(key) {
        header_value(key, value).into_owned()
    } else {
        REDACTED.to_string()
    }
}

fn redact_string(s: &mut String) {
    if let Cow::Owned(v) = text(s) {
        *s = v;
    }
}

/// `b"cookie"` (the ASGI repr of bytes) → `cookie`.
fn unquote_bytes(s: &str) -> &str {
    s.strip_prefix("b\"")
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
}

fn is_secret_field(name: &str) -> bool {
    SECRET_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// Redact text: header lines, JSON and form fields, JWT-shaped strings.
pub fn text(s: &str) -> Cow<'_, str> {
    match bytes(s.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        // Every cut is at an ASCII byte and every insertion is ASCII, so
        // valid UTF-8 stays valid; the lossy path is never taken.
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Redact raw bytes (an HTTP message, a body) by the text rules.
pub fn bytes(input: &[u8]) -> Cow<'_, [u8]> {
    redact_bytes(input, false)
}

/// How far past what is shown [`bytes_shown`] still reads: a secret that
/// starts in the shown part and ends within this is found whole.
pub const LOOKAHEAD: usize = 4096;

/// Redact only what a display of `limit` bytes can show, and the
/// [`LOOKAHEAD`] after it, so showing the start of a 100 KiB body does
/// not scan the whole body. A secret cut off by the window's end is
/// redacted to the end, as if it went on (it does). Also returns how many
/// bytes of `input` the window left unread.
pub fn bytes_shown(input: &[u8], limit: usize) -> (Cow<'_, [u8]>, usize) {
    let window = input.len().min(limit.saturating_add(LOOKAHEAD));
    let cut = window < input.len();
    (redact_bytes(&input[..window], cut), input.len() - window)
}

/// `open_ended`: `input` is the start of something longer, so a token
/// that runs to its end may go on past it.
fn redact_bytes(input: &[u8], open_ended: bool) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < input.len() {
        if let Some((start, end, replacement)) = secret_at(input, i, open_ended) {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len()));
            buf.extend_from_slice(&input[copied..start]);
            buf.extend_from_slice(replacement.as_bytes());
            copied = end;
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(&input[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// A secret that starts at `i`: the range to replace and what with.
fn secret_at(input: &[u8], i: usize, open_ended: bool) -> Option<(usize, usize, String)> {
    let at_line_start = i == 0 || input[i - 1] == b'\n';
    if at_line_start && let Some(found) = header_line(input, i) {
        return Some(found);
    }
    match input[i] {
        b'"' => json_field(input, i),
        b'e' => jwt(input, i, open_ended).map(|end| (i, end, REDACTED.to_string())),
        _ => {
            let after_separator = i == 0 || matches!(input[i - 1], b'&' | b'?' | b'\n' | b' ');
            if after_separator {
                form_field(input, i)
            } else {
                None
            }
        }
    }
}

fn starts_with_ignore_case(input: &[u8], at: usize, word: &str) -> bool {
    input
        .get(at..at + word.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(word.as_bytes()))
}

/// `Cookie: a=b` at a line start: the value, by the header's rule.
fn header_line(input: &[u8], i: usize) -> Option<(usize, usize, String)> {
    let name = SECRET_HEADERS
        .iter()
        .find(|h| starts_with_ignore_case(input, i, h) && input.get(i + h.len()) == Some(&b':'))?;
    let mut start = i + name.len() + 1;
    while input.get(start) == Some(&b' ') {
        start += 1;
    }
    let end = input[start..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map_or(input.len(), |p| start + p);
    let value = String::from_utf8_lossy(&input[start..end]);
    let shown = header_value(name, &value).into_owned();
    (shown != value).then_some((start, end, shown))
}

/// A quote at `j`: `"`, or `\"` inside an escaped string (a JSON body
/// shown in an ASGI `b"..."` repr). Its length.
fn quote(input: &[u8], j: usize) -> Option<usize> {
    match input.get(j) {
        Some(b'"') => Some(1),
        Some(b'\\') if input.get(j + 1) == Some(&b'"') => Some(2),
        _ => None,
    }
}

fn skip_blanks(input: &[u8], mut j: usize) -> usize {
    while matches!(input.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    j
}

/// `"password": "…"`: the string's contents.
fn json_field(input: &[u8], i: usize) -> Option<(usize, usize, String)> {
    let name = SECRET_FIELDS
        .iter()
        .find(|f| starts_with_ignore_case(input, i + 1, f))?;
    let after_name = i + 1 + name.len();
    let close = quote(input, after_name)?;
    let mut j = skip_blanks(input, after_name + close);
    if input.get(j) != Some(&b':') {
        return None;
    }
    j = skip_blanks(input, j + 1);
    let open = quote(input, j)?;
    let start = j + open;
    let mut k = start;
    while k < input.len() {
        match (open, input[k]) {
            (1, b'\\') => k += 2,
            (1, b'"') => return Some((start, k, REDACTED.to_string())),
            (2, b'\\') if input.get(k + 1) == Some(&b'"') => {
                return Some((start, k, REDACTED.to_string()));
            }
            (2, b'\\') => k += 2,
            _ => k += 1,
        }
    }
    Some((start, input.len(), REDACTED.to_string()))
}

/// `password=…` in a form body or a query string: the value.
fn form_field(input: &[u8], i: usize) -> Option<(usize, usize, String)> {
    let name = SECRET_FIELDS
        .iter()
        .find(|f| starts_with_ignore_case(input, i, f) && input.get(i + f.len()) == Some(&b'='))?;
    let start = i + name.len() + 1;
    let end = input[start..]
        .iter()
        .position(|&b| matches!(b, b'&' | b' ' | b'\r' | b'\n' | b'"' | b'\\'))
        .map_or(input.len(), |p| start + p);
    (end > start).then(|| (start, end, REDACTED.to_string()))
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A JWT: `eyJ` (base64url of `{"`) then two dots between base64url runs
/// (RFC 7519 §3). Returns where it ends. With `open_ended`, one that
/// reaches the end of `input` counts even before its second dot.
fn jwt(input: &[u8], i: usize, open_ended: bool) -> Option<usize> {
    if !input[i..].starts_with(b"eyJ") || (i > 0 && is_base64url(input[i - 1])) {
        return None;
    }
    let mut j = i;
    let mut dots = 0;
    while j < input.len() {
        let b = input[j];
        if b == b'.' && dots < 2 {
            dots += 1;
        } else if !is_base64url(b) {
            break;
        }
        j += 1;
    }
    let cut_short = open_ended && j == input.len();
    ((dots == 2 || cut_short) && j - i > 10).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cookie_and_authorization_lines_keep_names_and_scheme_only() {
        let head = b"GET /me HTTP/1.1\r\nHost: a\r\nCookie: sessionid=abc123; theme=dark\r\nAuthorization: Bearer xyz\r\n\r\n";
        let shown = String::from_utf8(bytes(head).into_owned()).expect("ascii");
        assert_eq!(
            shown,
            "GET /me HTTP/1.1\r\nHost: a\r\nCookie: sessionid=[redacted]; theme=[redacted]\r\nAuthorization: Bearer [redacted]\r\n\r\n"
        );
    }

    #[test]
    fn set_cookie_keeps_its_attributes_and_an_empty_value() {
        assert_eq!(
            header_value(
                "Set-Cookie",
                "sessionid=s3cr3t; HttpOnly; Path=/; SameSite=Lax"
            ),
            "sessionid=[redacted]; HttpOnly; Path=/; SameSite=Lax"
        );
        assert_eq!(
            header_value("set-cookie", "sessionid=; Max-Age=0; Path=/"),
            "sessionid=; Max-Age=0; Path=/"
        );
    }

    #[test]
    fn json_and_form_passwords_are_redacted_and_other_fields_stay() {
        assert_eq!(
            text(r#"{"username":"alice","password": "wonder\"land"}"#),
            r#"{"username":"alice","password": "[redacted]"}"#
        );
        assert_eq!(
            text("username=alice&password=wonderland&next=/"),
            "username=alice&password=[redacted]&next=/"
        );
        assert_eq!(text("passwords=1"), "passwords=1");
        assert_eq!(text("no secrets here"), "no secrets here");
    }

    #[test]
    fn jwt_shaped_strings_are_redacted_anywhere() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(
            text(&format!("issued {token} to alice")),
            "issued [redacted] to alice"
        );
        // An alg:none token has an empty signature and is still caught.
        assert_eq!(text("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."), REDACTED);
    }

    #[test]
    fn environ_and_asgi_header_pairs_follow_the_header_rules() {
        let mut entries = vec![
            ("HTTP_COOKIE".to_string(), "sessionid=abc".to_string()),
            ("HTTP_HOST".to_string(), "a".to_string()),
        ];
        environ(&mut entries);
        assert_eq!(entries[0].1, "sessionid=[redacted]");
        assert_eq!(entries[1].1, "a");
        let mut scope = json!({"headers": [["b\"authorization\"", "b\"Bearer abc\""], ["b\"host\"", "b\"a\""]],
            "body": "b\"{\\\"password\\\":\\\"x\\\"}\""});
        json(&mut scope);
        assert_eq!(scope["headers"][0][1], "b\"Bearer [redacted]\"");
        assert_eq!(scope["headers"][1][1], "b\"a\"");
        assert!(!scope["body"].to_string().contains("\\\"x\\\""));
    }
}
