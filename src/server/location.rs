//! Locations: how the web server decides, per request, what handles it.
//!
//! nginx's `location` blocks each name a pattern and what to do with the
//! requests that match it: serve files (`root`, `alias`, `index`,
//! `try_files`), pass them on (`proxy_pass`) or answer at once (`return`).
//! The choice follows the nginx docs for `location`, in this order:
//!
//! ```text
//! normalized $uri ─▶ 1. an exact `= /path` that equals it?      ─▶ use it, stop
//!                    2. remember the longest prefix that matches
//!                       (plain or `^~`); is it `^~`?             ─▶ use it, stop
//!                    3. regexes `~` / `~*` in file order:
//!                       the first that matches                   ─▶ use it
//!                    4. else the remembered longest prefix       ─▶ use it
//!                    5. none at all                              ─▶ 404 from the web server
//! ```
//!
//! Matching uses the normalized URI ([`crate::http::target::normalize`]),
//! never the bytes the client sent: `/static/../notes` is matched as
//! `/notes`. The trace records every candidate, whether it matched and
//! why the winner won.
//!
//! Simplified: no nested locations, no named locations (`@name`), no
//! regex captures; regexes are Rust's `regex` syntax (nginx uses PCRE;
//! the common patterns are written the same in both).
//!
//! Book: "The web server" (book/src/web-server.md), "Which location?".

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::access::Rule;
use super::limit_except::LimitExcept;
use super::static_files::Expires;
use crate::trace::{Candidate, Decision, Verdict};

/// The kind of pattern, by its modifier (nginx `location [=|~|~*|^~] uri`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// `= /path`: this path and nothing else; wins at once.
    Exact,
    /// `/path`: any URI that starts with it; the longest wins, after regexes.
    Prefix,
    /// `^~ /path`: a prefix that, when it is the longest, skips the regexes.
    PrefixNoRegex,
    /// `~ re`: a case-sensitive regular expression.
    Regex,
    /// `~* re`: a case-insensitive regular expression.
    RegexCaseless,
}

impl Modifier {
    fn as_str(self) -> &'static str {
        match self {
            Modifier::Exact => "=",
            Modifier::Prefix => "",
            Modifier::PrefixNoRegex => "^~",
            Modifier::Regex => "~",
            Modifier::RegexCaseless => "~*",
        }
    }
}

/// A location's pattern, as written after `location` in nginx.conf:
/// `"= /"`, `"^~ /static/"`, `"~ \.php$"`, `"~* \.(png|jpg)$"`, `"/"`.
#[derive(Clone)]
pub struct Pattern {
    pub modifier: Modifier,
    /// The path or the regular expression, without the modifier.
    pub text: String,
    regex: Option<regex::Regex>,
}

impl Pattern {
    pub fn parse(written: &str) -> Result<Pattern, String> {
        let written = written.trim();
        let (modifier, text) = match written.split_once(char::is_whitespace) {
            Some(("=", rest)) => (Modifier::Exact, rest),
            Some(("^~", rest)) => (Modifier::PrefixNoRegex, rest),
            Some(("~", rest)) => (Modifier::Regex, rest),
            Some(("~*", rest)) => (Modifier::RegexCaseless, rest),
            _ => (Modifier::Prefix, written),
        };
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(format!("location `{written}` has no path or pattern"));
        }
        let regex = match modifier {
            Modifier::Regex | Modifier::RegexCaseless => {
                let source = if modifier == Modifier::RegexCaseless {
                    format!("(?i){text}")
                } else {
                    text.clone()
                };
                Some(regex::Regex::new(&source).map_err(|e| {
                    format!("location `{written}`: the regular expression does not compile: {e}")
                })?)
            }
            _ if !text.starts_with('/') => {
                return Err(format!(
                    "location `{written}`: a path must start with `/` (for a regex write `~ {text}`)"
                ));
            }
            _ => None,
        };
        Ok(Pattern {
            modifier,
            text,
            regex,
        })
    }

    /// Does the normalized URI match this pattern?
    pub fn matches(&self, uri: &str) -> bool {
        match (&self.regex, self.modifier) {
            (Some(re), _) => re.is_match(uri),
            (None, Modifier::Exact) => uri == self.text,
            (None, _) => uri.starts_with(&self.text),
        }
    }

    fn is_prefix(&self) -> bool {
        matches!(self.modifier, Modifier::Prefix | Modifier::PrefixNoRegex)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.modifier {
            Modifier::Prefix => f.write_str(&self.text),
            m => write!(f, "{} {}", m.as_str(), self.text),
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({self})")
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.modifier == other.modifier && self.text == other.text
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let written = String::deserialize(d)?;
        Pattern::parse(&written).map_err(serde::de::Error::custom)
    }
}

