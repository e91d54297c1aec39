//! What handles a request: the chosen location's directives, run.
//!
//! ```text
//! normalized $uri ─▶ choose a location ─┬─ proxy_pass ─▶ the app server
//!        ▲                              ├─ return     ─▶ a status (444: close, nothing sent)
//!        │                              └─ root/alias ─▶ try_files, index, the file
//!        └──── internal redirect (an index file, try_files' last URI) ◀┘
//! ```
//!
//! An internal redirect starts the choice again with a new URI, inside
//! the web server; the client never sees it. nginx allows 10 per request
//! and answers 500 after that ("rewrite or internal redirection cycle").
//!
//! Book: "The web server" (book/src/web-server.md).

use super::WebServer;
use super::access_phase;
use super::conditional::{self, Precondition};
use super::error_page::{self, Page};
use super::files::Stat;
use super::limit_conn::ConnHold;
use super::location::{self, FileMapping, Handler, Location};
use super::preaccess::{Preaccess, preaccess};
use super::range::{self, RangeAsk};
use super::static_files::{self, Expires, FileFacts};
use crate::http::{RequestHead, ResponseHead};
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Kind, StepId, Verdict};

/// Internal redirects allowed for one request (`NGX_HTTP_MAX_URI_CHANGES`).
pub const MAX_INTERNAL_REDIRECTS: usize = 10;

/// Where the request goes.
pub(super) enum Routed {
    /// To the app server, with this request target.
    Proxy { target: String },
    /// The web server answers itself.
    Respond { head: ResponseHead, body: Vec<u8> },
    /// `return 444`: close the connection, send nothing.
    Close,
}

/// Facts about the connection: the client the limits count by, and what
/// a redirect's `Location` is built from.
pub(super) struct Origin<'a> {
    /// The client's address (`$binary_remote_addr`).
    pub client: std::net::IpAddr,
    /// `$host`: the Host field without its port.
    pub host: &'a str,
    /// The port the client connected to (left out of URLs when 80).
    pub port: u16,
    pub keep_alive: bool,
    /// `$scheme`: `https` on a TLS connection.
    pub scheme: &'a str,
    /// `$request_uri`: the target as the client sent it.
    pub request_uri: &'a str,
}

