//! `serve`'s control endpoint: stop, kill and start the instances of its
//! upstream group from outside, on a port of its own.
//!
//! ```text
//! curl http://127.0.0.1:PORT/instances                 a 127.0.0.1:41871 running …
//! curl -X POST http://127.0.0.1:PORT/instances/b/kill  b is killed …
//! curl -X POST http://127.0.0.1:PORT/instances/b/start b starts again …
//! ```
//!
//! In production each app server instance is a process of its own, and an
//! operator kills one with `kill -KILL PID` (or it crashes). `serve`'s
//! instances are threads of one process, so no signal can reach just one;
//! this endpoint does what the signal would (see `instances`). It is a
//! separate listener on 127.0.0.1, never a location of the web server, as
//! nginx's `stub_status` and NGINX Plus's `/api` are usually kept behind
//! `allow 127.0.0.1`: a client of the site must not be able to kill its
//! app servers. It answers one request per connection, one connection
//! at a time (others wait in its backlog); a request head must arrive
//! within [`READ_TIMEOUT`] and fit in [`MAX_HEAD`].
//!
//! Book: "The web server", section "Load balancing in serve"
//! (book/src/web-server.md).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::instances::{ActionError, Instances};
use crate::server::upstream::InstanceAction;

/// Longest request head the control endpoint reads.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long it waits for a whole request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a kill waits for the instance's threads to end before it
/// answers, so that "killed" means its sockets are closed (a thread in a
/// blocking call ends only when the call returns: the answer says so).
pub const KILL_PATIENCE: Duration = Duration::from_secs(1);

/// Answer control requests on `listener` until `stop` turns true.
pub(super) async fn run(
    listener: TcpListener,
    instances: Arc<Instances>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(crate::net::ACCEPT_RETRY_DELAY).await;
            continue;
        };
        let _ =
            tokio::time::timeout(READ_TIMEOUT + KILL_PATIENCE, answer(stream, &instances)).await;
    }
}

/// Read one request head, carry it out, answer, close.
async fn answer(mut stream: TcpStream, instances: &Instances) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let (status, body) = loop {
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            let (status, mut body, killed) = route(&head, instances);
            if let Some(name) = killed
                && !instances.killed(&name, KILL_PATIENCE).await
            {
                body.push_str(&format!(
                    "(a thread of {name} is still inside a blocking call: it ends when the call returns)\n"
                ));
            }
            break (status, body);
        }
        if head.len() > MAX_HEAD {
            break (431, format!("request head over {MAX_HEAD} bytes\n"));
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// What a request asks, and the answer: a status and a text body, and the
/// instance killed, if one was.
fn route(head: &[u8], instances: &Instances) -> (u16, String, Option<String>) {
    let (status, body) = carry_out(head, instances);
    let killed = (status == 200).then(|| killed_by(head)).flatten();
    (status, body, killed)
}

/// The instance a request head kills (`POST /instances/NAME/kill`).
fn killed_by(head: &[u8]) -> Option<String> {
    let line = std::str::from_utf8(head.split(|&b| b == b'\r').next()?).ok()?;
    let target = line.split(' ').nth(1)?;
    let path = target.split('?').next()?;
    let name = path.strip_prefix("/instances/")?.strip_suffix("/kill")?;
    Some(name.to_string())
}

/// Carry out a request: a status and a text body.
fn carry_out(head: &[u8], instances: &Instances) -> (u16, String) {
    let line = head
        .split(|&b| b == b'\r')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (
            400,
            "expected a request line: METHOD TARGET HTTP/1.1\n".into(),
        );
    };
    if !version.starts_with("HTTP/1.") {
        return (400, format!("{version}: only HTTP/1.x is spoken here\n"));
    }
    let path = target.split('?').next().unwrap_or(target);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] | ["instances"] => {
            if method != "GET" && method != "HEAD" {
                return (405, format!("{path}: GET lists the instances\n"));
            }
            (200, list(instances))
        }
        ["instances", name, action] => {
            let action = match *action {
                "stop" => InstanceAction::Stop,
                "kill" => InstanceAction::Kill,
                "start" => InstanceAction::Start,
                other => {
                    return (404, format!("no action \"{other}\": stop, kill or start\n"));
                }
            };
            if method != "POST" {
                return (
                    405,
                    format!("{path} changes an instance: use POST (curl -X POST)\n"),
                );
            }
            match instances.act(name, action) {
                Ok(done) => (200, format!("{done}\n")),
                Err(e @ ActionError::Unknown(_)) => (404, format!("{e}\n")),
                Err(e @ (ActionError::AlreadyStopped(_) | ActionError::AlreadyRunning(_))) => {
                    (409, format!("{e}\n"))
                }
                Err(e @ ActionError::Start { .. }) => (500, format!("{e}\n")),
            }
        }
        _ => (
            404,
            format!(
                "{path}: try GET /instances or POST /instances/NAME/stop|kill|start\n{}",
                list(instances)
            ),
        ),
    }
}

/// One line per instance: name, address, state.
fn list(instances: &Instances) -> String {
    instances
        .states()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}\n",
                s.name,
                s.address,
                if s.running { "running" } else { "stopped" }
            )
        })
        .collect()
}
