//! The request target: percent-decoding the path (RFC 3986 §2.1), and the
//! normalized path a web server matches its locations against.
//!
//! WSGI's `PATH_INFO` and ASGI's `path` are decoded; `QUERY_STRING`,
//! `raw_path` and `query_string` are not. A `%` not followed by two hex
//! digits is kept as it is by [`percent_decode`]; [`normalize`] refuses it,
//! as nginx does.

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
/// Any scheme of RFC 3986 §3.1's grammar (a letter, then letters, digits,
/// `+`, `-`, `.`) is accepted, as nginx's request-line parser accepts it
/// (`sw_schema` in ngx_http_parse.c): `ftp://example.com/notes` is served
/// like `http://example.com/notes`.
pub fn absolute_form(target: &str) -> Option<(String, String)> {
    let (scheme, rest) = target.split_once("://")?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_is_letter || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
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

/// Why a path cannot be normalized (nginx answers 400 for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("a `%` not followed by two hex digits")]
    BadEscape,
    #[error("`..` climbs above the root")]
    AboveRoot,
    #[error("the path does not start with `/`")]
    NotAbsolute,
    #[error("`%00` decodes to a NUL byte, which no file name may hold")]
    Nul,
}

/// The path as nginx's `$uri` holds it (`ngx_http_parse_complex_uri`):
/// `%XX` decoded exactly once, `.` segments dropped, each `..` removing
/// the segment before it, runs of `/` merged into one (`merge_slashes
/// on`). Encoded dots and slashes (`%2e`, `%2F`) count once decoded, so
/// `/a/%2e%2e/b` is `/b`. A decoded `%25` stays a `%`: it is never decoded
/// a second time; `%00` is refused. A backslash is an ordinary byte on
/// Unix (nginx 1.22 answers 404 for `/static/..\..\a.css`). The result
/// holds no `.` or `..` segment, so joining it under a root cannot leave
/// the root.
///
/// ```
/// use roundtrip::http::target::normalize;
/// assert_eq!(normalize(b"/static//css/./x%2F../site.css").unwrap(), b"/static/css/site.css");
/// assert!(normalize(b"/static/%2e%2e/%2e%2e/etc/passwd").is_err());
/// ```
pub fn normalize(raw_path: &[u8]) -> Result<Vec<u8>, UriError> {
    if raw_path.first() != Some(&b'/') {
        return Err(UriError::NotAbsolute);
    }
    let mut decoded = Vec::with_capacity(raw_path.len());
    let mut i = 0;
    while i < raw_path.len() {
        let b = raw_path[i];
        if b == b'%' {
            let hex = |j: usize| raw_path.get(j).and_then(|c| (*c as char).to_digit(16));
            let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) else {
                return Err(UriError::BadEscape);
            };
            // Two hex digits make at most 255: the cast cannot truncate.
            let byte = (h * 16 + l) as u8;
            // nginx 1.22 answers 400 for `%00` (measured).
            if byte == 0 {
                return Err(UriError::Nul);
            }
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                if segments.pop().is_none() {
                    return Err(UriError::AboveRoot);
                }
            }
            s => segments.push(s),
        }
    }
    // The last segment keeps its trailing slash (`/static/` is a directory),
    // and so does a path that ended in `.` or `..` (`/a/.` is `/a/`).
    let last = decoded.rsplit(|&b| b == b'/').next().unwrap_or(b"");
    let trailing = decoded.ends_with(b"/") || last == b"." || last == b"..";
    let mut out = Vec::with_capacity(decoded.len());
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || trailing {
        out.push(b'/');
    }
    Ok(out)
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
    }

    #[test]
    fn absolute_form_takes_any_scheme_nginx_parses() {
        assert_eq!(absolute_form("ftp://h/x"), Some(("h".into(), "/x".into())));
        assert_eq!(
            absolute_form("svn+ssh://h/x"),
            Some(("h".into(), "/x".into()))
        );
        assert_eq!(absolute_form("1ftp://h/x"), None);
        assert_eq!(absolute_form("f_t://h/x"), None);
        assert_eq!(absolute_form("://h/x"), None);
    }

    #[test]
    fn dot_dot_above_the_root_is_caught_even_encoded() {
        assert!(climbs_above_root(&percent_decode(b"/%2e%2e/etc/passwd")));
        assert!(climbs_above_root(b"/a/../../b"));
        assert!(!climbs_above_root(b"/a/../b"));
    }

    #[test]
    fn normalize_resolves_dots_merges_slashes_and_decodes_once() {
        let n = |p: &[u8]| normalize(p).map(|v| String::from_utf8_lossy(&v).into_owned());
        assert_eq!(n(b"/"), Ok("/".into()));
        assert_eq!(n(b"//a///b"), Ok("/a/b".into()));
        assert_eq!(n(b"/a/./b/"), Ok("/a/b/".into()));
        assert_eq!(n(b"/a/b/.."), Ok("/a/".into()));
        assert_eq!(n(b"/a/%2e%2E/b"), Ok("/b".into()));
        assert_eq!(n(b"/a%2fb"), Ok("/a/b".into()));
        assert_eq!(n(b"/a%252e%252e/b"), Ok("/a%2e%2e/b".into()));
        assert_eq!(n(b"/a\\..\\b"), Ok("/a\\..\\b".into()));
        assert_eq!(n(b"/.."), Err(UriError::AboveRoot));
        assert_eq!(n(b"/a/%2e%2e/%2e%2e/etc"), Err(UriError::AboveRoot));
        assert_eq!(n(b"/a%zz"), Err(UriError::BadEscape));
        assert_eq!(n(b"/a%4"), Err(UriError::BadEscape));
        assert_eq!(n(b"a"), Err(UriError::NotAbsolute));
        assert_eq!(n(b"/a%00.css"), Err(UriError::Nul));
    }
}
