//! The server's certificate and key: loaded from PEM files as nginx's
//! `ssl_certificate` / `ssl_certificate_key` name them, or made at start
//! (a self-signed one, for `serve --tls`), and read back for the trace.
//!
//! A certificate (RFC 5280 §4.1) binds a public key to names (the
//! `subjectAltName` extension, §4.2.1.6, is what clients check the host
//! against) for a window of time (`notBefore`..`notAfter`), signed by an
//! issuer. A self-signed certificate is its own issuer, so no client
//! trusts it until told to (`curl -k`, or a lesson's client pinned to it).
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::clock::Clock;

/// The lesson certificate and its key, shipped under `scenarios/tls/`
/// (how they were made: `scenarios/tls/README.md`).
pub const LESSON_CERT_PEM: &str = include_str!("../../scenarios/tls/lesson.crt");
pub const LESSON_KEY_PEM: &str = include_str!("../../scenarios/tls/lesson.key");

/// The names a `serve --tls` certificate is made for.
pub const SERVE_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// A certificate chain and its key, ready for rustls.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// What the trace says about the leaf certificate.
    pub facts: CertFacts,
    /// Where it came from, as the `ssl_certificate` knob shows it.
    pub source: String,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            facts: self.facts.clone(),
            source: self.source.clone(),
        }
    }
}

/// The fields of a certificate a person checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// `notBefore` and `notAfter`, RFC 3339.
    pub not_before: String,
    pub not_after: String,
    /// The `subjectAltName` DNS names and addresses.
    pub names: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{what}: no certificate in it (expected a PEM `BEGIN CERTIFICATE` block)")]
    NoCertificate { what: String },
    #[error("{what}: no private key in it (expected a PEM `BEGIN PRIVATE KEY` block): {why}")]
    NoKey { what: String, why: String },
    #[error("{what}: not a certificate that can be read: {why}")]
    Unreadable { what: String, why: String },
    #[error("could not make a certificate: {0}")]
    Generate(String),
}

impl Identity {
    /// A chain and key from PEM text (`what` names them in errors).
    pub fn from_pem(cert_pem: &str, key_pem: &str, what: &str) -> Result<Identity, CertError> {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .filter_map(Result::ok)
                .collect();
        let Some(leaf) = chain.first() else {
            return Err(CertError::NoCertificate { what: what.into() });
        };
        let facts = CertFacts::read(leaf).map_err(|why| CertError::Unreadable {
            what: what.into(),
            why,
        })?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| CertError::NoKey {
                what: what.into(),
                why: e.to_string(),
            })?;
        Ok(Identity {
            chain,
            key,
            facts,
            source: what.to_string(),
        })
    }

    /// The lessons' certificate.
    pub fn lesson() -> Result<Identity, CertError> {
        Identity::from_pem(LESSON_CERT_PEM, LESSON_KEY_PEM, "lesson.crt")
    }

    /// A fresh self-signed certificate for `names`, valid from a day before
    /// `now` for a year (an Ed25519 key: small and fast).
    pub fn self_signed(names: &[&str], now: std::time::SystemTime) -> Result<Identity, CertError> {
        let generate = |e: rcgen::Error| CertError::Generate(e.to_string());
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(generate)?;
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .map_err(generate)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "roundtrip serve");
        let day = std::time::Duration::from_secs(86_400);
        params.not_before = (now - day).into();
        params.not_after = (now + 365 * day).into();
        let cert = params.self_signed(&key).map_err(generate)?;
        Identity::from_pem(
            &cert.pem(),
            &key.serialize_pem(),
            "a self-signed certificate made at start",
        )
    }
}

impl CertFacts {
    pub fn read(der: &CertificateDer<'_>) -> Result<CertFacts, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
        let when = |t: &x509_parser::time::ASN1Time| {
            u64::try_from(t.timestamp()).map_or_else(|_| t.to_string(), crate::clock::rfc3339)
        };
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                    x509_parser::extensions::GeneralName::IPAddress(ip) => {
                        names.push(ip_text(ip));
                    }
                    _ => {}
                }
            }
        }
        Ok(CertFacts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: when(&cert.validity().not_before),
            not_after: when(&cert.validity().not_after),
            names,
        })
    }
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("{bytes:02x?}"),
    }
}

/// rustls reads the time (to check a certificate's validity and a
/// ticket's age) from the stack's clock: in a lesson that is the lesson's
/// paused clock, so a lesson certificate is checked against the lesson's
/// date, not the machine's.
#[derive(Debug)]
pub struct ClockTime(pub Clock);

impl rustls::time_provider::TimeProvider for ClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            self.0.now().duration_since(std::time::UNIX_EPOCH).ok()?,
        ))
    }
}

/// The crypto rustls uses here: *ring*'s.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lesson_certificate_names_the_lesson_host_and_outlives_the_lessons() {
        let id = Identity::lesson().expect("the shipped certificate loads");
        assert!(id.facts.names.iter().any(|n| n == "example.com"));
        assert_eq!(id.facts.subject, id.facts.issuer, "self-signed");
        assert!(id.facts.not_before.as_str() < "2026-01-01");
        assert!(id.facts.not_after.as_str() > "2076-01-01");
    }

    #[test]
    fn a_made_certificate_covers_localhost_and_the_loopback_address() {
        let id = Identity::self_signed(&SERVE_NAMES, std::time::SystemTime::now())
            .expect("rcgen makes one");
        assert_eq!(id.facts.names, vec!["localhost", "127.0.0.1"]);
    }

    #[test]
    fn a_file_without_a_certificate_or_key_is_refused_by_name() {
        let err = Identity::from_pem("hello", LESSON_KEY_PEM, "x.pem").expect_err("no cert");
        assert!(err.to_string().contains("x.pem: no certificate"));
        let err = Identity::from_pem(LESSON_CERT_PEM, "", "k.pem").expect_err("no key");
        assert!(err.to_string().contains("k.pem: no private key"));
    }
}
