//! Conditional GET: an `ETag` for dynamic responses, and a 304 when the
//! client's copy is still current.
//!
//! A static file has validators for free (its mtime and size; see the
//! web server). A dynamic response has none unless the app makes one.
//! Django's `ConditionalGetMiddleware` makes it from the content: the
//! `ETag` is the MD5 of the body, quoted (RFC 9110 §8.8.3: an entity tag
//! is an opaque quoted string; this one is *strong*, since the same bytes
//! give the same hash).
//!
//! ```text
//! handler ─▶ 200, body ─▶ ETag: "md5(body)" ─┬─ If-None-Match matches ─▶ 304, no body
//!                                           └─ otherwise              ─▶ 200, body
//! ```
//!
//! The comparison is the *weak* one, as RFC 9110 §13.1.2 requires for
//! `If-None-Match`: `W/"x"` matches `"x"`. The field is a list, and `*`
//! matches any current representation.
//!
//! **The 304 saves bytes, not work.** The handler has already run and the
//! SQL has already been sent when the hash is computed: the body exists,
//! it is just not sent. Saving the work too takes a validator computed
//! *before* the query (Django's `@condition(etag_func=…)`, a version
//! column), which this app does not have.
//!
//! The 304 keeps the fields RFC 9110 §15.4.5 lists (`Cache-Control`,
//! `Content-Location`, `Date`, `ETag`, `Expires`, `Vary`) and
//! `Last-Modified` and `Set-Cookie`, as Django's does, and drops the rest:
//! no `Content-Type`, no `Content-Length`, no body.
//!
//! Like Django, only `GET` gets an ETag (a `HEAD` body is empty here, so it
//! would hash to nothing), only a 200, and never a `no-store` response
//! (nobody keeps it, so nobody will revalidate it).
//!
//! What we leave out: `If-Match`, `If-Modified-Since` and
//! `If-Unmodified-Since` for dynamic resources (Django handles them; this
//! app sends no `Last-Modified`).
//!
//! Book: "The framework" (book/src/framework.md), "Caching: Cache-Control
//! and ETag".

use md5::{Digest, Md5};

use super::{Middleware, Next};
use crate::framework::{Outcome, Request, Response};
use crate::gateway::BoxFuture;
use crate::http::text::decimal;
use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Kind, StepId, Verdict};

/// The fields a 304 keeps (RFC 9110 §15.4.5, and Django's `_not_modified`).
pub const KEPT_ON_304: [&str; 8] = [
    "Cache-Control",
    "Content-Location",
    "Date",
    "ETag",
    "Expires",
    "Last-Modified",
    "Vary",
    "Set-Cookie",
];

/// One member of an `If-None-Match` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag<'a> {
    /// `*`.
    Any,
    /// An entity tag; `opaque` is what is between the quotes.
    Entity { weak: bool, opaque: &'a str },
}

/// Parse `If-None-Match` (RFC 9110 §13.1.2: `"*" / #entity-tag`). A
/// member that is not an entity tag is skipped, so a bad one never
/// matches. Commas inside the quotes belong to the tag (`etagc` allows
/// them), so the list is not simply split on commas.
pub fn parse_list(value: &str) -> Vec<Tag<'_>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return tags;
        }
        if let Some(after) = rest.strip_prefix('*') {
            tags.push(Tag::Any);
            rest = after;
            continue;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(q) => (true, q),
            None => (false, rest),
        };
        let parsed = quoted.strip_prefix('"').and_then(|inner| {
            inner
                .find('"')
                .map(|end| (&inner[..end], &inner[end + 1..]))
        });
        match parsed {
            Some((opaque, after)) => {
                tags.push(Tag::Entity { weak, opaque });
                rest = after;
            }
            // Not a tag: skip to the next comma.
            None => match rest.find(',') {
                Some(i) => rest = &rest[i + 1..],
                None => return tags,
            },
        }
    }
}

/// The opaque part of an entity tag (`"x"` or `W/"x"`), if it is one.
fn opaque(etag: &str) -> Option<&str> {
    match parse_list(etag).first() {
        Some(Tag::Entity { opaque, .. }) => Some(opaque),
        _ => None,
    }
}

/// Does `If-None-Match: value` match `etag`? Weak comparison (RFC 9110
/// §8.8.3.2): the opaque parts are equal, whatever the `W/`.
pub fn none_match_matches(value: &str, etag: &str) -> bool {
    let Some(ours) = opaque(etag) else {
        return false;
    };
    parse_list(value).iter().any(|t| match t {
        Tag::Any => true,
        Tag::Entity { opaque, .. } => *opaque == ours,
    })
}

/// `"<md5 hex of body>"`, Django's `set_response_etag`.
pub fn etag_of(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(body);
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s.push('"');
    s
}

