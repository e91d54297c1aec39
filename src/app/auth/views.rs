//! The account views: sign in, sign out, and the pages only a signed-in
//! user (or an admin) may see.
//!
//! | route | rule | answer |
//! |---|---|---|
//! | `GET /login` | public | the sign-in form |
//! | `POST /login` | public | form: 302 to `next` + `Set-Cookie`; JSON: 200; wrong password: the form again (form) or 401 (JSON) |
//! | `POST /logout` | public | ends the session, deletes the cookie |
//! | `GET /account` | login required (a page) | "signed in as …" |
//! | `GET /me` | login required (an API) | the identity as JSON |
//! | `GET /admin` | role admin (a page) | the users and their roles |
//! | `POST /tokens` | public | a signed bearer token for JSON credentials, or 401 |
//!
//! `POST /login` accepts a form (`application/x-www-form-urlencoded`, what
//! an HTML `<form>` sends) or JSON. After a form sign-in the browser is
//! sent on to `next`, but only to a path of this site: `next=//evil.example`
//! or `next=https://…` would make the login page an open redirect (OWASP
//! "Unvalidated Redirects"), so anything but a single-slash path goes to `/`.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use std::sync::Arc;

use argon2::Argon2;
use serde_json::json;

use super::passwords::{self, params_of};
use super::sessions::Sessions;
use crate::app::db::{Db, SqlValue};
use crate::app::html::escape;
use crate::framework::middleware::csrf;
use crate::framework::{Identity, Request, Response, cookies};
use crate::http::target::percent_decode;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Kind, StepId, Verdict};

pub const SELECT_USER: &str = "SELECT id, password_hash, roles FROM users WHERE username = ?1";
pub const SELECT_USERS: &str = "SELECT username, roles FROM users ORDER BY id";

/// What the account views share.
pub struct Accounts {
    pub db: Db,
    pub sessions: Sessions,
    pub argon2: Argon2<'static>,
    /// A hash of nothing anyone knows, checked when the username does not
    /// exist, so that the answer takes as long as for a real user.
    pub dummy_hash: String,
    pub tokens: super::tokens::Tokens,
    /// The key CSRF tokens are derived with (`framework::middleware::csrf`).
    pub csrf_key: Vec<u8>,
    /// Wrong passwords per username, and the limit on them.
    pub throttle: std::sync::Mutex<super::throttle::Throttle>,
    pub login_window_secs: u64,
    pub login_max_failures: u32,
}

/// Credentials as the client sent them.
struct Credentials {
    username: String,
    password: String,
    next: Option<String>,
    form: bool,
}

/// The fields of a form body, decoded (`+` is a space, then `%XX`).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        String::from_utf8_lossy(&percent_decode(spaced.as_bytes())).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(n), decode(v))
        })
        .collect()
}

fn credentials(req: &Request) -> Option<Credentials> {
    let media = req.media_type().unwrap_or_default();
    if media == "application/x-www-form-urlencoded" {
        let fields = form_fields(&req.body);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        return Some(Credentials {
            username: get("username")?,
            password: get("password")?,
            next: get("next"),
            form: true,
        });
    }
    let parsed;
    let json = match &req.json {
        Some(v) => v,
        None => {
            parsed = serde_json::from_slice::<serde_json::Value>(&req.body).ok()?;
            &parsed
        }
    };
    Some(Credentials {
        username: json.get("username")?.as_str()?.to_string(),
        password: json.get("password")?.as_str()?.to_string(),
        next: None,
        form: false,
    })
}

/// Only a path on this site: `/x`, never `//host` or `https://host`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )
}

/// The sign-in form; `error` is shown above it.
fn login_form(next: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"error\">{}</p>\n", escape(e)));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/login\">\n<input type=\"hidden\" name=\"next\" value=\"{}\">\n<label>Username <input name=\"username\" autocomplete=\"username\"></label>\n<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\n<button>Sign in</button>\n</form>\n",
        escape(next)
    ));
    page("Sign in", &body)
}

/// `GET /login`: the form.
pub async fn login_page(_accounts: Arc<Accounts>, req: Request) -> Response {
    let next = req
        .query_param("next")
        .map(|n| String::from_utf8_lossy(&percent_decode(n.as_bytes())).into_owned());
    Response::html(200, login_form(safe_next(next.as_deref()), None))
        .with_note("with the sign-in form")
}

