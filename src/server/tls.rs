//! TLS termination: the web server speaks TLS with the client and plain
//! HTTP with everything behind it.
//!
//! ```text
//! client ══TLS records══▶ web server ──plain HTTP, X-Forwarded-Proto: https──▶ app server
//!   ClientHello (RFC 8446 §4.1.2) ─▶ read here, field by field
//!   ◀─ ServerHello, {EncryptedExtensions, Certificate, CertificateVerify, Finished}
//!   {Finished} ─▶ then application data: HTTP, as on a plain connection
//! ```
//!
//! The first flight is read by this crate's own ClientHello parser
//! ([`crate::tls::client_hello`]), because what a ClientHello says in the
//! clear is the lesson: the name asked for (SNI, RFC 6066 §3), the
//! protocols offered for after the handshake (ALPN, RFC 7301 §3.1), the
//! versions (`supported_versions`, RFC 8446 §4.2.1) and the cipher suites.
//! The same bytes are then replayed to rustls, which does the handshake
//! and every refusal itself: the alert a client gets is rustls's.
//!
//! nginx's ngx_http_ssl_module gives the knobs: `ssl_protocols` (default
//! `TLSv1.2 TLSv1.3`), `ssl_certificate` and `ssl_certificate_key`. The
//! handshake must finish within `client_header_timeout` (nginx arms that
//! timer when the connection is accepted and the handshake runs under it).
//! A name no `server_name` matches gets the default server, and so its
//! certificate (nginx's server selection by SNI); it is the client that
//! then refuses a certificate without its name. A plain HTTP request on
//! the TLS port gets nginx's 400 "The plain HTTP request was sent to HTTPS
//! port" (its status 497).
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tracing::Instrument;

use super::WebServer;
use super::error_page::{self, Page};
use crate::net::{Stream, TlsConn};
use crate::tls::certificate::{ClockTime, Identity, provider};
use crate::tls::client_hello::{self, ClientHello, Hello, alert_name, suite_name, version_name};
use crate::tls::wire::{Counts, Wire};
use crate::trace::bytes::show;
use crate::trace::emit::Step;
use crate::trace::{Data, Decision, Direction, Failure, Kind, StepId, Verdict};

/// The protocol ALPN may settle on: this server speaks HTTP/1.1 only.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// One `ssl_protocols` name as rustls's version.
pub fn protocol(name: &str) -> Option<&'static rustls::SupportedProtocolVersion> {
    match name {
        "TLSv1.2" => Some(&rustls::version::TLS12),
        "TLSv1.3" => Some(&rustls::version::TLS13),
        _ => None,
    }
}

/// A listener's TLS side: the server configuration rustls runs, and what
/// the trace says about it.
pub struct Terminator {
    acceptor: tokio_rustls::TlsAcceptor,
    identity: Identity,
    protocols: String,
    /// `ssl_protocols` as version numbers (0x0303 for TLS 1.2, …).
    versions: Vec<u16>,
}

impl Terminator {
    /// The TLS server for `identity`, speaking `ssl_protocols`, reading
    /// the time from `clock`.
    pub fn new(
        identity: Identity,
        ssl_protocols: &[String],
        clock: crate::clock::Clock,
    ) -> Result<Terminator, String> {
        let versions: Vec<_> = ssl_protocols
            .iter()
            .map(|p| protocol(p).ok_or_else(|| format!("ssl_protocols: unknown version `{p}`")))
            .collect::<Result<_, _>>()?;
        let mut config =
            rustls::ServerConfig::builder_with_details(provider(), Arc::new(ClockTime(clock)))
                .with_protocol_versions(&versions)
                .map_err(|e| e.to_string())?
                .with_no_client_auth()
                .with_single_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| format!("{}: {e}", identity.source))?;
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        let numbers = versions.iter().map(|v| u16::from(v.version)).collect();
        Ok(Terminator {
            versions: numbers,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            identity,
            protocols: ssl_protocols.join(" "),
        })
    }

    /// Whether any of `offered` is in `ssl_protocols`.
    fn speaks_any(&self, offered: &[u16]) -> bool {
        offered.iter().any(|v| self.versions.contains(v))
    }

    /// The certificate's facts, for a client that wants them.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

