//! Wall-clock time for `Date` headers, read from tokio's clock.
//!
//! A lesson starts at a fixed instant (2026-01-01T00:00:00Z) and its clock
//! is paused, so every `Date` a lesson shows is the same on every run;
//! `serve` starts at the real time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// 2026-01-01T00:00:00Z, where every lesson's clock starts.
pub const LESSON_EPOCH_SECS: u64 = 1_767_225_600;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall_at_start: SystemTime,
    start: Instant,
}

impl Clock {
    /// A clock that reads `epoch_secs` at the moment of creation.
    pub fn starting_at(epoch_secs: u64) -> Clock {
        Clock {
            wall_at_start: UNIX_EPOCH + Duration::from_secs(epoch_secs),
            start: Instant::now(),
        }
    }

    /// A clock that reads the real time.
    pub fn real() -> Clock {
        Clock {
            wall_at_start: SystemTime::now(),
            start: Instant::now(),
        }
    }

    pub fn now(&self) -> SystemTime {
        self.wall_at_start + self.start.elapsed()
    }

    /// Whole seconds since 1970: nginx's `ngx_time()`.
    pub fn unix_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// `Date: Thu, 01 Jan 2026 00:00:00 GMT` (RFC 9110 §5.6.7).
    pub fn http_date(&self) -> String {
        httpdate::fmt_http_date(self.now())
    }

    /// RFC 3339 form of the start instant, for trace metadata.
    pub fn started_at(&self) -> String {
        let secs = self
            .wall_at_start
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        rfc3339(secs)
    }
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_epoch_is_new_year_2026() {
        assert_eq!(rfc3339(LESSON_EPOCH_SECS), "2026-01-01T00:00:00Z");
    }

    #[tokio::test(start_paused = true)]
    async fn date_header_follows_the_paused_clock() {
        let clock = Clock::starting_at(LESSON_EPOCH_SECS);
        assert_eq!(clock.http_date(), "Thu, 01 Jan 2026 00:00:00 GMT");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(clock.http_date(), "Thu, 01 Jan 2026 00:01:01 GMT");
    }
}
