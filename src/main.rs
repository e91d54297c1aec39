//! The `roundtrip` command: pick a lesson, play it, check lesson files, or
//! serve real traffic through the same layers.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;

use roundtrip::clock::Clock;
use roundtrip::scenario::error::{ScenarioError, Severity};
use roundtrip::scenario::{self, LoadError, bundled};
use roundtrip::stack::{self, StackConfig};
use roundtrip::trace::export::{json, plain};
use roundtrip::trace::live::{
    DEFAULT_HISTORY, HISTORY_WITHOUT_PLAYER, LIVE_CHANNEL_EVENTS, Limits, LiveAssembler,
    TUI_REFRESH, TraceFeed, Update,
};
use roundtrip::trace::recorder::{EventStream, StreamCounts};
use roundtrip::trace::{Meta, Recorder};
use roundtrip::tui::{self, BreakOn, LessonEntry, PlayerOptions};

/// A request makes a few hundred small allocations (its bytes, environ,
/// scope and messages, and the trace events that record them), most of
/// them freed on another thread (the printer's). glibc's allocator spends
/// about a third of `serve`'s time on that (measured with perf, see the
/// book's "Benchmarks"); mimalloc's per-thread free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "roundtrip",
    version,
    about = "Watch an HTTP request travel down a real web stack and back up.",
    after_help = "Run with no command to pick a lesson."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per run: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// List the bundled lessons.
    List,
    /// Play a lesson (a bundled name, or a path to a .toml file).
    Run {
        lesson: String,
        /// Print a transcript instead of opening the player (pipes, CI, screen readers).
        #[arg(long, conflicts_with = "json")]
        plain: bool,
        /// With --plain: each step's data under it (bytes, headers, environ,
        /// scope, ASGI messages, SQL and rows), for a handout or a screen reader.
        #[arg(long, requires = "plain")]
        detail: bool,
        /// Print the recorded trace as JSON.
        #[arg(long)]
        json: bool,
        /// Stop playing at: 4xx, 5xx or layer:NAME (repeatable).
        #[arg(long = "break-on", value_name = "WHEN")]
        break_on: Vec<BreakOn>,
    },
    /// Write a new lesson to start from (NAME.toml, commented; it runs as it is).
    New {
        /// The lesson's file name, with or without `.toml`.
        name: PathBuf,
    },
    /// Print the lesson format as a JSON Schema, for editors (taplo, Even
    /// Better TOML): the file scenarios/lesson.schema.json holds the same.
    Schema,
    /// Print a shell's completion script (bash, zsh, fish, elvish, powershell):
    /// e.g. `roundtrip completions bash > ~/.local/share/bash-completion/completions/roundtrip`.
    Completions { shell: clap_complete::Shell },
    /// Check lesson files: syntax, fields, and that their expectations hold.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Serve real HTTP on 127.0.0.1 through the same layers.
    Serve {
        /// Where the web server listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Use this lesson's [stack] settings (name or path; for a lesson that
        /// compares stacks, its first variant's).
        #[arg(long)]
        lesson: Option<String>,
        /// The app server's interface: wsgi (sync workers) or asgi (event loop).
        #[arg(long, value_parser = ["wsgi", "asgi"])]
        interface: Option<String>,
        /// Print each finished request's transcript.
        #[arg(long, conflicts_with_all = ["tui", "no_record"])]
        plain: bool,
        /// Animate requests as they arrive.
        #[arg(long, conflicts_with = "no_record")]
        tui: bool,
        /// Record nothing (no access log): measures what recording costs.
        #[arg(long)]
        no_record: bool,
        /// Finished requests the player keeps to step through (with --tui).
        #[arg(long, value_name = "N", requires = "tui",
              default_value_t = DEFAULT_HISTORY as u64,
              value_parser = clap::value_parser!(u64).range(1..=MAX_HISTORY))]
        history: u64,
        /// Add Server-Timing to every response: the app server's, the proxy
        /// hop's and the web server's time, drawn by browser DevTools.
        #[arg(long)]
        server_timing: bool,
        /// Sync workers of the WSGI app server (gunicorn --workers), each on
        /// a thread of its own.
        #[arg(long, value_name = "N",
              value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
        workers: Option<u64>,
        /// The WSGI worker class (gunicorn --worker-class): sync, one request
        /// at a time per worker, or gthread, a pool of --threads per worker.
        #[arg(long, value_parser = ["sync", "gthread"])]
        worker_class: Option<String>,
        /// Threads per gthread worker (gunicorn --threads); over 1 with the
        /// sync class runs gthread, as gunicorn does.
        #[arg(long, value_name = "N",
              value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
        threads: Option<u64>,
        /// Serve this directory where the locations' `root /srv/www` points
        /// (so `/static/x` is DIR/static/x); default: the lessons' site.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Also listen with TLS (nginx's `listen … ssl`) on --tls-listen,
        /// with a self-signed certificate for localhost and 127.0.0.1 made
        /// at start (or --cert/--key): `curl -k https://127.0.0.1:8443/`.
        #[arg(long)]
        tls: bool,
        /// Where the TLS listener listens.
        #[arg(long, default_value = "127.0.0.1:8443", requires = "tls")]
        tls_listen: SocketAddr,
        /// The certificate chain, PEM (nginx's ssl_certificate).
        #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
        cert: Option<PathBuf>,
        /// The certificate's private key, PEM (nginx's ssl_certificate_key).
        #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
        key: Option<PathBuf>,
        /// Answer every plain HTTP request with a 301 to the same URL over
        /// https (`return 301 https://$host$request_uri`).
        #[arg(long, requires = "tls")]
        redirect_http: bool,
        /// Send `Strict-Transport-Security: max-age=SECONDS` on every
        /// response over TLS (never over plain HTTP).
        #[arg(long, value_name = "SECONDS", requires = "tls")]
        hsts: Option<u64>,
        /// Start N app server instances (a, b, c, …), each on its own
        /// 127.0.0.1 port with its own workers, behind one upstream group;
        /// all share the database. 1 (the default) is one app server and no
        /// group, unless --lesson has one. With a group, a control endpoint
        /// stops, kills and starts instances: see --control.
        #[arg(long, value_name = "N", conflicts_with = "upstream",
              value_parser = clap::value_parser!(u64).range(1..=MAX_INSTANCES))]
        instances: Option<u64>,
        /// How the upstream group chooses a server: round_robin (nginx's
        /// smooth weighted round robin), least_conn or ip_hash (every
        /// client on 127.0.0.1 hashes to the same server).
        #[arg(long, value_name = "METHOD", value_parser = ["round_robin", "least_conn", "ip_hash"])]
        balance: Option<String>,
        /// Where the control endpoint listens, with an upstream group (port
        /// 0: an ephemeral one, printed at start). `curl
        /// http://ADDR/instances` lists the instances; `curl -X POST
        /// http://ADDR/instances/b/kill` kills b (SIGKILL: its sockets close
        /// at once, the requests it was serving are never answered),
        /// `…/b/stop` stops it gracefully (SIGTERM), `…/b/start` starts it
        /// again on the same port. Each instance is a thread group of this
        /// one process, so no signal from outside can reach just one.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        control: SocketAddr,
        /// Put the web server in front of an app server outside roundtrip
        /// (your own gunicorn + Flask, uvicorn + FastAPI) at HOST:PORT
        /// instead of starting one: the web server and its proxy hop are
        /// traced as usual (502 when it refuses, 504 after
        /// proxy_read_timeout); the app is one box the trace cannot see into.
        #[arg(long, value_name = "HOST:PORT",
              conflicts_with_all = ["interface", "workers", "worker_class", "threads", "balance"])]
        upstream: Option<String>,
    },
}