/// How a TLS connection's start ended.
pub(super) enum Handshake {
    /// Done: HTTP flows over `stream` now.
    Done(Stream),
    /// Refused or abandoned; the connection is to be closed.
    Closed,
}

/// Run the handshake on a freshly accepted connection, within
/// `client_header_timeout`.
pub(super) async fn handshake(server: &WebServer, tls: &Terminator, stream: Stream) -> Handshake {
    let timeout = server.config.client_header_timeout;
    let deadline = Instant::now() + timeout.0;
    let mut stream = stream;
    let mut first = Vec::new();
    let hello = loop {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Err(_) => {
                timed_out(server, first.len() as u64, 0);
                return Handshake::Closed;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                Step::new(StepId::WebServerClientClose, Direction::Within, Kind::Step)
                    .summary(format!(
                        "the client closed the connection before its ClientHello was whole \
                         ({} bytes received)",
                        first.len()
                    ))
                    .emit();
                return Handshake::Closed;
            }
            Ok(Ok(n)) => first.extend_from_slice(&chunk[..n]),
        }
        match client_hello::parse(&first) {
            Hello::Incomplete if first.len() <= client_hello::MAX_HELLO_BYTES + 5 => continue,
            Hello::Incomplete => break None,
            Hello::NotTls => {
                let id = server.next_request_id();
                return plain_http(server, stream, &first, id)
                    .instrument(crate::trace::emit::request_span(id))
                    .await;
            }
            Hello::Malformed(why) => return malformed(why, stream, &first).await,
            Hello::Complete(hello) => break Some(hello),
        }
    };
    if let Some(hello) = &hello {
        hello_step(server, hello);
        if !tls.speaks_any(&hello.offered_versions()) {
            return old_versions(tls, stream, hello).await;
        }
    }
    let wire = Wire::new(stream, first);
    let counts = wire.counts();
    let accepted = tokio::time::timeout_at(deadline, tls.acceptor.accept(wire)).await;
    match accepted {
        Err(_) => {
            let (read, written) = counts.totals();
            timed_out(server, read, written);
            Handshake::Closed
        }
        Ok(Err(e)) => {
            refused(tls, hello.as_ref(), &counts, &e);
            Handshake::Closed
        }
        Ok(Ok(session)) => {
            done_step(tls, &session, &counts);
            let add_header = server
                .config
                .strict_transport_security
                .iter()
                .map(|v| ("Strict-Transport-Security".to_string(), v.clone()))
                .collect();
            Handshake::Done(Stream::Tls(Box::new(TlsConn {
                session: tokio_rustls::TlsStream::Server(session),
                counts,
                add_header,
            })))
        }
    }
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// `web_server.tls.client_hello`: what the hello offers, and which server
/// its name selects.
fn hello_step(server: &WebServer, hello: &ClientHello) {
    let names = &server.config.server_name;
    let sni = hello.server_name.as_deref();
    let matched = sni.is_some_and(|n| names.iter().any(|s| s.eq_ignore_ascii_case(n)));
    let choice = match (sni, matched) {
        (Some(n), true) => format!("the name {n} matches server_name: that server's certificate"),
        (Some(n), false) => format!(
            "no server_name matches {n}: the default server for the port answers, \
             with its certificate"
        ),
        (None, _) => "no SNI: the default server for the port answers".to_string(),
    };
    Step::new(StepId::WebServerTlsClientHello, Direction::Down, Kind::Hop)
        .summary(format!(
            "reads the ClientHello ({} bytes, in the clear): asks for {}, offers {}; ALPN {}; {choice}",
            hello.wire_bytes,
            sni.unwrap_or("no name"),
            list(hello.offered_versions().into_iter().map(version_name)),
            list(hello.alpn.iter().cloned()),
        ))
        .data(Data::Fields {
            entries: vec![
                ("server_name (SNI)".into(), sni.unwrap_or("(none)").into()),
                ("alpn offered".into(), list(hello.alpn.iter().cloned())),
                (
                    "versions offered".into(),
                    list(hello.offered_versions().into_iter().map(version_name)),
                ),
                (
                    "cipher suites offered".into(),
                    list(hello.cipher_suites.iter().map(|&s| suite_name(s))),
                ),
                ("legacy_version".into(), version_name(hello.legacy_version)),
                ("record bytes".into(), hello.wire_bytes.to_string()),
            ],
        })
        .decision(
            Decision::new(Verdict::Pass)
            .rule("nginx picks the server by SNI; without a match, the port's default server")
            .input("sni", sni.unwrap_or("(none)"))
            .knob("server_name", list(names.iter().cloned())),
        )
        .emit();
}

