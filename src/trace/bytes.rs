//! Showing bytes to a person: `\r\n` made visible, the rest escaped, long
//! bodies cut with a marker that says how much was left out.
//!
//! HTTP/1.1 is bytes, not text (RFC 9112 §2.2), so we never decode it as
//! UTF-8 here: every byte outside printable ASCII is written as `\xNN`.

use super::model::ShownBytes;

/// How many bytes a trace keeps of one buffer before cutting it.
pub const MAX_SHOWN_BYTES: usize = 2048;

/// Escape `bytes` for display, keeping at most `MAX_SHOWN_BYTES`.
pub fn show(bytes: &[u8]) -> ShownBytes {
    show_at_most(bytes, MAX_SHOWN_BYTES)
}

/// Escape `bytes` for display, keeping at most `limit` of them. Secrets
/// (passwords, session cookies, tokens) are redacted first
/// ([`super::redact`]); `len` still counts the bytes really sent.
pub fn show_at_most(bytes: &[u8], limit: usize) -> ShownBytes {
    let real_len = bytes.len();
    let (redacted, unread) = super::redact::bytes_shown(bytes, limit);
    let bytes: &[u8] = &redacted;
    let kept = &bytes[..bytes.len().min(limit)];
    // Room for the escapes of a typical head: `\r\n` grows to 5 characters.
    let mut text = Vec::with_capacity(kept.len() + kept.len() / 4 + 8);
    escape_into(&mut text, kept, &SHOWN_AS_IS, |b, out| match b {
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\n' => out.extend_from_slice(b"\\n\n"),
        b'\t' => out.extend_from_slice(b"\\t"),
        b'\\' => out.extend_from_slice(b"\\\\"),
        _ => push_hex(out, b),
    });
    ShownBytes {
        text: ascii_string(text),
        len: real_len,
        truncated: bytes.len() - kept.len() + unread,
    }
}

/// Which bytes a display shows as themselves: printable ASCII, except
/// `\` and `also` (another byte the display escapes).
pub(crate) const fn as_is_table(also: u8) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b <= 0x7e {
        table[b] = true;
        b += 1;
    }
    table[b'\\' as usize] = false;
    table[also as usize] = false;
    table
}

/// What [`show_at_most`] copies as it is (`\` is its only escaped printable).
static SHOWN_AS_IS: [bool; 256] = as_is_table(b'\\');

/// Append `bytes` to `out`: runs of bytes that `as_is` allows (most of any
/// HTTP message) are copied whole; every other byte is handed to `escape`.
/// Shared by the trace's byte view and the ASGI `b"..."` repr.
pub(crate) fn escape_into(
    out: &mut Vec<u8>,
    bytes: &[u8],
    as_is: &[bool; 256],
    mut escape: impl FnMut(u8, &mut Vec<u8>),
) {
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if as_is[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        escape(b, out);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// `\xNN`, lower-case hex.
pub(crate) fn push_hex(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xf)],
    ]);
}

/// Escaped text is ASCII, so this never needs the lossy path.
pub(crate) fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_body_is_redacted_only_as_far_as_it_is_shown_and_a_cut_secret_stays_hidden() {
        // A JWT that starts inside what is shown and runs past the
        // window that is redacted: hidden all the same.
        let mut body = vec![b'a'; 2000];
        body.extend_from_slice(b" eyJ");
        body.extend(std::iter::repeat_n(b'x', 10_000));
        body.extend_from_slice(b".y.z and more");
        body.extend(std::iter::repeat_n(b'b', 100_000));
        let shown = show(&body);
        assert!(!shown.text.contains("eyJ"), "{}", &shown.text[1990..]);
        assert!(
            shown.text.contains(super::super::redact::REDACTED),
            "{}",
            &shown.text[1990..]
        );
        assert_eq!(shown.len, body.len());
        // Everything not shown is counted, the unread part included.
        assert!(shown.truncated > 100_000, "{}", shown.truncated);
    }

    #[test]
    fn crlf_is_visible_and_each_line_ends_with_a_newline() {
        let shown = show(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(shown.text, "GET / HTTP/1.1\\r\\n\nHost: a\\r\\n\n\\r\\n\n");
        assert_eq!(shown.len, 27);
        assert_eq!(shown.truncated, 0);
    }

    #[test]
    fn non_ascii_bytes_are_hex_escaped() {
        assert_eq!(show(&[0x00, 0xff, b'a']).text, "\\x00\\xffa");
        assert_eq!(show(b"a\\b\tc\x7f\x1b[0m").text, "a\\\\b\\tc\\x7f\\x1b[0m");
    }

    #[test]
    fn long_buffers_are_cut_and_say_how_much() {
        let shown = show_at_most(&[b'a'; 10], 4);
        assert_eq!(shown.text, "aaaa");
        assert_eq!(shown.len, 10);
        assert_eq!(shown.truncated, 6);
    }
}
