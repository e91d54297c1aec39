//! The Brotli filter (Google's `ngx_brotli` module for nginx): compress a
//! response with `br` on its way to the client.
//!
//! Brotli (RFC 7932) is LZ77 plus Huffman coding like gzip's deflate, with
//! a larger window, context modelling and a built-in dictionary of common
//! words and markup: text comes out a fifth to a quarter smaller than with
//! gzip. Browsers offer it only over HTTPS, as `br` in `Accept-Encoding`
//! (RFC 9110 §12.5.3); the answer carries `Content-Encoding: br`.
//!
//! nginx itself has no Brotli: `ngx_brotli` adds `brotli` (on-the-fly) and
//! `brotli_static` (pre-compressed `.br` files; not built here). Its header filter decides
//! in this order:
//!
//! ```text
//! brotli off                                           ─▶ as is
//! status not 200, 403 or 404                           ─▶ as is
//! already has Content-Encoding                         ─▶ as is
//! Content-Length below brotli_min_length (20)          ─▶ as is
//! media type not in brotli_types (text/html always is) ─▶ as is
//!   ── from here on the response "could vary" (Vary needs gzip_vary on) ──
//! no "br" in Accept-Encoding, or br;q=0                ─▶ as is (gzip may still)
//! otherwise                                            ─▶ br at brotli_comp_level
//! ```
//!
//! **Brotli runs before gzip and wins whenever it may.** The module puts
//! itself just ahead of nginx's gzip filter; once it has set
//! `Content-Encoding: br`, gzip sees an encoded response and leaves it.
//! The client's q-values do not rank the two: `gzip;q=1, br;q=0.1` gets
//! `br`. Only `q=0` refuses (RFC 9110 §12.4.2), and then gzip gets its
//! turn. A client that accepts neither gets the bytes as they are (nginx
//! never answers 406 for this). Unlike gzip there is no
//! `brotli_http_version` and no `brotli_proxied`: an HTTP/1.0 request or
//! one with `Via` gets `br` too.
//!
//! What compression changes is what gzip changes: `Content-Length` and
//! `Accept-Ranges` go, the body is sent chunked, a strong `ETag` becomes
//! weak, and `Vary: Accept-Encoding` is written when `gzip_vary` is on
//! (nginx has one Vary switch for both).
//!
//! The window (`brotli_window 512k`, 2^19 bytes) shrinks to the smallest
//! power of two that holds a body of known length, as the module does:
//! a small page needs no half-megabyte of decoder memory.
//!
//! Book: "The web server" (book/src/web-server.md), "Compression: Brotli".

use crate::http::{RequestHead, ResponseHead};
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// `brotli_window 512k`: 2^19 bytes.
pub const WINDOW_BITS: u32 = 19;
/// Brotli's smallest window, 2^10 bytes (RFC 7932 §9.1).
const MIN_WINDOW_BITS: u32 = 10;

/// The brotli directives, as a lesson's `[stack.web_server]` sets them.
pub struct BrotliSettings<'a> {
    pub on: bool,
    pub types: &'a [String],
    pub min_length: u64,
    pub comp_level: u32,
}

/// What `Accept-Encoding` says about `br`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// No `Accept-Encoding` at all.
    Absent,
    /// The field does not name `br` (`*` does not count).
    NotListed,
    /// `br;q=0` (or `0.0`, `0.00`, `0.000`): not acceptable.
    Refused { q: String },
    /// `br`, with its q-value as written (`1` when none was given).
    Accepted { q: String },
}

/// A q-value that is zero: `0`, `0.`, `0.0`, `0.00`, `0.000`. ngx_brotli
/// refuses only these; any other value (even one RFC 9110 §12.4.2 would
/// not allow, like `2`) counts as acceptance.
fn is_zero(q: &str) -> bool {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    int == "0" && frac.len() <= 3 && frac.bytes().all(|b| b == b'0')
}

/// Read `Accept-Encoding` for `br`: a list of `coding [;q=value]`,
/// codings compared case-insensitively (RFC 9110 §12.5.3).
pub fn acceptance(value: Option<&str>) -> Acceptance {
    let Some(value) = value else {
        return Acceptance::Absent;
    };
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim_matches(' ');
        if !coding.eq_ignore_ascii_case("br") {
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
        return if is_zero(&q) {
            Acceptance::Refused { q }
        } else {
            Acceptance::Accepted { q }
        };
    }
    Acceptance::NotListed
}

