//! The cost of one balancer choice (`Group::choose_with`, then `finish`
//! when the try is over), per request, for each `upstream` method:
//! round robin (weights 5, 1, 1 and ten equal servers), `least_conn`,
//! `ip_hash`, `hash $request_uri` and `hash $request_uri consistent`
//! (ketama's ring, 160 points per weight). The keys come from 10,000
//! client addresses and 10,000 request URIs taking turns. `hash` pays for
//! the key's CRC-32 too, as it does once per request in the web server.
//!
//! Printed beside the cost of formatting one `Date` header, a fixed cost
//! every response pays, so the figures read as ratios on any machine.
//! `BALANCE_ROUNDS` sets the choices per row (default 2,000,000; a small
//! number suits a run under `valgrind --tool=callgrind`), and
//! `BALANCE_ONLY` runs only the rows whose name contains it.
//!
//! `cargo bench --bench balance`

use std::hint::black_box;
use std::time::Instant;

use roundtrip::server::balance::{Group, Method, ServerConfig};
use roundtrip::server::hash::Walk;

fn servers(weights: &[u32]) -> Vec<(String, ServerConfig)> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            (
                format!("app{}", i + 1),
                ServerConfig {
                    weight: w,
                    ..ServerConfig::default()
                },
            )
        })
        .collect()
}

fn group(method: Method, weights: &[u32], consistent: bool) -> Group {
    let g = Group::new(method, &servers(weights));
    if consistent {
        let addresses: Vec<String> = (0..weights.len())
            .map(|i| format!("127.0.0.1:{}", 8001 + i))
            .collect();
        g.with_ring(&addresses)
    } else {
        g
    }
}

struct Inputs {
    clients: Vec<[u8; 3]>,
    uris: Vec<String>,
}

/// ns per choice: each request chooses once and its try ends well, with
/// the request before it still in flight (so `least_conn` sees a
/// connection to compare).
#[inline(never)]
fn per_choice(g: &mut Group, inputs: &Inputs, keyed: bool, rounds: u64) -> f64 {
    let tried = vec![false; g.peers.len()];
    let mut in_flight: Option<usize> = None;
    let start = Instant::now();
    for n in 0..rounds {
        let at = (n as usize) % inputs.clients.len();
        let mut walk = keyed.then(|| Walk::new(inputs.uris[at].clone()));
        let chosen = g.choose_with(&tried, n / 1000, inputs.clients[at], walk.as_mut());
        if let Some(prev) = in_flight.take() {
            g.finish(prev, false, n / 1000);
        }
        in_flight = black_box(chosen);
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

fn main() {
    let rounds: u64 = std::env::var("BALANCE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2_000_000);
    let inputs = Inputs {
        clients: (0..10_000u32)
            .map(|i| {
                let [a, b, c, _] = (0xc633_6400u32 + (i << 8)).to_be_bytes();
                [a, b, c]
            })
            .collect(),
        uris: (0..10_000u32)
            .map(|i| format!("/notes/{i}?page={}", i % 7))
            .collect(),
    };
    let date = {
        let clock = roundtrip::clock::Clock::starting_at(0);
        let start = Instant::now();
        for _ in 0..rounds / 10 {
            black_box(clock.http_date());
        }
        start.elapsed().as_nanos() as f64 / (rounds / 10).max(1) as f64
    };
    let ten = [1; 10];
    let rows: [(&str, Method, &[u32], bool, bool); 7] = [
        (
            "round robin, weights 5/1/1",
            Method::RoundRobin,
            &[5, 1, 1],
            false,
            false,
        ),
        (
            "round robin, 10 servers",
            Method::RoundRobin,
            &ten,
            false,
            false,
        ),
        (
            "least_conn, 3 servers",
            Method::LeastConn,
            &[1, 1, 1],
            false,
            false,
        ),
        (
            "least_conn, 10 servers",
            Method::LeastConn,
            &ten,
            false,
            false,
        ),
        (
            "ip_hash, 3 servers",
            Method::IpHash,
            &[1, 1, 1],
            false,
            false,
        ),
        (
            "hash $request_uri, 3 servers",
            Method::Hash,
            &[1, 1, 1],
            true,
            false,
        ),
        (
            "hash $request_uri consistent, 3",
            Method::Hash,
            &[1, 1, 1],
            true,
            true,
        ),
    ];
    println!("balancer choice cost ({rounds} choices each)");
    println!(
        "{:<36} {:>10} {:>18}",
        "method", "ns/choice", "÷ one Date header"
    );
    let only = std::env::var("BALANCE_ONLY").unwrap_or_default();
    let mut round_robin = None;
    for (name, method, weights, keyed, consistent) in rows {
        if !name.contains(only.as_str()) {
            continue;
        }
        let mut g = group(method, weights, consistent);
        let ns = per_choice(&mut g, &inputs, keyed, rounds);
        let base = *round_robin.get_or_insert(ns);
        println!(
            "{name:<36} {ns:>10.1} {:>18.2}   ({:.2}× round robin 5/1/1)",
            ns / date,
            ns / base
        );
    }
    println!(
        "{:<36} {date:>10.1} {:>18.2}",
        "(one Date header, for scale)", 1.0
    );
}
