//! Fragments to messages (RFC 6455 §5.4): a message is one data frame
//! with FIN set, or a text/binary frame without FIN followed by
//! continuation frames until one has FIN. Control frames may arrive
//! between fragments and are handed on at once.
//!
//! The [`Assembler`] holds at most `max_message` bytes of an unfinished
//! message; one byte more fails the connection with 1009 (uvicorn's
//! `ws_max_size`, 16 MiB by default, is such a limit). Text must be UTF-8
//! once whole (1007).
//!
//! Book: "WebSockets" (book/src/websockets.md).

use super::close::{self, CloseCode, ClosePayloadError};
use super::frame::{Frame, Opcode};

/// What a whole message or control frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// `code` is `None` when the close frame had no payload.
    Close {
        code: Option<CloseCode>,
        reason: String,
    },
}

/// Why the frames do not make a message. Each fails the connection with
/// [`AssembleError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssembleError {
    #[error("a continuation frame with no message to continue (RFC 6455 §5.4)")]
    NothingToContinue,
    #[error("a new {name} frame in the middle of a fragmented message (RFC 6455 §5.4)", name = .0.name())]
    Interleaved(Opcode),
    #[error(
        "a frame of {size} bytes after {so_far} bytes of its message makes the message over {max} bytes"
    )]
    TooBig {
        /// The frame's payload, and the message's bytes before it.
        size: usize,
        so_far: usize,
        max: usize,
    },
    #[error("a text message that is not UTF-8 (RFC 6455 §8.1): {0}")]
    Utf8(Utf8Reason),
    #[error(transparent)]
    Close(#[from] ClosePayloadError),
}

impl AssembleError {
    pub fn close_code(&self) -> CloseCode {
        match self {
            AssembleError::TooBig { .. } => CloseCode::TOO_BIG,
            AssembleError::Utf8(_) => CloseCode::INVALID_DATA,
            AssembleError::Close(e) => e.close_code(),
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The reason the close frame carries, in the `websockets` library's
    /// words (`protocol.py`, `exceptions.py`), as uvicorn sends it.
    pub fn reason(&self) -> String {
        match self {
            AssembleError::NothingToContinue => "unexpected continuation frame".into(),
            AssembleError::Interleaved(_) => "expected a continuation frame".into(),
            AssembleError::TooBig { size, so_far, max } => format!(
                "frame with {size} bytes after reading {so_far} bytes exceeds limit of {max} bytes"
            ),
            // uvicorn decodes a whole text message itself and closes with
            // a bare 1007 (`websockets_sansio_impl.py`, `handle_text`).
            AssembleError::Utf8(_) => String::new(),
            AssembleError::Close(e) => e.reason(),
        }
    }
}

/// Where UTF-8 decoding failed, said as Python's decoder says it
/// (`UnicodeDecodeError.reason` "at position" its start), which is what
/// `websockets` puts in its 1007 close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf8Reason {
    pub position: usize,
    pub reason: &'static str,
}

impl Utf8Reason {
    pub fn of(bytes: &[u8], e: std::str::Utf8Error) -> Utf8Reason {
        let position = e.valid_up_to();
        let reason = match (e.error_len(), bytes.get(position)) {
            (None, _) => "unexpected end of data",
            // Not a byte a UTF-8 sequence may start with.
            (Some(_), Some(0x80..=0xC1 | 0xF5..=0xFF)) => "invalid start byte",
            _ => "invalid continuation byte",
        };
        Utf8Reason { position, reason }
    }
}

impl std::fmt::Display for Utf8Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.reason, self.position)
    }
}

/// Puts fragments back together; bounded by `max_message`.
#[derive(Debug)]
pub struct Assembler {
    max_message: usize,
    /// The unfinished message: its first opcode and the bytes so far.
    partial: Option<(Opcode, Vec<u8>)>,
}

impl Assembler {
    pub fn new(max_message: usize) -> Assembler {
        Assembler {
            max_message,
            partial: None,
        }
    }

