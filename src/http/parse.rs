//! Reading a message head from the bytes received so far.
//!
//! Three outcomes, as in httparse: [`Parsed::Complete`] (with how many bytes
//! the head took), [`Parsed::Partial`] (read more), or a [`ParseError`].
//! `httparse` tokenizes; the limits are ours and checked *before* the head
//! is complete, so a client cannot make us buffer without bound.

use super::error::ParseError;
use super::headers::{Headers, latin1};
use super::message::{RequestHead, ResponseHead, Version};

/// A limit on the length of one line of a head.
///
/// Servers count differently, and the difference is two bytes at every
/// boundary: nginx's `large_client_header_buffers` hold a line *with* its
/// CRLF; gunicorn compares `limit_request_line` with the request line
/// *without* its CRLF (`http/message.py`, `read_line`), but
/// `limit_request_field_size` with a header line *with* it (`parse_headers`
/// adds `len("\r\n")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimit {
    /// Most bytes the line may have.
    pub bytes: usize,
    /// Whether the line end (CRLF, or a lone LF) counts toward `bytes`.
    pub with_line_end: bool,
}

impl LineLimit {
    /// A limit that counts the line end, as a buffer that holds it does.
    pub const fn with_line_end(bytes: usize) -> LineLimit {
        LineLimit {
            bytes,
            with_line_end: true,
        }
    }

    /// A limit on the line's content, not counting its line end.
    pub const fn without_line_end(bytes: usize) -> LineLimit {
        LineLimit {
            bytes,
            with_line_end: false,
        }
    }

    /// Whether `line`, which ends in its LF, is over the limit.
    fn exceeded_by(&self, line: &[u8]) -> bool {
        let counted = if self.with_line_end {
            line.len()
        } else {
            trim_cr(line.strip_suffix(b"\n").unwrap_or(line)).len()
        };
        counted > self.bytes
    }

    /// Whether a line that has not ended yet (no LF in `partial`) is
    /// bound to be over the limit, whatever comes next.
    fn exceeded_before_its_end(&self, partial: &[u8]) -> bool {
        if self.with_line_end {
            // At least its LF is still to come.
            partial.len() >= self.bytes
        } else {
            // A last CR may be the first half of the CRLF.
            trim_cr(partial).len() > self.bytes
        }
    }
}

impl std::fmt::Display for LineLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.with_line_end {
            write!(f, "{} bytes, CRLF included", self.bytes)
        } else {
            write!(f, "{} bytes, not counting its CRLF", self.bytes)
        }
    }
}

/// Size limits on a head. The web server and each app server choose their
/// own; `None` is a limit that server does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line.
    pub request_line: Option<LineLimit>,
    /// Longest single header line.
    pub header_line: Option<LineLimit>,
    /// Largest whole head (request line + headers), complete or not.
    pub max_head_bytes: Option<usize>,
    /// Most bytes buffered of a head that has not ended yet. A head that
    /// arrives whole in one read passes at any size: this is h11's
    /// `max_incomplete_event_size`, checked only while it waits for more.
    pub max_incomplete_head: Option<usize>,
    /// Most header fields.
    pub max_headers: Option<usize>,
}

impl HeadLimits {
    /// nginx: `large_client_header_buffers 4 8k` (a request line or a
    /// header line, CRLF included, must fit in one 8k buffer; the whole
    /// head in four), `max_headers 1000`.
    pub const NGINX: HeadLimits = HeadLimits {
        request_line: Some(LineLimit::with_line_end(8192)),
        header_line: Some(LineLimit::with_line_end(8192)),
        max_head_bytes: Some(4 * 8192),
        max_incomplete_head: None,
        max_headers: Some(1000),
    };

