//! Who refuses a long request line, a long header line or many header
//! fields, at the byte where the real servers do: nginx's 8k buffers (CRLF
//! included), gunicorn's limits behind a WSGI app server, and uvicorn's
//! h11 behind an ASGI one, which has neither of gunicorn's limits.
//!
//! Each case is a one-request lesson over in-memory pipes.

use std::path::Path;

use roundtrip::scenario::{Lesson, run, validate};
use roundtrip::trace::{Data, Layer, StepId, Trace};

/// Run one raw request through a stack with this interface.
fn through(interface: &str, raw: &[u8]) -> Trace {
    let raw = std::str::from_utf8(raw).expect("ASCII request");
    let raw = raw
        .replace('\\', "\\\\")
        .replace('\r', "\\r")
        .replace('\n', "\\n");
    let source = format!(
        "title = \"limits\"\n[stack.app_server]\ninterface = \"{interface}\"\n\
         [[request]]\nraw = \"{raw}\"\n"
    );
    let path = Path::new("inline.toml");
    let scenario = validate::parse(path, &source).unwrap_or_else(|e| panic!("{e}"));
    let lesson = Lesson {
        name: "inline".into(),
        path: path.to_path_buf(),
        source,
        scenario,
    };
    let outcome = run(&lesson).unwrap_or_else(|e| panic!("{e}"));
    outcome.trace
}

/// `GET /notes?p=aaa… HTTP/1.1` whose request line is `total` bytes long,
/// CRLF included.
fn line_of(total: usize) -> Vec<u8> {
    let (pre, suf) = ("GET /notes?p=", " HTTP/1.1\r\n");
    let mut raw = pre.as_bytes().to_vec();
    raw.extend(std::iter::repeat_n(b'a', total - pre.len() - suf.len()));
    raw.extend(suf.as_bytes());
    raw.extend(b"Host: example.com\r\n\r\n");
    raw
}

/// `GET /notes` with one `X-Pad` header line of `total` bytes, CRLF included.
fn header_line_of(total: usize) -> Vec<u8> {
    let mut raw = b"GET /notes HTTP/1.1\r\nHost: example.com\r\nX-Pad: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', total - "X-Pad: ".len() - 2));
    raw.extend(b"\r\n\r\n");
    raw
}

/// `GET /notes` with `n` header fields from the client (Host included).
fn fields(n: usize) -> Vec<u8> {
    let mut raw = b"GET /notes HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for i in 1..n {
        raw.extend(format!("X-Field-{i}: v\r\n").bytes());
    }
    raw.extend(b"\r\n");
    raw
}

/// The one request's status, who answered it, and the setting that decided.
fn answer(trace: &Trace) -> (Option<u16>, Option<Layer>, Option<(String, String)>) {
    assert_eq!(trace.requests.len(), 1, "{:#?}", trace.requests);
    let r = &trace.requests[0];
    let knob = r.knob.as_ref().map(|k| (k.name.clone(), k.value.clone()));
    (r.status, r.answered_by, knob)
}

fn knob(name: &str, value: &str) -> Option<(String, String)> {
    Some((name.to_string(), value.to_string()))
}

