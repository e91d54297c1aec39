//! One frame, to and from bytes (RFC 6455 §5.2), with masking (§5.3).
//!
//! ```text
//! byte 0: FIN · RSV1 · RSV2 · RSV3 · opcode (4 bits)
//! byte 1: MASK · payload length (7 bits: 0–125, or 126 / 127)
//!         126 → the next 2 bytes are the length (16-bit)
//!         127 → the next 8 bytes are the length (64-bit, top bit 0)
//! then:   the 4-byte masking key, when MASK is set
//! then:   the payload, each byte XORed with key[i % 4] when masked
//! ```
//!
//! A client masks every frame it sends and a server masks none (§5.1): a
//! server that reads an unmasked frame, or a client a masked one, fails
//! the connection with 1002. The parser knows which end it reads for
//! ([`Role`]), and the largest payload it accepts, so an over-long frame is
//! refused from its header, before its payload is read (1009).
//!
//! Book: "WebSockets" (book/src/websockets.md).

use super::close::CloseCode;

/// Which end is reading: the rules on masking depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A server reads what a client sent: every frame must be masked.
    Server,
    /// A client reads what a server sent: no frame may be masked.
    Client,
}

/// What a frame carries (§5.2; 0x3–0x7 and 0xB–0xF are reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: the first (or only) fragment of a UTF-8 text message.
    Text,
    /// 0x2: the first (or only) fragment of a binary message.
    Binary,
    /// 0x8: close the connection (code and reason in the payload).
    Close,
    /// 0x9: are you there? (the peer answers with a pong).
    Ping,
    /// 0xA: the answer to a ping, with its payload.
    Pong,
}

impl Opcode {
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    pub fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// Control frames (close, ping, pong) may come between the fragments
    /// of a message, and are never fragmented themselves (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        }
    }
}

/// Which of the three encodings carried the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// 0–125, in the 7 bits of byte 1.
    Bits7,
    /// 126, then a 16-bit length.
    Bits16,
    /// 127, then a 64-bit length.
    Bits64,
}

impl LengthForm {
    /// The shortest form for this length, the one a sender must use (§5.2).
    pub fn for_len(len: u64) -> LengthForm {
        match len {
            0..=125 => LengthForm::Bits7,
            126..=0xFFFF => LengthForm::Bits16,
            _ => LengthForm::Bits64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LengthForm::Bits7 => "7-bit",
            LengthForm::Bits16 => "16-bit",
            LengthForm::Bits64 => "64-bit",
        }
    }
}

/// One frame. `payload` is always the unmasked bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// RSV1–RSV3 (bits 6–4 of byte 0); non-zero only with an extension.
    pub rsv: u8,
    pub opcode: Opcode,
    /// The masking key, when the frame was (or is to be) masked.
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
    /// How the length was written (as read; the shortest when built).
    pub length_form: LengthForm,
}

impl Frame {
    /// A whole message in one frame, or a control frame, unmasked.
    pub fn new(opcode: Opcode, payload: Vec<u8>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            length_form: LengthForm::for_len(payload.len() as u64),
            opcode,
            mask: None,
            payload,
        }
    }

    pub fn masked(mut self, key: [u8; 4]) -> Frame {
        self.mask = Some(key);
        self
    }

    pub fn fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }

    /// The bytes before the payload: 2 to 14 of them.
    pub fn header_len(&self) -> usize {
        let len = match self.length_form {
            LengthForm::Bits7 => 0,
            LengthForm::Bits16 => 2,
            LengthForm::Bits64 => 8,
        };
        2 + len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The frame as it goes on the wire (payload masked when `mask` is set).
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len() as u64;
        let mut out = Vec::with_capacity(self.header_len() + self.payload.len());
        out.push(u8::from(self.fin) << 7 | (self.rsv & 0x7) << 4 | self.opcode.bits());
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        // The form as chosen, unless the length does not fit it.
        let form = match (self.length_form, LengthForm::for_len(len)) {
            (LengthForm::Bits7, needed) => needed,
            (LengthForm::Bits16, LengthForm::Bits64) => LengthForm::Bits64,
            (chosen, _) => chosen,
        };
        match form {
            // `len` is at most 125 here.
            LengthForm::Bits7 => out.push(mask_bit | len as u8),
            LengthForm::Bits16 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            LengthForm::Bits64 => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(apply_mask(&self.payload, key));
            }
            None => out.extend_from_slice(&self.payload),
        }
        out
    }
}

/// XOR each byte with the key, byte `i` with `key[i % 4]` (§5.3): the same
/// operation masks and unmasks.
pub fn apply_mask(payload: &[u8], key: [u8; 4]) -> impl Iterator<Item = u8> + '_ {
    payload.iter().enumerate().map(move |(i, b)| b ^ key[i % 4])
}

