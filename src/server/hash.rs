//! `hash KEY [consistent]`: the upstream server chosen by a key of the
//! request (nginx's ngx_http_upstream_hash_module).
//!
//! The key is text made of the request's variables: `hash $request_uri`
//! sends every request for one URI to one server (its cache stays warm),
//! `hash $cookie_session` keeps a user on one server. The key is hashed
//! with CRC-32, the checksum of zlib and Ethernet.
//!
//! **Plain `hash`** maps the hash onto the weights: with servers of
//! weights 1, 1, 1, `hash % 3` names one (`ngx_http_upstream_get_hash_peer`;
//! the expression is Cache::Memcached's, `(crc32(KEY) >> 16) & 0x7fff`).
//! If that server may not be used (down, failed within `fail_timeout`, at
//! `max_conns`, already tried), the key is hashed again with a count
//! before it (`1KEY`, `2KEY`…) and the sum taken; after 20 misses, round
//! robin. Adding or removing a server changes `% total` and so moves
//! almost every key.
//!
//! **`consistent`** is ketama (Cache::Memcached::Fast's): every server
//! puts `160 × weight` points on a ring of 2³² values, each the CRC-32 of
//! its address (`host`, a zero byte, `port`) followed by the previous
//! point's value (`ngx_http_upstream_update_chash`). A key goes to the
//! first point at or after its own CRC-32, going round at the end
//! (`ngx_http_upstream_find_chash_point`); when that point's server may
//! not be used, to the next point, and so on, 20 times at most, then
//! round robin. Taking a server out removes only its points: the keys
//! that were on it move to the next points, every other key stays where
//! it was. That is what "consistent" promises.
//!
//! The ring is built from the addresses as the `server` lines write them:
//! the same group in nginx and here puts a key on the same server (the
//! tests check keys measured with nginx 1.22.1).
//!
//! Book: "The web server", section "Hash and consistent hashing"
//! (book/src/web-server.md).

use std::net::IpAddr;

use crate::http::Headers;

/// `hash KEY [consistent]`, as written: `"$request_uri consistent"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HashDirective {
    /// The key, variables and text: `$request_uri`, `$arg_user:$uri`.
    pub key: String,
    /// Ketama's ring instead of `hash % total_weight`.
    pub consistent: bool,
}

impl schemars::JsonSchema for HashDirective {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HashDirective".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "nginx's `hash KEY [consistent]`: a key made of variables ($request_uri, $uri, $args, $arg_NAME, $http_NAME, $cookie_NAME, $remote_addr, $host, $scheme, $request_method) and text, then `consistent` for ketama's ring",
        })
    }
}

impl HashDirective {
    /// Parse `KEY [consistent]`, checking every variable of the key.
    pub fn parse(text: &str) -> Result<HashDirective, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (key, consistent) = match words.as_slice() {
            [key] => (*key, false),
            [key, "consistent"] => (*key, true),
            [_, other] => {
                return Err(format!(
                    "hash: invalid parameter \"{other}\" (nginx takes only `consistent` after the key)"
                ));
            }
            [] => return Err("hash needs a key, e.g. \"$request_uri consistent\"".into()),
            _ => {
                return Err(format!(
                    "hash takes a key and maybe `consistent`, not {} words: write a key without spaces",
                    words.len()
                ));
            }
        };
        for part in parts(key) {
            if let Part::Var(name) = part
                && !known(name)
            {
                return Err(format!(
                    "hash: unknown variable \"${name}\"; known: $request_uri, $uri, $args, \
                     $arg_NAME, $http_NAME, $cookie_NAME, $remote_addr, $host, $scheme, \
                     $request_method"
                ));
            }
        }
        Ok(HashDirective {
            key: key.to_string(),
            consistent,
        })
    }
}

impl TryFrom<String> for HashDirective {
    type Error = String;
    fn try_from(s: String) -> Result<HashDirective, String> {
        HashDirective::parse(&s)
    }
}

impl From<HashDirective> for String {
    fn from(h: HashDirective) -> String {
        h.to_string()
    }
}

impl std::fmt::Display for HashDirective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)?;
        if self.consistent {
            f.write_str(" consistent")?;
        }
        Ok(())
    }
}

