//! `send_timeout` over real TCP: `roundtrip serve` with a lesson's
//! `send_timeout = "1s"` and a directory holding a file far larger than
//! the loopback connection's buffers. A raw client asks for it and never
//! reads; the server must close that connection once its writes have
//! waited send_timeout, while other clients are served. Waits are bounded
//! polls of the kernel's TCP table (Linux's /proc/net/tcp).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::serve::{DEADLINE, Serve};

/// The file: 32 MiB, several times what a loopback connection buffers
/// (the server's send buffer grows to 4 MiB, the receive window of a
/// client that reads nothing stays small).
const FILE_BYTES: usize = 32 * 1024 * 1024;

/// A directory with `static/big.bin` and a lesson that sets send_timeout.
fn site() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-send-timeout-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("static")).expect("make the site");
    std::fs::write(dir.join("static/big.bin"), vec![b'x'; FILE_BYTES]).expect("write the file");
    let lesson = dir.join("lesson.toml");
    std::fs::write(
        &lesson,
        "title = \"send_timeout over TCP\"\nsummary = \"a short send_timeout\"\n\
         [stack.web_server]\nsend_timeout = \"1s\"\n[[request]]\npath = \"/notes\"\n",
    )
    .expect("write the lesson");
    (dir, lesson)
}

fn serve(root: &std::path::Path, lesson: &std::path::Path) -> Serve {
    Serve::start(&[
        std::ffi::OsStr::new("--lesson"),
        lesson.as_os_str(),
        std::ffi::OsStr::new("--root"),
        root.as_os_str(),
    ])
}

/// The kernel's state of the server's end of the connection from
/// `client` to `server` ("01" established), if /proc/net/tcp lists it.
fn server_side_state(server: SocketAddr, client: SocketAddr) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{:04X}", server.port());
    let remote = format!("0100007F:{:04X}", client.port());
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&local.as_str()) && f.get(2) == Some(&remote.as_str()))
            .then(|| f.get(3).map(|s| s.to_string()))
            .flatten()
    })
}

fn get_notes(addr: SocketAddr) -> u16 {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!("http://{addr}/notes"))
        .send()
        .expect("GET /notes")
        .status()
        .as_u16()
}

#[test]
fn a_client_that_never_reads_is_closed_after_send_timeout_and_others_are_served() {
    if std::fs::read_to_string("/proc/net/tcp").is_err() {
        eprintln!("skipped: no /proc/net/tcp to watch the connection's state");
        return;
    }
    let (root, lesson) = site();
    let server = serve(&root, &lesson);
    let mut stalled = TcpStream::connect(server.addr).expect("connect");
    let me = stalled.local_addr().expect("local address");
    stalled
        .write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write the request");
    let asked = Instant::now();

    // Another client is served while the download is stalled.
    assert_eq!(get_notes(server.addr), 200);

    // The server's end leaves ESTABLISHED when it closes the connection.
    let closed_after = loop {
        match server_side_state(server.addr, me).as_deref() {
            Some("01") => {}
            _ => break asked.elapsed(),
        }
        assert!(
            asked.elapsed() < DEADLINE,
            "the server kept the stalled connection open for {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        closed_after >= Duration::from_secs(1),
        "closed after {closed_after:?}, before send_timeout 1s"
    );

    // Reading now gets what the buffers held, then the end: a response
    // cut short, far from the file's 32 MiB.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut got = Vec::new();
    stalled.read_to_end(&mut got).expect("read to the end");
    let text = String::from_utf8_lossy(&got[..got.len().min(200)]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains(&format!("Content-Length: {FILE_BYTES}")),
        "{text}"
    );
    assert!(got.len() < FILE_BYTES, "got all {} bytes", got.len());

    // And the server goes on serving.
    assert_eq!(get_notes(server.addr), 200);
}