/// Most threads per worker `serve --threads` runs (each is a task on its
/// worker's thread).
const MAX_THREADS: u64 = 1024;

/// Most sync workers `serve --workers` starts (each is a thread).
const MAX_WORKERS: u64 = 256;

/// Most app server instances `serve --instances` starts: one per letter,
/// as they are named a to z.
const MAX_INSTANCES: u64 = 26;

/// Most requests `serve --tui --history` keeps. One `GET /notes` holds
/// about 50 KB (its bytes, environ, ASGI messages, SQL rows), kept once by
/// the assembler and once by the player: this is about a gigabyte.
const MAX_HISTORY: u64 = 10_000;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => pick_and_play(),
        Some(Command::List) => {
            list();
            Ok(())
        }
        Some(Command::Run {
            lesson,
            plain,
            detail,
            json,
            break_on,
        }) => run(&lesson, plain, detail, json, break_on),
        Some(Command::Check { paths }) => return check(&paths),
        Some(Command::New { name }) => new_lesson(&name),
        Some(Command::Schema) => {
            out(&scenario::schema::lesson_schema());
            Ok(())
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            // Written to memory first: clap_complete panics if its writer
            // fails, and a closed pipe (`| head`) is not worth a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "roundtrip", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("could not write the completion script: {e}"))
                }
                _ => Ok(()),
            }
        }
        Some(Command::Serve {
            listen,
            lesson,
            interface,
            plain,
            tui,
            no_record,
            history,
            server_timing,
            workers,
            worker_class,
            threads,
            root,
            tls,
            tls_listen,
            cert,
            key,
            redirect_http,
            hsts,
            instances,
            balance,
            control,
            upstream,
        }) => serve(ServeArgs {
            listen,
            lesson: lesson.as_deref(),
            interface: interface.as_deref(),
            output: if no_record {
                ServeOutput::Off
            } else if tui {
                ServeOutput::Tui
            } else if plain {
                ServeOutput::Plain
            } else {
                ServeOutput::AccessLog
            },
            history: usize::try_from(history).unwrap_or(usize::MAX),
            server_timing,
            workers,
            worker_class: worker_class.as_deref(),
            threads,
            root,
            tls: tls.then_some(TlsArgs {
                listen: tls_listen,
                cert: cert.zip(key),
                redirect_http,
                hsts,
            }),
            instances,
            balance: balance.as_deref(),
            control,
            upstream: upstream.as_deref(),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("roundtrip: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Write to stdout. A closed pipe (`roundtrip run hello --plain | head`)
/// is not an error: the reader has what it wanted, so we stop quietly.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    written(
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush()),
    );
}

/// The end of a write to stdout: a closed pipe ends the program quietly,
/// another failure with a message.
fn written(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("roundtrip: cannot write output: {e}");
        std::process::exit(1);
    }
}

