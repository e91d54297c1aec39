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
//! `{"detail": [{"type", "loc", "msg", "input"}, …]}` (LAYERS_REFERENCE
//! §6.3), so a client can fix them all at once.
//!
//! Book: "The framework" (book/src/framework.md).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::db::{Db, DbError, SqlValue};
use super::html;
use crate::framework::{Request, Response};
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

/// A database failure: 500, with no SQL or error text for the client
/// (it may reveal the schema); the trace has the details.
fn server_error(e: &DbError) -> Response {
    Response::json(500, &json!({"detail": "Internal Server Error"}))
        .with_note(format!("after a database error ({e})"))
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
pub async fn home(db: Db, _req: Request) -> Response {
    match all_notes(&db).await {
        Ok(notes) => Response::html(200, html::notes_page(&notes)).with_note(format!(
            "with an HTML page of {}",
            count(notes.len(), "note")
        )),
        Err(e) => server_error(&e),
    }
}

/// `GET /notes`: the notes as a JSON array.
pub async fn notes_list(db: Db, _req: Request) -> Response {
    match all_notes(&db).await {
        Ok(notes) => {
            // `Note` serializes as {"id", "title", "body"}, in that order.
            Response::json(200, &notes).with_note(["with ", &count(notes.len(), "note")].concat())
        }
        Err(e) => server_error(&e),
    }
}

/// `GET /notes/{id}`: one note, or 404 when there is none. A non-numeric
/// id cannot name a note, so it is a 404 too. The status is Flask's and
/// Starlette's, but not the layer: there `<int:id>` / `{id:int}` does not
/// match `abc`, so the router answers 404 before any view runs (as Django's
/// URL resolver does with `<int:id>`), and FastAPI's `id: int` answers 422.
/// Here the router captures any segment and this handler decides.
pub async fn notes_get(db: Db, req: Request) -> Response {
    let raw = req.param("id").unwrap_or_default().to_string();
    let not_found = || {
        Response::json(404, &json!({"detail": format!("note {raw} not found")}))
            .with_note(format!("because there is no note {raw}"))
    };
    let Ok(id) = raw.parse::<i64>() else {
        return not_found();
    };
    match db.query(SELECT_ONE, &[SqlValue::Integer(id)]).await {
        Ok(rows) => match rows.rows.into_iter().next().and_then(Note::from_owned_row) {
            Some(note) => Response::json(200, &note).with_note(format!("with note {}", note.id)),
            None => not_found(),
        },
        Err(e) => server_error(&e),
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
pub async fn notes_create(db: Db, req: Request) -> Response {
    let new = match validate(req.json.as_ref()) {
        Ok(new) => new,
        Err(errors) => {
            let n = errors.len();
            return Response::json(422, &json!({"detail": errors}))
                .with_note(format!("with {}", count(n, "validation error")));
        }
    };
    let params = [
        SqlValue::Text(new.title.clone()),
        SqlValue::Text(new.body.clone()),
    ];
    match db.execute(INSERT, &params).await {
        Ok(changed) => {
            let note = Note {
                id: changed.last_insert_rowid,
                title: new.title,
                body: new.body,
            };
            let location = format!("/notes/{}", note.id);
            Response::json(201, &note)
                .with_header("Location", location.clone())
                .with_note(format!("with note {} at {location}", note.id))
        }
        Err(e) => server_error(&e),
    }
}
