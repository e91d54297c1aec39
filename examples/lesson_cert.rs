//! Writes the lessons' certificate and key (scenarios/tls/lesson.crt and
//! lesson.key): self-signed, Ed25519 (its signatures are always 64 bytes,
//! so a handshake's byte counts are the same in every run), for the
//! lesson host example.com and for localhost, valid 2025–2125.
//!
//! Run once: `cargo run --example lesson_cert`. The files are committed;
//! running it again makes a new key, and the goldens stay as they are
//! (they show the certificate's names and dates, which do not change).

use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ED25519, date_time_ymd};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = KeyPair::generate_for(&PKCS_ED25519)?;
    let mut params = CertificateParams::new(vec![
        "example.com".to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "roundtrip lesson");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "roundtrip");
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2125, 1, 1);
    let cert = params.self_signed(&key)?;
    std::fs::write("scenarios/tls/lesson.crt", cert.pem())?;
    // ring writes a PKCS#8 v2 document (RFC 5958, with the public key),
    // which OpenSSL 3.0 cannot read: keep the v1 form (RFC 5208) of the
    // same key, which rustls and nginx both read. Its DER is a fixed
    // 16-byte prefix and the 32-byte seed, taken from the v2 document.
    let der = key.serialize_der();
    let seed = der
        .get(16..48)
        .ok_or("an Ed25519 PKCS#8 document is longer")?;
    let mut v1 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v1.extend_from_slice(seed);
    let pem = pem_block("PRIVATE KEY", &v1);
    std::fs::write("scenarios/tls/lesson.key", pem)?;
    Ok(())
}

/// A PEM block (RFC 7468) of `der`.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
