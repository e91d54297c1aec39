//! The ClientHello as it arrives: the first bytes of every TLS connection,
//! read field by field before anything is decrypted.
//!
//! ```text
//! record (RFC 8446 §5.1)   type 22 · legacy_record_version · length ≤ 2^14
//! handshake (§4)           msg_type 1 (client_hello) · length (24 bits)
//! ClientHello (§4.1.2)     legacy_version · random[32] · legacy_session_id
//!                          cipher_suites · legacy_compression_methods
//!                          extensions (§4.2): server_name (RFC 6066 §3),
//!                          application_layer_protocol_negotiation (RFC 7301 §3.1),
//!                          supported_versions (RFC 8446 §4.2.1), …
//! ```
//!
//! This parser is the lesson: it is how a server (and the trace) learns
//! which name the client asked for, which protocols it would speak after
//! the handshake, and which versions and cipher suites it offers, all in
//! plain text before a key is agreed. rustls then reads the same bytes
//! again and does the handshake itself; nothing here decides it.
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

/// A ClientHello may span several records; past this many bytes it is not
/// read further (a real one is a few hundred bytes, under 2 KiB even with
/// post-quantum key shares).
pub const MAX_HELLO_BYTES: usize = 16 * 1024;

/// The largest record fragment a peer may send (RFC 8446 §5.1: 2^14).
const MAX_FRAGMENT: usize = 1 << 14;

/// Record content type of a handshake message (RFC 8446 §5.1).
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Record content type of an alert (RFC 8446 §5.1, §6).
pub const CONTENT_ALERT: u8 = 21;

/// What a ClientHello offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version`: 0x0303 in every TLS 1.3 hello; an older client's
    /// highest version.
    pub legacy_version: u16,
    /// The `supported_versions` extension's list, GREASE values removed;
    /// empty when the extension is absent (a client older than TLS 1.3).
    pub supported_versions: Vec<u16>,
    /// Cipher suites offered, in the client's order (GREASE removed).
    pub cipher_suites: Vec<u16>,
    /// The host name of the `server_name` extension (SNI), if sent.
    pub server_name: Option<String>,
    /// ALPN protocol names offered, in order.
    pub alpn: Vec<String>,
    /// Bytes of the records that carried the hello.
    pub wire_bytes: usize,
}

impl ClientHello {
    /// The versions the client can speak, newest first: the
    /// `supported_versions` list, or (without it) every version from
    /// `legacy_version` down to TLS 1.0 (RFC 8446 §4.2.1, §D.2).
    pub fn offered_versions(&self) -> Vec<u16> {
        if !self.supported_versions.is_empty() {
            return self.supported_versions.clone();
        }
        (0x0301..=self.legacy_version.min(0x0303)).rev().collect()
    }
}

/// How far the bytes received so far go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// A whole ClientHello.
    Complete(ClientHello),
    /// A good start; more bytes are needed.
    Incomplete,
    /// The first byte is not a handshake record: this is not TLS (a plain
    /// HTTP request on the TLS port, often).
    NotTls,
    /// TLS-shaped, but broken: why.
    Malformed(&'static str),
}

/// Read the ClientHello at the start of `buf`.
pub fn parse(buf: &[u8]) -> Hello {
    let Some(&first) = buf.first() else {
        return Hello::Incomplete;
    };
    if first != CONTENT_HANDSHAKE {
        return Hello::NotTls;
    }
    // Gather the handshake message's bytes from consecutive records.
    let mut message = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = buf.get(at..at + 5) else {
            return Hello::Incomplete;
        };
        if header[0] != CONTENT_HANDSHAKE {
            return Hello::Malformed("the hello's records are interleaved with another type");
        }
        if header[1] != 3 {
            return Hello::Malformed("the record version is not 3.x");
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_FRAGMENT {
            return Hello::Malformed("a record length outside 1..=16384 (RFC 8446 §5.1)");
        }
        let Some(fragment) = buf.get(at + 5..at + 5 + len) else {
            return Hello::Incomplete;
        };
        message.extend_from_slice(fragment);
        at += 5 + len;
        if message.len() >= 4 {
            if message[0] != 1 {
                return Hello::Malformed("the first handshake message is not a client_hello");
            }
            let body_len = (usize::from(message[1]) << 16)
                | (usize::from(message[2]) << 8)
                | usize::from(message[3]);
            if body_len + 4 > MAX_HELLO_BYTES {
                return Hello::Malformed("a ClientHello longer than 16 KiB");
            }
            if message.len() >= body_len + 4 {
                if message.len() > body_len + 4 {
                    return Hello::Malformed("bytes after the ClientHello in its record");
                }
                return match body(&message[4..]) {
                    Some(mut hello) => {
                        hello.wire_bytes = at;
                        Hello::Complete(hello)
                    }
                    None => Hello::Malformed("a ClientHello whose fields do not add up"),
                };
            }
        }
        if at > MAX_HELLO_BYTES {
            return Hello::Malformed("a ClientHello longer than 16 KiB");
        }
    }
}

