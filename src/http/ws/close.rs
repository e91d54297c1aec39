//! Close codes (RFC 6455 §7.4) and the close frame's payload (§5.5.1): a
//! two-byte code, then an optional UTF-8 reason.
//!
//! Book: "WebSockets" (book/src/websockets.md).

/// A close status code. The ones roundtrip sends or shows have names;
/// any other valid code is kept as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (a server shutting down, a page
    /// navigated away from).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol (an unmasked client frame, …).
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1005: no code was in the close frame. Never sent on the wire; what
    /// an app is told when the peer gave none.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed with no close frame at all. Never sent
    /// on the wire; what an app is told.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message that is not UTF-8.
    pub const INVALID_DATA: CloseCode = CloseCode(1007);
    /// 1008: the message broke the endpoint's policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: the server met an unexpected condition (RFC 6455 §7.4.1).
    /// uvicorn does not send it when the app raises: it drops the
    /// connection, and the client sees 1006.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// The code's name in RFC 6455 §7.4.1 (IANA registry names).
    pub fn name(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            3000..=3999 => "registered for libraries and frameworks",
            4000..=4999 => "private use",
            _ => "unassigned",
        }
    }

    /// May this code travel in a close frame (§7.4.1, §7.4.2)? 1005, 1006
    /// and 1015 are only for telling an app; 0–999 and the unassigned
    /// 1016–2999 are not used.
    pub fn sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// What a close frame's payload said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// `None`: the payload was empty (the app is told 1005).
    pub code: Option<CloseCode>,
    pub reason: String,
}

/// Why a close payload is refused (the answer is a close with 1002, or
/// 1007 for a reason that is not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosePayloadError {
    #[error("a close payload of one byte cannot hold a two-byte code (RFC 6455 §5.5.1)")]
    OneByte,
    #[error("close code {0} may not be sent in a close frame (RFC 6455 §7.4)")]
    Unsendable(u16),
    #[error("the close reason is not UTF-8 (RFC 6455 §5.5.1): {0}")]
    Utf8(super::message::Utf8Reason),
}

impl ClosePayloadError {
    pub fn close_code(&self) -> CloseCode {
        match self {
            ClosePayloadError::Utf8(_) => CloseCode::INVALID_DATA,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The reason the close frame carries, in the `websockets` library's
    /// words (`frames.py`, `Close.parse` and `Close.check`).
    pub fn reason(&self) -> String {
        match self {
            ClosePayloadError::OneByte => "close frame too short".into(),
            ClosePayloadError::Unsendable(_) => "invalid status code".into(),
            ClosePayloadError::Utf8(r) => r.to_string(),
        }
    }
}

/// Read a close frame's payload.
pub fn parse_payload(payload: &[u8]) -> Result<Closing, ClosePayloadError> {
    match payload {
        [] => Ok(Closing {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(ClosePayloadError::OneByte),
        [hi, lo, rest @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.sendable() {
                return Err(ClosePayloadError::Unsendable(code.0));
            }
            let reason = std::str::from_utf8(rest)
                .map_err(|e| ClosePayloadError::Utf8(super::message::Utf8Reason::of(rest, e)))?;
            Ok(Closing {
                code: Some(code),
                reason: reason.to_string(),
            })
        }
    }
}

/// A close frame's payload: the code, then the reason, cut so the whole
/// fits a control frame's 125 bytes (§5.5) at a character boundary.
pub fn payload(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = code.0.to_be_bytes().to_vec();
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_payload_is_a_big_endian_code_then_the_reason() {
        assert_eq!(payload(CloseCode::NORMAL, "bye"), b"\x03\xe8bye");
        let back = parse_payload(b"\x03\xe8bye").unwrap();
        assert_eq!(back.code, Some(CloseCode::NORMAL));
        assert_eq!(back.reason, "bye");
    }

    #[test]
    fn an_empty_payload_means_no_status_and_codes_for_apps_only_are_refused() {
        assert_eq!(parse_payload(b"").unwrap().code, None);
        assert_eq!(parse_payload(b"\x03"), Err(ClosePayloadError::OneByte));
        for code in [1005u16, 1006, 1015, 999, 2000] {
            let err = parse_payload(&code.to_be_bytes()).unwrap_err();
            assert_eq!(err, ClosePayloadError::Unsendable(code));
            assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
        }
        let bad = parse_payload(b"\x03\xe8\xff").unwrap_err();
        assert_eq!(bad.close_code(), CloseCode::INVALID_DATA);
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_to_fit_a_control_frame() {
        let long = "é".repeat(100);
        let p = payload(CloseCode::GOING_AWAY, &long);
        assert!(p.len() <= 125);
        assert!(std::str::from_utf8(&p[2..]).is_ok());
    }
}
