//! One client connection, request after request.
//!
//! Each turn of the loop reads a head within `client_header_timeout`,
//! decides how the body is framed, reads it within `client_body_timeout`
//! per read, proxies, relays, and decides whether the connection stays
//! open (RFC 9112 §9.3: `Connection: close`, HTTP/1.0 without keep-alive,
//! `keepalive_requests` reached, or an error that leaves the framing
//! unknowable all close it). Pipelined requests need nothing special: their
//! bytes are already in the buffer when the loop comes round, and answering
//! one at a time answers them in order.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::Instrument;

use super::WebServer;
use super::dispatch::{Origin, Routed, route};
use super::linger::linger;
use super::refuse::{body_failed, refuse_head, too_large};
use super::respond::{Timing, relay, send, send_continue, send_error};
use super::send_timeout::Sending;
use crate::http::conn::ReadError;
use crate::http::framing::request_framing;
use crate::http::headers::latin1_bytes;
use crate::http::parse::parse_request_head;
use crate::http::target::{absolute_form, normalize};
use crate::http::{BodyFraming, HttpConn, RequestHead};
use crate::net::{Accepted, Stream};
use crate::trace::bytes::show;
use crate::trace::emit::{Step, request_span};
use crate::trace::{
    ConnState, Data, Decision, Direction, Failure, Hop, Kind, QueueChange, StateChange, StepId,
    Verdict,
};

/// What became of one request.
pub(super) enum Outcome {
    /// Answered; keep reading requests on this connection.
    KeepOpen,
    /// Answered; close the connection, lingering (nginx's
    /// `ngx_http_set_lingering_close`) so that the client can read the
    /// response.
    Close,
    /// Closed at once, no response sent (nginx's
    /// `ngx_http_terminate_request` and `ngx_http_close_request`: a 408,
    /// a client gone mid-request or mid-body, 444, 499). There is no
    /// response to protect, so nginx does not linger.
    Terminate,
}

/// Serve one connection; `is_tls` when it came in on the `ssl` listener,
/// whose connections start with a TLS handshake.
pub async fn serve(server: Arc<WebServer>, accepted: Accepted, conn_id: u64, is_tls: bool) {
    let client = super::send_timeout::Client {
        conn: conn_id,
        peer: accepted.peer,
        send_timeout: server.config.send_timeout,
        server_name: server
            .config
            .server_name
            .first()
            .cloned()
            .unwrap_or_default(),
        upstream: server.upstream.first().connector().describe(),
    };
    super::send_timeout::on(client, serve_connection(server, accepted, conn_id, is_tls)).await;
}

async fn serve_connection(server: Arc<WebServer>, accepted: Accepted, conn_id: u64, is_tls: bool) {
    let Accepted {
        mut stream,
        peer,
        local,
        backlog_len,
        backlog_capacity,
    } = accepted;
    Step::new(StepId::WebServerAccept, Direction::Within, Kind::Step)
        .summary(format!(
            "accepts connection {conn_id} from {peer}{}",
            if is_tls { " on the TLS port" } else { "" }
        ))
        .state(StateChange::Backlog {
            change: QueueChange::Dequeue,
            len: backlog_len,
            capacity: backlog_capacity,
            peer: Some(peer.to_string()),
        })
        .state(StateChange::Connection {
            hop: Hop::Client,
            conn: conn_id,
            state: ConnState::Open,
            local: Some(local.to_string()),
            peer: Some(peer.to_string()),
        })
        .emit();
    if let (true, Some(tls)) = (is_tls, server.tls.as_ref()) {
        match super::tls::handshake(&server, tls, stream).await {
            super::tls::Handshake::Done(s) => stream = s,
            super::tls::Handshake::Closed => {
                closed(conn_id);
                return;
            }
        }
    }
    let mut conn = HttpConn::new(stream);
    let mut ordinal = 0u64;
    let mut ciphertext = conn.get_ref().tls().map_or((0, 0), |t| t.counts.totals());
    loop {
        // An idle connection that ends (the client closed it, or
        // keepalive_timeout ran out) has no response left to protect:
        // nginx closes it at once (ngx_http_keepalive_handler).
        if ordinal > 0 && !wait_for_next(&server, &mut conn).await {
            closed(conn_id);
            return;
        }
        let ends = Ends {
            peer,
            local,
            conn_id,
        };
        let outcome = one_request(&server, &mut conn, &ends, ordinal + 1).await;
        ordinal += 1;
        if let Some(tls) = conn.get_ref().tls() {
            super::tls::records_step(&tls.counts, &mut ciphertext);
        }
        match outcome {
            Outcome::KeepOpen => {}
            Outcome::Close => break,
            Outcome::Terminate => {
                closed(conn_id);
                return;
            }
        }
        Step::state_only(
            StepId::WebServerConnectionIdle,
            StateChange::Connection {
                hop: Hop::Client,
                conn: conn_id,
                state: ConnState::Idle,
                local: None,
                peer: None,
            },
        )
        .summary(format!(
            "connection {conn_id} is idle: waits up to keepalive_timeout {} for the next request",
            server.config.keepalive_timeout
        ))
        .emit();
    }
    linger(&server, &mut conn).await;
    closed(conn_id);
}

