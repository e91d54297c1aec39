//! `limit_req`: nginx's request rate limit, a leaky bucket per client.
//!
//! A zone (`limit_req_zone $binary_remote_addr zone=one:1m rate=2r/s`)
//! keeps, per key, how far that client is ahead of the rate: its
//! *excess*, in thousandths of a request. Each request adds one request
//! (1000) and the time since the key's last request takes away
//! `rate × elapsed` (the bucket leaks):
//!
//! ```text
//! excess = max(0, excess_then − rate·ms/1000 + 1000)      (all integers)
//!
//! excess > burst            → rejected: limit_req_status (503)
//! excess > delay threshold  → delayed (excess − threshold) / rate, then passed
//! otherwise                 → passed at once
//! ```
//!
//! The threshold is 0 by default (every request beyond the rate waits its
//! turn), `delay=N` lets N requests of the burst through at once, and
//! `nodelay` lets the whole burst through at once. A rejected request
//! leaves the bucket as it was; a delayed one is counted when it arrives,
//! not when it goes on. A key's first request starts its bucket empty.
//!
//! This is `ngx_http_limit_req_lookup` and `ngx_http_limit_req_account`
//! (nginx's src/http/modules/ngx_http_limit_req_module.c) in the same
//! integer arithmetic: rates in milli-requests per second (`30r/m` is
//! 30·1000/60 = 500), time in whole milliseconds, so a request exactly on
//! the boundary gets exactly nginx's answer. The module's documentation:
//! <https://nginx.org/en/docs/http/ngx_http_limit_req_module.html>.
//!
//! Book: "The web server", section "Rate limiting" (book/src/web-server.md).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::Size;

/// A rate as nginx writes it, `10r/s` or `30r/m`, kept as nginx keeps it:
/// milli-requests per second, truncated (`ctx->rate = rate * 1000 / scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRate {
    /// The number written.
    pub requests: u64,
    /// 1 for `r/s`, 60 for `r/m`.
    pub per_secs: u64,
}

impl LimitRate {
    pub fn parse(s: &str) -> Result<LimitRate, String> {
        let bad = || format!("`{s}` is not a rate; write it as nginx does, e.g. 10r/s or 30r/m");
        let t = s.trim();
        let (digits, per_secs) = if let Some(d) = t.strip_suffix("r/s") {
            (d, 1)
        } else if let Some(d) = t.strip_suffix("r/m") {
            (d, 60)
        } else {
            return Err(bad());
        };
        match digits.parse::<u64>() {
            // nginx refuses `rate=0r/s` ("invalid rate"); a rate so large
            // that its milli-requests overflow is refused as well.
            Ok(n) if n > 0 && n <= 1_000_000_000 => Ok(LimitRate {
                requests: n,
                per_secs,
            }),
            _ => Err(bad()),
        }
    }

    /// Milli-requests per second, as nginx computes it (never 0: the
    /// smallest rate, `1r/m`, is 16).
    pub fn milli_per_sec(self) -> i64 {
        (self.requests * 1000 / self.per_secs) as i64
    }
}

impl fmt::Display for LimitRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.per_secs == 60 { "m" } else { "s" };
        write!(f, "{}r/{unit}", self.requests)
    }
}

impl Serialize for LimitRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LimitRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LimitRate, D::Error> {
        let s = String::deserialize(d)?;
        LimitRate::parse(&s).map_err(serde::de::Error::custom)
    }
}

crate::units::schema_as_text!(LimitRate, "LimitRate", {
    "description": "limit_req_zone's rate, as nginx writes it: \"10r/s\" or \"30r/m\" (more than 0).",
    "type": "string",
    "pattern": "^\\s*[0-9]+r/[sm]\\s*$"
});

/// What a zone is keyed by. roundtrip knows one key, the one nginx's
/// documentation uses: the client's address in binary form.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum ZoneKey {
    /// `$binary_remote_addr`: 4 bytes for IPv4, 16 for IPv6.
    #[default]
    #[serde(rename = "$binary_remote_addr")]
    BinaryRemoteAddr,
}

