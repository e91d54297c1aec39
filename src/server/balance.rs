//! Choosing an upstream server: nginx's round robin with passive health.
//!
//! An `upstream` block lists servers, each with a `weight` (1), a
//! `max_fails` (1) and a `fail_timeout` (10 s), maybe `backup`, `down` or
//! `max_conns`. For every request nginx picks one with its *smooth
//! weighted round robin* (`ngx_http_upstream_get_peer`, nginx's
//! src/http/ngx_http_upstream_round_robin.c):
//!
//! ```text
//! for every server still eligible:  current += effective;  total += effective
//! choose the largest current;       chosen.current −= total
//! ```
//!
//! so weights 5, 1, 1 give `a a b a c a a`, spread out rather than
//! `a a a a a b c`. A server is not eligible while it is `down`, while it
//! has `max_conns` connections, or while it has failed `max_fails` times
//! and `fail_timeout` has not passed since its last failure (or its last
//! trial): that is passive health checking, learnt from real requests
//! only. A failure also lowers the server's *effective* weight by
//! `weight / max_fails`; each later choice raises it by 1 again, so a
//! server that recovers is eased back in. When no primary server is
//! eligible, the `backup` servers are tried the same way; when none is,
//! nginx answers 502 and logs "no live upstreams".
//!
//! nginx keeps `fail_timeout` in whole seconds (`ngx_time()`): a server
//! that failed at 1.2 s with `fail_timeout 10s` is skipped up to 11.999 s
//! and tried again from 12 s. This module counts the same way.
//!
//! `least_conn` (ngx_http_upstream_least_conn_module.c) picks the
//! eligible server with the fewest active connections relative to its
//! weight (`conns / weight`, compared as `conns_a · weight_b <
//! conns_b · weight_a`), breaking ties by weighted round robin among the
//! tied; `ip_hash` (ngx_http_upstream_ip_hash_module.c) hashes the first
//! three bytes of the client's IPv4 address, so one client keeps its
//! server, and steps on to another only when that one is not eligible.
//! `hash KEY [consistent]` chooses by a key of the request; see
//! [`super::hash`].
//!
//! Book: "The web server", section "Load balancing" (book/src/web-server.md).

use serde::{Deserialize, Serialize};

use super::hash::{MAX_TRIES, Ring, Visit, Walk, crc32};
use crate::units::Time;

/// How the group chooses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Smooth weighted round robin (nginx's default).
    #[default]
    RoundRobin,
    /// Fewest active connections per weight.
    LeastConn,
    /// The client's /24 (IPv4) chooses.
    IpHash,
    /// A key of the request chooses (`hash KEY [consistent]`).
    Hash,
}

impl Method {
    /// The directive's name (`round_robin` is nginx's default, no directive).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::RoundRobin => "round_robin",
            Method::LeastConn => "least_conn",
            Method::IpHash => "ip_hash",
            Method::Hash => "hash",
        }
    }

    /// Whether `backup` servers may be used with this method (nginx
    /// refuses them with `ip_hash` and `hash`).
    pub fn allows_backup(self) -> bool {
        matches!(self, Method::RoundRobin | Method::LeastConn)
    }
}

/// One `server` line of an `upstream` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub weight: u32,
    pub max_fails: u32,
    pub fail_timeout: Time,
    pub backup: bool,
    pub down: bool,
    /// 0: no limit.
    pub max_conns: u32,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            weight: 1,
            max_fails: 1,
            fail_timeout: Time::secs(10),
            backup: false,
            down: false,
            max_conns: 0,
        }
    }
}

/// One server's state, as nginx's `ngx_http_upstream_rr_peer_t` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub weight: i64,
    pub effective_weight: i64,
    pub current_weight: i64,
    pub conns: u32,
    pub max_conns: u32,
    pub fails: u32,
    pub max_fails: u32,
    /// Whole seconds.
    pub fail_timeout: u64,
    /// When the last failure was (whole seconds).
    pub accessed: u64,
    /// When the server was last failed or tried after a failure.
    pub checked: u64,
    pub down: bool,
    pub backup: bool,
}

/// Why a server was not eligible for this choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Already tried for this request.
    Tried,
    /// Marked `down`.
    Down,
    /// `max_fails` reached within `fail_timeout`.
    Failed,
    /// `max_conns` reached.
    Full,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Tried => "already tried for this request",
            Skip::Down => "marked down",
            Skip::Failed => "failed max_fails times within fail_timeout",
            Skip::Full => "at max_conns",
        }
    }
}

