//! Live mode: `roundtrip serve` on an ephemeral 127.0.0.1 port, driven by
//! real clients (reqwest, curl, raw TCP). The statuses must match the
//! lessons'. Shutdown is driven by real signals (`kill -INT`), and waits
//! are bounded polls of a condition (a line on stderr, the process's exit).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::serve::{DEADLINE, Serve};

fn serve(extra: &[&str]) -> Serve {
    Serve::start(extra)
}

fn serve_with_stdout(extra: &[&str], stdout: Stdio) -> Serve {
    Serve::start_with_stdout(extra, stdout)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn real_clients_get_the_lessons_statuses_over_tcp() {
    for interface in ["wsgi", "asgi"] {
        let server = serve(&["--interface", interface]);
        let base = format!("http://{}", server.addr);
        let c = client();

        let r = c.get(format!("{base}/notes")).send().expect("GET /notes");
        assert_eq!(r.status(), 200, "{interface}");
        assert!(r.headers().contains_key("x-request-id"));
        let notes: serde_json::Value =
            serde_json::from_str(&r.text().expect("body")).expect("JSON list");
        assert!(notes.is_array() || notes.get("notes").is_some(), "{notes}");

        assert_eq!(
            c.get(format!("{base}/nothing-here"))
                .send()
                .unwrap()
                .status(),
            404
        );
        let r = c.delete(format!("{base}/notes")).send().unwrap();
        assert_eq!(r.status(), 405);
        assert!(r.headers().get("allow").is_some());

        let r = c
            .post(format!("{base}/notes"))
            .header("content-type", "application/json")
            .body(r#"{"title": "from reqwest", "body": "hi"}"#)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{interface}");

        let big = vec![b'x'; 2 * 1024 * 1024];
        let r = c.post(format!("{base}/notes")).body(big).send();
        // The server may answer 413 before reading the body; some clients
        // then see a reset instead of the answer. Either way no 2xx.
        if let Ok(r) = r {
            assert_eq!(r.status(), 413);
        }
    }
}

#[test]
fn malformed_request_gets_400_and_the_server_keeps_serving() {
    let server = serve(&[]);
    let bad = raw_exchange(
        server.addr,
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    assert!(bad.contains("Connection: close"), "{bad}");
    let garbage = raw_exchange(server.addr, b"\x00\x01 not http at all\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let http2 = raw_exchange(server.addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    assert!(http2.starts_with("HTTP/1.1 505 "), "{http2}");
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 9000));
    long.extend(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    let long = raw_exchange(server.addr, &long);
    assert!(long.starts_with("HTTP/1.1 414 "), "{long}");

    let good = client()
        .get(format!("http://{}/notes", server.addr))
        .send()
        .expect("a good request on a new connection");
    assert_eq!(good.status(), 200);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = serve(&["--interface", "asgi"]);
    let answer = raw_exchange(
        server.addr,
        b"GET /notes/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\nHEAD /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, vec!["200", "404", "200"], "{answer}");
    // HEAD: headers but no body, so the answer ends with the blank line.
    assert!(answer.ends_with("\r\n\r\n"), "{answer}");
}

#[test]
fn a_real_client_revalidates_notes_and_gets_the_frameworks_304_until_a_post_changes_them() {
    for interface in ["wsgi", "asgi"] {
        let server = serve(&["--interface", interface]);
        let base = format!("http://{}", server.addr);
        let c = client();
        let first = c.get(format!("{base}/notes")).send().expect("GET /notes");
        assert_eq!(first.status(), 200, "{interface}");
        let header = |r: &reqwest::blocking::Response, name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header(&first, "cache-control").as_deref(),
            Some("private, no-cache")
        );
        let etag = header(&first, "etag").expect("an ETag on GET /notes");
        let body = first.bytes().expect("body");
        // The ETag is the quoted MD5 of the bytes the client received.
        use md5::Digest;
        assert_eq!(etag, format!("\"{:x}\"", md5::Md5::digest(&body)));

        let again = c
            .get(format!("{base}/notes"))
            .header("If-None-Match", &etag)
            .send()
            .expect("conditional GET");
        assert_eq!(again.status(), 304, "{interface}");
        assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
        assert_eq!(
            header(&again, "cache-control").as_deref(),
            Some("private, no-cache")
        );
        assert!(again.bytes().expect("no body").is_empty());

        let created = c
            .post(format!("{base}/notes"))
            .header("content-type", "application/json")
            .body(r#"{"title": "changes the list", "body": ""}"#)
            .send()
            .expect("POST");
        assert_eq!(created.status(), 201);
        assert_eq!(
            header(&created, "cache-control").as_deref(),
            Some("no-store")
        );

        let changed = c
            .get(format!("{base}/notes"))
            .header("If-None-Match", &etag)
            .send()
            .expect("conditional GET after the POST");
        assert_eq!(changed.status(), 200, "{interface}");
        let new_etag = header(&changed, "etag").expect("a new ETag");
        assert_ne!(new_etag, etag);
        assert!(changed.text().expect("body").contains("changes the list"));
    }
}

#[test]
fn a_real_client_that_accepts_gzip_decompresses_the_same_bytes() {
    use std::io::Read as _;
    let server = serve(&["--lesson", "gzip"]);
    let base = format!("http://{}", server.addr);
    let c = client();
    for path in ["/notes", "/static/css/site.css"] {
        let plain = c.get(format!("{base}{path}")).send().expect("plain GET");
        assert_eq!(plain.headers().get("content-encoding"), None, "{path}");
        let plain = plain.bytes().expect("plain body");
        let gz = c
            .get(format!("{base}{path}"))
            .header("Accept-Encoding", "gzip")
            .send()
            .expect("GET with Accept-Encoding: gzip");
        assert_eq!(gz.status(), 200);
        let header = |name: &str| {
            gz.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("content-encoding").as_deref(),
            Some("gzip"),
            "{path}"
        );
        assert_eq!(header("content-length"), None, "{path}: sent chunked");
        assert_eq!(header("vary").as_deref(), Some("Accept-Encoding"));
        assert!(
            header("etag").is_some_and(|t| t.starts_with("W/")),
            "{path}"
        );
        let compressed = gz.bytes().expect("gzip body");
        assert!(compressed.len() < plain.len(), "{path}");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut out)
            .expect("a gzip stream");
        // The lesson's store is in memory and nothing was added: the same
        // list both times.
        assert_eq!(out, plain.to_vec(), "{path}");
    }
}

#[test]
fn over_tcp_br_wins_over_gzip_decodes_to_the_same_bytes_and_br_q0_gets_gzip() {
    use std::io::Read as _;
    let server = serve(&["--lesson", "brotli"]);
    let base = format!("http://{}", server.addr);
    let c = client();
    for path in ["/notes", "/static/css/site.css"] {
        let plain = c.get(format!("{base}{path}")).send().expect("plain GET");
        assert_eq!(plain.headers().get("content-encoding"), None, "{path}");
        let plain = plain.bytes().expect("plain body").to_vec();
        let get = |accept: &str| {
            let r = c
                .get(format!("{base}{path}"))
                .header("Accept-Encoding", accept)
                .send()
                .expect("GET with Accept-Encoding");
            assert_eq!(r.status(), 200, "{path} {accept}");
            let field = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let fields = (
                field("content-encoding"),
                field("vary"),
                field("etag"),
                field("content-length"),
            );
            (fields, r.bytes().expect("body").to_vec())
        };
        // gzip ranked higher: br all the same, as ngx_brotli does.
        let ((coding, vary, etag, length), br) = get("gzip;q=1, br;q=0.5");
        assert_eq!(coding.as_deref(), Some("br"), "{path}");
        assert_eq!(vary.as_deref(), Some("Accept-Encoding"), "{path}");
        assert!(etag.is_some_and(|t| t.starts_with("W/")), "{path}");
        assert_eq!(length, None, "{path}: sent chunked");
        assert!(br.len() < plain.len(), "{path}");
        let mut decoded = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut decoded).expect("a brotli stream");
        assert_eq!(decoded, plain, "{path}");

        let ((coding, _, _, _), gz) = get("gzip, br;q=0");
        assert_eq!(coding.as_deref(), Some("gzip"), "{path}");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut decoded)
            .expect("a gzip stream");
        assert_eq!(decoded, plain, "{path}");

        let ((coding, vary, _, _), same) = get("br;q=0, gzip;q=0");
        assert_eq!(coding, None, "{path}");
        assert_eq!(vary.as_deref(), Some("Accept-Encoding"), "{path}");
        assert_eq!(same, plain, "{path}");
    }
}

#[test]
fn head_carries_the_length_a_get_would_have() {
    let server = serve(&[]);
    let get = raw_exchange(
        server.addr,
        b"GET /notes/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = raw_exchange(
        server.addr,
        b"HEAD /notes/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let length = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map(str::to_string)
    };
    assert!(length(&get).is_some_and(|l| l != "0"), "{get}");
    assert_eq!(length(&head), length(&get), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "no body after a HEAD response: {head}"
    );
}

#[test]
fn expect_100_continue_gets_the_go_ahead_before_the_body() {
    let server = serve(&[]);
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = br#"{"title": "t", "body": "b"}"#;
    let head = format!(
        "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("read 100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body).expect("write body");
    let mut rest = String::new();
    let _ = s.read_to_string(&mut rest);
    assert!(rest.starts_with("HTTP/1.1 201 "), "{rest}");
}

#[test]
fn curl_gets_the_notes_page() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed (.ci/run installs it)");
        return;
    }
    let server = serve(&[]);
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10"])
        .arg(format!("http://{}/", server.addr))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("text/html"), "{text}");
    assert!(
        text.contains("X-Content-Type-Options: nosniff")
            || text.contains("x-content-type-options: nosniff"),
        "{text}"
    );
}