/// Run the locations for this request. `uri` is the normalized path.
/// The preaccess phase (the rate limits) runs once, after the first
/// location is chosen; `holds` keeps the request counted by `limit_conn`
/// until the caller drops it with the finished request.
pub(super) async fn route(
    server: &WebServer,
    locations: &[Location],
    request: &RequestHead,
    mut uri: String,
    origin: &Origin<'_>,
    holds: &mut Vec<ConnHold>,
) -> Routed {
    let mut redirected = false;
    for _ in 0..=MAX_INTERNAL_REDIRECTS {
        let choice = location::choose(locations, &uri);
        let mut step = Step::new(StepId::WebServerLocation, Direction::Within, Kind::Decision)
            .decision(choice.decision(locations, &uri));
        let Some(winner) = choice.winner else {
            step.summary(format!("no location matches {uri}: answers 404"))
                .answer(404)
                .emit();
            return page(server, Page::Status(404), origin);
        };
        let loc = &locations[winner];
        step = step.knob("location", &loc.pattern).summary(format!(
            "location {} handles {uri} ({}): {}",
            loc.pattern,
            choice.reason,
            loc.describe()
        ));
        // Validation refuses a location without a handler before a lesson
        // runs; `serve`'s defaults have one. Answer 500 rather than panic.
        let handler = match loc.handler() {
            Ok(h) => h,
            Err(e) => {
                step.summary(format!("{e}: answers 500")).answer(500).emit();
                return page(server, Page::Status(500), origin);
            }
        };
        step.emit();
        // nginx's rewrite phase first: `return` answers before any limit
        // or access rule is looked at.
        if let Handler::Return { status, url, text } = handler {
            let url = url.map(|u| expand(&u, &uri, origin));
            return returned(server, status, url, text, &uri, origin);
        }
        if !redirected {
            match preaccess(&server.config, &server.limits, origin.client).await {
                Preaccess::Go(h) => *holds = h,
                Preaccess::Refuse(status) => return page(server, Page::Status(status), origin),
            }
        }
        // nginx's access phase: after the preaccess phase (the limits),
        // before the content handler (files or proxy_pass).
        if let Some(status) = access_phase::check(server, request, loc, origin.client) {
            return page(server, Page::Status(status), origin);
        }
        match handler {
            Handler::Return {
                status, url, text, ..
            } => return returned(server, status, url, text, &uri, origin),
            Handler::Proxy { uri: replace } => {
                let query = request.query();
                let target = match replace {
                    Some(u) => {
                        let rest = uri.strip_prefix(loc.pattern.text.as_str()).unwrap_or(&uri);
                        with_query(format!("{u}{rest}"), query)
                    }
                    None if redirected => with_query(uri, query),
                    // proxy_pass without a URI passes the target as the
                    // client sent it (nginx proxy docs).
                    None => request.target.clone(),
                };
                return Routed::Proxy { target };
            }
            Handler::Files(mapping) => match files(server, request, loc, &mapping, &uri, origin) {
                FilesOutcome::Done(r) => return r,
                FilesOutcome::Redirect(next) => {
                    Step::new(
                            StepId::WebServerInternalRedirect,
                            Direction::Within,
                            Kind::Decision,
                        )
                        .summary(format!(
                            "internal redirect from {uri} to {next}: chooses a location again"
                        ))
                        .decision(
                            Decision::new(Verdict::Rewrite)
                                .rule("an internal redirect starts location matching again with the new URI")
                                .input("from", &uri)
                                .input("to", &next),
                        )
                        .emit();
                    uri = next;
                    redirected = true;
                }
            },
        }
    }
    Step::new(
        StepId::WebServerInternalRedirect,
        Direction::Within,
        Kind::Error,
    )
    .summary(format!(
        "more than {MAX_INTERNAL_REDIRECTS} internal redirects: \
             rewrite or internal redirection cycle, answers 500"
    ))
    .decision(
        Decision::new(Verdict::Refuse { status: 500 })
            .rule("nginx allows 10 internal redirects per request")
            .input("uri", &uri),
    )
    .answer(500)
    .emit();
    page(server, Page::Status(500), origin)
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// One of nginx's own pages, keeping the connection if allowed.
fn page(server: &WebServer, page: Page, origin: &Origin<'_>) -> Routed {
    let (head, body) = error_page::page(
        page,
        server.config.server_tokens,
        &server.clock.http_date(),
        origin.keep_alive,
    );
    Routed::Respond { head, body }
}

/// The absolute URL nginx writes in a redirect (`absolute_redirect on`,
/// `port_in_redirect on`, `server_name_in_redirect off`: the Host's name).
fn absolute(path: &str, origin: &Origin<'_>) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    let scheme = origin.scheme;
    match (scheme, origin.port) {
        ("http", 80) | ("https", 443) => format!("{scheme}://{}{path}", origin.host),
        (_, port) => format!("{scheme}://{}:{port}{path}", origin.host),
    }
}

/// nginx's variables in a `return` URL: `$scheme`, `$host`,
/// `$request_uri` and `$uri` (ngx_http_core_module's embedded variables).
fn expand(url: &str, uri: &str, origin: &Origin<'_>) -> String {
    // Longest names first: `$request_uri` before `$uri`.
    url.replace("$request_uri", origin.request_uri)
        .replace("$scheme", origin.scheme)
        .replace("$host", origin.host)
        .replace("$uri", uri)
}

/// A redirect page: nginx's page of the status, with `Location`.
fn redirect(server: &WebServer, status: u16, url: &str, origin: &Origin<'_>) -> Routed {
    let (mut head, body) = error_page::page(
        Page::Status(status),
        server.config.server_tokens,
        &server.clock.http_date(),
        origin.keep_alive,
    );
    // nginx writes Location before Connection (measured, nginx 1.22).
    head.headers
        .insert_before("Connection", "Location", absolute(url, origin));
    Routed::Respond { head, body }
}

/// `return CODE [TEXT]`, `return CODE URL`.
fn returned(
    server: &WebServer,
    status: u16,
    url: Option<String>,
    text: Option<String>,
    uri: &str,
    origin: &Origin<'_>,
) -> Routed {
    let decision = Decision::new(match status {
        444 => Verdict::Drop { status: 444 },
        s if s < 400 && url.is_none() => Verdict::Answer { status: s },
        s => Verdict::Refuse { status: s },
    })
    .rule("the location says `return`")
    .knob("return", status);
    match (status, url) {
        (444, _) => {
            Step::new(StepId::WebServerReturn, Direction::Within, Kind::Decision)
                .summary("return 444: closes the connection without sending a response")
                .decision(decision)
                .answer(444)
                .emit();
            Routed::Close
        }
        (status, Some(url)) => {
            Step::new(StepId::WebServerReturn, Direction::Within, Kind::Decision)
                .summary(format!("return {status}: redirects to {url}"))
                .decision(decision.input("location", &url))
                .answer(status)
                .emit();
            redirect(server, status, &url, origin)
        }
        // ngx_http_script_return_code: a text, or a code below 400, goes
        // out through ngx_http_send_response as the body (empty without
        // a text); only an error code without text gets nginx's page.
        (status, None) if text.is_some() || status < 400 => {
            let body = text.unwrap_or_default();
            Step::new(StepId::WebServerReturn, Direction::Within, Kind::Decision)
                .summary(if body.is_empty() {
                    format!("return {status}: answers {status} with an empty body")
                } else {
                    format!(
                        "return {status}: answers {status} with the location's text as its body"
                    )
                })
                .decision(decision)
                .answer(status)
                .emit();
            text_response(server, status, body.into_bytes(), uri, origin)
        }
        (status, None) => {
            Step::new(StepId::WebServerReturn, Direction::Within, Kind::Decision)
                .summary(format!("return {status}: answers with its page"))
                .decision(decision)
                .answer(status)
                .emit();
            page(server, Page::Status(status), origin)
        }
    }
}

/// `return CODE TEXT`'s response (ngx_http_send_response): the type by
/// the URI's extension or `default_type` (ngx_http_set_content_type), and
/// for 204 no type, length or body (the header filter drops them).
fn text_response(
    server: &WebServer,
    status: u16,
    body: Vec<u8>,
    uri: &str,
    origin: &Origin<'_>,
) -> Routed {
    let mut head = ResponseHead::new(status);
    head.reason = error_page::nginx_reason(status).to_string();
    head.headers
        .push("Server", server.config.server_tokens.server());
    head.headers.push("Date", server.clock.http_date());
    let body = if status == 204 {
        Vec::new()
    } else {
        head.headers.push(
            "Content-Type",
            super::static_files::content_type(uri, &server.config.default_type),
        );
        head.headers.push("Content-Length", body.len().to_string());
        body
    };
    let keeps = origin.keep_alive && !error_page::closes_connection(status);
    head.headers
        .push("Connection", if keeps { "keep-alive" } else { "close" });
    Routed::Respond { head, body }
}

enum FilesOutcome {
    Done(Routed),
    Redirect(String),
}

/// `root`/`alias` with `try_files` and `index`.
fn files(
    server: &WebServer,
    request: &RequestHead,
    loc: &Location,
    mapping: &FileMapping,
    uri: &str,
    origin: &Origin<'_>,
) -> FilesOutcome {
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return FilesOutcome::Done(refuse(
            server,
            origin,
            405,
            format!(
                "{} on a file: only GET and HEAD read files, answers 405 Not Allowed",
                request.method
            ),
            "nginx's static module serves GET and HEAD only",
            &[("method", request.method.as_str())],
        ));
    }
    if !loc.try_files.is_empty() {
        return try_files(server, request, loc, mapping, uri, origin);
    }
    if uri.ends_with('/') {
        return index(server, loc, mapping, uri, origin);
    }
    FilesOutcome::Done(one_file(server, request, loc.expires, mapping, uri, origin))
}

