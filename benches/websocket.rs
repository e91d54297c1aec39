//! Websockets through `roundtrip serve --interface asgi` (trace recording
//! on, the web server's tunnel in front), driven by tungstenite clients
//! over 127.0.0.1:
//!
//! 1. one socket: a text message, then its broadcast back (a round trip
//!    through the tunnel, uvicorn's side, the room and back), messages/s;
//! 2. 100 sockets in one room, each sending 20 lines: every line goes to
//!    all 100, so 200,000 frames are delivered; deliveries/s;
//! 3. 1,000 idle sockets, each alone in its room: the server's resident
//!    memory before and after, and per socket.
//!
//! `cargo bench --bench websocket`

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

#[path = "../tests/common/serve.rs"]
mod serve;
use serve::Serve;

fn serve(extra: &[&str]) -> Serve {
    let mut all = vec!["--interface", "asgi"];
    all.extend_from_slice(extra);
    Serve::start(&all)
}

fn open(addr: SocketAddr, query: &str) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let url = format!("ws://{addr}/chat?{query}");
    tungstenite::client(url.as_str(), stream)
        .expect("handshake")
        .0
}

fn next_text(ws: &mut WebSocket<TcpStream>) {
    loop {
        if let Message::Text(_) = ws.read().expect("read") {
            return;
        }
    }
}

fn one_socket(s: &Serve) {
    let mut ws = open(s.addr, "name=solo&room=solo");
    next_text(&mut ws); // the join
    let n = 5_000;
    let began = Instant::now();
    for i in 0..n {
        ws.send(Message::text(format!("line {i}"))).expect("send");
        next_text(&mut ws);
    }
    let took = began.elapsed();
    println!(
        "1 socket: {n} round trips in {:.2} s = {:.0} messages/s ({:.1} µs each)",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / f64::from(n)
    );
}

fn hundred_broadcasting(s: &Serve) {
    let sockets = 100;
    let lines = 20;
    let mut all: Vec<_> = (0..sockets)
        .map(|i| open(s.addr, &format!("name=m{i}&room=busy")))
        .collect();
    // Drain the joins each member has had so far: member i saw the joins
    // of members i..100.
    for (i, ws) in all.iter_mut().enumerate() {
        for _ in i..sockets {
            next_text(ws);
        }
    }
    let began = Instant::now();
    let threads: Vec<_> = all
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            std::thread::spawn(move || {
                // Send one line, then read, until it has all lines of all
                // (or the connection went: a member not reading for
                // SLOW_MEMBER is taken out of the room and closed).
                let mut sent = 0;
                let mut got = 0;
                let want = sockets * lines;
                while got < want {
                    if sent < lines {
                        if ws.send(Message::text(format!("m{i} says {sent}"))).is_err() {
                            break;
                        }
                        sent += 1;
                    }
                    match ws.read() {
                        Ok(Message::Text(_)) => got += 1,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                got
            })
        })
        .collect();
    let got: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let took = began.elapsed();
    let expected = sockets * sockets * lines;
    println!(
        "{sockets} sockets, {lines} lines each: {got} of {expected} frames delivered in {:.2} s = {:.0} deliveries/s",
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64(),
    );
}

fn idle_sockets(s: &Serve, what: &str) {
    std::thread::sleep(Duration::from_millis(200));
    let before = s.rss_kib().unwrap_or(0);
    let n = 1_000;
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let mut ws = open(s.addr, &format!("name=idle{i}&room=r{i}"));
        next_text(&mut ws);
        all.push(ws);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = s.rss_kib().unwrap_or(0);
    println!(
        "{n} idle sockets open ({what}): server RSS {before} KiB before, {after} KiB after: {:.1} KiB per socket",
        after.saturating_sub(before) as f64 / n as f64
    );
    drop(all);
}

fn main() {
    // Each part on a fresh server, so one part's history does not weigh
    // on the next.
    one_socket(&serve(&[]));
    hundred_broadcasting(&serve(&[]));
    idle_sockets(&serve(&[]), "recording");
    // What the recording of the handshakes and joins costs, apart from the
    // sockets, tasks and buffers themselves.
    idle_sockets(&serve(&["--no-record"]), "--no-record");
}