/// A SIGTERM (or SIGHUP, SIGINT) ended the UI: end the program with the
/// status shells expect (128 + the signal's number), terminal restored.
fn exit_if_signalled() {
    if let Some(code) = tui::signal_exit_code() {
        std::process::exit(code);
    }
}

fn lesson_entries() -> Vec<LessonEntry> {
    bundled::LESSONS
        .iter()
        .filter_map(|(name, _)| {
            let lesson = scenario::load(name).ok()?;
            Some(LessonEntry {
                name: name.to_string(),
                title: lesson.scenario.title.clone(),
                summary: first_sentence(&lesson.scenario.summary),
            })
        })
        .collect()
}

fn first_sentence(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.find(". ") {
        Some(i) => s[..=i].to_string(),
        None => s,
    }
}

fn list() {
    for e in lesson_entries() {
        out(&format!("{:<20} {}\n", e.name, e.title));
    }
}

fn pick_and_play() -> Result<(), String> {
    if !std::io::stdout().is_terminal() {
        list();
        out("\nrun one with: roundtrip run NAME --plain   (or open a terminal for the player)\n");
        return Ok(());
    }
    let entries = lesson_entries();
    loop {
        let Some(name) = tui::pick(&entries).map_err(|e| format!("terminal: {e}"))? else {
            exit_if_signalled();
            return Ok(());
        };
        let outcome = scenario::run_named(&name).map_err(|e| e.to_string())?;
        let ended = tui::play_all(outcome.into_traces(), &PlayerOptions::default())
            .map_err(|e| format!("terminal: {e}"))?;
        if ended == tui::Ended::Interrupted {
            exit_if_signalled();
            return Ok(());
        }
    }
}