/// A frame that breaks the rules. Each fails the connection with the
/// close code [`FrameError::close_code`] gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("RSV bits {0:#05b} are set, and no extension was agreed (RFC 6455 §5.2)")]
    Reserved(u8),
    #[error("opcode {0:#x} is reserved (RFC 6455 §5.2)")]
    ReservedOpcode(u8),
    #[error("a client frame arrived unmasked: every client frame must be masked (RFC 6455 §5.1)")]
    Unmasked,
    #[error("a server frame arrived masked: a server must not mask (RFC 6455 §5.1)")]
    MaskedByServer,
    #[error("a {opcode} frame is fragmented or over 125 bytes ({len}): control frames may be neither (RFC 6455 §5.5)", opcode = .0.name(), len = .1)]
    BadControl(Opcode, u64),
    #[error("the 64-bit length has its top bit set (RFC 6455 §5.2)")]
    LengthTopBit,
    #[error("a frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge { len: u64, max: u64 },
}

impl FrameError {
    /// 1009 for a frame over the size limit, 1002 for the rest (§7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            FrameError::TooLarge { .. } => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The reason the close frame carries: the Python `websockets`
    /// library's words (`frames.py`), which uvicorn sends by default. The
    /// trace's step explains the rule in full.
    pub fn reason(&self) -> String {
        match self {
            FrameError::Reserved(_) => "reserved bits must be 0".into(),
            FrameError::ReservedOpcode(_) => "invalid opcode".into(),
            FrameError::Unmasked | FrameError::MaskedByServer => "incorrect masking".into(),
            FrameError::BadControl(_, len) if *len > 125 => "control frame too long".into(),
            FrameError::BadControl(..) => "fragmented control frame".into(),
            FrameError::LengthTopBit => String::new(),
            FrameError::TooLarge { len, max } => {
                format!("frame with {len} bytes exceeds limit of {max} bytes")
            }
        }
    }
}

/// The parser's three outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame, and how many bytes of the buffer it took.
    Complete { frame: Frame, consumed: usize },
    /// Not enough bytes yet: read more and call again.
    Partial,
}

/// Parse one frame from the front of `buf`, for the reader `role`, with
/// payloads of at most `max_payload` bytes. The header is checked before
/// the payload has arrived, so an over-long or unmasked frame is refused
/// without waiting for its bytes.
pub fn parse(buf: &[u8], role: Role, max_payload: u64) -> Result<Parsed, FrameError> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(Parsed::Partial);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    if rsv != 0 {
        return Err(FrameError::Reserved(rsv));
    }
    let opcode = Opcode::from_bits(b0 & 0xF).ok_or(FrameError::ReservedOpcode(b0 & 0xF))?;
    let masked = b1 & 0x80 != 0;
    match (role, masked) {
        (Role::Server, false) => return Err(FrameError::Unmasked),
        (Role::Client, true) => return Err(FrameError::MaskedByServer),
        _ => {}
    }
    let (len, length_form, rest) = match b1 & 0x7F {
        126 => match rest {
            [a, b, rest @ ..] => (
                u64::from(u16::from_be_bytes([*a, *b])),
                LengthForm::Bits16,
                rest,
            ),
            _ => return Ok(Parsed::Partial),
        },
        127 => match rest.split_first_chunk::<8>() {
            Some((bytes, rest)) => {
                let len = u64::from_be_bytes(*bytes);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthTopBit);
                }
                (len, LengthForm::Bits64, rest)
            }
            None => return Ok(Parsed::Partial),
        },
        n => (u64::from(n), LengthForm::Bits7, rest),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::BadControl(opcode, len));
    }
    if len > max_payload {
        return Err(FrameError::TooLarge {
            len,
            max: max_payload,
        });
    }
    let (mask, rest) = if masked {
        match rest.split_first_chunk::<4>() {
            Some((key, rest)) => (Some(*key), rest),
            None => return Ok(Parsed::Partial),
        }
    } else {
        (None, rest)
    };
    // `len` is at most `max_payload`, which the caller keeps within memory.
    let Ok(len) = usize::try_from(len) else {
        return Err(FrameError::TooLarge {
            len,
            max: max_payload,
        });
    };
    if rest.len() < len {
        return Ok(Parsed::Partial);
    }
    let payload = match mask {
        Some(key) => apply_mask(&rest[..len], key).collect(),
        None => rest[..len].to_vec(),
    };
    let consumed = buf.len() - rest.len() + len;
    Ok(Parsed::Complete {
        frame: Frame {
            fin,
            rsv,
            opcode,
            mask,
            payload,
            length_form,
        },
        consumed,
    })
}

