//! Proxying an upgrade: nginx's "WebSocket proxying".
//!
//! ```text
//! client ── GET, Upgrade: websocket ──▶ web server ──?──▶ app server
//!            Connection: Upgrade           │
//!                     Upgrade and Connection are hop-by-hop (RFC 9110 §7.6.1):
//!                     they reach the app server only when configured,
//!                         proxy_http_version 1.1;
//!                         proxy_set_header Upgrade $http_upgrade;
//!                         proxy_set_header Connection "upgrade";
//! 101 Switching Protocols ◀──────────────── app server
//! then: a tunnel. Bytes read on either side are written to the other,
//! unparsed, until one side closes or nothing crosses for proxy_read_timeout.
//! ```
//!
//! Without that configuration the app server gets a plain GET and answers
//! it as one (a 404, a page): the client, which needed a 101, fails. After
//! a 101 nginx no longer reads HTTP on either connection
//! (`ngx_http_upstream_upgrade`); each event on either side re-arms its
//! timer, so the tunnel closes after `proxy_read_timeout` (60 s) with no
//! byte in either direction, and a ping now and then keeps it open. The
//! close is silent: both TCP connections end with no close frame, which
//! the client and the app both see as 1006.
//!
//! Sources: nginx docs, "WebSocket proxying" (nginx.org/en/docs/http/websocket.html)
//! and `ngx_http_proxy_module` (`proxy_http_version`, `proxy_set_header`,
//! `proxy_read_timeout`).
//!
//! Book: "WebSockets" (book/src/websockets.md).

use std::sync::Arc;

use super::WebServer;
use super::config::WebServerConfig;
use super::connection::Outcome;
use super::respond::{relay, send, send_error};
use super::send_timeout::Sending;
use crate::http::conn::ReadError;
use crate::http::framing::response_framing;
use crate::http::parse::parse_response_head;
use crate::http::{HeadLimits, HttpConn, RequestHead, ResponseHead, Version, write};
use crate::net::Stream;
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{
    ConnState, Data, Decision, Direction, Failure, Hop, Instance, Kind, StateChange, StepId,
    Verdict,
};