/// Django's message for a failed sign-in: it never says which of the two
/// was wrong, so it does not confirm that a username exists.
const WRONG: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// `POST /login`.
pub async fn login(accounts: Arc<Accounts>, req: Request) -> Response {
    let Some(creds) = credentials(&req) else {
        return Response::json(
            400,
            &json!({"detail": "send username and password, as a form or as JSON"}),
        )
        .with_note("because the credentials are missing");
    };
    let checked = match check_password(&accounts, &creds.username, &creds.password).await {
        Ok(checked) => checked,
        Err(res) => return res,
    };
    let Some((user_id, roles)) = checked else {
        return if creds.form {
            Response::html(
                200,
                login_form(safe_next(creds.next.as_deref()), Some(WRONG)),
            )
            .with_note("with the form again: wrong username or password")
        } else {
            wrong_password()
        };
    };
    let started = match accounts.sessions.start(user_id).await {
        Ok(s) => s,
        Err(_) => {
            return Response::json(500, &json!({"detail": "Internal Server Error"}))
                .with_note("because no session could be started");
        }
    };
    let secure = req.scheme == "https";
    let cookie = cookies::session(
        &accounts.sessions.cookie_name,
        &started.id,
        accounts.sessions.ttl.as_secs(),
        secure,
    );
    session_step(
        &format!(
            "starts a session for {}, until {} (in {} s); Set-Cookie with HttpOnly, SameSite=Lax, Path=/{}",
            creds.username,
            crate::clock::rfc3339(started.expires_at),
            accounts.sessions.ttl.as_secs(),
            if secure { ", Secure" } else { "" }
        ),
        &cookie,
    );
    let csrf_token = csrf::token_for(&accounts.csrf_key, &started.id);
    let csrf_cookie = csrf_cookie(&csrf_token, accounts.sessions.ttl.as_secs(), secure);
    let res = if creds.form {
        let next = safe_next(creds.next.as_deref()).to_string();
        Response::html(302, page("Signed in", "<p>Signed in.</p>\n"))
            .with_header("Location", next.clone())
            .with_note(format!("signing {} in, on to {next}", creds.username))
    } else {
        Response::json(
            200,
            &json!({"username": creds.username, "roles": roles, "csrf_token": csrf_token}),
        )
        .with_note(format!("signing {} in", creds.username))
    };
    res.with_header("Set-Cookie", cookie)
        .append_header("Set-Cookie", csrf_cookie)
        .with_header("Cache-Control", "no-store")
}

/// The `csrftoken` cookie: readable by this site's scripts (no
/// `HttpOnly`), so a page can echo it in `X-CSRF-Token`.
fn csrf_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let mut c = [
        csrf::COOKIE,
        "=",
        token,
        "; SameSite=Lax; Path=/; Max-Age=",
        &crate::http::text::decimal(max_age_secs),
    ]
    .concat();
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// 401 for wrong JSON credentials, with the challenge a 401 must carry.
fn wrong_password() -> Response {
    Response::json(401, &json!({"detail": "Invalid username or password"}))
        .with_header("WWW-Authenticate", "Bearer realm=\"notes\"")
        .with_note("because the username or password is wrong")
}

/// Look the user up and check the password: `Some((id, roles))` when it
/// matches. A database failure is a 500.
async fn check_password(
    accounts: &Accounts,
    username: &str,
    password: &str,
) -> Result<Option<(i64, Vec<crate::framework::Role>)>, Response> {
    let now = accounts.sessions.now_secs();
    let (window, max) = (accounts.login_window_secs, accounts.login_max_failures);
    let verdict = accounts
        .throttle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(username, now, window, max);
    throttle_step(username, verdict, window, max);
    if let super::throttle::Verdict::Wait {
        retry_after_secs, ..
    } = verdict
    {
        return Err(Response::json(
            429,
            &json!({"detail": "Too many failed sign-ins; try again later."}),
        )
        .with_header("Retry-After", crate::http::text::decimal(retry_after_secs))
        .with_note(format!("after {max} wrong passwords for {username}")));
    }
    let found = match accounts
        .db
        .query(SELECT_USER, &[SqlValue::Text(username.to_string())])
        .await
    {
        Ok(rows) => rows.rows.into_iter().next(),
        Err(_) => {
            return Err(
                Response::json(500, &json!({"detail": "Internal Server Error"}))
                    .with_note("after a database error"),
            );
        }
    };
    let user = match found.as_deref() {
        Some(
            [
                SqlValue::Integer(id),
                SqlValue::Text(hash),
                SqlValue::Text(roles),
            ],
        ) => Some((*id, hash.clone(), roles.clone())),
        _ => None,
    };
    let stored = user
        .as_ref()
        .map_or(accounts.dummy_hash.as_str(), |(_, h, _)| h.as_str());
    let matches = passwords::verify(&accounts.argon2, password, stored) && user.is_some();
    password_step(username, user.is_some(), matches, stored);
    {
        let mut throttle = accounts.throttle.lock().unwrap_or_else(|p| p.into_inner());
        if matches {
            throttle.succeeded(username);
        } else {
            throttle.failed(username, now, window);
        }
    }
    Ok(user
        .filter(|_| matches)
        .map(|(id, _, roles)| (id, super::parse_roles(&roles))))
}

