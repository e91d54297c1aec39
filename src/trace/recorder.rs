//! The recorder: a `tracing_subscriber::Layer` that turns roundtrip's events
//! into [`Event`] values.
//!
//! It keeps each span's `conn` / `request` ids in the span's extensions and,
//! for every event, walks the event's scope (innermost span first) to find
//! the ids the event did not set itself. Timestamps are read from tokio's
//! clock, so in a lesson (paused clock) they are simulated time and the same
//! on every run. Events whose target is not `roundtrip` are ignored.
//!
//! Two sinks. A lesson keeps every event in memory ([`Recorder::buffered`]):
//! the run is short and the whole trace is the point. `serve` runs for as
//! long as traffic comes, so [`Recorder::streaming`] hands events to a
//! bounded channel, with one overload policy: **the server never waits on
//! the recorder.** When the channel is full (the printer or the player is
//! behind), the new event is dropped and counted in [`StreamCounts`], and
//! whoever shows events shows that count. A slow terminal makes the trace
//! incomplete; it never makes the server slow or large.
//!
//! Book: "Using roundtrip" (book/src/using.md), "Watching live traffic".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tracing::span::{Attributes, Id};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::instance::Instance;
use super::model::Event;
use super::visit::Fields;
use super::vocab::{Layer, TARGET};

/// Ids carried by a span, stored in its extensions.
#[derive(Debug, Clone, Default)]
struct SpanIds {
    conn: Option<u64>,
    request: Option<u64>,
    app_conn: Option<u64>,
    worker: Option<u64>,
    task: Option<u64>,
    server: Option<String>,
}

enum Sink {
    Buffer(Arc<Mutex<Vec<Event>>>),
    Channel {
        tx: SyncSender<Event>,
        counts: Arc<StreamCounts>,
    },
}

/// What a streaming recorder did with its events, shared with the reader.
#[derive(Debug, Default)]
pub struct StreamCounts {
    /// Events put in the channel.
    sent: AtomicU64,
    /// Events dropped because the channel was full (or nobody read it).
    dropped: AtomicU64,
}

