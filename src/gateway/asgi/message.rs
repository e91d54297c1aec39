//! ASGI messages and the `receive` / `send` callables.
//!
//! Each message is recorded in the trace as it crosses, by the callable
//! itself: the app server's own view of what went in and out.

use serde_json::Value;
use tokio::sync::mpsc;

use super::scope::{bytes_value, header_pair};
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Kind, StepId};

/// The HTTP messages of the ASGI spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// receive: a piece of the request body.
    HttpRequest { body: Vec<u8>, more_body: bool },
    /// receive: the client is gone, or the response is complete.
    HttpDisconnect,
    /// send: status and headers (lower-case byte pairs).
    HttpResponseStart {
        status: u16,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// send: a piece of the response body.
    HttpResponseBody { body: Vec<u8>, more_body: bool },
    /// receive (lifespan): the server is starting; no request is served
    /// before the app answers `lifespan.startup.complete`.
    LifespanStartup,
    /// send (lifespan): the app is ready.
    LifespanStartupComplete,
    /// receive (lifespan): the server has stopped accepting and closed its
    /// connections; the app may clean up.
    LifespanShutdown,
    /// send (lifespan): the app has cleaned up.
    LifespanShutdownComplete,
    /// send (lifespan): the app could not start; uvicorn logs `message`
    /// and exits without serving.
    LifespanStartupFailed { message: String },
    /// send (lifespan): the app's cleanup failed; uvicorn logs `message`
    /// and exits anyway.
    LifespanShutdownFailed { message: String },
    /// receive (websocket): a client asks to connect; the handshake waits
    /// for the app's `accept` or `close`.
    WebsocketConnect,
    /// send (websocket): accept the connection (the server answers 101),
    /// with the subprotocol chosen from the client's list.
    WebsocketAccept { subprotocol: Option<String> },
    /// receive (websocket): a whole message from the client (the server
    /// has put its fragments together and answered its pings).
    WebsocketReceive(WsData),
    /// send (websocket): a message to the client.
    WebsocketSend(WsData),
    /// receive (websocket): the connection is gone; `code` is the peer's
    /// close code (1005 if its close frame had none, 1006 if it sent no
    /// close frame at all).
    WebsocketDisconnect { code: u16, reason: String },
    /// send (websocket): close the connection; before `accept`, the
    /// server refuses the handshake with 403.
    WebsocketClose { code: u16, reason: String },
}

/// A websocket message's payload: exactly one of `text` and `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsData {
    Text(String),
    Bytes(Vec<u8>),
}

