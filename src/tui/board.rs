//! The concurrency board: the app server's workers, tasks, loop and listen
//! backlog at one step, with what a view of them needs beyond their state:
//! *since when* (a worker busy for 1.6 s is the lesson, not just "busy"),
//! *who waits* in the backlog, in the order `accept()` will take them, and
//! *who exited* and which worker the arbiter forked in its place.
//!
//! It wraps the trace's own [`StateBoard`] and replays the same typed
//! changes, so it is derived from the trace and the cursor alone, like
//! everything on screen: stepping back gives back the same board.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section
//! "Watching it in the player".

use std::collections::{BTreeMap, VecDeque};

use crate::trace::state::StateBoard;
use crate::trace::{Event, Layer, LoopState, QueueChange, StateChange, WorkerState};

/// Exited workers remembered, newest last; an older one is forgotten when
/// a new one exits (the view has room for a few lines, and a lesson that
/// recycles workers every few requests would otherwise grow without end).
pub const MAX_EXITED: usize = 4;
/// Waiting connections remembered by name. gunicorn's default backlog is
/// 2048 and Linux caps any at `somaxconn` (4096 since 5.4); past this the
/// board still counts the queue (the trace says its length) but stops
/// naming who is in it.
pub const MAX_WAITING: usize = 4096;

/// A worker that exited: killed by the arbiter's timeout, or recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub worker: u64,
    /// The request it was serving when it went, if any.
    pub request: Option<u64>,
    pub at_ns: u64,
    /// The worker forked in its place.
    pub replaced_by: Option<u64>,
}

/// A connection in the app server's listen backlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The connecting side's address: what the dequeue names.
    pub peer: Option<String>,
    /// The request it carries, when the trace knows it already.
    pub request: Option<u64>,
    /// When the kernel queued it.
    pub since_ns: u64,
}

/// The loop is blocked: since when, by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Index of the `app_server.loop.blocked` step.
    pub step: usize,
    pub since_ns: u64,
    pub request: Option<u64>,
}

/// Workers, tasks, loop and backlog at one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Board {
    /// The trace's own replay of the changes.
    pub state: StateBoard,
    /// worker → when it entered its current state (idle, or busy since `accept()`).
    pub worker_since: BTreeMap<u64, u64>,
    /// worker → the worker it replaces, for a worker forked after an exit.
    pub replaces: BTreeMap<u64, u64>,
    /// The last [`MAX_EXITED`] exits, oldest first.
    pub exited: VecDeque<Exit>,
    /// The app server's backlog, front (next to be accepted) first; at
    /// most [`MAX_WAITING`] of them.
    pub waiting: VecDeque<Waiting>,
    /// The loop's current block, while it lasts.
    pub block: Option<Block>,
}