/// A piece of a key: text as written, or a variable's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Split a key into text and `$name` / `${name}` variables, as nginx's
/// complex values do (a name is letters, digits and `_`).
fn parts(key: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = key;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            out.push(Part::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(end) = braced.find('}')
        {
            out.push(Part::Var(&braced[..end]));
            rest = &braced[end + 1..];
            continue;
        }
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if end == 0 {
            out.push(Part::Text("$"));
        } else {
            out.push(Part::Var(&after[..end]));
        }
        rest = &after[end..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    out
}

fn known(name: &str) -> bool {
    matches!(
        name,
        "request_uri"
            | "uri"
            | "args"
            | "query_string"
            | "remote_addr"
            | "host"
            | "scheme"
            | "request_method"
    ) || ["arg_", "http_", "cookie_"]
        .iter()
        .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// What a key's variables are made of, for one request.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// `$remote_addr`.
    pub remote_addr: IpAddr,
    /// `$request_uri`: the target as the client sent it, arguments and all.
    pub request_uri: &'a str,
    /// `$uri`: the normalized path.
    pub uri: &'a str,
    /// `$host`.
    pub host: &'a str,
    /// `$scheme`.
    pub scheme: &'a str,
    /// `$request_method`.
    pub method: &'a str,
    /// The client's header fields (`$http_NAME`, `$cookie_NAME`).
    pub headers: &'a Headers,
}

impl Vars<'_> {
    /// One variable's value; an absent one is empty, as in nginx.
    fn get(&self, name: &str) -> String {
        let args = self
            .request_uri
            .split_once('?')
            .map_or("", |(_, q)| q.split('#').next().unwrap_or(q));
        match name {
            "request_uri" => self.request_uri.to_string(),
            "uri" => self.uri.to_string(),
            "args" | "query_string" => args.to_string(),
            "remote_addr" => self.remote_addr.to_string(),
            "host" => self.host.to_string(),
            "scheme" => self.scheme.to_string(),
            "request_method" => self.method.to_string(),
            _ => {
                if let Some(arg) = name.strip_prefix("arg_") {
                    // nginx's $arg_NAME: the first argument of that name,
                    // case-insensitive, as sent (not decoded).
                    args.split('&')
                        .find_map(|pair| {
                            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                            n.eq_ignore_ascii_case(arg).then(|| v.to_string())
                        })
                        .unwrap_or_default()
                } else if let Some(field) = name.strip_prefix("http_") {
                    self.headers
                        .get(&field.replace('_', "-"))
                        .unwrap_or("")
                        .to_string()
                } else if let Some(cookie) = name.strip_prefix("cookie_") {
                    self.headers
                        .get("cookie")
                        .unwrap_or("")
                        .split(';')
                        .find_map(|c| {
                            let (n, v) = c.trim().split_once('=')?;
                            (n == cookie).then(|| v.to_string())
                        })
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }

    /// The key of `directive` for this request.
    pub fn key(&self, key: &str) -> String {
        parts(key)
            .into_iter()
            .map(|p| match p {
                Part::Text(t) => t.to_string(),
                Part::Var(v) => self.get(v),
            })
            .collect()
    }
}

/// CRC-32 (IEEE 802.3, zlib's), nginx's `ngx_crc32_long`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Points each unit of weight puts on the ring.
pub const POINTS_PER_WEIGHT: u32 = 160;

/// Ketama's ring: every server's points, sorted, duplicates dropped.
#[derive(Debug, Clone)]
pub struct Ring {
    /// (value, server index), by value.
    pub points: Vec<(u32, usize)>,
}

impl Ring {
    /// The ring of servers written `addresses[i]` ("host:port") with
    /// weights `weights[i]`.
    pub fn new(addresses: &[String], weights: &[u32]) -> Ring {
        let mut points = Vec::new();
        for (i, (address, &weight)) in addresses.iter().zip(weights).enumerate() {
            // `host \0 port`: the port is the digits after the last `:`
            // (none for a name without one).
            let (host, port) = match address.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, p),
                _ => (address.as_str(), ""),
            };
            let mut base = Vec::with_capacity(host.len() + port.len() + 5);
            base.extend_from_slice(host.as_bytes());
            base.push(0);
            base.extend_from_slice(port.as_bytes());
            let mut prev: u32 = 0;
            for _ in 0..weight.saturating_mul(POINTS_PER_WEIGHT) {
                let mut bytes = base.clone();
                // The previous value as it lies in memory on a
                // little-endian machine (nginx writes it so on any).
                bytes.extend_from_slice(&prev.to_le_bytes());
                prev = crc32(&bytes);
                points.push((prev, i));
            }
        }
        points.sort_by_key(|&(v, _)| v);
        points.dedup_by_key(|&mut (v, _)| v);
        Ring { points }
    }

    /// The first point at or after `hash` (may be `points.len()`: the
    /// walk goes round).
    pub fn find(&self, hash: u32) -> usize {
        self.points.partition_point(|&(v, _)| v < hash)
    }
}

/// One request's walk (nginx's `ngx_http_upstream_hash_peer_data_t`):
/// kept across the request's tries, so a retry goes on from where the
/// last choice stopped.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The key's value for this request.
    pub key: String,
    /// Its CRC-32.
    pub crc32: u32,
    /// Plain hash: the running sum. Consistent: the ring position.
    pub(super) hash: u64,
    /// Plain hash: how many times the key was hashed.
    pub(super) rehash: u32,
    /// Misses so far (after 20, round robin).
    pub(super) tries: u32,
    /// The ring position was found (done on the first choice).
    pub(super) placed: bool,
    /// What the last choice looked at, for the trace.
    pub visits: Vec<Visit>,
    /// The last choice gave up on the key and used round robin.
    pub fell_back: bool,
}

/// One server the walk looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Consistent: the ring point's index and value. Plain: the running
    /// hash and `hash % total_weight`.
    pub at: u64,
    pub value: u64,
    pub server: usize,
    /// Why it was passed over; None: chosen.
    pub skipped: Option<super::balance::Skip>,
}