/// Run curl with these arguments; its stdout.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_signs_in_with_a_cookie_jar_and_a_bearer_token_and_signs_out() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed (.ci/run installs it)");
        return;
    }
    let server = serve(&["--lesson", "login-session"]);
    let base = format!("http://{}", server.addr);
    let dir = std::env::temp_dir().join(format!("roundtrip-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jar = dir.join("cookies.txt");
    let jar = jar.to_str().expect("utf-8 path");

    let anonymous = curl(&[&format!("{base}/me")]);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(
        anonymous.contains("WWW-Authenticate: Bearer realm=\"notes\""),
        "{anonymous}"
    );
    let page = curl(&[&format!("{base}/account")]);
    assert!(page.starts_with("HTTP/1.1 302"), "{page}");
    assert!(page.contains("Location: /login?next=/account"), "{page}");

    let login = curl(&[
        "-c",
        jar,
        "-d",
        "username=alice&password=wonderland&next=/account",
        &format!("{base}/login"),
    ]);
    assert!(login.starts_with("HTTP/1.1 302"), "{login}");
    assert!(login.contains("HttpOnly; SameSite=Lax; Path=/"), "{login}");
    let me = curl(&["-b", jar, &format!("{base}/me")]);
    assert!(
        me.starts_with("HTTP/1.1 200") && me.contains("\"alice\""),
        "{me}"
    );
    let stolen = std::fs::read_to_string(jar).expect("curl wrote the jar");
    // Signing out changes something: send the CSRF token from the
    // readable `csrftoken` cookie, as the site's own page would. (curl's
    // jar: tab-separated, the name and the value are the last columns.)
    let csrf = stolen
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() == 7 && cols[5] == "csrftoken").then(|| cols[6].to_string())
        })
        .next()
        .expect("sign-in set a csrftoken cookie");
    let out = curl(&[
        "-b",
        jar,
        "-c",
        jar,
        "-H",
        &format!("X-CSRF-Token: {csrf}"),
        "-X",
        "POST",
        &format!("{base}/logout"),
    ]);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let copy = dir.join("stolen.txt");
    std::fs::write(&copy, stolen).expect("write the copy");
    let replay = curl(&["-b", copy.to_str().expect("utf-8"), &format!("{base}/me")]);
    assert!(
        replay.starts_with("HTTP/1.1 401"),
        "a logged-out session still works: {replay}"
    );

    let token = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username":"ada","password":"lovelace"}"#,
        &format!("{base}/tokens"),
    ]);
    let access = token
        .split("\"access_token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no token in {token}"));
    let admin = curl(&[
        "-H",
        &format!("Authorization: Bearer {access}"),
        &format!("{base}/admin"),
    ]);
    assert!(admin.starts_with("HTTP/1.1 200"), "{admin}");
    let forged = curl(&[
        "-H",
        &format!("Authorization: Bearer {access}x"),
        &format!("{base}/admin"),
    ]);
    assert!(
        forged.starts_with("HTTP/1.1 401") && forged.contains("invalid_token"),
        "{forged}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The number before `word` in `text`, e.g. `count(s, "requests finished")`.
fn count(text: &str, word: &str) -> u64 {
    let before = text
        .split(word)
        .next()
        .and_then(|t| t.split_whitespace().last())
        .unwrap_or_else(|| panic!("no {word:?} in {text:?}"));
    before
        .parse()
        .unwrap_or_else(|_| panic!("no number before {word:?} in {text:?}"))
}

#[test]
fn sigint_lets_the_request_in_flight_finish_then_exits_0() {
    let mut server = serve(&[]);
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // `Expect: 100-continue` proves the web server has read the head: the
    // request is in flight, waiting for its body, when the signal comes.
    let body = br#"{"title": "sent during shutdown", "body": "b"}"#;
    let head = format!(
        "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("read 100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");

    server.signal("INT");
    server.wait_for_line("accepting no new connections");
    // The listener closes as soon as the accept loop sees the stop: poll
    // until a new connection is refused (one that slips in closes at once).
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(server.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted while draining"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    s.write_all(body).expect("write body");
    let mut rest = String::new();
    let _ = s.read_to_string(&mut rest);
    assert!(rest.starts_with("HTTP/1.1 201 "), "{rest}");
    // The web server's lingering close waits for the client's end too.
    drop(s);

    let summary = server.wait_for_line("roundtrip serve: stopped");
    assert!(summary.contains("drained in"), "{summary}");
    assert_eq!(count(&summary, "request finished"), 1, "{summary}");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{summary}");
}

#[test]
fn sigterm_stops_an_idle_server_and_its_event_loop_with_status_0() {
    let mut server = serve(&["--interface", "asgi"]);
    assert_eq!(
        client()
            .get(format!("http://{}/notes", server.addr))
            .send()
            .expect("GET /notes")
            .status(),
        200
    );
    server.signal("TERM");
    let summary = server.wait_for_line("roundtrip serve: stopped");
    // After the web server, the event loop stops too: it closes its idle
    // connections and runs the app's lifespan shutdown within its grace.
    assert!(summary.contains("the app server shut down"), "{summary}");
    assert_eq!(server.wait_exit().code(), Some(0), "{summary}");
}

#[test]
fn no_record_serves_requests_and_records_nothing() {
    let mut server = serve(&["--no-record", "--interface", "asgi"]);
    let c = client();
    for _ in 0..3 {
        let r = c
            .get(format!("http://{}/notes", server.addr))
            .send()
            .expect("GET /notes");
        assert_eq!(r.status(), 200);
    }
    // Without recording the drain waits for connections to close, so let
    // the client's kept-alive one go.
    drop(c);
    let (summary, status) = server.interrupt();
    assert!(summary.contains("drained in"), "{summary}");
    assert!(summary.contains("recording was off"), "{summary}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn history_is_refused_without_the_player() {
    // Only the player steps through past requests (tests/serve_tui.rs
    // checks that `--tui --history 5` keeps 5); the access log keeps none.
    let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["serve", "--listen", "127.0.0.1:0", "--history", "5"])
        .output()
        .expect("run roundtrip serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tui"), "{err}");
}

#[test]
fn concurrent_and_sequential_requests_each_get_one_access_log_line() {
    let (threads, each) = (4, 25);
    let mut server = serve_with_stdout(&["--interface", "asgi"], Stdio::piped());
    let stdout = server.child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let addr = server.addr;
    let clients: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let c = client();
                for _ in 0..each {
                    let r = c
                        .get(format!("http://{addr}/notes"))
                        .send()
                        .expect("GET /notes");
                    assert_eq!(r.status(), 200);
                }
            })
        })
        .collect();
    for t in clients {
        t.join().expect("client thread");
    }
    let (summary, status) = server.interrupt();
    assert_eq!(status.code(), Some(0));
    let lines = reader.join().expect("stdout reader");
    let logged = lines
        .iter()
        .filter(|l| l.starts_with("request ") && l.contains("GET /notes → 200"))
        .count() as u64;
    let total = (threads * each) as u64;
    // Nothing is dropped at this rate; if something were, the summary says so.
    let dropped = count(&summary, "events dropped");
    assert_eq!(count(&summary, "requests finished"), logged, "{summary}");
    if dropped == 0 {
        assert_eq!(logged, total, "{summary}");
    }
}

