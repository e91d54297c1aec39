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
    let mut text = String::with_capacity(kept.len() + kept.len() / 8);
    for &b in kept {
        match b {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n\n"),
            b'\t' => text.push_str("\\t"),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(b as char),
            _ => text.push_str(&format!("\\x{b:02x}")),
        }
    }
    ShownBytes {
        text,
        len: bytes.len(),
        truncated: bytes.len() - kept.len(),
    }
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
    }

    #[test]
    fn long_buffers_are_cut_and_say_how_much() {
        let shown = show_at_most(&[b'a'; 10], 4);
        assert_eq!(shown.text, "aaaa");
        assert_eq!(shown.len, 10);
        assert_eq!(shown.truncated, 6);
    }
}
