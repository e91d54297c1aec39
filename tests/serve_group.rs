//! `roundtrip serve` with an upstream group over real TCP (`--instances`,
//! the control endpoint that kills an instance) and in front of an app
//! server outside roundtrip (`--upstream`). Every wait is a bounded poll
//! of something observable: a line on stderr, a response, a socket in the
//! kernel's table.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::serve::{DEADLINE, Serve, address_after};

/// A running `roundtrip serve --plain` with an upstream group, and the
/// addresses it printed.
struct Group {
    serve: Serve,
    web: SocketAddr,
    /// "name address" of each app server instance it printed.
    instances: Vec<(String, SocketAddr)>,
    control: Option<SocketAddr>,
}

fn serve(args: &[&str]) -> Group {
    let mut all = vec!["--plain"];
    all.extend_from_slice(args);
    let serve = Serve::start_with_stdout(&all, Stdio::piped());
    let mut instances = Vec::new();
    let mut control = None;
    // Everything up to the "try: curl" line, which comes last.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = serve
            .stderr
            .recv_timeout(left)
            .expect("serve printed its addresses");
        if let Some(rest) = line.strip_prefix("roundtrip serve: app server ")
            && let Some((name, addr)) = rest.split_once(" on ")
            && let Ok(addr) = addr.trim().parse()
        {
            instances.push((name.to_string(), addr));
        }
        if line.contains("control on http://") {
            control = address_after(&line, "control on http://");
        }
        if line.starts_with("try: curl -i http://") {
            break;
        }
    }
    Group {
        web: serve.addr,
        serve,
        instances,
        control,
    }
}

impl Group {
    fn instance(&self, name: &str) -> SocketAddr {
        self.instances
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no instance {name} in {:?}", self.instances))
    }

