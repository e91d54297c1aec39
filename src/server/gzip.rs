//! nginx's gzip filter: compress a response on its way to the client.
//!
//! Text compresses well: a JSON list or a style sheet often shrinks to a
//! third. The web server does it once for every upstream, and the client
//! says whether it can read it with `Accept-Encoding` (RFC 9110 §12.5.3);
//! the answer says what was done with `Content-Encoding: gzip` (RFC 9110
//! §8.4). The filter (`ngx_http_gzip_filter_module`) decides in this
//! order, and each step names the directive that decided:
//!
//! ```text
//! gzip off                                              ─▶ as is
//! status not 200, 403 or 404                            ─▶ as is
//! already has Content-Encoding                          ─▶ as is
//! Content-Length below gzip_min_length (20)             ─▶ as is
//! media type not in gzip_types (text/html always is)    ─▶ as is
//!   ── from here on the response "could vary": gzip_vary adds Vary ──
//! no "gzip" in Accept-Encoding, or gzip;q=0             ─▶ as is
//! request older than gzip_http_version 1.1              ─▶ as is
//! request has Via and gzip_proxied does not allow it    ─▶ as is
//! otherwise                                             ─▶ gzip at gzip_comp_level
//! ```
//!
//! **gzip_proxied is about the request, not about proxy_pass.** A request
//! is "proxied" when it carries a `Via` field: it reached nginx through
//! another proxy, such as a CDN. With the default `gzip_proxied off` such
//! requests get no compression (the proxy in front may cache one copy for
//! every client). It has nothing to do with nginx's own `proxy_pass`:
//! responses from the app server are compressed like any other when
//! `gzip on`. The other values (`expired`, `no-cache`, `no-store`,
//! `private`, `no_last_modified`, `no_etag`, `auth`, `any`) allow it when
//! the response (or, for `auth`, the request) shows the named sign that
//! the proxy in front will not cache it (nginx docs, `gzip_proxied`).
//!
//! **A HEAD is decided like its GET.** nginx marks a response
//! "header only" for HEAD in its last header filter, after gzip has
//! decided (`ngx_http_header_filter`), so a HEAD gets the headers its GET
//! would get: `Content-Encoding: gzip`, a weak `ETag`, no
//! `Content-Length`, and no body (RFC 9110 §9.3.2: HEAD answers with the
//! GET's header fields).
//!
//! A compressed response loses its `Content-Length` (nginx compresses as
//! it sends and does not know the length beforehand: it goes chunked, RFC
//! 9112 §7.1) and `Accept-Ranges` (byte ranges of the compressed bytes are
//! not ranges of the file), and a strong `ETag` becomes weak (`W/"…"`):
//! the compressed bytes are not the bytes the tag was made for (RFC 9110
//! §8.8.1).
//!
//! Only the `gzip` token counts, as in nginx (`ngx_http_gzip_ok`): `*` and
//! `x-gzip` do not. A q-value of 0 means "not acceptable" (RFC 9110
//! §12.4.2).
//!
//! Book: "The web server" (book/src/web-server.md), "Compression: gzip".

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::http::{RequestHead, ResponseHead, Version};
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// `gzip_proxied`: which requests that came through another proxy (they
/// carry `Via`) may still get a compressed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GzipProxied(Vec<ProxiedWhen>);

/// One value of `gzip_proxied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxiedWhen {
    Off,
    Expired,
    NoCache,
    NoStore,
    Private,
    NoLastModified,
    NoEtag,
    Auth,
    Any,
}

impl ProxiedWhen {
    const ALL: [(&'static str, ProxiedWhen); 9] = [
        ("off", ProxiedWhen::Off),
        ("expired", ProxiedWhen::Expired),
        ("no-cache", ProxiedWhen::NoCache),
        ("no-store", ProxiedWhen::NoStore),
        ("private", ProxiedWhen::Private),
        ("no_last_modified", ProxiedWhen::NoLastModified),
        ("no_etag", ProxiedWhen::NoEtag),
        ("auth", ProxiedWhen::Auth),
        ("any", ProxiedWhen::Any),
    ];

    fn name(self) -> &'static str {
        ProxiedWhen::ALL
            .iter()
            .find(|(_, w)| *w == self)
            .map_or("off", |(n, _)| n)
    }
}

impl Default for GzipProxied {
    fn default() -> GzipProxied {
        GzipProxied(vec![ProxiedWhen::Off])
    }
}