/// `try_files a b … last`: the first of a, b… that exists is served; if
/// none does, `last` is a status (`=404`) or a URI to redirect to.
fn try_files(
    server: &WebServer,
    request: &RequestHead,
    loc: &Location,
    mapping: &FileMapping,
    uri: &str,
    origin: &Origin<'_>,
) -> FilesOutcome {
    let (last, tries) = match loc.try_files.split_last() {
        Some(split) => split,
        None => return FilesOutcome::Redirect(uri.to_string()),
    };
    let mut decision = Decision::new(Verdict::Choose)
        .rule("try_files: the first that exists is used; the last item is the fallback")
        .knob("try_files", loc.try_files.join(" "));
    for item in tries {
        let candidate = item.replace("$uri", uri);
        let path = mapping.path_for(&candidate);
        let stat = server.files.stat(&path);
        let dir_wanted = candidate.ends_with('/');
        let found = match stat {
            Stat::File { .. } => !dir_wanted,
            Stat::Dir => dir_wanted,
            _ => false,
        };
        decision = decision.candidate(
            item.clone(),
            vec![
                ("path".into(), path.clone()),
                ("exists".into(), found.to_string()),
            ],
        );
        if found {
            Step::new(StepId::WebServerTryFiles, Direction::Within, Kind::Decision)
                .summary(format!("try_files: {path} exists, serves it"))
                .decision(decision.chosen(item.clone()))
                .emit();
            return match dir_wanted {
                true => index(server, loc, mapping, &candidate, origin),
                false => FilesOutcome::Done(one_file(
                    server,
                    request,
                    loc.expires,
                    mapping,
                    &candidate,
                    origin,
                )),
            };
        }
    }
    let step = Step::new(StepId::WebServerTryFiles, Direction::Within, Kind::Decision);
    if let Some(code) = last.strip_prefix('=') {
        let status = code.parse::<u16>().unwrap_or(404);
        step.summary(format!(
            "try_files: none exists, the fallback {last} answers {status}"
        ))
        .decision(Decision {
            verdict: Verdict::Refuse { status },
            ..decision.chosen(last.clone())
        })
        .answer(status)
        .emit();
        return FilesOutcome::Done(page(server, Page::Status(status), origin));
    }
    let next = last.replace("$uri", uri);
    step.summary(format!("try_files: none exists, falls back to {next}"))
        .decision(decision.chosen(last.clone()))
        .emit();
    FilesOutcome::Redirect(next)
}

/// A URI that ends in `/`: the first `index` file that exists, by an
/// internal redirect; none, and the directory exists: 403 (no listing,
/// `autoindex off`); no directory: 404.
fn index(
    server: &WebServer,
    loc: &Location,
    mapping: &FileMapping,
    uri: &str,
    origin: &Origin<'_>,
) -> FilesOutcome {
    for name in &loc.index {
        let candidate = format!("{uri}{name}");
        if let Stat::File { .. } = server.files.stat(&mapping.path_for(&candidate)) {
            Step::new(StepId::WebServerIndex, Direction::Within, Kind::Decision)
                .summary(format!("{uri} is a directory: its index file is {candidate}"))
                .decision(
                    Decision::new(Verdict::Rewrite)
                        .rule("index: the first index file that exists is served by an internal redirect")
                        .input("directory", mapping.path_for(uri))
                        .chosen(candidate.clone()),
                )
                .knob("index", loc.index.join(" "))
                .emit();
            return FilesOutcome::Redirect(candidate);
        }
    }
    let dir = mapping.path_for(uri);
    FilesOutcome::Done(match server.files.stat(&dir) {
        Stat::Dir | Stat::Forbidden => refuse(
            server,
            origin,
            403,
            format!(
                "{dir} has no index file ({}) and directory listings are off: answers 403",
                loc.index.join(" ")
            ),
            "with autoindex off, nginx never lists a directory",
            &[("directory", dir.as_str())],
        ),
        _ => refuse(
            server,
            origin,
            404,
            format!("there is no directory {dir}: answers 404"),
            "a file that does not exist is 404",
            &[("path", dir.as_str())],
        ),
    })
}

