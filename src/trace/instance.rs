//! Who acted, inside a layer: which connection, which sync worker, which
//! event-loop task, which upstream connection.
//!
//! A layer is rarely one thing. nginx serves many client connections at
//! once and keeps a pool of upstream connections; gunicorn runs N workers;
//! uvicorn runs one task per request on its loop. An event names the
//! instance that took the step, so a view can draw a pool of workers or a
//! set of connections, and a reader can follow one of them through time.
//!
//! Book: "The journey of a request" (book/src/journey.md), "Many requests at once".

use serde::{Deserialize, Serialize};

/// The part of a layer that took a step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Instance {
    /// One of the client's connections, numbered by the client in the order
    /// it opened them (its own numbering, not the server's).
    Client { conn: u64 },
    /// The web server working on one client connection (nginx's id for it).
    Connection { conn: u64 },
    /// The web server's proxy on one upstream connection to one app server
    /// (`server` is the address it dials).
    Upstream { server: String, conn: u64 },
    /// The app server's listener: the accept loop or the arbiter.
    Listener,
    /// A sync worker, numbered from 1 (gunicorn's workers).
    Worker { worker: u64 },
    /// A thread of a gthread worker's pool, numbered from 1 within the
    /// worker (gunicorn `threads`).
    Thread { worker: u64, thread: u64 },
    /// The event loop's handler of one app server connection (uvicorn's
    /// protocol object): it reads requests and writes responses, while each
    /// request's app call runs as a task. Numbered by the app server.
    Protocol { conn: u64 },
    /// An event-loop task, numbered from 1 in the order the loop created
    /// them (uvicorn runs each request as a task).
    Task { task: u64 },
}

impl Instance {
    /// A short name for a person: "connection 2", "worker 1", "task 7".
    pub fn label(&self) -> String {
        match self {
            Instance::Client { conn } => format!("client connection {conn}"),
            Instance::Connection { conn } => format!("connection {conn}"),
            Instance::Upstream { conn, .. } => format!("upstream connection {conn}"),
            Instance::Listener => "listener".to_string(),
            Instance::Worker { worker } => format!("worker {worker}"),
            Instance::Thread { worker, thread } => format!("worker {worker} thread {thread}"),
            Instance::Protocol { conn } => format!("protocol of app connection {conn}"),
            Instance::Task { task } => format!("task {task}"),
        }
    }
}