crate::units::schema_as_text!(Pattern, "LocationPattern", {
    "description": "What nginx writes after `location`: \"/\", \"= /\", \"^~ /static/\", \"~ \\\\.php$\" or \"~* \\\\.(png|jpg)$\".",
    "type": "string",
    "pattern": "\\S"
});

/// One `location` block: its pattern and what it does with a request.
/// Exactly one of `root`, `alias`, `proxy_pass` and `return` says what
/// handles it (checked by [`Location::handler`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The pattern, as nginx writes it after `location`.
    #[serde(rename = "match")]
    pub pattern: Pattern,
    /// `root /srv/www`: the file is the root followed by the whole URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// `alias /srv/assets/`: the file is the alias followed by the URI
    /// with the location's prefix cut off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Files tried, in order, for a URI ending in `/` (`index index.html`).
    #[serde(default = "default_index")]
    pub index: Vec<String>,
    /// `try_files $uri $uri/ =404`: files (and directories, with a
    /// trailing `/`) tried in order; the last item is a status (`=404`) or
    /// a URI to start again with (an internal redirect).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub try_files: Vec<String>,
    /// `proxy_pass http://app_server`: hand the request to the app server.
    /// With a URI part (`http://app_server/api/`) the location's prefix is
    /// replaced by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_pass: Option<String>,
    /// `return 301 /new/` or `return 404`: answer at once.
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_: Option<String>,
    /// `expires 1h`: `Expires` and `Cache-Control: max-age` on the files
    /// this location serves (`off` by default).
    #[serde(default = "expires_off", skip_serializing_if = "is_off")]
    pub expires: Expires,
    /// `allow` / `deny` rules of this location, in order
    /// (`["allow 10.0.0.0/8", "deny all"]`). Any rule here replaces all of
    /// the server's; none, and the server's apply (see [`super::access`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<Rule>,
    /// `limit_except GET { deny all; }`: rules for the methods not listed
    /// (see [`super::limit_except`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_except: Option<LimitExcept>,
}

fn expires_off() -> Expires {
    Expires::Off
}

fn is_off(e: &Expires) -> bool {
    *e == Expires::Off
}

fn default_index() -> Vec<String> {
    vec!["index.html".to_string()]
}

/// The address `proxy_pass` names for the one app server of the stack.
pub const APP_SERVER_UPSTREAM: &str = "http://app_server";

/// Where a lesson's (and by default `serve`'s) files live.
pub const SITE_ROOT: &str = "/srv/www";

/// What a location does with a request it won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// Serve files from under this directory.
    Files(FileMapping),
    /// Pass to the app server; `uri`, when set, replaces the location's
    /// prefix.
    Proxy { uri: Option<String> },
    /// Answer with this status: for a redirect, `url` is its `Location`;
    /// for any other code, `text` is the body (none: nginx's page for
    /// 400 and above, an empty body below).
    Return {
        status: u16,
        url: Option<String>,
        text: Option<String>,
    },
}

/// How a URI becomes a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMapping {
    /// `root DIR`: DIR + URI.
    Root(String),
    /// `alias DIR`: DIR + (URI without the location's prefix).
    Alias { dir: String, prefix: String },
}

