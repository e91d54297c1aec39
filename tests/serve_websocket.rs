//! Websockets over real TCP: `roundtrip serve --interface asgi` on an
//! ephemeral port, and tungstenite (an independent client) opening
//! sockets to its chat room through the web server's tunnel.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

mod common;
use common::serve::Serve;

fn serve(extra: &[&str]) -> Serve {
    Serve::start(extra)
}

type Socket = WebSocket<TcpStream>;

fn open(addr: SocketAddr, name: &str) -> (Socket, u16) {
    open_query(addr, &format!("name={name}"))
}

/// A socket to `/chat?QUERY`, and the handshake's status.
fn open_query(addr: SocketAddr, query: &str) -> (Socket, u16) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let url = format!("ws://{addr}/chat?{query}");
    let (socket, response) = tungstenite::client(url.as_str(), stream).expect("handshake");
    (socket, response.status().as_u16())
}

/// The next text message (pongs and pings are the library's business).
fn next_text(ws: &mut Socket) -> serde_json::Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// Read until the server's close frame; its code.
fn close_code(ws: &mut Socket) -> Option<CloseCode> {
    loop {
        match ws.read() {
            Ok(Message::Close(c)) => return c.map(|c| c.code),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn a_real_client_chats_through_serve_and_sees_each_broadcast_and_close_code() {
    let server = serve(&["--interface", "asgi"]);
    let (mut ada, status) = open(server.addr, "ada");
    assert_eq!(status, 101);
    assert_eq!(next_text(&mut ada)["type"], "join");

    let (mut bo, _) = open(server.addr, "bo");
    assert_eq!(
        next_text(&mut bo)["present"],
        serde_json::json!(["ada", "bo"])
    );
    assert_eq!(next_text(&mut ada)["name"], "bo");

    // A line is broadcast to everyone, the sender too.
    ada.send(Message::text("hello, bo")).expect("send");
    for ws in [&mut ada, &mut bo] {
        let m = next_text(ws);
        assert_eq!(
            (m["from"].as_str(), m["text"].as_str()),
            (Some("ada"), Some("hello, bo"))
        );
    }

    // A name already in the room: closed before accept, so 403.
    let stream = TcpStream::connect(server.addr).expect("connect");
    let url = format!("ws://{}/chat?name=ada", server.addr);
    match tungstenite::client(url.as_str(), stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            assert_eq!(r.status().as_u16(), 403)
        }
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }

    // A line over the room's 500 characters: 1008.
    bo.send(Message::text("x".repeat(600))).expect("send");
    assert_eq!(close_code(&mut bo), Some(CloseCode::Policy));
    // Ada hears Bo leave.
    let m = next_text(&mut ada);
    assert_eq!(
        (m["type"].as_str(), m["name"].as_str()),
        (Some("leave"), Some("bo"))
    );

    // A normal close is answered with 1000.
    ada.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .expect("close");
    assert_eq!(close_code(&mut ada), Some(CloseCode::Normal));
}

#[test]
fn a_message_over_ws_max_size_is_refused_with_1009() {
    // The ws-close-codes lesson's stack: ws_max_size = 1k.
    let server = serve(&["--lesson", "ws-close-codes"]);
    let (mut ws, _) = open(server.addr, "big");
    assert_eq!(next_text(&mut ws)["type"], "join");
    ws.send(Message::text("x".repeat(4096))).expect("send");
    assert_eq!(close_code(&mut ws), Some(CloseCode::Size));
}

#[test]
fn the_chat_page_is_served_over_http_and_opens_a_socket_to_chat() {
    let server = serve(&["--interface", "asgi"]);
    let body = reqwest::blocking::get(format!("http://{}/chat", server.addr))
        .expect("GET /chat")
        .text()
        .expect("body");
    assert!(body.contains("new WebSocket("), "{body}");
    assert!(body.contains("/chat?name="), "{body}");
}

/// Every member of a room, all speaking at once: each of `sockets`
/// clients sends `lines` lines in a burst, then reads. Every line must
/// reach every member, the sender too: `sockets × sockets × lines` frames,
/// none dropped on the way (the room's outboxes, the event loop's
/// channels, the web server's tunnel).
#[test]
fn every_broadcast_reaches_every_member_when_all_speak_at_once() {
    let server = serve(&["--interface", "asgi"]);
    let sockets = 6;
    let lines = 60;
    let mut all: Vec<Socket> = (0..sockets)
        .map(|i| open(server.addr, &format!("m{i}")).0)
        .collect();
    // Member i has seen the joins of members i..sockets so far.
    for (i, ws) in all.iter_mut().enumerate() {
        for _ in i..sockets {
            assert_eq!(next_text(ws)["type"], "join");
        }
    }
    let start = std::sync::Arc::new(std::sync::Barrier::new(sockets));
    let threads: Vec<_> = all
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for n in 0..lines {
                    ws.send(Message::text(format!("m{i} line {n}")))
                        .expect("send");
                }
                // Each speaker's lines arrive in the order it sent them.
                let mut next = vec![0; sockets];
                for _ in 0..sockets * lines {
                    let m = next_text(&mut ws);
                    assert_eq!(m["type"], "message", "member m{i} got {m}");
                    let from = m["from"].as_str().unwrap_or("");
                    let who: usize = from[1..].parse().expect("a member's number");
                    assert_eq!(m["text"], format!("{from} line {}", next[who]));
                    next[who] += 1;
                }
                next
            })
        })
        .collect();
    for t in threads {
        let got = t.join().expect("a member's thread");
        assert_eq!(got, vec![lines; sockets]);
    }
}

