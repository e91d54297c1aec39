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
//! * **Refusals by upstream connection.** An app server that refuses a head
//!   before its `X-Request-Id` arrived (a request line over its limit) knows
//!   no id. Its refusal answers the first request the proxy sent on that
//!   upstream connection that the app server had not yet read: answers come
//!   in request order (RFC 9112 §9.3.2).
//!
//! Book: "The journey of a request" (book/src/journey.md), "Many requests at once".

use std::collections::BTreeMap;

use super::instance::Instance;
use super::model::{
    ConnectionSummary, Data, Event, LayerInfo, LayerTiming, Meta, RequestSummary, Trace,
};
use super::state::{ConnState, Hop, QueueChange, StateChange};
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
        metrics: None,
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

/// The peer of a connection this event queued in a listen backlog.
fn enqueued(e: &Event) -> Option<&str> {
    e.state.iter().find_map(|s| match s {
        StateChange::Backlog {
            change: QueueChange::Enqueue,
            peer: Some(peer),
            ..
        } => Some(peer.as_str()),
        _ => None,
    })
}

/// One end's record of a connection: when, the address the other end
/// records for it, and this end's id for it.
type End<'a> = (u64, &'a str, u64);

/// Pair the records of two ends by address, first with first: a listener
/// accepts the connections from one address in the order they were made,
/// and an address is reused only after its connection is gone, so the nth
/// record of an address at one end is the nth at the other.
fn pair_by_address(left: &[End<'_>], right: &[End<'_>]) -> BTreeMap<u64, u64> {
    let mut queues: BTreeMap<&str, std::collections::VecDeque<u64>> = BTreeMap::new();
    for &(_, addr, id) in right {
        queues.entry(addr).or_default().push_back(id);
    }
    let mut pairs = BTreeMap::new();
    for &(_, addr, id) in left {
        if let Some(other) = queues.get_mut(addr).and_then(|q| q.pop_front()) {
            pairs.insert(id, other);
        }
    }
    pairs
}