impl TryFrom<String> for GzipProxied {
    type Error = String;
    fn try_from(value: String) -> Result<GzipProxied, String> {
        let mut out = Vec::new();
        for word in value.split_whitespace() {
            match ProxiedWhen::ALL.iter().find(|(n, _)| *n == word) {
                Some((_, w)) => out.push(*w),
                None => {
                    let names: Vec<&str> = ProxiedWhen::ALL.iter().map(|(n, _)| *n).collect();
                    return Err(format!(
                        "gzip_proxied: unknown value {word:?}; nginx knows {}",
                        names.join(", ")
                    ));
                }
            }
        }
        if out.is_empty() {
            return Err("gzip_proxied: give at least one value, e.g. \"off\" or \"any\"".into());
        }
        if out.len() > 1 && out.contains(&ProxiedWhen::Off) {
            return Err("gzip_proxied: \"off\" cannot be combined with other values".into());
        }
        Ok(GzipProxied(out))
    }
}

impl From<GzipProxied> for String {
    fn from(p: GzipProxied) -> String {
        p.to_string()
    }
}

crate::units::schema_as_text!(GzipProxied, "GzipProxied", {
    "description": "nginx's `gzip_proxied`: \"off\", or one or more of expired, no-cache, no-store, private, no_last_modified, no_etag, auth, any, separated by spaces.",
    "type": "string",
    "pattern": "^\\s*(off|((expired|no-cache|no-store|private|no_last_modified|no_etag|auth|any)(\\s+|$))+)\\s*$"
});

impl std::fmt::Display for GzipProxied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|w| w.name()).collect();
        f.write_str(&names.join(" "))
    }
}

impl GzipProxied {
    /// May a response to a request that came through a proxy be
    /// compressed? The value that allowed it, or `None`.
    fn allows(&self, request: &RequestHead, head: &ResponseHead) -> Option<ProxiedWhen> {
        let cache_control = |token: &str| head.headers.has_token("cache-control", token);
        self.0.iter().copied().find(|w| match w {
            ProxiedWhen::Off => false,
            ProxiedWhen::Any => true,
            ProxiedWhen::Expired => head.headers.contains("expires"),
            ProxiedWhen::NoCache => cache_control("no-cache"),
            ProxiedWhen::NoStore => cache_control("no-store"),
            ProxiedWhen::Private => cache_control("private"),
            ProxiedWhen::NoLastModified => !head.headers.contains("last-modified"),
            ProxiedWhen::NoEtag => !head.headers.contains("etag"),
            ProxiedWhen::Auth => request.headers.contains("authorization"),
        })
    }
}

/// The gzip directives, as a lesson's `[stack.web_server]` sets them.
pub struct GzipSettings<'a> {
    pub on: bool,
    pub types: &'a [String],
    pub min_length: u64,
    pub comp_level: u32,
    pub vary: bool,
    pub proxied: &'a GzipProxied,
}

/// What `Accept-Encoding` says about gzip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// No `Accept-Encoding` at all.
    Absent,
    /// The field does not name `gzip` (`*` and `x-gzip` do not count).
    NotListed,
    /// `gzip` with q=0 (or a q-value that is not one): not acceptable.
    Refused { q: String },
    /// `gzip`, with its q-value (`1` when none was given).
    Accepted { q: String },
}

/// A q-value per RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`. `None` when it
/// is not one, or is zero.
fn positive_qvalue(q: &str) -> Option<()> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    let digits_ok = frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
    match int {
        "0" if digits_ok && frac.bytes().any(|b| b != b'0') => Some(()),
        "1" if digits_ok && frac.bytes().all(|b| b == b'0') => Some(()),
        _ => None,
    }
}

/// Read `Accept-Encoding` for `gzip` (RFC 9110 §12.5.3: a list of
/// `coding [;q=value]`, case-insensitive).
pub fn acceptance(value: Option<&str>) -> Acceptance {
    let Some(value) = value else {
        return Acceptance::Absent;
    };
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !coding.eq_ignore_ascii_case("gzip") {
            continue;
        }
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
            })
            .next()
            .unwrap_or("1")
            .to_string();
        return if positive_qvalue(&q).is_some() {
            Acceptance::Accepted { q }
        } else {
            Acceptance::Refused { q }
        };
    }
    Acceptance::NotListed
}

/// Why a response was or was not compressed, naming the directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Compressed.
    Compressed { q: String },
    /// Not compressed; the directive (or field) that decided, its value,
    /// and why, and whether the response still "could vary".
    Skipped {
        knob: &'static str,
        value: String,
        why: String,
        varies: bool,
    },
}

