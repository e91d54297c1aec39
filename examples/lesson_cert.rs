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
    std::fs::write("scenarios/tls/lesson.key", key.serialize_pem())?;
    Ok(())
}
