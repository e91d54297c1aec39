//! Validating the host a request names: the `Host` field, or the host of
//! an absolute-form target (RFC 9112 §3.2.2), as nginx's
//! `ngx_http_validate_host` checks it before choosing a server block.
//!
//! ```text
//! "Example.COM.:8080" ─▶ only RFC 3986 host characters? ─▶ no `..`? ─▶ port all digits, ≤ 65535?
//!                     ─▶ lower-cased, the trailing dot and the port cut ─▶ $host = "example.com"
//! ```
//!
//! Anything else is 400 Bad Request ("client sent invalid host header"):
//! an empty host, two dots in a row, a `/`, `\`, NUL, space or any other
//! byte outside RFC 3986's `reg-name` (unreserved, sub-delims and `%`), an
//! IP literal (`[::1]`) not closed or followed by anything but a port, a
//! byte with its high bit set. Why it matters: `$host` ends up in file
//! paths, log lines and redirects, and a Host of `../../etc` or one with
//! a slash must never reach them.
//!
//! This follows nginx 1.29.4 and later (its "Improved host header
//! validation", November 2025). nginx 1.22 was looser: it refused only
//! `..`, `/` and NUL, so it let `a\b` or `[::1` through.
//!
//! A missing Host in HTTP/1.1 and a second Host field are refused by the
//! head parser already (RFC 9112 §3.2; [`crate::http::parse`]).
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

/// A host that passed: the name as `$host` holds it, and the port if one
/// was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidHost {
    /// Lower-cased, without its trailing dot and port (`[::1]` keeps its
    /// brackets).
    pub name: String,
    /// The port written after the name (`:` alone counts as none).
    pub port: Option<u16>,
}

/// Why a host was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the host is empty")]
    Empty,
    #[error("two dots in a row (`..`)")]
    DoubleDot,
    #[error("byte 0x{0:02x} may not appear in a host (RFC 3986 §3.2.2)")]
    Byte(u8),
    #[error("the IP literal's `[` is never closed")]
    OpenLiteral,
    #[error("only a `:port` may follow an IP literal's `]`")]
    AfterLiteral,
    #[error("the port is not a number from 0 to 65535")]
    BadPort,
}

/// Bytes allowed in a name or an IP literal besides letters and digits:
/// RFC 3986's unreserved and sub-delims, and `%` of pct-encoded.
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
        )
}

/// Validate a host as nginx does; the bytes are the field value as sent.
pub fn validate(raw: &[u8]) -> Result<ValidHost, HostError> {
    enum State {
        Start,
        Name,
        Literal,
        LiteralEnd,
        Port,
    }
    let mut state = State::Start;
    // Where the name ends (before the port) and where the last dot was.
    let mut end = raw.len();
    let mut last_dot: Option<usize> = None;
    let mut port: Option<u32> = None;
    for (i, &b) in raw.iter().enumerate() {
        match state {
            State::Start if b == b'[' => state = State::Literal,
            State::Start | State::Name => {
                state = State::Name;
                match b {
                    b':' => {
                        end = i;
                        state = State::Port;
                    }
                    b'.' => dot(i, &mut last_dot)?,
                    b if name_byte(b) => {}
                    b => return Err(HostError::Byte(b)),
                }
            }
            State::Literal => match b {
                b']' => {
                    end = i + 1;
                    state = State::LiteralEnd;
                }
                b'.' => dot(i, &mut last_dot)?,
                // `%` is not allowed inside an IP literal.
                b':' => {}
                b if name_byte(b) && b != b'%' => {}
                b => return Err(HostError::Byte(b)),
            },
            State::LiteralEnd => match b {
                b':' => state = State::Port,
                _ => return Err(HostError::AfterLiteral),
            },
            State::Port => match b {
                b'0'..=b'9' => {
                    let p = port.unwrap_or(0) * 10 + u32::from(b - b'0');
                    if p > 65535 {
                        return Err(HostError::BadPort);
                    }
                    port = Some(p);
                }
                _ => return Err(HostError::BadPort),
            },
        }
    }
    if matches!(state, State::Literal) {
        return Err(HostError::OpenLiteral);
    }
    // One trailing dot names the same host (a fully qualified name).
    if end > 0 && last_dot == Some(end - 1) {
        end -= 1;
    }
    if end == 0 {
        return Err(HostError::Empty);
    }
    let name = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    Ok(ValidHost {
        name,
        port: port.and_then(|p| u16::try_from(p).ok()),
    })
}

