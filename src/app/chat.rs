//! The chat room: the app's websocket endpoint, and the page that opens
//! one.
//!
//! ```text
//! GET /chat            (HTTP)       ─▶ chat_page: HTML + JavaScript
//!                                      (`?name=` to join as, `?say=` a
//!                                      first line to send once open)
//! GET /chat?name=ada   (websocket)  ─▶ chat: join ─▶ speak ─▶ leave
//!        every message is broadcast to everyone in the room, sender too
//! GET /chat?name=ada&room=kitchen    ─▶ another room (default `lobby`)
//! ```
//!
//! Each member is one open socket and one outbox: a channel of
//! [`OUTBOX`] messages that the member's writer drains into
//! `websocket.send`, while its reader takes what the client says. A
//! broadcast waits for room in every outbox, in turn (as a Starlette
//! endpoint's `for ws in room: await ws.send_text(…)` waits on each
//! socket): a busy room slows its speakers instead of dropping lines, and
//! each speaker's lines reach every member in the order they were said.
//! A member whose outbox stays full for [`SLOW_MEMBER`] (a client that
//! stopped reading) would hold everyone up, so the broadcast gives up on
//! it: it is taken out of the room, the `handler.chat` step says so, and
//! once what it has queued is sent its socket closes with 1008 (policy
//! violation). No line is lost without a step and a close code saying so.
//! The room holds at most [`MAX_MEMBERS`]; past that a join is refused, as
//! is a name already in the room (close before accept: the client gets
//! 403).
//! Messages are JSON objects, `{"type": "join" | "message" | "leave", …}`,
//! each with the room's presence list.
//!
//! The room is the app's state, shared by every socket of one app server
//! (it lives in the process, like a Python dict; a real deployment with
//! several processes needs a broker such as Redis to share it).
//!
//! Book: "WebSockets" (book/src/websockets.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::SendTimeoutError;

use crate::framework::websocket::WebsocketEndpoint;
use crate::framework::{Request, Response};
use crate::gateway::BoxFuture;
use crate::gateway::asgi::{Message, Receive, Send, WebsocketScope, WsData};
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// Messages waiting for one member; a broadcast that finds the outbox
/// full waits (up to [`SLOW_MEMBER`]) for the member's writer to make
/// room.
pub const OUTBOX: usize = 32;

/// How long a broadcast waits for room in one member's outbox before it
/// takes the member out of the room (its socket then closes with 1008).
pub const SLOW_MEMBER: Duration = Duration::from_secs(5);

/// The close code and reason for a member taken out for not reading.
const TOO_SLOW: (u16, &str) = (1008, "not reading: missed messages");

/// Members in one room; one more is refused.
pub const MAX_MEMBERS: usize = 10_000;

/// Rooms at once; a join that would open one more is refused. A room
/// goes when its last member leaves.
pub const MAX_ROOMS: usize = 10_000;

/// The room a join without `?room=` goes to.
pub const LOBBY: &str = "lobby";

/// The longest chat line, in characters: a longer one closes the socket
/// with 1008 (policy violation), the room's own rule.
pub const MAX_TEXT: usize = 500;

/// The subprotocol the room speaks, chosen when the client offers it.
pub const SUBPROTOCOL: &str = "chat";

struct Member {
    /// Unique for the app's life: a name can be taken again after its
    /// member left (or was taken out), and leaving must not remove the
    /// newcomer.
    id: u64,
    name: String,
    outbox: mpsc::Sender<String>,
}

/// One chat room.
#[derive(Default)]
pub struct Room {
    members: Mutex<Vec<Member>>,
}

impl Room {
    fn members(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn present(members: &[Member]) -> Vec<String> {
        members.iter().map(|m| m.name.clone()).collect()
    }

    /// Put `event` in every outbox, waiting for room in each; a member
    /// whose outbox stays full for [`SLOW_MEMBER`] is taken out of the
    /// room. Records who got it and who was taken out.
    async fn broadcast(&self, who: &str, event: serde_json::Value, what: &str) {
        // The outboxes as they are now; the lock is not held while waiting.
        let outboxes: Vec<(u64, String, mpsc::Sender<String>)> = self
            .members()
            .iter()
            .map(|m| (m.id, m.name.clone(), m.outbox.clone()))
            .collect();
        let text = event.to_string();
        let mut to = Vec::new();
        let mut taken_out = Vec::new();
        for (id, name, outbox) in outboxes {
            match outbox.send_timeout(text.clone(), SLOW_MEMBER).await {
                Ok(()) => to.push(name),
                Err(SendTimeoutError::Timeout(_)) => {
                    // Dropping the room's sender ends the member's inbox
                    // once it has drained: its writer then closes.
                    self.members().retain(|m| m.id != id);
                    taken_out.push(name);
                }
                // It left while the broadcast went round.
                Err(SendTimeoutError::Closed(_)) => {}
            }
        }
        let present = Self::present(&self.members());
        let mut entries = vec![
            ("event".to_string(), what.to_string()),
            ("member".to_string(), who.to_string()),
            ("broadcast to".to_string(), to.join(", ")),
            ("present".to_string(), present.join(", ")),
        ];
        if !taken_out.is_empty() {
            entries.push((
                format!(
                    "taken out (outbox of {OUTBOX} full for {} s; closes with {})",
                    SLOW_MEMBER.as_secs(),
                    TOO_SLOW.0
                ),
                taken_out.join(", "),
            ));
        }
        Step::new(StepId::HandlerChat, Direction::Within, Kind::Step)
            .summary(format!(
                "{who} {what}: broadcast to {} member{}{}",
                to.len(),
                if to.len() == 1 { "" } else { "s" },
                if taken_out.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} taken out of the room: not reading for {} s)",
                        taken_out.len(),
                        SLOW_MEMBER.as_secs()
                    )
                }
            ))
            .data(Data::Fields { entries })
            .emit();
    }
}

