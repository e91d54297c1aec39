//! `limit_conn`: how many requests one client may have in progress at once.
//!
//! `limit_conn_zone $binary_remote_addr zone=addr:1m` counts, per key, the
//! connections that have a request in progress: nginx counts a connection
//! once its request head has been read, and stops counting it when that
//! request is finished, so a kept-alive connection waiting for its next
//! request does not count. `limit_conn addr 2` refuses the third with
//! `limit_conn_status` (503). A key whose count drops to 0 leaves the
//! zone; a zone too full for a new key refuses that request the same way.
//!
//! This is `ngx_http_limit_conn_handler` and its pool cleanup (nginx's
//! src/http/modules/ngx_http_limit_conn_module.c); documentation:
//! <https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html>.
//!
//! Book: "The web server", section "Rate limiting" (book/src/web-server.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::limit_req::{ZoneKey, default_zone_size, zone_states};
use crate::units::Size;

/// `limit_conn_zone KEY zone=NAME:SIZE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitConnZone {
    pub name: String,
    #[serde(default)]
    pub key: ZoneKey,
    /// The zone's memory: how many keys it can count at once (size / 64).
    #[serde(default = "default_zone_size")]
    pub size: Size,
}

impl LimitConnZone {
    /// How many keys the zone counts at once.
    pub fn states(&self) -> usize {
        zone_states(self.size)
    }
}

/// `limit_conn ZONE NUMBER`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitConn {
    pub zone: String,
    /// Requests in progress allowed per key.
    pub conn: u64,
}

/// One zone's counts, shared by every connection of the server.
#[derive(Debug, Clone)]
pub struct ConnZone {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug)]
struct Counts {
    capacity: usize,
    by_key: HashMap<String, u64>,
}

/// What the zone said about one request.
#[derive(Debug)]
pub enum Admit {
    /// Counted: the hold keeps it counted until it is dropped, when the
    /// request is finished. `active` includes this request.
    Counted { hold: ConnHold, active: u64 },
    /// `active` requests of this key are in progress already.
    Over { active: u64 },
    /// The zone has no room for another key.
    ZoneFull,
}

impl ConnZone {
    pub fn new(capacity: usize) -> ConnZone {
        ConnZone {
            inner: Arc::new(Mutex::new(Counts {
                capacity: capacity.max(1),
                by_key: HashMap::new(),
            })),
        }
    }

    /// Count one more request of `key` unless `limit` are in progress.
    pub fn admit(&self, key: &str, limit: u64) -> Admit {
        // A poisoned lock means a panic elsewhere already; the counts are
        // plain integers, still consistent, so carry on with them.
        let mut counts = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let full = counts.by_key.len() >= counts.capacity;
        let active = match counts.by_key.get_mut(key) {
            Some(n) if *n >= limit => return Admit::Over { active: *n },
            Some(n) => {
                *n += 1;
                *n
            }
            None if full => return Admit::ZoneFull,
            None => {
                counts.by_key.insert(key.to_string(), 1);
                1
            }
        };
        Admit::Counted {
            hold: ConnHold {
                zone: self.clone(),
                key: key.to_string(),
            },
            active,
        }
    }

    /// Requests of `key` in progress.
    pub fn active(&self, key: &str) -> u64 {
        let counts = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        counts.by_key.get(key).copied().unwrap_or(0)
    }
}

/// One counted request; dropping it stops counting it.
#[derive(Debug)]
pub struct ConnHold {
    zone: ConnZone,
    key: String,
}

impl Drop for ConnHold {
    fn drop(&mut self) {
        let mut counts = self.zone.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.by_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_limit_is_refused_until_one_in_progress_finishes() {
        let z = ConnZone::new(10);
        let Admit::Counted { hold: first, .. } = z.admit("a", 2) else {
            panic!("the first is counted")
        };
        let Admit::Counted {
            hold: _second,
            active,
        } = z.admit("a", 2)
        else {
            panic!("the second is counted")
        };
        assert_eq!(active, 2);
        assert!(matches!(z.admit("a", 2), Admit::Over { active: 2 }));
        // Another client has its own count.
        assert!(matches!(z.admit("b", 2), Admit::Counted { active: 1, .. }));
        drop(first);
        assert_eq!(z.active("a"), 1);
        assert!(matches!(z.admit("a", 2), Admit::Counted { active: 2, .. }));
    }

    #[test]
    fn a_key_leaves_the_zone_at_zero_and_a_full_zone_refuses_new_keys() {
        let z = ConnZone::new(1);
        let Admit::Counted { hold, .. } = z.admit("a", 5) else {
            panic!("counted")
        };
        assert!(matches!(z.admit("b", 5), Admit::ZoneFull));
        drop(hold);
        assert_eq!(z.active("a"), 0);
        assert!(matches!(z.admit("b", 5), Admit::Counted { .. }));
    }
}