impl fmt::Display for ZoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$binary_remote_addr")
    }
}

/// Bytes one state takes in a zone on a 64-bit machine (nginx docs: "One
/// megabyte zone can keep about 16 thousand 64-byte states").
pub const STATE_BYTES: u64 = 64;

/// `limit_req_zone KEY zone=NAME:SIZE rate=RATE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitReqZone {
    /// `zone=NAME`: what `limit_req` names.
    pub name: String,
    #[serde(default)]
    pub key: ZoneKey,
    /// `:SIZE`, the zone's memory: how many keys it remembers (size / 64).
    #[serde(default = "default_zone_size")]
    pub size: Size,
    pub rate: LimitRate,
}

/// A zone's memory when the lesson names none (`:1m`).
pub(super) fn default_zone_size() -> Size {
    Size(1024 * 1024)
}

/// How many keys a zone of `size` holds (at least one).
pub(super) fn zone_states(size: Size) -> usize {
    usize::try_from(size.0 / STATE_BYTES)
        .unwrap_or(usize::MAX)
        .max(1)
}

impl LimitReqZone {
    /// How many keys the zone holds.
    pub fn states(&self) -> usize {
        zone_states(self.size)
    }
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitReq {
    pub zone: String,
    /// Requests allowed beyond the rate before rejecting (0).
    #[serde(default)]
    pub burst: u64,
    /// Let the whole burst through without waiting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nodelay: bool,
    /// Let this many requests of the burst through without waiting; the
    /// rest wait (0, unless `nodelay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
}

impl LimitReq {
    /// The directive as nginx's configuration writes it.
    pub fn written(&self, rate: LimitRate) -> String {
        let mut s = format!("zone={} rate={rate} burst={}", self.zone, self.burst);
        if self.nodelay {
            s.push_str(" nodelay");
        } else if let Some(d) = self.delay {
            s.push_str(&format!(" delay={d}"));
        }
        s
    }

    /// `limit->burst`: milli-requests.
    fn burst_milli(&self) -> i64 {
        (self.burst.min(i64::MAX as u64 / 1000) * 1000) as i64
    }

    /// `limit->delay`: the excess, in milli-requests, that passes at once.
    fn delay_milli(&self) -> i64 {
        if self.nodelay {
            i64::MAX
        } else {
            (self.delay.unwrap_or(0).min(i64::MAX as u64 / 1000) * 1000) as i64
        }
    }
}

/// One key's bucket: its excess as its last counted request left it, and
/// when that was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Milli-requests beyond the rate.
    pub excess: i64,
    /// Milliseconds since the server started.
    pub last_ms: u64,
    /// Position in the zone's least-recently-used order.
    used: u64,
}

/// What the bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// The excess the key's last request left, if the zone knew the key.
    pub excess_before: Option<i64>,
    /// Milliseconds since then.
    pub elapsed_ms: u64,
    /// How much leaked away in that time (`rate × ms / 1000`).
    pub leaked: i64,
    /// The excess with this request counted.
    pub excess: i64,
}

/// The verdict of one `limit_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Goes on now.
    Passed,
    /// Waits this many milliseconds, then goes on.
    Delayed { ms: u64 },
    /// Over the burst: answered with `limit_req_status`.
    Rejected,
}

/// One zone's memory: a bucket per key, bounded by the zone's size. When
/// a new key finds it full, the least recently used keys go, as nginx's
/// `ngx_http_limit_req_expire` does it: first up to two that have been
/// quiet for a minute and leaked empty, and if that frees nothing, the
/// oldest whatever its state (that client starts again with an empty
/// bucket).
#[derive(Debug)]
pub struct Zone {
    pub rate: LimitRate,
    capacity: usize,
    buckets: HashMap<String, Bucket>,
    /// Least recently used first.
    order: BTreeMap<u64, String>,
    next_use: u64,
}

