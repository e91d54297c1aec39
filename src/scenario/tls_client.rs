//! The lesson's TLS client: rustls, over the same in-memory pipe as every
//! other lesson connection, trusting exactly one certificate (the one
//! shipped with the lessons) and reading the time from the lesson's
//! clock, so its checks give the same answer on every run and every date.
//!
//! It can also be a client the server must refuse, byte for byte: a
//! ClientHello offering only TLS 1.0 or 1.1 (as a client from before 2008
//! sends it), a broken handshake record, half a ClientHello and then
//! silence, or plain HTTP sent to the TLS port.
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clock::Clock;
use crate::net::{Stream, TlsConn};
use crate::tls::certificate::{CertError, ClockTime, Identity, provider};
use crate::tls::client_hello::{self, alert_name, version_name};
use crate::tls::wire::Wire;
use crate::trace::emit::Step;
use crate::trace::{Data, Direction, Failure, Instance, Kind, StepId};

/// The ALPN protocols offered, as curl offers them.
pub const ALPN_OFFERED: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How a lesson's client starts a connection to the TLS port
/// (`tls_hello` in a `[[request]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloKind {
    /// A real TLS 1.2/1.3 client (rustls), checking the certificate.
    Rustls,
    /// A hand-made ClientHello offering only this version (0x0301 TLS 1.0,
    /// 0x0302 TLS 1.1) and that version's cipher suites.
    Legacy(u16),
    /// A handshake record whose ClientHello does not add up.
    Garbage,
    /// Half a ClientHello, then nothing.
    Stall,
    /// No TLS: the HTTP request in the clear.
    Plain,
}

impl HelloKind {
    pub fn parse(name: &str) -> Option<HelloKind> {
        Some(match name {
            "rustls" => HelloKind::Rustls,
            "TLSv1.0" => HelloKind::Legacy(0x0301),
            "TLSv1.1" => HelloKind::Legacy(0x0302),
            "garbage" => HelloKind::Garbage,
            "stall" => HelloKind::Stall,
            "plain" => HelloKind::Plain,
            _ => return None,
        })
    }
}

/// The lesson client's TLS configuration: trusts the lesson certificate
/// only, checks it at the lesson clock's time.
pub fn config(clock: Clock) -> Result<Arc<rustls::ClientConfig>, CertError> {
    let identity = Identity::lesson()?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in identity.chain {
        roots.add(cert).map_err(|e| CertError::Unreadable {
            what: identity.source.clone(),
            why: e.to_string(),
        })?;
    }
    let mut config =
        rustls::ClientConfig::builder_with_details(provider(), Arc::new(ClockTime(clock)))
            .with_safe_default_protocol_versions()
            .map_err(|e| CertError::Generate(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = ALPN_OFFERED.iter().map(|p| p.to_vec()).collect();
    // No session resumption between a lesson's connections: each one
    // shows a full handshake.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Run the client's handshake for `sni` on `stream`. `None` when it failed
/// (the step says why).
pub async fn handshake(
    stream: Stream,
    config: &Arc<rustls::ClientConfig>,
    sni: &str,
    me: &Instance,
) -> Option<Stream> {
    let wire = Wire::new(stream, Vec::new());
    let counts = wire.counts();
    let name = match rustls::pki_types::ServerName::try_from(sni.to_string()) {
        Ok(n) => n,
        Err(e) => {
            fail(me, format!("cannot ask for the name {sni}: {e}"));
            return None;
        }
    };
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    match connector.connect(name, wire).await {
        Ok(session) => {
            let crate::tls::Agreed {
                version,
                suite,
                alpn,
            } = crate::tls::Agreed::of(session.get_ref().1);
            let (read, written) = counts.totals();
            Step::new(StepId::ClientTlsHandshake, Direction::Within, Kind::Step)
                .instance(me.clone())
                .summary(format!(
                    "TLS handshake done for {sni}: the certificate chains to the one it trusts, \
                     names {sni} and is valid now; {version}, {suite}, ALPN {alpn} \
                     ({written} bytes sent, {read} received)"
                ))
                .data(Data::Fields {
                    entries: vec![
                        ("server name asked for".into(), sni.to_string()),
                        ("version".into(), version),
                        ("cipher suite".into(), suite),
                        ("alpn".into(), alpn),
                        ("bytes sent".into(), written.to_string()),
                        ("bytes received".into(), read.to_string()),
                    ],
                })
                .emit();
            Some(Stream::Tls(Box::new(TlsConn {
                session: tokio_rustls::TlsStream::Client(session),
                counts,
                add_header: Vec::new(),
            })))
        }
        Err(e) => {
            let alert = counts
                .alert_received()
                .map(|a| format!("; the server sent the alert {}", alert_name(a)))
                .unwrap_or_default();
            fail(
                me,
                format!("the TLS handshake for {sni} failed: {e}{alert}"),
            );
            None
        }
    }
}

fn fail(me: &Instance, why: String) {
    Step::new(StepId::ClientTlsHandshake, Direction::Within, Kind::Error)
        .instance(me.clone())
        .summary(why)
        .failure(Failure::Invalid)
        .emit();
}

/// Start a connection as a client the server will refuse, and report what
/// came back. Always `None`: no TLS session comes of it.
pub async fn refused_hello(
    mut stream: Stream,
    kind: HelloKind,
    sni: &str,
    me: &Instance,
) -> Option<Stream> {
    let (bytes, what) = match kind {
        HelloKind::Legacy(v) => (
            // TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA:
            // what such a client offers.
            client_hello::build::legacy(v, sni, &[0x002f, 0x000a]),
            format!("a ClientHello offering only {}", version_name(v)),
        ),
        HelloKind::Garbage => {
            let mut b = client_hello::build::legacy(0x0303, sni, &[0x002f]);
            // The session id's length now says 200: the fields overrun.
            b[5 + 4 + 2 + 32] = 200;
            (
                b,
                "a handshake record whose ClientHello does not add up".into(),
            )
        }
        HelloKind::Stall => {
            let b = client_hello::build::legacy(0x0303, sni, &[0x002f]);
            let half = b.len() / 2;
            (
                b[..half].to_vec(),
                "half a ClientHello, then nothing".into(),
            )
        }
        HelloKind::Rustls | HelloKind::Plain => return Some(stream),
    };
    Step::new(StepId::ClientTlsHandshake, Direction::Down, Kind::Step)
        .instance(me.clone())
        .summary(format!("sends {what} ({} bytes)", bytes.len()))
        .data(Data::Bytes {
            label: "sent".into(),
            bytes: crate::trace::bytes::show(&bytes),
        })
        .emit();
    let _ = stream.write_all(&bytes).await;
    let started = tokio::time::Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    // Read until the server closes (a few bytes: an alert), bounded.
    while got.len() < 64 * 1024 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = match got.as_slice() {
        [client_hello::CONTENT_ALERT, 3, _, 0, 2, _, d, ..] => {
            format!("the alert {} ({} bytes)", alert_name(*d), got.len())
        }
        [] => "nothing".into(),
        other => format!("{} bytes", other.len()),
    };
    Step::new(StepId::ClientTlsHandshake, Direction::Up, Kind::Error)
        .instance(me.clone())
        .summary(format!(
            "gets {answer}, then the server closes the connection ({:.0} s after sending)",
            started.elapsed().as_secs_f64()
        ))
        .failure(Failure::Closed)
        .emit();
    None
}