impl StreamCounts {
    /// Events put in the channel so far (or being put in right now).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Events dropped so far: the reader was behind and the channel full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The reading end of a streaming recorder.
pub struct EventStream {
    /// Events in the order they were recorded (`seq` ascending, with gaps
    /// where events were dropped).
    pub events: Receiver<Event>,
    pub counts: Arc<StreamCounts>,
}

/// The recording layer. Build one with [`Recorder::buffered`] (lessons,
/// tests) or [`Recorder::streaming`] (`serve`).
pub struct Recorder {
    sink: Sink,
    start: Instant,
    seq: AtomicU64,
}

/// The events a buffered recorder collected.
#[derive(Clone, Default)]
pub struct Recording {
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recording {
    /// Take the events recorded so far, in order.
    pub fn take(&self) -> Vec<Event> {
        match self.events.lock() {
            Ok(mut events) => std::mem::take(&mut *events),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Recorder {
    /// A recorder that keeps events in memory. Time zero is "now" on tokio's
    /// clock, so create it inside the runtime that runs the lesson.
    pub fn buffered() -> (Recorder, Recording) {
        let recording = Recording::default();
        let recorder = Recorder {
            sink: Sink::Buffer(recording.events.clone()),
            start: Instant::now(),
            seq: AtomicU64::new(0),
        };
        (recorder, recording)
    }

    /// A recorder that sends each event down a channel of `capacity`
    /// events as it happens. It never waits: an event that finds the
    /// channel full is dropped and counted (see the module doc).
    pub fn streaming(capacity: usize) -> (Recorder, EventStream) {
        let (tx, rx) = sync_channel(capacity);
        let counts = Arc::new(StreamCounts::default());
        let recorder = Recorder {
            sink: Sink::Channel {
                tx,
                counts: counts.clone(),
            },
            start: Instant::now(),
            seq: AtomicU64::new(0),
        };
        (recorder, EventStream { events: rx, counts })
    }

    fn record(&self, event: Event) {
        match &self.sink {
            Sink::Buffer(events) => match events.lock() {
                Ok(mut events) => events.push(event),
                Err(poisoned) => poisoned.into_inner().push(event),
            },
            // Full: the reader is behind. Closed: nobody reads any more.
            // Either way the server goes on; the event is only counted.
            // Counted as sent before it is in the channel, so that a reader
            // that has taken `sent` events knows the channel is empty.
            Sink::Channel { tx, counts } => {
                counts.sent.fetch_add(1, Ordering::SeqCst);
                if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                    tx.try_send(event)
                {
                    counts.sent.fetch_sub(1, Ordering::SeqCst);
                    counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIds {
                conn: fields.conn,
                request: fields.request,
                app_conn: fields.app_conn,
                worker: fields.worker,
                task: fields.task,
                server: fields.server,
            });
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        // The typed step comes beside the event, on this thread (see `emit`).
        let Some(step) = super::emit::take_step() else {
            return;
        };
        let mut f = Fields::default();
        event.record(&mut f);
        let mut conn = step.conn;
        let mut request = step.request;
        let mut app_conn = step.app_conn;
        let (mut worker, mut task) = (None, None);
        let mut server = step.server;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(ids) = span.extensions().get::<SpanIds>() {
                    conn = conn.or(ids.conn);
                    request = request.or(ids.request);
                    app_conn = app_conn.or(ids.app_conn);
                    worker = worker.or(ids.worker);
                    task = task.or(ids.task);
                    if server.is_none() {
                        server.clone_from(&ids.server);
                    }
                }
            }
        }
        let layer = step.step.layer();
        // A step inside a connection's, worker's or task's span was taken by
        // that instance, unless the step says otherwise.
        let instance = step.instance.or(match layer {
            Layer::WebServer => conn.map(|conn| Instance::Connection { conn }),
            Layer::AppServer => task
                .map(|task| Instance::Task { task })
                .or(worker.map(|worker| Instance::Worker { worker }))
                .or(app_conn.map(|conn| Instance::Protocol { conn })),
            _ => None,
        });
        let (mut summary, mut data, mut decision) = (f.summary, step.data, step.decision);
        super::redact::event(&mut summary, &mut data, decision.as_mut());
        let at_ns = Instant::now()
            .saturating_duration_since(self.start)
            .as_nanos();
        self.record(Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            at_ns: u64::try_from(at_ns).unwrap_or(u64::MAX),
            layer,
            step: step.step,
            instance,
            conn,
            upstream: step.upstream,
            app_conn,
            request,
            ordinal: step.ordinal,
            direction: step.direction,
            kind: step.kind,
            summary,
            knob: step.knob,
            answer: step.answer,
            state: step.state,
            decision,
            failure: step.failure,
            data,
            narration: None,
            server,
        });
    }
}

/// Install `recorder` as this thread's subscriber until the guard drops.
///
/// `tracing` caches, per call site, whether any subscriber is interested.
/// If a thread with no subscriber reaches a call site first while no other
/// dispatcher is registered, the cache says "never", and a recorder on
/// another thread (parallel tests, two lessons at once) would lose events
/// until the cache is rebuilt. One always-registered dispatcher for the
/// whole process keeps the cache from ever saying "never".
pub fn install_on_this_thread(recorder: Recorder) -> tracing::subscriber::DefaultGuard {
    use tracing_subscriber::layer::SubscriberExt;
    static ALWAYS_REGISTERED: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ALWAYS_REGISTERED.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder));
    tracing::callsite::rebuild_interest_cache();
    guard
}

/// A buffered recorder installed on this thread (tests, lessons).
pub fn record_on_this_thread() -> (tracing::subscriber::DefaultGuard, Recording) {
    let (recorder, recording) = Recorder::buffered();
    (install_on_this_thread(recorder), recording)
}