impl Zone {
    pub fn new(rate: LimitRate, capacity: usize) -> Zone {
        Zone {
            rate,
            capacity: capacity.max(1),
            buckets: HashMap::new(),
            order: BTreeMap::new(),
            next_use: 0,
        }
    }

    /// The bucket of `key`, if the zone remembers it.
    pub fn bucket(&self, key: &str) -> Option<Bucket> {
        self.buckets.get(key).copied()
    }

    /// How many keys the zone remembers.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The excess `key` would have with a request at `now_ms`, and whether
    /// that is over `burst`: `ngx_http_limit_req_lookup`'s arithmetic,
    /// nothing stored.
    pub fn measure(&self, key: &str, now_ms: u64) -> Measure {
        let Some(b) = self.buckets.get(key) else {
            // A new key's node starts with excess 0 (`lr->excess = 0`).
            return Measure {
                excess_before: None,
                elapsed_ms: 0,
                leaked: 0,
                excess: 0,
            };
        };
        // The paused and the monotonic clock never go back; nginx clamps a
        // negative interval to 0 all the same.
        let ms = now_ms.saturating_sub(b.last_ms);
        let ms_i = i64::try_from(ms).unwrap_or(i64::MAX);
        let leaked = self.rate.milli_per_sec().saturating_mul(ms_i) / 1000;
        let excess = b.excess.saturating_sub(leaked).saturating_add(1000).max(0);
        Measure {
            excess_before: Some(b.excess),
            elapsed_ms: ms,
            leaked,
            excess,
        }
    }

    /// Count a request that was not rejected: store its excess and time.
    pub fn account(&mut self, key: &str, now_ms: u64, m: &Measure) {
        let used = self.next_use;
        self.next_use += 1;
        if let Some(b) = self.buckets.get_mut(key) {
            self.order.remove(&b.used);
            b.excess = m.excess;
            // nginx moves `last` only when time has passed (`if (ms)`).
            if m.elapsed_ms > 0 {
                b.last_ms = now_ms;
            }
            b.used = used;
        } else {
            self.make_room(now_ms);
            self.buckets.insert(
                key.to_string(),
                Bucket {
                    excess: m.excess,
                    last_ms: now_ms,
                    used,
                },
            );
        }
        self.order.insert(used, key.to_string());
    }

    /// Mark a rejected request's key as just used, changing nothing else
    /// (nginx moves the node to the head of its queue on every lookup).
    pub fn touch(&mut self, key: &str) {
        let used = self.next_use;
        if let Some(b) = self.buckets.get_mut(key) {
            self.next_use += 1;
            self.order.remove(&b.used);
            b.used = used;
            self.order.insert(used, key.to_string());
        }
    }

    fn make_room(&mut self, now_ms: u64) {
        if self.buckets.len() < self.capacity {
            return;
        }
        // Up to two keys quiet for 60 s whose excess has leaked away.
        for _ in 0..2 {
            let Some((&used, key)) = self.order.iter().next() else {
                return;
            };
            let Some(b) = self.buckets.get(key) else {
                return;
            };
            let ms = now_ms.saturating_sub(b.last_ms);
            let leaked = self
                .rate
                .milli_per_sec()
                .saturating_mul(i64::try_from(ms).unwrap_or(i64::MAX))
                / 1000;
            if ms < 60_000 || b.excess - leaked > 0 {
                break;
            }
            let key = key.clone();
            self.order.remove(&used);
            self.buckets.remove(&key);
        }
        if self.buckets.len() >= self.capacity
            && let Some((_, key)) = self.order.pop_first()
        {
            self.buckets.remove(&key);
        }
    }
}

