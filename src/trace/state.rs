//! State over time: typed changes a view draws without reading prose.
//!
//! A worker pool, a listen backlog, an event loop's tasks and a set of
//! connections each have a state at every moment. Layers record each
//! change as it happens; replaying the changes up to any event gives the
//! state at that event ([`StateBoard`]), which is how the player draws a
//! pool, a queue or a loop at any step.
//!
//! Book: "The journey of a request" (book/src/journey.md), "Many requests at once".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Event;

/// Which hop a connection crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// Client ↔ web server.
    Client,
    /// Web server ↔ app server (the proxy hop).
    Upstream,
}

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// Just established; nothing sent yet.
    Open,
    /// A request is on it.
    Active,
    /// Open, waiting for the next request (keep-alive, or an idle upstream
    /// connection in the pool).
    Idle,
    /// Gone.
    Closed,
}

/// What a sync worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Waiting in `accept()`.
    Idle,
    /// Serving one connection; `request` once its head has been read.
    Busy,
}

/// What an event-loop task is doing (asyncio's view of a coroutine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Created, waiting for the loop to run it.
    Ready,
    /// The loop is running it: nothing else runs on this loop now.
    Running,
    /// Suspended at an `await`; the loop is free for other tasks.
    Awaiting,
    /// Finished.
    Done,
}

/// Which way a queue moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueChange {
    /// A connection joined the backlog (the kernel completed its handshake).
    Enqueue,
    /// `accept()` took one out.
    Dequeue,
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum StateChange {
    /// A connection changed state. `local` and `peer` are the addresses as
    /// seen by the side that recorded it: the pair links the two ends.
    Connection {
        hop: Hop,
        conn: u64,
        state: ConnState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    /// A sync worker went busy or idle.
    Worker {
        worker: u64,
        state: WorkerState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
    },
    /// A listen backlog moved. `len` is the queue's length after the change,
    /// when the layer can see it (a real kernel queue cannot be read from
    /// user space; a lesson's in-memory one can).
    Backlog {
        change: QueueChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        len: Option<u64>,
        capacity: u64,
    },
    /// An event-loop task changed state.
    Task {
        task: u64,
        state: TaskState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
    },
}

/// The state of everything at one moment, rebuilt from the changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateBoard {
    /// (hop, connection id) → state; closed connections are removed.
    pub connections: BTreeMap<(Hop, u64), ConnState>,
    /// worker → (state, request it serves).
    pub workers: BTreeMap<u64, (WorkerState, Option<u64>)>,
    /// task → (state, request it runs); finished tasks are removed.
    pub tasks: BTreeMap<u64, (TaskState, Option<u64>)>,
    /// The app server's backlog length (when known) and capacity.
    pub backlog: Option<(Option<u64>, u64)>,
}

impl StateBoard {
    /// The state after `events[..=upto]` (the whole list when `upto` is past its end).
    pub fn at(events: &[Event], upto: usize) -> StateBoard {
        let mut board = StateBoard::default();
        for e in events.iter().take(upto.saturating_add(1)) {
            board.apply(e);
        }
        board
    }

    /// Apply one event's changes.
    pub fn apply(&mut self, e: &Event) {
        for change in &e.state {
            match *change {
                StateChange::Connection {
                    hop, conn, state, ..
                } => {
                    if state == ConnState::Closed {
                        self.connections.remove(&(hop, conn));
                    } else {
                        self.connections.insert((hop, conn), state);
                    }
                }
                StateChange::Worker {
                    worker,
                    state,
                    request,
                } => {
                    self.workers.insert(worker, (state, request));
                }
                StateChange::Task {
                    task,
                    state,
                    request,
                } => {
                    if state == TaskState::Done {
                        self.tasks.remove(&task);
                    } else {
                        self.tasks.insert(task, (state, request));
                    }
                }
                StateChange::Backlog { len, capacity, .. } => {
                    if e.step.layer() == super::vocab::Layer::AppServer {
                        self.backlog = Some((len, capacity));
                    }
                }
            }
        }
    }
}
