//! nginx-style sizes and times in configuration: `1m`, `8k`, `60s`, `500ms`.
//!
//! Scenario files write settings the way nginx and gunicorn documentation
//! does, and traces print them back the same way.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes, written `1024`, `8k` or `1m` (powers of 1024, as nginx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

/// A span of time, written `60s`, `500ms`, `2m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub Duration);

impl Size {
    pub fn parse(s: &str) -> Result<Size, String> {
        let s = s.trim();
        let (digits, mult) = match s.char_indices().last() {
            Some((i, 'k' | 'K')) => (&s[..i], 1024),
            Some((i, 'm' | 'M')) => (&s[..i], 1024 * 1024),
            Some((i, 'g' | 'G')) => (&s[..i], 1024 * 1024 * 1024),
            _ => (s, 1),
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(mult))
            .map(Size)
            .ok_or_else(|| format!("`{s}` is not a size; write e.g. 1024, 8k or 1m"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        const M: u64 = 1024 * 1024;
        if n >= M && n.is_multiple_of(M) {
            write!(f, "{}m", n / M)
        } else if n >= 1024 && n.is_multiple_of(1024) {
            write!(f, "{}k", n / 1024)
        } else {
            write!(f, "{n}")
        }
    }
}

impl Time {
    pub fn secs(s: u64) -> Time {
        Time(Duration::from_secs(s))
    }

    pub fn parse(s: &str) -> Result<Time, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{s}` is not a time; write e.g. 60s, 500ms or 2m"))?;
        let secs = |mult: u64| {
            n.checked_mul(mult)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("`{s}` is too long a time"))
        };
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "" | "s" => secs(1)?,
            "m" => secs(60)?,
            "h" => secs(3600)?,
            _ => return Err(format!("`{s}` has an unknown unit; use ms, s, m or h")),
        };
        Ok(Time(d))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

macro_rules! serde_via_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    N(u64),
                    S(String),
                }
                match Raw::deserialize(d)? {
                    Raw::N(n) => <$t>::parse(&n.to_string()).map_err(serde::de::Error::custom),
                    Raw::S(s) => <$t>::parse(&s).map_err(serde::de::Error::custom),
                }
            }
        }
    };
}
serde_via_string!(Size);
serde_via_string!(Time);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_sizes_parse_and_print_back() {
        assert_eq!(Size::parse("1m"), Ok(Size(1 << 20)));
        assert_eq!(Size::parse("8k").map(|s| s.to_string()), Ok("8k".into()));
        assert!(Size::parse("lots").is_err());
    }

    #[test]
    fn times_parse_with_units() {
        assert_eq!(Time::parse("500ms"), Ok(Time(Duration::from_millis(500))));
        assert_eq!(Time::parse("60s").map(|t| t.to_string()), Ok("60s".into()));
        assert!(Time::parse("5 parsecs").is_err());
    }
}