impl FileMapping {
    /// The file path for a normalized URI.
    pub fn path_for(&self, uri: &str) -> String {
        match self {
            FileMapping::Root(root) => format!("{}{uri}", root.trim_end_matches('/')),
            FileMapping::Alias { dir, prefix } => {
                let rest = uri.strip_prefix(prefix.as_str()).unwrap_or(uri);
                format!("{dir}{rest}")
            }
        }
    }
}

impl Location {
    /// What this location does. An error names what is wrong with it.
    pub fn handler(&self) -> Result<Handler, String> {
        let given = [
            self.root.is_some(),
            self.alias.is_some(),
            self.proxy_pass.is_some(),
            self.return_.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(format!(
                "location `{}` needs exactly one of root, alias, proxy_pass and return",
                self.pattern
            ));
        }
        if let Some(r) = &self.return_ {
            return parse_return(r).map_err(|e| format!("location `{}`: {e}", self.pattern));
        }
        if let Some(p) = &self.proxy_pass {
            let rest = p.strip_prefix(APP_SERVER_UPSTREAM).ok_or_else(|| {
                format!(
                    "location `{}`: proxy_pass must name the stack's app server, \
                     `{APP_SERVER_UPSTREAM}` (optionally followed by a URI)",
                    self.pattern
                )
            })?;
            let uri = match rest {
                "" => None,
                u if u.starts_with('/') => Some(u.to_string()),
                _ => {
                    return Err(format!(
                        "location `{}`: proxy_pass `{p}`: the URI part must start with `/`",
                        self.pattern
                    ));
                }
            };
            return Ok(Handler::Proxy { uri });
        }
        if let Some(root) = &self.root {
            return Ok(Handler::Files(FileMapping::Root(root.clone())));
        }
        match (&self.alias, self.pattern.is_prefix()) {
            (Some(dir), true) => Ok(Handler::Files(FileMapping::Alias {
                dir: dir.clone(),
                prefix: self.pattern.text.clone(),
            })),
            _ => Err(format!(
                "location `{}`: alias needs a prefix location (regex captures are not supported)",
                self.pattern
            )),
        }
    }

    /// Everything nginx would refuse to start with: no handler or two, a
    /// bad `return`, a `try_files` whose fallback is neither `=CODE` nor
    /// a URI, a URI part in `proxy_pass` inside a regex location.
    pub fn check(&self) -> Result<(), String> {
        let handler = self.handler()?;
        if let Some(limit) = &self.limit_except {
            limit
                .check()
                .map_err(|e| format!("location `{}`: {e}", self.pattern))?;
        }
        if let Handler::Proxy { uri: Some(_) } = handler
            && !self.pattern.is_prefix()
        {
            return Err(format!(
                "location `{}`: proxy_pass cannot have a URI part in a regex or exact location",
                self.pattern
            ));
        }
        if !self.try_files.is_empty() && !matches!(handler, Handler::Files(_)) {
            return Err(format!(
                "location `{}`: try_files needs root or alias to look files up in",
                self.pattern
            ));
        }
        match self.try_files.last() {
            Some(last) if self.try_files.len() < 2 => Err(format!(
                "location `{}`: try_files needs at least one file and a fallback, e.g. `$uri =404` (got `{last}`)",
                self.pattern
            )),
            Some(last) if last.starts_with('=') => match last[1..].parse::<u16>() {
                Ok(code) if (100..=999).contains(&code) => Ok(()),
                _ => Err(format!(
                    "location `{}`: try_files fallback `{last}` must be `=` and a status, e.g. `=404`",
                    self.pattern
                )),
            },
            Some(last) if !last.starts_with('/') => Err(format!(
                "location `{}`: try_files fallback `{last}` must be `=CODE` or a URI starting with `/`",
                self.pattern
            )),
            _ => Ok(()),
        }
    }

    /// The directives of this location as nginx.conf would show them.
    pub fn describe(&self) -> String {
        match self.handler() {
            Ok(Handler::Files(FileMapping::Root(r))) => format!("root {r}"),
            Ok(Handler::Files(FileMapping::Alias { dir, .. })) => format!("alias {dir}"),
            Ok(Handler::Proxy { .. }) => {
                format!("proxy_pass {}", self.proxy_pass.as_deref().unwrap_or(""))
            }
            Ok(Handler::Return { .. }) => {
                format!("return {}", self.return_.as_deref().unwrap_or(""))
            }
            Err(e) => e,
        }
    }
}