/// `web_server.tls.handshake`: what was agreed, and the certificate sent.
fn done_step(tls: &Terminator, session: &tokio_rustls::server::TlsStream<Wire>, counts: &Counts) {
    let crate::tls::Agreed {
        version,
        suite,
        alpn,
    } = crate::tls::Agreed::of(session.get_ref().1);
    let (read, written) = counts.totals();
    let facts = &tls.identity.facts;
    Step::new(StepId::WebServerTlsHandshake, Direction::Up, Kind::Step)
        .summary(format!(
            "completes the TLS handshake: {version}, {suite}, ALPN {alpn}; sent the certificate \
             for {} (issuer {}, valid {} to {}); {read} bytes read and {written} written so \
             far, all ciphertext after the hellos",
            facts.subject, facts.issuer, facts.not_before, facts.not_after
        ))
        .data(Data::Fields {
            entries: vec![
                ("version".into(), version),
                ("cipher suite".into(), suite),
                ("alpn".into(), alpn),
                ("certificate subject".into(), facts.subject.clone()),
                ("certificate issuer".into(), facts.issuer.clone()),
                (
                    "certificate names".into(),
                    list(facts.names.iter().cloned()),
                ),
                ("not before".into(), facts.not_before.clone()),
                ("not after".into(), facts.not_after.clone()),
                ("bytes read so far".into(), read.to_string()),
                ("bytes written so far".into(), written.to_string()),
            ],
        })
        .knob("ssl_protocols", &tls.protocols)
        .knob("ssl_certificate", &tls.identity.source)
        .emit();
}

/// A hello with no version in `ssl_protocols`: the `protocol_version`
/// alert (RFC 8446 §4.2.1; RFC 5246 §E.1), as nginx (OpenSSL) sends it,
/// in a record of the client's own version. rustls on its own would first
/// miss `signature_algorithms` (a TLS 1.2 extension no older client
/// sends) and answer `handshake_failure`; the version is the real reason.
async fn old_versions(tls: &Terminator, mut stream: Stream, hello: &ClientHello) -> Handshake {
    const PROTOCOL_VERSION: u8 = 70;
    const FATAL: u8 = 2;
    let minor = u8::try_from(hello.legacy_version & 0xff)
        .unwrap_or(1)
        .clamp(1, 3);
    let alert = [
        client_hello::CONTENT_ALERT,
        3,
        minor,
        0,
        2,
        FATAL,
        PROTOCOL_VERSION,
    ];
    let offered = list(hello.offered_versions().into_iter().map(version_name));
    Step::new(StepId::WebServerTlsRefuse, Direction::Up, Kind::Error)
        .summary(format!(
            "refuses the handshake: the client offers only {offered}, none of ssl_protocols {}; \
             sends the alert protocol_version and closes",
            tls.protocols
        ))
        .data(Data::Fields {
            entries: vec![
                ("alert sent".into(), alert_name(PROTOCOL_VERSION)),
                ("versions offered".into(), offered.clone()),
                ("alert record".into(), format!("{alert:02x?}")),
            ],
        })
        .decision(
            Decision::new(Verdict::Close)
                .rule("a server that shares no version with the client sends protocol_version")
                .input("offered", offered),
        )
        .knob("ssl_protocols", &tls.protocols)
        .failure(Failure::Invalid)
        .emit();
    let _ = stream.write_all(&alert).await;
    let _ = stream.shutdown().await;
    Handshake::Closed
}