/// Why a response was or was not compressed with `br`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Compressed, with the q-value the client gave `br`.
    Compressed { q: String },
    /// Not compressed: the directive that decided, its value, why, and
    /// whether the response still "could vary".
    Skipped {
        knob: &'static str,
        value: String,
        why: String,
        varies: bool,
    },
}

impl Outcome {
    /// Whether a cache must key this response on `Accept-Encoding`.
    pub fn varies(&self) -> bool {
        match self {
            Outcome::Compressed { .. } => true,
            Outcome::Skipped { varies, .. } => *varies,
        }
    }
}

fn types_knob(types: &[String]) -> String {
    let mut all = vec!["text/html".to_string()];
    all.extend(types.iter().filter(|t| *t != "text/html").cloned());
    all.join(" ")
}

/// Decide, in ngx_brotli's order (see the module docs).
pub fn decide(s: &BrotliSettings<'_>, request: &RequestHead, head: &ResponseHead) -> Outcome {
    let skip = |knob: &'static str, value: String, why: String, varies: bool| Outcome::Skipped {
        knob,
        value,
        why,
        varies,
    };
    if !matches!(head.status, 200 | 403 | 404) {
        let why = format!(
            "the filter compresses only 200, 403 and 404, not {}",
            head.status
        );
        return skip("brotli", "on".into(), why, false);
    }
    if let Some(ce) = head.headers.get("content-encoding") {
        let why = format!("the response already has Content-Encoding: {ce}");
        return skip("brotli", "on".into(), why, false);
    }
    if let Some(len) = declared_length(head)
        && len < s.min_length
    {
        let why = format!("{len} bytes is shorter than brotli_min_length: too small to gain");
        return skip("brotli_min_length", s.min_length.to_string(), why, false);
    }
    let media = super::gzip::media_type(head);
    let typed = media == "text/html"
        || s.types
            .iter()
            .any(|t| t == "*" || t.eq_ignore_ascii_case(&media));
    if !typed {
        let why = format!("{media} is not in brotli_types");
        return skip("brotli_types", types_knob(s.types), why, false);
    }
    match acceptance(request.headers.get("accept-encoding")) {
        Acceptance::Absent => {
            let why = "the request has no Accept-Encoding";
            skip("brotli", "on".into(), why.into(), true)
        }
        Acceptance::NotListed => {
            let why = "Accept-Encoding does not name br (* does not count); gzip may still";
            skip("brotli", "on".into(), why.into(), true)
        }
        Acceptance::Refused { q } => {
            let why =
                format!("Accept-Encoding says br;q={q}: q=0 means not acceptable; gzip may still");
            skip("brotli", "on".into(), why, true)
        }
        Acceptance::Accepted { q } => Outcome::Compressed { q },
    }
}

fn declared_length(head: &ResponseHead) -> Option<u64> {
    head.headers
        .get("content-length")
        .and_then(|l| l.trim().parse::<u64>().ok())
}

/// The window for a body of `declared` bytes (when the head said): the
/// smallest power of two, from 2^10 up to 2^19, that holds it.
pub fn window_bits(declared: Option<u64>) -> u32 {
    match declared {
        Some(len) if len > 0 => {
            let mut bits = MIN_WINDOW_BITS;
            while bits < WINDOW_BITS && len > (1u64 << bits) {
                bits += 1;
            }
            bits
        }
        _ => WINDOW_BITS,
    }
}

/// Brotli-compress `body` at quality `level` (0 fastest … 11 smallest)
/// with a window of 2^`window_bits` bytes.
pub fn compress(body: &[u8], level: u32, window_bits: u32) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: level.min(11) as i32,
        lgwin: window_bits.clamp(MIN_WINDOW_BITS, 24) as i32,
        size_hint: body.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(body.len() / 3 + 16);
    let mut input = body;
    // Reading a slice and writing a Vec cannot fail.
    match brotli::BrotliCompress(&mut input, &mut out, &params) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}

/// Run the filter on a response whose body is not yet chunk-encoded.
/// Returns whether the response could vary (nginx's `r->gzip_vary`), for
/// the gzip filter after it, which writes `Vary`. Records
/// `web_server.brotli` when brotli is on.
pub fn filter(
    s: &BrotliSettings<'_>,
    request: &RequestHead,
    mut head: ResponseHead,
    mut body: Vec<u8>,
) -> (ResponseHead, Vec<u8>, bool) {
    if !s.on {
        return (head, body, false);
    }
    let outcome = decide(s, request, &head);
    let before = body.len();
    let mut bits = WINDOW_BITS;
    let head_only = request.method == "HEAD";
    if let Outcome::Compressed { .. } = outcome {
        bits = window_bits(declared_length(&head));
        // HEAD: decided like its GET (ngx_brotli's `header_only` test
        // comes before nginx's last header filter marks a HEAD), no body.
        if !head_only {
            body = compress(&body, s.comp_level, bits);
        }
        super::gzip::mark_encoded(&mut head, "br", head_only);
    }
    emit(s, request, &head, &outcome, before, body.len(), bits);
    let varies = outcome.varies();
    (head, body, varies)
}

