//! `serve --tls` over real TCP: a real TLS client (rustls, trusting the
//! certificate made at start; curl -k when it is installed), the redirect
//! from plain HTTP, HSTS only over TLS, and clients that break or stall
//! the handshake without holding up anyone else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use roundtrip::clock::Clock;
use roundtrip::stack::{self, Running, StackConfig, TcpTls};
use roundtrip::tls::certificate::{Identity, SERVE_NAMES};
use roundtrip::tls::client_hello::build;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A guard for a test that would otherwise hang on a bug: never waited
/// out when things work.
const PATIENCE: Duration = Duration::from_secs(20);

struct Served {
    plain: SocketAddr,
    tls: SocketAddr,
    client: Arc<rustls::ClientConfig>,
    _running: Running,
}

async fn serve(redirect_http: bool, hsts: Option<&str>) -> Served {
    let mut config = StackConfig::default();
    config.web_server.redirect_http = redirect_http;
    config.web_server.strict_transport_security = hsts.map(str::to_string);
    let identity =
        Identity::self_signed(&SERVE_NAMES, std::time::SystemTime::now()).expect("a certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(identity.chain[0].clone()).expect("trusted");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let tls = TcpTls {
        listen: any,
        identity,
    };
    let (plain, _, tls, running) = stack::start_tcp_tls(
        &config,
        any,
        Some(tls),
        Clock::real(),
        stack::site::bundled(),
    )
    .await
    .expect("the stack starts");
    Served {
        plain,
        tls: tls.expect("a TLS listener"),
        client: Arc::new(client),
        _running: running,
    }
}

/// One request over TLS; the whole response as text.
async fn https_get(s: &Served, path: &str) -> String {
    let tcp = TcpStream::connect(s.tls).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(s.client.clone());
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rustls_client_gets_the_notes_over_tls_with_hsts_and_plain_http_gets_no_hsts() {
    let s = serve(false, Some("max-age=600")).await;
    let over_tls = tokio::time::timeout(PATIENCE, https_get(&s, "/notes"))
        .await
        .expect("in time");
    assert!(over_tls.starts_with("HTTP/1.1 200 OK"), "{over_tls}");
    assert!(over_tls.contains("Strict-Transport-Security: max-age=600\r\n"));
    let plain = http_get(s.plain, "/notes").await;
    assert!(plain.starts_with("HTTP/1.1 200 OK"), "{plain}");
    assert!(!plain.contains("Strict-Transport-Security"), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_redirected_to_the_same_url_over_https() {
    let s = serve(true, None).await;
    let answer = http_get(s.plain, "/notes?sort=new").await;
    assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
    let location = format!(
        "Location: https://localhost:{}/notes?sort=new\r\n",
        s.tls.port()
    );
    assert!(answer.contains(&location), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_1_0_client_gets_the_protocol_version_alert() {
    let s = serve(false, None).await;
    let mut tcp = TcpStream::connect(s.tls).await.expect("connect");
    tcp.write_all(&build::legacy(0x0301, "localhost", &[0x002f]))
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut out)).await;
    assert_eq!(out, vec![21, 3, 1, 0, 2, 2, 70]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_a_stalled_handshake_do_not_hold_up_another_client() {
    let s = serve(false, None).await;
    // A client that stops halfway through its hello, and keeps the
    // connection open.
    let hello = build::legacy(0x0303, "localhost", &[0x1301]);
    let mut stalled = TcpStream::connect(s.tls).await.expect("connect");
    stalled
        .write_all(&hello[..hello.len() / 2])
        .await
        .expect("write");
    // A client sending bytes that are not TLS at all, but not HTTP either.
    let mut garbage = TcpStream::connect(s.tls).await.expect("connect");
    garbage
        .write_all(&[22, 3, 1, 0, 4, 9, 9, 9, 9])
        .await
        .expect("write");
    let mut refused = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, garbage.read_to_end(&mut refused)).await;
    assert_eq!(refused.first(), Some(&21), "an alert record: {refused:?}");
    let served = tokio::time::timeout(PATIENCE, https_get(&s, "/notes/1"))
        .await
        .expect("served while the other connection stalls");
    assert!(served.starts_with("HTTP/1.1 200 OK"), "{served}");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_k_gets_the_notes_over_tls() {
    let s = serve(false, None).await;
    let url = format!("https://127.0.0.1:{}/notes", s.tls.port());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{ssl_verify_result}",
            ])
            .arg(&url)
            .output()
    })
    .await
    .expect("joined");
    let Ok(out) = out else {
        eprintln!("curl is not installed: skipping the curl -k check");
        return;
    };
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("200 "), "curl said {said:?}");
}