/// `web_server.tls.refuse` for a handshake rustls ended.
fn refused(tls: &Terminator, hello: Option<&ClientHello>, counts: &Counts, e: &std::io::Error) {
    let (read, written) = counts.totals();
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let (why, knob, value): (String, &str, String) = match rustls_error {
        Some(rustls::Error::AlertReceived(alert)) => (
            format!(
                "the client ended the handshake with the alert {} (it refused what it was sent: \
                 a certificate it does not accept, most often)",
                alert_name(u8::from(*alert))
            ),
            "ssl_certificate",
            tls.identity.source.clone(),
        ),
        Some(rustls::Error::PeerIncompatible(why)) => {
            let offered = hello.map_or_else(String::new, |h| {
                format!(
                    " (it offers {})",
                    list(h.offered_versions().into_iter().map(version_name))
                )
            });
            (
                format!("the client has nothing in common with ssl_protocols{offered}: {why:?}"),
                "ssl_protocols",
                tls.protocols.clone(),
            )
        }
        Some(other) => (
            format!("rustls: {other}"),
            "ssl_protocols",
            tls.protocols.clone(),
        ),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => (
            "the client closed the connection after the server's flight, without finishing \
             the handshake: a client does that when it will not accept the certificate"
                .to_string(),
            "ssl_certificate",
            tls.identity.source.clone(),
        ),
        None => (
            format!("the connection failed during the handshake: {e}"),
            "ssl_protocols",
            tls.protocols.clone(),
        ),
    };
    let alert = counts.alert_sent().map(alert_name);
    let received = matches!(rustls_error, Some(rustls::Error::AlertReceived(_)));
    Step::new(StepId::WebServerTlsRefuse, Direction::Up, Kind::Error)
        .summary(match &alert {
            Some(a) => format!("refuses the handshake: {why}; sends the alert {a} and closes"),
            None if received => format!("the handshake fails: {why}; closes"),
            None => format!("refuses the handshake: {why}; closes"),
        })
        .data(Data::Fields {
            entries: vec![
                (
                    "alert sent".into(),
                    alert.clone().unwrap_or("(none)".into()),
                ),
                (
                    "alert received".into(),
                    counts.alert_received().map_or("(none)".into(), alert_name),
                ),
                ("handshake bytes read".into(), read.to_string()),
                ("handshake bytes written".into(), written.to_string()),
            ],
        })
        .decision(
            Decision::new(Verdict::Close)
                .rule("a TLS handshake that fails ends with an alert (RFC 8446 §6.2) and a close")
                .input("alert", alert.unwrap_or("(none)".into())),
        )
        .knob(knob, value)
        .failure(if received {
            Failure::Closed
        } else {
            Failure::Invalid
        })
        .emit();
}

