//! How long is the body? RFC 9112 §6.3 answers in a fixed order, and the
//! order matters: it is where request smuggling lives.
//!
//! For a request: both `Transfer-Encoding` and `Content-Length` → 400 and
//! close (what nginx and gunicorn do, RFC 9112 §6.1); a transfer
//! coding other than exactly `chunked` → 501; TE on HTTP/1.0 → 400; an
//! invalid or repeated Content-Length → 400; neither → no body (requests are
//! never delimited by closing the connection).

use thiserror::Error;

use super::message::{RequestHead, ResponseHead, Version};

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body at all.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunks, until the zero-size chunk.
    Chunked,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    #[error("both Content-Length and Transfer-Encoding are present (a request smuggling vector)")]
    LengthAndChunked,
    #[error("Content-Length `{0}` is not a number")]
    InvalidLength(String),
    #[error("Content-Length is sent more than once")]
    RepeatedLength,
    #[error("Transfer-Encoding `{0}` is not supported (only `chunked`)")]
    UnsupportedCoding(String),
    #[error("Transfer-Encoding is not allowed in an HTTP/1.0 request")]
    CodingOnHttp10,
}

impl FramingError {
    /// The status a careful server sends. The connection is closed after it,
    /// because where this message ends is unknowable.
    pub fn status(&self) -> u16 {
        match self {
            FramingError::UnsupportedCoding(_) => 501,
            _ => 400,
        }
    }
}

/// Decide how the body of `head` is framed.
pub fn request_framing(head: &RequestHead) -> Result<BodyFraming, FramingError> {
    let te: Vec<&str> = head.headers.get_all("transfer-encoding").collect();
    let cl: Vec<&str> = head.headers.get_all("content-length").collect();
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err(FramingError::LengthAndChunked);
        }
        if head.version == Version::Http10 {
            return Err(FramingError::CodingOnHttp10);
        }
        let coding = te.join(", ");
        if !coding.trim().eq_ignore_ascii_case("chunked") {
            return Err(FramingError::UnsupportedCoding(coding));
        }
        return Ok(BodyFraming::Chunked);
    }
    match cl.as_slice() {
        [] => Ok(BodyFraming::Empty),
        [one] => match parse_length(one)? {
            0 => Ok(BodyFraming::Empty),
            n => Ok(BodyFraming::Length(n)),
        },
        _ => Err(FramingError::RepeatedLength),
    }
}

/// Decide how the body of a response to `request_method` is framed.
pub fn response_framing(
    request_method: &str,
    head: &ResponseHead,
) -> Result<ResponseFraming, FramingError> {
    if request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(ResponseFraming::Empty);
    }
    if let Some(te) = head.headers.get("transfer-encoding") {
        return Ok(if te.trim().to_ascii_lowercase().ends_with("chunked") {
            ResponseFraming::Chunked
        } else {
            ResponseFraming::UntilClose
        });
    }
    let cl: Vec<&str> = head.headers.get_all("content-length").collect();
    match cl.as_slice() {
        [] => Ok(ResponseFraming::UntilClose),
        [one] => Ok(ResponseFraming::Length(parse_length(one)?)),
        _ => Err(FramingError::RepeatedLength),
    }
}

/// `Content-Length = 1*DIGIT`: no sign, no spaces inside, no hex.
fn parse_length(value: &str) -> Result<u64, FramingError> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FramingError::InvalidLength(value.to_string()));
    }
    v.parse()
        .map_err(|_| FramingError::InvalidLength(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn req(version: Version, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            target: "/".into(),
            version,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Headers>(),
        }
    }

    #[test]
    fn content_length_and_chunked_together_is_400() {
        let h = req(
            Version::Http11,
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        );
        assert_eq!(request_framing(&h).map_err(|e| e.status()), Err(400));
    }

    #[test]
    fn unknown_transfer_coding_is_501() {
        let h = req(Version::Http11, &[("Transfer-Encoding", "gzip, chunked")]);
        assert_eq!(request_framing(&h).map_err(|e| e.status()), Err(501));
    }

    #[test]
    fn transfer_encoding_on_http10_is_400() {
        let h = req(Version::Http10, &[("Transfer-Encoding", "chunked")]);
        assert_eq!(request_framing(&h), Err(FramingError::CodingOnHttp10));
    }

    #[test]
    fn signed_or_hex_content_length_is_invalid() {
        for bad in ["-1", "+5", "0x10", "1 2", ""] {
            let h = req(Version::Http11, &[("Content-Length", bad)]);
            assert!(
                matches!(request_framing(&h), Err(FramingError::InvalidLength(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn request_without_length_has_no_body() {
        assert_eq!(
            request_framing(&req(Version::Http11, &[])),
            Ok(BodyFraming::Empty)
        );
    }

    #[test]
    fn response_to_head_has_no_body_whatever_it_says() {
        let mut head = ResponseHead::new(200);
        head.headers.push("Content-Length", "10");
        assert_eq!(response_framing("HEAD", &head), Ok(ResponseFraming::Empty));
        assert_eq!(
            response_framing("GET", &head),
            Ok(ResponseFraming::Length(10))
        );
    }
}
