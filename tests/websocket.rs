//! Websockets through the whole stack, read from the lessons' traces: the
//! handshake's accept key, masking by direction, and what each end of
//! the socket saw.

use roundtrip::http::ws::handshake;
use roundtrip::scenario;
use roundtrip::trace::{Data, StepId, Trace};

fn run(name: &str) -> Trace {
    let outcome = scenario::run_named(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(outcome.unmet.is_empty(), "{name}: {:?}", outcome.unmet);
    outcome.trace
}

fn frames(t: &Trace, step: StepId) -> Vec<(String, bool)> {
    t.events
        .iter()
        .filter(|e| e.step == step)
        .flat_map(|e| &e.data)
        .filter_map(|d| match d {
            Data::WsFrame { opcode, mask, .. } => Some((opcode.clone(), mask.is_some())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_accept_key_the_app_server_sent_is_the_hash_of_the_clients_key() {
    let t = run("ws-handshake");
    let accept = t
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerWebsocketHandshake)
        .flat_map(|e| &e.data)
        .find_map(|d| match d {
            Data::WsAccept { key, accept, .. } => Some((key.clone(), accept.clone())),
            _ => None,
        });
    let (key, accept) = accept.expect("the handshake step carries the accept computation");
    assert_eq!(handshake::accept(&key).accept, accept);
    assert_eq!(t.requests[0].status, Some(101));
}

#[test]
fn client_frames_are_masked_and_server_frames_are_not() {
    let t = run("ws-handshake");
    let sent = frames(&t, StepId::ClientWebsocketSend);
    let received = frames(&t, StepId::ClientWebsocketReceive);
    assert!(sent.len() >= 3, "{sent:?}");
    assert!(sent.iter().all(|(_, masked)| *masked), "{sent:?}");
    assert!(!received.is_empty());
    assert!(received.iter().all(|(_, masked)| !masked), "{received:?}");
    // The ping was answered by the app server itself, with a pong.
    assert!(received.iter().any(|(op, _)| op == "pong"), "{received:?}");
    assert_eq!(received.last().map(|(op, _)| op.as_str()), Some("close"));
}

#[test]
fn the_web_server_relays_bytes_and_never_parses_a_frame() {
    let t = run("ws-handshake");
    let tunnel: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerTunnel)
        .collect();
    assert!(!tunnel.is_empty());
    for e in tunnel {
        assert!(
            e.data.iter().all(|d| matches!(d, Data::Bytes { .. })),
            "{:?}",
            e.data
        );
    }
}

/// The handler's broadcasts in a lesson: (who, event, recipients).
fn broadcasts(t: &Trace) -> Vec<(String, String, String)> {
    t.events
        .iter()
        .filter(|e| e.step == StepId::HandlerChat)
        .filter_map(|e| match e.data.first() {
            Some(Data::Fields { entries }) => {
                let get = |k: &str| {
                    entries
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                Some((get("member"), get("event"), get("broadcast to")))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn in_the_chat_every_line_reaches_everyone_connected_and_a_leave_the_rest() {
    let t = run("ws-chat");
    let b = broadcasts(&t);
    let said = |who: &str| b.iter().find(|(m, e, _)| m == who && e == "says something");
    assert_eq!(said("ada").map(|x| x.2.as_str()), Some("ada, bo, cy"));
    assert_eq!(said("cy").map(|x| x.2.as_str()), Some("ada, bo, cy"));
    let cy_left = b.iter().find(|(m, e, _)| m == "cy" && e == "left");
    assert_eq!(cy_left.map(|x| x.2.as_str()), Some("ada, bo"));
    // Every client saw each of the three lines, whoever sent it.
    for r in &t.requests {
        assert_eq!(r.status, Some(101));
    }
}

#[test]
fn a_wsgi_server_answers_the_upgrade_as_a_plain_request_and_no_socket_opens() {
    let t = run("ws-through-wsgi");
    assert_eq!(t.requests[0].status, Some(200));
    let steps: Vec<StepId> = t.events.iter().map(|e| e.step).collect();
    assert!(steps.contains(&StepId::AppServerWsgiCall));
    assert!(!steps.contains(&StepId::AppServerWebsocketHandshake));
    assert!(!steps.contains(&StepId::ClientWebsocketSend));
    // The upgrade fields reached the app, as environ keys.
    let environ_has_upgrade = t.events.iter().flat_map(|e| &e.data).any(|d| match d {
        Data::Environ { entries } => entries
            .iter()
            .any(|(k, v)| k == "HTTP_UPGRADE" && v == "websocket"),
        _ => false,
    });
    assert!(environ_has_upgrade);
}

#[test]
fn without_proxy_set_header_the_app_server_never_sees_the_upgrade() {
    let t = run("ws-proxy-misconfigured");
    assert_eq!(t.requests[0].status, Some(200));
    let to_app = t
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerProxySend)
        .flat_map(|e| &e.data)
        .find_map(|d| match d {
            Data::RequestHead { headers, .. } => Some(headers.clone()),
            _ => None,
        })
        .expect("the proxied request head");
    assert!(
        !to_app
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("upgrade")),
        "{to_app:?}"
    );
    assert!(
        !to_app
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("connection")),
        "{to_app:?}"
    );
    let scope_type = t
        .events
        .iter()
        .filter(|e| e.step == StepId::AppServerAsgiCall)
        .flat_map(|e| &e.data)
        .find_map(|d| match d {
            Data::Scope { entries } => entries
                .iter()
                .find(|(k, _)| k == "type")
                .map(|(_, v)| v.clone()),
            _ => None,
        });
    assert_eq!(scope_type, Some(serde_json::json!("http")));
}

#[test]
fn proxy_read_timeout_cuts_only_the_socket_nobody_pinged() {
    let t = run("ws-idle-timeout");
    let cut: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.step == StepId::WebServerTunnelClose)
        .filter(|e| e.decision.is_some())
        .collect();
    assert_eq!(cut.len(), 1, "one tunnel timed out");
    let ada = t.requests.iter().find(|r| r.name.as_deref() == Some("ada"));
    assert_eq!(cut[0].request, ada.map(|r| r.id));
    // 60 s after Ada's last byte (her echo at 50 ms).
    assert_eq!(cut[0].at_ns, 60_050_000_000);
}

#[test]
fn each_way_of_ending_a_socket_has_its_own_code_at_the_app() {
    let t = run("ws-close-codes");
    // What the app was told (websocket.disconnect), or, when the app
    // itself ended the socket, what it said (websocket.close).
    let ends: Vec<u64> = t
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.step,
                StepId::AppServerAsgiReceive | StepId::AppServerAsgiSend
            )
        })
        .flat_map(|e| &e.data)
        .filter_map(|d| match d {
            Data::AsgiMessage { message, .. } => {
                let is = message.iter().any(|(k, v)| {
                    k == "type" && (v == "websocket.disconnect" || v == "websocket.close")
                });
                let code = message
                    .iter()
                    .find(|(k, _)| k == "code")
                    .and_then(|(_, v)| v.as_u64());
                if is { code } else { None }
            }
            _ => None,
        })
        .collect();
    assert_eq!(ends, [1000, 1002, 1008, 1009, 1006]);
}

#[test]
fn an_app_that_raises_after_accepting_gets_no_close_frame_and_the_room_goes_on() {
    let t = run("ws-app-error");
    let id = |name: &str| {
        t.requests
            .iter()
            .find(|r| r.name.as_deref() == Some(name))
            .map(|r| r.id)
    };
    let (ada, bo) = (id("ada"), id("bo"));
    let of = |req, step| {
        t.events
            .iter()
            .filter(move |e| e.request == req && e.step == step)
    };
    // The exception reached the app server after the 101…
    assert_eq!(of(ada, StepId::HandlerFault).count(), 1);
    assert_eq!(of(ada, StepId::AppServerAsgiError).count(), 1);
    // …which wrote no close frame (no 1011): Ada's page got the end of
    // the stream, and nothing else after the join.
    let ada_out: Vec<_> = of(ada, StepId::AppServerWebsocketFrame)
        .flat_map(|e| &e.data)
        .filter_map(|d| match d {
            Data::WsFrame { opcode, .. } => Some(opcode.clone()),
            _ => None,
        })
        .collect();
    assert!(!ada_out.iter().any(|op| op == "close"), "{ada_out:?}");
    // Bo chats on, alone: Ada left no ghost in the room.
    let b = broadcasts(&t);
    let bo_said = b
        .iter()
        .find(|(m, e, _)| m == "bo" && e == "says something");
    assert_eq!(bo_said.map(|x| x.2.as_str()), Some("bo"));
    assert!(of(bo, StepId::AppServerAsgiError).next().is_none());
}