/// The body the client received.
fn client_body(trace: &Trace) -> String {
    let e = trace
        .events
        .iter()
        .find(|e| e.step == StepId::ClientResponseReceive)
        .expect("a response");
    let text = e
        .data
        .iter()
        .find_map(|d| match d {
            Data::Bytes { bytes, .. } => Some(bytes.text.clone()),
            _ => None,
        })
        .expect("the response bytes");
    text.split_once("\\r\\n\n\\r\\n\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

#[test]
fn the_web_server_passes_an_8192_byte_request_line_and_answers_414_from_8193_crlf_included() {
    for interface in ["wsgi", "asgi"] {
        let (status, by, _) = answer(&through(interface, &line_of(8192)));
        assert_ne!(by, Some(Layer::WebServer), "{interface}: {status:?}");
        for total in [8193, 8194] {
            let trace = through(interface, &line_of(total));
            assert_eq!(
                answer(&trace),
                (
                    Some(414),
                    Some(Layer::WebServer),
                    knob("large_client_header_buffers", "4 8k")
                ),
                "{interface} {total}"
            );
        }
    }
}

#[test]
fn the_web_server_passes_an_8192_byte_header_line_and_answers_400_from_8193_with_nginxs_494_page() {
    for interface in ["wsgi", "asgi"] {
        let (_, by, _) = answer(&through(interface, &header_line_of(8192)));
        assert_ne!(by, Some(Layer::WebServer), "{interface}");
        let trace = through(interface, &header_line_of(8193));
        assert_eq!(
            answer(&trace),
            (
                Some(400),
                Some(Layer::WebServer),
                knob("large_client_header_buffers", "4 8k")
            ),
            "{interface}"
        );
        assert!(
            client_body(&trace).starts_with(
                "<html>\\r\\n\n<head><title>400 Request Header Or Cookie Too Large</title></head>\\r\\n\n\
                 <body>\\r\\n\n<center><h1>400 Bad Request</h1></center>\\r\\n\n\
                 <center>Request Header Or Cookie Too Large</center>\\r\\n\n<hr>"
            ),
            "{}",
            client_body(&trace)
        );
    }
}

#[test]
fn gunicorn_answers_414_for_a_request_line_over_4094_bytes_without_its_crlf() {
    let (status, by, _) = answer(&through("wsgi", &line_of(4096)));
    assert_eq!((status, by), (Some(200), Some(Layer::Handler)));
    // 4097 bytes: the headers, with X-Request-Id, arrive in the same read.
    // 8192 bytes: the worker refuses before they arrive, and the trace
    // still ties the refusal to the web server's request 1.
    for total in [4097, 8192] {
        let trace = through("wsgi", &line_of(total));
        assert_eq!(
            answer(&trace),
            (
                Some(414),
                Some(Layer::AppServer),
                knob("limit_request_line", "4094")
            ),
            "{total}"
        );
        assert_eq!(trace.requests[0].id, 1);
        let refusal = trace
            .events
            .iter()
            .find(|e| e.step == StepId::AppServerRequestRefuse)
            .expect("the refusal");
        assert_eq!((refusal.request, refusal.conn), (Some(1), Some(1)));
    }
}

#[test]
fn gunicorn_answers_431_for_header_lines_of_8191_and_8192_bytes_with_their_crlf() {
    let (status, by, _) = answer(&through("wsgi", &header_line_of(8190)));
    assert_eq!((status, by), (Some(200), Some(Layer::Handler)));
    for total in [8191, 8192] {
        assert_eq!(
            answer(&through("wsgi", &header_line_of(total))),
            (
                Some(431),
                Some(Layer::AppServer),
                knob("limit_request_field_size", "8190")
            ),
            "{total}"
        );
    }
}

#[test]
fn gunicorn_answers_431_for_more_than_100_fields_counting_the_four_the_web_server_adds() {
    let (status, _, _) = answer(&through("wsgi", &fields(96)));
    assert_eq!(status, Some(200));
    assert_eq!(
        answer(&through("wsgi", &fields(97))),
        (
            Some(431),
            Some(Layer::AppServer),
            knob("limit_request_fields", "100")
        )
    );
}

#[test]
fn uvicorn_has_no_request_line_field_size_or_field_count_limit() {
    for raw in [
        line_of(4097),
        line_of(8192),
        header_line_of(8192),
        fields(101),
    ] {
        let trace = through("asgi", &raw);
        assert_eq!(
            answer(&trace),
            (Some(200), Some(Layer::Handler), None),
            "{}",
            String::from_utf8_lossy(&raw[..40])
        );
        assert!(
            !trace
                .events
                .iter()
                .any(|e| e.step == StepId::AppServerRequestRefuse)
        );
    }
}

#[test]
fn uvicorn_reads_a_head_over_h11s_16_kib_when_it_arrives_whole() {
    // Four 7000-byte header lines: each fits nginx's 8k buffers, the head
    // (28 KB) fits its four; the web server writes it at once and uvicorn
    // reads it at once, so h11 never holds it incomplete.
    let mut raw = b"GET /notes HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for i in 0..4 {
        raw.extend(format!("X-Pad-{i}: ").bytes());
        raw.extend(std::iter::repeat_n(b'a', 7000));
        raw.extend(b"\r\n");
    }
    raw.extend(b"\r\n");
    assert_eq!(
        answer(&through("asgi", &raw)),
        (Some(200), Some(Layer::Handler), None)
    );
}
