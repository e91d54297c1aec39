//! The notes handlers: one function per route, each a few lines of
//! "read the request, ask the database, shape the answer".
//!
//! | route | handler | answer |
//! |---|---|---|
//! | `GET /` | `home` | an HTML page listing the notes |
//! | `GET /notes` | `notes_list` | the notes as a JSON array |
//! | `GET /notes/{id}` | `notes_get` | one note, or 404 `{"detail": "note 7 not found"}` |
//! | `POST /notes` | `notes_create` | 201 + `Location`, or 422 with what is wrong |
//!
//! A missing note is the *handler's* 404, not the router's: the route
//! `/notes/{id}` matched, and only the database knows there is no note 7.
//! The trace shows the difference: the router's verdict is "matched", and
//! the answer comes from the handler after a query.
//!
//! `POST /notes` validates its JSON body the way FastAPI does with a
//! pydantic model: every problem is listed in one 422 response,
//! `{"detail": [{"type", "loc", "msg", "input"}, …]}` (FastAPI's
//! request-validation error body), so a client can fix them all at once.
//!
//! Book: "The framework" (book/src/framework.md).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::db::{Db, DbError, SqlValue};
use super::html;
use crate::framework::application::raise;
use crate::framework::{Exception, Outcome, Request, Response};
use crate::http::text::decimal;

pub const SELECT_ALL: &str = "SELECT id, title, body FROM notes ORDER BY id";
pub const SELECT_ONE: &str = "SELECT id, title, body FROM notes WHERE id = ?1";
pub const INSERT: &str = "INSERT INTO notes (title, body) VALUES (?1, ?2)";

/// One note, as the JSON API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: i64,
    pub title: String,
    pub body: String,
}

impl Note {
    /// A `(id, title, body)` row, taken apart without copying the text;
    /// `None` when a column has another type.
    fn from_owned_row(row: Vec<SqlValue>) -> Option<Note> {
        let mut row = row.into_iter();
        match (row.next(), row.next(), row.next(), row.next()) {
            (
                Some(SqlValue::Integer(id)),
                Some(SqlValue::Text(title)),
                Some(SqlValue::Text(body)),
                None,
            ) => Some(Note { id, title, body }),
            _ => None,
        }
    }
}

fn count(n: usize, one: &str) -> String {
    if n == 1 {
        ["1 ", one].concat()
    } else {
        [&decimal(n as u64), " ", one, "s"].concat()
    }
}

/// A database failure is not caught here: it raises, as Python's
/// `sqlite3` raises `OperationalError` (or `IntegrityError`) from
/// `execute`, and climbs to the framework's error layer, which answers 500
/// with no SQL or error text for the client (it may reveal the schema);
/// the trace has the details.
fn raised(e: &DbError) -> Exception {
    let class = match &e.0 {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            "sqlite3.IntegrityError"
        }
        _ => "sqlite3.OperationalError",
    };
    raise(class, e.0.to_string())
}

async fn all_notes(db: &Db) -> Result<Vec<Note>, DbError> {
    let rows = db.query(SELECT_ALL, &[]).await?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(Note::from_owned_row)
        .collect())
}

/// `GET /`: the notes as an HTML page, every value escaped.
pub async fn home(db: Db, _req: Request) -> Outcome {
    match all_notes(&db).await {
        Ok(notes) => Ok(
            Response::html(200, html::notes_page(&notes)).with_note(format!(
                "with an HTML page of {}",
                count(notes.len(), "note")
            )),
        ),
        Err(e) => Err(raised(&e)),
    }
}

/// `GET /notes`: the notes as a JSON array.
pub async fn notes_list(db: Db, _req: Request) -> Outcome {
    match all_notes(&db).await {
        Ok(notes) => {
            // `Note` serializes as {"id", "title", "body"}, in that order.
            Ok(Response::json(200, &notes)
                .with_note(["with ", &count(notes.len(), "note")].concat()))
        }
        Err(e) => Err(raised(&e)),
    }
}

/// `GET /notes/{id}`: one note, or 404 when there is none. A non-numeric
/// id cannot name a note, so it is a 404 too. The status is Flask's and
/// Starlette's, but not the layer: there `<int:id>` / `{id:int}` does not
/// match `abc`, so the router answers 404 before any view runs (as Django's
/// URL resolver does with `<int:id>`), and FastAPI's `id: int` answers 422.
/// Here the router captures any segment and this handler decides.
pub async fn notes_get(db: Db, req: Request) -> Outcome {
    let raw = req.param("id").unwrap_or_default().to_string();
    let not_found = || {
        Response::json(404, &json!({"detail": format!("note {raw} not found")}))
            .with_note(format!("because there is no note {raw}"))
    };
    let Ok(id) = raw.parse::<i64>() else {
        return Ok(not_found());
    };
    match db.query(SELECT_ONE, &[SqlValue::Integer(id)]).await {
        Ok(rows) => match rows.rows.into_iter().next().and_then(Note::from_owned_row) {
            Some(note) => {
                Ok(Response::json(200, &note).with_note(format!("with note {}", note.id)))
            }
            None => Ok(not_found()),
        },
        Err(e) => Err(raised(&e)),
    }
}

