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
