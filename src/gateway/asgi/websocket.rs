//! A websocket on the event loop: uvicorn's side of RFC 6455, and the
//! ASGI WebSocket messages it trades with the app.
//!
//! A handshake that breaks RFC 6455 §4.2.1 gets what uvicorn with the
//! Python `websockets` library answers: 400 (a version other than 13
//! too, where §4.4 suggests 426), 405 for a method other than GET, 505
//! for HTTP/1.0, with the library's sentence as the body. A close frame
//! the server sends when it fails the connection carries the library's
//! reason ("incorrect masking"), and a client's close frame is echoed
//! with its code and reason.
//!
//! ```text
//! GET + Upgrade ─▶ handshake checked ─▶ receive() → websocket.connect
//!   app: send(websocket.accept) ─▶ 101 Switching Protocols (accept key)
//!   app: send(websocket.close)  ─▶ 403 Forbidden, no socket
//! then, until one side closes:
//!   frame from the client ─▶ (fragments joined, pings answered here)
//!                         ─▶ receive() → websocket.receive {text | bytes}
//!   send(websocket.send)  ─▶ one unmasked frame to the client
//!   close frame either way ─▶ close frame back ─▶ websocket.disconnect {code}
//! ```
//!
//! One app call lives as long as the socket (ASGI: one scope per
//! connection), on the loop's own task: no worker is held while the
//! socket is quiet, which is why an async server can keep thousands open.
//!
//! The server keeps the protocol to itself, as uvicorn's websockets
//! implementation does: it answers pings with pongs, joins fragments,
//! refuses an unmasked client frame (1002) and a message over
//! `ws_max_size` (1009), closes with 1000 when the app returns without
//! closing, and tells the app 1006 when the connection dropped with no
//! close frame. When the app raises after accepting, uvicorn logs
//! "Exception in ASGI application" and closes the transport: no close
//! frame, so the client sees 1006, not the 1011 ("internal error") that
//! RFC 6455 §7.4.1 defines for it (uvicorn's `run_asgi`, in each of its
//! websocket implementations, and its test `test_duplicate_handshake`). Messages to the
//! app wait in a channel of 8; while it is full the server stops reading
//! the socket, so a slow app slows its client instead of filling memory.
//!
//! Book: "WebSockets" (book/src/websockets.md).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use super::AsgiApp;
use super::event_loop::{forwarded_client, scope_for};
use super::message::{Message, WsData, channel};
use super::scope::WebsocketScope;
use crate::gateway::config::AppServerConfig;
use crate::gateway::front::{Front, Incoming};
use crate::http::ws::frame::{self, Frame, FrameError, Opcode, Role};
use crate::http::ws::message::{AssembleError, Assembler, WsMessage};
use crate::http::ws::{CloseCode, close, handshake};
use crate::http::{HttpConn, ResponseHead, write};
use crate::net::Stream;
use crate::server::show::{ws_accept, ws_frame};
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Failure, Kind, StepId, Verdict};

/// Serve one websocket handshake request and, if the app accepts, the
/// socket until it closes. Returns why the connection closed.
pub async fn serve(
    conn: &mut HttpConn<Stream>,
    incoming: Incoming,
    peer: SocketAddr,
    app: &dyn AsgiApp,
    front: &Front,
    config: &AppServerConfig,
) -> &'static str {
    let Incoming {
        head, received_at, ..
    } = incoming;
    let upgrade =
        match handshake::check(&head) {
            Ok(u) => u,
            Err(e) => {
                let status = e.status();
                Step::new(
                    StepId::AppServerWebsocketHandshake,
                    Direction::Up,
                    Kind::Error,
                )
                .summary(format!(
                    "{e}: answers {status}, and the app is never called"
                ))
                .decision(Decision::new(Verdict::Refuse { status }).rule(
                    "RFC 6455 §4.2.1: a server must refuse a handshake that breaks the rules",
                ))
                .failure(Failure::Invalid)
                .answer(status)
                .emit();
                // As `websockets` writes a refusal (`ServerProtocol.reject`).
                let mut r = ResponseHead::new(status);
                r.headers.push("Connection", "close");
                r.headers.push("Content-Type", "text/plain; charset=utf-8");
                let mut body = format!(
                    "Failed to open a WebSocket connection: {}.\n",
                    e.websockets_text()
                );
                match status {
                    405 => r.headers.push("Allow", "GET"),
                    426 => {
                        r.headers.push("Upgrade", "websocket");
                        body.push_str(
                            "\nYou cannot access a WebSocket server directly with a browser. \
                             You need a WebSocket client.\n",
                        );
                    }
                    _ => {}
                }
                let _ = front
                    .send_response(conn, &head, r, body.as_bytes(), false, received_at)
                    .await;
                return "the websocket handshake was refused";
            }
        };
    let forwarded = forwarded_client(&head, peer, config);
    let scope = WebsocketScope {
        http: scope_for(&head, peer, front.local, forwarded.as_deref()),
        subprotocols: upgrade.protocols.clone(),
    };
    Step::new(StepId::AppServerAsgiCall, Direction::Down, Kind::Hop)
        .summary(format!(
            "a websocket handshake for {}: the event loop starts a task, await app(scope, \
             receive, send), with a websocket scope that lives as long as the socket",
            scope.http.path
        ))
        .data(Data::Scope {
            entries: scope.entries(),
        })
        .emit();
    let (to_app, receive, send, from_app) = channel();
    let _ = to_app.send(Message::WebsocketConnect).await;
    let (done_tx, done_rx) = oneshot::channel();
    let call = async move {
        let result = app.websocket(scope, receive, send).await;
        let _ = done_tx.send(result);
    };
    let socket = Socket {
        conn,
        to_app,
        from_app,
        done: done_rx,
        max: config.ws_max_size.0,
    };
    let (_, why) = tokio::join!(call, socket.run(&head, &upgrade, front, received_at));
    why
}

