//! The notes app: the small business domain the lessons use, on a real
//! SQLite database.
//!
//! ```text
//! framework ─▶ home / notes_list / notes_get / notes_create ─▶ Db ─▶ SQLite
//! ```
//!
//! [`build`] opens an in-memory database, creates the `notes` table, seeds
//! it (directly with rusqlite, before any request, so seeding leaves no
//! trace events), and wires the routes and the middleware onto a
//! [`Framework`]. The same `Framework` serves WSGI and ASGI stacks.
//!
//! * [`db`]: the database handle; every statement is traced and waits the
//!   configured latency.
//! * [`notes`]: the handlers and the request validation.
//! * [`html`]: the HTML page and escaping.
//! * [`timed`]: endpoints that take time (`/slow`, `/cpu`, `/blocking`,
//!   `/threadpool`), for the sync-vs-async lessons.
//!
//! Book: "The framework" (book/src/framework.md).

pub mod db;
pub mod html;
pub mod notes;
pub mod timed;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, LESSON_EPOCH_SECS};
use crate::framework::middleware::{
    AccessLog, CacheControl, ConditionalGet, Directives, JsonBody, RequestId, SecurityHeaders,
};
use crate::framework::{Framework, Handler, Request, Response, RouteError};
use crate::units::Time;
use db::Db;

/// The middleware [`build`] installs, outermost first.
pub const MIDDLEWARE: [&str; 6] = [
    "request_id",
    "access_log",
    "conditional_get",
    "cache_control",
    "json_body",
    "security_headers",
];

/// The routes [`build`] installs: method, pattern, handler name.
pub const ROUTES: [(&str, &str, &str); 8] = [
    ("GET", "/", "home"),
    ("GET", "/notes", "notes_list"),
    ("POST", "/notes", "notes_create"),
    ("GET", "/notes/{id}", "notes_get"),
    ("GET", "/slow", "slow"),
    ("GET", "/cpu", "cpu"),
    ("GET", "/blocking", "blocking"),
    ("GET", "/threadpool", "threadpool"),
];

/// The schema, created before seeding.
const SCHEMA: &str =
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)";

/// How the notes app is set up; a lesson's `[stack.app]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The simulated round trip to the database, waited before every
    /// statement (default `2ms`, a database on the same network).
    pub db_latency: Time,
    /// The notes in the database before the first request.
    pub seed_notes: Vec<NoteSeed>,
}

/// One note to seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteSeed {
    pub title: String,
    #[serde(default)]
    pub body: String,
}

impl NoteSeed {
    fn new(title: &str, body: &str) -> NoteSeed {
        NoteSeed {
            title: title.to_string(),
            body: body.to_string(),
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            db_latency: Time(Duration::from_millis(2)),
            seed_notes: vec![
                NoteSeed::new(
                    "Welcome",
                    "This note lives in a real SQLite database, seeded before the first request.",
                ),
                NoteSeed::new("Shopping", "Milk, eggs, and coffee for tomorrow morning."),
                NoteSeed::new(
                    "Escaping matters",
                    "<script>alert(\"hi\")</script> shows as text on the page, and never runs.",
                ),
            ],
        }
    }
}

/// Why the app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("could not open or seed the notes database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the notes app has a bad route: {0}; this is a bug")]
    Route(#[from] RouteError),
}

/// Open and seed the database: untraced, before serving.
fn open_database(config: &AppConfig) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SCHEMA)?;
    {
        let mut insert = conn.prepare(notes::INSERT)?;
        for seed in &config.seed_notes {
            insert.execute((&seed.title, &seed.body))?;
        }
    }
    Ok(conn)
}

/// A handler that gets its own clone of the database handle.
fn with_db<F, Fut>(db: &Db, f: F) -> impl Handler + 'static
where
    F: Fn(Db, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let db = db.clone();
    move |req: Request| f(db.clone(), req)
}

/// Build the notes app for a lesson: its access log's clock starts at the
/// lesson epoch (2026-01-01T00:00:00Z).
pub fn build(config: &AppConfig) -> Result<Arc<Framework>, AppError> {
    build_with_clock(config, Clock::starting_at(LESSON_EPOCH_SECS))
}

/// Build the notes app with a given clock (`serve` passes [`Clock::real`]).
pub fn build_with_clock(config: &AppConfig, clock: Clock) -> Result<Arc<Framework>, AppError> {
    let db = Db::new(open_database(config)?, config.db_latency.0);
    let framework = Framework::builder()
        .route("GET", "/", "home", with_db(&db, notes::home))?
        .route(
            "GET",
            "/notes",
            "notes_list",
            with_db(&db, notes::notes_list),
        )?
        .route(
            "POST",
            "/notes",
            "notes_create",
            with_db(&db, notes::notes_create),
        )?
        .route(
            "GET",
            "/notes/{id}",
            "notes_get",
            with_db(&db, notes::notes_get),
        )?
        .route("GET", "/slow", "slow", timed::slow)?
        .route("GET", "/cpu", "cpu", timed::cpu)?
        .route("GET", "/blocking", "blocking", timed::blocking)?
        .route("GET", "/threadpool", "threadpool", timed::threadpool)?
        .middleware(RequestId::new())
        .middleware(AccessLog::new(clock))
        .middleware(ConditionalGet::new())
        .middleware(cache_policies()?)
        .middleware(JsonBody::new())
        .middleware(SecurityHeaders::new())
        .build();
    Ok(Arc::new(framework))
}

/// How long each page may be reused (book: "Caching: Cache-Control and
/// ETag"). Unsafe methods and errors get `no-store` from the middleware
/// itself; the timed endpoints have no policy.
///
/// * `/` and `/notes` change whenever anyone adds a note: a copy may be
///   kept, but is revalidated every time (`no-cache`), which with the ETag
///   costs a 304 when nothing changed.
/// * One note changes rarely here: the browser may reuse it for a minute
///   without asking.
/// * `private` everywhere: notes are a user's data, so no shared cache
///   (a CDN, a company proxy) may keep them.
fn cache_policies() -> Result<CacheControl, RouteError> {
    CacheControl::new()
        .route("GET", "/", Directives::private().no_cache())?
        .route("GET", "/notes", Directives::private().no_cache())?
        .route("GET", "/notes/{id}", Directives::private().max_age(60))
}

/// The middleware names, outermost first, for the stack diagram.
pub fn middleware_names() -> Vec<String> {
    MIDDLEWARE.iter().map(|s| s.to_string()).collect()
}

/// The handler names, in route order, for the stack diagram.
pub fn handler_names() -> Vec<String> {
    ROUTES.iter().map(|(_, _, h)| h.to_string()).collect()
}

#[cfg(test)]
mod tests;