/// The rooms, as a websocket endpoint.
#[derive(Clone, Default)]
pub struct Chat {
    rooms: Arc<Mutex<std::collections::BTreeMap<String, Arc<Room>>>>,
    /// The next member's id.
    joined: Arc<AtomicU64>,
}

impl Chat {
    fn rooms(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Arc<Room>>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The room called `name`, opened if there is none yet (and there is
    /// room for one more).
    fn room(&self, name: &str) -> Option<Arc<Room>> {
        let mut rooms = self.rooms();
        if let Some(r) = rooms.get(name) {
            return Some(r.clone());
        }
        if rooms.len() >= MAX_ROOMS {
            return None;
        }
        let room = Arc::new(Room::default());
        rooms.insert(name.to_string(), room.clone());
        Some(room)
    }

    /// Close the room if its last member has left.
    fn tidy(&self, name: &str) {
        let mut rooms = self.rooms();
        if rooms.get(name).is_some_and(|r| r.members().is_empty()) {
            rooms.remove(name);
        }
    }
}

/// `name` from the query string: 1 to 20 letters, digits, `-` or `_`.
fn member_name(query: &[u8]) -> Option<String> {
    query_value(query, "name")
}

/// A query parameter that must be 1 to 20 letters, digits, `-` or `_`.
fn query_value(query: &[u8], key: &str) -> Option<String> {
    let query = std::str::from_utf8(query).ok()?;
    let name = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)?
        .1;
    let ok = (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| name.to_string())
}

impl WebsocketEndpoint for Chat {
    fn serve<'a>(
        &'a self,
        scope: WebsocketScope,
        mut receive: Receive,
        send: Send,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if receive.recv_websocket().await != Message::WebsocketConnect {
                return Ok(());
            }
            let refuse = |why: String| {
                Step::new(StepId::HandlerChat, Direction::Up, Kind::Decision)
                    .summary(format!(
                        "{why}: the room closes before accepting (the server answers 403)"
                    ))
                    .emit();
            };
            let Some(name) = member_name(&scope.http.query_string) else {
                refuse("no valid ?name= (1 to 20 letters, digits, - or _)".into());
                return close(&send, 1008, "a name is needed").await;
            };
            let room_name = if scope.http.query_string.windows(5).any(|w| w == b"room=") {
                query_value(&scope.http.query_string, "room")
            } else {
                Some(LOBBY.to_string())
            };
            let Some(room_name) = room_name else {
                refuse("the ?room= is not 1 to 20 letters, digits, - or _".into());
                return close(&send, 1008, "bad room name").await;
            };
            let Some(room) = self.room(&room_name) else {
                refuse(format!("{MAX_ROOMS} rooms are open already"));
                return close(&send, 1013, "too many rooms").await;
            };
            let (outbox, mut inbox) = mpsc::channel(OUTBOX);
            let id = self.joined.fetch_add(1, Ordering::Relaxed);
            // Decide under the lock, await after it is released.
            let refused = {
                let mut members = room.members();
                if members.iter().any(|m| m.name == name) {
                    Some((format!("{name} is already in the room"), 1008, "name taken"))
                } else if members.len() >= MAX_MEMBERS {
                    Some((
                        format!("the room is full ({MAX_MEMBERS} members)"),
                        1013,
                        "room full",
                    ))
                } else {
                    members.push(Member {
                        id,
                        name: name.clone(),
                        outbox,
                    });
                    None
                }
            };
            // Like a `finally:`, so an endpoint unwound by an exception (or
            // a dropped task) leaves no ghost in the room.
            let _membership = Membership {
                chat: self,
                room: room.clone(),
                room_name: room_name.clone(),
                id,
            };
            if let Some((why, code, reason)) = refused {
                self.tidy(&room_name);
                refuse(why);
                return close(&send, code, reason).await;
            }
            let subprotocol = scope
                .subprotocols
                .iter()
                .find(|p| *p == SUBPROTOCOL)
                .cloned();
            send.send(Message::WebsocketAccept { subprotocol }).await?;
            let present = Room::present(&room.members());
            let result = tokio::select! {
                // Polled in a fixed order: a lesson's trace is the same on
                // every run.
                biased;
                // The writer must drain the inbox while the join goes round
                // (the room is waiting for it, too).
                r = write_out(&name, &mut inbox, &send) => r,
                r = async {
                    room.broadcast(
                        &name,
                        json!({"type": "join", "name": name, "present": present}),
                        "joined",
                    )
                    .await;
                    listen(&room, &name, &mut receive, &send).await
                } => r,
            };
            let present = {
                let mut members = room.members();
                members.retain(|m| m.id != id);
                Room::present(&members)
            };
            // Nothing more to this member: its inbox goes before the
            // broadcast, so nobody waits on it.
            drop(inbox);
            room.broadcast(
                &name,
                json!({"type": "leave", "name": name, "present": present}),
                "left",
            )
            .await;
            self.tidy(&room_name);
            result
        })
    }
}