/// `web_server.connection.close`.
fn closed(conn_id: u64) {
    Step::state_only(
        StepId::WebServerConnectionClose,
        StateChange::Connection {
            hop: Hop::Client,
            conn: conn_id,
            state: ConnState::Closed,
            local: None,
            peer: None,
        },
    )
    .summary(format!("connection {conn_id} is closed"))
    .emit();
}
/// Between requests: wait up to `keepalive_timeout` for the next one.
async fn wait_for_next(server: &WebServer, conn: &mut HttpConn<Stream>) -> bool {
    let timeout = server.config.keepalive_timeout;
    match tokio::time::timeout(timeout.0, conn.wait_for_data()).await {
        Ok(Ok(true)) => true,
        Ok(_) => {
            Step::new(StepId::WebServerClientClose, Direction::Within, Kind::Step)
                .summary("the client closed the keep-alive connection")
                .emit();
            false
        }
        Err(_) => {
            Step::new(
                StepId::WebServerKeepaliveTimeout,
                Direction::Within,
                Kind::Decision,
            )
            .summary(format!(
                "no new request within keepalive_timeout {timeout}: closes the connection"
            ))
            .decision(
                Decision::new(Verdict::Close)
                    .rule("an idle keep-alive connection is closed after keepalive_timeout")
                    .input("idle_for", timeout),
            )
            .knob("keepalive_timeout", timeout)
            .emit();
            false
        }
    }
}

/// The two ends of a client connection, and its id.
struct Ends {
    peer: SocketAddr,
    local: SocketAddr,
    conn_id: u64,
}

async fn one_request(
    server: &Arc<WebServer>,
    conn: &mut HttpConn<Stream>,
    ends: &Ends,
    ordinal: u64,
) -> Outcome {
    let cfg = &server.config;
    let limits = cfg.head_limits();
    let header_timeout = cfg.client_header_timeout;
    let read = tokio::time::timeout(
        header_timeout.0,
        conn.read_head(|b| parse_request_head(b, &limits)),
    );
    let (head, raw) =
        match read.await {
            Ok(Ok(ok)) => ok,
            Ok(Err(ReadError::ClosedIdle)) => {
                if ordinal == 1 {
                    Step::new(StepId::WebServerClientClose, Direction::Within, Kind::Step)
                        .summary("the client closed the connection without sending a request")
                        .emit();
                }
                return Outcome::Terminate;
            }
            Ok(Err(ReadError::Parse(e))) => {
                let id = server.next_request_id();
                let received = conn.buffered().to_vec();
                let span = request_span(id);
                return refuse_head(server, conn, &e, &received, ordinal)
                    .instrument(span)
                    .await;
            }
            Ok(Err(_)) => {
                Step::new(StepId::WebServerClientClose, Direction::Within, Kind::Error)
                    .summary("the client closed the connection in the middle of a request head")
                    .emit();
                return Outcome::Terminate;
            }
            Err(_) => {
                let received = conn.buffered();
                Step::new(StepId::WebServerLimitHeaderTimeout, Direction::Within,
                Kind::Error,
            )
            .request(server.next_request_id())
            .ordinal(ordinal)
            .summary(format!(
                "the request head did not arrive within client_header_timeout {header_timeout}: \
                     logs 408 and closes the connection without sending a response"
            ))
            .knob("client_header_timeout", header_timeout)
            .decision(
                Decision::new(Verdict::Drop { status: 408 })
                    .rule("nginx logs 408 and closes without a response when the head is late")
                    .input("bytes_received", received.len()),
            )
            .failure(Failure::TimedOut)
            .answer(408)
            .data(Data::Bytes {
                label: "received before the timeout".into(),
                bytes: show(received),
            })
            .emit();
                return Outcome::Terminate;
            }
        };
    let id = server.next_request_id();
    let span = request_span(id);
    handle(server, conn, head, raw, ends, ordinal, id)
        .instrument(span)
        .await
}