/// One file, or a directory named without its slash (301), or nothing.
fn one_file(
    server: &WebServer,
    request: &RequestHead,
    expires: Expires,
    mapping: &FileMapping,
    uri: &str,
    origin: &Origin<'_>,
) -> Routed {
    let path = mapping.path_for(uri);
    if path.split('/').any(|s| s == "..") {
        return refuse(
            server,
            origin,
            403,
            format!(
                "{uri} maps to {path}: the alias swallowed part of a segment and the `..` \
                 climbs out of its directory. nginx would open that file (the alias traversal \
                 of a location without its trailing slash); roundtrip refuses with 403"
            ),
            "a path may never leave the directory it was mapped into",
            &[("uri", uri), ("path", path.as_str())],
        );
    }
    match server.files.stat(&path) {
        Stat::File { len, mtime_secs } => {
            let mut facts = FileFacts::new(&path, len, mtime_secs, &server.config.default_type);
            if !server.config.etag {
                facts.etag.clear();
            }
            serve_file(server, request, expires, &facts, origin)
        }
        Stat::Dir => {
            let to = format!("{uri}/");
            let url = absolute(&to, origin);
            Step::new(
                StepId::WebServerStaticRefuse,
                Direction::Within,
                Kind::Decision,
            )
            .summary(format!(
                "{path} is a directory, asked for without its trailing slash: redirects to {url}"
            ))
            .decision(
                Decision::new(Verdict::Refuse { status: 301 })
                    .rule("a directory without its trailing `/` is redirected to the URI with one")
                    .input("directory", &path),
            )
            .answer(301)
            .emit();
            // nginx's headers filter writes `expires` on a 301 too (its
            // list: 200, 201, 204, 206, 301, 302, 303, 304, 307, 308;
            // nginx docs, `expires`: "if the response code is equal to
            // 200, 201, 204, 206, 301, 302, 303, 304, 307, or 308").
            let mut routed = redirect(server, 301, &to, origin);
            if let Routed::Respond { head, .. } = &mut routed {
                expires.apply(head, server.clock.unix_secs());
            }
            routed
        }
        Stat::Forbidden => refuse(
            server,
            origin,
            403,
            format!("{path} exists but may not be read: answers 403"),
            "a file the server may not open is 403",
            &[("file", path.as_str())],
        ),
        Stat::Missing => refuse(
            server,
            origin,
            404,
            format!("there is no file {path}: answers 404"),
            "a file that does not exist is 404",
            &[("file", path.as_str())],
        ),
    }
}

