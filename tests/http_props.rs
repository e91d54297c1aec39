//! Property tests for the HTTP/1.1 codec: arbitrary bytes never panic, and
//! valid requests parse back to what was written.

use proptest::prelude::*;
use roundtrip::http::chunked::{ChunkedDecoder, encode};
use roundtrip::http::parse::{Parsed, parse_request_head, parse_response_head};
use roundtrip::http::{HeadLimits, Headers, RequestHead, Version, write};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_request_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_request_head(&bytes, &HeadLimits::NGINX);
        let _ = parse_request_head(&bytes, &HeadLimits::GUNICORN);
        let _ = parse_request_head(&bytes, &HeadLimits::UVICORN_H11);
        let _ = parse_response_head(&bytes, &HeadLimits::NGINX);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_chunked_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        unlimited in any::<bool>(),
    ) {
        let mut d = ChunkedDecoder::new(if unlimited { u64::MAX } else { 1 << 20 });
        let _ = d.feed(&bytes);
    }

    #[test]
    fn written_requests_parse_back_to_the_same_head(
        method in "(GET|POST|PUT|DELETE|PATCH|OPTIONS)",
        path in "/[a-z0-9/_.-]{0,40}",
        query in proptest::option::of("[a-z0-9=&]{1,20}"),
        fields in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,30}"), 0..12),
    ) {
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        for (n, v) in &fields {
            if n.eq_ignore_ascii_case("host") { continue; }
            headers.push(n.clone(), v.trim().to_string());
        }
        let head = RequestHead { method, target, version: Version::Http11, headers };
        let bytes = write::request_head(&head);
        match parse_request_head(&bytes, &HeadLimits::NGINX) {
            Ok(Parsed::Complete { head: parsed, consumed }) => {
                prop_assert_eq!(consumed, bytes.len());
                prop_assert_eq!(parsed, head);
            }
            other => prop_assert!(false, "did not parse back: {:?}", other),
        }
    }

    #[test]
    fn a_head_split_anywhere_is_partial_then_complete(split in 0usize..60) {
        let bytes = b"GET /notes HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
        let split = split.min(bytes.len() - 1);
        let first = parse_request_head(&bytes[..split], &HeadLimits::NGINX);
        prop_assert_eq!(first, Ok(Parsed::Partial));
        let whole = parse_request_head(bytes, &HeadLimits::NGINX);
        let complete = matches!(whole, Ok(Parsed::Complete { .. }));
        prop_assert!(complete);
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_sizes(
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        step in 1usize..97,
    ) {
        let wire = encode(&body);
        let mut d = ChunkedDecoder::new(1 << 20);
        for piece in wire.chunks(step) {
            let used = d.feed(piece).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(used, piece.len());
        }
        prop_assert!(d.is_done());
        prop_assert_eq!(d.body(), &body[..]);
    }
}

/// A client that sends nothing but empty lines, or a head that never ends,
/// is refused once it passes the limits: the buffer cannot grow without bound.
#[tokio::test]
async fn endless_input_is_refused_within_the_limits() {
    use roundtrip::http::HttpConn;
    use roundtrip::http::conn::ReadError;
    use tokio::io::AsyncWriteExt;

    for filler in [&b"\r\n"[..], &b"GET /"[..], &b"X-A: b\r\n"[..]] {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            if filler == b"X-A: b\r\n" {
                let _ = client.write_all(b"GET / HTTP/1.1\r\n").await;
            }
            for _ in 0..100_000 {
                if client.write_all(filler).await.is_err() {
                    break;
                }
            }
        });
        let mut conn = HttpConn::new(server);
        let limits = HeadLimits::NGINX;
        let result = conn.read_head(|b| parse_request_head(b, &limits)).await;
        assert!(
            matches!(result, Err(ReadError::Parse(_))),
            "{:?}",
            result.err()
        );
        let bound = limits.max_head_bytes.expect("nginx bounds the head");
        assert!(conn.buffered().len() <= bound + 16 * 1024);
        drop(conn);
        let _ = writer.await;
    }
}