fn dot(i: usize, last: &mut Option<usize>) -> Result<(), HostError> {
    if i > 0 && *last == Some(i - 1) {
        return Err(HostError::DoubleDot);
    }
    *last = Some(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(s: &str) -> Result<String, HostError> {
        validate(s.as_bytes()).map(|h| h.name)
    }

    #[test]
    fn names_are_lower_cased_and_lose_a_trailing_dot_and_the_port() {
        assert_eq!(host("Example.COM"), Ok("example.com".into()));
        assert_eq!(host("example.com."), Ok("example.com".into()));
        assert_eq!(host("Example.com.:8080"), Ok("example.com".into()));
        assert_eq!(
            validate(b"example.com:8080").map(|h| h.port),
            Ok(Some(8080))
        );
        assert_eq!(validate(b"example.com:").map(|h| h.port), Ok(None));
        assert_eq!(host("127.0.0.1:80"), Ok("127.0.0.1".into()));
    }

    #[test]
    fn ip_literals_keep_their_brackets() {
        assert_eq!(host("[::1]:8080"), Ok("[::1]".into()));
        assert_eq!(host("[2001:DB8::1]"), Ok("[2001:db8::1]".into()));
        assert_eq!(host("[::1"), Err(HostError::OpenLiteral));
        assert_eq!(host("[::1]x"), Err(HostError::AfterLiteral));
        assert_eq!(host("[::1%25eth0]"), Err(HostError::Byte(b'%')));
    }

    #[test]
    fn what_nginx_refuses_is_refused() {
        assert_eq!(host(""), Err(HostError::Empty));
        assert_eq!(host("."), Err(HostError::Empty));
        assert_eq!(host(":80"), Err(HostError::Empty));
        assert_eq!(host("a..b"), Err(HostError::DoubleDot));
        assert_eq!(host(".."), Err(HostError::DoubleDot));
        assert_eq!(host("a/b"), Err(HostError::Byte(b'/')));
        assert_eq!(host("a\\b"), Err(HostError::Byte(b'\\')));
        assert_eq!(host("a\0b"), Err(HostError::Byte(0)));
        assert_eq!(host("a b"), Err(HostError::Byte(b' ')));
        assert_eq!(host("a@b"), Err(HostError::Byte(b'@')));
        assert_eq!(host("a:b"), Err(HostError::BadPort));
        assert_eq!(host("a:65536"), Err(HostError::BadPort));
        assert_eq!(host("a:1:2"), Err(HostError::BadPort));
        assert_eq!(validate(b"caf\xe9"), Err(HostError::Byte(0xe9)));
    }

    #[test]
    fn the_highest_port_passes() {
        assert_eq!(validate(b"a:65535").map(|h| h.port), Ok(Some(65535)));
    }

    proptest! {
        /// No value holding `/`, `\`, NUL or `..` is ever accepted, however
        /// it is dressed up around them.
        #[test]
        fn a_host_with_a_slash_backslash_nul_or_double_dot_never_passes(
            before in "[a-zA-Z0-9.:\\[\\]%_-]{0,12}",
            bad in prop::sample::select(vec!["/", "\\", "\0", ".."]),
            after in "[a-zA-Z0-9.:\\[\\]%_-]{0,12}",
        ) {
            let value = format!("{before}{bad}{after}");
            prop_assert!(validate(value.as_bytes()).is_err(), "{:?} passed", value);
        }

        /// What passes is lower-case, has no port, no trailing dot, and
        /// only the bytes a host may hold.
        #[test]
        fn what_passes_is_a_clean_name(value in "[a-zA-Z0-9.:\\[\\]%_/\\\\-]{0,16}") {
            if let Ok(h) = validate(value.as_bytes()) {
                prop_assert!(!h.name.is_empty());
                prop_assert!(!h.name.ends_with('.'));
                prop_assert!(!h.name.contains(".."));
                prop_assert!(!h.name.bytes().any(|b| b.is_ascii_uppercase() || b == b'/' || b == b'\\'));
                prop_assert!(h.name.starts_with('[') || !h.name.contains(':'));
            }
        }
    }
}
