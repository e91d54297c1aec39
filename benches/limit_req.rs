//! The cost of one `limit_req` decision (`limit_req::decide`: the bucket's
//! arithmetic and the zone's bookkeeping), per request, in three cases:
//! one client hammering (its bucket found every time), 10,000 clients
//! taking turns in a zone that holds them all, and 10,000 clients in a
//! zone that holds 1,000 (every request evicts the least recently used).
//! Printed beside the cost of formatting one `Date` header, a fixed cost
//! every response pays, so the figures read as ratios on any machine.
//!
//! `cargo bench --bench limit_req`

use std::hint::black_box;
use std::time::Instant;

use roundtrip::server::limit_req::{LimitRate, LimitReq, Zone, decide};

const ROUNDS: u64 = 2_000_000;

fn per_decision(zone: &mut Zone, limit: &LimitReq, keys: &[String]) -> f64 {
    let start = Instant::now();
    for i in 0..ROUNDS {
        let key = &keys[(i as usize) % keys.len()];
        // One millisecond per request: buckets leak and refill.
        black_box(decide(zone, limit, key, i));
    }
    start.elapsed().as_nanos() as f64 / ROUNDS as f64
}

fn main() {
    let rate = LimitRate::parse("10r/s").expect("a rate");
    let limit = LimitReq {
        zone: "one".into(),
        burst: 20,
        nodelay: true,
        delay: None,
    };
    let many: Vec<String> = (0..10_000u32)
        .map(|i| std::net::Ipv4Addr::from(0xc633_6400 + i).to_string())
        .collect();
    let one = vec!["203.0.113.7".to_string()];

    let date = {
        let clock = roundtrip::clock::Clock::starting_at(0);
        let start = Instant::now();
        for _ in 0..ROUNDS / 10 {
            black_box(clock.http_date());
        }
        start.elapsed().as_nanos() as f64 / (ROUNDS / 10) as f64
    };
    let rows = [
        (
            "1 client",
            per_decision(&mut Zone::new(rate, 16_384), &limit, &one),
        ),
        (
            "10,000 clients, zone of 16,384",
            per_decision(&mut Zone::new(rate, 16_384), &limit, &many),
        ),
        (
            "10,000 clients, zone of 1,000 (evicting)",
            per_decision(&mut Zone::new(rate, 1_000), &limit, &many),
        ),
    ];
    println!("limit_req decision cost ({ROUNDS} decisions each)");
    println!(
        "{:<44} {:>10} {:>14}",
        "case", "ns/decision", "÷ one Date header"
    );
    for (name, ns) in rows {
        println!("{name:<44} {ns:>10.1} {:>14.2}", ns / date);
    }
    println!(
        "{:<44} {date:>10.1} {:>14.2}",
        "(one Date header, for scale)", 1.0
    );
}
