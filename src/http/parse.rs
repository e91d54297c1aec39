//! Reading a message head from the bytes received so far.
//!
//! Three outcomes, as in httparse: [`Parsed::Complete`] (with how many bytes
//! the head took), [`Parsed::Partial`] (read more), or a [`ParseError`].
//! `httparse` tokenizes; the limits are ours and checked *before* the head
//! is complete, so a client cannot make us buffer without bound.

use super::error::ParseError;
use super::headers::{Headers, latin1};
use super::message::{RequestHead, ResponseHead, Version};

/// Size limits on a head. The web server and the app server choose their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line, in bytes, without its CRLF.
    pub max_request_line: usize,
    /// Longest single header line, in bytes.
    pub max_header_line: usize,
    /// Largest whole head (request line + headers), in bytes.
    pub max_head_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

impl HeadLimits {
    /// nginx: `large_client_header_buffers 4 8k`, `max_headers 1000`.
    pub const NGINX: HeadLimits = HeadLimits {
        max_request_line: 8192,
        max_header_line: 8192,
        max_head_bytes: 4 * 8192,
        max_headers: 1000,
    };

    /// gunicorn: `limit_request_line 4094`, `limit_request_fields 100`,
    /// `limit_request_field_size 8190`.
    pub const GUNICORN: HeadLimits = HeadLimits {
        max_request_line: 4094,
        max_header_line: 8190,
        max_head_bytes: 4094 + 100 * 8192,
        max_headers: 100,
    };
}

/// The result of trying to parse a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole head; `consumed` bytes of the buffer belong to it.
    Complete { head: T, consumed: usize },
    /// Not all of it has arrived yet.
    Partial,
}

/// Header slots tried first; a head with more fields is parsed again with
/// room for the limit, so the common case allocates nothing.
const FIRST_HEADER_SLOTS: usize = 32;

/// Parse a request head from `buf`. Empty lines before the request line
/// are skipped (RFC 9112 §2.2) and counted in `consumed`.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<RequestHead>, ParseError> {
    let skipped = leading_empty_lines(buf);
    // Empty lines may be skipped, but not without bound: they count
    // against the request line's limit.
    if skipped > limits.max_request_line {
        return Err(ParseError::BadRequestLine);
    }
    let rest = &buf[skipped..];
    check_method_prefix(rest)?;

    let Some(line_end) = rest.iter().position(|&b| b == b'\n') else {
        if rest.len() > limits.max_request_line {
            return Err(ParseError::RequestLineTooLong {
                limit: limits.max_request_line,
            });
        }
        return Ok(Parsed::Partial);
    };
    let request_line = trim_cr(&rest[..line_end]);
    if request_line.len() > limits.max_request_line {
        return Err(ParseError::RequestLineTooLong {
            limit: limits.max_request_line,
        });
    }
    let newer_minor = check_version_token(request_line)?;

    let Some(head_len) = head_end(rest) else {
        check_header_lines(&rest[line_end + 1..], limits)?;
        if rest.len() > limits.max_head_bytes {
            return Err(ParseError::HeadTooLarge {
                limit: limits.max_head_bytes,
            });
        }
        return Ok(Parsed::Partial);
    };
    if head_len > limits.max_head_bytes {
        return Err(ParseError::HeadTooLarge {
            limit: limits.max_head_bytes,
        });
    }
    check_header_lines(&rest[line_end + 1..head_len], limits)?;

    let head = if newer_minor {
        // RFC 9110 §2.5: a higher minor version of a major version we speak
        // is read as the highest minor we know, HTTP/1.1.
        let mut patched = rest[..head_len].to_vec();
        // The request line starts the head; its last byte is the minor digit.
        if let Some(minor) = patched.get_mut(request_line.len().saturating_sub(1)) {
            *minor = b'1';
        }
        tokenize_request(&patched, limits)?
    } else {
        tokenize_request(&rest[..head_len], limits)?
    };
    check_host(&head)?;
    Ok(Parsed::Complete {
        head,
        consumed: skipped + head_len,
    })
}

fn tokenize_request(head: &[u8], limits: &HeadLimits) -> Result<RequestHead, ParseError> {
    let mut slots = [httparse::EMPTY_HEADER; FIRST_HEADER_SLOTS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(_) => request_from(&req),
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; limits.max_headers];
            let mut req = httparse::Request::new(&mut many);
            match req.parse(head) {
                Ok(_) => request_from(&req),
                Err(e) => Err(map_httparse(e, limits)),
            }
        }
        Err(e) => Err(map_httparse(e, limits)),
    }
}