/// A group's servers and how it chooses.
#[derive(Debug, Clone)]
pub struct Group {
    pub method: Method,
    pub peers: Vec<Peer>,
    /// With `hash … consistent`: ketama's ring of the servers' points.
    pub ring: Option<Ring>,
}

impl Group {
    pub fn new(method: Method, servers: &[(String, ServerConfig)]) -> Group {
        Group {
            method,
            peers: servers
                .iter()
                .map(|(name, s)| Peer {
                    name: name.clone(),
                    weight: i64::from(s.weight.max(1)),
                    effective_weight: i64::from(s.weight.max(1)),
                    current_weight: 0,
                    conns: 0,
                    max_conns: s.max_conns,
                    fails: 0,
                    max_fails: s.max_fails,
                    fail_timeout: s.fail_timeout.0.as_secs(),
                    accessed: 0,
                    checked: 0,
                    down: s.down,
                    backup: s.backup,
                })
                .collect(),
            ring: None,
        }
    }

    /// With `hash … consistent`: build the ring from the servers'
    /// addresses as their `server` lines write them ("host:port").
    pub fn with_ring(mut self, addresses: &[String]) -> Group {
        let weights: Vec<u32> = self
            .peers
            .iter()
            .map(|p| u32::try_from(p.weight).unwrap_or(1))
            .collect();
        self.ring = Some(Ring::new(addresses, &weights));
        self
    }

    /// Why server `i` may not be chosen at `now` (seconds), if it may not.
    pub fn skip(&self, i: usize, tried: &[bool], now: u64) -> Option<Skip> {
        let p = &self.peers[i];
        if tried.get(i).copied().unwrap_or(false) {
            Some(Skip::Tried)
        } else if p.down {
            Some(Skip::Down)
        } else if p.max_fails > 0
            && p.fails >= p.max_fails
            && now.saturating_sub(p.checked) <= p.fail_timeout
        {
            Some(Skip::Failed)
        } else if p.max_conns > 0 && p.conns >= p.max_conns {
            Some(Skip::Full)
        } else {
            None
        }
    }

    /// Choose a server for one try of a request from `client` at `now`
    /// (seconds); `tried` marks the servers this request already tried.
    /// Primary servers first, then the backups; None: no live upstreams.
    pub fn choose(&mut self, tried: &[bool], now: u64, client: [u8; 3]) -> Option<usize> {
        self.choose_with(tried, now, client, None)
    }

    /// [`Group::choose`], with the request's `walk` for `hash` (without
    /// one, or with an empty key, `hash` is round robin, as in nginx).
    pub fn choose_with(
        &mut self,
        tried: &[bool],
        now: u64,
        client: [u8; 3],
        mut walk: Option<&mut Walk>,
    ) -> Option<usize> {
        for backup in [false, true] {
            let chosen = match self.method {
                Method::RoundRobin => self.round_robin(tried, now, backup, |_: &Peer| true),
                Method::LeastConn => self.least_conn(tried, now, backup),
                Method::IpHash if !backup => self.ip_hash(tried, now, client),
                Method::Hash if !backup => self.by_key(tried, now, walk.as_deref_mut()),
                // ip_hash and hash allow no backup servers (nginx refuses
                // the config).
                Method::IpHash | Method::Hash => None,
            };
            if let Some(i) = chosen {
                let p = &mut self.peers[i];
                p.conns += 1;
                if now.saturating_sub(p.checked) > p.fail_timeout {
                    p.checked = now;
                }
                return Some(i);
            }
        }
        None
    }

    /// Whether server `i` is in this pass (primaries, or backups) and may
    /// be chosen.
    fn eligible(&self, i: usize, tried: &[bool], now: u64, backup: bool) -> bool {
        self.peers[i].backup == backup && self.skip(i, tried, now).is_none()
    }

