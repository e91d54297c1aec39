//! The `roundtrip` command: pick a lesson, play it, check lesson files, or
//! serve real traffic through the same layers.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;

use roundtrip::clock::Clock;
use roundtrip::scenario::{self, LoadError, bundled};
use roundtrip::stack::{self, StackConfig};
use roundtrip::trace::export::{json, plain};
use roundtrip::trace::{Event, Layer, Meta, Recorder, Trace, assemble};
use roundtrip::tui::{self, BreakOn, LessonEntry, PlayerOptions};

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
        /// Print the recorded trace as JSON.
        #[arg(long)]
        json: bool,
        /// Stop playing at: 4xx, 5xx or layer:NAME (repeatable).
        #[arg(long = "break-on", value_name = "WHEN")]
        break_on: Vec<BreakOn>,
    },
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
        /// Use this lesson's [stack] settings (name or path).
        #[arg(long)]
        lesson: Option<String>,
        /// The app server's interface: wsgi (sync workers) or asgi (event loop).
        #[arg(long, value_parser = ["wsgi", "asgi"])]
        interface: Option<String>,
        /// Print each finished request's transcript.
        #[arg(long, conflicts_with = "tui")]
        plain: bool,
        /// Animate requests as they arrive.
        #[arg(long)]
        tui: bool,
    },
}

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
            json,
            break_on,
        }) => run(&lesson, plain, json, break_on),
        Some(Command::Check { paths }) => return check(&paths),
        Some(Command::Serve {
            listen,
            lesson,
            interface,
            plain,
            tui,
        }) => serve(listen, lesson.as_deref(), interface.as_deref(), plain, tui),
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
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
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
        let ended = tui::play(&outcome.trace, &PlayerOptions::default())
            .map_err(|e| format!("terminal: {e}"))?;
        if ended == tui::Ended::Interrupted {
            exit_if_signalled();
            return Ok(());
        }
    }
}

fn run(lesson: &str, plain: bool, as_json: bool, break_on: Vec<BreakOn>) -> Result<(), String> {
    let outcome = scenario::run_named(lesson).map_err(|e| e.to_string())?;
    if as_json {
        out(&format!("{}\n", json::to_json(&outcome.trace)));
    } else if plain || !std::io::stdout().is_terminal() {
        // No terminal to draw on (a pipe, a file, CI): the transcript is
        // the same journey in text.
        out(&plain::transcript(&outcome.trace));
        for u in &outcome.unmet {
            out(&format!("note: request {} {}\n", u.request, u.message));
        }
    } else {
        tui::play(&outcome.trace, &PlayerOptions { break_on })
            .map_err(|e| format!("terminal: {e}"))?;
        exit_if_signalled();
    }
    Ok(())
}

