//! How long a 2,000-request load lesson takes to run headless, and how
//! large its trace is: the stack and the client on the paused clock, the
//! assembly of the trace and its figures, then the JSON that `run --json`
//! prints. Target (issue 9): under 1 s for the whole
//! `roundtrip run FILE --json > /dev/null`.
//!
//! `cargo bench --bench load_lesson` (harness = false: a plain `main` that
//! prints the time of each run; no benchmarking crate needed).
//!
//! Measured when `[load]` was added, on a shared 2-core machine, with
//! `/usr/bin/time target/release/roundtrip run FILE --json > /dev/null` on
//! these three lessons: 0.24 to 0.30 s each (about 0.2 s of it running the
//! stack, 0.08 s writing JSON), 75 to 84 MB of JSON (some 40 KB a request),
//! 135 to 153 MB of memory at most. Writing the JSON as it is produced,
//! rather than as one string first, took the memory down from 450 MB and
//! the time from 0.4–0.6 s: most of the time had gone into the kernel
//! zeroing fresh pages for that string and its copy.

use std::time::Instant;

use roundtrip::scenario::{self, Lesson};
use roundtrip::trace::export::json;

/// Three ways to send about 2,000 requests in 10 s of simulated time.
const LESSONS: [(&str, &str); 3] = [
    (
        "closed loop, 4 sync workers, 20 ms, 8 clients",
        "[stack.app_server]\nworkers = 4\n[stack.app]\ndb_latency = \"20ms\"\n\
         [load]\nclients = 8\nduration = \"10s\"\n",
    ),
    (
        "closed loop, event loop, 100 ms, 20 clients",
        "[stack.app_server]\ninterface = \"asgi\"\n[stack.app]\ndb_latency = \"100ms\"\n\
         [load]\nclients = 20\nduration = \"10s\"\n",
    ),
    (
        "open loop, 4 sync workers, 10 ms, 200/s",
        "[stack.app_server]\nworkers = 4\n[stack.app]\ndb_latency = \"10ms\"\n\
         [load]\nrate = \"200/s\"\nduration = \"10s\"\n",
    ),
];

/// Runs of each lesson.
const RUNS: u32 = 3;

fn lesson(name: &str, body: &str) -> Lesson {
    let source = format!("title = \"{name}\"\n{body}[[load.mix]]\npath = \"/notes\"\n");
    let path = std::path::Path::new("bench.toml");
    let scenario = scenario::validate::parse(path, &source).expect("the bench lesson is valid");
    Lesson {
        name: "bench".into(),
        path: path.to_path_buf(),
        source,
        scenario,
    }
}

/// A writer that only counts what it is given, like `/dev/null`.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    for (name, body) in LESSONS {
        let lesson = lesson(name, body);
        println!("load_lesson: {name}");
        for _ in 0..RUNS {
            let started = Instant::now();
            let outcome = scenario::run(&lesson).expect("the bench lesson runs");
            let ran = started.elapsed();
            // As `run --json > /dev/null` does: written as it is produced.
            let mut bytes = Counted(0);
            let started = Instant::now();
            json::write(&outcome.trace, &mut bytes).expect("counting cannot fail");
            let serialized = started.elapsed();
            println!(
                "  {} requests, {} events: run {:>6.1} ms + JSON {:>6.1} ms = {:>6.1} ms; {:.1} MB of JSON",
                outcome.trace.requests.len(),
                outcome.trace.events.len(),
                ran.as_secs_f64() * 1e3,
                serialized.as_secs_f64() * 1e3,
                (ran + serialized).as_secs_f64() * 1e3,
                bytes.0 as f64 / 1e6
            );
        }
    }
}
