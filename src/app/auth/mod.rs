//! Accounts: users with argon2-hashed passwords, server-side sessions,
//! and the views that sign in and out. The middleware that reads the
//! session on every request lives in the framework
//! (`framework::middleware::authentication`); this module gives it a
//! backend ([`sessions::SessionBackend`]).
//!
//! ```text
//! POST /login ─▶ SELECT … FROM users ─▶ argon2 verify ─▶ INSERT INTO sessions ─▶ Set-Cookie
//! GET /account  Cookie ─▶ authentication: SELECT … FROM sessions JOIN users ─▶ alice
//! POST /logout ─▶ DELETE FROM sessions ─▶ Set-Cookie: sessionid=; Max-Age=0
//! ```
//!
//! * [`passwords`]: hashing and checking with argon2id.
//! * [`sessions`]: the `sessions` table and the authentication backend.
//! * [`throttle`]: 429 after too many wrong passwords.
//! * [`tokens`]: signed bearer tokens (HS256 JWTs) and their backend.
//! * [`views`]: `/login`, `/logout`, `/account`, `/me`, `/admin`.
//!
//! A lesson turns accounts on with a `[stack.app.auth]` table ([`AuthConfig`]).
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

pub mod passwords;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod views;

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::framework::Role;
use crate::units::Time;

/// The schema of the accounts tables, created before seeding.
pub const SCHEMA: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, roles TEXT NOT NULL);
CREATE TABLE sessions (key_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), expires_at INTEGER NOT NULL);";

/// `[stack.app.auth]`: accounts, sessions and the authorization rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The users in the database before the first request.
    #[schemars(transform = no_redacted_default)]
    pub users: Vec<UserSeed>,
    /// How long a session lasts after sign-in, on the lesson's clock
    /// (default 30m; Django's `SESSION_COOKIE_AGE` is two weeks).
    pub session_ttl: Time,
    /// The session cookie's name (Django's `SESSION_COOKIE_NAME`).
    pub cookie_name: String,
    /// argon2id memory cost in KiB. Lessons default to 256 so that they
    /// run in milliseconds; `serve` uses OWASP's 19456 (19 MiB).
    pub argon2_memory_kib: u32,
    /// argon2id passes over memory (lessons 1; `serve` OWASP's 2).
    pub argon2_iterations: u32,
    /// Answer 404 instead of 403 when a user may not see a page or a note
    /// (RFC 9110 §15.5.4): they need not learn that it exists.
    pub hide_forbidden: bool,
    /// The HS256 key bearer tokens are signed with (shown as `[redacted]`
    /// in the trace). `serve` draws a random one.
    #[serde(serialize_with = "redacted")]
    #[schemars(transform = no_redacted_default)]
    pub token_secret: String,
    /// How long a bearer token holds after it is issued (default 15m).
    pub token_ttl: Time,
    /// Wrong passwords allowed per username within `login_window`
    /// (default 5); the next attempt gets 429.
    pub login_max_failures: u32,
    /// The window failures are counted in (default 1m).
    pub login_window: Time,
}

/// OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1.
pub const PRODUCTION_ARGON2_MEMORY_KIB: u32 = 19_456;
pub const PRODUCTION_ARGON2_ITERATIONS: u32 = 2;

/// One user to seed. The password is hashed before it is stored, and is
/// shown as `[redacted]` in the trace's copy of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub username: String,
    #[serde(serialize_with = "redacted")]
    pub password: String,
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// The lesson schema's default of a field the trace redacts would be
/// `[redacted]`, which is not the default: the schema gives none.
fn no_redacted_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

fn redacted<S: Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(crate::trace::redact::REDACTED)
}

impl UserSeed {
    fn new(username: &str, password: &str, roles: &[Role]) -> UserSeed {
        UserSeed {
            username: username.to_string(),
            password: password.to_string(),
            roles: roles.to_vec(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            users: vec![
                UserSeed::new("alice", "wonderland", &[Role::Editor]),
                UserSeed::new("bob", "builder", &[Role::Viewer]),
                UserSeed::new("ada", "lovelace", &[Role::Admin]),
            ],
            session_ttl: Time(Duration::from_secs(30 * 60)),
            cookie_name: "sessionid".to_string(),
            argon2_memory_kib: 256,
            argon2_iterations: 1,
            hide_forbidden: false,
            token_secret: "a lesson's secret: never use a fixed key in production".to_string(),
            token_ttl: Time(Duration::from_secs(15 * 60)),
            login_max_failures: 5,
            login_window: Time(Duration::from_secs(60)),
        }
    }
}

/// Real traffic gets real costs and a real key: OWASP's argon2id
/// parameters, and a token secret drawn from the system's generator
/// (a lesson's fixed key is printed in its file for all to read).
pub fn harden_for_serve(auth: &mut AuthConfig) -> Result<(), crate::app::entropy::EntropyError> {
    auth.argon2_memory_kib = PRODUCTION_ARGON2_MEMORY_KIB;
    auth.argon2_iterations = PRODUCTION_ARGON2_ITERATIONS;
    auth.token_secret = crate::app::entropy::token(&crate::app::entropy::SystemEntropy::new())?;
    Ok(())
}

/// Roles as the `users.roles` column stores them: `editor,viewer`.
pub fn roles_column(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The `users.roles` column read back; unknown names are dropped (deny by
/// default: a role nobody defined grants nothing).
pub fn parse_roles(column: &str) -> Vec<Role> {
    column
        .split(',')
        .filter_map(|r| Role::parse(r.trim()))
        .collect()
}
