//! The lesson's websocket client: a browser's `new WebSocket(url)`, by
//! hand.
//!
//! ```text
//! handshake headers added to the request ─▶ 101? accept key checked
//!   ─▶ frames sent at their `at`, masked with keys from the lesson's seed
//!   ─▶ frames read and recorded as they come; pings answered with pongs,
//!      a close frame answered with one (RFC 6455 §5.5.1)
//!   ─▶ the end: a close handshake, a dropped connection, or the server's close
//! ```
//!
//! Every frame the client writes or reads is a `client.websocket.send` /
//! `client.websocket.receive` step with the frame's header fields, so a
//! lesson shows the masking a client must do and the server must not.
//!
//! Book: "WebSockets" (book/src/websockets.md).

use std::time::Duration;

use tokio::time::Instant;

use super::client::ClientConn;
use super::format::{Request, WebsocketScript, WsSend};
use crate::http::ws::frame::{self, Frame, Opcode, Role};
use crate::http::ws::message::fragments;
use crate::http::ws::{CloseCode, close, handshake};
use crate::server::show::{ws_accept, ws_frame};
use crate::trace::emit::Step;
use crate::trace::{Direction, Failure, Kind, StepId};

/// Largest frame the client reads (a lesson's are small; this only keeps a
/// broken length from filling memory).
const MAX_FRAME: u64 = 64 * 1024 * 1024;

/// How long after its last frame a script that does not close itself is
/// closed with 1000.
pub const LINGER: Duration = Duration::from_secs(1);

/// How long the client waits for the answer to its close frame before it
/// drops the connection (browsers wait a few seconds).
const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// Sixteen bytes from the lesson's seed and the client's connection: the
/// same key on every run of the lesson.
pub fn key_for(seed: u64, conn: u64) -> String {
    handshake::client_key(bytes_from(seed, conn, 0x006b_6579))
}

/// splitmix64, as a deterministic source of key and mask bytes.
fn bytes_from<const N: usize>(seed: u64, conn: u64, salt: u64) -> [u8; N] {
    let mut x = seed ^ conn.rotate_left(32) ^ salt;
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let b = z.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    out
}

/// The request with its handshake fields (RFC 6455 §4.1), unless the
/// lesson wrote them itself.
pub fn with_handshake(mut r: Request, key: &str) -> Request {
    let Some(ws) = r.websocket.clone() else {
        return r;
    };
    let ws = ws.into_inner();
    let mut add = |name: &str, value: String| {
        if !r.headers.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            r.headers
                .insert(name.to_string(), toml::Value::String(value));
        }
    };
    add("Upgrade", "websocket".into());
    add("Connection", "Upgrade".into());
    add("Sec-WebSocket-Key", key.to_string());
    add(
        "Sec-WebSocket-Version",
        ws.version.unwrap_or_else(|| handshake::VERSION.to_string()),
    );
    if !ws.protocols.is_empty() {
        add("Sec-WebSocket-Protocol", ws.protocols.join(", "));
    }
    r
}

/// Check the answer to the handshake; true when the socket is open.
pub fn handshake_answered(conn: &ClientConn, status: u16, key: &str) -> bool {
    let me = conn.me();
    let ordinal = conn.ordinal();
    if status != 101 {
        Step::new(StepId::ClientWebsocketHandshake, Direction::Up, Kind::Error)
            .instance(me)
            .ordinal(ordinal)
            .summary(format!(
                "the answer is {status}, not 101 Switching Protocols: no websocket. A browser \
                 fires `error`, then `close` with code 1006"
            ))
            .failure(Failure::Invalid)
            .emit();
        return false;
    }
    let expected = handshake::accept(key);
    let got = conn.last_header("sec-websocket-accept");
    let ok = got.as_deref() == Some(expected.accept.as_str());
    Step::new(
        StepId::ClientWebsocketHandshake,
        Direction::Up,
        if ok { Kind::Step } else { Kind::Error },
    )
    .instance(me)
    .ordinal(ordinal)
    .summary(if ok {
        format!(
            "101 Switching Protocols, and Sec-WebSocket-Accept {} is base64(SHA-1(its key + GUID)): \
             the socket is open",
            expected.accept
        )
    } else {
        format!(
            "Sec-WebSocket-Accept is {:?}, not {}: the client fails the connection (RFC 6455 §4.1)",
            got.unwrap_or_default(),
            expected.accept
        )
    })
    .data(ws_accept(&expected))
    .emit();
    ok
}

