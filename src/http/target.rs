//! The request target: percent-decoding the path (RFC 3986 §2.1).
//!
//! WSGI's `PATH_INFO` and ASGI's `path` are decoded; `QUERY_STRING`,
//! `raw_path` and `query_string` are not. A `%` not followed by two hex
//! digits is kept as it is.

/// Decode `%XX` escapes into bytes.
pub fn percent_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Percent-encode bytes for a query value (RFC 3986 §2.1): unreserved
/// characters and `/` stay, everything else becomes `%XX`.
pub fn percent_encode(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(c));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        }
    }
    out
}

/// An absolute-form target (`http://example.com/notes?x=1`, RFC 9112
/// §3.2.2) split into its authority and the origin-form rest (`/notes?x=1`).
/// A server MUST accept this form, and then uses this authority, not `Host`.
pub fn absolute_form(target: &str) -> Option<(String, String)> {
    let (scheme, rest) = target.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, origin) = rest.split_at(cut);
    if authority.is_empty() {
        return None;
    }
    let origin = if origin.starts_with('/') {
        origin.to_string()
    } else {
        format!("/{origin}")
    };
    Some((authority.to_string(), origin))
}

/// Does the decoded path climb above the root (`/a/../../b`)? nginx
/// refuses such a request with 400 (`ngx_http_parse_complex_uri`).
pub fn climbs_above_root(decoded: &[u8]) -> bool {
    let mut depth: i64 = 0;
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_stray_percent_stays() {
        assert_eq!(percent_decode(b"/a%20b%2Fc%zz%4"), b"/a b/c%zz%4");
    }

    #[test]
    fn absolute_form_splits_into_authority_and_origin_form() {
        assert_eq!(
            absolute_form("http://example.com/notes?x=1"),
            Some(("example.com".into(), "/notes?x=1".into()))
        );
        assert_eq!(
            absolute_form("HTTP://h:8080"),
            Some(("h:8080".into(), "/".into()))
        );
        assert_eq!(
            absolute_form("http://h?q"),
            Some(("h".into(), "/?q".into()))
        );
        assert_eq!(absolute_form("/notes"), None);
        assert_eq!(absolute_form("ftp://h/x"), None);
    }

    #[test]
    fn dot_dot_above_the_root_is_caught_even_encoded() {
        assert!(climbs_above_root(&percent_decode(b"/%2e%2e/etc/passwd")));
        assert!(climbs_above_root(b"/a/../../b"));
        assert!(!climbs_above_root(b"/a/../b"));
    }
}
