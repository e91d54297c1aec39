//! Failures on demand: a lesson makes a handler raise, take its time, or
//! meet a broken database, on the calls it chooses.
//!
//! ```toml
//! [[stack.app.fault]]
//! handler = "notes_get"          # the route's handler (see `roundtrip check`)
//! raise = "KeyError: 'title'"    # the exception, as a traceback's last line reads
//! calls = [2]                    # only its 2nd call (default: every call)
//!
//! [[stack.app.fault]]
//! handler = "notes_list"
//! database = "missing_table"     # or "read_only"
//!
//! [[stack.app.fault]]
//! handler = "home"
//! delay = "3s"                   # an awaited call to a slow service first
//! ```
//!
//! A fault does not fake what follows it. A raised exception really
//! unwinds through the middleware to the framework's error layer (see
//! `framework::exception`); a broken database really refuses the
//! handler's SQL, with SQLite's own error, which the handler raises as
//! `sqlite3.OperationalError`; a delay really holds whatever runs the
//! handler (a sync worker, or a task on the event loop, which goes on
//! with other tasks meanwhile), so timeouts above it fire as they would.
//! The trace marks each fault with a `handler.fault` step so a learner
//! knows the lesson caused it.
//!
//! A websocket endpoint (`handler = "chat"`) takes only `raise`, and
//! `calls` counts its sockets: the endpoint accepts as usual, and raises
//! while handling the first message the client sends, so the exception
//! reaches the server after the 101, as a bug in a chat handler would.
//!
//! Book: "When things fail" (book/src/failures.md).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::db::{Breakage, Db};
use crate::framework::application::raise;
use crate::framework::websocket::WebsocketEndpoint;
use crate::framework::{Handler, Outcome, Request};
use crate::gateway::BoxFuture;
use crate::gateway::asgi::{Message, Receive, Send, WebsocketScope};
use crate::gateway::work::{Work, perform};
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};
use crate::units::Time;

/// One `[[stack.app.fault]]`: which handler, which of its calls, and what
/// goes wrong (exactly one of `raise`, `delay` and `database`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The handler it strikes, by the name the trace calls it
    /// (`notes_list`, `notes_get`, …).
    pub handler: String,
    /// Raise this exception instead of answering: its class, then `: `
    /// and its message (`"KeyError: 'title'"`, `"ZeroDivisionError:
    /// division by zero"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise: Option<String>,
    /// Wait this long, awaited, before the handler's own work (a slow
    /// service the handler calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Time>,
    /// Break the database for the call: `missing_table` or `read_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Breakage>,
    /// Which calls of the handler, counted from 1 in the order they
    /// start (default: every call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<u64>,
}

/// What a fault does, once `check` has made sure there is one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What<'a> {
    Raise(&'a str),
    Delay(Time),
    Database(Breakage),
}

/// What is wrong with a fault as written: the key to point at, the
/// message and a hint that fits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultProblem {
    pub key: &'static str,
    pub message: String,
    pub hint: &'static str,
}

impl Fault {
    /// What is wrong with this fault as written, if anything.
    pub fn check(&self) -> Result<(), FaultProblem> {
        let problem = |key, message: &str, hint| {
            Err(FaultProblem {
                key,
                message: message.to_string(),
                hint,
            })
        };
        const ONE_THING: &str = "give it one of raise = \"KeyError: 'title'\", delay = \"2s\" or database = \"missing_table\" (or \"read_only\")";
        let given = [
            self.raise.is_some(),
            self.delay.is_some(),
            self.database.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        match given {
            0 => return problem("handler", "says nothing goes wrong", ONE_THING),
            1 => {}
            _ => return problem("handler", "says more than one thing goes wrong", ONE_THING),
        }
        if let Some(r) = &self.raise
            && r.split(':').next().is_none_or(|c| c.trim().is_empty())
        {
            return problem(
                "raise",
                "`raise` needs an exception class",
                "write the class, then `: ` and its message, such as \"KeyError: 'title'\"",
            );
        }
        if self.calls.contains(&0) {
            return problem(
                "calls",
                "`calls` counts from 1",
                "the handler's first call is 1: calls = [1] strikes only the first",
            );
        }
        Ok(())
    }

    fn what(&self) -> Option<What<'_>> {
        if let Some(r) = &self.raise {
            return Some(What::Raise(r));
        }
        if let Some(d) = self.delay {
            return Some(What::Delay(d));
        }
        self.database.map(What::Database)
    }

    fn strikes(&self, call: u64) -> bool {
        self.calls.is_empty() || self.calls.contains(&call)
    }
}

/// `"KeyError: 'title'"` → (`KeyError`, `'title'`).
fn split_exception(written: &str) -> (&str, &str) {
    match written.split_once(':') {
        Some((class, message)) => (class.trim(), message.trim()),
        None => (written.trim(), ""),
    }
}

/// A handler with the lesson's faults around it.
pub struct Faulty<H> {
    inner: H,
    name: &'static str,
    faults: Vec<Fault>,
    db: Db,
    calls: AtomicU64,
}

impl<H: Handler> Faulty<H> {
    pub fn new(inner: H, name: &'static str, faults: Vec<Fault>, db: Db) -> Faulty<H> {
        Faulty {
            inner,
            name,
            faults,
            db,
            calls: AtomicU64::new(0),
        }
    }