/// `POST /tokens`: JSON credentials in, a signed bearer token out
/// (the shape of OAuth 2.0's token response, RFC 6749 §5.1).
pub async fn issue_token(accounts: Arc<Accounts>, req: Request) -> Response {
    let Some(creds) = credentials(&req).filter(|c| !c.form) else {
        return Response::json(
            400,
            &json!({"detail": "send {\"username\": …, \"password\": …} as JSON"}),
        )
        .with_note("because the credentials are missing");
    };
    let (id, roles) = match check_password(&accounts, &creds.username, &creds.password).await {
        Ok(Some(found)) => found,
        Ok(None) => return wrong_password(),
        Err(res) => return res,
    };
    let (token, claims) = match accounts.tokens.issue(id, &creds.username, &roles) {
        Ok(t) => t,
        Err(_) => {
            return Response::json(500, &json!({"detail": "Internal Server Error"}))
                .with_note("because the token could not be signed");
        }
    };
    if Step::enabled() {
        let roles_text = super::roles_column(&roles);
        Step::new(StepId::HandlerToken, Direction::Within, Kind::Step)
            .summary(format!(
                "signs an HS256 token for {} (sub {}, roles [{roles_text}]), valid until {}",
                creds.username,
                claims.sub,
                crate::clock::rfc3339(claims.exp)
            ))
            .data(Data::Fields {
                entries: vec![
                    (
                        "header".to_string(),
                        r#"{"typ":"JWT","alg":"HS256"}"#.to_string(),
                    ),
                    (
                        "payload".to_string(),
                        serde_json::to_string(&claims).unwrap_or_default(),
                    ),
                    (
                        "signature".to_string(),
                        "HMAC-SHA256 with the server's secret".to_string(),
                    ),
                ],
            })
            .emit();
    }
    Response::json(
        200,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": accounts.tokens.ttl_secs}),
    )
    .with_header("Cache-Control", "no-store")
    .with_note(format!("with a bearer token for {}", creds.username))
}

fn throttle_step(username: &str, verdict: super::throttle::Verdict, window: u64, max: u32) {
    use super::throttle::Verdict as V;
    if !Step::enabled() {
        return;
    }
    let (decision, summary) = match verdict {
        V::Go { failures } => (
            Decision::new(Verdict::Pass).input("failures in window", failures),
            format!(
                "{username} has {failures} of {max} wrong passwords in this window: the attempt goes ahead"
            ),
        ),
        V::Wait {
            retry_after_secs,
            failures,
        } => (
            Decision::new(Verdict::Refuse { status: 429 })
                .input("failures in window", failures)
                .input("retry after (s)", retry_after_secs),
            format!(
                "{username} has had {failures} wrong passwords within {window} s: answers 429, Retry-After: {retry_after_secs}, without checking the password"
            ),
        ),
    };
    let mut step = Step::new(StepId::HandlerThrottle, Direction::Within, Kind::Decision)
        .summary(summary)
        .decision(
            decision
                .subject(username)
                .rule("at most login_max_failures wrong passwords per username per login_window")
                .knob("login_max_failures", max)
                .knob("login_window", format!("{window}s")),
        );
    if matches!(verdict, V::Wait { .. }) {
        step = step.answer(429);
    }
    step.emit();
}

