//! Request-head parsing: roundtrip's parser (limits, Host rules, version
//! check, then httparse) against bare httparse on the same bytes, in the
//! same run, printed as a ratio.
//!
//! `cargo bench --bench http_parse` — or, for a repeatable instruction
//! count, `valgrind --tool=callgrind target/release/deps/http_parse-* once`.

use std::hint::black_box;
use std::time::Instant;

use roundtrip::http::HeadLimits;
use roundtrip::http::parse::parse_request_head;

const REQUEST: &[u8] = b"GET /notes?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: session=0123456789abcdef; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\n\r\n";

fn bare_httparse() -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(black_box(REQUEST)) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => 0,
    }
}

fn roundtrip_parser() -> usize {
    match parse_request_head(black_box(REQUEST), &HeadLimits::NGINX) {
        Ok(roundtrip::http::Parsed::Complete { consumed, .. }) => consumed,
        _ => 0,
    }
}

fn time(f: fn() -> usize, iterations: u32) -> f64 {
    let start = Instant::now();
    let mut sum = 0;
    for _ in 0..iterations {
        sum += f();
    }
    black_box(sum);
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn main() {
    if std::env::args().any(|a| a == "once") {
        // One parse of each, for callgrind.
        black_box(roundtrip_parser());
        return;
    }
    let n = 200_000;
    time(bare_httparse, n / 10);
    time(roundtrip_parser, n / 10);
    let base = time(bare_httparse, n);
    let ours = time(roundtrip_parser, n);
    println!("request head ({} bytes, 9 headers)", REQUEST.len());
    println!("  bare httparse            {base:8.0} ns/parse");
    println!(
        "  roundtrip parse_request  {ours:8.0} ns/parse  ({:.2}x httparse)",
        ours / base
    );
}