    /// SIGINT, wait for the exit, and return everything it printed on
    /// stdout (with --plain: each request's transcript).
    fn finish(mut self) -> String {
        self.serve.signal("INT");
        let mut out = String::new();
        if let Some(mut stdout) = self.serve.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        self.serve.wait_exit();
        out
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

/// A raw request to the control endpoint: its status and body.
fn control(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the control endpoint");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: control\r\n\r\n").expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {out:?}"));
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Established TCP connections whose local port is `port` (the server
/// side of connections to it), from the kernel's table: Linux only.
fn established_to(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!("0100007F:{port:04X}");
    Some(
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(1) == Some(&wanted.as_str()) && f.get(3) == Some(&"01")
            })
            .count(),
    )
}

/// Wait until the proxy holds a connection to `addr`: the request sent
/// after it is in flight on that instance. Where the kernel's table
/// cannot be read, a bounded wait stands in for it.
fn wait_until_connected(addr: SocketAddr) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match established_to(addr.port()) {
            Some(n) if n > 0 => return,
            Some(_) => {}
            None => {
                eprintln!("no /proc/net/tcp: waiting 500 ms for the request to reach {addr}");
                std::thread::sleep(Duration::from_millis(500));
                return;
            }
        }
        assert!(Instant::now() < deadline, "no connection to {addr}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A lesson file in the test's own directory.
fn lesson(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-group");
    std::fs::create_dir_all(&dir).expect("make the lesson directory");
    let path = dir.join(format!("{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write the lesson");
    path
}

/// What happened around the kill.
struct Killed {
    /// The status of the request in flight on b.
    slow: u16,
    /// How long after the kill it was answered.
    answered_in: Duration,
    /// Every later request's status.
    later: Vec<u16>,
    /// Every request's transcript.
    transcripts: String,
}

/// Two instances (a, b); round robin sends the first request to a and the
/// second, a /slow of `ms`, to b; b is killed while it holds it.
fn kill_b_while_it_serves_slow(extra: &[&str], ms: u64) -> Killed {
    let server = serve(extra);
    assert_eq!(server.instances.len(), 2, "{:?}", server.instances);
    let control_at = server.control.expect("a control endpoint with a group");
    let base = format!("http://{}", server.web);
    let c = client();
    assert_eq!(c.get(format!("{base}/notes")).send().unwrap().status(), 200);
    let b = server.instance("b");
    assert_eq!(established_to(b.port()).unwrap_or(0), 0, "nothing on b yet");
    let slow = {
        let (c, url) = (c.clone(), format!("{base}/slow?ms={ms}"));
        std::thread::spawn(move || c.get(url).send().map(|r| r.status().as_u16()))
    };
    wait_until_connected(b);
    let started = Instant::now();
    let (status, said) = control(control_at, "POST", "/instances/b/kill");
    assert_eq!(status, 200, "{said}");
    assert!(said.contains("killed"), "{said}");
    let slow = slow.join().expect("the slow request's thread").unwrap_or(0);
    // Killing did not wait for the 10 s handler.
    let answered_in = started.elapsed();
    let (status, list) = control(control_at, "GET", "/instances");
    assert_eq!(status, 200);
    assert!(
        list.contains("b 127.0.0.1:") && list.contains("stopped"),
        "{list}"
    );
    let later: Vec<u16> = (0..6)
        .map(|_| {
            c.get(format!("{base}/notes"))
                .send()
                .map_or(0, |r| r.status().as_u16())
        })
        .collect();
    Killed {
        slow,
        answered_in,
        later,
        transcripts: server.finish(),
    }
}

#[test]
fn a_two_instance_serve_survives_a_kill_and_only_the_request_in_flight_on_it_fails() {
    // One try per request: a request whose server dies is not passed on.
    let path = lesson(
        "one-try",
        r#"title = "Two instances, one try"
summary = "serve_group's stack."

[stack.app_server]
workers = 1

[stack.web_server]
proxy_next_upstream_tries = 1

[stack.web_server.upstream]
balance = "round_robin"

[[stack.web_server.upstream.server]]
name = "a"

[[stack.web_server.upstream.server]]
name = "b"

[[request]]
path = "/notes"
"#,
    );
    let k =
        kill_b_while_it_serves_slow(&["--lesson", path.to_str().expect("a UTF-8 path")], 10_000);
    let (slow, later, transcripts) = (k.slow, k.later, k.transcripts);
    assert_eq!(slow, 502, "{transcripts}");
    // At once, not after b's 10 s handler.
    assert!(
        k.answered_in < Duration::from_secs(5),
        "{:?}",
        k.answered_in
    );
    assert_eq!(later, vec![200; 6], "{transcripts}");
    assert!(
        transcripts.contains("try 1 on b failed (upstream prematurely closed connection)")
            || transcripts.contains("try 1 on b failed (connection reset"),
        "{transcripts}"
    );
    // Passive health: after its failure b is skipped, never tried again.
    assert!(transcripts.contains("b is skipped until fail_timeout 10s has passed"));
    assert_eq!(
        transcripts.matches("chooses b").count(),
        1,
        "b was chosen again after it failed:\n{transcripts}"
    );
}

#[test]
fn with_nginx_defaults_the_get_in_flight_on_a_killed_instance_is_passed_to_the_other() {
    // proxy_next_upstream error: a GET already sent is idempotent, so nginx
    // sends it again, to a.
    let k = kill_b_while_it_serves_slow(&["--instances", "2", "--workers", "1"], 2_000);
    let (slow, later, transcripts) = (k.slow, k.later, k.transcripts);
    assert_eq!(slow, 200, "{transcripts}");
    // The whole 2 s again, on a.
    assert!(
        k.answered_in >= Duration::from_secs(2),
        "{:?}",
        k.answered_in
    );
    assert_eq!(later, vec![200; 6], "{transcripts}");
    assert!(
        transcripts
            .contains("proxy_next_upstream lists error: the request goes to the next server"),
        "{transcripts}"
    );
    assert!(transcripts.contains("chooses a (127.0.0.1:"));
}

#[test]
fn a_killed_instance_started_again_through_the_control_endpoint_is_tried_again() {
    let server = serve(&["--instances", "2", "--balance", "least_conn"]);
    let control_at = server.control.expect("a control endpoint");
    assert_eq!(control(control_at, "POST", "/instances/b/kill").0, 200);
    let (status, said) = control(control_at, "POST", "/instances/b/kill");
    assert_eq!(status, 409, "{said}");
    assert!(said.contains("already stopped"));
    assert_eq!(control(control_at, "POST", "/instances/z/kill").0, 404);
    assert_eq!(control(control_at, "GET", "/instances/b/start").0, 405);
    // b refuses connects now.
    assert!(TcpStream::connect(server.instance("b")).is_err());
    let (status, said) = control(control_at, "POST", "/instances/b/start");
    assert_eq!(status, 200, "{said}");
    // Listening again, on the same port.
    assert!(TcpStream::connect(server.instance("b")).is_ok());
    let c = client();
    for _ in 0..4 {
        let r = c
            .get(format!("http://{}/notes", server.web))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn instances_share_one_database() {
    let server = serve(&["--instances", "3"]);
    let base = format!("http://{}", server.web);
    let c = client();
    let created = c
        .post(format!("{base}/notes"))
        .header("content-type", "application/json")
        .body(r#"{"title": "made on one instance", "body": ""}"#)
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    // Round robin: the next three GETs land on a, b and c (in some order):
    // each sees the note.
    for _ in 0..3 {
        let body = c
            .get(format!("{base}/notes"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(body.contains("made on one instance"), "{body}");
    }
    let transcripts = server.finish();
    for name in ["a", "b", "c"] {
        assert!(
            transcripts.contains(&format!("chooses {name} (")),
            "{name} never chosen"
        );
    }
}

#[test]
fn balance_without_a_group_is_refused_with_a_hint() {
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--balance",
            "least_conn",
        ])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--instances N"), "{err}");
}

/// A stand-in for an app server outside roundtrip: answers every request
/// on one connection each with `body`, or (with `None`) never answers.
fn tiny_app(body: Option<&'static str>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Some(body) = body else {
                held.push(conn);
                continue;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn an_external_app_is_reached_through_the_traced_web_server() {
    let app = tiny_app(Some("hello from outside"));
    let server = serve(&["--upstream", &app.to_string()]);
    assert!(server.instances.is_empty(), "no app server is started");
    assert!(server.control.is_none());
    let r = client()
        .get(format!("http://{}/anything", server.web))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "hello from outside");
    let transcripts = server.finish();
    assert!(
        transcripts.contains(&format!("to the app server at {app}")),
        "{transcripts}"
    );
    assert!(transcripts.contains("web server: proxy_pass: sends"));
    // Nothing inside the external box is traced.
    assert!(
        !transcripts.contains("app server: receives"),
        "{transcripts}"
    );
    assert!(!transcripts.contains("framework:"), "{transcripts}");
}

#[test]
fn an_external_app_that_refuses_gets_502_and_one_that_never_answers_504() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address")
    };
    let server = serve(&["--upstream", &closed.to_string()]);
    let r = client()
        .get(format!("http://{}/notes", server.web))
        .send()
        .unwrap();
    assert_eq!(r.status(), 502);
    drop(server);

    let silent = tiny_app(None);
    let path = lesson(
        "short-read-timeout",
        r#"title = "A short proxy_read_timeout"
summary = "serve_group's stack."

[stack.web_server]
proxy_read_timeout = "300ms"

[[request]]
path = "/notes"
"#,
    );
    let server = serve(&[
        "--upstream",
        &silent.to_string(),
        "--lesson",
        path.to_str().expect("a UTF-8 path"),
    ]);
    let r = client()
        .get(format!("http://{}/notes", server.web))
        .send()
        .unwrap();
    assert_eq!(r.status(), 504);
}
