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
//! * [`auth`]: users, argon2 passwords, sessions and the account views,
//!   when a lesson has `[stack.app.auth]`.
//! * [`entropy`]: where session ids and salts get their randomness.
//! * [`timed`]: endpoints that take time (`/slow`, `/cpu`, `/blocking`,
//!   `/threadpool`), for the sync-vs-async lessons.
//!
//! Book: "The framework" (book/src/framework.md).

pub mod auth;
pub mod chat;
pub mod db;
pub mod entropy;
pub mod faults;
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
    Access, AccessLog, Authentication, Authorization, AuthorizationConfig, CacheControl,
    ConditionalGet, Cors, CorsConfig, Csrf, Directives, JsonBody, Middleware, RequestId, Rule,
    SecurityHeaders,
};
use crate::framework::router::Router;
use crate::framework::{
    Framework, FrameworkBuilder, FrameworkConfig, Handler, IntoOutcome, Request, Response, Role,
    RouteError,
};
use crate::units::Time;
use auth::AuthConfig;
use auth::sessions::{SessionBackend, Sessions};
use auth::tokens::{BearerBackend, Tokens};
use auth::views::{self, Accounts};
use db::Db;
use entropy::Entropy;

/// The middleware [`build`] installs, outermost first.
pub const MIDDLEWARE: [&str; 6] = [
    "request_id",
    "access_log",
    "conditional_get",
    "cache_control",
    "json_body",
    "security_headers",
];

/// The middleware a lesson with `[stack.app.auth]` gets by default:
/// security headers outside the refusals, so a 401 carries them too.
pub const AUTH_MIDDLEWARE: [MiddlewareName; 7] = [
    MiddlewareName::RequestId,
    MiddlewareName::AccessLog,
    MiddlewareName::SecurityHeaders,
    MiddlewareName::JsonBody,
    MiddlewareName::Authentication,
    MiddlewareName::Csrf,
    MiddlewareName::Authorization,
];

/// A middleware a lesson can put in its onion (`[stack.app] middleware`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MiddlewareName {
    RequestId,
    AccessLog,
    ConditionalGet,
    CacheControl,
    JsonBody,
    SecurityHeaders,
    Authentication,
    Csrf,
    Authorization,
    Cors,
}

impl MiddlewareName {
    pub fn as_str(self) -> &'static str {
        match self {
            MiddlewareName::RequestId => "request_id",
            MiddlewareName::AccessLog => "access_log",
            MiddlewareName::ConditionalGet => "conditional_get",
            MiddlewareName::CacheControl => "cache_control",
            MiddlewareName::JsonBody => "json_body",
            MiddlewareName::SecurityHeaders => "security_headers",
            MiddlewareName::Authentication => "authentication",
            MiddlewareName::Csrf => "csrf",
            MiddlewareName::Authorization => "authorization",
            MiddlewareName::Cors => "cors",
        }
    }
}

/// The routes [`build`] installs: method, pattern, handler name.
pub const ROUTES: [(&str, &str, &str); 9] = [
    ("GET", "/", "home"),
    ("GET", "/notes", "notes_list"),
    ("POST", "/notes", "notes_create"),
    ("GET", "/notes/{id}", "notes_get"),
    ("GET", "/slow", "slow"),
    ("GET", "/cpu", "cpu"),
    ("GET", "/blocking", "blocking"),
    ("GET", "/threadpool", "threadpool"),
    ("GET", "/chat", "chat_page"),
];

/// The schema, created before seeding.
const SCHEMA: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, owner_id INTEGER)";

/// How the notes app is set up; a lesson's `[stack.app]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The simulated round trip to the database, waited before every
    /// statement (default `2ms`, a database on the same network).
    pub db_latency: Time,
    /// The notes in the database before the first request.
    pub seed_notes: Vec<NoteSeed>,
    /// The middleware onion, outermost first. Default: the six of
    /// [`MIDDLEWARE`], or the seven of [`AUTH_MIDDLEWARE`] when `auth` is
    /// set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middleware: Option<Vec<MiddlewareName>>,
    /// Accounts, sessions and authorization (`[stack.app.auth]`); without
    /// it the app has no users and every route is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Which other origins' pages may read the app's answers
    /// (`[stack.app.cors]`); without it there is no cors middleware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsConfig>,
    /// Failures on demand (`[[stack.app.fault]]`): a handler raises, waits
    /// on a slow service, or meets a broken database. See [`faults`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fault: Vec<faults::Fault>,
}