/// Judge one request against one `limit_req` and its zone, counting it
/// unless rejected. Returns the bucket's measure and the verdict.
pub fn decide(zone: &mut Zone, limit: &LimitReq, key: &str, now_ms: u64) -> (Measure, Verdict) {
    let m = zone.measure(key, now_ms);
    let v = judge(limit, zone.rate, &m);
    match v {
        Verdict::Rejected => zone.touch(key),
        _ => zone.account(key, now_ms, &m),
    }
    (m, v)
}

/// The verdict for a measured excess: over `burst` rejected (`NGX_BUSY`);
/// over the delay threshold, a wait of `(excess − threshold) · 1000 /
/// rate` ms (`ngx_http_limit_req_account`); else passed. A wait that
/// rounds down to 0 ms is a pass, as in nginx.
pub fn judge(limit: &LimitReq, rate: LimitRate, m: &Measure) -> Verdict {
    if m.excess > limit.burst_milli() {
        return Verdict::Rejected;
    }
    let threshold = limit.delay_milli();
    if m.excess <= threshold {
        return Verdict::Passed;
    }
    let ms = (m.excess - threshold).saturating_mul(1000) / rate.milli_per_sec();
    match u64::try_from(ms) {
        Ok(0) | Err(_) => Verdict::Passed,
        Ok(ms) => Verdict::Delayed { ms },
    }
}

