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

/// Escape `bytes` for display, keeping at most `limit` of them.
pub fn show_at_most(bytes: &[u8], limit: usize) -> ShownBytes {
    let kept = &bytes[..bytes.len().min(limit)];
    // Room for the escapes of a typical head: `\r\n` grows to 5 characters.
    let mut text = String::with_capacity(kept.len() + kept.len() / 4 + 8);
    // Runs of printable ASCII (most of any HTTP message) are copied whole;
    // only the bytes between them are escaped one by one.
    let mut rest = kept;
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        if run > 0 {
            // Printable ASCII is valid UTF-8.
            text.push_str(std::str::from_utf8(&rest[..run]).unwrap_or_default());
        }
        let Some((&b, tail)) = rest[run..].split_first() else {
            break;
        };
        match b {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n\n"),
            b'\t' => text.push_str("\\t"),
            b'\\' => text.push_str("\\\\"),
            _ => push_hex(&mut text, b),
        }
        rest = tail;
    }
    ShownBytes {
        text,
        len: bytes.len(),
        truncated: bytes.len() - kept.len(),
    }
}

/// A byte shown as itself: printable ASCII except the escape character.
fn plain(b: u8) -> bool {
    matches!(b, 0x20..=0x7e) && b != b'\\'
}

/// `\xNN`, lower-case hex.
pub(crate) fn push_hex(text: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    text.push('\\');
    text.push('x');
    text.push(char::from(HEX[usize::from(b >> 4)]));
    text.push(char::from(HEX[usize::from(b & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

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