/// nginx's `return` (ngx_http_rewrite_module): `return CODE [TEXT]`,
/// `return CODE URL` or `return URL`. Any code from 0 to 999 is accepted,
/// as nginx accepts it; 301, 302, 303, 307 and 308 take the URL of the
/// redirect, and a URL alone (starting with `http://`, `https://` or
/// `$scheme`) is a 302. 444 closes the connection without a response.
/// The text of any other code is the body, written as one word or
/// quoted: `return 200 "ok"`.
fn parse_return(written: &str) -> Result<Handler, String> {
    let written = written.trim();
    let (first, rest) = written
        .split_once(char::is_whitespace)
        .map_or((written, ""), |(f, r)| (f, r.trim()));
    let is_url = |w: &str| {
        ["http://", "https://", "$scheme"]
            .iter()
            .any(|p| w.starts_with(p))
    };
    if is_url(first) && rest.is_empty() {
        return Ok(Handler::Return {
            status: 302,
            url: Some(first.to_string()),
            text: None,
        });
    }
    let status = first
        .parse::<u16>()
        .ok()
        .filter(|c| *c <= 999)
        .ok_or_else(|| {
            format!("return `{written}` must start with a status code (0 to 999) or a URL")
        })?;
    let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
    if redirect {
        let mut words = rest.split_whitespace();
        let (Some(url), None) = (words.next(), words.next()) else {
            return Err(format!(
                "return {status} needs the URL to redirect to, one word"
            ));
        };
        return Ok(Handler::Return {
            status,
            url: Some(url.to_string()),
            text: None,
        });
    }
    let text = match rest {
        "" => None,
        quoted if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => {
            Some(quoted[1..quoted.len() - 1].to_string())
        }
        word if !word.contains(char::is_whitespace) => Some(word.to_string()),
        _ => {
            return Err(format!(
                "return {status}: text with spaces goes in quotes, as in nginx.conf: return {status} \"some text\""
            ));
        }
    };
    Ok(Handler::Return {
        status,
        url: None,
        text,
    })
}

/// The default locations: `/static/` from the site's files, the rest to
/// the app server, as a typical nginx.conf in front of a Python app.
pub fn default_locations() -> Vec<Location> {
    vec![
        Location {
            // Unreachable failure: the pattern is a constant path.
            pattern: Pattern::parse("/static/").unwrap_or_else(|e| unreachable!("{e}")),
            root: Some(SITE_ROOT.to_string()),
            alias: None,
            index: default_index(),
            try_files: Vec::new(),
            proxy_pass: None,
            return_: None,
            expires: Expires::Off,
            access: Vec::new(),
            limit_except: None,
        },
        Location {
            pattern: Pattern::parse("/").unwrap_or_else(|e| unreachable!("{e}")),
            root: None,
            alias: None,
            index: default_index(),
            try_files: Vec::new(),
            proxy_pass: Some(APP_SERVER_UPSTREAM.to_string()),
            return_: None,
            expires: Expires::Off,
            access: Vec::new(),
            limit_except: None,
        },
    ]
}

/// The whole of the plain port's server when `redirect_http` is on:
/// `location / { return 301 https://$host$request_uri; }`, with the TLS
/// port written out when it is not 443.
pub fn redirect_to_https(tls_port: u16) -> Vec<Location> {
    let to = match tls_port {
        443 => "301 https://$host$request_uri".to_string(),
        port => format!("301 https://$host:{port}$request_uri"),
    };
    vec![Location {
        pattern: Pattern::parse("/").unwrap_or_else(|e| unreachable!("{e}")),
        root: None,
        alias: None,
        index: default_index(),
        try_files: Vec::new(),
        proxy_pass: None,
        return_: Some(to),
        expires: Expires::Off,
        access: Vec::new(),
        limit_except: None,
    }]
}