impl Message {
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::HttpRequest { .. } => "http.request",
            Message::HttpDisconnect => "http.disconnect",
            Message::HttpResponseStart { .. } => "http.response.start",
            Message::HttpResponseBody { .. } => "http.response.body",
            Message::LifespanStartup => "lifespan.startup",
            Message::LifespanStartupComplete => "lifespan.startup.complete",
            Message::LifespanShutdown => "lifespan.shutdown",
            Message::LifespanShutdownComplete => "lifespan.shutdown.complete",
            Message::LifespanStartupFailed { .. } => "lifespan.startup.failed",
            Message::LifespanShutdownFailed { .. } => "lifespan.shutdown.failed",
            Message::WebsocketConnect => "websocket.connect",
            Message::WebsocketAccept { .. } => "websocket.accept",
            Message::WebsocketReceive(_) => "websocket.receive",
            Message::WebsocketSend(_) => "websocket.send",
            Message::WebsocketDisconnect { .. } => "websocket.disconnect",
            Message::WebsocketClose { .. } => "websocket.close",
        }
    }

    /// The message as the dict an ASGI app would see. The values are built
    /// directly (not through `json!`): this runs for every message `serve`
    /// records.
    pub fn entries(&self) -> Vec<(String, Value)> {
        let mut e = Vec::with_capacity(3);
        e.push(("type".to_string(), Value::String(self.type_name().into())));
        match self {
            Message::HttpRequest { body, more_body }
            | Message::HttpResponseBody { body, more_body } => {
                e.push(("body".into(), bytes_value(body)));
                e.push(("more_body".into(), Value::Bool(*more_body)));
            }
            Message::HttpResponseStart { status, headers } => {
                e.push(("status".into(), Value::from(*status)));
                let h: Vec<Value> = headers.iter().map(|(n, v)| header_pair(n, v)).collect();
                e.push(("headers".into(), Value::Array(h)));
            }
            Message::LifespanStartupFailed { message }
            | Message::LifespanShutdownFailed { message } => {
                e.push(("message".into(), Value::String(message.clone())));
            }
            Message::WebsocketAccept { subprotocol } => {
                let v = subprotocol.clone().map_or(Value::Null, Value::String);
                e.push(("subprotocol".into(), v));
                e.push(("headers".into(), Value::Array(Vec::new())));
            }
            Message::WebsocketReceive(data) | Message::WebsocketSend(data) => match data {
                WsData::Text(t) => {
                    e.push(("bytes".into(), Value::Null));
                    e.push(("text".into(), Value::String(t.clone())));
                }
                WsData::Bytes(b) => {
                    e.push(("bytes".into(), bytes_value(b)));
                    e.push(("text".into(), Value::Null));
                }
            },
            Message::WebsocketDisconnect { code, reason }
            | Message::WebsocketClose { code, reason } => {
                e.push(("code".into(), Value::from(*code)));
                e.push(("reason".into(), Value::String(reason.clone())));
            }
            Message::WebsocketConnect
            | Message::HttpDisconnect
            | Message::LifespanStartup
            | Message::LifespanStartupComplete
            | Message::LifespanShutdown
            | Message::LifespanShutdownComplete => {}
        }
        e
    }

    fn record(&self, call: &'static str, direction: Direction) {
        // Nobody recording: skip building the summary and the dict.
        if !Step::enabled() {
            return;
        }
        Step::new(step_id(call), direction, Kind::Hop)
            .summary(self.summary(call))
            .data(Data::AsgiMessage {
                call: call.to_string(),
                message: self.entries(),
            })
            .emit();
    }
}

impl Message {
    /// `receive() → http.request`: the summary of a crossing, spelled out
    /// for the calls and messages there are (no formatting per message).
    fn summary(&self, call: &str) -> &'static str {
        let receive = call == "receive";
        match self {
            Message::HttpRequest { .. } if receive => "receive() → http.request",
            Message::HttpDisconnect if receive => "receive() → http.disconnect",
            Message::HttpResponseStart { .. } if receive => "receive() → http.response.start",
            Message::HttpResponseBody { .. } if receive => "receive() → http.response.body",
            Message::HttpRequest { .. } => "send() → http.request",
            Message::HttpDisconnect => "send() → http.disconnect",
            Message::HttpResponseStart { .. } => "send() → http.response.start",
            Message::HttpResponseBody { .. } => "send() → http.response.body",
            Message::LifespanStartup if receive => "receive() → lifespan.startup",
            Message::LifespanShutdown if receive => "receive() → lifespan.shutdown",
            Message::LifespanStartupComplete if receive => "receive() → lifespan.startup.complete",
            Message::LifespanShutdownComplete if receive => {
                "receive() → lifespan.shutdown.complete"
            }
            Message::LifespanStartup => "send() → lifespan.startup",
            Message::LifespanShutdown => "send() → lifespan.shutdown",
            Message::LifespanStartupComplete => "send() → lifespan.startup.complete",
            Message::LifespanShutdownComplete => "send() → lifespan.shutdown.complete",
            Message::LifespanStartupFailed { .. } if receive => {
                "receive() → lifespan.startup.failed"
            }
            Message::LifespanShutdownFailed { .. } if receive => {
                "receive() → lifespan.shutdown.failed"
            }
            Message::LifespanStartupFailed { .. } => "send() → lifespan.startup.failed",
            Message::LifespanShutdownFailed { .. } => "send() → lifespan.shutdown.failed",
            Message::WebsocketConnect if receive => "receive() → websocket.connect",
            Message::WebsocketAccept { .. } if receive => "receive() → websocket.accept",
            Message::WebsocketReceive(_) if receive => "receive() → websocket.receive",
            Message::WebsocketSend(_) if receive => "receive() → websocket.send",
            Message::WebsocketDisconnect { .. } if receive => "receive() → websocket.disconnect",
            Message::WebsocketClose { .. } if receive => "receive() → websocket.close",
            Message::WebsocketConnect => "send() → websocket.connect",
            Message::WebsocketAccept { .. } => "send() → websocket.accept",
            Message::WebsocketReceive(_) => "send() → websocket.receive",
            Message::WebsocketSend(_) => "send() → websocket.send",
            Message::WebsocketDisconnect { .. } => "send() → websocket.disconnect",
            Message::WebsocketClose { .. } => "send() → websocket.close",
        }
    }
}