#[test]
fn server_timing_flag_gives_real_clients_every_layers_time() {
    let mut server = serve(&["--server-timing", "--interface", "asgi"]);
    let r = client()
        .get(format!("http://{}/notes", server.addr))
        .send()
        .expect("GET /notes");
    assert_eq!(r.status(), 200);
    let timing: Vec<String> = r
        .headers()
        .get_all("server-timing")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    assert_eq!(timing.len(), 1, "one list field: {timing:?}");
    let names: Vec<&str> = timing[0]
        .split(',')
        .filter_map(|m| m.trim().split(';').next())
        .collect();
    assert_eq!(names, ["app", "upstream", "web"], "{timing:?}");
    let (_, status) = server.interrupt();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn without_the_flag_no_response_carries_server_timing() {
    let mut server = serve(&["--interface", "wsgi"]);
    let r = client()
        .get(format!("http://{}/notes", server.addr))
        .send()
        .expect("GET /notes");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("server-timing").is_none());
    let (_, status) = server.interrupt();
    assert_eq!(status.code(), Some(0));
}

/// `n` GETs of `path` at once, each from its own thread and connection;
/// how long until the last answer, and every status.
fn at_once(addr: SocketAddr, path: &str, n: usize) -> (Duration, Vec<u16>) {
    let started = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let url = format!("http://{addr}{path}");
            std::thread::spawn(move || {
                client()
                    .get(url)
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let statuses = threads.into_iter().map(|t| t.join().unwrap_or(0)).collect();
    (started.elapsed(), statuses)
}

#[test]
fn a_blocking_call_really_stalls_the_event_loop_in_serve() {
    let s = serve(&["--interface", "asgi", "--no-record"]);
    // Four 150 ms blocking calls on one loop can only run one after another.
    let (took, statuses) = at_once(s.addr, "/blocking?ms=150", 4);
    assert_eq!(statuses, [200; 4]);
    assert!(took >= Duration::from_millis(600), "took {took:?}");
}

#[test]
fn sync_workers_block_only_themselves_in_serve() {
    let s = serve(&["--interface", "wsgi", "--workers", "4", "--no-record"]);
    // Four workers, four 300 ms blocking calls: one round, not four
    // (1.2 s). The bound leaves a loaded machine 600 ms of slack.
    let (took, statuses) = at_once(s.addr, "/blocking?ms=300", 4);
    assert_eq!(statuses, [200; 4]);
    assert!(took < Duration::from_millis(900), "took {took:?}");
}

/// `serve --worker-class gthread`: real threads in a real worker answer
/// over TCP, and the worker keeps the web server's upstream connection
/// for the next request, as gunicorn's gthread worker does (a sync worker
/// closes it after every response).
#[test]
fn a_gthread_worker_serves_over_tcp_and_keeps_the_upstream_connection() {
    let mut server = serve_with_stdout(
        &[
            "--interface",
            "wsgi",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--plain",
        ],
        Stdio::piped(),
    );
    let stdout = server.child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let c = client();
    for _ in 0..2 {
        let r = c
            .get(format!("http://{}/notes", server.addr))
            .send()
            .expect("GET /notes");
        assert_eq!(r.status(), 200);
    }
    let (_summary, status) = server.interrupt();
    assert_eq!(status.code(), Some(0));
    let text = reader.join().expect("stdout reader").join("\n");
    assert!(
        text.contains("thread 1 of gthread worker 1 takes the request"),
        "{text}"
    );
    assert!(text.contains("reuses idle upstream connection"), "{text}");
}

/// The `cors-preflight` lesson's stack over real TCP: a real client sends
/// what a browser would on behalf of a page of `http://app.example.com`.
#[test]
fn over_tcp_a_preflight_is_answered_204_and_a_credentialed_get_gets_its_origin_back() {
    const APP: &str = "http://app.example.com";
    let server = serve(&["--lesson", "cors-preflight"]);
    let base = format!("http://{}", server.addr);
    let c = client();
    let header = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };

    // Sign in (same origin), and keep the session cookie by hand.
    let login = c
        .post(format!("{base}/login"))
        .header("content-type", "application/json")
        .body(r#"{"username": "alice", "password": "wonderland"}"#)
        .send()
        .expect("POST /login");
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sessionid="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();

    // The page's fetch(…/me, { credentials: "include" }).
    let me = c
        .get(format!("{base}/me"))
        .header("Origin", APP)
        .header("Cookie", &cookie)
        .send()
        .expect("GET /me");
    assert_eq!(me.status(), 200);
    assert_eq!(
        header(&me, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&me, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(header(&me, "vary").is_some_and(|v| v.contains("Origin")));
    assert!(me.text().expect("body").contains("alice"));

    // The preflight a PUT with Authorization needs; no credentials on it.
    let preflight = c
        .request(reqwest::Method::OPTIONS, format!("{base}/notes/1"))
        .header("Origin", APP)
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .expect("OPTIONS /notes/1");
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert!(header(&preflight, "access-control-allow-methods").is_some_and(|m| m.contains("PUT")));
    assert!(
        header(&preflight, "access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization"))
    );
    assert_eq!(
        header(&preflight, "access-control-max-age").as_deref(),
        Some("600")
    );

    // A preflight to a route that needs sign-in is not 401'd.
    let protected = c
        .request(reqwest::Method::OPTIONS, format!("{base}/me"))
        .header("Origin", APP)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .expect("OPTIONS /me");
    assert_eq!(protected.status(), 204);

    // Another origin: its preflight is refused; its GET is answered all the
    // same, without the field a browser would need to hand it to the page.
    let evil = c
        .request(reqwest::Method::OPTIONS, format!("{base}/notes/1"))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .expect("OPTIONS from evil");
    assert_eq!(evil.status(), 400);
    assert_eq!(header(&evil, "access-control-allow-origin"), None);
    assert_eq!(evil.text().expect("body"), "Disallowed CORS origin");
    let read = c
        .get(format!("{base}/notes/1"))
        .header("Origin", "http://evil.example")
        .send()
        .expect("GET from evil");
    assert_eq!(
        read.status(),
        200,
        "the server does not block; the browser does"
    );
    assert_eq!(header(&read, "access-control-allow-origin"), None);
}

#[test]
fn a_raising_handler_gets_the_frameworks_500_without_the_after_code_of_the_middleware() {
    let server = serve(&["--lesson", "handler-raises"]);
    let c = client();
    let bug = c
        .get(format!("http://{}/notes/1", server.addr))
        .send()
        .expect("GET /notes/1");
    assert_eq!(bug.status(), 500);
    // The exception unwound past security_headers and request_id.
    assert!(bug.headers().get("x-content-type-options").is_none());
    assert!(bug.headers().get("x-request-id").is_none());
    assert_eq!(bug.text().expect("body"), "Internal Server Error");
    let fine = c
        .get(format!("http://{}/notes", server.addr))
        .send()
        .expect("GET /notes");
    assert_eq!(fine.status(), 200);
    assert!(fine.headers().get("x-content-type-options").is_some());
}

#[test]
fn an_exception_let_out_of_the_framework_gets_gunicorns_own_page() {
    let server = serve(&["--lesson", "exception-propagates"]);
    let res = raw_exchange(
        server.addr,
        b"GET /notes/2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(res.starts_with("HTTP/1.1 500 "), "{res}");
    assert!(
        res.contains("<h1><p>Internal Server Error</p></h1>"),
        "{res}"
    );
}

#[test]
fn a_client_that_leaves_while_the_request_is_upstream_is_logged_499() {
    let mut server = serve_with_stdout(&["--lesson", "client-gives-up"], Stdio::piped());
    let stdout = server.child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The handler waits 5 s (the lesson's fault); this client gives up
    // once its request is on its way and closes the connection.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(b"GET /notes HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    s.shutdown(std::net::Shutdown::Both).expect("close");
    drop(s);
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains("GET /notes → ") => break l,
            Ok(l) => seen.push(l),
            Err(_) => panic!("no line for GET /notes; saw {seen:#?}"),
        }
    };
    assert!(line.contains("→ 499"), "{line}");
    let (_, status) = server.interrupt();
    assert_eq!(status.code(), Some(0));
}

/// `serve --lesson rate-limit-burst` (rate=2r/s burst=3, status 429):
/// six clients at once over real TCP. Whatever the order they arrive in,
/// within half a second of each other the bucket lets one through, queues
/// three, and refuses two; the queued ones come back after the others.
#[test]
fn six_clients_at_once_over_tcp_get_four_answers_and_two_429s_from_limit_req() {
    let server = serve(&["--lesson", "rate-limit-burst"]);
    let url = format!("http://{}/notes", server.addr);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let status = client()
                    .get(&url)
                    .header("Connection", "close")
                    .send()
                    .expect("GET")
                    .status()
                    .as_u16();
                (status, started.elapsed())
            })
        })
        .collect();
    let mut got: Vec<(u16, Duration)> = handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();
    got.sort();
    let statuses: Vec<u16> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "{got:?}");
    // The last queued request waits about 1.5 s (three 500 ms turns).
    let slowest = got.iter().map(|(_, d)| *d).max().unwrap_or_default();
    assert!(slowest >= Duration::from_millis(1000), "{got:?}");
}