/// Largest non-101 answer read whole (a page or an error).
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The most bytes one read moves through the tunnel (the connection's
/// read chunk bounds it too).
const RELAY_CHUNK: usize = 64 * 1024;

/// `$http_NAME` in a `proxy_set_header` value: the client's field of that
/// name, or nothing. `$connection_upgrade` is the variable of the `map`
/// nginx's "WebSocket proxying" page defines, in the form for keep-alive
/// upstreams (`map $http_upgrade $connection_upgrade { default upgrade;
/// '' ''; }`): `upgrade` when the client sent `Upgrade`, else nothing, so
/// a plain request reaches the app server without a `Connection` field.
pub fn expand(value: &str, req: &RequestHead) -> String {
    if value == "$connection_upgrade" {
        let upgrading = req.headers.get("upgrade").is_some_and(|v| !v.is_empty());
        return if upgrading { "upgrade" } else { "" }.to_string();
    }
    match value.strip_prefix("$http_") {
        Some(name) => req
            .headers
            .get(&name.replace('_', "-"))
            .unwrap_or("")
            .to_string(),
        None => value.to_string(),
    }
}

/// Does the client ask to upgrade to a websocket?
pub(super) fn asked(head: &RequestHead) -> bool {
    crate::http::ws::handshake::is_upgrade(head)
}

/// Does the upgrade reach the app server? Recorded as a decision with
/// the settings that made it.
pub(super) fn passes(head: &RequestHead, upstream: &RequestHead, cfg: &WebServerConfig) -> bool {
    let set = |name: &str| {
        cfg.proxy_set_header
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("(not set)".to_string(), |(_, v)| v.clone())
    };
    let upstream_upgrade = upstream.headers.get("upgrade").unwrap_or("(not sent)");
    let upstream_connection = upstream.headers.get("connection").unwrap_or("(not sent)");
    let version_ok = upstream.version == Version::Http11;
    let pass = version_ok
        && upstream.headers.has_token("upgrade", "websocket")
        && upstream.headers.has_token("connection", "upgrade");
    let decision = Decision::new(if pass {
        Verdict::Pass
    } else {
        Verdict::Rewrite
    })
    .rule(
        "RFC 9110 §7.6.1: Upgrade and Connection are hop-by-hop; nginx passes an upgrade only \
         with proxy_http_version 1.1 and proxy_set_header Upgrade and Connection",
    )
    .input("client_upgrade", head.headers.get("upgrade").unwrap_or(""))
    .input(
        "client_connection",
        head.headers.get("connection").unwrap_or(""),
    )
    .input("upstream_upgrade", upstream_upgrade)
    .input("upstream_connection", upstream_connection)
    .knob("proxy_http_version", cfg.proxy_http_version.as_str())
    .knob("proxy_set_header Upgrade", set("upgrade"))
    .knob("proxy_set_header Connection", set("connection"));
    let summary = if pass {
        "the client asks to upgrade to a websocket, and proxy_set_header passes Upgrade and \
         Connection on: the upgrade goes to the app server"
            .to_string()
    } else if !version_ok {
        "the client asks to upgrade to a websocket, but proxy_http_version is 1.0: the upgrade \
         cannot pass, and the app server gets a plain HTTP/1.0 request"
            .to_string()
    } else {
        format!(
            "the client asks to upgrade to a websocket, but Upgrade and Connection are \
             hop-by-hop and no proxy_set_header passes them (upstream Upgrade: {upstream_upgrade}, \
             Connection: {upstream_connection}): the app server gets a plain GET"
        )
    };
    Step::new(StepId::WebServerUpgrade, Direction::Down, Kind::Decision)
        .summary(summary)
        .decision(decision)
        .emit();
    pass
}

fn instance(server: &WebServer, id: u64) -> Instance {
    Instance::Upstream {
        server: server.upstream.first().connector().describe(),
        conn: id,
    }
}

fn conn_state(id: u64, state: ConnState) -> StateChange {
    StateChange::Connection {
        hop: Hop::Upstream,
        conn: id,
        state,
        local: None,
        peer: None,
    }
}

/// Send the upgrade on a new upstream connection; relay the answer, and
/// after a 101 be the tunnel until it closes.
pub(super) async fn tunnel(
    server: &Arc<WebServer>,
    client: &mut HttpConn<Stream>,
    head: &RequestHead,
    upstream_req: &RequestHead,
    keep_alive: bool,
) -> Outcome {
    let cfg = &server.config;
    let id = server.upstream.first().next_id();
    let connect = tokio::time::timeout(
        cfg.proxy_connect_timeout.0,
        server.upstream.first().connector().connect(),
    );
    let mut upstream = match connect.await {
        Ok(Ok((stream, local))) => {
            Step::new(StepId::WebServerProxyConnect, Direction::Down, Kind::Step)
                .instance(instance(server, id))
                .upstream(id)
                .summary(format!(
                    "opens upstream connection {id} from {local} for the upgrade (an upgraded \
                     connection never goes back to the idle pool)"
                ))
                .state(StateChange::Connection {
                    hop: Hop::Upstream,
                    conn: id,
                    state: ConnState::Open,
                    local: Some(local.to_string()),
                    peer: Some(server.upstream.first().connector().describe()),
                })
                .emit();
            HttpConn::new(stream)
        }
        Ok(Err(e)) => return upstream_failed(server, client, head, 502, Failure::of_io(&e)).await,
        Err(_) => return upstream_failed(server, client, head, 504, Failure::TimedOut).await,
    };
    let bytes = write::request_head(upstream_req);
    Step::new(StepId::WebServerProxySend, Direction::Down, Kind::Hop)
        .instance(instance(server, id))
        .upstream(id)
        .state(conn_state(id, ConnState::Active))
        .summary(format!(
            "proxy_pass: sends the upgrade request {} {} on upstream connection {id}, with \
             Upgrade and Connection as proxy_set_header wrote them",
            upstream_req.method, upstream_req.target
        ))
        .data(Data::Bytes {
            label: "to the app server".into(),
            bytes: show(&bytes),
        })
        .data(super::show::request_head(upstream_req))
        .emit();
    if upstream.write_all(&bytes).await.is_err() {
        return upstream_failed(server, client, head, 502, Failure::Closed).await;
    }
    let limits = HeadLimits::NGINX;
    let read = tokio::time::timeout(
        cfg.proxy_read_timeout.0,
        upstream.read_head(|b| parse_response_head(b, &limits)),
    );
    let (rhead, raw) = match read.await {
        Ok(Ok(ok)) => ok,
        Ok(Err(ReadError::Parse(_))) => {
            return upstream_failed(server, client, head, 502, Failure::Invalid).await;
        }
        Ok(Err(_)) => return upstream_failed(server, client, head, 502, Failure::Closed).await,
        Err(_) => return upstream_failed(server, client, head, 504, Failure::TimedOut).await,
    };
    if rhead.status != 101 {
        return answered_plainly(server, client, head, upstream, id, rhead, raw, keep_alive).await;
    }
    Step::new(StepId::WebServerProxyReceive, Direction::Up, Kind::Hop)
        .instance(instance(server, id))
        .upstream(id)
        .summary(format!(
            "reads 101 Switching Protocols from the app server on upstream connection {id}: \
             from now on it only relays bytes"
        ))
        .data(Data::Bytes {
            label: "from the app server".into(),
            bytes: show(&raw),
        })
        .data(super::show::response_head(&rhead))
        .emit();
    // nginx writes its own Server and Date and `Connection: upgrade`, then
    // the app server's other fields (Upgrade, Sec-WebSocket-Accept, …).
    let mut out = ResponseHead::new(101);
    out.reason = rhead.reason.clone();
    out.headers
        .push("Server", server.config.server_tokens.server());
    out.headers.push("Date", server.clock.http_date());
    out.headers.push("Connection", "upgrade");
    for (name, value) in rhead.headers.iter() {
        if !matches!(
            name.to_ascii_lowercase().as_str(),
            "server" | "date" | "connection"
        ) {
            out.headers.push(name, value);
        }
    }
    let wire = write::response_head(&out);
    Step::new(StepId::WebServerResponseSend, Direction::Up, Kind::Hop)
        .summary(format!(
            "sends 101 Switching Protocols to the client ({} bytes): the connection is now a \
             tunnel to upstream connection {id}",
            wire.len()
        ))
        .data(Data::Bytes {
            label: "response to the client".into(),
            bytes: show(&wire),
        })
        .data(super::show::response_head(&out))
        .emit();
    if client.write_all(&wire).await.is_err() {
        let _ = upstream.shutdown().await;
        return Outcome::Close;
    }
    relay_until_closed(server, client, &mut upstream, id).await;
    Outcome::Close
}

/// Which side of the tunnel.
#[derive(Clone, Copy)]
enum Side {
    Client,
    Upstream,
}

/// Bytes both ways until one side closes or `proxy_read_timeout` passes
/// with nothing crossing.
async fn relay_until_closed(
    server: &WebServer,
    client: &mut HttpConn<Stream>,
    upstream: &mut HttpConn<Stream>,
    id: u64,
) {
    let timeout = server.config.proxy_read_timeout;
    loop {
        // Re-armed after every crossing, as nginx re-adds its timer on
        // each event of the upgraded connection.
        // Bytes already read (behind the 101 head, say) go first.
        let side = if !client.buffered().is_empty() {
            (Side::Client, Ok(client.buffered().len()))
        } else if !upstream.buffered().is_empty() {
            (Side::Upstream, Ok(upstream.buffered().len()))
        } else {
            tokio::select! {
            biased;
            r = client.fill() => (Side::Client, r),
            r = upstream.fill() => (Side::Upstream, r),
            () = tokio::time::sleep(timeout.0) => {
                Step::new(StepId::WebServerTunnelClose, Direction::Within, Kind::Decision)
                    .instance(instance(server, id))
                    .upstream(id)
                    .summary(format!(
                        "nothing crossed the tunnel for proxy_read_timeout {timeout}: closes \
                         both connections, with no close frame (each end sees 1006)"
                    ))
                    .knob("proxy_read_timeout", timeout)
                    .decision(
                        Decision::new(Verdict::Close)
                            .rule("nginx closes an upgraded connection idle for proxy_read_timeout")
                            .input("idle_for", timeout),
                    )
                    .failure(Failure::TimedOut)
                    .state(conn_state(id, ConnState::Closed))
                    .emit();
                break;
            }
            }
        };
        let (from, to, direction, label) = match side.0 {
            Side::Client => (
                &mut *client,
                &mut *upstream,
                Direction::Down,
                "client → app server",
            ),
            Side::Upstream => (
                &mut *upstream,
                &mut *client,
                Direction::Up,
                "app server → client",
            ),
        };
        match side.1 {
            Ok(0) | Err(_) => {
                let who = match side.0 {
                    Side::Client => "the client",
                    Side::Upstream => "the app server",
                };
                Step::new(StepId::WebServerTunnelClose, Direction::Within, Kind::Step)
                    .instance(instance(server, id))
                    .upstream(id)
                    .summary(format!(
                        "{who} closed its connection: the tunnel closes the other one too"
                    ))
                    .state(conn_state(id, ConnState::Closed))
                    .emit();
                break;
            }
            Ok(_) => {
                let n = from.buffered().len().min(RELAY_CHUNK);
                let bytes = from.buffered()[..n].to_vec();
                from.consume(n);
                Step::new(StepId::WebServerTunnel, direction, Kind::Hop)
                    .instance(instance(server, id))
                    .upstream(id)
                    .summary(format!(
                        "relays {n} bytes {label}, as they are (nginx does not parse frames)"
                    ))
                    .data(Data::Bytes {
                        label: label.into(),
                        bytes: show(&bytes),
                    })
                    .emit();
                if to.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = upstream.shutdown().await;
    let _ = client.shutdown().await;
}

/// The app server answered the upgrade with something other than 101:
/// an ordinary response, relayed as any other.
#[allow(clippy::too_many_arguments)]
async fn answered_plainly(
    server: &WebServer,
    client: &mut HttpConn<Stream>,
    head: &RequestHead,
    mut upstream: HttpConn<Stream>,
    id: u64,
    rhead: ResponseHead,
    raw: Vec<u8>,
    keep_alive: bool,
) -> Outcome {
    let cfg = &server.config;
    let body = match response_framing(&head.method, &rhead) {
        Ok(framing) => upstream
            .read_response_body(framing, MAX_RESPONSE_BYTES, Some(cfg.proxy_read_timeout.0))
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut wire = raw;
    wire.extend_from_slice(&body);
    Step::new(StepId::WebServerProxyReceive, Direction::Up, Kind::Hop)
        .instance(instance(server, id))
        .upstream(id)
        .state(conn_state(id, ConnState::Closed))
        .summary(format!(
            "reads {} {} from the app server, not 101: no upgrade happened, and the answer is \
             relayed like any other; upstream connection {id} is closed",
            rhead.status, rhead.reason
        ))
        .data(Data::Bytes {
            label: "from the app server".into(),
            bytes: show(&wire),
        })
        .data(super::show::response_head(&rhead))
        .emit();
    let _ = upstream.shutdown().await;
    let (out, body) = relay(server, head, rhead, body, keep_alive, None);
    send(client, head, out, body, Sending::Proxied)
        .await
        .outcome(keep_alive)
}

async fn upstream_failed(
    server: &WebServer,
    client: &mut HttpConn<Stream>,
    head: &RequestHead,
    status: u16,
    failure: Failure,
) -> Outcome {
    Step::new(StepId::WebServerProxyError, Direction::Up, Kind::Error)
        .summary(format!(
            "the upgrade could not reach the app server ({}): answers {status}",
            failure.as_str()
        ))
        .decision(
            Decision::new(Verdict::Refuse { status })
                .rule("nginx answers 504 when the upstream timed out, 502 for any other failure"),
        )
        .failure(failure)
        .answer(status)
        .emit();
    send_error(server, client, head, status).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;
    use crate::server::config::ProxyHttpVersion;
    use crate::server::proxy::Upstream;

    fn upgrade_request() -> RequestHead {
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        headers.push("Upgrade", "websocket");
        headers.push("Connection", "Upgrade");
        RequestHead {
            method: "GET".into(),
            target: "/chat".into(),
            version: Version::Http11,
            headers,
        }
    }

    fn configured(version: ProxyHttpVersion) -> WebServerConfig {
        let mut cfg = WebServerConfig {
            proxy_http_version: version,
            ..WebServerConfig::default()
        };
        cfg.proxy_set_header
            .insert("Upgrade".into(), "$http_upgrade".into());
        cfg.proxy_set_header
            .insert("Connection".into(), "upgrade".into());
        cfg
    }

    fn upstream_of(head: &RequestHead, cfg: &WebServerConfig) -> RequestHead {
        let peer = "203.0.113.7:50001".parse().unwrap();
        let host = head.headers.get("host").unwrap_or_default();
        Upstream::upstream_request(head, b"", peer, 1, host, "http", cfg)
    }

    #[test]
    fn the_upgrade_passes_only_with_nginxs_three_lines() {
        let head = upgrade_request();
        let defaults = WebServerConfig::default();
        let plain = upstream_of(&head, &defaults);
        assert!(!plain.headers.contains("upgrade"));
        assert!(!passes(&head, &plain, &defaults));

        let cfg = configured(ProxyHttpVersion::Http11);
        let up = upstream_of(&head, &cfg);
        assert_eq!(up.headers.get("upgrade"), Some("websocket"));
        assert_eq!(up.headers.get("connection"), Some("upgrade"));
        assert!(passes(&head, &up, &cfg));

        let old = configured(ProxyHttpVersion::Http10);
        let up10 = upstream_of(&head, &old);
        assert_eq!(up10.version, Version::Http10);
        assert!(!passes(&head, &up10, &old));
    }

    #[test]
    fn an_empty_http_variable_drops_the_field_as_nginx_does() {
        let mut head = upgrade_request();
        head.headers.remove("upgrade");
        let cfg = configured(ProxyHttpVersion::Http11);
        let up = upstream_of(&head, &cfg);
        assert!(!up.headers.contains("upgrade"), "$http_upgrade was empty");
        // Connection "upgrade" is a constant: nginx sends it on every
        // request it proxies (hence nginx's `map $http_upgrade` idiom).
        assert_eq!(up.headers.get("connection"), Some("upgrade"));
        assert_eq!(expand("$http_x_custom_thing", &head), "");
        assert_eq!(expand("literal", &head), "literal");
    }

    #[test]
    fn connection_upgrade_is_sent_only_with_an_upgrade() {
        let mut cfg = configured(ProxyHttpVersion::Http11);
        cfg.proxy_set_header
            .insert("Connection".into(), "$connection_upgrade".into());
        let up = upstream_of(&upgrade_request(), &cfg);
        assert_eq!(up.headers.get("connection"), Some("upgrade"));
        assert!(passes(&upgrade_request(), &up, &cfg));

        let mut plain = upgrade_request();
        plain.headers.remove("upgrade");
        plain.headers.remove("connection");
        let up = upstream_of(&plain, &cfg);
        assert!(
            !up.headers.contains("connection"),
            "no field, as map '' '' gives"
        );
    }
}