pub(super) fn media_type(head: &ResponseHead) -> String {
    head.headers
        .get("content-type")
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decide, in nginx's order (see the module docs).
pub fn decide(s: &GzipSettings<'_>, request: &RequestHead, head: &ResponseHead) -> Outcome {
    let skip = |knob: &'static str, value: String, why: String, varies: bool| Outcome::Skipped {
        knob,
        value,
        why,
        varies,
    };
    if !matches!(head.status, 200 | 403 | 404) {
        return skip(
            "gzip",
            "on".into(),
            format!(
                "the filter compresses only 200, 403 and 404, not {}",
                head.status
            ),
            false,
        );
    }
    if let Some(ce) = head.headers.get("content-encoding") {
        return skip(
            "gzip",
            "on".into(),
            format!("the response already has Content-Encoding: {ce}"),
            false,
        );
    }
    if let Some(len) = head
        .headers
        .get("content-length")
        .and_then(|l| l.trim().parse::<u64>().ok())
        && len < s.min_length
    {
        return skip(
            "gzip_min_length",
            s.min_length.to_string(),
            format!("{len} bytes is shorter than gzip_min_length: too small to gain"),
            false,
        );
    }
    let media = media_type(head);
    let typed = media == "text/html"
        || s.types
            .iter()
            .any(|t| t == "*" || t.eq_ignore_ascii_case(&media));
    if !typed {
        return skip(
            "gzip_types",
            types_knob(s.types),
            format!("{media} is not in gzip_types"),
            false,
        );
    }
    let q = match acceptance(request.headers.get("accept-encoding")) {
        Acceptance::Absent => {
            let why = "the request has no Accept-Encoding";
            return skip("gzip", "on".into(), why.into(), true);
        }
        Acceptance::NotListed => {
            let why = "Accept-Encoding does not name gzip (nginx counts neither * nor x-gzip)";
            return skip("gzip", "on".into(), why.into(), true);
        }
        Acceptance::Refused { q } => {
            let why = format!("Accept-Encoding says gzip;q={q}: q=0 means not acceptable");
            return skip("gzip", "on".into(), why, true);
        }
        Acceptance::Accepted { q } => q,
    };
    if request.version == Version::Http10 {
        let why = "an HTTP/1.0 request (gzip_http_version 1.1)";
        return skip("gzip_http_version", "1.1".into(), why.into(), true);
    }
    if let Some(via) = request.headers.get("via")
        && s.proxied.allows(request, head).is_none()
    {
        let why = format!(
            "the request came through another proxy (Via: {via}) and gzip_proxied {} does not allow it",
            s.proxied
        );
        return skip("gzip_proxied", s.proxied.to_string(), why, true);
    }
    Outcome::Compressed { q }
}

fn types_knob(types: &[String]) -> String {
    let mut all = vec!["text/html".to_string()];
    all.extend(types.iter().filter(|t| *t != "text/html").cloned());
    all.join(" ")
}

/// gzip `body` at `level` (1 fastest … 9 smallest).
pub fn compress(body: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 2 + 32),
        Compression::new(level.clamp(1, 9)),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// What an encoding filter does to the head of a response it encodes:
/// the length is unknown until the last byte is compressed, so
/// `Content-Length` goes and the body is sent chunked (except for HEAD:
/// nginx's chunked filter passes it by, there is no body to frame); byte
/// ranges of the encoded bytes are not ranges of the file, so
/// `Accept-Ranges` goes; the tag becomes weak; `Content-Encoding` says
/// which coding.
pub(super) fn mark_encoded(head: &mut ResponseHead, coding: &str, head_only: bool) {
    head.headers.remove("content-length");
    head.headers.remove("accept-ranges");
    if !head_only && !head.headers.has_token("transfer-encoding", "chunked") {
        head.headers
            .insert_before("connection", "Transfer-Encoding", "chunked");
    }
    weaken_etag(head);
    head.headers.push("Content-Encoding", coding);
}

/// nginx's `ngx_http_weak_etag`: `"x"` becomes `W/"x"`; a weak tag stays;
/// anything else is dropped.
fn weaken_etag(head: &mut ResponseHead) {
    let Some(etag) = head.headers.get("etag").map(str::to_string) else {
        return;
    };
    if etag.starts_with("W/") {
        return;
    }
    if etag.starts_with('"') {
        head.headers.set_in_place("etag", format!("W/{etag}"));
    } else {
        head.headers.remove("etag");
    }
}

