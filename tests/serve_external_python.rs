//! `serve --upstream` in front of a real Python app server: gunicorn and a
//! Flask app, installed into a virtual environment under target/ (built
//! once, reused by later runs). Without python3, venv or a package index
//! the test says why it skipped and passes.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest the venv and the packages may take to install.
const INSTALL_DEADLINE: Duration = Duration::from_secs(600);
/// Longest a server may take to say where it listens, or a request.
const DEADLINE: Duration = Duration::from_secs(30);

const APP: &str = r#"from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "hello from flask", 200, {"X-Served-By": "gunicorn"}
"#;

/// Run `command` to its end within `deadline`; true when it succeeded.
fn run_within(command: &mut Command, deadline: Duration) -> Result<(), String> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!("{command:?} failed: {}", err.trim()));
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{command:?} took over {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The venv with gunicorn and Flask, made the first time.
fn venv() -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("venv-gunicorn-flask");
    let python = dir.join("bin").join("python");
    let ready = dir.join("ready");
    if ready.exists() {
        return Ok(dir);
    }
    run_within(
        Command::new("python3").args(["-m", "venv"]).arg(&dir),
        INSTALL_DEADLINE,
    )?;
    run_within(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "gunicorn",
            "flask",
        ]),
        INSTALL_DEADLINE,
    )?;
    std::fs::write(&ready, "gunicorn flask\n").map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A child process ended with SIGTERM (gunicorn's graceful shutdown stops
/// its workers too), then killed if it lingers.
struct Stopping(Child);

impl Drop for Stopping {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `command`; wait for a stderr line containing `marker`, and parse
/// the address after it.
fn start(command: &mut Command, marker: &str) -> (Stopping, SocketAddr, mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let child = Stopping(child);
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {marker:?} line; saw {seen:#?}"));
        if let Some(rest) = line.split(marker).nth(1) {
            let addr: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            let addr = addr
                .parse()
                .unwrap_or_else(|_| panic!("no address in {line:?}"));
            return (child, addr, rx);
        }
        seen.push(line);
    }
}

fn app_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("flask-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make the app's directory");
    std::fs::write(dir.join("app.py"), APP).expect("write app.py");
    dir
}

fn gunicorn(venv: &Path, app: &Path) -> Command {
    let mut c = Command::new(venv.join("bin").join("gunicorn"));
    c.args(["--bind", "127.0.0.1:0", "--workers", "1", "--chdir"])
        .arg(app)
        .arg("app:app");
    c
}

#[test]
fn serve_upstream_fronts_a_real_gunicorn_and_flask_app_and_traces_the_web_server() {
    let venv = match venv() {
        Ok(v) => v,
        Err(why) => {
            eprintln!("skipping the gunicorn + Flask test: {why}");
            return;
        }
    };
    let app = app_dir();
    let (_gunicorn, app_addr, _) = start(&mut gunicorn(&venv, &app), "Listening at: http://");
    let (serve, web, _) = start(
        Command::new(env!("CARGO_BIN_EXE_roundtrip")).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--plain",
            "--upstream",
            &app_addr.to_string(),
        ]),
        "web server on http://",
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client");
    let r = client
        .get(format!("http://{web}/hello"))
        .send()
        .expect("GET /hello through the web server");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("x-served-by").and_then(|v| v.to_str().ok()),
        Some("gunicorn")
    );
    assert_eq!(r.text().expect("body"), "hello from flask");
    // Flask's own 404, relayed.
    let missing = client
        .get(format!("http://{web}/nowhere"))
        .send()
        .expect("GET /nowhere");
    assert_eq!(missing.status(), 404);

    // SIGINT: serve prints the rest of its transcripts and exits.
    let mut serve = serve;
    let _ = Command::new("kill")
        .args(["-INT", &serve.0.id().to_string()])
        .status();
    let mut transcripts = String::new();
    if let Some(mut out) = serve.0.stdout.take() {
        let _ = out.read_to_string(&mut transcripts);
    }
    assert!(
        transcripts.contains("web server: reads request 1"),
        "{transcripts}"
    );
    assert!(
        transcripts.contains(&format!("to the app server at {app_addr}")),
        "{transcripts}"
    );
    assert!(transcripts.contains("proxy_pass: sends"), "{transcripts}");
    assert!(
        !transcripts.contains("framework:"),
        "nothing inside gunicorn is traced: {transcripts}"
    );
    let _ = std::fs::remove_dir_all(&app);
}