/// `roundtrip new NAME`: write the starting lesson, never over a file.
fn new_lesson(name: &std::path::Path) -> Result<(), String> {
    let path = if name.extension().is_some_and(|e| e == "toml") {
        name.to_path_buf()
    } else {
        name.with_extension("toml")
    };
    let title = path
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_else(|| "My lesson".to_string());
    let text = scenario::template::lesson(&title);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!(
                "{} already exists: roundtrip new never writes over a file (choose another name)",
                path.display()
            ));
        }
        Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
    };
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    out(&format!(
        "wrote {p}: a lesson that runs as it is.\nnext: roundtrip check {p}   then   roundtrip run {p}\n",
        p = path.display()
    ));
    // Its first line names the schema beside it, for editors: write that
    // too, unless a file of that name is there already.
    let schema = path
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join(scenario::schema::FILE_NAME);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&schema)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, scenario::schema::lesson_schema().as_bytes())
        });
    match written {
        Ok(()) => out(&format!(
            "wrote {}: the lesson format, for editors that read `#:schema` (taplo, Even Better TOML)\n",
            schema.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => eprintln!(
            "note: could not write {} ({e}); `roundtrip schema > {}` writes it",
            schema.display(),
            scenario::schema::FILE_NAME
        ),
    }
    Ok(())
}

fn run(
    lesson: &str,
    plain: bool,
    detail: bool,
    as_json: bool,
    break_on: Vec<BreakOn>,
) -> Result<(), String> {
    let lesson = scenario::load(lesson).map_err(|e| e.to_string())?;
    let outcome = scenario::run(&lesson).map_err(|e| e.to_string())?;
    let compared = outcome.comparison.as_ref();
    if as_json {
        written(json::write_runs(
            &outcome.traces(),
            compared,
            std::io::stdout().lock(),
        ));
    } else if plain || !std::io::stdout().is_terminal() {
        // No terminal to draw on (a pipe, a file, CI): the transcript is
        // the same journey in text.
        out(&plain::transcripts_with(
            &outcome.traces(),
            compared,
            detail,
        ));
        for u in &outcome.unmet {
            out(&format!("note: {}\n", u.describe(&lesson.scenario)));
        }
    } else {
        tui::play_all(outcome.into_traces(), &PlayerOptions { break_on })
            .map_err(|e| format!("terminal: {e}"))?;
        exit_if_signalled();
    }
    Ok(())
}

/// Validate each file, run it, and report every problem as `path:line:col`:
/// all of a file's errors and warnings at once, sorted by position, then
/// their count. Warnings alone do not fail the check.
fn check(paths: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for path in paths {
        let (sent, problems) = check_one(path);
        let errors = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let warnings = problems.len() - errors;
        for p in &problems {
            eprintln!("{p}");
        }
        match sent {
            Some(requests) if errors == 0 => out(&format!(
                "{}: ok ({requests}, expectations met{})\n",
                path.display(),
                if warnings == 0 {
                    String::new()
                } else {
                    format!(", {}", scenario::error::count(warnings, "warning"))
                }
            )),
            Some(_) | None if errors == 0 => {}
            _ => {
                failed += 1;
                let mut line = scenario::error::count(errors, "error");
                if warnings > 0 {
                    line.push_str(&format!(
                        ", {}",
                        scenario::error::count(warnings, "warning")
                    ));
                }
                eprintln!("{line}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What `check` says a lesson sent: "3 requests", "1 request + a load of
/// 400 requests", "3 stacks compared, a load of 2560 / 224 / 94 requests".
fn what_was_sent(lesson: &scenario::Lesson, outcome: &scenario::Outcome) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let written = lesson.scenario.requests().len() as u64;
    let sent_by_load = |t: &roundtrip::trace::Trace| {
        t.metrics
            .as_ref()
            .and_then(|m| m.load.as_ref())
            .map(|l| l.sent)
    };
    let traces = outcome.traces();
    if traces.len() > 1 {
        let loads: Vec<String> = traces
            .iter()
            .filter_map(|t| sent_by_load(t))
            .map(|n| n.to_string())
            .collect();
        let each = match (written, loads.is_empty()) {
            (n, true) => format!("{n} request{} each", plural(n)),
            (0, false) => format!("a load of {} requests", loads.join(" / ")),
            (n, false) => format!(
                "{n} request{} each + a load of {} requests",
                plural(n),
                loads.join(" / ")
            ),
        };
        return format!("{} stacks compared, {each}", traces.len());
    }
    let load = sent_by_load(&outcome.trace);
    match (written, load) {
        (n, None) => format!("{n} request{}", plural(n)),
        (0, Some(l)) => format!("a load of {l} request{}", plural(l)),
        (n, Some(l)) => format!(
            "{n} request{} + a load of {l} request{}",
            plural(n),
            plural(l)
        ),
    }
}

/// One file's check: what it sent (when it ran), and every error and
/// warning, sorted by position. A file that cannot be read or run gets
/// one error at its start.
fn check_one(path: &std::path::Path) -> (Option<String>, Vec<ScenarioError>) {
    let at_start = |message: String, hint: &str| ScenarioError {
        severity: Severity::Error,
        path: path.to_path_buf(),
        line: 1,
        col: 1,
        message,
        hint: Some(hint.to_string()),
    };
    let lesson = match scenario::load_file(path) {
        Ok(l) => l,
        Err(LoadError::Invalid(problems)) => return (None, problems.0),
        Err(e) => return (None, vec![at_start(e.to_string(), "check the path")]),
    };
    let mut problems = scenario::validate::warnings(path, &lesson.source, &lesson.scenario);
    let outcome = match scenario::run(&lesson) {
        Ok(o) => o,
        Err(e) => {
            problems.push(at_start(
                format!("the lesson could not run: {e}"),
                "run it with `roundtrip run PATH --plain` to see how far it gets",
            ));
            return (None, scenario::Problems::sorted(problems).0);
        }
    };
    let run_hint = format!(
        "run `roundtrip run {} --plain` to see what happened",
        path.display()
    );
    for u in &outcome.unmet {
        problems.push(ScenarioError::at(
            path,
            &lesson.source,
            u.offset(&lesson.scenario),
            u.describe(&lesson.scenario),
            Some(run_hint.clone()),
        ));
    }
    for &i in &outcome.unused_narration {
        if let Some(n) = lesson.scenario.narration.get(i) {
            problems.push(ScenarioError::at(
                path,
                &lesson.source,
                n.span().start,
                format!(
                    "narration for {} matches no step of this lesson",
                    n.get_ref().target()
                ),
                Some(format!(
                    "`roundtrip run {} --json` lists the steps that happen, with their requests",
                    path.display()
                )),
            ));
        }
    }
    (
        Some(what_was_sent(&lesson, &outcome)),
        scenario::Problems::sorted(problems).0,
    )
}

/// How long `serve` lets the requests in flight finish after Ctrl-C or
/// SIGTERM. A request here takes about a millisecond; five seconds covers
/// a slow client's upload and is well inside what supervisors wait before
/// they kill (docker: 10 s, systemd: 90 s), so the graceful path ends first.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// After the web server, how long the app server has to stop: close its
/// idle connections, finish the rest, and (an event loop) run the app's
/// lifespan shutdown. Nothing is in flight by then, so this is short.
const APP_STOP_GRACE: Duration = Duration::from_secs(2);
/// After the drain, how long the summary waits for the printer to take in
/// what was recorded (it is behind by at most a channel's worth).
const PRINTER_CATCH_UP: Duration = Duration::from_secs(1);
/// How often, at most, `serve` says how many events it dropped.
const DROPPED_REPORT_EVERY: Duration = Duration::from_secs(1);
/// How often the drain looks whether a request is still in flight.
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// How long the printer waits for an event before it looks at the clock
/// (dropped-count report, the player's refresh).
const PRINTER_TICK: Duration = Duration::from_millis(50);
/// How long the printer naps when it has caught up under load. The channel
/// holds LIVE_CHANNEL_EVENTS (8,192): at 30 events a request, more than
/// 100 ms of traffic at 25,000 requests a second, so nothing is dropped
/// for a nap.
const PRINTER_NAP: Duration = Duration::from_millis(1);
/// The printer spends at most one part in this many rebuilding the
/// player's trace (see `print_requests`).
const BUILD_SHARE: u32 = 5;
/// Events the printer takes in between two looks at the clock under load.
const PRINTER_BATCH: u64 = 1024;

/// What `serve` does with the events it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServeOutput {
    /// One line per finished request on stdout.
    AccessLog,
    /// Each finished request's transcript on stdout.
    Plain,
    /// The live player.
    Tui,
    /// No recorder at all (`--no-record`): the layers build no events.
    Off,
}

struct ServeArgs<'a> {
    listen: SocketAddr,
    lesson: Option<&'a str>,
    interface: Option<&'a str>,
    output: ServeOutput,
    history: usize,
    server_timing: bool,
    workers: Option<u64>,
    worker_class: Option<&'a str>,
    threads: Option<u64>,
    root: Option<PathBuf>,
    tls: Option<TlsArgs>,
    instances: Option<u64>,
    balance: Option<&'a str>,
    control: SocketAddr,
    upstream: Option<&'a str>,
}

/// `serve --tls` and its options.
struct TlsArgs {
    listen: SocketAddr,
    /// `--cert` and `--key`; without them a certificate is made at start.
    cert: Option<(PathBuf, PathBuf)>,
    redirect_http: bool,
    hsts: Option<u64>,
}

/// The certificate `serve --tls` uses.
fn serve_identity(tls: &TlsArgs) -> Result<roundtrip::tls::certificate::Identity, String> {
    use roundtrip::tls::certificate::{Identity, SERVE_NAMES};
    match &tls.cert {
        Some((cert, key)) => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
            };
            Identity::from_pem(&read(cert)?, &read(key)?, &cert.display().to_string())
                .map_err(|e| e.to_string())
        }
        None => Identity::self_signed(&SERVE_NAMES, std::time::SystemTime::now())
            .map_err(|e| e.to_string()),
    }
}

fn serve(args: ServeArgs<'_>) -> Result<(), String> {
    let mut config = match args.lesson {
        Some(name) => {
            let scenario = scenario::load(name).map_err(|e| e.to_string())?.scenario;
            // A lesson that compares stacks: serve its first variant.
            match scenario.compare.first() {
                Some(first) => {
                    eprintln!(
                        "roundtrip serve: lesson {name} compares {} stacks; serving the first, `{}`",
                        scenario.compare.len(),
                        first.name.get_ref()
                    );
                    first.stack.clone()
                }
                None => scenario.stack,
            }
        }
        None => {
            let mut c = StackConfig::default();
            // Live traffic has a real database; add no made-up latency.
            c.app.db_latency = roundtrip::units::Time(Duration::ZERO);
            // nginx's "WebSocket proxying" lines, so a browser can open
            // /chat (with --interface asgi; a WSGI server answers the
            // upgrade as a plain GET, as gunicorn does). Through the map,
            // so other requests carry no Connection field upstream.
            for (name, value) in [
                ("Upgrade", "$http_upgrade"),
                ("Connection", "$connection_upgrade"),
            ] {
                c.web_server
                    .proxy_set_header
                    .insert(name.to_string(), value.to_string());
            }
            c
        }
    };
    match args.interface {
        Some("asgi") => config.app_server.interface = roundtrip::gateway::Interface::Asgi,
        Some("wsgi") => config.app_server.interface = roundtrip::gateway::Interface::Wsgi,
        _ => {}
    }
    if let Some(n) = args.workers {
        config.app_server.workers = usize::try_from(n).unwrap_or(1);
    }
    match args.worker_class {
        Some("gthread") => {
            config.app_server.worker_class = roundtrip::gateway::WorkerClass::Gthread
        }
        Some("sync") => config.app_server.worker_class = roundtrip::gateway::WorkerClass::Sync,
        _ => {}
    }
    if let Some(n) = args.threads {
        config.app_server.threads = usize::try_from(n).unwrap_or(1);
    }
    if args.server_timing {
        config.web_server.server_timing = true;
        config.app_server.server_timing = true;
    }
    apply_group(&mut config, args.instances, args.balance)?;
    let external = match args.upstream {
        Some(text) => Some(resolve_upstream(text)?),
        None => None,
    };
    if external.is_some() {
        // The app server is someone else's: no group of ours either.
        config.web_server.upstream = None;
    }
    // A lesson whose web server listens with ssl is served with TLS too.
    let tls = match args.tls {
        Some(t) => Some(t),
        None if config.web_server.ssl => Some(TlsArgs {
            listen: "127.0.0.1:8443".parse().map_err(|e| format!("{e}"))?,
            cert: None,
            redirect_http: config.web_server.redirect_http,
            hsts: None,
        }),
        None => None,
    };
    let tls = match tls {
        Some(t) => {
            config.web_server.ssl = true;
            config.web_server.redirect_http |= t.redirect_http;
            if let Some(secs) = t.hsts {
                config.web_server.strict_transport_security = Some(format!("max-age={secs}"));
            }
            Some(stack::TcpTls {
                listen: t.listen,
                identity: serve_identity(&t)?,
            })
        }
        None => None,
    };
    if let Some(auth) = &mut config.app.auth {
        roundtrip::app::auth::harden_for_serve(auth).map_err(|e| e.to_string())?;
    }
    // More workers than this machine's 2 cores, measured with bench/run:
    // a worker that waits on a lock (the allocator's, the recorder's
    // channel) leaves its core idle unless another worker can run. 4 gave
    // +30% at c64 over 2, with the same c1 latency.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (web, mut running, stream, mut signals) = rt.block_on(async {
        // Listen for signals before the address is printed: from then on a
        // client (or a test) may send one, and it must drain, not kill.
        // The player watches signals itself.
        let signals = if args.output == ServeOutput::Tui {
            None
        } else {
            Some(ShutdownSignals::listen().map_err(|e| format!("cannot watch for signals: {e}"))?)
        };
        let stream = if args.output == ServeOutput::Off {
            None
        } else {
            let (recorder, stream) = Recorder::streaming(LIVE_CHANNEL_EVENTS);
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(recorder))
                .map_err(|e| format!("cannot install the recorder: {e}"))?;
            Some(stream)
        };
        let files = match &args.root {
            Some(dir) if dir.is_dir() => roundtrip::server::files::Files::disk(
                roundtrip::server::location::SITE_ROOT,
                dir.clone(),
            ),
            Some(dir) => return Err(format!("--root {}: not a directory", dir.display())),
            None => stack::site::bundled(),
        };
        let started = stack::start_tcp_with(
            &config,
            stack::TcpOptions {
                listen: args.listen,
                tls,
                files,
                external,
                control: args.control,
            },
            Clock::real(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let (web, tls_at, running) = (started.web, started.tls, started.running);
        announce_upstreams(&config, web, external, &started.apps, started.control);
        if let Some(at) = tls_at {
            eprintln!(
                "roundtrip serve: TLS on https://{at}{}",
                if config.web_server.redirect_http {
                    " (plain HTTP is redirected there)"
                } else {
                    ""
                }
            );
            eprintln!("try: curl -ki https://{at}/notes   (-k: the certificate is self-signed)");
        }
        eprintln!("try: curl -i http://{web}/notes   (Ctrl-C to stop)");
        if stream.is_none() {
            eprintln!(
                "recording off (--no-record): the layers build no events, nothing is printed"
            );
        }
        Ok::<_, String>((web, running, stream, signals))
    })?;
    let feed = TraceFeed::default();
    let printer = stream.map(|stream| {
        let meta = Meta {
            scenario: "serve".into(),
            title: match external {
                Some(app) => format!("live traffic on {web} → an external app server at {app}"),
                None => format!("live traffic on {web}"),
            },
            summary: String::new(),
            seed: 0,
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: Clock::real().started_at(),
            config: serde_json::to_value(&config).unwrap_or_default(),
            variant: None,
        };
        // Only the player steps through past requests; the access log
        // needs just enough to amend a request that has just been printed.
        let history = if args.output == ServeOutput::Tui {
            args.history
        } else {
            HISTORY_WITHOUT_PLAYER
        };
        let limits = Limits {
            history,
            ..Limits::default()
        };
        let layers = match external {
            Some(app) => stack::layers_external(app),
            None => stack::layers(&config),
        };
        let live = LiveAssembler::new(meta, layers, limits);
        Printer::start(stream, live, args.output, feed.clone())
    });

    let why = match signals.as_mut() {
        Some(signals) => rt.block_on(signals.next()),
        None => match tui::follow(feed, &PlayerOptions::default())
            .map_err(|e| format!("terminal: {e}"))?
        {
            tui::Ended::Quit => "the player was closed",
            tui::Ended::Interrupted => "interrupted",
        },
    };

    eprintln!(
        "roundtrip serve: {why}: accepting no new connections; letting those in flight finish (at most {} s)",
        SHUTDOWN_GRACE.as_secs()
    );
    let draining = Instant::now();
    // The drain ends when every connection has closed or, when recording,
    // as soon as no request is in flight: a kept-alive connection waiting
    // idle for its next request (a browser's) does not hold it up, nginx
    // closes those at once too. A second signal cuts it short (in the
    // player's case, its own signal watcher ends the program).
    let drained = rt.block_on(async {
        let again = async {
            match signals.as_mut() {
                Some(signals) => signals.next().await,
                None => std::future::pending().await,
            }
        };
        let quiet = async {
            match &printer {
                Some(p) => {
                    while !p.idle() {
                        tokio::time::sleep(DRAIN_POLL).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            drained = running.drain(SHUTDOWN_GRACE) => Some(drained),
            () = quiet => Some(true),
            _ = again => None,
        }
    });
    // The app server stops after the web server, as behind nginx: it
    // closes its idle connections and sends the app lifespan.shutdown. A
    // second signal skips it.
    let app_stopped = match drained {
        Some(_) => rt.block_on(running.stop_app(APP_STOP_GRACE)),
        None => false,
    };
    let drain_time = draining.elapsed();
    let recorded = printer.map(|p| p.summary());
    eprintln!(
        "roundtrip serve: stopped; {}; {}; {}",
        match drained {
            Some(true) => format!("drained in {:.2} s", drain_time.as_secs_f64()),
            Some(false) => format!(
                "connections still open after {} s were cut",
                SHUTDOWN_GRACE.as_secs()
            ),
            None => String::from("a second signal cut the drain short"),
        },
        match (external.is_some(), app_stopped) {
            (true, _) => "the external app server is left running",
            (false, true) => "the app server shut down",
            (false, false) => "the app server was stopped without its shutdown",
        },
        recorded.as_deref().unwrap_or("recording was off")
    );
    rt.shutdown_background();
    if args.output == ServeOutput::Tui {
        exit_if_signalled();
    }
    Ok(())
}

/// `--instances` and `--balance`: replace (or make) the stack's upstream
/// group. N instances named a, b, c, … with nginx's default parameters.
fn apply_group(
    config: &mut StackConfig,
    instances: Option<u64>,
    balance: Option<&str>,
) -> Result<(), String> {
    use roundtrip::server::balance::Method;
    use roundtrip::server::upstream::{UpstreamConfig, UpstreamServer};
    match instances {
        Some(1) | None => {}
        Some(n) => {
            let servers = (0..n)
                .map(|i| {
                    let letter = char::from(b'a' + u8::try_from(i).unwrap_or(25));
                    UpstreamServer::named(&letter.to_string())
                })
                .collect();
            let group = config
                .web_server
                .upstream
                .get_or_insert_with(UpstreamConfig::default);
            group.server = servers;
            group.event.clear();
        }
    }
    if let Some(method) = balance {
        let method = match method {
            "least_conn" => Method::LeastConn,
            "ip_hash" => Method::IpHash,
            _ => Method::RoundRobin,
        };
        match &mut config.web_server.upstream {
            Some(group) => group.balance = method,
            None => {
                return Err(
                    "--balance chooses among the servers of a group: add --instances N (2 or more), or a --lesson with an upstream group"
                        .into(),
                );
            }
        }
    }
    Ok(())
}

/// `--upstream HOST:PORT`: the first address it resolves to.
fn resolve_upstream(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let mut addrs = text.to_socket_addrs().map_err(|e| {
        format!("--upstream {text}: not an address to connect to ({e}); write HOST:PORT, e.g. 127.0.0.1:8000")
    })?;
    addrs
        .next()
        .ok_or_else(|| format!("--upstream {text}: the name resolves to no address"))
}

/// The lines that say what the web server proxies to.
fn announce_upstreams(
    config: &StackConfig,
    web: SocketAddr,
    external: Option<SocketAddr>,
    apps: &[(String, SocketAddr)],
    control: Option<SocketAddr>,
) {
    if let Some(app) = external {
        eprintln!(
            "roundtrip serve: web server on http://{web} → an external app server on {app} (not started by roundtrip: only the web server's steps are traced)"
        );
        return;
    }
    match &config.web_server.upstream {
        None => {
            let app = apps.first().map(|(_, a)| a.to_string()).unwrap_or_default();
            eprintln!(
                "roundtrip serve: web server on http://{web} → app server on {app} ({})",
                config.app_server.describe()
            );
        }
        Some(group) => {
            eprintln!(
                "roundtrip serve: web server on http://{web} → upstream group of {} app servers ({}), each {}, one database",
                apps.len(),
                group.balance.as_str(),
                config.app_server.describe()
            );
            for (name, addr) in apps {
                eprintln!("roundtrip serve: app server {name} on {addr}");
            }
            if !group.event.is_empty() {
                eprintln!(
                    "roundtrip serve: the lesson's stops and starts are not scheduled here: use the control endpoint"
                );
            }
            if let Some(at) = control {
                let example = apps
                    .get(1)
                    .or(apps.first())
                    .map_or("a", |(n, _)| n.as_str());
                eprintln!(
                    "roundtrip serve: control on http://{at}: curl -X POST http://{at}/instances/{example}/kill   (or stop, start; GET /instances lists them)"
                );
            }
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, listened for from creation on (a signal
/// that comes before anyone waits is not lost).
struct ShutdownSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Call inside the runtime.
    fn listen() -> std::io::Result<ShutdownSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignals {})
    }

    /// The next signal: which one came.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// What the printer thread has done, for the summary at shutdown.
#[derive(Debug, Default)]
struct PrinterStats {
    /// Events taken from the channel (stored last, after the others).
    received: AtomicU64,
    /// Requests started and not finished, as the assembler sees them.
    pending: AtomicU64,
    finished: AtomicU64,
    kept: AtomicU64,
    dropped: AtomicU64,
}

/// The printer: a thread of its own, so that writing to a slow terminal
/// never takes a turn from the server's runtime. It is the one reader of
/// the recorder's channel.
struct Printer {
    stats: Arc<PrinterStats>,
    recorder: Arc<StreamCounts>,
    /// It feeds the player (and keeps its history).
    player: bool,
}

impl Printer {
    fn start(
        stream: EventStream,
        live: LiveAssembler,
        output: ServeOutput,
        feed: TraceFeed,
    ) -> Printer {
        let stats = Arc::new(PrinterStats::default());
        let recorder = stream.counts.clone();
        let shared = stats.clone();
        let spawned = std::thread::Builder::new()
            .name(String::from("roundtrip-printer"))
            .spawn(move || print_requests(stream, live, output, &feed, &shared));
        if let Err(e) = spawned {
            eprintln!("roundtrip serve: cannot start the printer ({e}); serving without it");
        }
        Printer {
            stats,
            recorder,
            player: output == ServeOutput::Tui,
        }
    }

    /// Has the printer taken in every recorded event?
    fn caught_up(&self) -> bool {
        self.stats.received.load(Ordering::SeqCst) >= self.recorder.sent()
    }

    /// No request in flight: every recorded event taken in, and every
    /// request that started has finished.
    fn idle(&self) -> bool {
        self.caught_up() && self.stats.pending.load(Ordering::Relaxed) == 0
    }

    /// One clause for the shutdown line, once the printer has taken in
    /// what was recorded (or [`PRINTER_CATCH_UP`] has passed).
    fn summary(&self) -> String {
        let deadline = Instant::now() + PRINTER_CATCH_UP;
        while !self.caught_up() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let finished = self.stats.finished.load(Ordering::Relaxed);
        let kept = if self.player {
            format!(
                ", the last {} kept for the player",
                self.stats.kept.load(Ordering::Relaxed)
            )
        } else {
            String::new()
        };
        format!(
            "{finished} request{} finished{kept}; {} events dropped",
            if finished == 1 { "" } else { "s" },
            self.recorder.dropped() + self.stats.dropped.load(Ordering::Relaxed)
        )
    }
}

/// The `error_log` line of an event that belongs to no request.
fn connection_error_log(e: &roundtrip::trace::Event) -> Option<&str> {
    if e.request.is_some() {
        return None;
    }
    e.data.iter().find_map(|d| match d {
        roundtrip::trace::Data::Fields { entries } => entries
            .iter()
            .find(|(k, _)| k == "error_log")
            .map(|(_, v)| v.as_str()),
        _ => None,
    })
}

/// Feed each event to the live assembler; print each finished request
/// (access log or transcript), or keep the player's feed fresh.
fn print_requests(
    stream: EventStream,
    mut live: LiveAssembler,
    output: ServeOutput,
    feed: &TraceFeed,
    stats: &PrinterStats,
) {
    use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    let mut reported = 0;
    let mut last_report = Instant::now();
    // The player's trace is rebuilt at most every TUI_REFRESH, and never
    // sooner than BUILD_SHARE times what the last build took, so that
    // rebuilding a large history cannot take most of the printer's time.
    let mut next_publish = Instant::now();
    let mut since_look = 0u64;
    let mut busy = false;
    loop {
        let event = match stream.events.try_recv() {
            Ok(e) => Some(e),
            Err(TryRecvError::Disconnected) => break,
            // Caught up: write out what is buffered, then wait a little.
            // Under load, nap instead of blocking on the channel: a reader
            // blocked in recv() must be woken by the sender (a system call
            // on every event); one that naps is never waited for, and
            // finds a batch when it wakes. Once a nap finds nothing, the
            // server is quiet and the printer blocks until the next event.
            Err(TryRecvError::Empty) => {
                flush(&mut stdout);
                since_look = PRINTER_BATCH;
                if busy {
                    busy = false;
                    std::thread::sleep(PRINTER_NAP);
                    None
                } else {
                    match stream.events.recv_timeout(PRINTER_TICK) {
                        Ok(e) => Some(e),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
        };
        if let Some(e) = event {
            busy = true;
            // nginx writes its error log to stderr when told to; so does
            // serve, for what no request carries (a failed accept).
            if output != ServeOutput::Tui
                && let Some(line) = connection_error_log(&e)
            {
                eprintln!("roundtrip serve: {line}");
            }
            if let Some(update) = live.push(e) {
                show(update, output, &mut stdout);
            }
            let counts = live.counts();
            stats.finished.store(counts.finished, Ordering::Relaxed);
            stats
                .kept
                .store(live.history_len() as u64, Ordering::Relaxed);
            stats
                .dropped
                .store(counts.dropped_events, Ordering::Relaxed);
            stats
                .pending
                .store(live.pending_len() as u64, Ordering::Relaxed);
            stats.received.fetch_add(1, Ordering::SeqCst);
            since_look += 1;
        }
        if since_look < PRINTER_BATCH {
            continue;
        }
        since_look = 0;
        let dropped = stream.counts.dropped() + live.counts().dropped_events;
        if output == ServeOutput::Tui {
            feed.set_dropped(dropped);
            let started = Instant::now();
            if started >= next_publish
                && feed.wants()
                && let Some(trace) = live.snapshot()
            {
                feed.publish(trace);
                next_publish = started + TUI_REFRESH.max(started.elapsed() * BUILD_SHARE);
            }
        } else if dropped > reported && last_report.elapsed() >= DROPPED_REPORT_EVERY {
            eprintln!("roundtrip serve: {dropped} events dropped (printer behind)");
            reported = dropped;
            last_report = Instant::now();
        }
    }
    flush(&mut stdout);
    feed.close();
}

/// Print one finished (or amended) request.
fn show(update: Update<'_>, output: ServeOutput, w: &mut impl std::io::Write) {
    let (trace, amended) = match update {
        Update::Finished(t) => (t, false),
        Update::Amended(t) => (t, true),
    };
    let Some(r) = trace.requests.first() else {
        return;
    };
    let id = r.id;
    let text = match output {
        ServeOutput::Plain if !amended => format!(
            "── request {id} ──\n{}\n",
            plain::request_transcript(trace, id)
        ),
        ServeOutput::AccessLog | ServeOutput::Plain => format!(
            "request {id}: {} {} → {}{} (answered by the {})\n",
            r.method,
            r.target,
            r.status.map_or("-".to_string(), |s| s.to_string()),
            if amended {
                ", not the status shown before: the response could not be written"
            } else {
                ""
            },
            r.answered_by.map_or("?", |l| l.label())
        ),
        ServeOutput::Tui | ServeOutput::Off => return,
    };
    write_or_exit(w, text.as_bytes());
}

/// Write to stdout; a closed pipe ends the program quietly (see [`out`]).
fn write_or_exit(w: &mut impl std::io::Write, bytes: &[u8]) {
    if let Err(e) = w.write_all(bytes) {
        stdout_failed(&e);
    }
}

fn flush(w: &mut impl std::io::Write) {
    if let Err(e) = w.flush() {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("roundtrip: cannot write output: {e}");
    std::process::exit(1);
}