/// Play the script on an open socket, until it is closed.
pub async fn play(
    conn: &mut ClientConn,
    script: &WebsocketScript,
    start: Instant,
    seed: u64,
) -> &'static str {
    let me = Me {
        who: conn.me(),
        ordinal: conn.ordinal(),
    };
    let conn_id = conn.id;
    let Some(sock) = conn.conn_mut() else {
        return "the connection is gone";
    };
    let mut masks = 0u64;
    let mut next_mask = move || {
        masks += 1;
        bytes_from::<4>(seed, conn_id, 0x6d61_736b ^ masks)
    };
    let sends: Vec<&WsSend> = script.send.iter().map(|s| s.get_ref()).collect();
    let ends_itself = sends.last().is_some_and(|s| s.close.is_some() || s.drop);
    let mut i = 0;
    // When we sent our close frame, if we have.
    let mut closed_at: Option<Instant> = None;
    let mut last_at = Instant::now();
    loop {
        let due = match sends.get(i) {
            Some(s) => s.at.as_ref().map_or(last_at, |t| start + t.get_ref().0),
            None if closed_at.is_some() => closed_at.map_or(last_at, |t| t + CLOSE_PATIENCE),
            None if ends_itself => last_at + CLOSE_PATIENCE,
            None => last_at + LINGER,
        };
        tokio::select! {
            biased;
            read = frame::read(&mut *sock, Role::Client, MAX_FRAME) => {
                let f = match read {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        Step::new(StepId::ClientWebsocketReceive, Direction::Up, Kind::Error)
                            .instance(me.who.clone())
                            .ordinal(me.ordinal)
                            .summary(if closed_at.is_some() {
                                "the server closed the connection after the close handshake".to_string()
                            } else {
                                format!("the connection closed with no close frame: the page's `close` event says {}", CloseCode::ABNORMAL)
                            })
                            .failure(Failure::Closed)
                            .emit();
                        return "the websocket's connection closed";
                    }
                    Err(e) => {
                        Step::new(StepId::ClientWebsocketReceive, Direction::Up, Kind::Error)
                            .instance(me.who.clone())
                            .ordinal(me.ordinal)
                            .summary(format!("{e}: the client fails the connection"))
                            .failure(Failure::Invalid)
                            .emit();
                        let _ = sock.shutdown().await;
                        return "the server broke the websocket protocol";
                    }
                };
                record(&me, &f, Direction::Up, "receives");
                match f.opcode {
                    Opcode::Ping => {
                        let pong = Frame::new(Opcode::Pong, f.payload.clone()).masked(next_mask());
                        record(&me, &pong, Direction::Down, "answers the ping: sends");
                        let _ = sock.write_all(&pong.encode()).await;
                    }
                    Opcode::Close => {
                        if closed_at.is_none() {
                            let code = close::parse_payload(&f.payload).ok().and_then(|c| c.code);
                            let echo = Frame::new(Opcode::Close, code.map(|c| close::payload(c, "")).unwrap_or_default()).masked(next_mask());
                            record(&me, &echo, Direction::Down, "the server closes: answers with its own close frame, sends");
                            let _ = sock.write_all(&echo.encode()).await;
                        }
                        // The server closes the TCP connection first (§7.1.1).
                        let _ = tokio::time::timeout(CLOSE_PATIENCE, sock.wait_for_data()).await;
                        return "the websocket closed";
                    }
                    _ => {}
                }
            }
            () = tokio::time::sleep_until(due) => {
                let Some(s) = sends.get(i) else {
                    if closed_at.is_some() || ends_itself {
                        let _ = sock.shutdown().await;
                        return "the close was not answered in time";
                    }
                    let f = Frame::new(Opcode::Close, close::payload(CloseCode::NORMAL, "")).masked(next_mask());
                    record(&me, &f, Direction::Down, "its script is over: closes with 1000, sends");
                    let _ = sock.write_all(&f.encode()).await;
                    closed_at = Some(Instant::now());
                    continue;
                };
                i += 1;
                last_at = Instant::now();
                if closed_at.is_some() {
                    continue;
                }
                if s.drop {
                    Step::new(StepId::ClientWebsocketSend, Direction::Down, Kind::Step)
                        .instance(me.who.clone())
                        .ordinal(me.ordinal)
                        .summary("drops the TCP connection with no close frame (a tab closed, a network gone)")
                        .emit();
                    let _ = sock.shutdown().await;
                    return "the client dropped the websocket";
                }
                for f in frames_of(s, &mut next_mask) {
                    if f.opcode == Opcode::Close {
                        closed_at = Some(Instant::now());
                    }
                    record(&me, &f, Direction::Down, "sends");
                    if sock.write_all(&f.encode()).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// The frames one script entry sends.
fn frames_of(s: &WsSend, mask: &mut impl FnMut() -> [u8; 4]) -> Vec<Frame> {
    let mut masker = || (!s.unmasked).then(&mut *mask);
    let pieces = s.fragments.as_ref().map_or(1, |f| *f.get_ref());
    let (opcode, payload) = if let Some(t) = &s.text {
        (Opcode::Text, t.as_bytes().to_vec())
    } else if let Some(n) = &s.text_size {
        let n = usize::try_from(n.get_ref().0).unwrap_or(0);
        (Opcode::Text, vec![b'x'; n])
    } else if let Some(b) = &s.binary {
        (Opcode::Binary, b.as_bytes().to_vec())
    } else if let Some(p) = &s.ping {
        (Opcode::Ping, p.as_bytes().to_vec())
    } else if let Some(p) = &s.pong {
        (Opcode::Pong, p.as_bytes().to_vec())
    } else if let Some(code) = &s.close {
        (
            Opcode::Close,
            close::payload(CloseCode(*code.get_ref()), &s.reason),
        )
    } else {
        return Vec::new();
    };
    if opcode.is_control() {
        let f = Frame::new(opcode, payload);
        return vec![match masker() {
            Some(k) => f.masked(k),
            None => f,
        }];
    }
    fragments(opcode, &payload, pieces, masker)
}

/// Who acts, and the handshake request the socket's frames belong to.
struct Me {
    who: crate::trace::Instance,
    ordinal: u64,
}

fn record(me: &Me, f: &Frame, direction: Direction, verb: &str) {
    let step = if direction == Direction::Down {
        StepId::ClientWebsocketSend
    } else {
        StepId::ClientWebsocketReceive
    };
    Step::new(step, direction, Kind::Hop)
        .instance(me.who.clone())
        .ordinal(me.ordinal)
        .summary(format!(
            "{verb} a {} frame (FIN {}, {}, {} bytes{})",
            f.opcode.name(),
            u8::from(f.fin),
            if f.mask.is_some() {
                "masked"
            } else {
                "unmasked"
            },
            f.payload.len(),
            text_preview(f)
        ))
        .data(ws_frame(f))
        .emit();
}

/// `: "hello"` for a short whole text frame, so the transcript reads.
fn text_preview(f: &Frame) -> String {
    match (f.opcode, std::str::from_utf8(&f.payload)) {
        (Opcode::Text, Ok(t)) if f.fin && t.chars().count() <= 80 => format!(": {t:?}"),
        (Opcode::Close, _) => match close::parse_payload(&f.payload) {
            Ok(c) => c
                .code
                .map(|c| format!(": {c}"))
                .unwrap_or_else(|| ": no code".into()),
            Err(_) => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_masks_come_from_the_seed_and_differ_by_connection() {
        assert_eq!(key_for(1, 1), key_for(1, 1));
        assert_ne!(key_for(1, 1), key_for(1, 2));
        assert_ne!(key_for(1, 1), key_for(2, 1));
        assert_eq!(key_for(7, 3).len(), 24);
    }
}
