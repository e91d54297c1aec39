//! Traces for the TUI tests, written by hand in the shape the lesson runner
//! records: `hello` (GET /notes down every layer and back) and `too-large`
//! (a 2 MiB POST answered 413 by the web server because of
//! `client_max_body_size = 1m`).
//!
//! Every test gets its traces from [`lesson`]; to test against the real
//! lessons, change its body to
//! `roundtrip::scenario::run_named(name).expect("lesson runs")`.
//! Key frames are found by what happens at them ([`key_frames`]), not by
//! index, so they survive that switch.

#![allow(dead_code)]

use roundtrip::trace::bytes::show;
use roundtrip::trace::{
    ConnectionSummary, Data, Direction, Event, Kind, Knob, Layer, LayerInfo, LayerTiming, Meta,
    RequestSummary, Trace,
};
use roundtrip::tui::view::StepView;
use roundtrip::tui::{PlayerState, Theme};

/// The trace of a lesson, by name.
pub fn lesson(name: &str) -> Trace {
    roundtrip::scenario::run_named(name)
        .unwrap_or_else(|e| panic!("lesson {name}: {e}"))
        .trace
}

/// The hand-written stand-ins for the lessons.
pub fn fixture(name: &str) -> Trace {
    match name {
        "hello" => hello(),
        "too-large" => too_large(),
        other => panic!("no fixture trace named {other}"),
    }
}

/// The frames a learner would stop at: start, going down, the answer,
/// going back up, end. Found from the trace, so any recording works.
pub fn key_frames(trace: &Trace) -> Vec<(&'static str, usize)> {
    let last = trace.events.len() - 1;
    let state = PlayerState::new(trace.clone(), Vec::new(), Theme::plain());
    let crossing = |i: usize| {
        let s = PlayerState {
            cursor: i,
            ..state.clone()
        };
        StepView::of(&s).and_then(|v| {
            let b = v.crossing_now?;
            Some((b, v.crossings[b].as_ref()?.direction))
        })
    };
    let answer = trace
        .events
        .iter()
        .position(|e| e.answer.is_some())
        .expect("the trace has an answer");
    let down = (0..answer)
        .find(|&i| matches!(crossing(i), Some((b, Direction::Down)) if b >= 1))
        .or_else(|| (0..answer).find(|&i| matches!(crossing(i), Some((_, Direction::Down)))))
        .unwrap_or(0);
    let up = (answer + 1..=last)
        .find(|&i| matches!(crossing(i), Some((_, Direction::Up))))
        .unwrap_or(last);
    vec![
        ("1-start", 0),
        ("2-going-down", down),
        ("3-answer", answer),
        ("4-going-up", up),
        ("5-end", last),
    ]
}

