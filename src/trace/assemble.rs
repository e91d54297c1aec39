//! From recorded events to a [`Trace`]: link every step to its request and
//! connection, and summarise each request and connection.
//!
//! No single layer knows every id, so links are made here, and only from
//! facts both ends recorded, never from the order or closeness of events:
//!
//! * **Connections by address pair.** The client records its own address
//!   when it connects; the web server records the peer address it accepted.
//!   The same pair names the same TCP connection at both ends, so the
//!   client's connection gets the web server's id. Likewise the proxy's
//!   local address (its ephemeral port) is the peer the app server accepted.
//! * **Requests by position.** The client does not know the id the web
//!   server will give its request; it knows the connection and the
//!   request's position on it. HTTP/1.1 answers requests on a connection
//!   strictly in order (RFC 9112 §9.3.2), so `(conn, ordinal)` names the
//!   same request on both sides.
//! * **Requests by id.** The app server knows the request id from the
//!   `X-Request-Id` header the web server added.
//!
//! Book: "The journey of a request" (book/src/journey.md), "Many requests at once".

use std::collections::BTreeMap;

use super::instance::Instance;
use super::model::{
    ConnectionSummary, Data, Event, LayerInfo, LayerTiming, Meta, RequestSummary, Trace,
};
use super::state::{ConnState, Hop, StateChange};
use super::vocab::{Layer, StepId};

/// Build the trace of a run from its recorded events.
pub fn assemble(meta: Meta, layers: Vec<LayerInfo>, mut events: Vec<Event>) -> Trace {
    events.sort_by_key(|e| e.seq);
    link(&mut events);
    let requests = summarise_requests(&events);
    let connections = summarise_connections(&events, &requests, Hop::Client);
    let upstream_connections = summarise_connections(&events, &requests, Hop::Upstream);
    Trace {
        meta,
        layers,
        connections,
        upstream_connections,
        requests,
        events,
    }
}

/// The connection that an `Open` state change on this event announces:
/// (hop, the recording side's id, its local address, its peer address).
fn opened(e: &Event) -> Option<(Hop, u64, &str, &str)> {
    e.state.iter().find_map(|s| match s {
        StateChange::Connection {
            hop,
            conn,
            state: ConnState::Open,
            local: Some(local),
            peer: Some(peer),
        } => Some((*hop, *conn, local.as_str(), peer.as_str())),
        _ => None,
    })
}

/// Fill in `conn`, `upstream`, `request` and `ordinal` from linked facts.
pub fn link(events: &mut [Event]) {
    // Facts, from both ends of each connection.
    let mut web_conn_by_peer: BTreeMap<String, u64> = BTreeMap::new();
    let mut client_addr: BTreeMap<u64, String> = BTreeMap::new();
    let mut upstream_by_local: BTreeMap<String, u64> = BTreeMap::new();
    let mut app_conn_peer: BTreeMap<u64, String> = BTreeMap::new();
    for e in events.iter() {
        let Some((hop, id, local, peer)) = opened(e) else {
            continue;
        };
        match (e.layer, hop) {
            (Layer::Client, Hop::Client) => {
                client_addr.insert(id, local.to_string());
            }
            (Layer::WebServer, Hop::Client) => {
                web_conn_by_peer.insert(peer.to_string(), id);
            }
            (Layer::WebServer, Hop::Upstream) => {
                upstream_by_local.insert(local.to_string(), id);
            }
            (Layer::AppServer, Hop::Upstream) => {
                app_conn_peer.insert(id, peer.to_string());
            }
            _ => {}
        }
    }
    for e in events.iter_mut() {
        if e.conn.is_none()
            && let Some(Instance::Client { conn }) = &e.instance
        {
            e.conn = client_addr
                .get(conn)
                .and_then(|addr| web_conn_by_peer.get(addr))
                .copied();
        }
        if e.upstream.is_none()
            && let Some(app_conn) = e.app_conn
        {
            e.upstream = app_conn_peer
                .get(&app_conn)
                .and_then(|addr| upstream_by_local.get(addr))
                .copied();
        }
    }

    // Requests: the web server knows (conn, ordinal) and the id together.
    let mut by_position: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut position_of: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut conn_of: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events.iter() {
        if e.layer != Layer::WebServer {
            continue;
        }
        if let (Some(c), Some(r)) = (e.conn, e.request) {
            conn_of.entry(r).or_insert(c);
            if let Some(o) = e.ordinal {
                by_position.entry((c, o)).or_insert(r);
                position_of.entry(r).or_insert((c, o));
            }
        }
    }
    for e in events.iter_mut() {
        if e.request.is_none()
            && let (Some(c), Some(o)) = (e.conn, e.ordinal)
        {
            e.request = by_position.get(&(c, o)).copied();
        }
        if e.conn.is_none()
            && let Some(r) = e.request
        {
            e.conn = conn_of.get(&r).copied();
        }
        if e.ordinal.is_none()
            && let Some(r) = e.request
        {
            e.ordinal = position_of.get(&r).map(|p| p.1);
        }
    }
}

