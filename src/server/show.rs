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