fn password_step(username: &str, known: bool, matches: bool, stored: &str) {
    if !Step::enabled() {
        return;
    }
    let summary = match (known, matches) {
        (true, true) => format!("the password matches {username}'s argon2id hash"),
        (true, false) => format!("the password does not match {username}'s argon2id hash"),
        _ => format!("no user {username}: checks a dummy hash anyway, so the answer takes as long"),
    };
    let verdict = if matches {
        Verdict::Pass
    } else {
        Verdict::Refuse { status: 401 }
    };
    Step::new(StepId::HandlerPassword, Direction::Within, Kind::Decision)
        .summary(summary)
        .decision(
            Decision::new(verdict)
                .subject(username)
                .rule("argon2id: recompute with the stored salt and parameters, compare in constant time")
                .input("user exists", known)
                .input("parameters", params_of(stored)),
        )
        .emit();
}

fn session_step(summary: &str, cookie: &str) {
    Step::new(StepId::HandlerSession, Direction::Within, Kind::Step)
        .summary(summary)
        .data(Data::Fields {
            entries: vec![("Set-Cookie".to_string(), cookie.to_string())],
        })
        .emit();
}

/// `POST /logout`: end the session on the server, delete the cookie.
pub async fn logout(accounts: Arc<Accounts>, req: Request) -> Response {
    let ended = match accounts.sessions.cookie(&req) {
        Some(id) => accounts.sessions.end(id).await.unwrap_or(false),
        None => false,
    };
    let cookie = cookies::delete(&accounts.sessions.cookie_name, req.scheme == "https");
    session_step(
        if ended {
            "ends the session: its row is deleted, so the cookie is worthless even if a copy was kept; the browser is told to delete it"
        } else {
            "there was no live session to end; the browser is told to delete the cookie anyway"
        },
        &cookie,
    );
    let secure = req.scheme == "https";
    Response::json(200, &json!({"detail": "signed out"}))
        .with_header("Set-Cookie", cookie)
        .append_header(
            "Set-Cookie",
            [csrf::COOKIE, "=; SameSite=Lax; Path=/; Max-Age=0"].concat()
                + if secure { "; Secure" } else { "" },
        )
        .with_note(if ended {
            "after ending the session"
        } else {
            "with no session to end"
        })
}

fn signed_in(req: &Request) -> Option<&crate::framework::User> {
    req.identity.as_ref().and_then(Identity::user)
}

/// `GET /account`: a page for signed-in users; its sign-out form carries
/// the CSRF token in a hidden field.
pub async fn account(accounts: Arc<Accounts>, req: Request) -> Response {
    let Some(user) = signed_in(&req) else {
        // The authorization middleware lets no anonymous request here; if
        // it is missing, the view still refuses (defence in depth).
        return Response::json(401, &json!({"detail": "Not authenticated"}))
            .with_header("WWW-Authenticate", "Bearer realm=\"notes\"");
    };
    let token = accounts
        .sessions
        .cookie(&req)
        .map(|id| csrf::token_for(&accounts.csrf_key, id))
        .unwrap_or_default();
    let body = format!(
        "<p>Signed in as <b>{}</b> ({}).</p>\n<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><button>Sign out</button></form>\n",
        escape(&user.username),
        escape(&super::roles_column(&user.roles)),
        escape(&token)
    );
    Response::html(200, page("Your account", &body))
        .with_note(format!("with {}'s account page", user.username))
}

/// `GET /me`: the identity, for API clients.
pub async fn me(_accounts: Arc<Accounts>, req: Request) -> Response {
    match signed_in(&req) {
        Some(user) => Response::json(
            200,
            &json!({"id": user.id, "username": user.username, "roles": user.roles, "via": user.via.as_str()}),
        )
        .with_note(format!("with {}", user.username)),
        None => Response::json(401, &json!({"detail": "Not authenticated"}))
            .with_header("WWW-Authenticate", "Bearer realm=\"notes\""),
    }
}

/// `GET /admin`: every user and their roles (admins only).
pub async fn admin(accounts: Arc<Accounts>, _req: Request) -> Response {
    let rows = match accounts.db.query(SELECT_USERS, &[]).await {
        Ok(rows) => rows.rows,
        Err(_) => {
            return Response::json(500, &json!({"detail": "Internal Server Error"}));
        }
    };
    let mut body = String::from("<ul>\n");
    for row in &rows {
        if let [SqlValue::Text(name), SqlValue::Text(roles)] = row.as_slice() {
            body.push_str(&format!("<li>{}: {}</li>\n", escape(name), escape(roles)));
        }
    }
    body.push_str("</ul>\n");
    Response::html(200, page("Users", &body)).with_note(format!("with {} users", rows.len()))
}