/// Why no ETag was made, or `None` when one should be.
fn skip_reason(method: &str, res: &Response) -> Option<&'static str> {
    if method != "GET" {
        return Some("only a GET gets an ETag");
    }
    if res.status != 200 {
        return Some("only a 200 gets an ETag");
    }
    let no_store = res.header("Cache-Control").is_some_and(|cc| {
        cc.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
    });
    if no_store {
        return Some("a no-store response is never revalidated");
    }
    None
}

/// The 304 for `res`: its status, the kept fields, no body.
fn not_modified(res: &Response) -> Response {
    let headers = res
        .headers
        .iter()
        .filter(|(n, _)| KEPT_ON_304.iter().any(|k| k.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    Response {
        status: 304,
        headers,
        body: Vec::new(),
        note: None,
    }
}

/// Adds `ETag` to 200 GETs and answers 304 when `If-None-Match` matches.
#[derive(Debug, Default)]
pub struct ConditionalGet;

impl ConditionalGet {
    pub fn new() -> ConditionalGet {
        ConditionalGet
    }
}

impl Middleware for ConditionalGet {
    fn name(&self) -> &'static str {
        "conditional_get"
    }

    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let method = req.method.clone();
            let if_none_match = req.header("if-none-match").map(str::to_string);
            let mut res = next.run(req).await?;
            if let Some(reason) = skip_reason(&method, &res) {
                if Step::enabled() {
                    Step::new(
                        StepId::FrameworkConditionalGet,
                        Direction::Up,
                        Kind::Decision,
                    )
                    .summary(format!("no ETag for {method} {}: {reason}", res.status))
                    .decision(
                        Decision::new(Verdict::Pass)
                            .rule(reason)
                            .input("method", &method)
                            .input("status", res.status),
                    )
                    .emit();
                }
                return Ok(res);
            }
            let etag = match res.header("ETag") {
                Some(etag) => etag.to_string(),
                None => {
                    let etag = etag_of(&res.body);
                    res.set_header("ETag", etag.clone());
                    etag
                }
            };
            let matched = if_none_match
                .as_deref()
                .is_some_and(|v| none_match_matches(v, &etag));
            if Step::enabled() {
                emit(&etag, res.body.len(), if_none_match.as_deref(), matched);
            }
            Ok(if matched { not_modified(&res) } else { res })
        })
    }
}

