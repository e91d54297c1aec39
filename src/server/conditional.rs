//! Conditional requests: "send it only if it changed" (RFC 9110 §13).
//!
//! A client that has a copy sends its validators back: `If-None-Match`
//! with the `ETag` it got, `If-Modified-Since` with the `Last-Modified`.
//! If they still describe the file, the answer is `304 Not Modified`, a
//! head with no body, and the client uses its copy.
//!
//! nginx's not-modified filter (`ngx_http_not_modified_filter_module.c`),
//! in its order:
//!
//! ```text
//! If-Unmodified-Since older than the file         ─▶ 412
//! If-Match that does not match (strong)           ─▶ 412
//! If-Modified-Since and/or If-None-Match present:
//!     every one present says "not modified"       ─▶ 304
//!     (If-Modified-Since: the same date exactly, `if_modified_since exact`;
//!      If-None-Match: weak comparison, `*` matches anything)
//! ```
//!
//! RFC 9110 §13.2.2 says to ignore `If-Modified-Since` when
//! `If-None-Match` is present; nginx instead requires both to agree
//! (measured with nginx 1.22: a matching ETag with a different date gets
//! 200).
//!
//! Book: "The web server" (book/src/web-server.md), "Conditional requests: 304".

use serde::{Deserialize, Serialize};

use crate::http::Headers;

/// How nginx compares `If-Modified-Since` with the file's time
/// (`if_modified_since exact`, its default).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IfModifiedSince {
    /// The field is ignored.
    Off,
    /// The date must be the file's, to the second.
    #[default]
    Exact,
    /// The file must be no newer than the date.
    Before,
}

impl IfModifiedSince {
    pub fn as_str(self) -> &'static str {
        match self {
            IfModifiedSince::Off => "off",
            IfModifiedSince::Exact => "exact",
            IfModifiedSince::Before => "before",
        }
    }
}