    async fn run(&self, req: Request) -> Outcome {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(fault) = self.faults.iter().find(|f| f.strikes(call)) else {
            return self.inner.call(req).await;
        };
        let Some(what) = fault.what() else {
            return self.inner.call(req).await;
        };
        let name = self.name;
        let (summary, how) = match what {
            What::Raise(e) => (format!("raises {e}"), ("raise", e.to_string())),
            What::Delay(d) => (
                format!("first waits {d} on a slow service"),
                ("delay", d.to_string()),
            ),
            What::Database(b) => (
                match b {
                    Breakage::MissingTable => {
                        "meets a database without its notes table".to_string()
                    }
                    Breakage::ReadOnly => "meets a database that refuses writes".to_string(),
                },
                ("database", b.as_str().to_string()),
            ),
        };
        Step::new(StepId::HandlerFault, Direction::Within, Kind::Decision)
            .summary(format!(
                "the lesson's fault strikes call {call} of {name}: it {summary}"
            ))
            .data(Data::Fields {
                entries: vec![
                    ("handler".to_string(), name.to_string()),
                    ("call".to_string(), call.to_string()),
                    (how.0.to_string(), how.1),
                ],
            })
            .emit();
        match what {
            What::Raise(e) => {
                let (class, message) = split_exception(e);
                Err(raise(class, message))
            }
            What::Delay(d) => {
                perform(Work::Io(d.0)).await;
                self.inner.call(req).await
            }
            What::Database(b) => {
                // If the database cannot even be broken, the call goes on
                // unbroken rather than failing for a reason of our own.
                let broken = self.db.break_for(b).is_ok();
                let out = self.inner.call(req).await;
                if broken {
                    let _ = self.db.mend(b);
                }
                out
            }
        }
    }
}

impl<H: Handler> Handler for Faulty<H> {
    fn call<'a>(&'a self, req: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(self.run(req))
    }
}

/// A websocket endpoint with the lesson's `raise` faults around it.
pub struct FaultyWebsocket<E> {
    inner: E,
    name: &'static str,
    faults: Vec<Fault>,
    calls: AtomicU64,
}

impl<E: WebsocketEndpoint> FaultyWebsocket<E> {
    pub fn new(inner: E, name: &'static str, faults: Vec<Fault>) -> FaultyWebsocket<E> {
        FaultyWebsocket {
            inner,
            name,
            faults,
            calls: AtomicU64::new(0),
        }
    }
}

impl<E: WebsocketEndpoint> WebsocketEndpoint for FaultyWebsocket<E> {
    fn serve<'a>(
        &'a self,
        scope: WebsocketScope,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let raises = self
            .faults
            .iter()
            .find(|f| f.strikes(call))
            .and_then(|f| f.raise.clone());
        let Some(exception) = raises else {
            return self.inner.serve(scope, receive, send);
        };
        let name = self.name;
        Box::pin(async move {
            // The endpoint reads through this channel; the first message
            // from the client is where it raises instead.
            let (to_inner, inner_receive) = tokio::sync::mpsc::channel(8);
            let endpoint = self.inner.serve(scope, Receive(inner_receive), send);
            let watch = async {
                loop {
                    let Some(m) = receive.0.recv().await else {
                        // The server is gone; the endpoint hears so itself.
                        return std::future::pending().await;
                    };
                    if let Message::WebsocketReceive(_) = m {
                        // Recorded as received: the endpoint has it, then raises.
                        let (tx, rx) = tokio::sync::mpsc::channel(1);
                        let _ = tx.send(m).await;
                        let _ = Receive(rx).recv_websocket().await;
                        Step::new(StepId::HandlerFault, Direction::Within, Kind::Decision)
                            .summary(format!(
                                "the lesson's fault strikes socket {call} of {name}: handling \
                                 the client's first message, it raises {exception}"
                            ))
                            .data(Data::Fields {
                                entries: vec![
                                    ("handler".to_string(), name.to_string()),
                                    ("call".to_string(), call.to_string()),
                                    ("raise".to_string(), exception.clone()),
                                ],
                            })
                            .emit();
                        return Err(exception.clone());
                    }
                    if to_inner.send(m).await.is_err() {
                        return std::future::pending().await;
                    }
                }
            };
            // An exception unwinds the endpoint: what it was doing stops.
            tokio::select! {
                biased;
                r = endpoint => r,
                r = watch => r,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(raise: Option<&str>, delay: Option<Time>, database: Option<Breakage>) -> Fault {
        Fault {
            handler: "notes_list".into(),
            raise: raise.map(str::to_string),
            delay,
            database,
            calls: Vec::new(),
        }
    }

    #[test]
    fn a_fault_must_say_exactly_one_thing_goes_wrong() {
        assert!(fault(None, None, None).check().is_err());
        assert!(
            fault(Some("KeyError"), Some(Time::secs(1)), None)
                .check()
                .is_err()
        );
        assert!(fault(Some("KeyError: 'x'"), None, None).check().is_ok());
        assert!(fault(None, None, Some(Breakage::ReadOnly)).check().is_ok());
        assert!(fault(Some(": no class"), None, None).check().is_err());
    }

    #[test]
    fn calls_pick_which_calls_a_fault_strikes() {
        let mut f = fault(Some("KeyError"), None, None);
        assert!(f.strikes(1) && f.strikes(7));
        f.calls = vec![2, 3];
        assert!(!f.strikes(1) && f.strikes(2) && f.strikes(3) && !f.strikes(4));
    }

    #[test]
    fn an_exception_is_written_as_a_tracebacks_last_line() {
        assert_eq!(
            split_exception("KeyError: 'title'"),
            ("KeyError", "'title'")
        );
        assert_eq!(split_exception("RuntimeError"), ("RuntimeError", ""));
        assert_eq!(
            split_exception("sqlite3.OperationalError: database is locked"),
            ("sqlite3.OperationalError", "database is locked")
        );
    }
}