/// A member's place in a room, given up when dropped.
struct Membership<'a> {
    chat: &'a Chat,
    room: Arc<Room>,
    room_name: String,
    id: u64,
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        self.room.members().retain(|m| m.id != self.id);
        self.chat.tidy(&self.room_name);
    }
}

/// One member's reader: what it says goes to the room, until it
/// disconnects (or says too much).
async fn listen(room: &Room, name: &str, receive: &mut Receive, send: &Send) -> Result<(), String> {
    loop {
        match receive.recv_websocket().await {
            Message::WebsocketReceive(WsData::Text(text)) => {
                if text.chars().count() > MAX_TEXT {
                    Step::new(StepId::HandlerChat, Direction::Up, Kind::Decision)
                        .summary(format!("{name} sent {} characters, over the room's {MAX_TEXT}: closes with 1008 (policy violation)", text.chars().count()))
                        .emit();
                    return close(send, 1008, "message too long").await;
                }
                let present = Room::present(&room.members());
                room.broadcast(
                    name,
                    json!({"type": "message", "from": name, "text": text, "present": present}),
                    "says something",
                )
                .await;
            }
            Message::WebsocketReceive(WsData::Bytes(_)) => {
                return close(send, 1003, "text only").await;
            }
            // websocket.disconnect, or the server is gone.
            _ => return Ok(()),
        }
    }
}

/// One member's writer: what the room says goes to its socket. The
/// inbox ends only when the room has taken the member out (it was not
/// reading): then the socket closes with 1008.
async fn write_out(
    name: &str,
    inbox: &mut mpsc::Receiver<String>,
    send: &Send,
) -> Result<(), String> {
    while let Some(line) = inbox.recv().await {
        send.send(Message::WebsocketSend(WsData::Text(line)))
            .await?;
    }
    Step::new(StepId::HandlerChat, Direction::Up, Kind::Decision)
        .summary(format!(
            "{name} was taken out of the room for not reading: closes with {} (policy violation)",
            TOO_SLOW.0
        ))
        .emit();
    close(send, TOO_SLOW.0, TOO_SLOW.1).await
}

async fn close(send: &Send, code: u16, reason: &str) -> Result<(), String> {
    send.send(Message::WebsocketClose {
        code,
        reason: reason.to_string(),
    })
    .await
}

/// `GET /chat` over HTTP: a page whose script opens the socket.
pub async fn chat_page(_req: Request) -> Response {
    Response::html(200, PAGE.to_string())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>roundtrip chat</title></head>
<body>
<h1>Chat</h1>
<p id="status">connecting…</p>
<ul id="log"></ul>
<form id="say"><input id="text" autocomplete="off" maxlength="500"> <button>Send</button></form>
<script>
const params = new URLSearchParams(location.search);
const name = params.get("name") || "guest" + Math.floor(Math.random() * 1000);
const say = params.get("say");
const ws = new WebSocket(`ws://${location.host}/chat?name=${encodeURIComponent(name)}`, ["chat"]);
const log = document.getElementById("log");
const status = document.getElementById("status");
function line(text) { const li = document.createElement("li"); li.textContent = text; log.appendChild(li); }
ws.onopen = () => { status.textContent = `connected as ${name}`; if (say) ws.send(say); };
ws.onclose = (e) => { status.textContent = `closed: ${e.code} ${e.reason}`; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === "message") line(`${m.from}: ${m.text}`);
  else line(`* ${m.name} ${m.type === "join" ? "joined" : "left"} (here: ${m.present.join(", ")})`);
};
document.getElementById("say").onsubmit = (e) => {
  e.preventDefault();
  const t = document.getElementById("text");
  if (t.value) ws.send(t.value);
  t.value = "";
};
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_comes_from_the_query_and_must_be_short_and_plain() {
        assert_eq!(member_name(b"name=ada"), Some("ada".into()));
        assert_eq!(member_name(b"x=1&name=b-2_c"), Some("b-2_c".into()));
        assert_eq!(member_name(b"name="), None);
        assert_eq!(member_name(b"name=%3Cscript%3E"), None);
        assert_eq!(member_name(&[b'n', b'a', b'm', b'e', b'=', 0xff]), None);
        assert_eq!(
            member_name(format!("name={}", "a".repeat(21)).as_bytes()),
            None
        );
    }
}