/// Run the filter on a response whose body is not yet chunk-encoded, and
/// then encode it when the head says chunked. `varied` says a filter
/// before this one (Brotli) found the response could vary: nginx keeps
/// one flag for both (`r->gzip_vary`) and writes one `Vary` when
/// `gzip_vary` is on, even with `gzip off`. Records `web_server.gzip`
/// when gzip is on.
pub fn filter(
    s: &GzipSettings<'_>,
    request: &RequestHead,
    mut head: ResponseHead,
    mut body: Vec<u8>,
    varied: bool,
) -> (ResponseHead, Vec<u8>) {
    let mut vary = varied;
    if s.on {
        let outcome = decide(s, request, &head);
        vary |= match &outcome {
            Outcome::Compressed { .. } => true,
            Outcome::Skipped { varies, .. } => *varies,
        };
        if vary && s.vary {
            head.headers
                .insert_after("connection", "Vary", "Accept-Encoding");
        }
        let before = body.len();
        let head_only = request.method == "HEAD";
        if let Outcome::Compressed { .. } = outcome {
            // HEAD: the GET's headers, and still no body.
            if !head_only {
                body = compress(&body, s.comp_level);
            }
            mark_encoded(&mut head, "gzip", head_only);
        }
        emit(s, request, &head, &outcome, before, body.len());
    } else if vary && s.vary {
        head.headers
            .insert_after("connection", "Vary", "Accept-Encoding");
    }
    if head.headers.has_token("transfer-encoding", "chunked") && request.method != "HEAD" {
        body = crate::http::chunked::encode(&body);
    }
    (head, body)
}