fn step_id(call: &str) -> StepId {
    if call == "receive" {
        StepId::AppServerAsgiReceive
    } else {
        StepId::AppServerAsgiSend
    }
}

/// The `receive` awaitable handed to the app.
pub struct Receive(pub(crate) mpsc::Receiver<Message>);

impl Receive {
    /// The next message; `http.disconnect` once the server has nothing more.
    pub async fn recv(&mut self) -> Message {
        let m = self.0.recv().await.unwrap_or(Message::HttpDisconnect);
        m.record("receive", Direction::Down);
        m
    }

    /// The next message of a websocket scope; `websocket.disconnect` with
    /// 1006 once the server has nothing more.
    pub async fn recv_websocket(&mut self) -> Message {
        let m = self.0.recv().await.unwrap_or(Message::WebsocketDisconnect {
            code: 1006,
            reason: String::new(),
        });
        m.record("receive", Direction::Down);
        m
    }
}

/// The `send` callable handed to the app.
pub struct Send(pub(crate) mpsc::Sender<Message>);

impl Send {
    /// Send a message to the server. Fails (like an `OSError`) when the
    /// connection is gone.
    pub async fn send(&self, m: Message) -> Result<(), String> {
        m.record("send", Direction::Up);
        self.0
            .send(m)
            .await
            .map_err(|_| "the connection is closed".to_string())
    }
}

/// A connected receive/send pair for tests and for the server: the server
/// keeps the other ends.
pub fn channel() -> (
    mpsc::Sender<Message>,
    Receive,
    Send,
    mpsc::Receiver<Message>,
) {
    let (req_tx, req_rx) = mpsc::channel(8);
    let (res_tx, res_rx) = mpsc::channel(8);
    (req_tx, Receive(req_rx), Send(res_tx), res_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_the_call_and_the_message() {
        let start = Message::HttpResponseStart {
            status: 200,
            headers: Vec::new(),
        };
        for (m, name) in [
            (
                Message::HttpRequest {
                    body: Vec::new(),
                    more_body: false,
                },
                "http.request",
            ),
            (Message::HttpDisconnect, "http.disconnect"),
            (start, "http.response.start"),
            (
                Message::HttpResponseBody {
                    body: Vec::new(),
                    more_body: false,
                },
                "http.response.body",
            ),
        ] {
            for call in ["receive", "send"] {
                assert_eq!(m.summary(call), format!("{call}() → {name}"));
            }
        }
    }

    #[test]
    fn entries_are_the_message_dict() {
        let m = Message::HttpResponseStart {
            status: 201,
            headers: vec![(b"content-type".to_vec(), b"application/json".to_vec())],
        };
        let got = serde_json::to_string(&m.entries()).unwrap();
        assert_eq!(
            got,
            r#"[["type","http.response.start"],["status",201],["headers",[["b\"content-type\"","b\"application/json\""]]]]"#
        );
        let body = Message::HttpRequest {
            body: b"{\"a\":1}".to_vec(),
            more_body: true,
        };
        assert_eq!(
            serde_json::to_string(&body.entries()).unwrap(),
            r#"[["type","http.request"],["body","b\"{\\\"a\\\":1}\""],["more_body",true]]"#
        );
    }
}
