//! Heads back to bytes: start line, one `Name: value` line per field, CRLF
//! line ends, a blank line.

use super::headers::latin1_bytes;
use super::message::{RequestHead, ResponseHead};
use super::text::push_decimal;

pub fn request_head(head: &RequestHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&latin1_bytes(&head.target));
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    fields(head.headers.iter(), &mut out);
    out
}

pub fn response_head(head: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(head.version.as_str().as_bytes());
    let mut status = String::with_capacity(5);
    status.push(' ');
    push_decimal(&mut status, u64::from(head.status));
    status.push(' ');
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(head.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    fields(head.headers.iter(), &mut out);
    out
}

fn fields<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&latin1_bytes(value));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
