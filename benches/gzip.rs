//! The compressors of the gzip and Brotli filters: MB/s of input at
//! `gzip_comp_level` 1 (nginx's default) and 6 (zlib's default), and at
//! `brotli_comp_level` 1, 6 (ngx_brotli's default) and 11 (the most, for
//! pre-compressed files), with the size each gives and its speed as a
//! ratio of gzip level 1's, on
//! text like the lessons send: a 64 KiB notes list (JSON, notes made of
//! words drawn by a fixed-seed generator, so nothing repeats exactly) and
//! the site's style sheet repeated to 64 KiB.
//!
//! `cargo bench --bench gzip`

use std::hint::black_box;
use std::time::Instant;

use roundtrip::server::{brotli, gzip};

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

/// Time `f` over enough rounds (at least 3, at least half a second) for
/// a stable figure; MB/s of input and the output size.
fn measure(input: &[u8], f: impl Fn(&[u8]) -> Vec<u8>) -> (f64, usize) {
    // Warm up.
    let size = f(input).len();
    let start = Instant::now();
    let mut rounds = 0u32;
    while rounds < 3 || start.elapsed().as_secs_f64() < 0.5 {
        black_box(f(black_box(input)));
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = input.len() as f64 * f64::from(rounds) / 1e6;
    (mb / secs, size)
}

fn main() {
    let inputs = [
        ("notes JSON", notes_json(64 * 1024)),
        ("style sheet", repeated(CSS, 64 * 1024)),
    ];
    for (name, input) in inputs {
        let kib = input.len() / 1024;
        let mut gzip1 = 0.0;
        let report = |coding: &str, level: u32, rate: f64, size: usize, base: f64| {
            println!(
                "{coding} level {level}, {name} {kib} KiB: {rate:.0} MB/s ({:.2}x gzip 1), {} → {size} bytes ({:.1}%)",
                rate / base,
                input.len(),
                size as f64 * 100.0 / input.len() as f64
            );
        };
        for level in [1u32, 6] {
            let (rate, size) = measure(&input, |b| gzip::compress(b, level));
            if level == 1 {
                gzip1 = rate;
            }
            report("gzip", level, rate, size, gzip1);
        }
        let bits = brotli::window_bits(Some(input.len() as u64));
        for level in [1u32, 6, 11] {
            let (rate, size) = measure(&input, |b| brotli::compress(b, level, bits));
            report("br", level, rate, size, gzip1);
        }
    }
}