/// The outcome of matching one URI against every location.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Index of the winner in the configuration, if any location matched.
    pub winner: Option<usize>,
    /// Why it won, in the words of the nginx docs.
    pub reason: &'static str,
    /// Each location in configuration order: its pattern, whether it
    /// matched, and its part in the choice.
    pub candidates: Vec<Candidate>,
}

/// Choose the location for a normalized URI (the algorithm of the module
/// doc). Every location is listed among the candidates, matched or not.
pub fn choose(locations: &[Location], uri: &str) -> Choice {
    let matched: Vec<bool> = locations.iter().map(|l| l.pattern.matches(uri)).collect();
    let exact = locations
        .iter()
        .zip(&matched)
        .position(|(l, m)| *m && l.pattern.modifier == Modifier::Exact);
    // Longest matching prefix; on a tie the first written (nginx refuses
    // duplicate locations, so a tie cannot happen in a valid nginx.conf).
    let mut longest: Option<usize> = None;
    for (i, (l, m)) in locations.iter().zip(&matched).enumerate() {
        if *m
            && l.pattern.is_prefix()
            && longest.is_none_or(|j| locations[j].pattern.text.len() < l.pattern.text.len())
        {
            longest = Some(i);
        }
    }
    let first_regex = || {
        locations
            .iter()
            .zip(&matched)
            .position(|(l, m)| *m && l.pattern.regex.is_some())
    };
    let (winner, reason) = if let Some(i) = exact {
        (Some(i), "an exact match (=) wins at once")
    } else if let Some(i) =
        longest.filter(|&i| locations[i].pattern.modifier == Modifier::PrefixNoRegex)
    {
        (
            Some(i),
            "the longest matching prefix is ^~: the regular expressions are not tried",
        )
    } else if let Some(i) = first_regex() {
        (
            Some(i),
            "the first regular expression that matches, in the order written, wins over any prefix",
        )
    } else if let Some(i) = longest {
        (
            Some(i),
            "no regular expression matched: the longest matching prefix wins",
        )
    } else {
        (None, "no location matches")
    };
    let regexes_tried = exact.is_none()
        && longest.is_none_or(|i| locations[i].pattern.modifier != Modifier::PrefixNoRegex);
    let candidates = locations
        .iter()
        .zip(&matched)
        .enumerate()
        .map(|(i, (l, m))| {
            let role = if Some(i) == winner {
                "chosen"
            } else if l.pattern.regex.is_some() && !regexes_tried {
                "not tried"
            } else if *m && Some(i) == longest {
                "longest prefix, remembered"
            } else if *m {
                "matches, not chosen"
            } else {
                "does not match"
            };
            Candidate {
                name: format!("location {}", l.pattern),
                facts: vec![
                    ("matches".to_string(), m.to_string()),
                    ("role".to_string(), role.to_string()),
                    ("does".to_string(), l.describe()),
                ],
            }
        })
        .collect();
    Choice {
        winner,
        reason,
        candidates,
    }
}