/// A cursor over the hello's bytes; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a one-byte length.
    fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = usize::from(self.u8()?);
        self.take(n).map(Reader)
    }
    /// A vector with a two-byte length.
    fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = usize::from(self.u16()?);
        self.take(n).map(Reader)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// GREASE values (RFC 8701 §2): 0x?A?A, sent to keep servers tolerant.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn body(bytes: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(bytes);
    let legacy_version = r.u16()?;
    r.take(32)?; // random
    let session_id = r.vec8()?;
    if session_id.0.len() > 32 {
        return None;
    }
    let mut suites = r.vec16()?;
    if suites.0.is_empty() || suites.0.len() % 2 != 0 {
        return None;
    }
    let mut cipher_suites = Vec::new();
    while !suites.is_empty() {
        let s = suites.u16()?;
        if !is_grease(s) {
            cipher_suites.push(s);
        }
    }
    let compression = r.vec8()?;
    if compression.is_empty() {
        return None;
    }
    let mut hello = ClientHello {
        legacy_version,
        supported_versions: Vec::new(),
        cipher_suites,
        server_name: None,
        alpn: Vec::new(),
        wire_bytes: 0,
    };
    // A hello from before TLS 1.2 may stop here, with no extensions.
    if r.is_empty() {
        return Some(hello);
    }
    let mut extensions = r.vec16()?;
    if !r.is_empty() {
        return None;
    }
    while !extensions.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.vec16()?;
        match kind {
            0 => hello.server_name = server_name(&mut data),
            16 => hello.alpn = alpn(&mut data)?,
            43 => {
                let mut list = data.vec8()?;
                while !list.is_empty() {
                    let v = list.u16()?;
                    if !is_grease(v) {
                        hello.supported_versions.push(v);
                    }
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

/// RFC 6066 §3: a list of (name_type, name); host_name is type 0.
fn server_name(data: &mut Reader<'_>) -> Option<String> {
    let mut list = data.vec16()?;
    while !list.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            return std::str::from_utf8(name.0).ok().map(str::to_string);
        }
    }
    None
}

/// RFC 7301 §3.1: a list of non-empty protocol names.
fn alpn(data: &mut Reader<'_>) -> Option<Vec<String>> {
    let mut list = data.vec16()?;
    let mut names = Vec::new();
    while !list.is_empty() {
        let name = list.vec8()?;
        names.push(String::from_utf8_lossy(name.0).into_owned());
    }
    Some(names)
}

/// A version as people write it.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

/// A cipher suite by its IANA name (rustls knows them all).
pub fn suite_name(s: u16) -> String {
    rustls::CipherSuite::from(s)
        .as_str()
        .map_or_else(|| format!("0x{s:04x}"), str::to_string)
}

/// The description of an alert (RFC 8446 §6), by its code.
pub fn alert_name(code: u8) -> String {
    let name = format!("{:?}", rustls::AlertDescription::from(code));
    // rustls spells them in CamelCase; the RFC in snake_case.
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Builders of ClientHellos for lessons and tests: the hello an old client
/// sends, byte for byte.
pub mod build {
    /// A ClientHello record as a TLS 1.0 client (no supported_versions
    /// extension, `legacy_version` 0x0301) sends it for `sni`.
    pub fn legacy(version: u16, sni: &str, suites: &[u16]) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        let mut entry = vec![0u8];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name);
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend_from_slice(&list);
        let mut body = version.to_be_bytes().to_vec();
        // A fixed random: this client's hello is the same in every run.
        body.extend_from_slice(&[0x5a; 32]);
        body.push(0); // no session id
        body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
        for s in suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]); // compression: null only
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut message = vec![1u8];
        message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        let mut record = vec![super::CONTENT_HANDSHAKE, 3, 1];
        record.extend_from_slice(&(message.len() as u16).to_be_bytes());
        record.extend_from_slice(&message);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_old_clients_hello_offers_only_its_versions_and_names_its_host() {
        let bytes = build::legacy(0x0301, "example.com", &[0x002f, 0x0035]);
        let Hello::Complete(hello) = parse(&bytes) else {
            panic!("not parsed: {:?}", parse(&bytes));
        };
        assert_eq!(hello.server_name.as_deref(), Some("example.com"));
        assert_eq!(hello.offered_versions(), vec![0x0301]);
        assert_eq!(hello.cipher_suites, vec![0x002f, 0x0035]);
        assert_eq!(suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(hello.wire_bytes, bytes.len());
    }

    #[test]
    fn every_prefix_of_a_hello_asks_for_more_and_a_plain_request_is_not_tls() {
        let bytes = build::legacy(0x0303, "a.example", &[0xc02f]);
        for end in 0..bytes.len() {
            assert_eq!(parse(&bytes[..end]), Hello::Incomplete, "prefix {end}");
        }
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
    }

    #[test]
    fn alerts_are_named_as_the_rfc_names_them() {
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(50), "decode_error");
        assert_eq!(alert_name(42), "bad_certificate");
    }

    #[test]
    fn grease_values_are_recognised() {
        assert!(is_grease(0x1a1a) && is_grease(0xfafa));
        assert!(!is_grease(0x1a2a) && !is_grease(0x0304));
    }

    proptest! {
        /// Whatever arrives, the parser answers without panicking, and a
        /// hello it accepts is no longer than the bytes it was given.
        #[test]
        fn any_bytes_get_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Hello::Complete(h) = parse(&bytes) {
                prop_assert!(h.wire_bytes <= bytes.len());
            }
        }

        /// Bytes that start as a handshake record, whatever follows.
        #[test]
        fn any_handshake_shaped_bytes_get_an_answer(
            tail in proptest::collection::vec(any::<u8>(), 0..600),
            len in 0u16..700,
        ) {
            let mut bytes = vec![22, 3, 1];
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.push(1);
            bytes.extend_from_slice(&tail);
            let _ = parse(&bytes);
        }

        /// A well-formed hello is read back whole, whatever its name.
        #[test]
        fn a_built_hello_reads_back(sni in "[a-z]{1,20}\\.example", v in 0x0301u16..=0x0303) {
            let bytes = build::legacy(v, &sni, &[0x002f]);
            let Hello::Complete(h) = parse(&bytes) else {
                return Err(TestCaseError::fail("not complete"));
            };
            prop_assert_eq!(h.server_name, Some(sni));
            prop_assert_eq!(h.legacy_version, v);
        }
    }
}