impl Walk {
    pub fn new(key: String) -> Walk {
        Walk {
            crc32: crc32(key.as_bytes()),
            key,
            hash: 0,
            rehash: 0,
            tries: 0,
            placed: false,
            visits: Vec::new(),
            fell_back: false,
        }
    }
}

/// Most misses before a walk gives up on the key (nginx: `tries > 20`).
pub const MAX_TRIES: u32 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn the_directive_parses_as_nginx_writes_it_and_names_a_bad_variable() {
        let h = HashDirective::parse("$request_uri consistent").expect("valid");
        assert_eq!((h.key.as_str(), h.consistent), ("$request_uri", true));
        assert_eq!(h.to_string(), "$request_uri consistent");
        assert!(
            !HashDirective::parse("$cookie_user")
                .expect("valid")
                .consistent
        );
        let e = HashDirective::parse("$request_uri ketama").expect_err("not a parameter");
        assert!(e.contains("invalid parameter \"ketama\""), "{e}");
        let e = HashDirective::parse("$nope").expect_err("unknown");
        assert!(e.contains("unknown variable \"$nope\""), "{e}");
    }

    #[test]
    fn a_key_is_its_variables_and_text() {
        let mut headers = Headers::new();
        headers.push("Cookie", "theme=dark; session=abc123");
        headers.push("X-Tenant", "acme");
        let vars = Vars {
            remote_addr: "203.0.113.7".parse().expect("an address"),
            request_uri: "/notes/1?user=ada&x=1",
            uri: "/notes/1",
            host: "example.com",
            scheme: "http",
            method: "GET",
            headers: &headers,
        };
        assert_eq!(vars.key("$request_uri"), "/notes/1?user=ada&x=1");
        assert_eq!(
            vars.key("${host}$uri:$arg_user:$cookie_session:$http_x_tenant"),
            "example.com/notes/1:ada:abc123:acme"
        );
        assert_eq!(vars.key("$arg_missing"), "");
        assert_eq!(vars.key("$remote_addr"), "203.0.113.7");
    }

    #[test]
    fn the_ring_has_160_points_per_weight_sorted() {
        let addresses: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", 8000 + i)).collect();
        let ring = Ring::new(&addresses, &[1, 2, 1]);
        assert_eq!(ring.points.len(), 4 * 160, "no two points collide here");
        assert!(ring.points.windows(2).all(|w| w[0].0 < w[1].0));
        let b = ring.points.iter().filter(|&&(_, s)| s == 1).count();
        assert_eq!(b, 320);
        assert_eq!(ring.find(0), 0);
        assert_eq!(ring.find(u32::MAX), ring.points.len());
    }
}