impl Choice {
    /// The choice as a trace decision.
    pub fn decision(&self, locations: &[Location], uri: &str) -> Decision {
        let mut d = Decision::new(match self.winner {
            Some(_) => Verdict::Choose,
            None => Verdict::Refuse { status: 404 },
        })
        .rule(format!("nginx `location`: {}", self.reason))
        .input("uri", uri);
        for c in &self.candidates {
            d = d.candidate(c.name.clone(), c.facts.clone());
        }
        if let Some(i) = self.winner {
            d = d.chosen(format!("location {}", locations[i].pattern));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(pattern: &str) -> Location {
        Location {
            pattern: Pattern::parse(pattern).expect("a valid pattern"),
            root: None,
            alias: None,
            index: default_index(),
            try_files: Vec::new(),
            proxy_pass: Some(APP_SERVER_UPSTREAM.into()),
            return_: None,
            expires: Expires::Off,
            access: Vec::new(),
            limit_except: None,
        }
    }

    fn winner(locations: &[Location], uri: &str) -> Option<String> {
        choose(locations, uri)
            .winner
            .map(|i| locations[i].pattern.to_string())
    }

    /// The example of the nginx `location` docs, configurations A to E.
    fn nginx_docs_example() -> Vec<Location> {
        vec![
            loc("= /"),
            loc("/"),
            loc("/documents/"),
            loc("^~ /images/"),
            loc("~* \\.(gif|jpg|jpeg)$"),
        ]
    }

    #[test]
    fn the_nginx_docs_example_picks_the_configuration_the_docs_say() {
        let l = nginx_docs_example();
        assert_eq!(winner(&l, "/").as_deref(), Some("= /"));
        assert_eq!(winner(&l, "/index.html").as_deref(), Some("/"));
        assert_eq!(
            winner(&l, "/documents/document.html").as_deref(),
            Some("/documents/")
        );
        assert_eq!(winner(&l, "/images/1.gif").as_deref(), Some("^~ /images/"));
        assert_eq!(
            winner(&l, "/documents/1.jpg").as_deref(),
            Some("~* \\.(gif|jpg|jpeg)$")
        );
    }

    #[test]
    fn the_first_matching_regex_wins_not_the_longest() {
        let l = vec![
            loc("~ \\.css$"),
            loc("~ ^/static/.*\\.css$"),
            loc("/static/"),
        ];
        assert_eq!(winner(&l, "/static/a.css").as_deref(), Some("~ \\.css$"));
    }

    #[test]
    fn a_case_sensitive_regex_does_not_match_other_cases_but_caseless_does() {
        let l = vec![loc("/"), loc("~ \\.PNG$")];
        assert_eq!(winner(&l, "/a.png").as_deref(), Some("/"));
        let l = vec![loc("/"), loc("~* \\.PNG$")];
        assert_eq!(winner(&l, "/a.png").as_deref(), Some("~* \\.PNG$"));
    }

    #[test]
    fn an_exact_location_matches_only_its_own_path() {
        let l = vec![loc("= /status"), loc("/")];
        assert_eq!(winner(&l, "/status").as_deref(), Some("= /status"));
        assert_eq!(winner(&l, "/status/").as_deref(), Some("/"));
    }

    #[test]
    fn no_location_at_all_is_a_404_decision() {
        let l = vec![loc("/static/")];
        let c = choose(&l, "/notes");
        assert_eq!(c.winner, None);
        assert_eq!(
            c.decision(&l, "/notes").verdict,
            Verdict::Refuse { status: 404 }
        );
    }

    #[test]
    fn every_location_is_a_candidate_with_its_role() {
        let l = nginx_docs_example();
        let c = choose(&l, "/images/1.gif");
        let roles: Vec<&str> = c.candidates.iter().map(|c| c.facts[1].1.as_str()).collect();
        assert_eq!(
            roles,
            [
                "does not match",
                "matches, not chosen",
                "does not match",
                "chosen",
                "not tried"
            ]
        );
    }

    #[test]
    fn bad_patterns_and_handlers_are_refused_with_a_reason() {
        assert!(Pattern::parse("~ (unclosed").is_err());
        assert!(Pattern::parse("static/").is_err());
        assert!(Pattern::parse("= ").is_err());
        let mut l = loc("/");
        l.root = Some("/srv".into());
        assert!(l.handler().unwrap_err().contains("exactly one"));
        let mut l = loc("/");
        l.proxy_pass = Some("http://elsewhere".into());
        assert!(l.handler().is_err());
        let mut l = loc("/");
        l.proxy_pass = None;
        l.return_ = Some("301".into());
        assert!(l.handler().unwrap_err().contains("URL"));
    }

    #[test]
    fn root_appends_the_whole_uri_and_alias_replaces_the_prefix() {
        let root = FileMapping::Root("/srv/www/".into());
        assert_eq!(root.path_for("/static/a.css"), "/srv/www/static/a.css");
        let alias = FileMapping::Alias {
            dir: "/srv/assets/".into(),
            prefix: "/static/".into(),
        };
        assert_eq!(alias.path_for("/static/a.css"), "/srv/assets/a.css");
    }
}