/// The server's end of one websocket.
struct Socket<'c> {
    conn: &'c mut HttpConn<Stream>,
    to_app: mpsc::Sender<Message>,
    from_app: mpsc::Receiver<Message>,
    /// The app call's result, once it has returned.
    done: oneshot::Receiver<Result<(), String>>,
    max: u64,
}

/// What the app answered `websocket.connect` with.
enum Answer {
    Accept(Option<String>),
    Close,
    /// It returned or raised first.
    Ended(String),
}

impl Socket<'_> {
    async fn run(
        mut self,
        head: &crate::http::RequestHead,
        upgrade: &handshake::Upgrade,
        front: &Front,
        received_at: tokio::time::Instant,
    ) -> &'static str {
        let answer = match self.from_app.recv().await {
            Some(Message::WebsocketAccept { subprotocol }) => Answer::Accept(subprotocol),
            Some(Message::WebsocketClose { .. }) => Answer::Close,
            Some(other) => Answer::Ended(format!("it sent {} first", other.type_name())),
            None => Answer::Ended(match (&mut self.done).await {
                Ok(Err(e)) => e,
                _ => "it returned".into(),
            }),
        };
        let subprotocol = match answer {
            Answer::Accept(p) => p,
            Answer::Close => {
                Step::new(
                    StepId::AppServerWebsocketHandshake,
                    Direction::Up,
                    Kind::Decision,
                )
                .summary(
                    "the app sent websocket.close before websocket.accept: the server refuses \
                     the handshake with 403, as the ASGI spec says (a browser reports 1006)",
                )
                .decision(
                    Decision::new(Verdict::Refuse { status: 403 })
                        .rule("ASGI WebSocket spec: close before accept → HTTP 403"),
                )
                .answer(403)
                .emit();
                let r = ResponseHead::new(403);
                let _ = front
                    .send_response(self.conn, head, r, b"", false, received_at)
                    .await;
                return "the app refused the websocket";
            }
            Answer::Ended(why) => {
                Step::new(StepId::AppServerAsgiError, Direction::Up, Kind::Error)
                    .summary(format!(
                        "the app answered websocket.connect with neither accept nor close \
                         ({why}): the server answers 500"
                    ))
                    .answer(500)
                    .emit();
                let mut r = ResponseHead::new(500);
                r.headers.push("content-type", "text/plain; charset=utf-8");
                let _ = front
                    .send_response(
                        self.conn,
                        head,
                        r,
                        b"Internal Server Error",
                        false,
                        received_at,
                    )
                    .await;
                return "the app failed the websocket handshake";
            }
        };
        // Only a subprotocol the client offered may be chosen (§4.2.2).
        let subprotocol = subprotocol.filter(|p| upgrade.protocols.contains(p));
        let accept = handshake::accept(&upgrade.key);
        let mut r = ResponseHead::new(101);
        r.headers.push("Upgrade", "websocket");
        r.headers.push("Connection", "Upgrade");
        r.headers.push("Sec-WebSocket-Accept", &accept.accept);
        if let Some(p) = &subprotocol {
            r.headers.push("Sec-WebSocket-Protocol", p);
        }
        r.headers.push("Date", front.clock.http_date());
        r.headers.push("Server", crate::gateway::front::SERVER_NAME);
        let bytes = write::response_head(&r);
        Step::new(
            StepId::AppServerWebsocketHandshake,
            Direction::Within,
            Kind::Decision,
        )
        .summary(format!(
            "the app accepted{}: answers 101 Switching Protocols with Sec-WebSocket-Accept \
             {} = base64(SHA-1(key + GUID)); from here on the connection carries frames",
            subprotocol
                .as_ref()
                .map(|p| format!(" with subprotocol {p}"))
                .unwrap_or_default(),
            accept.accept
        ))
        .answer(101)
        .decision(
            Decision::new(Verdict::Answer { status: 101 })
                .rule("RFC 6455 §4.2.2: accept with 101 and Sec-WebSocket-Accept")
                .input("sec_websocket_key", &accept.key),
        )
        .data(ws_accept(&accept))
        .emit();
        Step::new(StepId::AppServerResponseSend, Direction::Up, Kind::Hop)
            .summary(format!(
                "sends 101 Switching Protocols back to the web server ({} bytes); the \
                 connection stays open, for frames",
                bytes.len()
            ))
            .data(Data::Bytes {
                label: "to the web server".into(),
                bytes: show(&bytes),
            })
            .emit();
        if self.conn.write_all(&bytes).await.is_err() {
            self.tell_app(1006, "").await;
            return "the web server went away during the handshake";
        }
        // asyncio allocates each read's bytes as they arrive, so uvicorn's
        // idle socket holds no read buffer; a 64 KiB one kept for the
        // socket's whole life would be most of its memory. Frames are read
        // 8 KiB at a time.
        self.conn.set_read_chunk(crate::http::conn::READ_CHUNK);
        self.frames().await
    }

    /// After the 101: frames both ways until the socket closes.
    async fn frames(&mut self) -> &'static str {
        let mut assembler = Assembler::new(usize::try_from(self.max).unwrap_or(usize::MAX));
        // The close code we sent, once we have (waiting for the reply).
        let mut closing: Option<u16> = None;
        let mut app_done = false;
        loop {
            // In a fixed order, so a lesson records the same trace on
            // every run: the app's messages first, then the socket.
            tokio::select! {
                biased;
                m = self.from_app.recv(), if !app_done => {
                    if let Some(why) = self.take_app_message(m, &mut closing, &mut app_done).await {
                        return why;
                    }
                }
                read = frame::read(self.conn, Role::Server, self.max) => {
                    let frame = match read {
                        Ok(Some(f)) => f,
                        Ok(None) => {
                            Step::new(StepId::AppServerWebsocketClose, Direction::Within, Kind::Error)
                                .summary("the connection closed with no close frame: the app is told 1006 (abnormal closure)")
                                .failure(Failure::Closed)
                                .emit();
                            self.tell_app(1006, "").await;
                            return "the peer closed the websocket without a close frame";
                        }
                        Err(e) => return self.fail(&e.to_string(), e.close_code(), &e.reason(), matches!(e, FrameError::TooLarge { .. })).await,
                    };
                    record_frame(&frame, Direction::Down, "reads");
                    match assembler.push(frame) {
                        Ok(None) => {}
                        Ok(Some(WsMessage::Text(t))) => {
                            if let Some(why) = self.deliver(Message::WebsocketReceive(WsData::Text(t)), &mut closing, &mut app_done).await {
                                return why;
                            }
                        }
                        Ok(Some(WsMessage::Binary(b))) => {
                            if let Some(why) = self.deliver(Message::WebsocketReceive(WsData::Bytes(b)), &mut closing, &mut app_done).await {
                                return why;
                            }
                        }
                        Ok(Some(WsMessage::Ping(p))) => {
                            let pong = Frame::new(Opcode::Pong, p);
                            record_frame(&pong, Direction::Up, "answers the ping itself (the app never sees pings): writes");
                            let _ = self.conn.write_all(&pong.encode()).await;
                        }
                        Ok(Some(WsMessage::Pong(_))) => {}
                        Ok(Some(WsMessage::Close { code, reason })) => {
                            let told = code.map_or(CloseCode::NO_STATUS.0, |c| c.0);
                            if closing.is_none() {
                                // Echo the code back (§5.5.1), and the reason too, as
                                // `websockets` echoes the frame's payload; then close.
                                let echo = Frame::new(Opcode::Close, code.map(|c| close::payload(c, &reason)).unwrap_or_default());
                                record_frame(&echo, Direction::Up, "answers the close frame with its own, then closes the connection:");
                                let _ = self.conn.write_all(&echo.encode()).await;
                            }
                            Step::new(StepId::AppServerWebsocketClose, Direction::Within, Kind::Step)
                                .summary(format!("the closing handshake is done ({}): the app is told websocket.disconnect with code {told}", if closing.is_some() { "the client answered our close" } else { "the client closed first" }))
                                .emit();
                            self.tell_app(told, &reason).await;
                            let _ = self.conn.shutdown().await;
                            return "the websocket closed";
                        }
                        Err(e) => return self.fail(&e.to_string(), e.close_code(), &e.reason(), matches!(e, AssembleError::TooBig { .. })).await,
                    }
                }
            }
        }
    }

    /// Hand a message to the app, still taking what the app sends while
    /// its channel is full: the app may itself be waiting to send, and
    /// neither side must wait on the other.
    /// `Some(why)` when something the app did meanwhile ended the
    /// connection.
    async fn deliver(
        &mut self,
        m: Message,
        closing: &mut Option<u16>,
        app_done: &mut bool,
    ) -> Option<&'static str> {
        let to_app = self.to_app.clone();
        loop {
            tokio::select! {
                biased;
                permit = to_app.reserve() => {
                    if let Ok(p) = permit {
                        p.send(m);
                    }
                    return None;
                }
                out = self.from_app.recv(), if !*app_done => {
                    if let Some(why) = self.take_app_message(out, closing, app_done).await {
                        return Some(why);
                    }
                }
            }
        }
    }

    /// One message the app sent (`None`: the app call has returned).
    /// `Some(why)` when that ended the connection.
    async fn take_app_message(
        &mut self,
        m: Option<Message>,
        closing: &mut Option<u16>,
        app_done: &mut bool,
    ) -> Option<&'static str> {
        match m {
            Some(Message::WebsocketSend(data)) if closing.is_none() => {
                let f = match data {
                    WsData::Text(t) => Frame::new(Opcode::Text, t.into_bytes()),
                    WsData::Bytes(b) => Frame::new(Opcode::Binary, b),
                };
                record_frame(&f, Direction::Up, "writes");
                let _ = self.conn.write_all(&f.encode()).await;
            }
            Some(Message::WebsocketClose { code, reason }) if closing.is_none() => {
                let f = Frame::new(Opcode::Close, close::payload(CloseCode(code), &reason));
                record_frame(&f, Direction::Up, "the app closes: writes");
                let _ = self.conn.write_all(&f.encode()).await;
                *closing = Some(code);
            }
            // Anything after a close, or out of place, is dropped.
            Some(_) => {}
            None => {
                *app_done = true;
                match (&mut self.done).await {
                    Ok(Err(e)) => {
                        Step::new(StepId::AppServerAsgiError, Direction::Up, Kind::Error)
                            .summary(format!(
                                "the app raised after accepting ({e}): uvicorn logs \"Exception in \
                                 ASGI application\" and closes the TCP connection, with no close \
                                 frame (RFC 6455 would have it send 1011; the client sees 1006)"
                            ))
                            .failure(Failure::Closed)
                            .emit();
                        let _ = self.conn.shutdown().await;
                        return Some(
                            "the app raised; the connection was closed with no close frame",
                        );
                    }
                    _ if closing.is_none() => {
                        let code = CloseCode::NORMAL;
                        let f = Frame::new(Opcode::Close, close::payload(code, ""));
                        record_frame(
                            &f,
                            Direction::Up,
                            &format!(
                                "the app returned without closing: the server closes with {code}: writes"
                            ),
                        );
                        let _ = self.conn.write_all(&f.encode()).await;
                        *closing = Some(code.0);
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// Fail the connection (RFC 6455 §7.1.7): a close frame with `code`,
    /// then the TCP connection closes; the app is told the same code.
    async fn fail(
        &mut self,
        why: &str,
        code: CloseCode,
        reason: &str,
        limit: bool,
    ) -> &'static str {
        let mut step = Step::new(
            StepId::AppServerWebsocketClose,
            Direction::Within,
            Kind::Error,
        )
        .summary(format!(
            "{why}: fails the connection with close code {code}"
        ))
        .decision(
            Decision::new(Verdict::Close)
                .rule("RFC 6455 §7.1.7: fail the websocket connection with a close frame")
                .input("close_code", code.0),
        )
        .failure(if limit {
            Failure::TooLarge
        } else {
            Failure::Invalid
        });
        if limit {
            step = step.knob("ws_max_size", self.max);
        }
        step.emit();
        let f = Frame::new(Opcode::Close, close::payload(code, reason));
        record_frame(&f, Direction::Up, "writes");
        let _ = self.conn.write_all(&f.encode()).await;
        let _ = self.conn.shutdown().await;
        self.tell_app(code.0, reason).await;
        "the websocket was failed"
    }

    /// `websocket.disconnect` to the app (unless it has already returned).
    async fn tell_app(&mut self, code: u16, reason: &str) {
        let _ = self
            .to_app
            .send(Message::WebsocketDisconnect {
                code,
                reason: reason.to_string(),
            })
            .await;
    }
}

/// Record one frame crossing the app server's socket.
fn record_frame(f: &Frame, direction: Direction, verb: &str) {
    if !Step::enabled() {
        return;
    }
    Step::new(StepId::AppServerWebsocketFrame, direction, Kind::Hop)
        .summary(format!(
            "{verb} a {} frame (FIN {}, {}, {} bytes)",
            f.opcode.name(),
            u8::from(f.fin),
            if f.mask.is_some() {
                "masked"
            } else {
                "unmasked"
            },
            f.payload.len()
        ))
        .data(ws_frame(f))
        .emit();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::gateway::BoxFuture;
    use crate::gateway::asgi::{Receive, Scope, Send};
    use crate::gateway::config::Interface;
    use crate::gateway::work::World;
    use crate::http::parse::parse_response_head;
    use crate::http::{HeadLimits, HttpConn};
    use crate::net::memory_listener;

    /// An app that accepts every socket and then raises (`accept_first`),
    /// or raises before answering at all.
    struct Raises {
        accept_first: bool,
    }

    impl AsgiApp for Raises {
        fn call<'a>(&'a self, _: Scope, _: Receive, _: Send) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Err("no HTTP here".to_string()) })
        }

        fn websocket<'a>(
            &'a self,
            _scope: WebsocketScope,
            mut receive: Receive,
            send: Send,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                let _ = receive.recv_websocket().await;
                if self.accept_first {
                    send.send(Message::WebsocketAccept { subprotocol: None })
                        .await?;
                }
                Err("ZeroDivisionError".to_string())
            })
        }
    }

    /// Open a socket to an event loop serving `app`; the answer's status,
    /// and the first frame after a 101.
    async fn handshake(app: Raises) -> (u16, Option<Frame>) {
        let local: SocketAddr = ([127, 0, 0, 1], 8000).into();
        let from: SocketAddr = ([127, 0, 0, 1], 40001).into();
        let (dialer, listener) = memory_listener(local, from, 16, StepId::AppServerBacklog);
        let config = AppServerConfig {
            interface: Interface::Asgi,
            ..AppServerConfig::default()
        };
        let front = Front::new(Clock::starting_at(0), local, false, Interface::Asgi);
        let app: Arc<dyn AsgiApp> = Arc::new(app);
        let server = tokio::spawn(super::super::event_loop::run(
            listener,
            app,
            config,
            front,
            World::Simulated,
        ));
        let (stream, _) = dialer.dial().await.unwrap_or_else(|e| panic!("dial: {e}"));
        let mut conn = HttpConn::new(Stream::Memory(stream));
        let request = "GET /ws HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        conn.write_all(request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let limits = HeadLimits::NGINX;
        let (head, _) = conn
            .read_head(|b| parse_response_head(b, &limits))
            .await
            .unwrap_or_else(|_| panic!("no answer"));
        let first = if head.status == 101 {
            frame::read(&mut conn, Role::Client, 1024)
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        drop(conn);
        drop(dialer);
        let _ = server.await;
        (head.status, first)
    }

    #[tokio::test(start_paused = true)]
    async fn an_app_that_raises_after_accepting_is_cut_off_with_no_close_frame() {
        // uvicorn closes the transport: the client reads the end of the
        // stream, not a close frame (it reports 1006, not 1011).
        let (status, frame) = handshake(Raises { accept_first: true }).await;
        assert_eq!((status, frame), (101, None));
    }

    #[tokio::test(start_paused = true)]
    async fn an_app_that_raises_before_answering_the_handshake_gets_a_500() {
        let (status, frame) = handshake(Raises {
            accept_first: false,
        })
        .await;
        assert_eq!((status, frame), (500, None));
    }
}