/// Builds events one after another, numbering them.
struct Recorder {
    events: Vec<Event>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder { events: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        at_us: u64,
        layer: Layer,
        request: Option<u64>,
        direction: Direction,
        kind: Kind,
        step: &str,
        summary: &str,
    ) -> &mut Event {
        let seq = self.events.len() as u64;
        self.events.push(Event {
            seq,
            at_ns: at_us * 1_000,
            layer,
            conn: Some(1),
            request,
            ordinal: request.map(|_| 1),
            direction,
            kind,
            step: step.to_string(),
            summary: summary.to_string(),
            knob: None,
            answer: None,
            data: Vec::new(),
            narration: None,
        });
        self.events.last_mut().expect("just pushed")
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn bytes(label: &str, raw: &[u8]) -> Data {
    Data::Bytes {
        label: label.to_string(),
        bytes: show(raw),
    }
}

fn layers() -> Vec<LayerInfo> {
    let info = |layer: Layer, detail: &str, parts: &[&str]| LayerInfo {
        layer,
        label: layer.label().to_string(),
        detail: detail.to_string(),
        parts: parts.iter().map(|p| p.to_string()).collect(),
    };
    vec![
        info(Layer::Client, "HTTP/1.1", &[]),
        info(Layer::WebServer, "nginx-like · proxy_pass", &[]),
        info(Layer::AppServer, "WSGI · 2 sync workers", &[]),
        info(
            Layer::Framework,
            "router + middleware",
            &["request_log", "session"],
        ),
        info(Layer::Handler, "notes app", &[]),
        info(Layer::Database, "SQLite (in memory)", &[]),
    ]
}

fn meta(name: &str, title: &str, summary: &str) -> Meta {
    Meta {
        scenario: name.to_string(),
        title: title.to_string(),
        summary: summary.to_string(),
        seed: 1,
        version: String::from("0.1.0"),
        started_at: String::from("2026-01-01T00:00:00Z"),
        config: serde_json::json!({ "web_server": { "client_max_body_size": "1m" } }),
    }
}

/// First and last step per layer, as the assembler computes them.
fn timings(events: &[Event], request: u64) -> Vec<LayerTiming> {
    Layer::ALL
        .iter()
        .filter_map(|&layer| {
            let mut at = events
                .iter()
                .filter(|e| e.request == Some(request) && e.layer == layer)
                .map(|e| e.at_ns);
            let first = at.next()?;
            let last = at.next_back().unwrap_or(first);
            Some(LayerTiming {
                layer,
                first_ns: first,
                last_ns: last,
            })
        })
        .collect()
}

const GET_NOTES: &[u8] =
    b"GET /notes HTTP/1.1\r\nHost: notes.example\r\nUser-Agent: roundtrip\r\nAccept: */*\r\n\r\n";
const PROXIED_GET: &[u8] = b"GET /notes HTTP/1.0\r\nHost: notes.example\r\nX-Real-IP: 203.0.113.7\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\nUser-Agent: roundtrip\r\nAccept: */*\r\n\r\n";
const NOTES_JSON: &str = r#"[{"id":1,"title":"buy milk"},{"id":2,"title":"call mum"}]"#;

/// GET /notes: down through every layer to SQLite and back up with 200.
#[rustfmt::skip]
pub fn hello() -> Trace {
    use Direction::{Down, Up, Within};
    use Kind::{Decision, Hop, Step};
    use Layer::*;
    let r = Some(1);
    let mut t = Recorder::new();
    t.step(
        0,
        WebServer,
        None,
        Within,
        Step,
        "web_server.accept",
        "accepts connection 1 from 203.0.113.7:50001",
    );
    t.step(
        0,
        Client,
        r,
        Down,
        Hop,
        "client.send",
        "sends request 1 on connection 1: GET /notes HTTP/1.1 (79 bytes)",
    )
    .data
    .push(bytes("to the web server", GET_NOTES));
    let e = t.step(
        40,
        WebServer,
        r,
        Down,
        Hop,
        "web_server.request.receive",
        "reads request 1 (number 1 on connection 1): GET /notes HTTP/1.1",
    );
    e.data
        .push(bytes("request head from the client", GET_NOTES));
    e.data.push(Data::RequestHead {
        method: "GET".into(),
        target: "/notes".into(),
        version: "HTTP/1.1".into(),
        headers: pairs(&[
            ("Host", "notes.example"),
            ("User-Agent", "roundtrip"),
            ("Accept", "*/*"),
        ]),
    });
    e.narration = Some(String::from(
        "The web server reads the request head up to the empty line, checking every limit as it goes.",
    ));
    let e = t.step(60, WebServer, r, Down, Hop, "web_server.proxy.send",
        "proxy_pass: opens upstream connection 1 to the app server at 127.0.0.1:8000 and sends GET /notes (141 bytes)");
    e.data.push(bytes("to the app server", PROXIED_GET));
    e.narration = Some(String::from(
        "Nothing static matches, so the web server proxies: it writes a new HTTP request to the app server, adding X-Forwarded-For.",
    ));
    t.step(
        120,
        AppServer,
        r,
        Down,
        Hop,
        "app_server.request.receive",
        "reads GET /notes from the web server (141 bytes)",
    )
    .data
    .push(bytes("from the web server", PROXIED_GET));
    let e = t.step(
        130,
        AppServer,
        r,
        Within,
        Decision,
        "app_server.worker",
        "sync worker 1 of 2 takes the request; it serves nothing else until it is done",
    );
    e.knob = Some(Knob {
        name: "workers".into(),
        value: "2".into(),
    });
    let e = t.step(
        140,
        AppServer,
        r,
        Down,
        Hop,
        "app_server.wsgi.call",
        "calls application(environ, start_response) with PATH_INFO=/notes",
    );
    e.data.push(Data::Environ {
        entries: pairs(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", "/notes"),
            ("QUERY_STRING", ""),
            ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_PORT", "8000"),
            ("SERVER_PROTOCOL", "HTTP/1.0"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("HTTP_HOST", "notes.example"),
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("wsgi.url_scheme", "http"),
            ("wsgi.multithread", "false"),
            ("wsgi.multiprocess", "true"),
        ]),
    });
    t.step(
        150,
        Framework,
        r,
        Down,
        Step,
        "framework.middleware.enter",
        "request passes down through middleware request_log (1 of 2)",
    );
    t.step(
        155,
        Framework,
        r,
        Down,
        Step,
        "framework.middleware.enter",
        "request passes down through middleware session (2 of 2): no cookie, anonymous",
    );
    let e = t.step(
        160,
        Framework,
        r,
        Within,
        Decision,
        "framework.route",
        "the router matches GET /notes to the route /notes (handler list_notes)",
    );
    e.data.push(Data::Route {
        method: "GET".into(),
        path: "/notes".into(),
        pattern: Some("/notes".into()),
        params: Vec::new(),
        allow: vec!["GET".into(), "POST".into()],
    });
    t.step(
        165,
        Framework,
        r,
        Down,
        Hop,
        "framework.handler.call",
        "calls the handler list_notes",
    );
    t.step(
        170,
        Handler,
        r,
        Within,
        Step,
        "handler.start",
        "list_notes runs: it needs every note, so it asks the database",
    );
    let e = t.step(
        180,
        Handler,
        r,
        Down,
        Hop,
        "handler.sql",
        "sends one SELECT to SQLite",
    );
    e.data.push(Data::Sql {
        sql: "SELECT id, title FROM notes ORDER BY id".into(),
        params: Vec::new(),
        rows: None,
        columns: Vec::new(),
        result: Vec::new(),
    });
    let e = t.step(
        1180,
        Database,
        r,
        Within,
        Step,
        "database.query",
        "runs the SELECT and returns 2 rows in 1.000 ms",
    );
    e.data.push(Data::Sql {
        sql: "SELECT id, title FROM notes ORDER BY id".into(),
        params: Vec::new(),
        rows: Some(2),
        columns: vec!["id".into(), "title".into()],
        result: vec![
            vec!["1".into(), "buy milk".into()],
            vec!["2".into(), "call mum".into()],
        ],
    });
    e.narration = Some(String::from(
        "The only step that takes real time: SQLite reads the table. Everything above it waits.",
    ));
    let e = t.step(
        1200,
        Handler,
        r,
        Up,
        Hop,
        "handler.respond",
        "returns 200 OK with the 2 notes as JSON (58 bytes)",
    );
    e.answer = Some(200);
    e.data.push(Data::Fields {
        entries: pairs(&[("Content-Type", "application/json"), ("body", NOTES_JSON)]),
    });
    t.step(
        1210,
        Framework,
        r,
        Up,
        Step,
        "framework.middleware.leave",
        "the response passes up through middleware session: nothing to save",
    );
    t.step(
        1215,
        Framework,
        r,
        Up,
        Step,
        "framework.middleware.leave",
        "the response passes up through middleware request_log: logs GET /notes 200 in 1.065 ms",
    );
    let e = t.step(
        1220,
        AppServer,
        r,
        Up,
        Hop,
        "app_server.wsgi.start_response",
        "the app called start_response(\"200 OK\", …) and returned 1 body chunk (58 bytes)",
    );
    e.data.push(Data::StartResponse {
        status: "200 OK".into(),
        headers: pairs(&[
            ("Content-Type", "application/json"),
            ("Content-Length", "58"),
        ]),
    });
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 58\r\nConnection: close\r\n\r\n{NOTES_JSON}"
    );
    let e = t.step(
        1230,
        AppServer,
        r,
        Up,
        Hop,
        "app_server.response.send",
        "writes 200 OK to the web server and closes the connection (HTTP/1.0)",
    );
    e.data.push(bytes("to the web server", resp.as_bytes()));
    let e = t.step(
        1300,
        WebServer,
        r,
        Up,
        Hop,
        "web_server.proxy.receive",
        "reads 200 OK from the app server; upstream connection 1 is closed by the app server",
    );
    e.data.push(bytes("from the app server", resp.as_bytes()));
    e.data.push(Data::ResponseHead {
        version: "HTTP/1.1".into(),
        status: 200,
        reason: "OK".into(),
        headers: pairs(&[
            ("Content-Type", "application/json"),
            ("Content-Length", "58"),
        ]),
    });
    let client_resp = format!(
        "HTTP/1.1 200 OK\r\nServer: roundtrip\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: application/json\r\nContent-Length: 58\r\nConnection: keep-alive\r\n\r\n{NOTES_JSON}"
    );
    let e = t.step(
        1320,
        WebServer,
        r,
        Up,
        Hop,
        "web_server.response.send",
        "sends 200 OK to the client and keeps connection 1 open",
    );
    e.data.push(bytes("to the client", client_resp.as_bytes()));
    let e = t.step(
        1360,
        Client,
        r,
        Up,
        Hop,
        "client.receive",
        "receives 200 OK for request 1 (208 bytes)",
    );
    e.data.push(Data::ResponseHead {
        version: "HTTP/1.1".into(),
        status: 200,
        reason: "OK".into(),
        headers: pairs(&[
            ("Server", "roundtrip"),
            ("Content-Type", "application/json"),
            ("Content-Length", "58"),
        ]),
    });
    let events = t.events;
    let requests = vec![RequestSummary {
        id: 1,
        conn: Some(1),
        ordinal: Some(1),
        method: "GET".into(),
        target: "/notes".into(),
        status: Some(200),
        answered_by: Some(Handler),
        knob: None,
        started_ns: 0,
        finished_ns: 1_360_000,
        timings: timings(&events, 1),
    }];
    Trace {
        meta: meta(
            "hello",
            "Hello, notes",
            "One GET travels down every layer to SQLite and back.",
        ),
        layers: layers(),
        connections: vec![ConnectionSummary {
            id: 1,
            peer: "203.0.113.7:50001".into(),
            requests: vec![1],
        }],
        requests,
        events,
    }
}

/// POST /notes with a 2 MiB body: the web server answers 413 from the
/// Content-Length alone; the app server never hears of it.
#[rustfmt::skip]
pub fn too_large() -> Trace {
    use Direction::{Down, Up, Within};
    use Kind::{Decision, Hop, Step};
    use Layer::*;
    let r = Some(1);
    let head: &[u8] = b"POST /notes HTTP/1.1\r\nHost: notes.example\r\nContent-Type: text/plain\r\nContent-Length: 2097152\r\n\r\n";
    let mut t = Recorder::new();
    t.step(
        0,
        WebServer,
        None,
        Within,
        Step,
        "web_server.accept",
        "accepts connection 1 from 203.0.113.7:50001",
    );
    t.step(
        0,
        Client,
        r,
        Down,
        Hop,
        "client.send",
        "sends request 1 on connection 1: POST /notes HTTP/1.1 announcing a 2097152-byte body",
    )
    .data
    .push(bytes("to the web server (head only; the body waits)", head));
    let e = t.step(
        40,
        WebServer,
        r,
        Down,
        Hop,
        "web_server.request.receive",
        "reads request 1 (number 1 on connection 1): POST /notes HTTP/1.1",
    );
    e.data.push(bytes("request head from the client", head));
    e.data.push(Data::RequestHead {
        method: "POST".into(),
        target: "/notes".into(),
        version: "HTTP/1.1".into(),
        headers: pairs(&[
            ("Host", "notes.example"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "2097152"),
        ]),
    });
    let e = t.step(45, WebServer, r, Within, Decision, "web_server.limit.body",
        "Content-Length 2097152 is over client_max_body_size 1m: answers 413 without reading the body; the app server never sees this request");
    e.knob = Some(Knob {
        name: "client_max_body_size".into(),
        value: "1m".into(),
    });
    e.answer = Some(413);
    e.narration = Some(String::from(
        "The web server decides from the head alone: 2 MiB announced, 1 MiB allowed. It answers 413 and never reads the body.",
    ));
    let resp: &[u8] = b"HTTP/1.1 413 Request Entity Too Large\r\nServer: roundtrip\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let e = t.step(
        50,
        WebServer,
        r,
        Up,
        Hop,
        "web_server.response.send",
        "sends 413 Request Entity Too Large to the client and will close connection 1",
    );
    e.data.push(bytes("to the client", resp));
    e.data.push(Data::ResponseHead {
        version: "HTTP/1.1".into(),
        status: 413,
        reason: "Request Entity Too Large".into(),
        headers: pairs(&[("Content-Length", "0"), ("Connection", "close")]),
    });
    let e = t.step(
        90,
        Client,
        r,
        Up,
        Hop,
        "client.receive",
        "receives 413 Request Entity Too Large for request 1 before sending its body",
    );
    e.data.push(Data::ResponseHead {
        version: "HTTP/1.1".into(),
        status: 413,
        reason: "Request Entity Too Large".into(),
        headers: pairs(&[("Content-Length", "0"), ("Connection", "close")]),
    });
    t.step(
        95,
        WebServer,
        None,
        Within,
        Step,
        "web_server.client.close",
        "closes connection 1: after a 413 nginx does not keep the connection alive",
    );
    let events = t.events;
    let requests = vec![RequestSummary {
        id: 1,
        conn: Some(1),
        ordinal: Some(1),
        method: "POST".into(),
        target: "/notes".into(),
        status: Some(413),
        answered_by: Some(WebServer),
        knob: Some(Knob {
            name: "client_max_body_size".into(),
            value: "1m".into(),
        }),
        started_ns: 0,
        finished_ns: 90_000,
        timings: timings(&events, 1),
    }];
    Trace {
        meta: meta(
            "too-large",
            "Too large",
            "A 2 MiB upload meets client_max_body_size = 1m.",
        ),
        layers: layers(),
        connections: vec![ConnectionSummary {
            id: 1,
            peer: "203.0.113.7:50001".into(),
            requests: vec![1],
        }],
        requests,
        events,
    }
}

/// A trace with `n` requests of the `hello` shape, one after another,
/// for the benchmark and the long-trace tests.
pub fn many(n: u64) -> Trace {
    let one = hello();
    let span = 2_000_000;
    let mut events = Vec::new();
    let mut requests = Vec::new();
    for id in 1..=n {
        let shift = (id - 1) * span;
        for e in &one.events {
            let mut e = e.clone();
            e.seq = events.len() as u64;
            e.at_ns += shift;
            e.request = e.request.map(|_| id);
            e.conn = Some(id);
            events.push(e);
        }
        let mut r = one.requests[0].clone();
        r.id = id;
        r.conn = Some(id);
        r.started_ns += shift;
        r.finished_ns += shift;
        for t in &mut r.timings {
            t.first_ns += shift;
            t.last_ns += shift;
        }
        requests.push(r);
    }
    Trace {
        meta: meta(
            "many",
            "Many requests",
            "The hello request, again and again.",
        ),
        requests,
        events,
        ..one
    }
}
