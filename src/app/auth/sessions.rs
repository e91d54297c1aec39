//! Server-side sessions: a random id in a cookie, the rest in SQLite.
//!
//! ```text
//! sign-in:  id = 32 random bytes ─▶ INSERT INTO sessions (key_hash = SHA-256(id), user_id, expires_at)
//!           Set-Cookie: sessionid=<id>; HttpOnly; SameSite=Lax; Path=/
//! request:  Cookie: sessionid=<id> ─▶ SELECT … WHERE key_hash = SHA-256(id) ─▶ user, unless expired
//! sign-out: DELETE FROM sessions WHERE key_hash = SHA-256(id)   (the cookie is now worthless)
//! ```
//!
//! The cookie carries nothing but an unguessable id; who the user is and
//! when the session ends stay on the server, so signing out really ends
//! the session: a copy of the cookie kept by a thief stops working at once
//! (unlike a signed token, which holds until its `exp`). The table stores
//! the id's SHA-256, not the id, as a password table stores hashes: a
//! leaked copy of the database cannot be replayed as cookies. Looking the
//! hash up by equality in SQL leaks nothing useful through timing, since
//! an attacker cannot choose the hash's bytes.
//!
//! Expiry is read on the stack's clock: in a lesson, the paused clock
//! that starts at 2026-01-01T00:00:00Z, so "30 minutes later" is exact.
//!
//! What we simplify: no sliding expiry, no cleanup of expired rows, and
//! the session holds only the user (Django's holds a dict).
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::app::db::{Db, DbError, SqlValue};
use crate::app::entropy::{Entropy, EntropyError, token};
use crate::clock::Clock;
use crate::framework::cookies;
use crate::framework::middleware::{AuthBackend, Found};
use crate::framework::{Credential, Rejected, Request, User};
use crate::gateway::BoxFuture;

pub const INSERT: &str = "INSERT INTO sessions (key_hash, user_id, expires_at) VALUES (?1, ?2, ?3)";
pub const SELECT: &str = "SELECT users.id, users.username, users.roles, sessions.expires_at FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.key_hash = ?1";
pub const DELETE: &str = "DELETE FROM sessions WHERE key_hash = ?1";

/// Why a session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// The sessions table, and how its ids are made.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    entropy: Arc<dyn Entropy>,
    clock: Clock,
    pub ttl: Duration,
    pub cookie_name: String,
}

/// SHA-256 of a session id, in hex: what the table stores.
pub fn key_hash(id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A session just started: its id (for the cookie) and when it ends.
pub struct Started {
    pub id: String,
    pub expires_at: u64,
}

impl Sessions {
    pub fn new(
        db: Db,
        entropy: Arc<dyn Entropy>,
        clock: Clock,
        ttl: Duration,
        cookie_name: &str,
    ) -> Sessions {
        Sessions {
            db,
            entropy,
            clock,
            ttl,
            cookie_name: cookie_name.to_string(),
        }
    }

    /// Seconds since 1970 on the stack's clock.
    pub fn now_secs(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Start a session for `user_id`.
    pub async fn start(&self, user_id: i64) -> Result<Started, SessionError> {
        let id = token(self.entropy.as_ref())?;
        let expires_at = self.now_secs() + self.ttl.as_secs();
        let params = [
            SqlValue::Text(key_hash(&id)),
            SqlValue::Integer(user_id),
            SqlValue::Integer(i64::try_from(expires_at).unwrap_or(i64::MAX)),
        ];
        self.db.execute(INSERT, &params).await?;
        Ok(Started { id, expires_at })
    }

    /// End the session this id names; true when there was one.
    pub async fn end(&self, id: &str) -> Result<bool, DbError> {
        let changed = self
            .db
            .execute(DELETE, &[SqlValue::Text(key_hash(id))])
            .await?;
        Ok(changed.rows > 0)
    }

    /// The session id the request's cookie carries.
    pub fn cookie<'a>(&self, req: &'a Request) -> Option<&'a str> {
        req.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .find_map(|(_, v)| cookies::get(v, &self.cookie_name))
    }

    /// Who the session belongs to, if it is alive.
    async fn lookup(&self, id: &str) -> Found {
        let rows = match self.db.query(SELECT, &[SqlValue::Text(key_hash(id))]).await {
            Ok(rows) => rows,
            Err(e) => {
                return Found::Rejected(Rejected {
                    credential: Credential::Session,
                    reason: format!("the session could not be read ({e})"),
                });
            }
        };
        let rejected = |reason: String| {
            Found::Rejected(Rejected {
                credential: Credential::Session,
                reason,
            })
        };
        let Some(row) = rows.rows.into_iter().next() else {
            return rejected("no such session: it was ended, or never existed".to_string());
        };
        match row.as_slice() {
            [
                SqlValue::Integer(uid),
                SqlValue::Text(username),
                SqlValue::Text(roles),
                SqlValue::Integer(expires_at),
            ] => {
                let now = self.now_secs();
                let expires = u64::try_from(*expires_at).unwrap_or(0);
                if now >= expires {
                    return rejected(format!(
                        "the session expired {} s ago",
                        now.saturating_sub(expires)
                    ));
                }
                Found::User(User {
                    id: *uid,
                    username: username.clone(),
                    roles: super::parse_roles(roles),
                    via: Credential::Session,
                })
            }
            _ => rejected("the session row has an unexpected shape".to_string()),
        }
    }
}

/// The authentication backend that reads the session cookie.
pub struct SessionBackend(pub Sessions);

impl AuthBackend for SessionBackend {
    fn reads(&self) -> String {
        ["the cookie ", &self.0.cookie_name].concat()
    }

    fn authenticate<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            match self.0.cookie(req) {
                None => Found::Nothing,
                Some(id) => self.0.lookup(id).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_stores_a_sha256_not_the_id() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