fn summarise_requests(events: &[Event]) -> Vec<RequestSummary> {
    let mut requests: BTreeMap<u64, RequestSummary> = BTreeMap::new();
    for e in events {
        let Some(id) = e.request else { continue };
        let r = requests.entry(id).or_insert_with(|| RequestSummary {
            id,
            conn: e.conn,
            ordinal: e.ordinal,
            method: String::new(),
            target: String::new(),
            status: None,
            reason: String::new(),
            answered_by: None,
            knob: None,
            started_ns: e.at_ns,
            finished_ns: e.at_ns,
            timings: Vec::new(),
        });
        r.finished_ns = r.finished_ns.max(e.at_ns);
        r.conn = r.conn.or(e.conn);
        r.ordinal = r.ordinal.or(e.ordinal);
        match r.timings.iter_mut().find(|t| t.layer == e.layer) {
            Some(t) => t.last_ns = t.last_ns.max(e.at_ns),
            None => r.timings.push(LayerTiming {
                layer: e.layer,
                first_ns: e.at_ns,
                last_ns: e.at_ns,
            }),
        }
        if let Some(status) = e.answer
            && r.answered_by.is_none()
        {
            r.answered_by = Some(e.layer);
            r.knob = e.knob.clone();
            r.status = Some(status);
        }
        for d in &e.data {
            match d {
                Data::RequestHead { method, target, .. } if r.method.is_empty() => {
                    r.method = method.clone();
                    r.target = target.clone();
                }
                // What the web server sent to the client is the final word.
                Data::ResponseHead { status, reason, .. }
                    if e.step == StepId::WebServerResponseSend =>
                {
                    r.status = Some(*status);
                    r.reason = reason.clone();
                }
                _ => {}
            }
        }
    }
    for r in requests.values_mut() {
        r.timings.sort_by_key(|t| t.layer);
    }
    requests.into_values().collect()
}

/// The connections of one hop, by the accepting side's id (client hop: the
/// web server's; upstream hop: the proxy's, which dials it).
fn summarise_connections(
    events: &[Event],
    requests: &[RequestSummary],
    hop: Hop,
) -> Vec<ConnectionSummary> {
    let mut conns: BTreeMap<u64, ConnectionSummary> = BTreeMap::new();
    // Which side's records name the connection for this hop.
    let owner = Layer::WebServer;
    for e in events {
        if e.layer != owner {
            continue;
        }
        for s in &e.state {
            let StateChange::Connection {
                hop: h,
                conn,
                state,
                local,
                peer,
            } = s
            else {
                continue;
            };
            if *h != hop {
                continue;
            }
            let c = conns.entry(*conn).or_insert_with(|| ConnectionSummary {
                id: *conn,
                hop,
                peer: String::new(),
                local: String::new(),
                opened_ns: e.at_ns,
                closed_ns: None,
                requests: Vec::new(),
                activity: Vec::new(),
            });
            // The web server accepts client connections (peer = client) and
            // dials upstream ones (local = its own ephemeral port).
            let (from, to) = match hop {
                Hop::Client => (peer, local),
                Hop::Upstream => (local, peer),
            };
            if let Some(a) = from {
                c.peer = a.clone();
            }
            if let Some(a) = to {
                c.local = a.clone();
            }
            if *state == ConnState::Closed {
                c.closed_ns = Some(e.at_ns);
            }
        }
    }
    for e in events {
        let id = match hop {
            Hop::Client => e.conn,
            Hop::Upstream => e.upstream,
        };
        let Some(c) = id.and_then(|id| conns.get_mut(&id)) else {
            continue;
        };
        match e.request {
            None => c.activity.push(e.seq),
            Some(r) if hop == Hop::Upstream && !c.requests.contains(&r) => c.requests.push(r),
            Some(_) => {}
        }
    }
    if hop == Hop::Client {
        for r in requests {
            if let Some(c) = r.conn.and_then(|c| conns.get_mut(&c)) {
                c.requests.push(r.id);
            }
        }
    }
    conns.into_values().collect()
}
