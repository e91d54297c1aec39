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

/// What a sync worker, or a thread of a gthread worker, is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Waiting in `accept()` (a sync worker), or for a connection from its
    /// worker's queue (a gthread thread).
    Idle,
    /// Serving one connection; `request` once its head has been read.
    Busy,
    /// Gone: killed by the arbiter (gunicorn `timeout`) or recycled. The
    /// arbiter starts a replacement under a new number, as a new process.
    Exited,
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

/// Whether an event loop can run its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopState {
    /// Running tasks as they become ready.
    Free,
    /// One task is computing or blocked in a call that does not await:
    /// no other task, timer or accept runs on this loop until it returns.
    Blocked,
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
    /// A sync worker went busy, idle, or exited (killed or recycled).
    Worker {
        worker: u64,
        state: WorkerState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
        /// On an exit: the worker the arbiter forked in its place (a new
        /// process, so a new number). The link between the two is this
        /// field, not the order of the events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced_by: Option<u64>,
    },
    /// A thread of gthread worker `worker` (threads are numbered from 1
    /// within their worker) went busy with `request` or idle again.
    /// `Exited` when its worker exits.
    Thread {
        worker: u64,
        thread: u64,
        state: WorkerState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
    },
    /// A gthread worker's queue of connections waiting for a thread:
    /// `len` after the change, out of `capacity` (its `worker_connections`).
    ThreadQueue {
        worker: u64,
        change: QueueChange,
        len: u64,
        capacity: u64,
    },
    /// A listen backlog moved. `len` is the queue's length after the change,
    /// when the layer can see it (a real kernel queue cannot be read from
    /// user space; a lesson's in-memory one can).
    Backlog {
        change: QueueChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        len: Option<u64>,
        capacity: u64,
        /// The connecting side's address: links the queued connection to
        /// the one accepted later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    /// An event-loop task changed state.
    Task {
        task: u64,
        state: TaskState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
    },
    /// The event loop was blocked by a task, or freed again. `task` and
    /// `request` name the task that blocks it (absent when it is freed).
    Loop {
        state: LoopState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
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
    /// (gthread worker, thread) → (state, request it serves); a worker's
    /// threads are removed when it exits.
    pub threads: BTreeMap<(u64, u64), (WorkerState, Option<u64>)>,
    /// gthread worker → connections queued for its threads.
    pub thread_queues: BTreeMap<u64, u64>,
    /// task → (state, request it runs); finished tasks are removed.
    pub tasks: BTreeMap<u64, (TaskState, Option<u64>)>,
    /// The app server's backlog length (when known) and capacity.
    pub backlog: Option<(Option<u64>, u64)>,
    /// The event loop's state and the request blocking it, once known.
    pub event_loop: Option<(LoopState, Option<u64>)>,
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
                // Each end numbers its connections its own way; the board
                // follows the web server's numbering (it accepts client
                // connections and dials upstream ones), and leaves the other
                // ends' records to the trace's links.
                StateChange::Connection {
                    hop, conn, state, ..
                } if e.layer == super::vocab::Layer::WebServer => {
                    if state == ConnState::Closed {
                        self.connections.remove(&(hop, conn));
                    } else {
                        self.connections.insert((hop, conn), state);
                    }
                }
                StateChange::Connection { .. } => {}
                StateChange::Worker {
                    worker,
                    state: WorkerState::Exited,
                    ..
                } => {
                    self.workers.remove(&worker);
                }
                StateChange::Worker {
                    worker,
                    state,
                    request,
                    ..
                } => {
                    self.workers.insert(worker, (state, request));
                }
                StateChange::Thread {
                    worker,
                    thread,
                    state: WorkerState::Exited,
                    ..
                } => {
                    self.threads.remove(&(worker, thread));
                    self.thread_queues.remove(&worker);
                }
                StateChange::Thread {
                    worker,
                    thread,
                    state,
                    request,
                } => {
                    self.threads.insert((worker, thread), (state, request));
                }
                StateChange::ThreadQueue { worker, len, .. } => {
                    self.thread_queues.insert(worker, len);
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
                StateChange::Loop { state, request, .. } => {
                    self.event_loop = Some((state, request));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::vocab::{Direction, Kind, StepId};

    /// An event of `step` that changes `state`.
    fn event(seq: u64, step: StepId, state: Vec<StateChange>) -> Event {
        Event {
            seq,
            at_ns: seq,
            layer: step.layer(),
            step,
            instance: None,
            conn: None,
            upstream: None,
            app_conn: None,
            request: None,
            ordinal: None,
            direction: Direction::Within,
            kind: Kind::State,
            summary: String::new(),
            knob: None,
            answer: None,
            state,
            decision: None,
            failure: None,
            data: Vec::new(),
            narration: None,
            server: None,
        }
    }

    fn worker(worker: u64, state: WorkerState, request: Option<u64>) -> StateChange {
        StateChange::Worker {
            worker,
            state,
            request,
            replaced_by: None,
        }
    }

    fn backlog(change: QueueChange, len: u64) -> StateChange {
        StateChange::Backlog {
            change,
            len: Some(len),
            capacity: 2048,
            peer: None,
        }
    }

    fn connection(hop: Hop, conn: u64, state: ConnState) -> StateChange {
        StateChange::Connection {
            hop,
            conn,
            state,
            local: None,
            peer: None,
        }
    }

    #[test]
    fn a_worker_is_busy_with_its_request_until_it_goes_idle() {
        use WorkerState::{Busy, Idle};
        let events = vec![
            event(0, StepId::AppServerWorkerIdle, vec![worker(1, Idle, None)]),
            event(1, StepId::AppServerAccept, vec![worker(1, Busy, None)]),
            event(2, StepId::AppServerWorker, vec![worker(1, Busy, Some(3))]),
            event(3, StepId::AppServerWsgiCall, vec![]),
            event(4, StepId::AppServerWorkerIdle, vec![worker(1, Idle, None)]),
        ];
        let at = |i| StateBoard::at(&events, i).workers.get(&1).copied();
        assert_eq!(at(0), Some((Idle, None)));
        assert_eq!(at(1), Some((Busy, None)));
        assert_eq!(at(2), Some((Busy, Some(3))));
        // A step that changes nothing leaves the worker as it was.
        assert_eq!(at(3), Some((Busy, Some(3))));
        assert_eq!(at(4), Some((Idle, None)));
    }

    #[test]
    fn at_replays_up_to_and_including_the_given_event() {
        let events = vec![
            event(
                0,
                StepId::AppServerWorkerIdle,
                vec![worker(1, WorkerState::Idle, None)],
            ),
            event(
                1,
                StepId::AppServerWorkerIdle,
                vec![worker(2, WorkerState::Idle, None)],
            ),
        ];
        assert_eq!(StateBoard::at(&events, 0).workers.len(), 1);
        assert_eq!(StateBoard::at(&events, 1).workers.len(), 2);
        // Past the end: everything, and no panic.
        assert_eq!(StateBoard::at(&events, usize::MAX).workers.len(), 2);
        assert_eq!(StateBoard::at(&[], 0), StateBoard::default());
    }

    #[test]
    fn one_event_can_dequeue_open_a_connection_and_make_a_worker_busy() {
        let events = vec![
            event(
                0,
                StepId::AppServerBacklog,
                vec![backlog(QueueChange::Enqueue, 1)],
            ),
            event(
                1,
                StepId::AppServerAccept,
                vec![
                    backlog(QueueChange::Dequeue, 0),
                    connection(Hop::Upstream, 1, ConnState::Open),
                    worker(1, WorkerState::Busy, None),
                ],
            ),
        ];
        let board = StateBoard::at(&events, 0);
        assert_eq!(board.backlog, Some((Some(1), 2048)));
        assert!(board.connections.is_empty());
        let board = StateBoard::at(&events, 1);
        assert_eq!(board.backlog, Some((Some(0), 2048)));
        // The app server's own record of the connection is its end's; the
        // board keeps the web server's numbering, so it is not on the board.
        assert!(board.connections.is_empty());
        assert_eq!(board.workers.get(&1), Some(&(WorkerState::Busy, None)));
    }

    #[test]
    fn the_board_follows_the_web_servers_numbering_of_connections() {
        let events = vec![
            event(
                0,
                StepId::WebServerProxyConnect,
                vec![connection(Hop::Upstream, 1, ConnState::Open)],
            ),
            event(
                1,
                StepId::AppServerAccept,
                vec![connection(Hop::Upstream, 1, ConnState::Open)],
            ),
            event(
                2,
                StepId::AppServerConnectionClose,
                vec![connection(Hop::Upstream, 1, ConnState::Closed)],
            ),
        ];
        let board = StateBoard::at(&events, 2);
        assert_eq!(
            board.connections.get(&(Hop::Upstream, 1)),
            Some(&ConnState::Open),
            "the app server's close of its end is not the proxy's record"
        );
    }

    #[test]
    fn only_the_app_servers_backlog_is_the_boards_backlog() {
        let events = vec![
            event(
                0,
                StepId::WebServerBacklog,
                vec![backlog(QueueChange::Enqueue, 5)],
            ),
            event(
                1,
                StepId::AppServerBacklog,
                vec![backlog(QueueChange::Enqueue, 1)],
            ),
            event(
                2,
                StepId::WebServerBacklog,
                vec![backlog(QueueChange::Enqueue, 6)],
            ),
        ];
        assert_eq!(StateBoard::at(&events, 0).backlog, None);
        assert_eq!(StateBoard::at(&events, 2).backlog, Some((Some(1), 2048)));
    }

    #[test]
    fn a_closed_connection_leaves_the_board_and_the_same_id_on_the_other_hop_stays() {
        let events = vec![
            event(
                0,
                StepId::WebServerAccept,
                vec![connection(Hop::Client, 1, ConnState::Open)],
            ),
            event(
                1,
                StepId::WebServerProxyConnect,
                vec![connection(Hop::Upstream, 1, ConnState::Open)],
            ),
            event(
                2,
                StepId::WebServerRequestReceive,
                vec![connection(Hop::Client, 1, ConnState::Active)],
            ),
            event(
                3,
                StepId::WebServerConnectionClose,
                vec![connection(Hop::Client, 1, ConnState::Closed)],
            ),
        ];
        let board = StateBoard::at(&events, 2);
        assert_eq!(
            board.connections.get(&(Hop::Client, 1)),
            Some(&ConnState::Active)
        );
        let board = StateBoard::at(&events, 3);
        assert_eq!(board.connections.get(&(Hop::Client, 1)), None);
        assert_eq!(
            board.connections.get(&(Hop::Upstream, 1)),
            Some(&ConnState::Open)
        );
    }

    #[test]
    fn a_finished_task_leaves_the_board() {
        let task = |state| StateChange::Task {
            task: 7,
            state,
            request: Some(2),
        };
        let events = vec![
            event(0, StepId::AppServerTask, vec![task(TaskState::Ready)]),
            event(1, StepId::AppServerTask, vec![task(TaskState::Running)]),
            event(2, StepId::AppServerTask, vec![task(TaskState::Awaiting)]),
            event(3, StepId::AppServerTask, vec![task(TaskState::Done)]),
        ];
        let states: Vec<_> = (0..4)
            .map(|i| StateBoard::at(&events, i).tasks.get(&7).copied())
            .collect();
        assert_eq!(
            states,
            vec![
                Some((TaskState::Ready, Some(2))),
                Some((TaskState::Running, Some(2))),
                Some((TaskState::Awaiting, Some(2))),
                None,
            ]
        );
    }

    #[test]
    fn state_changes_serialize_tagged_by_what_changed() {
        let json = serde_json::to_value(worker(2, WorkerState::Busy, Some(4))).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"of": "worker", "worker": 2, "state": "busy", "request": 4})
        );
        // Unknown addresses and lengths are left out, not written as null.
        let json =
            serde_json::to_value(connection(Hop::Upstream, 1, ConnState::Idle)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"of": "connection", "hop": "upstream", "conn": 1, "state": "idle"})
        );
    }
}
