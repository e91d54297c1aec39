//! The chunked transfer coding (RFC 9112 §7.1), decoded a byte at a time so
//! a body can arrive in any number of reads.
//!
//! ```text
//! 5\r\nhello\r\n 0\r\n \r\n
//! ^size  ^data    ^last ^end (after optional trailer fields)
//! ```
//!
//! Guarded like a real server: the size numeral may not overflow, chunk
//! extensions are ignored but capped, line ends must be CRLF (nginx ≥1.29.4
//! rejects a lone LF here), and the decoded body may not pass a limit.

use thiserror::Error;

/// Most bytes of chunk extensions (and of one trailer line) we accept.
pub const MAX_EXTENSION_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkedError {
    #[error("a chunk size is not a hexadecimal number")]
    BadSize,
    #[error("a chunk size is too large to represent")]
    SizeOverflow,
    #[error("a chunk line does not end in CRLF")]
    BadLineEnd,
    #[error("chunk extensions or trailers are longer than {MAX_EXTENSION_BYTES} bytes")]
    ExtensionTooLong,
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { digits: usize },
    Extension,
    SizeLf,
    Data { remaining: u64 },
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

/// Incremental decoder. Feed it bytes; it appends the decoded body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    extension_bytes: usize,
    max_body: u64,
    body: Vec<u8>,
}

impl ChunkedDecoder {
    pub fn new(max_body: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            extension_bytes: 0,
            max_body,
            body: Vec::new(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The body decoded so far.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Decode from `input`; returns how many bytes were used. Stops after
    /// the final CRLF, so bytes of a next (pipelined) request are left over.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let b = input[i];
            match self.state {
                State::Size { digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = u64::from((b as char).to_digit(16).unwrap_or(0) as u8);
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(ChunkedError::SizeOverflow)?;
                        self.state = State::Size { digits: digits + 1 };
                    }
                    b';' | b' ' | b'\t' if digits > 0 => self.state = State::Extension,
                    b'\r' if digits > 0 => self.state = State::SizeLf,
                    b'\n' if digits > 0 => return Err(ChunkedError::BadLineEnd),
                    _ => return Err(ChunkedError::BadSize),
                },
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    _ => self.count_extension_byte()?,
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    if self.size == 0 {
                        self.state = State::TrailerStart;
                    } else {
                        let total = (self.body.len() as u64).checked_add(self.size);
                        if total.is_none_or(|t| t > self.max_body) {
                            return Err(ChunkedError::TooLarge {
                                limit: self.max_body,
                            });
                        }
                        self.state = State::Data {
                            remaining: self.size,
                        };
                    }
                }
                State::Data { remaining } => {
                    let available = (input.len() - i) as u64;
                    let take = remaining.min(available) as usize;
                    self.body.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                    continue;
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.size = 0;
                    self.state = State::Size { digits: 0 };
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::FinalLf,
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    _ => {
                        self.count_extension_byte()?;
                        self.state = State::TrailerLine;
                    }
                },
                State::TrailerLine => match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    _ => self.count_extension_byte()?,
                },
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = State::Done;
                }
                State::Done => break,
            }
            i += 1;
        }
        Ok(i)
    }

    fn count_extension_byte(&mut self) -> Result<(), ChunkedError> {
        self.extension_bytes += 1;
        if self.extension_bytes > MAX_EXTENSION_BYTES {
            return Err(ChunkedError::ExtensionTooLong);
        }
        Ok(())
    }
}

/// Encode `body` as one chunk plus the last chunk (for tests and the client).
pub fn encode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    if !body.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkedError> {
        let mut d = ChunkedDecoder::new(1 << 20);
        let used = d.feed(input)?;
        assert!(d.is_done(), "decoder not done");
        Ok((d.into_body(), used))
    }

    #[test]
    fn two_chunks_decode_and_leave_the_next_request() {
        let input = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nGET";
        let (body, used) = decode_all(input).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&input[used..], b"GET");
    }

    #[test]
    fn byte_at_a_time_gives_the_same_body() {
        let input = b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
        let mut d = ChunkedDecoder::new(100);
        for b in input.iter() {
            d.feed(std::slice::from_ref(b)).unwrap();
        }
        assert!(d.is_done());
        assert_eq!(d.body(), b"abc");
    }

    #[test]
    fn oversized_chunk_size_overflows_instead_of_wrapping() {
        let mut d = ChunkedDecoder::new(u64::MAX);
        assert_eq!(
            d.feed(b"fffffffffffffffff\r\n"),
            Err(ChunkedError::SizeOverflow)
        );
    }

    #[test]
    fn body_over_the_limit_is_refused_before_it_is_read() {
        let mut d = ChunkedDecoder::new(4);
        assert_eq!(d.feed(b"5\r\n"), Err(ChunkedError::TooLarge { limit: 4 }));
    }

    #[test]
    fn huge_chunk_with_no_limit_is_refused_not_wrapped() {
        let mut d = ChunkedDecoder::new(u64::MAX);
        assert_eq!(
            d.feed(b"5\r\nhello\r\nffffffffffffffff\r\n"),
            Err(ChunkedError::TooLarge { limit: u64::MAX })
        );
    }

    #[test]
    fn lone_lf_is_a_bad_line_end() {
        let mut d = ChunkedDecoder::new(100);
        assert_eq!(d.feed(b"3\nabc"), Err(ChunkedError::BadLineEnd));
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let (body, _) = decode_all(&encode(b"some body")).unwrap();
        assert_eq!(body, b"some body");
    }
}
