//! From recorded events to a [`Trace`]: link every step to its request and
//! summarise each request.
//!
//! Two links are made here, because no single layer knows both ends:
//!
//! * The client does not know the id the web server will give its request;
//!   it knows the connection and the request's position on it. HTTP/1.1
//!   answers requests on a connection strictly in order (RFC 9112 §9.3.2),
//!   so `(conn, ordinal)` names the same request on both sides.
//! * The app server does not know the client's connection; it knows the
//!   request id from the `X-Request-Id` header the web server added.

use std::collections::BTreeMap;

use super::model::{
    ConnectionSummary, Data, Event, LayerInfo, LayerTiming, Meta, RequestSummary, Trace,
};
use super::vocab::Layer;

/// Build the trace of a run from its recorded events.
pub fn assemble(meta: Meta, layers: Vec<LayerInfo>, mut events: Vec<Event>) -> Trace {
    events.sort_by_key(|e| e.seq);
    link_requests(&mut events);
    let requests = summarise_requests(&events);
    let connections = summarise_connections(&events, &requests);
    Trace {
        meta,
        layers,
        connections,
        requests,
        events,
    }
}

fn link_requests(events: &mut [Event]) {
    let mut by_position: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut conn_of: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events.iter() {
        if let (Some(c), Some(r)) = (e.conn, e.request) {
            conn_of.entry(r).or_insert(c);
            if let Some(o) = e.ordinal {
                by_position.entry((c, o)).or_insert(r);
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
            && let (Some(c), Some(r)) = (e.conn, e.request)
        {
            e.ordinal = by_position
                .iter()
                .find(|(k, v)| k.0 == c && **v == r)
                .map(|(k, _)| k.1);
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
                    if e.layer == Layer::WebServer && e.step == "web_server.response.send" =>
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

fn summarise_connections(events: &[Event], requests: &[RequestSummary]) -> Vec<ConnectionSummary> {
    let mut conns: BTreeMap<u64, ConnectionSummary> = BTreeMap::new();
    for e in events {
        if e.step == "web_server.accept"
            && let Some(c) = e.conn
        {
            let peer = e
                .data
                .iter()
                .find_map(|d| match d {
                    Data::Fields { entries } => entries
                        .iter()
                        .find(|(k, _)| k == "peer")
                        .map(|(_, v)| v.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            conns.entry(c).or_insert(ConnectionSummary {
                id: c,
                peer,
                requests: Vec::new(),
            });
        }
    }
    for r in requests {
        if let Some(c) = r.conn {
            conns
                .entry(c)
                .or_insert_with(|| ConnectionSummary {
                    id: c,
                    peer: String::new(),
                    requests: Vec::new(),
                })
                .requests
                .push(r.id);
        }
    }
    conns.into_values().collect()
}