/// A file that exists: 304 or 412 if the preconditions say so, else the
/// parts a `Range` asks for (206, 416), else the whole file (200).
fn serve_file(
    server: &WebServer,
    request: &RequestHead,
    expires: Expires,
    facts: &FileFacts,
    origin: &Origin<'_>,
) -> Routed {
    let date = server.clock.http_date();
    let now = server.clock.unix_secs();
    let path = facts.path.as_str();
    let fields = Data::Fields {
        entries: facts.fields(),
    };
    let cfg = &server.config;
    match conditional::evaluate(
        &request.headers,
        &facts.etag,
        facts.mtime_secs,
        cfg.if_modified_since,
    ) {
        Precondition::NotModified { by } => {
            let sent = request.headers.get(&by.to_ascii_lowercase()).unwrap_or("");
            Step::new(StepId::WebServerNotModified, Direction::Up, Kind::Decision)
                .summary(format!(
                    "{by}: {sent} still describes {path}: answers 304 Not Modified, no body; \
                     the client uses the copy it has"
                ))
                .decision(
                    Decision::new(Verdict::Refuse { status: 304 })
                        .rule("nginx's not-modified filter: every validator sent must match (if_modified_since exact; If-None-Match compared weakly)")
                        .input(by, sent)
                        .input("etag", &facts.etag)
                        .input("last_modified", static_files::http_date(facts.mtime_secs)),
                )
                .knob(
                    if by == "If-None-Match" { "etag" } else { "if_modified_since" },
                    if by == "If-None-Match" { "on" } else { cfg.if_modified_since.as_str() },
                )
                .data(fields)
                .answer(304)
                .emit();
            let head =
                static_files::not_modified_head(facts, &date, origin.keep_alive, expires, now);
            return Routed::Respond {
                head,
                body: Vec::new(),
            };
        }
        Precondition::Failed { by } => {
            return refuse(
                server,
                origin,
                412,
                format!("{by} does not hold for {path}: answers 412 Precondition Failed"),
                "RFC 9110 §13.1: a failed If-Match or If-Unmodified-Since is 412",
                &[("field", by), ("etag", facts.etag.as_str())],
            );
        }
        Precondition::Send => {}
    }
    // Without Range the filters decide on the 200 itself, later.
    let range = request.headers.get("range");
    let coding = match range {
        None => WholeCoding::AsIs,
        Some(_) => whole_coding(cfg, request, facts, &date, origin, expires, now),
    };
    let whole = static_files::WholeFields {
        vary: coding != WholeCoding::AsIs && cfg.gzip_settings().vary,
        expires,
        now_secs: now,
    };
    let ask = match range {
        None => RangeAsk::Whole,
        Some(value) if coding == WholeCoding::Encoded => {
            compressed_range_step(value, facts);
            RangeAsk::Whole
        }
        Some(value) => {
            let stale = request
                .headers
                .get("if-range")
                .filter(|ir| !conditional::if_range_holds(ir, &facts.etag, facts.mtime_secs));
            let ask = match stale {
                Some(_) => RangeAsk::Whole,
                None => range::parse(value, facts.len),
            };
            range_step(value, stale, &ask, facts);
            ask
        }
    };
    let head_only = request.method == "HEAD";
    let read = |offset: u64, len: u64| match head_only {
        true => Ok(Vec::new()),
        false => server.files.read(path, offset, len),
    };
    let unreadable = |e: std::io::Error| {
        refuse(
            server,
            origin,
            500,
            format!("{path} could not be read ({e}): answers 500"),
            "a file that cannot be read is 500",
            &[("file", path)],
        )
    };
    match ask {
        RangeAsk::Unsatisfiable => {
            let (mut head, body) = error_page::page(
                Page::Status(416),
                server.config.server_tokens,
                &date,
                origin.keep_alive,
            );
            whole.apply_to_page(&mut head);
            head.headers
                .push("Content-Range", format!("bytes */{}", facts.len));
            Routed::Respond { head, body }
        }
        RangeAsk::Parts(parts) if parts.len() == 1 => {
            let (start, end) = parts[0];
            let body = match read(start, end - start + 1) {
                Ok(b) => b,
                Err(e) => return unreadable(e),
            };
            let head = static_files::partial_head(
                facts,
                &date,
                origin.keep_alive,
                end - start + 1,
                Some(range::content_range(start, end, facts.len)),
                None,
                &whole,
            );
            Routed::Respond { head, body }
        }
        RangeAsk::Parts(parts) => {
            let mut pieces = Vec::with_capacity(parts.len());
            for (start, end) in parts {
                // Even for HEAD the length must be the multipart body's.
                match server.files.read(path, start, end - start + 1) {
                    Ok(b) => pieces.push((start, end, b)),
                    Err(e) => return unreadable(e),
                }
            }
            let boundary = server.next_boundary();
            let body = range::multipart(&boundary, &facts.content_type, facts.len, &pieces);
            let head = static_files::partial_head(
                facts,
                &date,
                origin.keep_alive,
                body.len() as u64,
                None,
                Some(&boundary),
                &whole,
            );
            Routed::Respond { head, body }
        }
        RangeAsk::Whole => {
            let body = match read(0, facts.len) {
                Ok(b) => b,
                Err(e) => return unreadable(e),
            };
            let head = static_files::ok_head(facts, &date, origin.keep_alive, expires, now);
            Step::new(StepId::WebServerStaticFile, Direction::Up, Kind::Step)
                .summary(format!(
                    "serves the file {path} itself ({} bytes, {}): the app server never sees this request",
                    facts.len, facts.content_type
                ))
                .data(fields)
                .answer(200)
                .emit();
            Routed::Respond { head, body }
        }
    }
}

/// What the compression filters make of this file's whole 200. nginx
/// runs them (gzip, and ngx_brotli ahead of it) before the range filter,
/// so they decide on the 200, not on the 206 it may become:
///
/// * one encodes it: it drops Content-Length, and the range filter passes
///   a response of unknown length untouched
///   (`ngx_http_range_header_filter`), so Range is ignored and the client
///   gets the whole file, compressed;
/// * one finds it "could vary" (status, type and length qualify, and only
///   Accept-Encoding, the HTTP version or Via said no): it sets
///   `r->gzip_vary`, and with `gzip_vary on` the 206 or 416 the range
///   filter then sends carries `Vary: Accept-Encoding`.
///
/// A filter that is off decides nothing (`if (!conf->enable)` comes
/// first in both).
fn whole_coding(
    cfg: &super::config::WebServerConfig,
    request: &RequestHead,
    facts: &FileFacts,
    date: &str,
    origin: &Origin<'_>,
    expires: Expires,
    now: u64,
) -> WholeCoding {
    if !cfg.gzip && !cfg.brotli {
        return WholeCoding::AsIs;
    }
    let whole = static_files::ok_head(facts, date, origin.keep_alive, expires, now);
    let brotli = cfg
        .brotli
        .then(|| super::brotli::decide(&cfg.brotli_settings(), request, &whole));
    let gzip = cfg
        .gzip
        .then(|| super::gzip::decide(&cfg.gzip_settings(), request, &whole));
    let encoded = matches!(brotli, Some(super::brotli::Outcome::Compressed { .. }))
        || matches!(gzip, Some(super::gzip::Outcome::Compressed { .. }));
    let varies = brotli.is_some_and(|o| o.varies())
        || matches!(
            gzip,
            Some(super::gzip::Outcome::Skipped { varies: true, .. })
        );
    match (encoded, varies) {
        (true, _) => WholeCoding::Encoded,
        (false, true) => WholeCoding::CouldVary,
        (false, false) => WholeCoding::AsIs,
    }
}

