//! Sign-in throttling: after too many wrong passwords for one username,
//! further attempts are refused with 429 until the window ends.
//!
//! ```text
//! attempt 1…5 wrong  ─▶ argon2 says no (each one counted)
//! attempt 6          ─▶ 429 Too Many Requests, Retry-After: 47   (no password is checked)
//! after the window   ─▶ counted from zero again
//! ```
//!
//! A password guesser needs many tries; a person needs a few. Counting
//! failures per username in a fixed window (django-axes and Django REST
//! framework's throttles work this way) caps the guesses at
//! `login_max_failures` per `login_window`, whatever the guesser's
//! address. The refusal is 429 with `Retry-After` in seconds (RFC 6585 §4,
//! RFC 9110 §10.2.3), and it comes before the password check, so a flood
//! of attempts does not buy the attacker argon2's cost on the server. A
//! correct password resets the count.
//!
//! Bounded: at most [`MAX_TRACKED`] usernames are tracked; when full, the
//! one whose window started first is forgotten to make room (an attacker
//! spraying usernames can only push out the oldest windows).
//!
//! What we simplify: per username only (production also counts per client
//! address), and in memory, so a restart forgets.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use std::collections::BTreeMap;

/// Usernames tracked at most.
pub const MAX_TRACKED: usize = 10_000;

/// Failures per username within the current window.
#[derive(Debug, Default)]
pub struct Throttle {
    /// username → (window start, seconds since 1970; failures in it).
    entries: BTreeMap<String, (u64, u32)>,
}

/// May this attempt go ahead?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go {
        failures: u32,
    },
    Wait {
        retry_after_secs: u64,
        failures: u32,
    },
}

impl Throttle {
    /// Judge an attempt at `now` for `username`.
    pub fn check(&self, username: &str, now: u64, window_secs: u64, max: u32) -> Verdict {
        match self.entries.get(username) {
            Some(&(start, failures)) if now < start + window_secs && failures >= max => {
                Verdict::Wait {
                    retry_after_secs: start + window_secs - now,
                    failures,
                }
            }
            Some(&(start, failures)) if now < start + window_secs => Verdict::Go { failures },
            _ => Verdict::Go { failures: 0 },
        }
    }

    /// Count a wrong password.
    pub fn failed(&mut self, username: &str, now: u64, window_secs: u64) {
        if !self.entries.contains_key(username)
            && self.entries.len() >= MAX_TRACKED
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (start, _))| *start)
                .map(|(name, _)| name.clone())
        {
            self.entries.remove(&oldest);
        }
        let entry = self.entries.entry(username.to_string()).or_insert((now, 0));
        if now >= entry.0 + window_secs {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// A correct password: start from zero.
    pub fn succeeded(&mut self, username: &str) {
        self.entries.remove(username);
    }

    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_window_waits_until_the_window_ends() {
        let mut t = Throttle::default();
        for i in 0..5 {
            assert_eq!(
                t.check("alice", 10 + i, 60, 5),
                Verdict::Go { failures: i as u32 }
            );
            t.failed("alice", 10 + i, 60);
        }
        assert_eq!(
            t.check("alice", 20, 60, 5),
            Verdict::Wait {
                retry_after_secs: 50,
                failures: 5
            }
        );
        assert_eq!(t.check("bob", 20, 60, 5), Verdict::Go { failures: 0 });
        assert_eq!(t.check("alice", 70, 60, 5), Verdict::Go { failures: 0 });
        t.succeeded("alice");
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn a_full_table_forgets_the_oldest_window() {
        let mut t = Throttle::default();
        for i in 0..MAX_TRACKED as u64 {
            t.failed(&format!("user{i}"), i, 60);
        }
        t.failed("newcomer", 99_999, 60);
        assert_eq!(t.tracked(), MAX_TRACKED);
        assert_eq!(t.check("user0", 1, 60, 1), Verdict::Go { failures: 0 });
        assert_eq!(
            t.check("newcomer", 99_999, 60, 1),
            Verdict::Wait {
                retry_after_secs: 60,
                failures: 1
            }
        );
    }
}
