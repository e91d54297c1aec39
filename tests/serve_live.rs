//! Live mode: `roundtrip serve` on an ephemeral 127.0.0.1 port, driven by
//! real clients (reqwest, curl, raw TCP). The statuses must match the
//! lessons'.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `roundtrip serve`, killed when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roundtrip serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The first line names the bound address: "... web server on http://ADDR → ...".
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve printed its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Serve { child, addr }
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