/// See [`whole_coding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WholeCoding {
    /// A filter encodes the whole 200: Range is ignored.
    Encoded,
    /// No filter encodes it, but one marked it "could vary".
    CouldVary,
    /// Neither.
    AsIs,
}

/// Range ignored because the response will be compressed, as a step.
fn compressed_range_step(value: &str, facts: &FileFacts) {
    let len = facts.len;
    Step::new(StepId::WebServerRange, Direction::Up, Kind::Decision)
        .summary(format!(
            "Range {value} is ignored: the response will be compressed, and nginx's compression \
             filters run before its range filter and leave no length to cut ranges from; sends \
             all {len} bytes, compressed, as 200"
        ))
        .decision(
            Decision::new(Verdict::Pass)
                .rule("ngx_http_range_header_filter passes a response without Content-Length (gzip and brotli remove it)")
                .input("range", value)
                .input("file_size", len),
        )
        .data(Data::Fields {
            entries: facts.fields(),
        })
        .emit();
}

/// The range filter's verdict, as a step.
fn range_step(value: &str, stale: Option<&str>, ask: &RangeAsk, facts: &FileFacts) {
    let len = facts.len;
    let (summary, verdict, status) = match (ask, stale) {
        (RangeAsk::Whole, Some(ir)) => (
            format!(
                "If-Range {ir} no longer describes the file: ignores Range, sends all {len} bytes"
            ),
            Verdict::Pass,
            None,
        ),
        (RangeAsk::Whole, None) => (
            format!(
                "Range {value} is not a byte range nginx serves in parts: sends all {len} bytes"
            ),
            Verdict::Pass,
            None,
        ),
        (RangeAsk::Unsatisfiable, _) => (
            format!(
                "Range {value} asks for nothing inside the file's {len} bytes: answers 416 with Content-Range: bytes */{len}"
            ),
            Verdict::Refuse { status: 416 },
            Some(416),
        ),
        (RangeAsk::Parts(parts), _) => {
            let listed: Vec<String> = parts.iter().map(|(s, e)| format!("{s}-{e}")).collect();
            let sent: u64 = parts.iter().map(|(s, e)| e - s + 1).sum();
            (
                format!(
                    "Range {value}: answers 206 Partial Content with bytes {} ({sent} of {len} bytes){}",
                    listed.join(", "),
                    if parts.len() > 1 {
                        " as multipart/byteranges"
                    } else {
                        ""
                    }
                ),
                Verdict::Refuse { status: 206 },
                Some(206),
            )
        }
    };
    let mut step = Step::new(StepId::WebServerRange, Direction::Up, Kind::Decision)
        .summary(summary)
        .decision(
            Decision::new(verdict)
                .rule("RFC 9110 §14.2: a satisfiable byte range gets 206, an unsatisfiable one 416")
                .input("range", value)
                .input("file_size", len),
        )
        .data(Data::Fields {
            entries: facts.fields(),
        });
    if let Some(s) = status {
        step = step.answer(s);
    }
    step.emit();
}