/// What the preconditions decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No condition, or one that says "changed": send the file.
    Send,
    /// The client's copy is current: 304. The field that decided it.
    NotModified { by: &'static str },
    /// A precondition failed: 412. The field that decided it.
    Failed { by: &'static str },
}

/// The entity tags of an `If-None-Match` / `If-Match` list, or `*`.
fn tags(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Weak comparison (RFC 9110 §8.8.3.2): `W/"x"` and `"x"` are equal.
fn weak_eq(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

/// Strong comparison: both strong, and the same.
fn strong_eq(a: &str, b: &str) -> bool {
    !a.starts_with("W/") && a == b
}

fn list_matches(value: &str, etag: &str, weak: bool) -> bool {
    // `etag off`: the response has no entity tag, and nginx lets no list
    // match it, not even `*` (ngx_http_test_if_match).
    if etag.is_empty() {
        return false;
    }
    tags(value).iter().any(|t| {
        *t == "*"
            || if weak {
                weak_eq(t, etag)
            } else {
                strong_eq(t, etag)
            }
    })
}

/// Seconds since 1970 of an HTTP-date, if it is one.
pub fn parse_date(value: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Judge a request's preconditions against a file's validators (`etag`
/// empty: `etag off`, none).
pub fn evaluate(
    headers: &Headers,
    etag: &str,
    mtime_secs: u64,
    if_modified_since: IfModifiedSince,
) -> Precondition {
    if let Some(ius) = headers.get("if-unmodified-since")
        && parse_date(ius).is_some_and(|d| d < mtime_secs)
    {
        return Precondition::Failed {
            by: "If-Unmodified-Since",
        };
    }
    if let Some(im) = headers.get("if-match")
        && !list_matches(im, etag, false)
    {
        return Precondition::Failed { by: "If-Match" };
    }
    let ims = headers
        .get("if-modified-since")
        .filter(|_| if_modified_since != IfModifiedSince::Off);
    let inm = headers.get("if-none-match");
    if ims.is_none() && inm.is_none() {
        return Precondition::Send;
    }
    // `if_modified_since exact`: the date must be the file's, to the
    // second; `before`: the file no newer than the date.
    if let Some(ims) = ims {
        let date = parse_date(ims);
        let current = match if_modified_since {
            IfModifiedSince::Before => date.is_some_and(|d| mtime_secs <= d),
            _ => date == Some(mtime_secs),
        };
        if !current {
            return Precondition::Send;
        }
    }
    if let Some(inm) = inm
        && !list_matches(inm, etag, true)
    {
        return Precondition::Send;
    }
    Precondition::NotModified {
        by: if inm.is_some() {
            "If-None-Match"
        } else {
            "If-Modified-Since"
        },
    }
}

/// Does `If-Range` allow the range (RFC 9110 §13.1.5)? An entity tag
/// must match strongly; a date must be the file's exactly.
pub fn if_range_holds(value: &str, etag: &str, mtime_secs: u64) -> bool {
    let v = value.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        strong_eq(v, etag)
    } else {
        parse_date(v) == Some(mtime_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"692cda80-7\"";
    const MTIME: u64 = 0x692c_da80;
    const DATE: &str = "Mon, 01 Dec 2025 00:00:00 GMT";

    fn with(fields: &[(&str, &str)]) -> Precondition {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.push(*n, *v);
        }
        evaluate(&h, ETAG, MTIME, IfModifiedSince::Exact)
    }

    #[test]
    fn etag_off_lets_no_list_match_and_if_modified_since_off_ignores_the_date() {
        let mut h = Headers::new();
        h.push("If-None-Match", "*");
        assert_eq!(
            evaluate(&h, "", MTIME, IfModifiedSince::Exact),
            Precondition::Send
        );
        let mut h = Headers::new();
        h.push("If-Modified-Since", DATE);
        assert_eq!(
            evaluate(&h, ETAG, MTIME, IfModifiedSince::Off),
            Precondition::Send
        );
        assert!(matches!(
            evaluate(&h, ETAG, MTIME, IfModifiedSince::Exact),
            Precondition::NotModified { .. }
        ));
        let mut later = Headers::new();
        later.push("If-Modified-Since", "Tue, 02 Dec 2025 00:00:00 GMT");
        assert_eq!(
            evaluate(&later, ETAG, MTIME, IfModifiedSince::Exact),
            Precondition::Send
        );
        assert!(matches!(
            evaluate(&later, ETAG, MTIME, IfModifiedSince::Before),
            Precondition::NotModified { .. }
        ));
    }

    #[test]
    fn the_304s_and_200s_nginx_gave_for_the_same_fields() {
        // Each case measured against nginx 1.22 serving the same file.
        assert_eq!(with(&[]), Precondition::Send);
        assert!(matches!(
            with(&[("If-None-Match", ETAG)]),
            Precondition::NotModified { .. }
        ));
        assert!(matches!(
            with(&[("If-None-Match", "W/\"692cda80-7\"")]),
            Precondition::NotModified { .. }
        ));
        assert!(matches!(
            with(&[("If-None-Match", "\"x\", \"692cda80-7\"")]),
            Precondition::NotModified { .. }
        ));
        assert!(matches!(
            with(&[("If-None-Match", "*")]),
            Precondition::NotModified { .. }
        ));
        assert!(matches!(
            with(&[("If-Modified-Since", DATE)]),
            Precondition::NotModified {
                by: "If-Modified-Since"
            }
        ));
        assert_eq!(
            with(&[("If-None-Match", "\"nope\""), ("If-Modified-Since", DATE)]),
            Precondition::Send
        );
        assert_eq!(
            with(&[
                ("If-None-Match", ETAG),
                ("If-Modified-Since", "Tue, 02 Dec 2025 00:00:00 GMT")
            ]),
            Precondition::Send
        );
    }

    #[test]
    fn a_later_if_modified_since_is_not_exact_so_the_file_is_sent() {
        assert_eq!(
            with(&[("If-Modified-Since", "Tue, 02 Dec 2025 00:00:00 GMT")]),
            Precondition::Send
        );
        assert_eq!(
            with(&[("If-Modified-Since", "not a date")]),
            Precondition::Send
        );
    }

    #[test]
    fn failed_preconditions_are_412() {
        assert_eq!(
            with(&[("If-Match", "\"other\"")]),
            Precondition::Failed { by: "If-Match" }
        );
        assert_eq!(with(&[("If-Match", ETAG)]), Precondition::Send);
        assert_eq!(
            with(&[("If-Unmodified-Since", "Sun, 30 Nov 2025 00:00:00 GMT")]),
            Precondition::Failed {
                by: "If-Unmodified-Since"
            }
        );
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        assert!(if_range_holds(ETAG, ETAG, MTIME));
        assert!(if_range_holds(DATE, ETAG, MTIME));
        assert!(!if_range_holds("\"other\"", ETAG, MTIME));
        assert!(!if_range_holds("W/\"692cda80-7\"", ETAG, MTIME));
    }
}