/// The first bytes are TLS-shaped but no ClientHello can be read from
/// them: the `decode_error` alert (RFC 8446 §6.2: "a message could not be
/// decoded because some field was out of the specified range or the
/// length of the message was incorrect"), and close.
async fn malformed(why: &str, mut stream: Stream, first: &[u8]) -> Handshake {
    const DECODE_ERROR: u8 = 50;
    let alert = [client_hello::CONTENT_ALERT, 3, 3, 0, 2, 2, DECODE_ERROR];
    Step::new(StepId::WebServerTlsRefuse, Direction::Up, Kind::Error)
        .summary(format!(
            "reads {} bytes that start like a TLS record but are no ClientHello ({why}): \
             sends the alert decode_error and closes",
            first.len()
        ))
        .data(Data::Bytes {
            label: "received".into(),
            bytes: show(first),
        })
        .data(Data::Fields {
            entries: vec![("alert sent".into(), alert_name(DECODE_ERROR))],
        })
        .decision(
            Decision::new(Verdict::Close)
                .rule("a hello that cannot be decoded gets decode_error (RFC 8446 §6.2)")
                .input("why", why),
        )
        .knob("listen", "443 ssl")
        .failure(Failure::Invalid)
        .emit();
    let _ = stream.write_all(&alert).await;
    let _ = stream.shutdown().await;
    Handshake::Closed
}

/// `web_server.tls.handshake_timeout`.
fn timed_out(server: &WebServer, read: u64, written: u64) {
    let timeout = server.config.client_header_timeout;
    Step::new(StepId::WebServerTlsTimeout, Direction::Within, Kind::Error)
        .summary(format!(
            "the TLS handshake did not finish within client_header_timeout {timeout} \
             ({read} bytes read, {written} written): closes the connection; other connections \
             never waited for it"
        ))
        .decision(
            Decision::new(Verdict::Close)
                .rule("nginx runs the handshake under client_header_timeout")
                .input("bytes_read", read),
        )
        .knob("client_header_timeout", timeout)
        .failure(Failure::TimedOut)
        .emit();
}

/// Plain HTTP on the TLS port: nginx's 497, sent as a 400 page, and close.
async fn plain_http(server: &WebServer, mut stream: Stream, first: &[u8], id: u64) -> Handshake {
    let page = Page::PlainHttpToHttps;
    let (head, body) = error_page::page(
        page,
        server.config.server_tokens,
        &server.clock.http_date(),
        false,
    );
    let mut bytes = crate::http::write::response_head(&head);
    bytes.extend_from_slice(&body);
    Step::new(StepId::WebServerTlsRefuse, Direction::Up, Kind::Error)
        .request(id)
        .ordinal(1)
        .summary(format!(
            "the first byte is 0x{:02x}, not a TLS handshake record (22): a plain HTTP request \
             on the TLS port; answers 400 \"The plain HTTP request was sent to HTTPS port\" in \
             plain text and closes",
            first.first().copied().unwrap_or(0)
        ))
        .data(Data::Bytes {
            label: "received".into(),
            bytes: show(first),
        })
        .data(Data::Bytes {
            label: "response to the client".into(),
            bytes: show(&bytes),
        })
        .decision(
            Decision::new(Verdict::Refuse { status: 400 })
                .rule("nginx answers plain HTTP on an ssl port with 400 (its status 497)")
                .input("first_byte", first.first().copied().unwrap_or(0)),
        )
        .knob("listen", "443 ssl")
        .failure(Failure::Invalid)
        .answer(400)
        .emit();
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
    Handshake::Closed
}

/// `web_server.tls.records`: the ciphertext since the last report. A
/// request that came in the same read as the handshake's last flight is
/// counted with the handshake.
pub(super) fn records_step(counts: &Counts, last: &mut (u64, u64)) {
    let (read, written) = counts.totals();
    let (r, w) = (read - last.0.min(read), written - last.1.min(written));
    *last = (read, written);
    Step::new(StepId::WebServerTlsRecords, Direction::Within, Kind::Step)
        .summary(format!(
            "on the wire, TLS records: {r} bytes read and {w} written since the last count \
             ({read} and {written} on this connection so far); the HTTP above is what they \
             decrypt to, their contents are not shown"
        ))
        .data(Data::Fields {
            entries: vec![
                ("ciphertext bytes read".into(), r.to_string()),
                ("ciphertext bytes written".into(), w.to_string()),
                ("connection total read".into(), read.to_string()),
                ("connection total written".into(), written.to_string()),
            ],
        })
        .emit();
}