/// Fill in `conn`, `upstream`, `request` and `ordinal` from linked facts.
pub fn link(events: &mut [Event]) {
    // Facts, from both ends of each connection, in recording order.
    let mut client_opens: Vec<End> = Vec::new();
    let mut web_accepts: Vec<End> = Vec::new();
    let mut web_queued: Vec<End> = Vec::new();
    let mut proxy_connects: Vec<End> = Vec::new();
    let mut app_accepts: Vec<End> = Vec::new();
    let mut app_queued: Vec<End> = Vec::new();
    // Each app server instance of a group numbers its own connections
    // from 1, and again from 1 when it is started again: an app connection
    // is named by its accept, here by the accept's place in recording order.
    let mut app_accept_count: u64 = 0;
    for e in events.iter() {
        if let Some(peer) = enqueued(e) {
            match e.layer {
                Layer::WebServer => web_queued.push((e.seq, peer, e.seq)),
                Layer::AppServer => app_queued.push((e.seq, peer, e.seq)),
                _ => {}
            }
        }
        let Some((hop, id, local, peer)) = opened(e) else {
            continue;
        };
        match (e.layer, hop) {
            (Layer::Client, Hop::Client) => client_opens.push((e.seq, local, id)),
            (Layer::WebServer, Hop::Client) => web_accepts.push((e.seq, peer, id)),
            (Layer::WebServer, Hop::Upstream) => proxy_connects.push((e.seq, local, id)),
            (Layer::AppServer, Hop::Upstream) => {
                app_accepts.push((e.seq, peer, app_accept_count));
                app_accept_count += 1;
            }
            _ => {}
        }
    }
    let web_conn_of_client = pair_by_address(&client_opens, &web_accepts);
    let web_conn_of_queued = pair_by_address(&web_queued, &web_accepts);
    let upstream_of_accept = pair_by_address(&app_accepts, &proxy_connects);
    let upstream_of_queued = pair_by_address(&app_queued, &proxy_connects);
    // (instance, app connection number) → the accept that number names
    // now: events are in recording order, so a later accept of the same
    // number (an instance started again) takes over from the earlier one.
    let mut accept_of_app_conn: BTreeMap<(Option<String>, u64), u64> = BTreeMap::new();
    let mut accepts_seen: u64 = 0;
    for e in events.iter_mut() {
        if e.layer == Layer::AppServer
            && let Some((Hop::Upstream, id, _, _)) = opened(e)
        {
            accept_of_app_conn.insert((e.server.clone(), id), accepts_seen);
            accepts_seen += 1;
        }
        if e.conn.is_none() {
            e.conn = match &e.instance {
                Some(Instance::Client { conn }) => web_conn_of_client.get(conn).copied(),
                _ => web_conn_of_queued.get(&e.seq).copied(),
            };
        }
        if e.upstream.is_none() {
            e.upstream = match e.app_conn {
                Some(app_conn) => accept_of_app_conn
                    .get(&(e.server.clone(), app_conn))
                    .and_then(|a| upstream_of_accept.get(a))
                    .copied(),
                None => upstream_of_queued.get(&e.seq).copied(),
            };
        }
    }

    link_refusals(events);

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

/// Give an app server's answer that names no request (a refusal before the
/// request id was read) the request it answers: the first one the proxy
/// sent on that upstream connection that none of the app server's events
/// on its side of the connection names. (Its listen backlog's events are
/// recorded as the proxy connects, inside the proxy's request: they do not
/// mean the app server read anything.)
fn link_refusals(events: &mut [Event]) {
    let unnamed =
        |e: &Event| e.layer == Layer::AppServer && e.request.is_none() && e.answer.is_some();
    if !events.iter().any(unnamed) {
        return;
    }
    let mut sent: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut read: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in events.iter() {
        let (Some(u), Some(r)) = (e.upstream, e.request) else {
            continue;
        };
        match (e.layer, e.step) {
            (Layer::WebServer, StepId::WebServerProxySend) => sent.entry(u).or_default().push(r),
            (Layer::AppServer, _) if e.app_conn.is_some() => read.entry(u).or_default().push(r),
            _ => {}
        }
    }
    for e in events.iter_mut().filter(|e| unnamed(e)) {
        let Some(u) = e.upstream else { continue };
        let seen = read.get(&u).map(Vec::as_slice).unwrap_or_default();
        e.request = sent
            .get(&u)
            .and_then(|rs| rs.iter().find(|r| !seen.contains(r)))
            .copied();
    }
}

fn summarise_requests(events: &[Event]) -> Vec<RequestSummary> {
    let mut requests: BTreeMap<u64, RequestSummary> = BTreeMap::new();
    for e in events {
        let Some(id) = e.request else { continue };
        let r = requests.entry(id).or_insert_with(|| RequestSummary {
            id,
            lesson: None,
            name: None,
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
        // The first layer to answer produced the response, unless a layer
        // above it, on the response's way up, later replaced that answer
        // with another status (the framework's 304 for the handler's 200).
        // A deeper layer answering late (a worker's 500 after the web
        // server's 504) changes nothing: nobody relays it any more.
        if let Some(status) = e.answer
            && (r.answered_by.is_none()
                || (r.status != Some(status)
                    && r.answered_by.is_some_and(|l| e.layer.depth() < l.depth())))
        {
            r.answered_by = Some(e.layer);
            r.knob = e.knob.clone();
            r.status = Some(status);
        }
        if e.step == StepId::WebServerSendTimeout
            && let Some(status) = e.answer
        {
            // Nothing of the response left: the log's 408 is the answer.
            r.status = Some(status);
            r.reason = String::new();
        }
        if e.step == StepId::WebServerClientGone {
            // The response never reached the client: nginx's log says 499.
            r.status = Some(499);
            r.reason = "Client Closed Request".to_string();
        }
        for d in &e.data {
            match d {
                Data::RequestHead { method, target, .. } if r.method.is_empty() => {
                    r.method = method.clone();
                    r.target = target.clone();
                }
                // A head refused as it was read (`get /`, `HTTP/2.0`) was
                // never parsed, but its request line was read: name the
                // request by it, as nginx's access log does.
                Data::Bytes { bytes, .. }
                    if e.step == StepId::WebServerRequestInvalid && r.method.is_empty() =>
                {
                    if let Some((method, target)) = request_line_of(&bytes.text) {
                        r.method = method;
                        r.target = target;
                    }
                }
                // What the web server sent to the client is the final word.
                Data::ResponseHead { status, reason, .. }
                    if e.step == StepId::WebServerResponseSend && r.status != Some(499) =>
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

/// Method and target of the first line of shown bytes, when it has the
/// shape of a request line (three words, the last one `HTTP/…`).
fn request_line_of(shown: &str) -> Option<(String, String)> {
    let line = shown.split("\\r\\n").next()?.lines().next()?;
    let mut words = line.split(' ');
    let (method, target, version) = (words.next()?, words.next()?, words.next()?);
    let plausible = words.next().is_none()
        && !method.is_empty()
        && !target.is_empty()
        && version.starts_with("HTTP/");
    plausible.then(|| (method.to_string(), target.to_string()))
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
        // Closing a dead idle connection happens during a request that
        // then goes on another: the close does not make it this one's.
        let carried = e.step != StepId::WebServerUpstreamClose;
        match e.request {
            None => c.activity.push(e.seq),
            Some(r) if hop == Hop::Upstream && carried && !c.requests.contains(&r) => {
                c.requests.push(r)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::model::Meta;
    use crate::trace::vocab::{Direction, Kind};

    /// A bare event: `step` at `seq`, nothing linked yet.
    fn event(seq: u64, step: StepId) -> Event {
        Event {
            seq,
            at_ns: seq * 1_000,
            layer: step.layer(),
            step,
            instance: None,
            conn: None,
            upstream: None,
            app_conn: None,
            request: None,
            ordinal: None,
            direction: Direction::Within,
            kind: Kind::Step,
            summary: String::new(),
            knob: None,
            answer: None,
            state: Vec::new(),
            decision: None,
            failure: None,
            data: Vec::new(),
            narration: None,
            server: None,
        }
    }

    fn opens(hop: Hop, conn: u64, local: &str, peer: &str) -> StateChange {
        StateChange::Connection {
            hop,
            conn,
            state: ConnState::Open,
            local: Some(local.to_string()),
            peer: Some(peer.to_string()),
        }
    }

    const WEB: &str = "192.0.2.10:80";
    const APP: &str = "127.0.0.1:8000";

    /// The client opens its connection `client` from `from`.
    fn client_connect(seq: u64, client: u64, from: &str) -> Event {
        let mut e = event(seq, StepId::ClientConnect);
        e.instance = Some(Instance::Client { conn: client });
        e.state.push(opens(Hop::Client, client, from, WEB));
        e
    }

    /// The client sends its `ordinal`th request on its connection `client`.
    fn client_send(seq: u64, client: u64, ordinal: u64) -> Event {
        let mut e = event(seq, StepId::ClientRequestSend);
        e.instance = Some(Instance::Client { conn: client });
        e.ordinal = Some(ordinal);
        e
    }

    /// The web server accepts `from` as its connection `conn`.
    fn web_accept(seq: u64, conn: u64, from: &str) -> Event {
        let mut e = event(seq, StepId::WebServerAccept);
        e.instance = Some(Instance::Connection { conn });
        e.conn = Some(conn);
        e.state.push(opens(Hop::Client, conn, WEB, from));
        e
    }

    /// The web server reads request `request`, the `ordinal`th on `conn`.
    fn web_read(seq: u64, conn: u64, ordinal: u64, request: u64) -> Event {
        let mut e = event(seq, StepId::WebServerRequestReceive);
        e.instance = Some(Instance::Connection { conn });
        e.conn = Some(conn);
        e.ordinal = Some(ordinal);
        e.request = Some(request);
        e
    }

    /// The proxy opens upstream connection `upstream` from `from`, for `request`.
    fn proxy_connect(seq: u64, conn: u64, request: u64, upstream: u64, from: &str) -> Event {
        let mut e = event(seq, StepId::WebServerProxyConnect);
        e.instance = Some(Instance::Upstream {
            server: APP.to_string(),
            conn: upstream,
        });
        e.conn = Some(conn);
        e.request = Some(request);
        e.upstream = Some(upstream);
        e.state.push(opens(Hop::Upstream, upstream, from, APP));
        e
    }

    /// Worker `worker` accepts `from` as the app server's connection `app_conn`.
    fn app_accept(seq: u64, worker: u64, app_conn: u64, from: &str) -> Event {
        let mut e = event(seq, StepId::AppServerAccept);
        e.instance = Some(Instance::Worker { worker });
        e.app_conn = Some(app_conn);
        e.state.push(opens(Hop::Upstream, app_conn, APP, from));
        e
    }

    fn linked(mut events: Vec<Event>) -> Vec<Event> {
        link(&mut events);
        events
    }

    fn find(events: &[Event], seq: u64) -> &Event {
        events.iter().find(|e| e.seq == seq).expect("event")
    }

    #[test]
    fn client_events_take_the_web_servers_connection_id_by_address_pair_not_by_number() {
        // The client opened its connection 1 from port 50002 and its
        // connection 2 from 50001; the web server accepted 50001 first, so
        // its numbers are the other way round.
        let events = linked(vec![
            client_connect(0, 1, "203.0.113.7:50002"),
            client_connect(1, 2, "203.0.113.7:50001"),
            client_send(2, 1, 1),
            client_send(3, 2, 1),
            web_accept(4, 1, "203.0.113.7:50001"),
            web_read(5, 1, 1, 1),
            web_accept(6, 2, "203.0.113.7:50002"),
            web_read(7, 2, 1, 2),
        ]);
        for (seq, conn, request) in [(0, 2, None), (1, 1, None), (2, 2, Some(2)), (3, 1, Some(1))] {
            let e = find(&events, seq);
            assert_eq!(e.conn, Some(conn), "#{seq} {}", e.step);
            assert_eq!(e.request, request, "#{seq} {}", e.step);
        }
        // The client's own numbering is kept in its instance.
        assert_eq!(
            find(&events, 2).instance,
            Some(Instance::Client { conn: 1 })
        );
    }

    #[test]
    fn a_client_request_is_linked_by_its_position_on_the_connection() {
        // Two requests on one connection, read in order: the client's 2nd
        // is the web server's request 8, whatever the events' order.
        let events = linked(vec![
            client_connect(0, 1, "203.0.113.7:50001"),
            web_accept(1, 1, "203.0.113.7:50001"),
            client_send(2, 1, 2),
            web_read(3, 1, 2, 8),
            client_send(4, 1, 1),
            web_read(5, 1, 1, 7),
        ]);
        assert_eq!(find(&events, 2).request, Some(8));
        assert_eq!(find(&events, 4).request, Some(7));
    }

    #[test]
    fn app_server_events_take_the_upstream_connection_by_address_pair() {
        // The proxy's upstream 1 leaves from 50001 and upstream 2 from
        // 50002; the app server accepted 50002 first, as its connection 1.
        let mut receive = event(7, StepId::AppServerRequestReceive);
        receive.instance = Some(Instance::Worker { worker: 2 });
        receive.app_conn = Some(1);
        receive.request = Some(2);
        let mut close = event(8, StepId::AppServerConnectionClose);
        close.app_conn = Some(1);
        let events = linked(vec![
            web_accept(0, 1, "203.0.113.7:50001"),
            web_read(1, 1, 1, 1),
            proxy_connect(2, 1, 1, 1, "127.0.0.1:50001"),
            web_accept(3, 2, "203.0.113.7:50002"),
            web_read(4, 2, 1, 2),
            proxy_connect(5, 2, 2, 2, "127.0.0.1:50002"),
            app_accept(6, 1, 1, "127.0.0.1:50002"),
            receive,
            close,
        ]);
        assert_eq!(find(&events, 6).upstream, Some(2));
        let r = find(&events, 7);
        assert_eq!(r.upstream, Some(2));
        // The request id gives the client connection and the position.
        assert_eq!((r.conn, r.ordinal), (Some(2), Some(1)));
        // A close, after the request, still finds its upstream connection,
        // and is not made part of any request.
        let c = find(&events, 8);
        assert_eq!((c.upstream, c.request), (Some(2), None));
    }

    /// The proxy sends `request` on its upstream connection `upstream`.
    fn proxy_send(seq: u64, conn: u64, request: u64, upstream: u64) -> Event {
        let mut e = event(seq, StepId::WebServerProxySend);
        e.conn = Some(conn);
        e.request = Some(request);
        e.upstream = Some(upstream);
        e
    }

    #[test]
    fn an_app_server_refusal_without_a_request_id_answers_the_first_unread_request_on_its_connection()
     {
        // Requests 1 and 2 on one kept-alive upstream connection: the app
        // server read 1, then refused the next head before its
        // X-Request-Id arrived.
        let mut backlog = event(3, StepId::AppServerBacklog);
        backlog.request = Some(1);
        backlog.upstream = Some(1);
        let mut receive = event(6, StepId::AppServerRequestReceive);
        receive.app_conn = Some(1);
        receive.request = Some(1);
        let mut refuse = event(9, StepId::AppServerRequestRefuse);
        refuse.app_conn = Some(1);
        refuse.answer = Some(400);
        let events = linked(vec![
            web_accept(0, 1, "203.0.113.7:50001"),
            web_read(1, 1, 1, 1),
            proxy_connect(2, 1, 1, 1, "127.0.0.1:40001"),
            backlog,
            proxy_send(4, 1, 1, 1),
            app_accept(5, 1, 1, "127.0.0.1:40001"),
            receive,
            web_read(7, 1, 2, 2),
            proxy_send(8, 1, 2, 1),
            refuse,
        ]);
        let r = find(&events, 9);
        assert_eq!((r.request, r.conn, r.ordinal), (Some(2), Some(1), Some(2)));
    }

    #[test]
    fn a_refusal_on_a_connection_the_proxy_sent_nothing_on_stays_unlinked() {
        let mut refuse = event(2, StepId::AppServerRequestRefuse);
        refuse.app_conn = Some(1);
        refuse.answer = Some(400);
        let events = linked(vec![
            proxy_connect(0, 1, 1, 1, "127.0.0.1:40001"),
            app_accept(1, 1, 1, "127.0.0.1:40001"),
            refuse,
        ]);
        assert_eq!(find(&events, 2).request, None);
    }

    #[test]
    fn the_proxys_and_the_app_servers_numbers_differ_and_the_pair_still_links_them() {
        let mut close = event(3, StepId::AppServerConnectionClose);
        close.app_conn = Some(1);
        let events = linked(vec![
            web_accept(0, 1, "203.0.113.7:50001"),
            proxy_connect(1, 1, 1, 4, "127.0.0.1:50009"),
            app_accept(2, 1, 1, "127.0.0.1:50009"),
            close,
        ]);
        assert_eq!(find(&events, 3).upstream, Some(4));
    }

    #[test]
    fn a_client_event_with_no_matching_accept_stays_unlinked() {
        // The web server accepted someone else; there is exactly one
        // request it could be, and it must still not be guessed.
        let events = linked(vec![
            client_connect(0, 1, "203.0.113.7:50009"),
            client_send(1, 1, 1),
            web_accept(2, 1, "198.51.100.1:40000"),
            web_read(3, 1, 1, 1),
        ]);
        for seq in [0, 1] {
            let e = find(&events, seq);
            assert_eq!((e.conn, e.request), (None, None), "#{seq} {}", e.step);
        }
    }

    #[test]
    fn a_client_request_the_web_server_never_read_stays_unlinked() {
        // The connection is linked, but nothing was read at position 2.
        let events = linked(vec![
            client_connect(0, 1, "203.0.113.7:50001"),
            web_accept(1, 1, "203.0.113.7:50001"),
            client_send(2, 1, 1),
            web_read(3, 1, 1, 1),
            client_send(4, 1, 2),
        ]);
        assert_eq!(find(&events, 2).request, Some(1));
        let e = find(&events, 4);
        assert_eq!((e.conn, e.request), (Some(1), None));
    }

    #[test]
    fn an_app_server_event_from_an_unknown_peer_keeps_no_upstream() {
        let mut receive = event(2, StepId::AppServerRequestReceive);
        receive.app_conn = Some(1);
        let events = linked(vec![
            proxy_connect(0, 1, 1, 1, "127.0.0.1:50001"),
            app_accept(1, 1, 1, "127.0.0.1:59999"),
            receive,
        ]);
        assert_eq!(find(&events, 1).upstream, None);
        assert_eq!(find(&events, 2).upstream, None);
    }

    #[test]
    fn assemble_sorts_by_seq_and_lists_each_connections_requests_and_activity() {
        let meta = Meta {
            scenario: "test".into(),
            title: String::new(),
            summary: String::new(),
            seed: 1,
            version: String::new(),
            started_at: String::new(),
            config: serde_json::Value::Null,
            variant: None,
        };
        let mut send_up = event(6, StepId::WebServerProxySend);
        send_up.conn = Some(1);
        send_up.request = Some(2);
        send_up.upstream = Some(1);
        // Recorded out of order: assembly sorts by seq first.
        let trace = assemble(
            meta,
            Vec::new(),
            vec![
                send_up,
                web_read(5, 1, 2, 2),
                proxy_connect(3, 1, 1, 1, "127.0.0.1:50001"),
                web_read(2, 1, 1, 1),
                web_accept(1, 1, "203.0.113.7:50001"),
                client_send(4, 1, 2),
                client_connect(0, 1, "203.0.113.7:50001"),
            ],
        );
        let seqs: Vec<u64> = trace.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(trace.connections.len(), 1);
        let c = &trace.connections[0];
        assert_eq!(
            (c.id, c.peer.as_str(), c.local.as_str()),
            (1, "203.0.113.7:50001", WEB)
        );
        assert_eq!(c.requests, vec![1, 2]);
        // The client's connect and the web server's accept belong to the
        // connection, not to a request.
        assert_eq!(c.activity, vec![0, 1]);
        assert_eq!(trace.upstream_connections.len(), 1);
        let u = &trace.upstream_connections[0];
        assert_eq!(
            (u.peer.as_str(), u.local.as_str()),
            ("127.0.0.1:50001", APP)
        );
        assert_eq!(u.requests, vec![1, 2]);
        let ids: Vec<u64> = trace.requests.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2]);
        assert_eq!(trace.requests[1].conn, Some(1));
        assert_eq!(trace.requests[1].ordinal, Some(2));
    }

    /// `step` answers `request` with `status`.
    fn answer(seq: u64, step: StepId, request: u64, status: u16) -> Event {
        let mut e = event(seq, step);
        e.request = Some(request);
        e.answer = Some(status);
        e
    }

    #[test]
    fn a_layer_above_that_changes_the_answer_produced_it_and_a_late_deeper_one_did_not() {
        // The handler's 200 became the framework's 304.
        let revalidated = summarise_requests(&[
            answer(0, StepId::HandlerReturn, 1, 200),
            answer(1, StepId::FrameworkConditionalGet, 1, 304),
        ]);
        assert_eq!(revalidated[0].answered_by, Some(Layer::Framework));
        assert_eq!(revalidated[0].status, Some(304));
        // The web server's 504 went out; the worker's 500 came too late.
        let timed_out = summarise_requests(&[
            answer(0, StepId::WebServerProxyError, 1, 504),
            answer(1, StepId::AppServerWorkerTimeout, 1, 500),
        ]);
        assert_eq!(timed_out[0].answered_by, Some(Layer::WebServer));
        assert_eq!(timed_out[0].status, Some(504));
    }
}