/// The `web_server.brotli` step.
fn emit(
    s: &BrotliSettings<'_>,
    request: &RequestHead,
    head: &ResponseHead,
    outcome: &Outcome,
    before: usize,
    after: usize,
    bits: u32,
) {
    let accept = request.headers.get("accept-encoding").unwrap_or("(none)");
    let (summary, decision, knob, value) = match outcome {
        Outcome::Compressed { q } => {
            let percent = (after * 100).checked_div(before).unwrap_or(0);
            let summary = if request.method == "HEAD" {
                "br decides a HEAD as its GET: Content-Encoding: br, no Content-Length, no body"
                    .to_string()
            } else {
                format!(
                    "br, level {}: {before} bytes become {after} ({percent}%); Content-Encoding: br, sent chunked",
                    s.comp_level
                )
            };
            (
                summary,
                Decision::new(Verdict::Rewrite)
                    .rule("the client accepts br and the response qualifies: ngx_brotli compresses it before gzip can")
                    .input("accept_encoding", accept)
                    .input("q", q)
                    .input("coding", "br")
                    .input("bytes_before", before)
                    .input("bytes_after", after)
                    .input("window_bits", bits)
                    .knob("brotli_comp_level", s.comp_level),
                "brotli",
                "on".to_string(),
            )
        }
        Outcome::Skipped {
            knob, value, why, ..
        } => (
            format!("not compressed with br: {why}"),
            Decision::new(Verdict::Pass)
                .rule(why.clone())
                .input("accept_encoding", accept)
                .input("coding", "identity")
                .input("bytes", before),
            *knob,
            value.clone(),
        ),
    };
    Step::new(StepId::WebServerBrotli, Direction::Up, Kind::Decision)
        .summary(summary)
        .knob(knob, value)
        .decision(decision.input("content_type", super::gzip::media_type(head)))
        .emit();
}

#[cfg(test)]
mod tests {
    // The same request and response fixtures as the gzip filter's tests.
    use super::super::gzip::tests::{page, request};
    use super::*;
    use crate::http::Version;
    use proptest::prelude::*;

    const PAGE: &str =
        "<!doctype html><title>notes</title><p>hello hello hello hello hello hello hello</p>";