/// Validate each file, run it, and report every problem as `path:line:col`.
fn check(paths: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for path in paths {
        match check_one(path) {
            Ok(requests) => out(&format!(
                "{}: ok ({requests} request{}, expectations met)\n",
                path.display(),
                if requests == 1 { "" } else { "s" }
            )),
            Err(problems) => {
                failed += 1;
                for p in problems {
                    eprintln!("{p}");
                }
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_one(path: &std::path::Path) -> Result<usize, Vec<String>> {
    let lesson = match scenario::load_file(path) {
        Ok(l) => l,
        Err(LoadError::Invalid(e)) => return Err(vec![e.to_string()]),
        Err(e) => return Err(vec![format!("{}: {e}", path.display())]),
    };
    let outcome = scenario::run(&lesson).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let mut problems = Vec::new();
    let requests_at = lesson.scenario.request.span().start;
    for u in &outcome.unmet {
        let (line, col) = scenario::error::line_col(&lesson.source, requests_at);
        problems.push(format!(
            "{}:{line}:{col}: request {} {}\n  hint: run `roundtrip run {} --plain` to see what happened",
            path.display(),
            u.request,
            u.message,
            path.display()
        ));
    }
    for &i in &outcome.unused_narration {
        if let Some(n) = lesson.scenario.narration.get(i) {
            let (line, col) = scenario::error::line_col(&lesson.source, n.step.span().start);
            problems.push(format!(
                "{}:{line}:{col}: narration for step `{}` matches no step of this lesson\n  hint: `roundtrip run {} --json` lists the steps that happen",
                path.display(),
                n.step.get_ref(),
                path.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(lesson.scenario.request.get_ref().len())
    } else {
        Err(problems)
    }
}

/// Most finished requests `serve --tui` keeps in its trace.
const LIVE_HISTORY: usize = 1000;

fn serve(
    listen: SocketAddr,
    lesson: Option<&str>,
    interface: Option<&str>,
    plain_out: bool,
    animate: bool,
) -> Result<(), String> {
    let mut config = match lesson {
        Some(name) => {
            scenario::load(name)
                .map_err(|e| e.to_string())?
                .scenario
                .stack
        }
        None => {
            let mut c = StackConfig::default();
            // Live traffic has a real database; add no made-up latency.
            c.app.db_latency = roundtrip::units::Time(std::time::Duration::ZERO);
            c
        }
    };
    match interface {
        Some("asgi") => config.app_server.interface = roundtrip::gateway::Interface::Asgi,
        Some("wsgi") => config.app_server.interface = roundtrip::gateway::Interface::Wsgi,
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (tui_tx, tui_rx) = tokio::sync::mpsc::unbounded_channel::<Trace>();
    let started = rt.block_on(async {
        let (recorder, events) = Recorder::streaming();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(recorder))
            .map_err(|e| format!("cannot install the recorder: {e}"))?;
        let clock = Clock::real();
        let (web, app, running) = stack::start_tcp(&config, listen, clock)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!(
            "roundtrip serve: web server on http://{web} → app server on {app} ({})",
            config.app_server.describe()
        );
        eprintln!("try: curl -i http://{web}/notes   (Ctrl-C to stop)");
        let meta = Meta {
            scenario: "serve".into(),
            title: format!("live traffic on {web}"),
            summary: String::new(),
            seed: 0,
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: clock.started_at(),
            config: serde_json::to_value(&config).unwrap_or_default(),
        };
        let layers = stack::layers(&config);
        let mode = if animate {
            Output::Tui(tui_tx)
        } else if plain_out {
            Output::Plain
        } else {
            Output::AccessLog
        };
        tokio::spawn(print_requests(events, meta, layers, mode));
        tokio::spawn(running.wait());
        Ok::<(), String>(())
    });
    started?;
    if animate {
        let result = tui::follow(tui_rx, &PlayerOptions::default())
            .map(|_| ())
            .map_err(|e| format!("terminal: {e}"));
        rt.shutdown_background();
        exit_if_signalled();
        return result;
    }
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    rt.shutdown_background();
    Ok(())
}

enum Output {
    AccessLog,
    Plain,
    Tui(tokio::sync::mpsc::UnboundedSender<Trace>),
}

/// Group live events by request; when a request is finished, show it.
async fn print_requests(
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    meta: Meta,
    layers: Vec<roundtrip::trace::LayerInfo>,
    mode: Output,
) {
    let mut pending: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    let light_meta = Meta {
        config: serde_json::Value::Null,
        ..meta.clone()
    };
    let mut history: Vec<Event> = Vec::new();
    while let Some(e) = events.recv().await {
        let Some(id) = e.request else { continue };
        let finished = e.layer == Layer::WebServer
            && (e.step == roundtrip::trace::StepId::WebServerResponseSend || e.answer == Some(408));
        pending.entry(id).or_default().push(e);
        if !finished {
            continue;
        }
        let Some(request_events) = pending.remove(&id) else {
            continue;
        };
        match &mode {
            Output::AccessLog | Output::Plain => {
                // One request's summary needs neither the config nor the
                // diagram: skip cloning them for every request.
                let trace = assemble(light_meta.clone(), Vec::new(), request_events);
                if matches!(mode, Output::Plain) {
                    out(&format!(
                        "── request {id} ──\n{}\n",
                        plain::request_transcript(&trace, id)
                    ));
                } else if let Some(r) = trace.requests.first() {
                    out(&format!(
                        "request {id}: {} {} → {} (answered by the {})\n",
                        r.method,
                        r.target,
                        r.status.map_or("-".to_string(), |s| s.to_string()),
                        r.answered_by.map_or("?", |l| l.label())
                    ));
                }
            }
            Output::Tui(tx) => {
                history.extend(request_events);
                let oldest_kept = id.saturating_sub(LIVE_HISTORY as u64);
                history.retain(|e| e.request.is_some_and(|r| r > oldest_kept));
                let _ = tx.send(assemble(meta.clone(), layers.clone(), history.clone()));
            }
        }
        // Requests that never finish (a client that vanished) must not pile up.
        if pending.len() > 10_000 {
            pending.clear();
        }
    }
}