/// The fields `POST /notes` accepts, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub title: String,
    pub body: String,
}

/// One pydantic-style validation error.
fn error(kind: &str, loc: &[&str], msg: &str, input: &Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input})
}

fn string_field(
    obj: &Map<String, Value>,
    name: &str,
    min_length: usize,
    errors: &mut Vec<Value>,
) -> Option<String> {
    let whole = Value::Object(obj.clone());
    match obj.get(name) {
        None => {
            errors.push(error("missing", &["body", name], "Field required", &whole));
            None
        }
        Some(Value::String(s)) if s.chars().count() < min_length => {
            let mut e = error(
                "string_too_short",
                &["body", name],
                &format!(
                    "String should have at least {min_length} character{}",
                    if min_length == 1 { "" } else { "s" }
                ),
                &Value::String(s.clone()),
            );
            e["ctx"] = json!({"min_length": min_length});
            errors.push(e);
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(error(
                "string_type",
                &["body", name],
                "Input should be a valid string",
                other,
            ));
            None
        }
    }
}

/// Check the JSON body of `POST /notes`: `{"title": str (non-empty),
/// "body": str}`. Extra keys are ignored, as pydantic does by default.
pub fn validate(json: Option<&Value>) -> Result<NewNote, Vec<Value>> {
    let obj = match json {
        None => {
            return Err(vec![error(
                "missing",
                &["body"],
                "Field required",
                &Value::Null,
            )]);
        }
        Some(Value::Object(obj)) => obj,
        Some(other) => {
            return Err(vec![error(
                "model_attributes_type",
                &["body"],
                "Input should be a valid dictionary or object to extract fields from",
                other,
            )]);
        }
    };
    let mut errors = Vec::new();
    let title = string_field(obj, "title", 1, &mut errors);
    let body = string_field(obj, "body", 0, &mut errors);
    match (title, body) {
        (Some(title), Some(body)) => Ok(NewNote { title, body }),
        _ => Err(errors),
    }
}

/// `POST /notes`: validate, INSERT, answer 201 with `Location`.
pub async fn notes_create(db: Db, req: Request) -> Outcome {
    let new = match validate(req.json.as_ref()) {
        Ok(new) => new,
        Err(errors) => {
            let n = errors.len();
            return Ok(Response::json(422, &json!({"detail": errors}))
                .with_note(format!("with {}", count(n, "validation error"))));
        }
    };
    // With accounts, the note belongs to whoever created it.
    let owner = req
        .identity
        .as_ref()
        .and_then(crate::framework::Identity::user)
        .map(|u| u.id);
    let mut params = vec![
        SqlValue::Text(new.title.clone()),
        SqlValue::Text(new.body.clone()),
    ];
    let sql = match owner {
        Some(id) => {
            params.push(SqlValue::Integer(id));
            INSERT_OWNED
        }
        None => INSERT,
    };
    match db.execute(sql, &params).await {
        Ok(changed) => {
            let note = Note {
                id: changed.last_insert_rowid,
                title: new.title,
                body: new.body,
            };
            let location = format!("/notes/{}", note.id);
            Ok(Response::json(201, &note)
                .with_header("Location", location.clone())
                .with_note(format!("with note {} at {location}", note.id)))
        }
        Err(e) => Err(raised(&e)),
    }
}

/// `INSERT` with an owner (NULL when the note belongs to nobody).
pub const INSERT_OWNED: &str = "INSERT INTO notes (title, body, owner_id) VALUES (?1, ?2, ?3)";
pub const SELECT_OWNER: &str = "SELECT id, owner_id FROM notes WHERE id = ?1";
pub const UPDATE: &str = "UPDATE notes SET title = ?1, body = ?2 WHERE id = ?3";
pub const DELETE: &str = "DELETE FROM notes WHERE id = ?1";

/// What the object check decided.
enum Permission {
    Allowed,
    /// Not this user's note: 403, or 404 when hidden.
    Refused(Response),
    /// There is no such note.
    Missing(Response),
    /// The database failed: the caller raises.
    Failed(Exception),
}