    fn settings(types: &[String]) -> BrotliSettings<'_> {
        BrotliSettings {
            on: true,
            types,
            min_length: 20,
            comp_level: 6,
        }
    }

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &bytes[..], &mut out).expect("a brotli stream");
        out
    }

    fn outcome(s: &BrotliSettings<'_>, req: &RequestHead, head: &ResponseHead) -> &'static str {
        match decide(s, req, head) {
            Outcome::Skipped { knob, .. } => knob,
            Outcome::Compressed { .. } => "compressed",
        }
    }

    #[test]
    fn a_br_page_loses_its_length_and_ranges_gets_a_weak_tag_and_decodes_to_the_same_bytes() {
        let s = settings(&[]);
        let (head, body, varies) = filter(
            &s,
            &request(&[("Accept-Encoding", "gzip, deflate, br")]),
            page(200, "text/html", PAGE),
            PAGE.as_bytes().to_vec(),
        );
        assert!(varies);
        assert_eq!(head.headers.get("content-encoding"), Some("br"));
        assert_eq!(head.headers.get("content-length"), None);
        assert_eq!(head.headers.get("accept-ranges"), None);
        assert_eq!(head.headers.get("transfer-encoding"), Some("chunked"));
        assert_eq!(head.headers.get("etag"), Some("W/\"abc\""));
        assert!(body.len() < PAGE.len());
        assert_eq!(unbrotli(&body), PAGE.as_bytes());
    }

    #[test]
    fn q_values_do_not_rank_br_below_gzip_only_zero_refuses() {
        let s = settings(&[]);
        let head = page(200, "text/html", PAGE);
        for field in [
            "gzip;q=1, br;q=0.1",
            "BR",
            "br;q=0.001",
            "deflate , br ;q=1",
        ] {
            assert_eq!(
                outcome(&s, &request(&[("Accept-Encoding", field)]), &head),
                "compressed",
                "{field}"
            );
        }
        for field in ["br;q=0", "gzip, br; q=0.000", "gzip", "*", "brotli", "x-br"] {
            assert_eq!(
                outcome(&s, &request(&[("Accept-Encoding", field)]), &head),
                "brotli",
                "{field}"
            );
        }
        assert_eq!(
            acceptance(Some("gzip, br;q=0.5")),
            Acceptance::Accepted { q: "0.5".into() }
        );
        assert_eq!(
            acceptance(Some("br;q=0.0")),
            Acceptance::Refused { q: "0.0".into() }
        );
        assert_eq!(acceptance(None), Acceptance::Absent);
    }

    #[test]
    fn each_rule_names_the_directive_and_only_the_negotiation_makes_it_vary() {
        let css = ["text/css".to_string()];
        let s = settings(&css);
        let br = request(&[("Accept-Encoding", "br")]);
        let not = |h: &ResponseHead, r: &RequestHead| decide(&s, r, h);
        assert_eq!(outcome(&s, &br, &page(200, "text/css", PAGE)), "compressed");
        assert_eq!(
            outcome(&s, &br, &page(404, "text/html", PAGE)),
            "compressed"
        );
        for status in [204, 206, 304, 500] {
            let o = not(&page(status, "text/html", PAGE), &br);
            assert!(
                matches!(
                    o,
                    Outcome::Skipped {
                        knob: "brotli",
                        varies: false,
                        ..
                    }
                ),
                "{status}"
            );
        }
        assert_eq!(
            outcome(&s, &br, &page(200, "application/json", PAGE)),
            "brotli_types"
        );
        assert_eq!(
            outcome(&s, &br, &page(200, "text/html", "tiny")),
            "brotli_min_length"
        );
        let mut gz = page(200, "text/html", PAGE);
        gz.headers.push("Content-Encoding", "gzip");
        assert!(!not(&gz, &br).varies());
        let mut head_req = br.clone();
        head_req.method = "HEAD".into();
        assert_eq!(
            outcome(&s, &head_req, &page(200, "text/html", PAGE)),
            "compressed"
        );
        // No gzip_http_version or gzip_proxied for br.
        let mut old = request(&[("Accept-Encoding", "br"), ("Via", "1.1 cdn")]);
        old.version = Version::Http10;
        assert_eq!(
            outcome(&s, &old, &page(200, "text/html", PAGE)),
            "compressed"
        );
        assert!(not(&page(200, "text/html", PAGE), &request(&[])).varies());
    }

    #[test]
    fn off_leaves_the_response_alone() {
        let mut s = settings(&[]);
        s.on = false;
        let original = page(200, "text/html", PAGE);
        let (head, body, varies) = filter(
            &s,
            &request(&[("Accept-Encoding", "br")]),
            original.clone(),
            PAGE.as_bytes().to_vec(),
        );
        assert_eq!(head, original);
        assert_eq!(body, PAGE.as_bytes());
        assert!(!varies);
    }

    #[test]
    fn the_window_shrinks_to_the_body_as_ngx_brotli_tunes_it() {
        assert_eq!(window_bits(None), 19);
        assert_eq!(window_bits(Some(0)), 19);
        assert_eq!(window_bits(Some(100)), 10);
        assert_eq!(window_bits(Some(1024)), 10);
        assert_eq!(window_bits(Some(1025)), 11);
        assert_eq!(window_bits(Some(10_000_000)), 19);
    }

    proptest! {
        /// Any body compresses and decompresses back to itself, at any
        /// level and window.
        #[test]
        fn compress_round_trips(
            body in proptest::collection::vec(any::<u8>(), 0..3000),
            level in 0u32..=11,
            bits in 10u32..=19,
        ) {
            prop_assert_eq!(unbrotli(&compress(&body, level, bits)), body);
        }

        /// Reading any field ends; `br` with a non-zero q-value is taken.
        #[test]
        fn accept_encoding_never_panics_and_takes_nonzero_q(
            noise in "\\PC{0,40}",
            q in "0\\.[0-9]{0,2}[1-9]|1(\\.0{0,3})?",
        ) {
            let _ = acceptance(Some(&noise));
            let field = format!("br;q={q}, {noise}");
            prop_assert_eq!(acceptance(Some(&field)), Acceptance::Accepted { q: q.clone() });
        }
    }
}