/// The `web_server.gzip` step.
fn emit(
    s: &GzipSettings<'_>,
    request: &RequestHead,
    head: &ResponseHead,
    outcome: &Outcome,
    before: usize,
    after: usize,
) {
    let accept = request.headers.get("accept-encoding").unwrap_or("(none)");
    let vary = if head.headers.contains("vary") && s.vary {
        "; Vary: Accept-Encoding (gzip_vary on)"
    } else {
        ""
    };
    let (summary, decision, knob, value) = match outcome {
        Outcome::Compressed { q } => {
            let percent = (after * 100).checked_div(before).unwrap_or(0);
            let summary = if request.method == "HEAD" {
                format!(
                    "gzip decides a HEAD as its GET: Content-Encoding: gzip, no Content-Length, no body{vary}"
                )
            } else {
                format!(
                    "gzip, level {}: {before} bytes become {after} ({percent}%); Content-Encoding: gzip, sent chunked{vary}",
                    s.comp_level
                )
            };
            (
                summary,
                Decision::new(Verdict::Rewrite)
                    .rule("the client accepts gzip and the response qualifies: nginx compresses it")
                    .input("accept_encoding", accept)
                    .input("q", q)
                    .input("bytes_before", before)
                    .input("bytes_after", after)
                    .knob("gzip_comp_level", s.comp_level),
                "gzip",
                "on".to_string(),
            )
        }
        Outcome::Skipped {
            knob, value, why, ..
        } => (
            format!("not compressed: {why}{vary}"),
            Decision::new(Verdict::Pass)
                .rule(why.clone())
                .input("accept_encoding", accept)
                .input("bytes", before),
            *knob,
            value.clone(),
        ),
    };
    Step::new(StepId::WebServerGzip, Direction::Up, Kind::Decision)
        .summary(summary)
        .knob(knob, value)
        .decision(decision.input("content_type", media_type(head)))
        .emit();
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use proptest::prelude::*;
    use std::io::Read;

    const PAGE: &str =
        "<!doctype html><title>notes</title><p>hello hello hello hello hello hello</p>";

    fn settings<'a>(types: &'a [String], proxied: &'a GzipProxied) -> GzipSettings<'a> {
        GzipSettings {
            on: true,
            types,
            min_length: 20,
            comp_level: 1,
            vary: true,
            proxied,
        }
    }

    pub(in crate::server) fn request(fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead {
            method: "GET".into(),
            target: "/".into(),
            version: Version::Http11,
            headers: Default::default(),
        };
        for (n, v) in fields {
            r.headers.push(*n, *v);
        }
        r
    }

    pub(in crate::server) fn page(status: u16, content_type: &str, body: &str) -> ResponseHead {
        let mut h = ResponseHead::new(status);
        h.headers.push("Server", "x");
        h.headers.push("Content-Type", content_type);
        h.headers.push("Content-Length", body.len().to_string());
        h.headers.push("Connection", "keep-alive");
        h.headers.push("ETag", "\"abc\"");
        h.headers.push("Accept-Ranges", "bytes");
        h
    }

    fn gunzip(chunked: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut rest = chunked;
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a chunk size");
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).expect("hex"), 16)
                    .expect("a size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        let mut out = Vec::new();
        GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .expect("gzip");
        out
    }

    #[test]
    fn a_compressed_page_is_chunked_weak_tagged_and_decompresses_to_the_same_bytes() {
        let proxied = GzipProxied::default();
        let s = settings(&[], &proxied);
        let (head, body) = filter(
            &s,
            &request(&[("Accept-Encoding", "gzip, deflate")]),
            page(200, "text/html", PAGE),
            PAGE.as_bytes().to_vec(),
            false,
        );
        assert_eq!(head.headers.get("content-encoding"), Some("gzip"));
        assert_eq!(head.headers.get("content-length"), None);
        assert_eq!(head.headers.get("accept-ranges"), None);
        assert_eq!(head.headers.get("transfer-encoding"), Some("chunked"));
        assert_eq!(head.headers.get("etag"), Some("W/\"abc\""));
        assert_eq!(head.headers.get("vary"), Some("Accept-Encoding"));
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "Server",
                "Content-Type",
                "Transfer-Encoding",
                "Connection",
                "Vary",
                "ETag",
                "Content-Encoding"
            ]
        );
        assert_eq!(gunzip(&body), PAGE.as_bytes());
    }

    fn skipped_by(s: &GzipSettings<'_>, req: &RequestHead, head: &ResponseHead) -> &'static str {
        match decide(s, req, head) {
            Outcome::Skipped { knob, .. } => knob,
            Outcome::Compressed { .. } => "compressed",
        }
    }

    #[test]
    fn each_rule_names_the_directive_that_decided() {
        let proxied = GzipProxied::default();
        let json = ["application/json".to_string()];
        let s = settings(&json, &proxied);
        let gz = request(&[("Accept-Encoding", "gzip")]);
        assert_eq!(
            skipped_by(&s, &gz, &page(200, "text/html", PAGE)),
            "compressed"
        );
        assert_eq!(
            skipped_by(&s, &gz, &page(200, "application/json; charset=utf-8", PAGE)),
            "compressed"
        );
        assert_eq!(
            skipped_by(&s, &gz, &page(200, "text/css", PAGE)),
            "gzip_types"
        );
        assert_eq!(
            skipped_by(&s, &gz, &page(200, "text/html", "short")),
            "gzip_min_length"
        );
        assert_eq!(skipped_by(&s, &gz, &page(304, "text/html", PAGE)), "gzip");
        assert_eq!(skipped_by(&s, &gz, &page(206, "text/html", PAGE)), "gzip");
        assert_eq!(
            skipped_by(&s, &gz, &page(404, "text/html", PAGE)),
            "compressed"
        );
        let mut encoded = page(200, "text/html", PAGE);
        encoded.headers.push("Content-Encoding", "br");
        assert_eq!(skipped_by(&s, &gz, &encoded), "gzip");
        let mut head_req = gz.clone();
        head_req.method = "HEAD".into();
        assert_eq!(
            skipped_by(&s, &head_req, &page(200, "text/html", PAGE)),
            "compressed"
        );
        let mut old = gz.clone();
        old.version = Version::Http10;
        assert_eq!(
            skipped_by(&s, &old, &page(200, "text/html", PAGE)),
            "gzip_http_version"
        );
    }

    #[test]
    fn via_makes_a_request_proxied_and_gzip_proxied_decides_but_proxy_pass_does_not() {
        let off = GzipProxied::default();
        let s = settings(&[], &off);
        let cdn = request(&[("Accept-Encoding", "gzip"), ("Via", "1.1 cdn.example")]);
        assert_eq!(
            skipped_by(&s, &cdn, &page(200, "text/html", PAGE)),
            "gzip_proxied"
        );
        let any = GzipProxied::try_from("any".to_string()).expect("valid");
        assert_eq!(
            skipped_by(&settings(&[], &any), &cdn, &page(200, "text/html", PAGE)),
            "compressed"
        );
        let private = GzipProxied::try_from("no-cache private".to_string()).expect("valid");
        let mut head = page(200, "text/html", PAGE);
        assert_eq!(
            skipped_by(&settings(&[], &private), &cdn, &head),
            "gzip_proxied"
        );
        head.headers.push("Cache-Control", "private, max-age=60");
        assert_eq!(
            skipped_by(&settings(&[], &private), &cdn, &head),
            "compressed"
        );
        // No Via: a response from nginx's own upstream is compressed
        // like any other.
        assert_eq!(
            skipped_by(
                &s,
                &request(&[("Accept-Encoding", "gzip")]),
                &page(200, "text/html", PAGE)
            ),
            "compressed"
        );
    }

    #[test]
    fn gzip_proxied_refuses_unknown_values_and_off_with_others() {
        assert!(GzipProxied::try_from("sometimes".to_string()).is_err());
        assert!(GzipProxied::try_from("off any".to_string()).is_err());
        assert!(GzipProxied::try_from(String::new()).is_err());
        assert_eq!(
            GzipProxied::try_from("expired  no_etag".to_string())
                .expect("valid")
                .to_string(),
            "expired no_etag"
        );
    }

    #[test]
    fn accept_encoding_q_values() {
        assert_eq!(acceptance(None), Acceptance::Absent);
        assert_eq!(
            acceptance(Some("gzip")),
            Acceptance::Accepted { q: "1".into() }
        );
        assert_eq!(
            acceptance(Some("br;q=1, GZIP;q=0.5")),
            Acceptance::Accepted { q: "0.5".into() }
        );
        assert_eq!(
            acceptance(Some("gzip;q=0")),
            Acceptance::Refused { q: "0".into() }
        );
        assert_eq!(
            acceptance(Some("gzip; q=0.000")),
            Acceptance::Refused { q: "0.000".into() }
        );
        assert_eq!(
            acceptance(Some("gzip;q=2")),
            Acceptance::Refused { q: "2".into() }
        );
        assert_eq!(acceptance(Some("*")), Acceptance::NotListed);
        assert_eq!(acceptance(Some("x-gzip, deflate")), Acceptance::NotListed);
        assert_eq!(acceptance(Some("identity")), Acceptance::NotListed);
    }

    #[test]
    fn without_gzip_vary_there_is_no_vary_and_when_off_nothing_changes() {
        let proxied = GzipProxied::default();
        let mut s = settings(&[], &proxied);
        s.vary = false;
        let (head, _) = filter(
            &s,
            &request(&[("Accept-Encoding", "gzip")]),
            page(200, "text/html", PAGE),
            PAGE.as_bytes().to_vec(),
            false,
        );
        assert_eq!(head.headers.get("vary"), None);
        s.on = false;
        let original = page(200, "text/html", PAGE);
        let (head, body) = filter(
            &s,
            &request(&[("Accept-Encoding", "gzip")]),
            original.clone(),
            PAGE.as_bytes().to_vec(),
            false,
        );
        assert_eq!(head, original);
        assert_eq!(body, PAGE.as_bytes());
    }

    #[test]
    fn a_client_that_refuses_gzip_still_gets_vary() {
        // The response could have varied: a cache must know that.
        let proxied = GzipProxied::default();
        let s = settings(&[], &proxied);
        let (head, body) = filter(
            &s,
            &request(&[("Accept-Encoding", "gzip;q=0")]),
            page(200, "text/html", PAGE),
            PAGE.as_bytes().to_vec(),
            false,
        );
        assert_eq!(head.headers.get("vary"), Some("Accept-Encoding"));
        assert_eq!(head.headers.get("content-encoding"), None);
        assert_eq!(body, PAGE.as_bytes());
    }

    proptest! {
        /// Any body gzips and gunzips back to itself, at any level.
        #[test]
        fn compress_round_trips(body in proptest::collection::vec(any::<u8>(), 0..2000), level in 1u32..=9) {
            let mut out = Vec::new();
            GzDecoder::new(&compress(&body, level)[..]).read_to_end(&mut out).expect("gzip");
            prop_assert_eq!(out, body);
        }

        /// Whatever the field says, reading it ends; a `gzip;q=` with a
        /// non-zero q-value of RFC 9110's shape is accepted.
        #[test]
        fn accept_encoding_never_panics_and_honours_q(
            noise in "\\PC{0,40}",
            q in "0\\.[0-9]{0,2}[1-9]|1(\\.0{0,3})?",
        ) {
            let _ = acceptance(Some(&noise));
            let field = format!("gzip;q={q}, {noise}");
            prop_assert_eq!(acceptance(Some(&field)), Acceptance::Accepted { q: q.clone() });
        }
    }
}
