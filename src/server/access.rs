//! Access rules: `allow` and `deny` by client address, as nginx's
//! ngx_http_access_module checks them.
//!
//! ```text
//! client address ─▶ rule 1? ─▶ rule 2? ─▶ … ─▶ no rule matched: allowed
//!                     │ match     │ match
//!                     ▼           ▼
//!               allow: goes on / deny: 403 Forbidden
//! ```
//!
//! The rules are checked in the order written and the first that matches
//! decides; a request that no rule matches is allowed. A rule names one
//! address (`deny 203.0.113.7`), a network in CIDR notation (`allow
//! 10.0.0.0/8`, `deny 2001:db8::/32`) or `all`. An IPv4 client that reaches
//! an IPv6 socket shows up as an IPv4-mapped address (`::ffff:10.1.2.3`);
//! nginx checks it against the IPv4 rules, and so does this.
//!
//! Where the rules come from follows nginx's inheritance: a location with
//! any `allow`/`deny` of its own uses only those; a location with none
//! uses the server's. `limit_except` gives a location a second set, used
//! for the methods it does not list (see [`super::limit_except`]).
//!
//! nginx checks access in its access phase, after the rewrite phase: a
//! `return` in the chosen location answers before any rule is looked at.
//!
//! Source: nginx docs, ngx_http_access_module; `ngx_http_access_handler`,
//! `ngx_http_access_merge_loc_conf` in ngx_http_access_module.c.
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a rule does with the addresses it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

/// The addresses a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// `all`: every address, IPv4 and IPv6.
    All,
    /// A network: the address with its host bits cleared, and how many
    /// leading bits must be equal (32 or 128 for one address).
    Net { addr: IpAddr, prefix: u8 },
}

/// One `allow` or `deny` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub who: Who,
}

impl Rule {
    /// Parse a rule as nginx.conf writes it, without the `;`:
    /// `allow 10.0.0.0/8`, `deny all`, `deny 2001:db8::1`.
    pub fn parse(written: &str) -> Result<Rule, String> {
        let mut words = written.split_whitespace();
        let action = match words.next() {
            Some("allow") => Action::Allow,
            Some("deny") => Action::Deny,
            _ => {
                return Err(format!(
                    "access rule `{written}` must start with `allow` or `deny`"
                ));
            }
        };
        let (Some(target), None) = (words.next(), words.next()) else {
            return Err(format!(
                "access rule `{written}` needs exactly one address, network (CIDR) or `all`"
            ));
        };
        let who = match target {
            "all" => Who::All,
            t => parse_net(t).map_err(|e| format!("access rule `{written}`: {e}"))?,
        };
        Ok(Rule { action, who })
    }

    /// Does this rule match the client's address?
    pub fn matches(&self, client: IpAddr) -> bool {
        match self.who {
            Who::All => true,
            Who::Net { addr, prefix } => match (addr, unmap(client)) {
                (IpAddr::V4(net), IpAddr::V4(c)) => mask4(u32::from(c), prefix) == u32::from(net),
                (IpAddr::V6(net), IpAddr::V6(c)) => mask6(u128::from(c), prefix) == u128::from(net),
                _ => false,
            },
        }
    }
}

/// `::ffff:a.b.c.d` is an IPv4 client (RFC 4291 §2.5.5.2); nginx matches
/// it against the IPv4 rules.
fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

fn mask4(bits: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask6(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

/// `10.0.0.0/8`, `203.0.113.7`, `2001:db8::/32`. Host bits set below the
/// prefix are cleared, as nginx does (it warns "low address bits … are
/// meaningless").
fn parse_net(text: &str) -> Result<Who, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("`/{p}`: the prefix length must be 0 to {max}")),
        },
    };
    let addr = match addr {
        IpAddr::V4(a) => IpAddr::V4(mask4(u32::from(a), prefix).into()),
        IpAddr::V6(a) => IpAddr::V6(mask6(u128::from(a), prefix).into()),
    };
    Ok(Who::Net { addr, prefix })
}

impl Rule {
    /// The directive and its argument, as a knob: (`deny`, `10.0.0.0/8`).
    pub fn directive(&self) -> (&'static str, String) {
        let action = match self.action {
            Action::Allow => "allow",
            Action::Deny => "deny",
        };
        let who = match self.who {
            Who::All => "all".to_string(),
            Who::Net { addr, prefix } if prefix == if addr.is_ipv4() { 32 } else { 128 } => {
                addr.to_string()
            }
            Who::Net { addr, prefix } => format!("{addr}/{prefix}"),
        };
        (action, who)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, who) = self.directive();
        write!(f, "{action} {who}")
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let written = String::deserialize(d)?;
        Rule::parse(&written).map_err(serde::de::Error::custom)
    }
}

