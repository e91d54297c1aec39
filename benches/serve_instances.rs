//! `serve` throughput on `GET /slow` with 1, 2 and 4 app server instances
//! behind one upstream group, the same client concurrency each time,
//! printed beside Little's law.
//!
//! Each instance has one sync worker, and `/slow?ms=S` holds it for S ms,
//! so the group can serve at most `instances × workers / S` requests a
//! second; `C` clients that each wait for their answer before sending the
//! next can make at most `C / S` (Little's law: L = λW, with L = C
//! requests in the system and W = S at best). The prediction is the
//! smaller of the two; the measured rate sits just under it (each request
//! also pays the proxy hop and the connect to the app server). Real TCP
//! on 127.0.0.1, recording off, the stack in this process as `serve` runs
//! it.
//!
//! `cargo bench --bench serve_instances` (BENCH_SECS, default 3, per run)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use roundtrip::clock::Clock;
use roundtrip::server::upstream::{UpstreamConfig, UpstreamServer};
use roundtrip::stack::{self, StackConfig, TcpOptions};

/// Client connections, each sending its next request when the last is answered.
const CLIENTS: u64 = 8;
/// How long `/slow` holds its worker.
const SERVICE_MS: u64 = 50;
/// Sync workers per instance.
const WORKERS: u64 = 1;

/// One keep-alive client: requests answered until `until`.
async fn client(web: SocketAddr, until: Instant, done: Arc<AtomicU64>) {
    let Ok(mut s) = tokio::net::TcpStream::connect(web).await else {
        return;
    };
    let request = format!("GET /slow?ms={SERVICE_MS} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < until {
        if s.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        buf.clear();
        // Read the head, then Content-Length bytes of body.
        let total = loop {
            let mut chunk = [0u8; 2048];
            let n = match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                break end + 4 + length;
            }
        };
        while buf.len() < total {
            let mut chunk = [0u8; 2048];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if buf.starts_with(b"HTTP/1.1 200") {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Requests a second with `instances` instances.
fn measure(instances: u64, secs: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut config = StackConfig::default();
        config.app.db_latency = roundtrip::units::Time(Duration::ZERO);
        config.app_server.workers = WORKERS as usize;
        if instances > 1 {
            config.web_server.upstream = Some(UpstreamConfig {
                server: (0..instances)
                    .map(|i| UpstreamServer::named(&char::from(b'a' + i as u8).to_string()))
                    .collect(),
                ..UpstreamConfig::default()
            });
        }
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let started = stack::start_tcp_with(
            &config,
            TcpOptions {
                listen: any,
                tls: None,
                files: stack::site::bundled(),
                external: None,
                control: any,
            },
            Clock::real(),
        )
        .await
        .expect("the stack starts");
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let until = start + Duration::from_secs(secs);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(client(started.web, until, done.clone())))
            .collect();
        for c in clients {
            let _ = c.await;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        let mut running = started.running;
        running.drain(Duration::from_secs(5)).await;
        running.stop_app(Duration::from_secs(5)).await;
        rate
    })
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let service = SERVICE_MS as f64 / 1000.0;
    println!(
        "serve, GET /slow?ms={SERVICE_MS}, {CLIENTS} keep-alive clients, {WORKERS} sync worker per instance, {secs} s each"
    );
    println!("instances   req/s   Little's law min(C/S, N·W/S)   measured/law   vs 1 instance");
    let mut first = None;
    for n in [1u64, 2, 4] {
        let rate = measure(n, secs);
        let law = (CLIENTS as f64 / service).min((n * WORKERS) as f64 / service);
        let base = *first.get_or_insert(rate);
        println!(
            "{n:>9} {rate:>7.1}   {law:>28.1}   {:>12.2}   {:>12.2}×",
            rate / law,
            rate / base
        );
    }
}