/// The object-level check, after loading the note (Django REST
/// framework's `check_object_permissions`, run from `get_object()`): only
/// the owner or an admin may change or delete a note. The route's rule
/// (editor or admin) already passed in the authorization middleware; it
/// cannot know whose note `/notes/7` is without the database.
async fn may_change(db: &Db, req: &Request, id: i64, action: &str, hide: bool) -> Permission {
    use crate::trace::emit::Step;
    use crate::trace::{Decision, Direction, Kind, StepId, Verdict};
    let not_found = || {
        Response::json(404, &json!({"detail": format!("note {id} not found")}))
            .with_note(format!("because there is no note {id}"))
    };
    let row = match db.query(SELECT_OWNER, &[SqlValue::Integer(id)]).await {
        Ok(rows) => rows.rows.into_iter().next(),
        Err(e) => return Permission::Failed(raised(&e)),
    };
    let Some(row) = row else {
        return Permission::Missing(not_found());
    };
    let owner = match row.get(1) {
        Some(SqlValue::Integer(o)) => Some(*o),
        _ => None,
    };
    let user = req
        .identity
        .as_ref()
        .and_then(crate::framework::Identity::user);
    let (allowed, why) = match user {
        Some(u) if u.is_admin() => (true, format!("{} is an admin", u.username)),
        Some(u) if owner == Some(u.id) => (true, format!("{} owns note {id}", u.username)),
        Some(u) => (
            false,
            format!("{} does not own note {id} and is not an admin", u.username),
        ),
        None => (false, "nobody is signed in".to_string()),
    };
    let refusal = if hide { 404 } else { 403 };
    let subject = user.map_or_else(|| "anonymous".to_string(), |u| u.describe());
    if Step::enabled() {
        let owner_text = owner.map_or_else(
            || "nobody".to_string(),
            |o| ["user ", &o.to_string()].concat(),
        );
        let summary = if allowed {
            format!("may {action} note {id}: {why}")
        } else if hide {
            format!("may not {action} note {id} ({why}): answers 404, as if it did not exist")
        } else {
            format!("may not {action} note {id} ({why}): answers 403")
        };
        let mut step = Step::new(StepId::HandlerPermission, Direction::Within, Kind::Decision)
            .summary(summary)
            .decision(
                Decision::new(if allowed {
                    Verdict::Pass
                } else {
                    Verdict::Refuse { status: refusal }
                })
                .rule("only a note's owner or an admin may change or delete it")
                .subject(subject)
                .input("note", id)
                .input("owner", owner_text)
                .input("why", &why)
                .knob("hide_forbidden", hide),
            );
        if !allowed {
            step = step.answer(refusal);
        }
        step.emit();
    }
    if allowed {
        Permission::Allowed
    } else if hide {
        Permission::Refused(not_found())
    } else {
        Permission::Refused(
            Response::json(
                403,
                &json!({"detail": "You do not have permission to perform this action."}),
            )
            .with_note(format!("because {why}")),
        )
    }
}

fn note_id(req: &Request) -> Result<i64, Response> {
    let raw = req.param("id").unwrap_or_default();
    raw.parse::<i64>().map_err(|_| {
        Response::json(404, &json!({"detail": format!("note {raw} not found")}))
            .with_note(format!("because there is no note {raw}"))
    })
}

/// `PUT /notes/{id}`: replace a note's title and body (owner or admin).
pub async fn notes_update(db: Db, req: Request, hide: bool) -> Outcome {
    let id = match note_id(&req) {
        Ok(id) => id,
        Err(res) => return Ok(res),
    };
    let new = match validate(req.json.as_ref()) {
        Ok(new) => new,
        Err(errors) => {
            let n = errors.len();
            return Ok(Response::json(422, &json!({"detail": errors}))
                .with_note(format!("with {}", count(n, "validation error"))));
        }
    };
    match may_change(&db, &req, id, "change", hide).await {
        Permission::Allowed => {}
        Permission::Refused(res) | Permission::Missing(res) => return Ok(res),
        Permission::Failed(e) => return Err(e),
    }
    let params = [
        SqlValue::Text(new.title.clone()),
        SqlValue::Text(new.body.clone()),
        SqlValue::Integer(id),
    ];
    match db.execute(UPDATE, &params).await {
        Ok(_) => Ok(Response::json(
            200,
            &Note {
                id,
                title: new.title,
                body: new.body,
            },
        )
        .with_note(format!("with note {id} changed"))),
        Err(e) => Err(raised(&e)),
    }
}

/// `DELETE /notes/{id}`: delete a note (owner or admin); 204 No Content.
pub async fn notes_delete(db: Db, req: Request, hide: bool) -> Outcome {
    let id = match note_id(&req) {
        Ok(id) => id,
        Err(res) => return Ok(res),
    };
    match may_change(&db, &req, id, "delete", hide).await {
        Permission::Allowed => {}
        Permission::Refused(res) | Permission::Missing(res) => return Ok(res),
        Permission::Failed(e) => return Err(e),
    }
    match db.execute(DELETE, &[SqlValue::Integer(id)]).await {
        Ok(_) => {
            let mut res = Response::new(204, "application/json", Vec::new());
            res.headers
                .retain(|(n, _)| n != "Content-Type" && n != "Content-Length");
            Ok(res.with_note(format!("after deleting note {id}")))
        }
        Err(e) => Err(raised(&e)),
    }
}
