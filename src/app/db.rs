//! The notes database: a real SQLite database, in memory, reached through
//! two calls that take time.
//!
//! ```text
//! handler ──database.query (SQL, params)──▶ SQLite   … waits `db_latency` …
//! handler ◀──database.result (rows)──────── SQLite   (the statement really ran)
//! ```
//!
//! Every statement is recorded twice: on the way down with its SQL and
//! parameters, on the way back with the row count and the rows. Before the
//! statement runs, the call waits the configured latency with
//! `tokio::time::sleep`, the network round trip to a database server that
//! SQLite in memory does not have. In a lesson the clock is paused, so the
//! wait is simulated (and shows in the timeline) yet takes no real time.
//!
//! Why a `std::sync::Mutex` and not tokio's: the lock is held only while one
//! statement runs, synchronously, never across an `.await` (the same
//! reasoning as mini-redis's `Db`). One connection serializes statements,
//! as SQLite does with a single writer anyway.
//!
//! What we simplify: one shared connection, no pool, no transactions.
//!
//! Book: "The framework" (book/src/framework.md).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::http::text::decimal;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// A value going into or coming out of SQLite.
pub type SqlValue = Value;

/// A statement failed. Handlers turn this into a 500.
#[derive(Debug, thiserror::Error)]
#[error("SQLite: {0}")]
pub struct DbError(#[from] pub rusqlite::Error);

/// What a SELECT returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
}

/// What an INSERT, UPDATE or DELETE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub rows: u64,
    /// SQLite's `last_insert_rowid()`: the id of a row just inserted.
    pub last_insert_rowid: i64,
}

/// A handle on the database; clones share one connection.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    /// The simulated round trip to the database, waited before each statement.
    latency: Duration,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("latency", &self.latency)
            .finish()
    }
}

/// A parameter as SQL would write it: `7`, `'it''s'`, `NULL`.
fn sql_literal(v: &SqlValue) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

/// A result cell as the `sqlite3` shell prints it.
fn cell(v: &SqlValue) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => sql_literal(other),
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        ["1 ", one].concat()
    } else {
        [&decimal(n), " ", one, "s"].concat()
    }
}

/// How a lesson's fault breaks the database (`database = "…"` in a
/// `[[stack.app.fault]]`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Breakage {
    /// The notes table is gone: `no such table: notes`.
    MissingTable,
    /// Writes are refused: `attempt to write a readonly database`.
    ReadOnly,
}

impl Breakage {
    pub fn as_str(self) -> &'static str {
        match self {
            Breakage::MissingTable => "missing_table",
            Breakage::ReadOnly => "read_only",
        }
    }
}