fn request_from(req: &httparse::Request<'_, '_>) -> Result<RequestHead, ParseError> {
    let method = req.method.ok_or(ParseError::BadRequestLine)?.to_string();
    // Methods are case-sensitive (RFC 9110 §9.1); nginx and gunicorn both
    // refuse lower-case ones rather than guess.
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(ParseError::MethodCase(method));
    }
    // Keep the target's bytes as they came (ISO-8859-1, one char per byte)
    // so that writing it back sends the very same bytes.
    let target = latin1(req.path.ok_or(ParseError::BadRequestLine)?.as_bytes());
    let version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(ParseError::BadVersion),
    };
    Ok(RequestHead {
        method,
        target,
        version,
        headers: headers_from(req.headers)?,
    })
}

fn headers_from(fields: &[httparse::Header<'_>]) -> Result<Headers, ParseError> {
    let mut headers = Headers::new();
    for h in fields {
        // RFC 9110 §5.5: CR, LF and NUL inside a value are never allowed.
        if h.value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ParseError::BadHeader);
        }
        headers.push(h.name, latin1(h.value));
    }
    Ok(headers)
}

fn map_httparse(e: httparse::Error, limits: &HeadLimits) -> ParseError {
    match e {
        httparse::Error::Token => ParseError::BadRequestLine,
        httparse::Error::Version => ParseError::BadVersion,
        httparse::Error::TooManyHeaders => ParseError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::HeaderName | httparse::Error::HeaderValue => ParseError::BadHeader,
        httparse::Error::Status => ParseError::BadStatusLine,
        _ => ParseError::BadRequestLine,
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host.
fn check_host(head: &RequestHead) -> Result<(), ParseError> {
    match head.headers.count("host") {
        0 if head.version == Version::Http11 => Err(ParseError::MissingHost),
        0 | 1 => Ok(()),
        _ => Err(ParseError::DuplicateHeader {
            name: "Host".to_string(),
        }),
    }
}

/// Before the first space a request line holds a method: a token. Bytes
/// that cannot be one (a TLS ClientHello, binary junk) are refused at once
/// instead of waiting for a line end that may never come.
fn check_method_prefix(rest: &[u8]) -> Result<(), ParseError> {
    for &b in rest.iter().take_while(|&&b| b != b' ') {
        let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if !tchar {
            return Err(ParseError::BadRequestLine);
        }
    }
    Ok(())
}

/// Tell "HTTP/2.0" (a real version we don't speak: 505) from garbage (400).
/// `Ok(true)` means HTTP/1.x with x above 1, to be read as HTTP/1.1.
fn check_version_token(line: &[u8]) -> Result<bool, ParseError> {
    let Some(space) = line.iter().rposition(|&b| b == b' ') else {
        return Err(ParseError::BadRequestLine);
    };
    let version = &line[space + 1..];
    match version {
        b"HTTP/1.0" | b"HTTP/1.1" => Ok(false),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => Ok(true),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() && *major >= b'2' =>
        {
            Err(ParseError::VersionNotSupported {
                version: latin1(version),
            })
        }
        _ => Err(ParseError::BadVersion),
    }
}

fn check_header_lines(fields: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    let mut count = 0;
    for line in fields.split(|&b| b == b'\n') {
        let line = trim_cr(line);
        if line.len() > limits.max_header_line {
            return Err(ParseError::HeaderLineTooLong {
                limit: limits.max_header_line,
            });
        }
        if !line.is_empty() {
            count += 1;
        }
    }
    if count > limits.max_headers {
        return Err(ParseError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    Ok(())
}

/// Parse a response head (the proxy reading the app server's answer).
pub fn parse_response_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<ResponseHead>, ParseError> {
    let Some(head_len) = head_end(buf) else {
        if buf.len() > limits.max_head_bytes {
            return Err(ParseError::HeadTooLarge {
                limit: limits.max_head_bytes,
            });
        }
        return Ok(Parsed::Partial);
    };
    let head = &buf[..head_len];
    let mut slots = [httparse::EMPTY_HEADER; FIRST_HEADER_SLOTS];
    let mut res = httparse::Response::new(&mut slots);
    let response = match res.parse(head) {
        Ok(_) => response_from(&res)?,
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; limits.max_headers];
            let mut res = httparse::Response::new(&mut many);
            match res.parse(head) {
                Ok(_) => response_from(&res)?,
                Err(e) => return Err(map_httparse(e, limits)),
            }
        }
        Err(e) => return Err(map_httparse(e, limits)),
    };
    Ok(Parsed::Complete {
        head: response,
        consumed: head_len,
    })
}

fn response_from(res: &httparse::Response<'_, '_>) -> Result<ResponseHead, ParseError> {
    let version = match res.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(ParseError::BadStatusLine),
    };
    let status = res.code.ok_or(ParseError::BadStatusLine)?;
    Ok(ResponseHead {
        version,
        status,
        reason: res.reason.unwrap_or("").to_string(),
        headers: headers_from(res.headers)?,
    })
}

/// Index just past the blank line that ends a head (CRLF CRLF, or a lone
/// LF which RFC 9112 §2.2 lets a recipient accept).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        let next = nl + 1;
        if buf.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if buf.get(next) == Some(&b'\r') && buf.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        if buf[i..].starts_with(b"\r\n") {
            i += 2;
        } else if buf[i..].starts_with(b"\n") {
            i += 1;
        } else {
            return i;
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Parsed<RequestHead>, ParseError> {
        parse_request_head(bytes, &HeadLimits::NGINX)
    }

    fn complete(bytes: &[u8]) -> RequestHead {
        match parse(bytes) {
            Ok(Parsed::Complete { head, .. }) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    #[test]
    fn simple_get_parses_with_its_headers_in_order() {
        let head = complete(b"GET /notes?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
        assert_eq!(head.method, "GET");
        assert_eq!(head.path(), "/notes");
        assert_eq!(head.query(), "x=1");
        assert_eq!(head.headers.to_pairs()[1], ("Accept".into(), "*/*".into()));
    }

    #[test]
    fn head_split_across_reads_is_partial_until_the_blank_line() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(Parsed::Partial));
    }

    #[test]
    fn consumed_stops_at_the_blank_line_so_pipelined_bytes_remain() {
        let buf = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n";
        match parse(buf) {
            Ok(Parsed::Complete { consumed, .. }) => {
                assert_eq!(&buf[consumed..], b"GET /b HTTP/1.1\r\n")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        assert_eq!(
            complete(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").target,
            "/"
        );
    }

    #[test]
    fn http11_without_host_is_rejected() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(ParseError::MissingHost)
        );
    }

    #[test]
    fn http10_without_host_is_fine() {
        assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    }

    #[test]
    fn two_host_headers_are_rejected() {
        let err = parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err();
        assert_eq!(err.status(crate::http::Personality::Nginx), 400);
    }

    #[test]
    fn http2_request_line_gets_505_from_nginx_and_400_from_gunicorn() {
        let err = parse(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").unwrap_err();
        assert_eq!(err.status(crate::http::Personality::Nginx), 505);
        assert_eq!(err.status(crate::http::Personality::Gunicorn), 400);
    }

    #[test]
    fn request_line_over_limit_gets_414_even_before_it_ends() {
        let mut buf = b"GET /".to_vec();
        buf.extend(std::iter::repeat_n(b'a', 9000));
        let err = parse(&buf).unwrap_err();
        assert_eq!(err.status(crate::http::Personality::Nginx), 414);
    }

    #[test]
    fn header_line_over_limit_gets_400_from_nginx_and_431_from_gunicorn() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nCookie: ".to_vec();
        buf.extend(std::iter::repeat_n(b'c', 9000));
        buf.extend(b"\r\n\r\n");
        let err = parse(&buf).unwrap_err();
        assert_eq!(err, ParseError::HeaderLineTooLong { limit: 8192 });
        assert_eq!(err.status(crate::http::Personality::Nginx), 400);
        assert_eq!(err.status(crate::http::Personality::Gunicorn), 431);
    }

    #[test]
    fn space_before_colon_is_rejected() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
            Err(ParseError::BadHeader)
        );
    }

    #[test]
    fn obs_fold_is_rejected() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  more\r\n\r\n"),
            Err(ParseError::BadHeader)
        );
    }

    #[test]
    fn too_many_headers_are_rejected_at_the_limit() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..100 {
            buf.extend(format!("X-{i}: v\r\n").bytes());
        }
        buf.extend(b"\r\n");
        let err = parse_request_head(&buf, &HeadLimits::GUNICORN).unwrap_err();
        assert_eq!(err, ParseError::TooManyHeaders { limit: 100 });
        assert!(matches!(parse(&buf), Ok(Parsed::Complete { .. })));
    }

    #[test]
    fn http_1_2_is_read_as_http_1_1() {
        assert_eq!(
            complete(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n").version,
            Version::Http11
        );
    }

    #[test]
    fn lower_case_method_is_refused() {
        assert_eq!(
            parse(b"get / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Err(ParseError::MethodCase("get".into()))
        );
    }

    #[test]
    fn binary_junk_is_refused_before_any_line_end() {
        assert_eq!(
            parse(b"\x16\x03\x01\x02\x00"),
            Err(ParseError::BadRequestLine)
        );
    }

    #[test]
    fn endless_empty_lines_are_refused() {
        let flood = b"\r\n".repeat(5000);
        assert_eq!(parse(&flood), Err(ParseError::BadRequestLine));
    }

    #[test]
    fn non_ascii_target_bytes_round_trip() {
        let raw = "GET /notes/\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes();
        let head = complete(raw);
        assert_eq!(crate::http::write::request_head(&head), raw);
    }

    #[test]
    fn response_head_parses() {
        let buf = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        match parse_response_head(buf, &HeadLimits::NGINX) {
            Ok(Parsed::Complete { head, consumed }) => {
                assert_eq!(head.status, 201);
                assert_eq!(&buf[consumed..], b"{}");
            }
            other => panic!("{other:?}"),
        }
    }
}