/// The static module's own refusal, recorded and answered with a page.
fn refuse(
    server: &WebServer,
    origin: &Origin<'_>,
    status: u16,
    summary: String,
    rule: &str,
    inputs: &[(&str, &str)],
) -> Routed {
    let mut decision = Decision::new(Verdict::Refuse { status }).rule(rule);
    for (name, value) in inputs {
        decision = decision.input(name, value);
    }
    Step::new(
        StepId::WebServerStaticRefuse,
        Direction::Within,
        Kind::Decision,
    )
    .summary(summary)
    .decision(decision)
    .answer(status)
    .emit();
    page(server, Page::Status(status), origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::http::{Headers, Version};
    use crate::net::Connector;
    use crate::server::WebServerConfig;
    use crate::server::files::Files;
    use crate::server::location::{Location, default_locations};
    use proptest::prelude::*;
    use std::sync::Arc;

    const SECRET: &[u8] = b"SECRET-OUTSIDE-THE-ROOT";

    /// A real directory: `www/static/ok.txt` inside the root, and a secret
    /// beside `www` and beside `static`, outside every root and alias.
    fn site() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("roundtrip-traversal-{}", std::process::id()));
        let www = dir.join("www");
        std::fs::create_dir_all(www.join("static/docs")).expect("a temp dir");
        std::fs::write(www.join("static/ok.txt"), b"inside").expect("a file");
        std::fs::write(www.join("static/docs/index.html"), b"<p>").expect("a file");
        std::fs::write(dir.join("secret.txt"), SECRET).expect("a file");
        std::fs::write(www.join("secret.txt"), SECRET).expect("a file");
        www
    }

    fn server() -> Arc<WebServer> {
        let mut config = WebServerConfig::default();
        let extra = |written: &str| -> Location { toml::from_str(written).expect("a location") };
        let mut locations = vec![
            // The classic misconfiguration: no trailing slash on the location.
            extra("match = \"/static\"\nalias = \"/srv/www/static/\""),
            extra("match = \"^~ /assets/\"\nalias = \"/srv/www/static/\""),
            extra(
                "match = \"/files/\"\nroot = \"/srv/www/static\"\ntry_files = [\"$uri\", \"$uri/\", \"=404\"]",
            ),
        ];
        locations.extend(
            default_locations()
                .into_iter()
                .filter(|l| l.proxy_pass.is_none()),
        );
        config.location = locations;
        WebServer::new(
            config,
            Connector::Tcp("127.0.0.1:9".parse().expect("an address")),
            Clock::starting_at(0),
            Files::disk("/srv/www", site()),
        )
    }

    fn get(server: &WebServer, target: &str) -> Option<(u16, Vec<u8>)> {
        answer(server, target, &[]).map(|(head, body)| (head.status, body))
    }

    /// What the web server answers itself to a GET of `target` with
    /// `extra` fields; `None` when it would proxy or refuse.
    fn answer(
        server: &WebServer,
        target: &str,
        extra: &[(&str, &str)],
    ) -> Option<(crate::http::ResponseHead, Vec<u8>)> {
        let uri = crate::http::target::normalize(target.as_bytes()).ok()?;
        let mut headers = Headers::new();
        headers.push("Host", "example.test");
        for (name, value) in extra {
            headers.push(*name, *value);
        }
        let request = RequestHead {
            method: "GET".into(),
            target: target.into(),
            version: Version::Http11,
            headers,
        };
        let origin = Origin {
            client: std::net::Ipv4Addr::LOCALHOST.into(),
            host: "example.test",
            port: 80,
            keep_alive: true,
            scheme: "http",
            request_uri: target,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .ok()?;
        let mut holds = Vec::new();
        match runtime.block_on(route(
            server,
            &server.config.location,
            &request,
            String::from_utf8_lossy(&uri).into_owned(),
            &origin,
            &mut holds,
        )) {
            Routed::Respond { head, body } => Some((head, body)),
            _ => None,
        }
    }

    /// A server with only `/static/` (`expires 1h`; a 200-byte
    /// `long.txt` and a directory `docs`) and `config`'s compression
    /// settings.
    fn compressing(config: impl FnOnce(&mut WebServerConfig)) -> Arc<WebServer> {
        let mut c = WebServerConfig {
            location: vec![
                toml::from_str("match = \"/static/\"\nroot = \"/srv/www\"\nexpires = \"1h\"")
                    .expect("a location"),
            ],
            ..Default::default()
        };
        config(&mut c);
        // A root of its own for each server: tests run in parallel, and
        // one rewriting a file another is reading would race.
        static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let www =
            std::env::temp_dir().join(format!("roundtrip-ranges-{}-{n}/www", std::process::id()));
        std::fs::create_dir_all(www.join("static/docs")).expect("a temp dir");
        std::fs::write(www.join("static/long.txt"), [b'x'; 200]).expect("a file");
        WebServer::new(
            c,
            Connector::Tcp("127.0.0.1:9".parse().expect("an address")),
            Clock::starting_at(0),
            Files::disk("/srv/www", www),
        )
    }

    /// The head's fields, in order, for a GET with `extra` fields.
    fn fields(server: &WebServer, target: &str, extra: &[(&str, &str)]) -> (u16, Vec<String>) {
        let Some((head, _)) = answer(server, target, extra) else {
            panic!("the web server answers {target} itself");
        };
        let fields = head
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .filter(|f| !f.starts_with("Date:") && !f.starts_with("Server:"))
            .collect();
        (head.status, fields)
    }

    fn gzip_vary_text(c: &mut WebServerConfig) {
        c.gzip = true;
        c.gzip_vary = true;
        c.gzip_types = vec!["text/plain".into()];
    }

    #[test]
    fn a_206_keeps_the_vary_and_expires_of_the_200_it_was_cut_from() {
        // nginx 1.22 with `gzip on; gzip_vary on; gzip_types text/plain;
        // expires 1h;` answers `Range: bytes=0-9` from a client that asks
        // for no coding with exactly these fields, in this order.
        let s = compressing(gzip_vary_text);
        let (status, got) = fields(&s, "/static/long.txt", &[("Range", "bytes=0-9")]);
        assert_eq!(status, 206);
        let names: Vec<&str> = got.iter().filter_map(|f| f.split(':').next()).collect();
        assert_eq!(
            names,
            [
                "Content-Type",
                "Content-Length",
                "Last-Modified",
                "Connection",
                "Vary",
                "ETag",
                "Expires",
                "Cache-Control",
                "Content-Range",
            ]
        );
        for field in [
            "Vary: Accept-Encoding",
            "Expires: Thu, 01 Jan 1970 01:00:00 GMT",
            "Cache-Control: max-age=3600",
            "Content-Range: bytes 0-9/200",
        ] {
            assert!(got.iter().any(|f| f == field), "{field}: {got:?}");
        }
    }

    #[test]
    fn a_directory_redirect_carries_the_locations_expires() {
        // nginx 1.22, `location /static/ { expires 1h; }`, GET /static/docs:
        // `Location`, `Connection`, then `Expires` and `Cache-Control`.
        let s = compressing(|_| {});
        let (status, got) = fields(&s, "/static/docs", &[]);
        assert_eq!(status, 301);
        let names: Vec<&str> = got.iter().filter_map(|f| f.split(':').next()).collect();
        assert_eq!(
            names,
            [
                "Content-Type",
                "Content-Length",
                "Location",
                "Connection",
                "Expires",
                "Cache-Control"
            ]
        );
        assert!(
            got.iter().any(|f| f == "Cache-Control: max-age=3600"),
            "{got:?}"
        );
    }

    #[test]
    fn a_multipart_206_and_a_416_keep_vary_and_expires_too() {
        let s = compressing(gzip_vary_text);
        for (range, status) in [("bytes=0-1,5-6", 206), ("bytes=500-", 416)] {
            let (got_status, got) = fields(&s, "/static/long.txt", &[("Range", range)]);
            assert_eq!(got_status, status, "{range}");
            for field in ["Vary: Accept-Encoding", "Cache-Control: max-age=3600"] {
                assert!(got.iter().any(|f| f == field), "{range}: {got:?}");
            }
        }
    }

    #[test]
    fn a_206_has_no_vary_when_the_200_could_not_have_been_compressed() {
        // Too short for gzip_min_length, a type outside gzip_types, and
        // gzip_vary off: nginx's gzip filter never sets `r->gzip_vary`
        // (or never writes it).
        let short = compressing(|c| {
            gzip_vary_text(c);
            c.gzip_min_length = 1000;
        });
        let untyped = compressing(|c| {
            gzip_vary_text(c);
            c.gzip_types = vec!["text/css".into()];
        });
        let quiet = compressing(|c| {
            gzip_vary_text(c);
            c.gzip_vary = false;
        });
        for s in [short, untyped, quiet] {
            let (status, got) = fields(&s, "/static/long.txt", &[("Range", "bytes=0-9")]);
            assert_eq!(status, 206);
            assert!(!got.iter().any(|f| f.starts_with("Vary:")), "{got:?}");
        }
    }

    #[test]
    fn with_gzip_off_a_range_is_cut_even_from_a_client_that_accepts_only_gzip() {
        // Brotli on, gzip off: the gzip filter decides nothing, so no
        // filter will encode the 200 and the range filter cuts the range.
        let s = compressing(|c| {
            c.brotli = true;
            c.brotli_types = vec!["text/plain".into()];
            c.gzip_vary = true;
        });
        let (status, got) = fields(
            &s,
            "/static/long.txt",
            &[("Range", "bytes=0-9"), ("Accept-Encoding", "gzip")],
        );
        assert_eq!(status, 206);
        assert!(got.iter().any(|f| f == "Vary: Accept-Encoding"), "{got:?}");
    }

    #[test]
    fn traversal_attempts_get_400_403_or_404_and_never_the_secret() {
        let s = server();
        assert_eq!(get(&s, "/static/ok.txt").map(|r| r.0), Some(200));
        for target in [
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E%2Fsecret.txt",
            "/static/..%2f..%2fsecret.txt",
            "/static/..%5c..%5csecret.txt",
            "/static/..\\secret.txt",
            "/static../secret.txt",
            "/static..%2fsecret.txt",
            "/assets/../secret.txt",
            "/files/..%2f..%2fsecret.txt",
            "/static/%252e%252e/secret.txt",
            "/static/ok.txt%00.html",
        ] {
            // normalize() refusing the target is the 400.
            if let Some((status, body)) = get(&s, target) {
                assert!(
                    [403, 404].contains(&status) || status == 200 && body == b"inside",
                    "{target}: {status}"
                );
                assert!(
                    !body.windows(SECRET.len()).any(|w| w == SECRET),
                    "{target} leaked"
                );
            }
        }
    }

    fn segment() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "..",
            ".",
            "%2e%2e",
            "%2E%2e",
            "%2e",
            "%2f",
            "%2F",
            "%5c",
            "\\",
            "%00",
            "%25",
            "%252e%252e",
            "static",
            "static..",
            "assets",
            "files",
            "ok.txt",
            "secret.txt",
            "docs",
            "",
            "%",
            "%zz",
            "..;",
            "~",
        ])
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Whatever the target, no response carries a byte of the secret.
        #[test]
        fn no_target_reads_a_byte_from_outside_the_root(segments in prop::collection::vec(segment(), 1..8)) {
            let s = server();
            let target = format!("/{}", segments.join("/"));
            if let Some((_, body)) = get(&s, &target) {
                prop_assert!(!body.windows(SECRET.len()).any(|w| w == SECRET), "{} leaked", target);
            }
        }
    }
}