/// Milli-requests as nginx logs them: `1.500`.
pub fn requests(milli: i64) -> String {
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(burst: u64, nodelay: bool, delay: Option<u64>) -> LimitReq {
        LimitReq {
            zone: "one".into(),
            burst,
            nodelay,
            delay,
        }
    }

    fn rate(s: &str) -> LimitRate {
        LimitRate::parse(s).expect("a rate")
    }

    #[test]
    fn rates_are_kept_in_milli_requests_truncated_as_nginx_does() {
        assert_eq!(rate("10r/s").milli_per_sec(), 10_000);
        assert_eq!(rate("30r/m").milli_per_sec(), 500);
        assert_eq!(rate("1r/m").milli_per_sec(), 16);
        assert_eq!(rate("2r/m").to_string(), "2r/m");
        for bad in ["0r/s", "10/s", "r/s", "-1r/s", "1.5r/s", "10r/h", ""] {
            assert!(LimitRate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn at_one_per_second_without_burst_the_next_request_passes_at_exactly_1000_ms() {
        let l = limit(0, false, None);
        let mut z = Zone::new(rate("1r/s"), 10);
        assert_eq!(decide(&mut z, &l, "a", 0).1, Verdict::Passed);
        // 999 ms later 0.001 requests have not leaked: excess 0.001 > burst 0.
        let (m, v) = decide(&mut z, &l, "a", 999);
        assert_eq!((m.excess, v), (1, Verdict::Rejected));
        // The rejection stored nothing: at 1000 ms the bucket is empty again.
        let (m, v) = decide(&mut z, &l, "a", 1000);
        assert_eq!((m.excess, v), (0, Verdict::Passed));
    }

    #[test]
    fn a_burst_is_delayed_one_interval_per_queued_request_then_rejected_past_burst() {
        // rate=2r/s burst=3: five requests at once.
        let l = limit(3, false, None);
        let mut z = Zone::new(rate("2r/s"), 10);
        let got: Vec<(i64, Verdict)> = (0..5)
            .map(|_| {
                let (m, v) = decide(&mut z, &l, "a", 0);
                (m.excess, v)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Verdict::Passed),
                (1000, Verdict::Delayed { ms: 500 }),
                (2000, Verdict::Delayed { ms: 1000 }),
                (3000, Verdict::Delayed { ms: 1500 }),
                (4000, Verdict::Rejected),
            ]
        );
    }

    #[test]
    fn nodelay_passes_the_whole_burst_at_once_and_delay_n_passes_n() {
        let mut z = Zone::new(rate("2r/s"), 10);
        let nodelay = limit(3, true, None);
        let v: Vec<Verdict> = (0..5).map(|_| decide(&mut z, &nodelay, "a", 0).1).collect();
        assert_eq!(
            v,
            [
                Verdict::Passed,
                Verdict::Passed,
                Verdict::Passed,
                Verdict::Passed,
                Verdict::Rejected
            ]
        );
        let mut z = Zone::new(rate("2r/s"), 10);
        let two = limit(3, false, Some(2));
        let v: Vec<Verdict> = (0..5).map(|_| decide(&mut z, &two, "a", 0).1).collect();
        assert_eq!(
            v,
            [
                Verdict::Passed,
                Verdict::Passed,
                Verdict::Passed,
                Verdict::Delayed { ms: 500 },
                Verdict::Rejected
            ]
        );
    }

    #[test]
    fn the_bucket_leaks_by_elapsed_ms_times_rate_in_integers() {
        // 30r/m is 500 milli-requests per second: 0.5 requests a second.
        let l = limit(5, true, None);
        let mut z = Zone::new(rate("30r/m"), 10);
        decide(&mut z, &l, "a", 0);
        let (m, _) = decide(&mut z, &l, "a", 0);
        assert_eq!(m.excess, 1000);
        // 1999 ms leak 999 (500·1999/1000, truncated): 1000 − 999 + 1000.
        let (m, _) = decide(&mut z, &l, "a", 1999);
        assert_eq!((m.leaked, m.excess), (999, 1001));
        assert_eq!(requests(m.excess), "1.001");
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let l = limit(0, false, None);
        let mut z = Zone::new(rate("1r/s"), 10);
        assert_eq!(decide(&mut z, &l, "a", 0).1, Verdict::Passed);
        assert_eq!(decide(&mut z, &l, "b", 0).1, Verdict::Passed);
        assert_eq!(decide(&mut z, &l, "a", 0).1, Verdict::Rejected);
    }

    #[test]
    fn a_full_zone_forgets_quiet_empty_keys_first_then_the_oldest() {
        let l = limit(5, true, None);
        let mut z = Zone::new(rate("1r/s"), 2);
        decide(&mut z, &l, "old", 0);
        decide(&mut z, &l, "busy", 59_000);
        decide(&mut z, &l, "busy", 59_000);
        // 60 s on, "old" is quiet and empty: it goes for "new".
        decide(&mut z, &l, "new", 60_000);
        assert_eq!(z.len(), 2);
        assert!(z.bucket("old").is_none() && z.bucket("busy").is_some());
        // Nothing quiet now: the least recently used ("busy") goes.
        decide(&mut z, &l, "newer", 60_001);
        assert!(z.bucket("busy").is_none() && z.bucket("new").is_some());
        assert_eq!(z.len(), 2);
    }

    proptest! {
        /// Whatever the arrivals, the stored excess never exceeds the
        /// burst, nothing is delayed longer than the burst takes to drain,
        /// and the zone never holds more keys than it has room for.
        #[test]
        fn the_bucket_stays_within_burst_and_the_zone_within_its_size(
            gaps in prop::collection::vec((0u64..1500, 0usize..4), 1..60),
            burst in 0u64..6,
            r in 1u64..20,
        ) {
            let l = limit(burst, false, None);
            let zr = LimitRate { requests: r, per_secs: 1 };
            let mut z = Zone::new(zr, 3);
            let mut now = 0;
            for (gap, k) in gaps {
                now += gap;
                let key = format!("k{k}");
                let (m, v) = decide(&mut z, &l, &key, now);
                prop_assert!(z.len() <= 3);
                match v {
                    Verdict::Rejected => prop_assert!(m.excess > (burst * 1000) as i64),
                    _ => {
                        prop_assert!(m.excess <= (burst * 1000) as i64);
                        prop_assert_eq!(z.bucket(&key).map(|b| b.excess), Some(m.excess));
                    }
                }
                if let Verdict::Delayed { ms } = v {
                    prop_assert!(ms <= burst * 1000 * 1000 / zr.milli_per_sec() as u64);
                }
            }
        }
    }
}
