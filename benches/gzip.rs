//! The gzip filter's compressor: MB/s of input at `gzip_comp_level` 1
//! (nginx's default) and 6 (zlib's default), and the size each gives, on
//! text like the lessons send: a 64 KiB notes list (JSON, notes made of
//! words drawn by a fixed-seed generator, so nothing repeats exactly) and
//! the site's style sheet repeated to 64 KiB.
//!
//! `cargo bench --bench gzip`

use std::hint::black_box;
use std::time::Instant;

use roundtrip::server::gzip::compress;

const WORDS: [&str; 24] = [
    "milk", "eggs", "coffee", "meeting", "tomorrow", "morning", "database", "request", "note",
    "shopping", "call", "dentist", "invoice", "garden", "train", "ticket", "birthday", "present",
    "library", "book", "return", "friday", "lunch", "report",
];

/// A notes list of about `size` bytes, as `GET /notes` would send it.
fn notes_json(size: usize) -> Vec<u8> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut word = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        WORDS[(seed % WORDS.len() as u64) as usize]
    };
    let mut out = String::from("[");
    let mut id = 1;
    while out.len() < size {
        let title: Vec<&str> = (0..3).map(|_| word()).collect();
        let body: Vec<&str> = (0..12).map(|_| word()).collect();
        out.push_str(&format!(
            r#"{{"id":{id},"title":"{}","body":"{}"}},"#,
            title.join(" "),
            body.join(" ")
        ));
        id += 1;
    }
    out.pop();
    out.push(']');
    out.into_bytes()
}
const CSS: &str = include_str!("../scenarios/site/static/css/site.css");

fn repeated(text: &str, size: usize) -> Vec<u8> {
    text.bytes().cycle().take(size).collect()
}

fn main() {
    let inputs = [
        ("notes JSON", notes_json(64 * 1024)),
        ("style sheet", repeated(CSS, 64 * 1024)),
    ];
    for (name, input) in inputs {
        for level in [1u32, 6] {
            // Warm up, then time enough rounds for a stable figure.
            let size = compress(&input, level).len();
            let rounds = 200u32;
            let start = Instant::now();
            for _ in 0..rounds {
                black_box(compress(black_box(&input), level));
            }
            let secs = start.elapsed().as_secs_f64();
            let mb = input.len() as f64 * f64::from(rounds) / 1e6;
            println!(
                "gzip level {level}, {name} {} KiB: {:.0} MB/s, {} → {} bytes ({:.1}%)",
                input.len() / 1024,
                mb / secs,
                input.len(),
                size,
                size as f64 * 100.0 / input.len() as f64
            );
        }
    }
}