async fn handle(
    server: &Arc<WebServer>,
    conn: &mut HttpConn<Stream>,
    mut head: RequestHead,
    raw: Vec<u8>,
    ends: &Ends,
    ordinal: u64,
    id: u64,
) -> Outcome {
    let (peer, conn_id) = (ends.peer, ends.conn_id);
    let cfg = &server.config;
    let received = tokio::time::Instant::now();
    Step::new(StepId::WebServerRequestReceive, Direction::Down, Kind::Hop)
        .state(StateChange::Connection {
            hop: Hop::Client,
            conn: conn_id,
            state: ConnState::Active,
            local: None,
            peer: None,
        })
        .ordinal(ordinal)
        .summary(format!(
            "reads request {id} ({} on connection {conn_id}): {} {} {}",
            nth(ordinal),
            head.method,
            head.target,
            head.version.as_str()
        ))
        .data(Data::Bytes {
            label: "request head from the client".into(),
            bytes: show(&raw),
        })
        .data(super::show::request_head(&head))
        .emit();

    if let Some(status) = super::early::request_line(&head) {
        return super::early::refuse(server, conn, &head, status).await;
    }
    let host = match super::early::host(&head) {
        Ok(h) => h,
        Err(status) => return super::early::refuse(server, conn, &head, status).await,
    };

    if let Some((authority, origin)) = absolute_form(&head.target) {
        Step::new(
            StepId::WebServerUriAbsolute,
            Direction::Within,
            Kind::Decision,
        )
        .summary(format!(
            "the target is in absolute form: uses the host {authority} from it instead of \
                 the Host header, and passes on {origin} (RFC 9112 §3.2.2)"
        ))
        .decision(
            Decision::new(Verdict::Rewrite)
                .rule("RFC 9112 §3.2.2: an absolute-form target's authority replaces Host")
                .input("target", &head.target)
                .input("host", &authority),
        )
        .emit();
        head.headers.set("Host", authority);
        head.target = origin;
    }

    // `$request_uri`: the target as sent, arguments and all (for an
    // absolute-form target, its path and query).
    let request_uri = head.target.clone();
    // `$uri`: what the locations are matched against and files are looked
    // up by. A name that is not UTF-8 cannot match a location or a file
    // of ours; it is kept as text with its bad bytes replaced.
    let uri = match normalize(&latin1_bytes(head.path())) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            Step::new(StepId::WebServerUriInvalid, Direction::Within, Kind::Error)
                .summary(format!(
                    "the path {} is invalid ({e}): answers 400",
                    head.path()
                ))
                .decision(
                    Decision::new(Verdict::Refuse { status: 400 })
                        .rule(
                            "nginx refuses a path it cannot normalize (ngx_http_parse_complex_uri)",
                        )
                        .input("path", head.path()),
                )
                .failure(Failure::Invalid)
                .answer(400)
                .emit();
            return send_error(server, conn, &head, 400).await;
        }
    };

    let framing = match request_framing(&head) {
        Ok(f) => f,
        Err(e) => {
            let status = e.status();
            Step::new(StepId::WebServerFraming, Direction::Within,
                Kind::Error,
            )
            .summary(format!(
                "{e}: servers that read the framing differently would disagree on where this request ends, so it answers {status} and closes"
            ))
            .decision(
                Decision::new(Verdict::Refuse { status })
                    .rule("RFC 9112 §6.3: the framing of a request must be unambiguous"),
            )
            .failure(Failure::Invalid)
            .answer(status)
            .emit();
            return send_error(server, conn, &head, status).await;
        }
    };

    let max_body = cfg.client_max_body_size;
    let body_limit = if max_body.0 == 0 {
        u64::MAX
    } else {
        max_body.0
    };
    let gap = Some(cfg.client_body_timeout.0);
    // client_max_body_size is checked against Content-Length before any
    // phase runs (nginx: in its find-config phase); the body itself is
    // read only once the request is known to go upstream, after the
    // location, limit_req and access have decided (nginx reads it in the
    // proxy's content handler), so a refused request costs no body read.
    if let BodyFraming::Length(n) = framing
        && n > body_limit
    {
        let why = format!(
            "Content-Length {n} is over client_max_body_size {max_body}: answers 413 \
             without reading the body; the app server never sees this request"
        );
        return too_large(server, conn, &head, why, ("content_length", n)).await;
    }

    if !cfg.underscores_in_headers {
        let dropped: Vec<String> = head
            .headers
            .iter()
            .filter(|(n, _)| n.contains('_'))
            .map(|(n, _)| n.to_string())
            .collect();
        if !dropped.is_empty() {
            head.headers.retain(|n, _| !n.contains('_'));
            Step::new(
                StepId::WebServerHeadersUnderscore,
                Direction::Within,
                Kind::Decision,
            )
            .summary(format!(
                "silently drops {} (underscores_in_headers off)",
                dropped.join(", ")
            ))
            .knob("underscores_in_headers", "off")
            .decision(
                Decision::new(Verdict::Rewrite)
                    .rule("nginx ignores header fields whose names contain `_`")
                    .input("dropped", dropped.join(", ")),
            )
            .emit();
        }
    }

    let keep_alive = head.wants_keep_alive() && ordinal < cfg.keepalive_requests;
    if head.wants_keep_alive() && !keep_alive {
        Step::new(StepId::WebServerKeepaliveRequests, Direction::Within, Kind::Decision)
            .summary(format!(
                "this is request {ordinal} on the connection, keepalive_requests is {}: it will close after answering",
                cfg.keepalive_requests
            ))
            .knob("keepalive_requests", cfg.keepalive_requests)
            .decision(
                Decision::new(Verdict::Close)
                    .rule("after keepalive_requests requests nginx closes the connection")
                    .input("requests_on_connection", ordinal),
            )
            .emit();
    }

    let tls = conn.get_ref().tls().is_some();
    let origin = Origin {
        client: peer.ip(),
        host: &host,
        port: ends.local.port(),
        keep_alive,
        scheme: if tls { "https" } else { "http" },
        request_uri: &request_uri,
    };
    // With `redirect_http` the plain port is a server of its own.
    let locations = if cfg.ssl && cfg.redirect_http && !tls {
        &server.redirect_locations
    } else {
        &cfg.location
    };
    // Held until this function returns: the request is finished then.
    let mut holds = Vec::new();
    // `$uri` for an upstream `hash` key, should one need it.
    let uri_for_key = uri.clone();
    match route(server, locations, &head, uri, &origin, &mut holds).await {
        Routed::Proxy { target } => head.target = target,
        Routed::Respond {
            head: mut rhead,
            body,
        } => {
            // A body nobody will read is discarded: the answer, then the
            // body read and dropped so the next request starts where it
            // should. A client waiting for 100 Continue gets one before a
            // file or a `return 200`, never before an error page or a
            // redirect (nginx's special responses set expect_tested).
            if framing != BodyFraming::Empty && rhead.status < 300 {
                send_continue(conn, &head).await;
            }
            // nginx's header filter writes Server for every response.
            rhead
                .headers
                .set_in_place("Server", cfg.server_tokens.server());
            let keeps = rhead.headers.has_token("connection", "keep-alive");
            let (rhead, body) = super::filters::on_the_way_back(cfg, &head, rhead, body);
            let outcome = send(conn, &head, rhead, body, Sending::Response)
                .await
                .outcome(keeps);
            if matches!(outcome, Outcome::KeepOpen)
                && !super::discard::discard(conn, framing, body_limit, cfg.lingering_timeout.0)
                    .await
            {
                return Outcome::Close;
            }
            return outcome;
        }
        Routed::Close => return Outcome::Terminate,
    }

    let body = match framing {
        BodyFraming::Empty => Vec::new(),
        BodyFraming::Length(n) => {
            send_continue(conn, &head).await;
            match conn.read_body_exact(n, gap).await {
                Ok(b) => b,
                Err(e) => return body_failed(server, conn, &head, e).await,
            }
        }
        BodyFraming::Chunked => {
            send_continue(conn, &head).await;
            let read = conn.read_body_chunked(body_limit, gap).await;
            match read {
                Ok((b, wire)) => {
                    Step::new(StepId::WebServerBodyDechunk, Direction::Within,
                        Kind::Step,
                    )
                    .summary(format!(
                        "decodes the chunked body: {wire} bytes on the wire, {} bytes of content",
                        b.len()
                    ))
                    .emit();
                    b
                }
                Err(e) => return body_failed(server, conn, &head, e).await,
            }
        }
    };
    if !body.is_empty() {
        Step::new(StepId::WebServerBodyReceive, Direction::Down, Kind::Step)
            .summary(format!(
                "reads the whole body ({} bytes) before contacting the app server",
                body.len()
            ))
            .data(Data::Bytes {
                label: "request body".into(),
                bytes: show(&body),
            })
            .emit();
    }

    let upstream_req =
        super::proxy::Upstream::upstream_request(&head, &body, peer, id, &host, origin.scheme, cfg);
    if super::upgrade::asked(&head) && super::upgrade::passes(&head, &upstream_req, cfg) {
        return super::upgrade::tunnel(server, conn, &head, &upstream_req, keep_alive).await;
    }
    let sent_upstream = tokio::time::Instant::now();
    // nginx watches the client while the request is upstream: if it
    // leaves, the request is abandoned (499) and the upstream hop closed,
    // unless proxy_ignore_client_abort says to finish it anyway.
    let vars = super::hash::Vars {
        remote_addr: peer.ip(),
        request_uri: &request_uri,
        uri: &uri_for_key,
        host: &host,
        scheme: origin.scheme,
        method: &head.method,
        headers: &head.headers,
    };
    let forward = server.upstream.forward(&upstream_req, &body, cfg, &vars);
    let forwarded = if cfg.proxy_ignore_client_abort {
        forward.await
    } else {
        tokio::select! {
            // Biased: the same order every poll, so lessons stay deterministic.
            biased;
            r = forward => r,
            () = super::client_abort::gone(conn) => {
                super::client_abort::record(&head);
                return Outcome::Terminate;
            }
        }
    };
    match forwarded {
        Ok((upstream_head, upstream_body)) => {
            let timing = cfg.server_timing.then(|| Timing {
                upstream: sent_upstream.elapsed(),
                total: received.elapsed(),
            });
            let (rhead, rbody) = relay(
                server,
                &head,
                upstream_head,
                upstream_body,
                keep_alive,
                timing,
            );
            send(conn, &head, rhead, rbody, Sending::Proxied)
                .await
                .outcome(keep_alive)
        }
        Err(e) => {
            let status = e.status();
            let mut step = Step::new(StepId::WebServerProxyError, Direction::Up, Kind::Error)
                .summary({
                    // The log line says more than the error's name, except
                    // when they are the same words.
                    let log = e.log_message();
                    if log == e.to_string() {
                        format!("{e}: answers {status}")
                    } else {
                        format!("{e}: answers {status}; error log: \"{log}\"")
                    }
                })
                .decision(
                    Decision::new(Verdict::Refuse { status })
                        .rule("nginx answers 504 when the upstream timed out, 502 for any other failure")
                        .input("failure", e.failure().as_str()),
                )
                .failure(e.failure())
                .answer(status);
            if let Some((knob, value)) = e.knob(cfg) {
                step = step.knob(knob, value);
            }
            let log = super::error_log::upstream_error(
                conn_id,
                &e.log_message(),
                peer,
                cfg.server_name.first().map_or("", String::as_str),
                &head,
                &server.upstream.first().connector().describe(),
            );
            step.data(Data::Fields {
                entries: vec![("error_log".into(), log)],
            })
            .emit();
            send_error(server, conn, &head, status).await
        }
    }
}

/// "1st", "2nd", "3rd", "4th"…
fn nth(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("the {n}{suffix}")
}