    /// gunicorn: `limit_request_line 4094` (CRLF not counted),
    /// `limit_request_field_size 8190` (CRLF counted),
    /// `limit_request_fields 100`, and at most `limit_request_fields ×
    /// (limit_request_field_size + 2)` bytes of headers
    /// (`max_buffer_headers` in gunicorn's `http/message.py`).
    pub const GUNICORN: HeadLimits = HeadLimits {
        request_line: Some(LineLimit::without_line_end(4094)),
        header_line: Some(LineLimit::with_line_end(8190)),
        max_head_bytes: Some(4094 + 100 * 8192),
        max_incomplete_head: None,
        max_headers: Some(100),
    };

    /// gunicorn with its `limit_request_*` settings, corrected as
    /// gunicorn corrects them (`http/message.py`): a request line of 0 is
    /// unlimited up to its 1 MiB fast-path read, and anything over 8190 is
    /// 8190; a field size of 0 is the default 8190; 0 fields, or over
    /// 32768, are 32768.
    pub fn gunicorn(line: usize, field_size: usize, fields: usize) -> HeadLimits {
        let line = match line {
            0 => 1024 * 1024,
            n => n.min(8190),
        };
        let field_size = if field_size == 0 { 8190 } else { field_size };
        let fields = if fields == 0 || fields > 32768 {
            32768
        } else {
            fields
        };
        HeadLimits {
            request_line: Some(LineLimit::without_line_end(line)),
            header_line: Some(LineLimit::with_line_end(field_size)),
            max_head_bytes: Some(line.saturating_add(fields.saturating_mul(field_size + 2))),
            max_incomplete_head: None,
            max_headers: Some(fields),
        }
    }

    /// uvicorn with h11 (its default without httptools): no limit on a
    /// line or on the number of fields, only h11's
    /// `max_incomplete_event_size` (uvicorn `--h11-max-incomplete-event-size`,
    /// default 16 KiB) on the bytes buffered while the head is incomplete.
    pub const UVICORN_H11: HeadLimits = HeadLimits {
        request_line: None,
        header_line: None,
        max_head_bytes: None,
        max_incomplete_head: Some(16 * 1024),
        max_headers: None,
    };

    /// How many bytes of empty lines may come before the request line:
    /// as many as the request line's limit allows, or without one the
    /// head's (they are skipped, but not without bound). Every server here
    /// skips them, as RFC 9112 §2.2 recommends; h11 would refuse even one
    /// ("no request line received"), but the web server never forwards any.
    fn empty_lines_budget(&self) -> usize {
        self.request_line
            .map(|l| l.bytes)
            .or(self.max_incomplete_head)
            .or(self.max_head_bytes)
            .unwrap_or(DEFAULT_EMPTY_LINES_BUDGET)
    }
}

/// Empty lines skipped before a request line when no limit says how many.
const DEFAULT_EMPTY_LINES_BUDGET: usize = 8192;

/// The result of trying to parse a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole head; `consumed` bytes of the buffer belong to it.
    Complete { head: T, consumed: usize },
    /// Not all of it has arrived yet.
    Partial,
}

/// Header slots tried first; a head with more fields is parsed again with
/// a slot per line, so the common case allocates nothing.
const FIRST_HEADER_SLOTS: usize = 32;

/// Parse a request head from `buf`. Empty lines before the request line
/// are skipped (RFC 9112 §2.2) and counted in `consumed`.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<RequestHead>, ParseError> {
    let skipped = leading_empty_lines(buf);
    // Empty lines may be skipped, but not without bound.
    if skipped > limits.empty_lines_budget() {
        return Err(ParseError::BadRequestLine);
    }
    let rest = &buf[skipped..];
    check_method_prefix(rest)?;

    let Some(line_end) = rest.iter().position(|&b| b == b'\n') else {
        if let Some(limit) = limits.request_line
            && limit.exceeded_before_its_end(rest)
        {
            return Err(ParseError::RequestLineTooLong { limit });
        }
        check_incomplete(buf, limits)?;
        return Ok(Parsed::Partial);
    };
    if let Some(limit) = limits.request_line
        && limit.exceeded_by(&rest[..=line_end])
    {
        return Err(ParseError::RequestLineTooLong { limit });
    }
    let request_line = trim_cr(&rest[..line_end]);
    let newer_minor = check_version_token(request_line)?;

    let Some(head_len) = head_end(rest) else {
        check_header_lines(&rest[line_end + 1..], limits)?;
        if let Some(limit) = limits.max_head_bytes
            && rest.len() > limit
        {
            return Err(ParseError::HeadTooLarge { limit });
        }
        check_incomplete(buf, limits)?;
        return Ok(Parsed::Partial);
    };
    if let Some(limit) = limits.max_head_bytes
        && head_len > limit
    {
        return Err(ParseError::HeadTooLarge { limit });
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
        tokenize_request(&patched)?
    } else {
        tokenize_request(&rest[..head_len])?
    };
    check_host(&head)?;
    Ok(Parsed::Complete {
        head,
        consumed: skipped + head_len,
    })
}