impl Board {
    /// Apply step `i`, event `e`.
    pub fn apply(&mut self, i: usize, e: &Event) {
        for change in &e.state {
            match change {
                StateChange::Worker {
                    worker,
                    state,
                    replaced_by,
                    ..
                } => {
                    let before = self.state.workers.get(worker).copied();
                    if *state == WorkerState::Exited {
                        if self.exited.len() == MAX_EXITED {
                            self.exited.pop_front();
                        }
                        self.exited.push_back(Exit {
                            worker: *worker,
                            request: before.and_then(|(_, r)| r),
                            at_ns: e.at_ns,
                            replaced_by: *replaced_by,
                        });
                        self.worker_since.remove(worker);
                        if let Some(new) = replaced_by {
                            self.replaces.insert(*new, *worker);
                        }
                        self.replaces.remove(worker);
                    } else if before.map(|(s, _)| s) != Some(*state) {
                        self.worker_since.insert(*worker, e.at_ns);
                    }
                }
                StateChange::Backlog { change, peer, .. } if e.step.layer() == Layer::AppServer => {
                    match change {
                        QueueChange::Enqueue if self.waiting.len() < MAX_WAITING => {
                            self.waiting.push_back(Waiting {
                                peer: peer.clone(),
                                request: e.request,
                                since_ns: e.at_ns,
                            });
                        }
                        QueueChange::Enqueue => {}
                        QueueChange::Dequeue => {
                            // accept() takes the oldest; the peer says which
                            // when the layer recorded it.
                            let at = self
                                .waiting
                                .iter()
                                .position(|w| peer.is_some() && w.peer == *peer)
                                .unwrap_or(0);
                            self.waiting.remove(at);
                        }
                    }
                }
                StateChange::Loop { state, request, .. } => {
                    self.block = match state {
                        LoopState::Blocked => Some(Block {
                            step: i,
                            since_ns: e.at_ns,
                            request: *request,
                        }),
                        LoopState::Free => None,
                    };
                }
                _ => {}
            }
        }
        self.state.apply(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::vocab::{Direction, Kind, StepId};

    fn event(at_ns: u64, step: StepId, request: Option<u64>, state: Vec<StateChange>) -> Event {
        Event {
            seq: at_ns,
            at_ns,
            layer: step.layer(),
            step,
            instance: None,
            conn: None,
            upstream: None,
            app_conn: None,
            request,
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

    fn worker(worker: u64, state: WorkerState, replaced_by: Option<u64>) -> StateChange {
        StateChange::Worker {
            worker,
            state,
            request: None,
            replaced_by,
        }
    }

    fn replay(events: &[Event]) -> Board {
        let mut b = Board::default();
        for (i, e) in events.iter().enumerate() {
            b.apply(i, e);
        }
        b
    }

    #[test]
    fn a_worker_is_busy_since_its_accept_not_since_its_request_was_read() {
        let events = vec![
            event(
                0,
                StepId::AppServerWorkerIdle,
                None,
                vec![worker(1, WorkerState::Idle, None)],
            ),
            event(
                5,
                StepId::AppServerAccept,
                None,
                vec![worker(1, WorkerState::Busy, None)],
            ),
            event(
                7,
                StepId::AppServerWorker,
                Some(1),
                vec![StateChange::Worker {
                    worker: 1,
                    state: WorkerState::Busy,
                    request: Some(1),
                    replaced_by: None,
                }],
            ),
        ];
        assert_eq!(replay(&events).worker_since.get(&1), Some(&5));
    }

    #[test]
    fn an_exit_remembers_the_request_and_links_the_replacement() {
        let events = vec![
            event(
                0,
                StepId::AppServerWorker,
                Some(9),
                vec![StateChange::Worker {
                    worker: 1,
                    state: WorkerState::Busy,
                    request: Some(9),
                    replaced_by: None,
                }],
            ),
            event(
                3,
                StepId::AppServerWorkerSpawn,
                None,
                vec![worker(1, WorkerState::Exited, Some(3))],
            ),
            event(
                3,
                StepId::AppServerWorkerIdle,
                None,
                vec![worker(3, WorkerState::Idle, None)],
            ),
        ];
        let b = replay(&events);
        assert_eq!(
            b.exited.back(),
            Some(&Exit {
                worker: 1,
                request: Some(9),
                at_ns: 3,
                replaced_by: Some(3)
            })
        );
        assert_eq!(b.replaces.get(&3), Some(&1));
        assert!(!b.state.workers.contains_key(&1));
    }

    #[test]
    fn only_the_last_exits_are_remembered() {
        let events: Vec<Event> = (0..10)
            .map(|w| {
                event(
                    w,
                    StepId::AppServerWorkerSpawn,
                    None,
                    vec![worker(w, WorkerState::Exited, Some(w + 100))],
                )
            })
            .collect();
        let b = replay(&events);
        assert_eq!(b.exited.len(), MAX_EXITED);
        assert_eq!(
            b.exited.front().map(|x| x.worker),
            Some(10 - MAX_EXITED as u64)
        );
    }

    #[test]
    fn accept_takes_the_waiting_connection_it_names() {
        let q = |change, peer: &str| StateChange::Backlog {
            change,
            len: None,
            capacity: 2048,
            peer: Some(peer.to_string()),
        };
        let events = vec![
            event(
                0,
                StepId::AppServerBacklog,
                Some(1),
                vec![q(QueueChange::Enqueue, "a")],
            ),
            event(
                1,
                StepId::AppServerBacklog,
                Some(2),
                vec![q(QueueChange::Enqueue, "b")],
            ),
            event(
                2,
                StepId::AppServerAccept,
                None,
                vec![q(QueueChange::Dequeue, "b")],
            ),
        ];
        let b = replay(&events);
        let left: Vec<Option<u64>> = b.waiting.iter().map(|w| w.request).collect();
        assert_eq!(left, [Some(1)]);
    }

    #[test]
    fn a_block_lasts_from_blocked_to_free() {
        let l = |state, request| StateChange::Loop {
            state,
            task: None,
            request,
        };
        let events = vec![
            event(
                10,
                StepId::AppServerLoopBlocked,
                Some(4),
                vec![l(LoopState::Blocked, Some(4))],
            ),
            event(20, StepId::AppServerBacklog, None, vec![]),
        ];
        let b = replay(&events);
        assert_eq!(
            b.block,
            Some(Block {
                step: 0,
                since_ns: 10,
                request: Some(4)
            })
        );
        let mut events = events;
        events.push(event(
            110,
            StepId::AppServerLoopFree,
            Some(4),
            vec![l(LoopState::Free, None)],
        ));
        assert_eq!(replay(&events).block, None);
    }
}