/// Read the next frame from a connection: `Ok(None)` when the peer
/// closed it (or it broke) before a whole frame. Safe to cancel (in a
/// `select!`): bytes read stay in the connection's buffer.
pub async fn read<S>(
    conn: &mut crate::http::HttpConn<S>,
    role: Role,
    max_payload: u64,
) -> Result<Option<Frame>, FrameError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        if let Parsed::Complete { frame, consumed } = parse(conn.buffered(), role, max_payload)? {
            conn.consume(consumed);
            return Ok(Some(frame));
        }
        match conn.fill().await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8], role: Role) -> (Frame, usize) {
        match parse(buf, role, 1 << 20) {
            Ok(Parsed::Complete { frame, consumed }) => (frame, consumed),
            other => panic!("not a whole frame: {other:?}"),
        }
    }

    #[test]
    fn rfc_examples_an_unmasked_and_a_masked_hello() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello"…
        let (f, n) = complete(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], Role::Client);
        assert_eq!(
            (f.fin, f.opcode, f.payload.as_slice(), n),
            (true, Opcode::Text, &b"Hello"[..], 7)
        );
        // …and the same, masked with 37 fa 21 3d.
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (f, _) = complete(&masked, Role::Server);
        assert_eq!(f.payload, b"Hello");
        assert_eq!(f.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(
            Frame::new(Opcode::Text, b"Hello".to_vec())
                .masked([0x37, 0xfa, 0x21, 0x3d])
                .encode(),
            masked
        );
    }

    #[test]
    fn rfc_examples_fragments_and_the_16_and_64_bit_lengths() {
        // §5.7: "Hel" then "lo", a fragmented text message.
        let (first, _) = complete(&[0x01, 0x03, 0x48, 0x65, 0x6c], Role::Client);
        assert_eq!((first.fin, first.opcode), (false, Opcode::Text));
        let (last, _) = complete(&[0x80, 0x02, 0x6c, 0x6f], Role::Client);
        assert_eq!((last.fin, last.opcode), (true, Opcode::Continuation));
        // 256 bytes: 126 then a 16-bit length; 65536: 127 then 64 bits.
        let f = Frame::new(Opcode::Binary, vec![7; 256]);
        assert_eq!(&f.encode()[..4], &[0x82, 0x7E, 0x01, 0x00]);
        let big = Frame::new(Opcode::Binary, vec![7; 65536]);
        assert_eq!(&big.encode()[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(
            complete(&big.encode(), Role::Client).0.length_form,
            LengthForm::Bits64
        );
    }

    #[test]
    fn a_server_refuses_an_unmasked_frame_and_a_client_a_masked_one_with_1002() {
        let unmasked = Frame::new(Opcode::Text, b"hi".to_vec()).encode();
        let e = parse(&unmasked, Role::Server, 100).unwrap_err();
        assert_eq!(
            (e.clone(), e.close_code()),
            (FrameError::Unmasked, CloseCode::PROTOCOL_ERROR)
        );
        let masked = Frame::new(Opcode::Text, b"hi".to_vec())
            .masked([1, 2, 3, 4])
            .encode();
        assert_eq!(
            parse(&masked, Role::Client, 100),
            Err(FrameError::MaskedByServer)
        );
    }

    #[test]
    fn an_oversized_frame_is_refused_with_1009_from_its_header_alone() {
        let header = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0];
        let e = parse(&header, Role::Server, 1024).unwrap_err();
        assert_eq!(
            e,
            FrameError::TooLarge {
                len: 1 << 20,
                max: 1024
            }
        );
        assert_eq!(e.close_code(), CloseCode::TOO_BIG);
    }

    #[test]
    fn reserved_bits_reserved_opcodes_and_long_or_fragmented_control_frames_are_refused() {
        assert_eq!(
            parse(&[0xC1, 0x80, 0, 0, 0, 0], Role::Server, 10),
            Err(FrameError::Reserved(4))
        );
        assert_eq!(
            parse(&[0x83, 0x80, 0, 0, 0, 0], Role::Server, 10),
            Err(FrameError::ReservedOpcode(3))
        );
        assert_eq!(
            parse(&[0x09, 0x80], Role::Server, 10),
            Err(FrameError::BadControl(Opcode::Ping, 0))
        );
        assert_eq!(
            parse(&[0x89, 0xFE, 0, 126], Role::Server, 1000),
            Err(FrameError::BadControl(Opcode::Ping, 126))
        );
        assert_eq!(
            parse(
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                Role::Client,
                u64::MAX
            ),
            Err(FrameError::LengthTopBit)
        );
    }

    #[test]
    fn a_frame_cut_anywhere_is_partial() {
        let wire = Frame::new(Opcode::Text, vec![b'a'; 300])
            .masked([9, 8, 7, 6])
            .encode();
        for cut in 0..wire.len() {
            assert_eq!(
                parse(&wire[..cut], Role::Server, 1000),
                Ok(Parsed::Partial),
                "cut at {cut}"
            );
        }
    }
}