/// h11's rule: while the head has not ended, at most
/// `max_incomplete_head` bytes may wait in the buffer (h11
/// `Connection.next_event`: "Receive buffer too long").
fn check_incomplete(buffered: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    match limits.max_incomplete_head {
        Some(limit) if buffered.len() > limit => Err(ParseError::IncompleteHeadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Header slots for a head whose fields did not fit in the first ones:
/// one per line is always enough.
fn slots_for<'b>(head: &[u8]) -> Vec<httparse::Header<'b>> {
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    vec![httparse::EMPTY_HEADER; lines]
}

fn tokenize_request(head: &[u8]) -> Result<RequestHead, ParseError> {
    let mut slots = [httparse::EMPTY_HEADER; FIRST_HEADER_SLOTS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(_) => request_from(&req),
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = slots_for(head);
            let mut req = httparse::Request::new(&mut many);
            match req.parse(head) {
                Ok(_) => request_from(&req),
                Err(e) => Err(map_httparse(e)),
            }
        }
        Err(e) => Err(map_httparse(e)),
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

fn map_httparse(e: httparse::Error) -> ParseError {
    match e {
        httparse::Error::Token => ParseError::BadRequestLine,
        httparse::Error::Version => ParseError::BadVersion,
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

/// The header lines received so far (the last one may not have ended
/// yet) against the line and count limits.
fn check_header_lines(fields: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    let mut count = 0;
    for line in fields.split_inclusive(|&b| b == b'\n') {
        if let Some(limit) = limits.header_line {
            let over = if line.ends_with(b"\n") {
                limit.exceeded_by(line)
            } else {
                limit.exceeded_before_its_end(line)
            };
            if over {
                return Err(ParseError::HeaderLineTooLong { limit });
            }
        }
        if !trim_cr(line.strip_suffix(b"\n").unwrap_or(line)).is_empty() {
            count += 1;
        }
    }
    if let Some(limit) = limits.max_headers
        && count > limit
    {
        return Err(ParseError::TooManyHeaders { limit });
    }
    Ok(())
}

/// Parse a response head (the proxy reading the app server's answer).
pub fn parse_response_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<ResponseHead>, ParseError> {
    let Some(head_len) = head_end(buf) else {
        if let Some(limit) = limits.max_head_bytes
            && buf.len() > limit
        {
            return Err(ParseError::HeadTooLarge { limit });
        }
        return Ok(Parsed::Partial);
    };
    let head = &buf[..head_len];
    if let Some(limit) = limits.max_headers
        && head.iter().filter(|&&b| b == b'\n').count() > limit + 2
    {
        return Err(ParseError::TooManyHeaders { limit });
    }
    let mut slots = [httparse::EMPTY_HEADER; FIRST_HEADER_SLOTS];
    let mut res = httparse::Response::new(&mut slots);
    let response = match res.parse(head) {
        Ok(_) => response_from(&res)?,
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = slots_for(head);
            let mut res = httparse::Response::new(&mut many);
            match res.parse(head) {
                Ok(_) => response_from(&res)?,
                Err(e) => return Err(map_httparse(e)),
            }
        }
        Err(e) => return Err(map_httparse(e)),
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
        assert_eq!(
            err,
            ParseError::HeaderLineTooLong {
                limit: LineLimit::with_line_end(8192)
            }
        );
        assert_eq!(err.status(crate::http::Personality::Nginx), 400);
        assert_eq!(err.status(crate::http::Personality::Gunicorn), 431);
    }

    /// `GET /notes?p=aaa… HTTP/1.1` whose request line is `total` bytes
    /// long with its CRLF, then `rest` (the header lines and the blank line).
    fn request_line_of(total: usize, rest: &str) -> Vec<u8> {
        let (pre, suf) = ("GET /notes?p=", " HTTP/1.1\r\n");
        let mut buf = pre.as_bytes().to_vec();
        buf.extend(std::iter::repeat_n(b'a', total - pre.len() - suf.len()));
        buf.extend(suf.as_bytes());
        buf.extend(rest.as_bytes());
        buf
    }

    /// A head with one `X-Pad` line of `total` bytes with its CRLF.
    fn header_line_of(total: usize) -> Vec<u8> {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
        buf.extend(std::iter::repeat_n(b'a', total - "X-Pad: ".len() - 2));
        buf.extend(b"\r\n\r\n");
        buf
    }

    fn outcome(buf: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
        parse_request_head(buf, limits).map(|_| ())
    }

    #[test]
    fn nginx_counts_the_crlf_a_request_line_of_8192_bytes_passes_and_8193_get_414() {
        let n = &HeadLimits::NGINX;
        assert!(matches!(
            parse_request_head(&request_line_of(8192, "Host: a\r\n\r\n"), n),
            Ok(Parsed::Complete { .. })
        ));
        let err = outcome(&request_line_of(8193, "Host: a\r\n\r\n"), n).unwrap_err();
        assert_eq!(
            err,
            ParseError::RequestLineTooLong {
                limit: LineLimit::with_line_end(8192)
            }
        );
        assert_eq!(err.status(crate::http::Personality::Nginx), 414);
    }

    #[test]
    fn nginx_refuses_a_request_line_that_fills_its_buffer_before_the_line_ends() {
        let n = &HeadLimits::NGINX;
        // 8191 bytes and no LF yet: an 8192-byte line can still fit.
        let line = request_line_of(8192, "");
        assert_eq!(parse_request_head(&line[..8191], n), Ok(Parsed::Partial));
        // 8192 bytes and still no LF: the line cannot fit any more.
        let line = request_line_of(8193, "");
        assert!(matches!(
            parse_request_head(&line[..8192], n),
            Err(ParseError::RequestLineTooLong { .. })
        ));
    }

    #[test]
    fn nginx_counts_the_crlf_a_header_line_of_8192_bytes_passes_and_8193_get_400() {
        let n = &HeadLimits::NGINX;
        assert!(outcome(&header_line_of(8192), n).is_ok());
        let err = outcome(&header_line_of(8193), n).unwrap_err();
        assert!(matches!(err, ParseError::HeaderLineTooLong { .. }));
        assert_eq!(err.status(crate::http::Personality::Nginx), 400);
        // Before the line has ended, too.
        let partial = header_line_of(8193);
        assert!(matches!(
            outcome(&partial[..partial.len() - 3], n),
            Err(ParseError::HeaderLineTooLong { .. })
        ));
    }

    #[test]
    fn gunicorns_settings_are_corrected_as_gunicorn_corrects_them() {
        assert_eq!(HeadLimits::gunicorn(4094, 8190, 100), HeadLimits::GUNICORN);
        let big = HeadLimits::gunicorn(20_000, 0, 0);
        assert_eq!(big.request_line, Some(LineLimit::without_line_end(8190)));
        assert_eq!(big.header_line, Some(LineLimit::with_line_end(8190)));
        assert_eq!(big.max_headers, Some(32768));
        let unlimited = HeadLimits::gunicorn(0, 100, 40_000);
        assert_eq!(
            unlimited.request_line,
            Some(LineLimit::without_line_end(1024 * 1024))
        );
        assert_eq!(unlimited.max_headers, Some(32768));
        let small = HeadLimits::gunicorn(100, 200, 5);
        let line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(100));
        assert!(matches!(
            outcome(line.as_bytes(), &small),
            Err(ParseError::RequestLineTooLong { .. })
        ));
    }

    #[test]
    fn gunicorn_request_line_limit_does_not_count_the_crlf_and_answers_414() {
        let g = &HeadLimits::GUNICORN;
        // 4094 bytes of request line plus CRLF: at the limit, accepted.
        assert!(outcome(&request_line_of(4096, "Host: a\r\n\r\n"), g).is_ok());
        let err = outcome(&request_line_of(4097, "Host: a\r\n\r\n"), g).unwrap_err();
        assert_eq!(
            err,
            ParseError::RequestLineTooLong {
                limit: LineLimit::without_line_end(4094)
            }
        );
        assert_eq!(err.status(crate::http::Personality::Gunicorn), 414);
        // 4095 bytes ending in CR may still be a 4094-byte line.
        let line = request_line_of(4096, "");
        assert_eq!(parse_request_head(&line[..4095], g), Ok(Parsed::Partial));
    }

    #[test]
    fn gunicorn_field_size_limit_counts_the_crlf_and_answers_431_from_8191_bytes() {
        let g = &HeadLimits::GUNICORN;
        assert!(outcome(&header_line_of(8190), g).is_ok());
        for total in [8191, 8192] {
            let err = outcome(&header_line_of(total), g).unwrap_err();
            assert_eq!(
                err,
                ParseError::HeaderLineTooLong {
                    limit: LineLimit::with_line_end(8190)
                },
                "{total}"
            );
            assert_eq!(err.status(crate::http::Personality::Gunicorn), 431);
        }
    }

    #[test]
    fn uvicorn_h11_has_no_line_or_field_count_limit() {
        let u = &HeadLimits::UVICORN_H11;
        assert!(outcome(&request_line_of(9000, "Host: a\r\n\r\n"), u).is_ok());
        assert!(outcome(&header_line_of(12_000), u).is_ok());
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..200 {
            many.extend(format!("X-{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        assert!(outcome(&many, u).is_ok());
    }

    #[test]
    fn uvicorn_h11_refuses_only_a_head_still_incomplete_past_16_kib_with_400() {
        let u = &HeadLimits::UVICORN_H11;
        let head = request_line_of(20_000, "Host: a\r\n\r\n");
        // Whole in the buffer: accepted at any size.
        assert!(outcome(&head, u).is_ok());
        // 16384 bytes and not ended: h11 waits for more.
        assert_eq!(
            parse_request_head(&head[..16 * 1024], u),
            Ok(Parsed::Partial)
        );
        // One more byte and not ended: "Receive buffer too long".
        let err = outcome(&head[..16 * 1024 + 1], u).unwrap_err();
        assert_eq!(err, ParseError::IncompleteHeadTooLarge { limit: 16 * 1024 });
        assert_eq!(err.status(crate::http::Personality::Uvicorn), 400);
        // The same in the header lines.
        let head = header_line_of(20_000);
        assert!(matches!(
            outcome(&head[..17_000], u),
            Err(ParseError::IncompleteHeadTooLarge { .. })
        ));
    }

    #[test]
    fn uvicorn_answers_400_to_every_head_it_cannot_read() {
        use crate::http::Personality::Uvicorn;
        for e in [
            ParseError::BadRequestLine,
            ParseError::VersionNotSupported {
                version: "HTTP/2.0".into(),
            },
            ParseError::IncompleteHeadTooLarge { limit: 16384 },
        ] {
            assert_eq!(e.status(Uvicorn), 400, "{e}");
        }
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