/// Raise this process's soft limit on open files to `want` (children such
/// as `serve` inherit it); false when the hard limit is lower.
fn raise_open_files(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `lim`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return false;
        }
        if lim.rlim_cur >= want {
            return true;
        }
        if lim.rlim_max < want {
            return false;
        }
        lim.rlim_cur = want;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
    }
}

/// Most resident memory one idle socket may add to `serve` (recording
/// on): its three connections (client, the proxy's upstream, the app
/// server's), their read buffers, tasks, channels and the room's outbox.
const IDLE_SOCKET_KIB: u64 = 160;

/// 1,000 sockets, ten to a room, left idle: every one stays open, and each
/// still gets the line broadcast in its room; the server grows by at most
/// [`IDLE_SOCKET_KIB`] per socket. (Ten to a room so that the joins each
/// member is sent fit its outbox of 32 while nobody reads.)
#[test]
fn a_thousand_idle_sockets_stay_open_in_bounded_memory_and_each_gets_its_rooms_broadcast() {
    let sockets = 1_000;
    let per_room = 10;
    // Each socket is three descriptors in serve (client, and both ends of
    // the proxy hop) and one here.
    if !raise_open_files(4 * sockets as u64 + 256) {
        eprintln!(
            "skipped: the hard limit on open files is below {}",
            4 * sockets + 256
        );
        return;
    }
    let server = serve(&["--interface", "asgi"]);
    let before = server.rss_kib().expect("serve's VmRSS");
    let mut all: Vec<Socket> = (0..sockets)
        .map(|i| {
            let (ws, status) =
                open_query(server.addr, &format!("name=m{i}&room=r{}", i / per_room));
            assert_eq!(status, 101, "socket {i}");
            ws
        })
        .collect();
    let after = server.rss_kib().expect("serve's VmRSS");
    let per_socket = after.saturating_sub(before) / sockets as u64;
    assert!(
        per_socket <= IDLE_SOCKET_KIB,
        "{sockets} idle sockets took serve from {before} KiB to {after} KiB: {per_socket} KiB each"
    );
    // The first member of each room speaks; everyone reads past the joins
    // to that line.
    for room in 0..sockets / per_room {
        all[room * per_room]
            .send(Message::text(format!("hello, room {room}")))
            .expect("send");
    }
    for (i, ws) in all.iter_mut().enumerate() {
        let room = i / per_room;
        let line = loop {
            let m = next_text(ws);
            if m["type"] == "message" {
                break m;
            }
            assert_eq!(m["type"], "join", "socket {i}: {m}");
        };
        assert_eq!(line["text"], format!("hello, room {room}"), "socket {i}");
        assert_eq!(line["from"], format!("m{}", room * per_room), "socket {i}");
    }
}