/// The `framework.conditional_get` step for a response that has an ETag.
fn emit(etag: &str, bytes: usize, if_none_match: Option<&str>, matched: bool) {
    let size = decimal(bytes as u64);
    let summary = match (if_none_match, matched) {
        (None, _) => format!("ETag {etag} (MD5 of the {size}-byte body); no If-None-Match: 200"),
        (Some(inm), true) => format!(
            "ETag {etag} matches If-None-Match: {inm}: answers 304 Not Modified, \
             the {size}-byte body is not sent (the handler and its SQL already ran)"
        ),
        (Some(inm), false) => format!(
            "ETag {etag} (MD5 of the {size}-byte body) does not match If-None-Match: {inm}: 200 with the body"
        ),
    };
    let verdict = if matched {
        Verdict::Refuse { status: 304 }
    } else {
        Verdict::Pass
    };
    let mut decision = Decision::new(verdict)
        .rule("RFC 9110 §13.1.2: If-None-Match is compared weakly; a match answers 304")
        .input("etag", etag)
        .input("etag_from", ["md5 of ", &size, " body bytes"].concat());
    if let Some(inm) = if_none_match {
        decision = decision
            .input("if_none_match", inm)
            .input("matched", if matched { "yes" } else { "no" });
    }
    let mut step = Step::new(
        StepId::FrameworkConditionalGet,
        Direction::Up,
        Kind::Decision,
    )
    .summary(summary)
    .decision(decision);
    if matched {
        step = step.answer(304);
    }
    step.emit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::middleware::Pipeline;
    use proptest::prelude::*;

    const BODY: &str = r#"[{"id":1}]"#;

    async fn get(headers: &[(&str, &str)]) -> Response {
        let p = Pipeline::new().with(ConditionalGet::new());
        let endpoint = |_req: Request| async {
            Response::json(200, &serde_json::json!([{"id": 1}]))
                .with_header("Cache-Control", "private, no-cache")
        };
        let mut req = Request::new("GET", "/notes");
        for (n, v) in headers {
            req = req.with_header(n, v);
        }
        p.respond(req, &endpoint).await
    }

    #[test]
    fn the_etag_is_the_quoted_md5_of_the_body() {
        // md5("") is the well-known d41d8cd9…; Django quotes the hex digest.
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_200_get_gets_an_etag_and_keeps_its_body() {
        let res = get(&[]).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("ETag"), Some(etag_of(BODY.as_bytes()).as_str()));
        assert_eq!(res.body_text(), BODY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_matching_if_none_match_is_304_with_validators_and_no_body() {
        let etag = etag_of(BODY.as_bytes());
        let res = get(&[("If-None-Match", &etag)]).await;
        assert_eq!(res.status, 304);
        assert!(res.body.is_empty());
        assert_eq!(res.header("ETag"), Some(etag.as_str()));
        assert_eq!(res.header("Cache-Control"), Some("private, no-cache"));
        assert_eq!(res.header("Content-Type"), None);
        assert_eq!(res.header("Content-Length"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn weak_tags_lists_and_star_match_a_strong_etag() {
        let etag = etag_of(BODY.as_bytes());
        let weak = format!("W/{etag}");
        let list = format!("\"old\", {weak}");
        for inm in [weak.as_str(), list.as_str(), "*"] {
            assert_eq!(get(&[("If-None-Match", inm)]).await.status, 304, "{inm}");
        }
        for inm in ["\"old\"", "W/\"old\", \"other\"", "garbage", ""] {
            assert_eq!(get(&[("If-None-Match", inm)]).await.status, 200, "{inm}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn post_errors_and_no_store_get_no_etag() {
        let p = Pipeline::new().with(ConditionalGet::new());
        let created = |_req: Request| async { Response::text(201, "made") };
        let res = p
            .respond(
                Request::new("POST", "/notes").with_header("If-None-Match", "*"),
                &created,
            )
            .await;
        assert_eq!((res.status, res.header("ETag")), (201, None));
        let missing = |_req: Request| async { Response::text(404, "no") };
        let res = p.respond(Request::new("GET", "/notes/9"), &missing).await;
        assert_eq!((res.status, res.header("ETag")), (404, None));
        let private = |_req: Request| async {
            Response::text(200, "secret").with_header("Cache-Control", "no-store")
        };
        let res = p
            .respond(
                Request::new("GET", "/x").with_header("If-None-Match", "*"),
                &private,
            )
            .await;
        assert_eq!((res.status, res.header("ETag")), (200, None));
    }

    #[tokio::test(start_paused = true)]
    async fn the_trace_has_the_etag_the_field_and_the_verdict() {
        let (_guard, recording) = crate::framework::testing::record();
        let etag = etag_of(BODY.as_bytes());
        get(&[("If-None-Match", &etag)]).await;
        let events = recording.take();
        let step = events
            .iter()
            .find(|e| e.step == StepId::FrameworkConditionalGet)
            .expect("a conditional_get step");
        assert_eq!(step.answer, Some(304));
        let d = step.decision.as_ref().expect("a decision");
        assert_eq!(d.verdict, Verdict::Refuse { status: 304 });
        assert!(d.inputs.contains(&("etag".to_string(), etag.clone())));
        assert!(
            d.inputs
                .contains(&("matched".to_string(), "yes".to_string()))
        );
    }

    #[test]
    fn commas_inside_quotes_belong_to_the_tag() {
        assert_eq!(
            parse_list(r#""a,b", W/"c""#),
            [
                Tag::Entity {
                    weak: false,
                    opaque: "a,b"
                },
                Tag::Entity {
                    weak: true,
                    opaque: "c"
                }
            ]
        );
        assert_eq!(
            parse_list("nope, \"ok\""),
            [Tag::Entity {
                weak: false,
                opaque: "ok"
            }]
        );
    }

    proptest! {
        /// Any list of well-formed tags, written with any spacing, parses
        /// back to the same tags, in order.
        #[test]
        fn a_written_list_parses_back(
            tags in proptest::collection::vec((any::<bool>(), "[!#-~]{0,12}"), 0..6),
            sep in "[ \t]{0,2},[ \t]{0,2}",
        ) {
            let written: Vec<String> = tags
                .iter()
                .map(|(weak, o)| format!("{}\"{o}\"", if *weak { "W/" } else { "" }))
                .collect();
            let value = written.join(&sep);
            let parsed = parse_list(&value);
            let expected: Vec<Tag> = tags
                .iter()
                .map(|(weak, o)| Tag::Entity { weak: *weak, opaque: o.as_str() })
                .collect();
            prop_assert_eq!(parsed, expected);
        }

        /// Whatever arrives, parsing ends, and a tag matches itself weakly
        /// whatever else the list holds.
        #[test]
        fn any_input_parses_and_our_tag_is_found_in_it(noise in "\\PC{0,40}") {
            let _ = parse_list(&noise);
            let etag = etag_of(noise.as_bytes());
            let value = format!("{noise}, W/{etag}");
            // The noise may leave a quote open that swallows our tag; a
            // comma-free noise never does.
            if !noise.contains('"') {
                prop_assert!(none_match_matches(&value, &etag));
            }
        }
    }
}
