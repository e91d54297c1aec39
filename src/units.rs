//! nginx-style sizes, times and rates in configuration: `1m`, `8k`, `60s`,
//! `500ms`, `50/s`.
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

/// A rate of arrivals, written `50/s` or `3000/m` (nginx writes its
/// `limit_req` rates the same way, as `10r/s`, and that form works too).
/// Kept as requests per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

/// A rate of bytes, written `1k/s` or `100/s` (a size per second): how
/// fast a slow client uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteRate(pub Size);

impl ByteRate {
    pub fn parse(s: &str) -> Result<ByteRate, String> {
        let t = s.trim();
        let Some(size) = t.strip_suffix("/s") else {
            return Err(format!(
                "`{t}` is not a rate of bytes; write e.g. 1k/s or 100/s"
            ));
        };
        match Size::parse(size) {
            Ok(Size(0)) => Err("a rate of 0 bytes a second never ends; write e.g. 1k/s".into()),
            Ok(size) => Ok(ByteRate(size)),
            Err(_) => Err(format!(
                "`{t}` is not a rate of bytes; write e.g. 1k/s or 100/s"
            )),
        }
    }

    /// Bytes per second.
    pub fn per_second(self) -> u64 {
        self.0.0
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

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

impl Rate {
    /// Requests per second.
    pub fn per_second(self) -> f64 {
        self.0
    }

    pub fn parse(s: &str) -> Result<Rate, String> {
        let s = s.trim();
        let bad = || format!("`{s}` is not a rate; write e.g. 50/s or 3000/m");
        let (number, unit) = s.split_once('/').unwrap_or((s, "s"));
        let number = number.trim();
        let number = number.strip_suffix('r').unwrap_or(number);
        let per = match unit.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        // Digits and at most one decimal point: no exponents, no signs, no
        // `inf` or `NaN`, which Rust's float parser would also accept.
        let plain = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.matches('.').count() <= 1
            && number.chars().any(|c| c.is_ascii_digit());
        if !plain {
            return Err(bad());
        }
        let n: f64 = number.parse().map_err(|_| bad())?;
        Ok(Rate(n / per))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
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
serde_via_string!(ByteRate);

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            F(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Rate(n as f64)),
            Raw::F(n) => Rate::parse(&n.to_string()).map_err(serde::de::Error::custom),
            Raw::S(s) => Rate::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

// The lesson schema (`roundtrip schema`) describes each unit as the text
// it accepts: editors check the pattern and show the description.
macro_rules! schema_as_text {
    ($t:ty, $name:literal, $schema:tt) => {
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}
pub(crate) use schema_as_text;

schema_as_text!(Size, "Size", {
    "description": "A size in bytes, as nginx writes one: 1024, \"8k\", \"1m\" or \"1g\" (powers of 1024).",
    "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "pattern": "^\\s*[0-9]+[kKmMgG]?\\s*$" }
    ]
});

schema_as_text!(Time, "Time", {
    "description": "A span of time: \"500ms\", \"60s\", \"2m\" or \"1h\" (a bare number is seconds).",
    "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "pattern": "^\\s*[0-9]+(ms|s|m|h)?\\s*$" }
    ]
});

schema_as_text!(Rate, "Rate", {
    "description": "A rate of arrivals: \"50/s\", \"3000/m\", \"10r/s\" as nginx writes it, or a number per second.",
    "anyOf": [
        { "type": "number", "minimum": 0 },
        { "type": "string", "pattern": "^\\s*([0-9]+(\\.[0-9]*)?|\\.[0-9]+)r?\\s*(/\\s*[smh])?\\s*$" }
    ]
});

schema_as_text!(ByteRate, "ByteRate", {
    "description": "A rate of bytes, a size per second: \"1k/s\" or \"100/s\" (not 0).",
    "type": "string",
    "pattern": "^\\s*[0-9]+[kKmMgG]?/s\\s*$"
});

#[cfg(test)]
mod byte_rate_tests {
    use super::*;

    #[test]
    fn a_byte_rate_is_a_size_per_second() {
        assert_eq!(ByteRate::parse("1k/s").map(ByteRate::per_second), Ok(1024));
        assert_eq!(ByteRate::parse("100/s").map(ByteRate::per_second), Ok(100));
        assert_eq!(
            ByteRate::parse("1k/s").map(|r| r.to_string()),
            Ok("1k/s".into())
        );
        assert!(ByteRate::parse("1k").is_err());
        assert!(ByteRate::parse("0/s").is_err());
        assert!(ByteRate::parse("fast/s").is_err());
    }
}

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
    fn rates_parse_per_second_minute_and_in_nginx_form() {
        assert_eq!(Rate::parse("50/s"), Ok(Rate(50.0)));
        assert_eq!(Rate::parse("3000/m"), Ok(Rate(50.0)));
        assert_eq!(Rate::parse("10r/s"), Ok(Rate(10.0)));
        assert_eq!(Rate::parse("2.5/s"), Ok(Rate(2.5)));
        assert_eq!(Rate::parse("50"), Ok(Rate(50.0)));
        for bad in ["fast", "50/day", "-5/s", "1e9/s", "inf/s", "/s", "."] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_parse_with_units() {
        assert_eq!(Time::parse("500ms"), Ok(Time(Duration::from_millis(500))));
        assert_eq!(Time::parse("60s").map(|t| t.to_string()), Ok("60s".into()));
        assert!(Time::parse("5 parsecs").is_err());
    }
}