    /// `ngx_http_upstream_get_peer` over the servers `among` keeps.
    fn round_robin(
        &mut self,
        tried: &[bool],
        now: u64,
        backup: bool,
        among: impl Fn(&Peer) -> bool,
    ) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut total = 0;
        for i in 0..self.peers.len() {
            if !self.eligible(i, tried, now, backup) || !among(&self.peers[i]) {
                continue;
            }
            let current = {
                let p = &mut self.peers[i];
                p.current_weight += p.effective_weight;
                total += p.effective_weight;
                if p.effective_weight < p.weight {
                    p.effective_weight += 1;
                }
                p.current_weight
            };
            if best.is_none_or(|b| current > self.peers[b].current_weight) {
                best = Some(i);
            }
        }
        let b = best?;
        self.peers[b].current_weight -= total;
        Some(b)
    }

    /// One pass finds the fewest connections per weight and how many
    /// servers share it; only a tie runs round robin among the tied.
    fn least_conn(&mut self, tried: &[bool], now: u64, backup: bool) -> Option<usize> {
        // conns_a / weight_a < conns_b / weight_b, without division.
        let fewer =
            |a: &Peer, b: &Peer| i64::from(a.conns) * b.weight < i64::from(b.conns) * a.weight;
        let mut best: Option<usize> = None;
        let mut tied = 0;
        for i in 0..self.peers.len() {
            if !self.eligible(i, tried, now, backup) {
                continue;
            }
            match best {
                Some(b) if fewer(&self.peers[b], &self.peers[i]) => {}
                Some(b) if !fewer(&self.peers[i], &self.peers[b]) => tied += 1,
                _ => {
                    best = Some(i);
                    tied = 1;
                }
            }
        }
        let b = best?;
        if tied == 1 {
            return Some(b);
        }
        let (conns, weight) = (i64::from(self.peers[b].conns), self.peers[b].weight);
        self.round_robin(tried, now, backup, |p| {
            i64::from(p.conns) * weight == conns * p.weight
        })
    }

    /// The weights of the primary (not backup) servers, summed: what the
    /// hash methods take their modulus by.
    fn primary_weight(&self) -> u64 {
        self.peers
            .iter()
            .filter(|p| !p.backup)
            .map(|p| p.weight as u64)
            .sum()
    }

    /// `ngx_http_get_ip_hash_peer`: hash the client's first three octets;
    /// walk on with the hash while the server it names is not eligible
    /// (after 20 steps, plain round robin).
    fn ip_hash(&mut self, tried: &[bool], now: u64, client: [u8; 3]) -> Option<usize> {
        let total = self.primary_weight();
        if total == 0 {
            return None;
        }
        let mut hash: u64 = 89;
        for _ in 0..20 {
            for b in client {
                hash = (hash * 113 + u64::from(b)) % 6271;
            }
            let mut w = hash % total;
            let mut i = 0;
            for (n, p) in self.peers.iter().enumerate().filter(|(_, p)| !p.backup) {
                if w < p.weight as u64 {
                    i = n;
                    break;
                }
                w -= p.weight as u64;
            }
            if self.skip(i, tried, now).is_none() {
                return Some(i);
            }
        }
        self.round_robin(tried, now, false, |_: &Peer| true)
    }

    /// `hash`: by the walk's key, plain or consistent; round robin when
    /// there is no key, one server, or 20 misses.
    fn by_key(&mut self, tried: &[bool], now: u64, walk: Option<&mut Walk>) -> Option<usize> {
        let primaries = self.peers.iter().filter(|p| !p.backup).count();
        let Some(walk) = walk else {
            return self.round_robin(tried, now, false, |_: &Peer| true);
        };
        walk.visits.clear();
        walk.fell_back = false;
        if walk.key.is_empty() || primaries < 2 || walk.tries > MAX_TRIES {
            walk.fell_back = true;
            return self.round_robin(tried, now, false, |_: &Peer| true);
        }
        let chosen = if self.ring.is_some() {
            self.consistent(tried, now, walk)
        } else {
            self.plain_hash(tried, now, walk)
        };
        if chosen.is_none() {
            walk.fell_back = true;
            return self.round_robin(tried, now, false, |_: &Peer| true);
        }
        chosen
    }

    /// `ngx_http_upstream_get_hash_peer`: `(crc32([REHASH] KEY) >> 16) &
    /// 0x7fff` added to the previous sum, modulo the total weight.
    fn plain_hash(&mut self, tried: &[bool], now: u64, walk: &mut Walk) -> Option<usize> {
        let total = self.primary_weight();
        loop {
            let crc = if walk.rehash > 0 {
                let mut bytes = walk.rehash.to_string().into_bytes();
                bytes.extend_from_slice(walk.key.as_bytes());
                crc32(&bytes)
            } else {
                walk.crc32
            };
            let hash = (walk.hash as u32).wrapping_add((crc >> 16) & 0x7fff);
            walk.hash = u64::from(hash);
            walk.rehash += 1;
            let mut w = u64::from(hash) % total;
            let mut chosen = 0;
            for (i, p) in self.peers.iter().enumerate().filter(|(_, p)| !p.backup) {
                chosen = i;
                if w < p.weight as u64 {
                    break;
                }
                w -= p.weight as u64;
            }
            let skipped = self.skip(chosen, tried, now);
            walk.visits.push(Visit {
                at: walk.hash,
                value: u64::from(hash) % total,
                server: chosen,
                skipped,
            });
            if skipped.is_none() {
                return Some(chosen);
            }
            walk.tries += 1;
            if walk.tries > MAX_TRIES {
                return None;
            }
        }
    }

    /// `ngx_http_upstream_get_chash_peer`: the server of the ring point at
    /// the walk's position; on a miss, the next point.
    fn consistent(&mut self, tried: &[bool], now: u64, walk: &mut Walk) -> Option<usize> {
        let ring = self.ring.as_ref()?;
        let n = ring.points.len();
        if n == 0 {
            return None;
        }
        if !walk.placed {
            walk.hash = ring.find(walk.crc32) as u64;
            walk.placed = true;
        }
        loop {
            let at = (walk.hash % n as u64) as usize;
            let (value, server) = ring.points[at];
            let skipped = self.skip(server, tried, now);
            walk.visits.push(Visit {
                at: at as u64,
                value: u64::from(value),
                server,
                skipped,
            });
            if skipped.is_none() {
                // nginx runs its weighted round robin among the peers of
                // that address: one here, whose effective weight recovers.
                let p = &mut self.peers[server];
                if p.effective_weight < p.weight {
                    p.effective_weight += 1;
                }
                return Some(server);
            }
            walk.hash += 1;
            walk.tries += 1;
            if walk.tries > MAX_TRIES {
                return None;
            }
        }
    }

    /// A try on server `i` is over: `failed` as `proxy_next_upstream`
    /// counts it (`ngx_http_upstream_free_round_robin_peer`).
    pub fn finish(&mut self, i: usize, failed: bool, now: u64) {
        let single = self.peers.len() == 1;
        let p = &mut self.peers[i];
        p.conns = p.conns.saturating_sub(1);
        if single {
            // One server is never marked failed: there is nothing else.
            p.fails = 0;
            return;
        }
        if failed {
            p.fails += 1;
            p.accessed = now;
            p.checked = now;
            if p.max_fails > 0 {
                p.effective_weight -= p.weight / i64::from(p.max_fails);
            }
            p.effective_weight = p.effective_weight.max(0);
        } else if p.accessed < p.checked {
            // A success after the trial: the server is live again.
            p.fails = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group(method: Method, weights: &[u32]) -> Group {
        let servers: Vec<(String, ServerConfig)> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                (
                    ((b'a' + i as u8) as char).to_string(),
                    ServerConfig {
                        weight: w,
                        ..ServerConfig::default()
                    },
                )
            })
            .collect();
        Group::new(method, &servers)
    }

    fn pick(g: &mut Group, now: u64) -> Option<String> {
        let tried = vec![false; g.peers.len()];
        let i = g.choose(&tried, now, [203, 0, 113])?;
        g.finish(i, false, now);
        Some(g.peers[i].name.clone())
    }

    #[test]
    fn weights_5_1_1_give_nginxs_documented_order() {
        let mut g = group(Method::RoundRobin, &[5, 1, 1]);
        let seq: Vec<String> = (0..14).filter_map(|_| pick(&mut g, 0)).collect();
        assert_eq!(seq.concat(), "aabacaaaabacaa");
    }

    #[test]
    fn a_failed_server_is_skipped_for_fail_timeout_in_whole_seconds_then_tried_again() {
        let mut g = group(Method::RoundRobin, &[1, 1]);
        let tried = [false, false];
        let first = g.choose(&tried, 1, [0; 3]).expect("a server");
        assert_eq!(first, 0);
        g.finish(0, true, 1);
        for now in 1..=11 {
            assert_eq!(pick(&mut g, now).as_deref(), Some("b"), "at {now} s");
        }
        // 12 − 1 > 10: a trial request goes to a again; it succeeds.
        let seq: Vec<String> = (0..4).filter_map(|_| pick(&mut g, 12)).collect();
        assert!(seq.contains(&"a".to_string()), "{seq:?}");
        assert_eq!(g.peers[0].fails, 0);
    }

    #[test]
    fn all_servers_failed_is_no_live_upstreams_and_a_backup_takes_over_first() {
        let servers = vec![
            ("a".to_string(), ServerConfig::default()),
            (
                "spare".to_string(),
                ServerConfig {
                    backup: true,
                    ..ServerConfig::default()
                },
            ),
            ("b".to_string(), ServerConfig::default()),
        ];
        let mut g = Group::new(Method::RoundRobin, &servers);
        for i in [0, 2] {
            let tried = [false; 3];
            let _ = g.choose(&tried, 0, [0; 3]);
            g.finish(i, true, 0);
        }
        assert_eq!(pick(&mut g, 5).as_deref(), Some("spare"));
        g.peers[1].down = true;
        assert_eq!(pick(&mut g, 5), None);
    }

    #[test]
    fn least_conn_prefers_the_server_with_fewer_active_connections() {
        let mut g = group(Method::LeastConn, &[1, 1]);
        let tried = [false, false];
        let a = g.choose(&tried, 0, [0; 3]).expect("a server");
        // a is busy; the next goes to the other one, twice in a row.
        let b = g.choose(&tried, 0, [0; 3]).expect("a server");
        assert_ne!(a, b);
        g.finish(b, false, 0);
        assert_eq!(g.choose(&tried, 0, [0; 3]), Some(b));
    }

    #[test]
    fn ip_hash_keeps_a_client_on_one_server_and_moves_it_only_when_that_one_fails() {
        let mut g = group(Method::IpHash, &[1, 1, 1]);
        let tried = [false; 3];
        let first = g.choose(&tried, 0, [198, 51, 100]).expect("a server");
        g.finish(first, false, 0);
        for _ in 0..5 {
            let again = g.choose(&tried, 0, [198, 51, 100]).expect("a server");
            g.finish(again, false, 0);
            assert_eq!(again, first);
        }
        let i = g.choose(&tried, 0, [198, 51, 100]).expect("a server");
        g.finish(i, true, 0);
        let moved = g.choose(&tried, 0, [198, 51, 100]).expect("a server");
        assert_ne!(moved, first);
    }

    /// A group of servers a, b, c… at `127.0.0.1:PORT+i`, by `hash
    /// $request_uri` (consistent or not), with these weights and `down`.
    fn hashed(port: u16, weights: &[u32], down: Option<usize>, consistent: bool) -> Group {
        let mut g = group(Method::Hash, weights);
        if let Some(d) = down {
            g.peers[d].down = true;
        }
        if consistent {
            let addresses: Vec<String> = (0..weights.len())
                .map(|i| format!("127.0.0.1:{}", port + i as u16))
                .collect();
            g = g.with_ring(&addresses);
        }
        g
    }

    fn by_key(g: &mut Group, key: &str) -> String {
        let tried = vec![false; g.peers.len()];
        let mut walk = Walk::new(key.to_string());
        let i = g
            .choose_with(&tried, 0, [0; 3], Some(&mut walk))
            .expect("a server");
        g.finish(i, false, 0);
        g.peers[i].name.clone()
    }

    /// Keys and the server nginx 1.22.1 sent each to, measured with
    /// `upstream { hash $request_uri [consistent]; server 127.0.0.1:18081;
    /// server 127.0.0.1:18082 [PARAM]; server 127.0.0.1:18083; }` and
    /// `proxy_pass` to servers answering `a`, `b` and `c`.
    const URIS: [&str; 20] = [
        "/",
        "/notes",
        "/notes/1",
        "/notes/2",
        "/notes/3",
        "/notes/4",
        "/notes/5",
        "/notes/6",
        "/static/app.js",
        "/slow",
        "/notes?page=2",
        "/a",
        "/b",
        "/c",
        "/d",
        "/e",
        "/f",
        "/g",
        "/h",
        "/i",
    ];

    fn mapping(g: &mut Group) -> String {
        URIS.iter().map(|u| by_key(g, u)).collect()
    }

    #[test]
    fn hash_consistent_sends_each_uri_where_nginx_does() {
        let measured = "accaccbcbcaabacabcac";
        assert_eq!(
            mapping(&mut hashed(18081, &[1, 1, 1], None, true)),
            measured
        );
        // b down: only b's keys move, each to the next point's server.
        let b_down = "accaccccccaacacaacac";
        assert_eq!(
            mapping(&mut hashed(18081, &[1, 1, 1], Some(1), true)),
            b_down
        );
        for (before, after) in measured.chars().zip(b_down.chars()) {
            assert!(before == 'b' || before == after);
        }
        // weight=2 gives b twice the points.
        assert_eq!(
            mapping(&mut hashed(18081, &[1, 2, 1], None, true)),
            "bccbbbbcbbabbacabcac"
        );
    }

    #[test]
    fn plain_hash_sends_each_uri_where_nginx_does_and_rehashes_past_a_down_server() {
        assert_eq!(
            mapping(&mut hashed(18081, &[1, 1, 1], None, false)),
            "cbcbccaacccbcbabbbcb"
        );
        assert_eq!(
            mapping(&mut hashed(18081, &[1, 1, 1], Some(1), false)),
            "caccccaacccacaaaccca"
        );
    }

    #[test]
    fn hash_without_a_key_is_round_robin() {
        let mut g = hashed(18081, &[1, 1], None, true);
        let tried = [false, false];
        let mut walk = Walk::new(String::new());
        let first = g.choose_with(&tried, 0, [0; 3], Some(&mut walk));
        assert!(walk.fell_back);
        g.finish(first.expect("a server"), false, 0);
        let second = g.choose_with(&tried, 0, [0; 3], Some(&mut walk));
        assert_ne!(first, second, "round robin takes turns");
    }

    proptest! {
        /// Taking a server out of a consistent-hash group (down, or gone
        /// from the group) moves only the keys that were on it.
        #[test]
        fn a_server_taken_out_of_the_ring_moves_only_its_own_keys(
            weights in prop::collection::vec(1u32..4, 2..6),
            out in 0usize..6,
            keys in prop::collection::vec("/[a-z0-9/]{0,12}", 1..40),
            gone in any::<bool>(),
        ) {
            let out = out % weights.len();
            let mut whole = hashed(8000, &weights, None, true);
            let before: Vec<String> = keys.iter().map(|k| by_key(&mut whole, k)).collect();
            let mut less = if gone {
                // The group without it: the others keep their addresses
                // and so their points.
                let names: Vec<(String, ServerConfig)> = (0..weights.len())
                    .filter(|&i| i != out)
                    .map(|i| (
                        ((b'a' + i as u8) as char).to_string(),
                        ServerConfig { weight: weights[i], ..ServerConfig::default() },
                    ))
                    .collect();
                let addresses: Vec<String> = (0..weights.len())
                    .filter(|&i| i != out)
                    .map(|i| format!("127.0.0.1:{}", 8000 + i))
                    .collect();
                Group::new(Method::Hash, &names).with_ring(&addresses)
            } else {
                hashed(8000, &weights, Some(out), true)
            };
            let out_name = ((b'a' + out as u8) as char).to_string();
            for (k, was) in keys.iter().zip(&before) {
                let now = by_key(&mut less, k);
                prop_assert_ne!(&now, &out_name);
                if *was != out_name {
                    prop_assert_eq!(&now, was, "key {} moved", k);
                }
            }
        }

        /// Whatever fails when, no request is sent to a server that failed
        /// max_fails times less than fail_timeout ago, or to one marked down.
        #[test]
        fn no_request_goes_to_a_server_inside_its_fail_timeout(
            events in prop::collection::vec((0u64..3, any::<bool>()), 1..80),
            weights in prop::collection::vec(1u32..6, 2..5),
            down in 0usize..5,
            least in any::<bool>(),
        ) {
            let method = if least { Method::LeastConn } else { Method::RoundRobin };
            let mut g = group(method, &weights);
            if down < g.peers.len() { g.peers[down].down = true; }
            let mut now = 0;
            let mut failed_at: Vec<Option<u64>> = vec![None; g.peers.len()];
            for (gap, fails) in events {
                now += gap;
                let tried = vec![false; g.peers.len()];
                let Some(i) = g.choose(&tried, now, [0; 3]) else { continue };
                prop_assert!(!g.peers[i].down);
                if let Some(t) = failed_at[i] {
                    prop_assert!(now - t > g.peers[i].fail_timeout, "server {} failed at {} chosen at {}", i, t, now);
                }
                g.finish(i, fails, now);
                failed_at[i] = if fails { Some(now) } else { None };
            }
        }
    }
}