crate::units::schema_as_text!(Rule, "AccessRule", {
    "description": "An nginx access rule: `allow` or `deny`, then an address, a network (CIDR) or `all`: \"allow 10.0.0.0/8\", \"deny all\".",
    "type": "string",
    "pattern": "^\\s*(allow|deny)\\s+\\S+\\s*$"
});

/// The first rule that matches, with its place in the list (0-based);
/// `None` when none does, and the request is allowed.
pub fn first_match(rules: &[Rule], client: IpAddr) -> Option<(usize, Rule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.matches(client))
        .map(|(i, r)| (i, *r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(written: &[&str]) -> Vec<Rule> {
        written
            .iter()
            .map(|w| Rule::parse(w).expect("a rule"))
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn decides(written: &[&str], client: &str) -> Option<String> {
        first_match(&rules(written), ip(client)).map(|(_, r)| r.to_string())
    }

    #[test]
    fn the_first_matching_rule_decides_not_the_most_specific() {
        let list = ["deny all", "allow 203.0.113.7"];
        assert_eq!(decides(&list, "203.0.113.7").as_deref(), Some("deny all"));
        let list = ["allow 203.0.113.7", "deny all"];
        assert_eq!(
            decides(&list, "203.0.113.7").as_deref(),
            Some("allow 203.0.113.7")
        );
        assert_eq!(decides(&list, "203.0.113.8").as_deref(), Some("deny all"));
    }

    #[test]
    fn no_matching_rule_means_allowed() {
        assert_eq!(decides(&["deny 10.0.0.0/8"], "192.0.2.1"), None);
        assert_eq!(decides(&[], "192.0.2.1"), None);
    }

    #[test]
    fn cidr_edges_are_inclusive_and_exact() {
        let list = ["deny 198.51.100.0/24"];
        assert!(decides(&list, "198.51.100.0").is_some());
        assert!(decides(&list, "198.51.100.255").is_some());
        assert!(decides(&list, "198.51.99.255").is_none());
        assert!(decides(&list, "198.51.101.0").is_none());
        assert!(decides(&["deny 0.0.0.0/0"], "255.255.255.255").is_some());
        assert!(decides(&["deny 10.0.0.1/32"], "10.0.0.2").is_none());
        assert!(decides(&["deny 10.0.0.0/31"], "10.0.0.1").is_some());
    }

    #[test]
    fn host_bits_below_the_prefix_are_cleared() {
        let r = Rule::parse("allow 10.1.2.3/8").expect("a rule");
        assert_eq!(r.to_string(), "allow 10.0.0.0/8");
        assert!(r.matches(ip("10.200.0.1")));
    }

    #[test]
    fn ipv6_networks_match_ipv6_clients_only() {
        let list = ["deny 2001:db8::/32"];
        assert!(decides(&list, "2001:db8:ffff::1").is_some());
        assert!(decides(&list, "2001:db9::1").is_none());
        assert!(decides(&list, "32.1.13.184").is_none());
        assert!(decides(&["deny ::1"], "::1").is_some());
        assert!(decides(&["deny ::1"], "127.0.0.1").is_none());
    }

    #[test]
    fn an_ipv4_mapped_client_is_checked_against_the_ipv4_rules() {
        assert!(decides(&["deny 203.0.113.0/24"], "::ffff:203.0.113.7").is_some());
        assert!(decides(&["deny ::ffff:203.0.113.7"], "::ffff:203.0.113.7").is_none());
    }

    #[test]
    fn all_matches_both_families() {
        assert!(decides(&["deny all"], "::1").is_some());
        assert!(decides(&["deny all"], "127.0.0.1").is_some());
    }

    #[test]
    fn bad_rules_are_refused_with_what_is_wrong() {
        for (bad, says) in [
            ("permit all", "must start with"),
            ("deny", "exactly one"),
            ("deny 1.2.3.4 5.6.7.8", "exactly one"),
            ("deny 10.0.0.0/33", "0 to 32"),
            ("deny ::/129", "0 to 128"),
            ("deny 10.0.0.0/x", "prefix length"),
            ("allow example.com", "not an IPv4 or IPv6"),
        ] {
            let e = Rule::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn rules_read_from_toml_as_nginx_writes_them() {
        #[derive(Deserialize)]
        struct T {
            access: Vec<Rule>,
        }
        let t: T = toml::from_str(r#"access = ["allow 10.0.0.0/8", "deny all"]"#).expect("toml");
        assert_eq!(
            t.access.iter().map(Rule::to_string).collect::<Vec<_>>(),
            ["allow 10.0.0.0/8", "deny all"]
        );
    }
}