/// One note to seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteSeed {
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// The username of the note's owner (only with `[stack.app.auth]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl NoteSeed {
    fn new(title: &str, body: &str) -> NoteSeed {
        NoteSeed {
            title: title.to_string(),
            body: body.to_string(),
            owner: None,
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
            middleware: None,
            auth: None,
            cors: None,
            fault: Vec::new(),
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
    #[error("could not hash the seeded passwords: {0}")]
    Password(#[from] auth::passwords::HashError),
    #[error("middleware `{0}` needs a [stack.app.auth] table")]
    NeedsAuth(&'static str),
    #[error("middleware `cors` needs a [stack.app.cors] table")]
    NeedsCors,
    #[error("[stack.app.cors]: {0}")]
    Cors(#[from] crate::framework::middleware::cors::CorsConfigError),
    #[error("note `{title}` is owned by `{owner}`, who is not among [stack.app.auth] users")]
    UnknownOwner { title: String, owner: String },
}

/// Open and seed the database: untraced, before serving.
fn open_database(config: &AppConfig, entropy: &dyn Entropy) -> Result<Connection, AppError> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SCHEMA)?;
    if let Some(auth) = &config.auth {
        conn.execute_batch(auth::SCHEMA)?;
        let argon2 = auth::passwords::hasher(auth.argon2_memory_kib, auth.argon2_iterations)?;
        let mut insert =
            conn.prepare("INSERT INTO users (username, password_hash, roles) VALUES (?1, ?2, ?3)")?;
        for user in &auth.users {
            let hash = auth::passwords::hash(&argon2, &user.password, entropy)?;
            insert.execute((&user.username, &hash, auth::roles_column(&user.roles)))?;
        }
    }
    {
        let mut insert = conn.prepare(notes::INSERT_OWNED)?;
        for seed in &config.seed_notes {
            let owner: Option<i64> = match &seed.owner {
                None => None,
                Some(name) => Some(
                    conn.query_row("SELECT id FROM users WHERE username = ?1", [name], |r| {
                        r.get(0)
                    })
                    .map_err(|_| AppError::UnknownOwner {
                        title: seed.title.clone(),
                        owner: name.clone(),
                    })?,
                ),
            };
            insert.execute((&seed.title, &seed.body, owner))?;
        }
    }
    Ok(conn)
}

/// A handler that gets its own clone of the database handle.
fn with_db<F, Fut>(db: &Db, f: F) -> impl Handler + 'static
where
    F: Fn(Db, Request) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoOutcome,
{
    let db = db.clone();
    move |req: Request| f(db.clone(), req)
}

/// Build the notes app for a lesson: its access log's clock starts at the
/// lesson epoch (2026-01-01T00:00:00Z); ids and salts come from `seed`.
pub fn build(config: &AppConfig, seed: u64) -> Result<Arc<Framework>, AppError> {
    build_with(
        config,
        &FrameworkConfig::default(),
        Clock::starting_at(LESSON_EPOCH_SECS),
        Arc::new(entropy::Seeded::new(seed)),
    )
}

/// Who may use each route of the notes app, with `[stack.app.auth]`.
fn access(method: &str, pattern: &str) -> Access {
    let public = Access {
        rule: Rule::Public,
        page: false,
    };
    let writers = Rule::AnyRole(vec![Role::Editor, Role::Admin]);
    match (method, pattern) {
        ("GET", "/account") => Access {
            rule: Rule::LoggedIn,
            page: true,
        },
        ("GET", "/me") => Access {
            rule: Rule::LoggedIn,
            page: false,
        },
        ("GET", "/admin") => Access {
            rule: Rule::AnyRole(vec![Role::Admin]),
            page: true,
        },
        ("POST", "/notes") | ("PUT", "/notes/{id}") | ("DELETE", "/notes/{id}") => Access {
            rule: writers,
            page: false,
        },
        _ => public,
    }
}

/// Adds routes to the framework and, beside each, its rule to the policy
/// the authorization middleware reads: one list, so no route can be
/// added without a rule.
struct Routes {
    builder: FrameworkBuilder,
    policy: Router<Access>,
    /// The lesson's faults, put around the handlers they name.
    faults: Vec<faults::Fault>,
    db: Db,
}

impl Routes {
    fn add(
        mut self,
        method: &str,
        pattern: &str,
        name: &'static str,
        handler: impl Handler + 'static,
    ) -> Result<Routes, AppError> {
        self.policy
            .route(method, pattern, access(method, pattern))?;
        let mine: Vec<faults::Fault> = self
            .faults
            .iter()
            .filter(|f| f.handler == name)
            .cloned()
            .collect();
        self.builder = if mine.is_empty() {
            self.builder.route(method, pattern, name, handler)?
        } else {
            let faulty = faults::Faulty::new(handler, name, mine, self.db.clone());
            self.builder.route(method, pattern, name, faulty)?
        };
        Ok(self)
    }
}

/// A handler that gets the shared account state.
fn with_accounts<F, Fut>(accounts: &Arc<Accounts>, f: F) -> impl Handler + 'static
where
    F: Fn(Arc<Accounts>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let accounts = accounts.clone();
    move |req: Request| f(accounts.clone(), req)
}

/// The middleware this configuration puts in the onion, outermost first.
/// With `[stack.app.cors]`, `cors` goes right inside `security_headers`:
/// a preflight is logged and gets the security headers, it is answered
/// before any check that needs credentials (a preflight carries none), and
/// every answer from inside, a 401 or a 403 too, gets its CORS fields so
/// the page can read it.
pub fn onion(config: &AppConfig) -> Vec<MiddlewareName> {
    let mut onion = match (&config.middleware, &config.auth) {
        (Some(list), _) => return list.clone(),
        (None, Some(_)) => AUTH_MIDDLEWARE.to_vec(),
        (None, None) => vec![
            MiddlewareName::RequestId,
            MiddlewareName::AccessLog,
            MiddlewareName::ConditionalGet,
            MiddlewareName::CacheControl,
            MiddlewareName::JsonBody,
            MiddlewareName::SecurityHeaders,
        ],
    };
    if config.cors.is_some() {
        let at = onion
            .iter()
            .position(|m| *m == MiddlewareName::SecurityHeaders)
            .map_or(onion.len(), |i| i + 1);
        onion.insert(at, MiddlewareName::Cors);
    }
    onion
}

/// Build the notes app with a given clock and source of randomness
/// (`serve` passes [`Clock::real`] and the system's generator).
pub fn build_with(
    config: &AppConfig,
    framework: &FrameworkConfig,
    clock: Clock,
    entropy: Arc<dyn Entropy>,
) -> Result<Arc<Framework>, AppError> {
    let db = open_db(config, entropy.as_ref())?;
    build_on(db, config, framework, clock, entropy)
}

/// The app's database, created, migrated and seeded: one per stack, so
/// that every app server instance of an upstream group shares it, as
/// instances behind a load balancer share their database server.
pub fn open_db(config: &AppConfig, entropy: &dyn Entropy) -> Result<Db, AppError> {
    Ok(Db::new(
        open_database(config, entropy)?,
        config.db_latency.0,
    ))
}

/// The app on an open database (one instance's framework).
pub fn build_on(
    db: Db,
    config: &AppConfig,
    framework: &FrameworkConfig,
    clock: Clock,
    entropy: Arc<dyn Entropy>,
) -> Result<Arc<Framework>, AppError> {
    let mut routes = Routes {
        builder: Framework::builder().exceptions(framework.exceptions),
        policy: Router::new(),
        faults: config.fault.clone(),
        db: db.clone(),
    }
    .add("GET", "/", "home", with_db(&db, notes::home))?
    .add(
        "GET",
        "/notes",
        "notes_list",
        with_db(&db, notes::notes_list),
    )?
    .add(
        "POST",
        "/notes",
        "notes_create",
        with_db(&db, notes::notes_create),
    )?
    .add(
        "GET",
        "/notes/{id}",
        "notes_get",
        with_db(&db, notes::notes_get),
    )?
    .add("GET", "/slow", "slow", timed::slow)?
    .add("GET", "/cpu", "cpu", timed::cpu)?
    .add("GET", "/blocking", "blocking", timed::blocking)?
    .add("GET", "/threadpool", "threadpool", timed::threadpool)?
    .add("GET", "/chat", "chat_page", chat::chat_page)?;
    let chat_faults: Vec<faults::Fault> = routes
        .faults
        .iter()
        .filter(|f| f.handler == "chat")
        .cloned()
        .collect();
    routes.builder = if chat_faults.is_empty() {
        routes
            .builder
            .websocket("/chat", "chat", chat::Chat::default())
    } else {
        routes.builder.websocket(
            "/chat",
            "chat",
            faults::FaultyWebsocket::new(chat::Chat::default(), "chat", chat_faults),
        )
    };
    let mut sessions = None;
    let mut bearer = None;
    if let Some(auth) = &config.auth {
        let argon2 = auth::passwords::hasher(auth.argon2_memory_kib, auth.argon2_iterations)?;
        let dummy_hash = auth::passwords::hash(&argon2, "", entropy.as_ref())?;
        let store = Sessions::new(
            db.clone(),
            entropy.clone(),
            clock,
            auth.session_ttl.0,
            &auth.cookie_name,
        );
        sessions = Some(store.clone());
        let tokens = Tokens::new(&auth.token_secret, clock, auth.token_ttl.0.as_secs());
        bearer = Some(tokens.clone());
        let accounts = Arc::new(Accounts {
            db: db.clone(),
            sessions: store,
            argon2,
            dummy_hash,
            tokens,
            csrf_key: auth.token_secret.as_bytes().to_vec(),
            throttle: Default::default(),
            login_window_secs: auth.login_window.0.as_secs(),
            login_max_failures: auth.login_max_failures,
        });
        let hide = auth.hide_forbidden;
        routes = routes
            .add(
                "PUT",
                "/notes/{id}",
                "notes_update",
                with_db(&db, move |db, req| notes::notes_update(db, req, hide)),
            )?
            .add(
                "DELETE",
                "/notes/{id}",
                "notes_delete",
                with_db(&db, move |db, req| notes::notes_delete(db, req, hide)),
            )?
            .add(
                "GET",
                "/login",
                "login_page",
                with_accounts(&accounts, views::login_page),
            )?
            .add(
                "POST",
                "/login",
                "login",
                with_accounts(&accounts, views::login),
            )?
            .add(
                "POST",
                "/logout",
                "logout",
                with_accounts(&accounts, views::logout),
            )?
            .add(
                "GET",
                "/account",
                "account",
                with_accounts(&accounts, views::account),
            )?
            .add("GET", "/me", "me", with_accounts(&accounts, views::me))?
            .add(
                "POST",
                "/tokens",
                "issue_token",
                with_accounts(&accounts, views::issue_token),
            )?
            .add(
                "GET",
                "/admin",
                "admin",
                with_accounts(&accounts, views::admin),
            )?;
    }
    let Routes {
        mut builder,
        policy,
        ..
    } = routes;
    for name in onion(config) {
        let middleware: Box<dyn Middleware> = match name {
            MiddlewareName::RequestId => Box::new(RequestId::new()),
            MiddlewareName::AccessLog => Box::new(AccessLog::new(clock)),
            MiddlewareName::ConditionalGet => Box::new(ConditionalGet::new()),
            MiddlewareName::CacheControl => Box::new(cache_policies()?),
            MiddlewareName::JsonBody => Box::new(JsonBody::new()),
            MiddlewareName::SecurityHeaders => Box::new(SecurityHeaders::new()),
            MiddlewareName::Authentication => {
                let (Some(store), Some(tokens)) = (sessions.clone(), bearer.clone()) else {
                    return Err(AppError::NeedsAuth(name.as_str()));
                };
                Box::new(Authentication::new(vec![
                    Box::new(BearerBackend(tokens)),
                    Box::new(SessionBackend(store)),
                ]))
            }
            MiddlewareName::Csrf => {
                let auth = config
                    .auth
                    .as_ref()
                    .ok_or(AppError::NeedsAuth(name.as_str()))?;
                Box::new(Csrf::new(auth.token_secret.as_bytes(), &auth.cookie_name))
            }
            MiddlewareName::Authorization => {
                let auth = config
                    .auth
                    .as_ref()
                    .ok_or(AppError::NeedsAuth(name.as_str()))?;
                Box::new(Authorization::new(
                    policy.clone(),
                    AuthorizationConfig {
                        login_url: "/login".to_string(),
                        realm: "notes".to_string(),
                        hide_forbidden: auth.hide_forbidden,
                    },
                ))
            }
            MiddlewareName::Cors => {
                let cors = config.cors.as_ref().ok_or(AppError::NeedsCors)?;
                Box::new(Cors::new(cors.clone())?)
            }
        };
        builder = builder.middleware_boxed(middleware);
    }
    Ok(Arc::new(builder.build()))
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
pub fn middleware_names(config: &AppConfig) -> Vec<String> {
    onion(config)
        .iter()
        .map(|m| m.as_str().to_string())
        .collect()
}

/// The handler names of the default app, in route order.
pub fn handler_names() -> Vec<String> {
    ROUTES.iter().map(|(_, _, h)| h.to_string()).collect()
}

/// The websocket endpoints (a fault may only make them `raise`).
pub const WEBSOCKET_HANDLERS: [&str; 1] = ["chat"];

/// The handlers `[stack.app.auth]` adds, in route order.
pub const AUTH_HANDLERS: [&str; 9] = [
    "notes_update",
    "notes_delete",
    "login_page",
    "login",
    "logout",
    "account",
    "me",
    "issue_token",
    "admin",
];

/// The handler names an app built from `config` has: what a
/// `[[stack.app.fault]]` may name.
pub fn handler_names_for(config: &AppConfig) -> Vec<String> {
    let mut names = handler_names();
    names.extend(WEBSOCKET_HANDLERS.iter().map(|h| h.to_string()));
    if config.auth.is_some() {
        names.extend(AUTH_HANDLERS.iter().map(|h| h.to_string()));
    }
    names
}

#[cfg(test)]
mod tests;