/// A lesson file whose stack refuses this machine's loopback address.
fn filtering_lesson() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("roundtrip-filter-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        r#"title = "filtering over TCP"
summary = "deny 127.0.0.1 at the server, the files for all, 444 for a scanner"

[stack.web_server]
access = ["deny 127.0.0.1"]

[[stack.web_server.location]]
match = "/static/"
root = "/srv/www"
access = ["allow all"]

[[stack.web_server.location]]
match = "= /wp-login.php"
return = "444"

[[stack.web_server.location]]
match = "/"
proxy_pass = "http://app_server"

[[request]]
path = "/notes"
"#,
    )
    .expect("a temp lesson");
    path
}

#[test]
fn over_tcp_a_denied_address_gets_403_a_scanner_444_and_a_bad_host_400() {
    let lesson = filtering_lesson();
    let server = serve(&["--lesson", lesson.to_str().expect("a UTF-8 path")]);
    let base = format!("http://{}", server.addr);
    let c = client();

    let r = c.get(format!("{base}/notes")).send().expect("GET /notes");
    assert_eq!(r.status(), 403);
    let tokens = format!("roundtrip-nginx/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        r.headers().get("server").and_then(|v| v.to_str().ok()),
        Some(tokens.as_str())
    );
    assert!(r.text().expect("body").contains(&tokens));

    let r = c
        .get(format!("{base}/static/css/site.css"))
        .send()
        .expect("GET a file");
    assert_eq!(
        r.status(),
        200,
        "the location's own rules replace the server's"
    );

    let scanner = raw_exchange(
        server.addr,
        b"GET /wp-login.php HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(scanner, "", "444 sends nothing and closes");

    let bad_host = raw_exchange(server.addr, b"GET /notes HTTP/1.1\r\nHost: a..b\r\n\r\n");
    assert!(bad_host.starts_with("HTTP/1.1 400 "), "{bad_host}");
    let star = raw_exchange(server.addr, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(star.starts_with("HTTP/1.1 400 "), "{star}");
    let connect = raw_exchange(
        server.addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert!(connect.starts_with("HTTP/1.1 405 "), "{connect}");
    let _ = std::fs::remove_file(lesson);
}

/// A server out of file descriptors cannot accept: it says so on stderr
/// as nginx's error log does ("accept4() failed (24: Too many open
/// files)"), keeps the waiting connections in the backlog, and serves
/// them once descriptors are free again.
#[test]
fn out_of_descriptors_serve_logs_the_failed_accept_and_recovers() {
    let server = Serve::start_with_open_files(&["--plain"], 64);
    let held: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(server.addr).expect("connect (into the backlog)"))
        .collect();
    let line = server.wait_for_line("accept4() failed");
    assert!(
        line.contains("[crit] accept4() failed (24: Too many open files)"),
        "{line}"
    );
    drop(held);
    let r = client()
        .get(format!("http://{}/notes", server.addr))
        .send()
        .expect("GET /notes once descriptors are free");
    assert_eq!(r.status(), 200);
}
