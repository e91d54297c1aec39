//! TLS full handshakes per second: `serve --tls` (rustls with *ring*)
//! against nginx (OpenSSL), both with the lessons' certificate (Ed25519),
//! both answering on 127.0.0.1, with the ratio in the same run. The
//! client is rustls too, with resumption off: every connection is a full
//! TLS 1.3 handshake (X25519, then one signature), closed as soon as it
//! is done. Once with one client (one handshake at a time), once with
//! four at once. roundtrip's side runs without a recorder, as
//! `serve --no-record`. nginx: one worker, session cache and tickets off;
//! skipped (with a message) when nginx is not installed.
//!
//! `cargo bench --bench tls_handshake`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roundtrip::clock::Clock;
use roundtrip::stack::{self, StackConfig, TcpTls};
use roundtrip::tls::certificate::{Identity, LESSON_CERT_PEM, LESSON_KEY_PEM};
use tokio::net::TcpStream;

const RUN_FOR: Duration = Duration::from_secs(3);

fn client() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let id = Identity::lesson().expect("the lesson certificate");
    roots.add(id.chain[0].clone()).expect("a root");
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

/// Full handshakes per second against `addr` with `clients` at once.
async fn rate(addr: SocketAddr, clients: usize) -> f64 {
    let config = client();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (config, done) = (config.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let connector = tokio_rustls::TlsConnector::from(config);
            while start.elapsed() < RUN_FOR {
                let Ok(tcp) = TcpStream::connect(addr).await else {
                    continue;
                };
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
                if connector.connect(name, tcp).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Nginx(Child, PathBuf);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_nginx(port: u16) -> Option<Nginx> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let dir = std::env::temp_dir().join(format!("roundtrip-tls-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tmp")).ok()?;
    std::fs::write(dir.join("lesson.crt"), LESSON_CERT_PEM).ok()?;
    std::fs::write(dir.join("lesson.key"), LESSON_KEY_PEM).ok()?;
    let conf = format!(
        "worker_processes 1;\npid nginx.pid;\nerror_log error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path tmp/cb;\n  proxy_temp_path tmp/p;\n\
           fastcgi_temp_path tmp/f;\n  uwsgi_temp_path tmp/u;\n  scgi_temp_path tmp/s;\n\
           server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate lesson.crt;\n\
             ssl_certificate_key lesson.key;\n    ssl_protocols TLSv1.2 TLSv1.3;\n\
             ssl_session_cache off;\n    ssl_session_tickets off;\n\
             location / {{ return 204; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).ok()?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .args(["-c", "nginx.conf", "-e", "error.log", "-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let nginx = Nginx(child, dir);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(nginx);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let (ours, _running) = rt.block_on(async {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let tls = TcpTls {
            listen: any,
            identity: Identity::lesson().expect("the lesson certificate"),
        };
        let (_, _, tls, running) = stack::start_tcp_tls(
            &StackConfig::default(),
            any,
            Some(tls),
            Clock::real(),
            stack::site::bundled(),
        )
        .await
        .expect("the stack starts");
        (tls.expect("a TLS listener"), running)
    });
    let port = free_port();
    let nginx = start_nginx(port);
    if nginx.is_none() {
        println!("nginx is not installed (or did not start): only roundtrip is measured");
    }
    // The client has a runtime of its own, so its work is not counted
    // as the server's.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!("TLS 1.3 full handshakes per second, Ed25519 certificate, {RUN_FOR:?} each");
    for clients in [1, 4] {
        let r = client_rt.block_on(rate(ours, clients));
        print!("  c{clients}: roundtrip serve --tls {r:8.0}/s");
        if nginx.is_some() {
            let n = client_rt.block_on(rate(SocketAddr::from(([127, 0, 0, 1], port)), clients));
            print!("   nginx {n:8.0}/s   ratio {:.2}x", r / n);
        }
        println!();
    }
    drop(nginx);
}