    /// Take one frame; a whole message or control frame comes out, or
    /// `None` while a message is still in fragments.
    pub fn push(&mut self, frame: Frame) -> Result<Option<WsMessage>, AssembleError> {
        let Frame {
            fin,
            opcode,
            payload,
            ..
        } = frame;
        match opcode {
            Opcode::Ping => return Ok(Some(WsMessage::Ping(payload))),
            Opcode::Pong => return Ok(Some(WsMessage::Pong(payload))),
            Opcode::Close => {
                let c = close::parse_payload(&payload)?;
                return Ok(Some(WsMessage::Close {
                    code: c.code,
                    reason: c.reason,
                }));
            }
            Opcode::Text | Opcode::Binary if self.partial.is_some() => {
                return Err(AssembleError::Interleaved(opcode));
            }
            Opcode::Continuation if self.partial.is_none() => {
                return Err(AssembleError::NothingToContinue);
            }
            Opcode::Text | Opcode::Binary => self.partial = Some((opcode, Vec::new())),
            Opcode::Continuation => {}
        }
        let Some((first, bytes)) = self.partial.as_mut() else {
            return Err(AssembleError::NothingToContinue);
        };
        if bytes.len() + payload.len() > self.max_message {
            let so_far = bytes.len();
            self.partial = None;
            return Err(AssembleError::TooBig {
                size: payload.len(),
                so_far,
                max: self.max_message,
            });
        }
        bytes.extend_from_slice(&payload);
        if !fin {
            return Ok(None);
        }
        let first = *first;
        let bytes = self.partial.take().map(|(_, b)| b).unwrap_or_default();
        Ok(Some(match first {
            Opcode::Text => {
                WsMessage::Text(String::from_utf8(bytes).map_err(|e| {
                    AssembleError::Utf8(Utf8Reason::of(e.as_bytes(), e.utf8_error()))
                })?)
            }
            _ => WsMessage::Binary(bytes),
        }))
    }
}

/// A message as frames: `fragments` pieces (at least one), each masked
/// with the next key from `mask` when a client sends them.
pub fn fragments(
    opcode: Opcode,
    payload: &[u8],
    pieces: usize,
    mut mask: impl FnMut() -> Option<[u8; 4]>,
) -> Vec<Frame> {
    let pieces = pieces.clamp(1, payload.len().max(1));
    let size = payload.len().div_ceil(pieces).max(1);
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[]]
    } else {
        payload.chunks(size).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let op = if i == 0 { opcode } else { Opcode::Continuation };
            let f = Frame::new(op, chunk.to_vec()).fin(i == last);
            match mask() {
                Some(key) => f.masked(key),
                None => f,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_with_a_ping_between_come_back_as_one_message_and_the_ping() {
        let mut a = Assembler::new(100);
        let frames = fragments(Opcode::Text, b"Hello, room", 3, || None);
        assert_eq!(frames.len(), 3);
        assert_eq!(a.push(frames[0].clone()), Ok(None));
        let ping = Frame::new(Opcode::Ping, b"?".to_vec());
        assert_eq!(a.push(ping), Ok(Some(WsMessage::Ping(b"?".to_vec()))));
        assert_eq!(a.push(frames[1].clone()), Ok(None));
        assert_eq!(
            a.push(frames[2].clone()),
            Ok(Some(WsMessage::Text("Hello, room".into())))
        );
    }

    #[test]
    fn a_message_over_the_limit_is_1009_and_bad_sequences_are_1002() {
        let mut a = Assembler::new(4);
        let e = a.push(Frame::new(Opcode::Binary, vec![0; 5])).unwrap_err();
        assert_eq!(e.close_code(), CloseCode::TOO_BIG);
        let e = a
            .push(Frame::new(Opcode::Continuation, vec![1]))
            .unwrap_err();
        assert_eq!(
            (e.clone(), e.close_code()),
            (AssembleError::NothingToContinue, CloseCode::PROTOCOL_ERROR)
        );
        assert_eq!(
            a.push(Frame::new(Opcode::Text, b"ab".to_vec()).fin(false)),
            Ok(None)
        );
        assert_eq!(
            a.push(Frame::new(Opcode::Text, b"c".to_vec())),
            Err(AssembleError::Interleaved(Opcode::Text))
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_1007() {
        let mut a = Assembler::new(10);
        let e = a.push(Frame::new(Opcode::Text, vec![0xff])).unwrap_err();
        assert_eq!(e.close_code(), CloseCode::INVALID_DATA);
    }
}
