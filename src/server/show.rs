//! Heads as trace data: what the detail pane shows for a parsed request or
//! response. Used by the web server, its proxy, and the lesson client.

use crate::http::{RequestHead, ResponseHead};
use crate::trace::Data;

pub fn request_head(head: &RequestHead) -> Data {
    Data::RequestHead {
        method: head.method.clone(),
        target: head.target.clone(),
        version: head.version.as_str().into(),
        headers: head.headers.to_pairs(),
    }
}

pub fn response_head(head: &ResponseHead) -> Data {
    Data::ResponseHead {
        version: head.version.as_str().into(),
        status: head.status,
        reason: head.reason.clone(),
        headers: head.headers.to_pairs(),
    }
}

/// A websocket frame as trace data: its header fields and payload. Used
/// by the lesson client and the app server (the web server's tunnel sees
/// only bytes).
pub fn ws_frame(frame: &crate::http::ws::Frame) -> Data {
    use crate::http::ws::Opcode;
    let (close_code, close_reason) = if frame.opcode == Opcode::Close {
        match crate::http::ws::close::parse_payload(&frame.payload) {
            Ok(c) => (c.code.map(|c| c.0), Some(c.reason)),
            Err(_) => (None, None),
        }
    } else {
        (None, None)
    };
    Data::WsFrame {
        fin: frame.fin,
        opcode: frame.opcode.name().to_string(),
        mask: frame
            .mask
            .map(|k| k.iter().map(|b| format!("{b:02x}")).collect()),
        length_form: frame.length_form.name().to_string(),
        len: frame.payload.len() as u64,
        payload: crate::trace::bytes::show_at_most(&frame.payload, 512),
        close_code,
        close_reason,
    }
}

/// The accept key's computation as trace data.
pub fn ws_accept(a: &crate::http::ws::Accept) -> Data {
    Data::WsAccept {
        key: a.key.clone(),
        concatenated: a.concatenated.clone(),
        sha1_hex: a.sha1_hex.clone(),
        accept: a.accept.clone(),
    }
}