impl Db {
    /// Wrap an open connection (already migrated and seeded).
    pub fn new(conn: Connection, latency: Duration) -> Db {
        Db {
            conn: Arc::new(Mutex::new(conn)),
            latency,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held cannot leave SQLite half-changed
        // (each statement is atomic), so a poisoned lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Record the statement going down, then wait the latency. A zero
    /// latency (`serve`) does not wait at all: even a zero-length
    /// `tokio::time::sleep` costs a tick of the timer on the real clock.
    async fn send(&self, sql: &str, params: &[SqlValue]) {
        if Step::enabled() {
            let shown: Vec<String> = params.iter().map(sql_literal).collect();
            let summary = if shown.is_empty() {
                ["sends ", sql].concat()
            } else {
                ["sends ", sql, " with (", &shown.join(", "), ")"].concat()
            };
            Step::new(StepId::DatabaseQuery, Direction::Down, Kind::Hop)
                .summary(summary)
                .data(Data::Sql {
                    sql: sql.to_string(),
                    params: shown,
                    rows: None,
                    columns: Vec::new(),
                    result: Vec::new(),
                })
                .knob("db_latency", crate::units::Time(self.latency))
                .emit();
        }
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn failed(sql: &str, e: &rusqlite::Error) {
        Step::new(StepId::DatabaseResult, Direction::Up, Kind::Error)
            .summary(format!("SQLite refuses the statement: {e}"))
            .data(Data::Sql {
                sql: sql.to_string(),
                params: Vec::new(),
                rows: None,
                columns: Vec::new(),
                result: Vec::new(),
            })
            .emit();
    }

    /// Break the database as a lesson's fault says, for one handler call:
    /// SQLite itself then refuses the handler's statements, with its own
    /// error. [`Db::mend`] undoes it.
    ///
    /// * `missing_table`: the notes table is renamed away, so every
    ///   statement on it fails with `no such table: notes` (code deployed
    ///   before its migration ran, or a migration half done).
    /// * `read_only`: `PRAGMA query_only`, so every write fails with
    ///   `attempt to write a readonly database` (a replica, a full disk
    ///   remounted read-only) while reads still work.
    ///
    /// Other requests running meanwhile meet the same broken database, as
    /// they would.
    pub fn break_for(&self, breakage: Breakage) -> Result<(), DbError> {
        let conn = self.lock();
        match breakage {
            Breakage::MissingTable => {
                conn.execute_batch("ALTER TABLE notes RENAME TO notes_hidden_by_fault")?
            }
            Breakage::ReadOnly => conn.execute_batch("PRAGMA query_only = ON")?,
        }
        Ok(())
    }

    /// Undo [`Db::break_for`].
    pub fn mend(&self, breakage: Breakage) -> Result<(), DbError> {
        let conn = self.lock();
        match breakage {
            Breakage::MissingTable => {
                conn.execute_batch("ALTER TABLE notes_hidden_by_fault RENAME TO notes")?
            }
            Breakage::ReadOnly => conn.execute_batch("PRAGMA query_only = OFF")?,
        }
        Ok(())
    }

    /// Run a SELECT and return its rows.
    pub async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        self.send(sql, params).await;
        let result = self.run_query(sql, params);
        match &result {
            Ok(rows) if Step::enabled() => {
                let n = rows.rows.len() as u64;
                Step::new(StepId::DatabaseResult, Direction::Up, Kind::Hop)
                    .summary(["returns ", &plural(n, "row")].concat())
                    .data(Data::Sql {
                        sql: sql.to_string(),
                        params: params.iter().map(sql_literal).collect(),
                        rows: Some(n),
                        columns: rows.columns.clone(),
                        result: rows
                            .rows
                            .iter()
                            .map(|r| r.iter().map(cell).collect())
                            .collect(),
                    })
                    .emit();
            }
            Ok(_) => {}
            Err(DbError(e)) => Self::failed(sql, e),
        }
        result
    }

    fn run_query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        let conn = self.lock();
        // Prepared once per distinct SQL text and kept by the connection:
        // the handlers' statements are constants.
        let mut stmt = conn.prepare_cached(sql)?;
        let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let width = columns.len();
        let mut found = stmt.query(params_from_iter(params.iter()))?;
        let mut rows = Vec::new();
        while let Some(row) = found.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(row.get::<_, Value>(i)?);
            }
            rows.push(values);
        }
        Ok(Rows { columns, rows })
    }

    /// Run an INSERT, UPDATE or DELETE.
    pub async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Changed, DbError> {
        self.send(sql, params).await;
        let result = {
            let conn = self.lock();
            conn.prepare_cached(sql)
                .and_then(|mut stmt| stmt.execute(params_from_iter(params.iter())))
                .map(|n| Changed {
                    rows: n as u64,
                    last_insert_rowid: conn.last_insert_rowid(),
                })
                .map_err(DbError)
        };
        match &result {
            Ok(changed) => {
                Step::new(StepId::DatabaseResult, Direction::Up, Kind::Hop)
                    .summary(format!(
                        "changed {} (last insert rowid {})",
                        plural(changed.rows, "row"),
                        changed.last_insert_rowid
                    ))
                    .data(Data::Sql {
                        sql: sql.to_string(),
                        params: params.iter().map(sql_literal).collect(),
                        rows: Some(changed.rows),
                        columns: Vec::new(),
                        result: Vec::new(),
                    })
                    .emit();
            }
            Err(DbError(e)) => Self::failed(sql, e),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn db() -> Db {
        let conn = Connection::open_in_memory().expect("in-memory SQLite opens");
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .expect("schema");
        Db::new(conn, Duration::from_millis(2))
    }

    #[tokio::test(start_paused = true)]
    async fn statements_really_run_after_the_simulated_latency() {
        let (_guard, recording) = crate::framework::testing::record();
        let db = db();
        let start = Instant::now();
        let changed = db
            .execute(
                "INSERT INTO t (name) VALUES (?1)",
                &[Value::Text("it's".into())],
            )
            .await
            .expect("insert");
        assert_eq!(
            changed,
            Changed {
                rows: 1,
                last_insert_rowid: 1
            }
        );
        let rows = db
            .query("SELECT id, name FROM t", &[])
            .await
            .expect("select");
        assert_eq!(start.elapsed(), Duration::from_millis(4));
        assert_eq!(rows.columns, ["id", "name"]);
        assert_eq!(
            rows.rows,
            [vec![Value::Integer(1), Value::Text("it's".into())]]
        );

        let events = recording.take();
        let steps: Vec<_> = events.iter().map(|e| (e.step, e.at_ns)).collect();
        assert_eq!(
            steps,
            [
                (StepId::DatabaseQuery, 0),
                (StepId::DatabaseResult, 2_000_000),
                (StepId::DatabaseQuery, 2_000_000),
                (StepId::DatabaseResult, 4_000_000)
            ]
        );
        assert_eq!(
            events[0].summary,
            "sends INSERT INTO t (name) VALUES (?1) with ('it''s')"
        );
        assert_eq!(events[3].summary, "returns 1 row");
        assert!(matches!(
            &events[3].data[..],
            [Data::Sql { rows: Some(1), result, .. }] if result == &[vec!["1".to_string(), "it's".to_string()]]
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn bad_sql_is_an_error_not_a_panic() {
        let db = db();
        assert!(db.query("SELECT nope FROM t", &[]).await.is_err());
        assert!(
            db.execute("INSERT INTO missing VALUES (1)", &[])
                .await
                .is_err()
        );
    }
}
