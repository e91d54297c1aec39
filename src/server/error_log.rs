//! nginx's error log: the line an operator greps for when a 502 or 504
//! comes back.
//!
//! A failed proxied request leaves one line at level `error`, written by
//! `ngx_log_error` with the connection's log context appended by
//! `ngx_http_log_error` (ngx_http_request.c): the connection number, the
//! message with the system error in parentheses, what nginx was doing,
//! then `client:`, `server:`, `request:`, `upstream:` and `host:`:
//!
//! ```text
//! [error] *1 upstream timed out (110: Connection timed out) while reading
//! response header from upstream, client: 203.0.113.7, server: , request:
//! "GET /slow HTTP/1.1", upstream: "http://10.0.0.2:8000/slow", host: "example.com"
//! ```
//!
//! The real line begins with the date and `PID#TID:`; the trace has the
//! time already and a lesson has no pid, so those are left out.
//!
//! Book: "The web server", section "When the app server is slow: 504"
//! (book/src/web-server.md).

use std::net::SocketAddr;

use crate::http::RequestHead;

/// One `[error]` line for a request the upstream failed.
pub fn upstream_error(
    conn: u64,
    message: &str,
    client: SocketAddr,
    server_name: &str,
    request: &RequestHead,
    upstream: &str,
) -> String {
    format!(
        "[error] *{conn} {message}, client: {}, server: {server_name}, request: \"{} {} {}\", \
         upstream: \"http://{upstream}{}\", host: \"{}\"",
        client.ip(),
        request.method,
        request.target,
        request.version.as_str(),
        request.target,
        request.headers.get("host").unwrap_or(""),
    )
}

/// The `[info]` line `send_timeout` leaves (see [`super::send_timeout`]):
/// the same context fields, `upstream:` only for a proxied response.
pub fn client_timed_out(
    conn: u64,
    action: &str,
    client: SocketAddr,
    server_name: &str,
    request: &RequestHead,
    upstream: Option<&str>,
) -> String {
    let upstream = upstream.map_or_else(String::new, |u| {
        format!(", upstream: \"http://{u}{}\"", request.target)
    });
    format!(
        "[info] *{conn} client timed out (110: Connection timed out) while {action}, client: {}, \
         server: {server_name}, request: \"{} {} {}\"{upstream}, host: \"{}\"",
        client.ip(),
        request.method,
        request.target,
        request.version.as_str(),
        request.headers.get("host").unwrap_or(""),
    )
}

/// The line nginx logs when `accept()` fails (ngx_event_accept.c): `crit`
/// when the process or the system is out of file descriptors (EMFILE,
/// ENFILE), when it also stops accepting for a while; `error` otherwise.
pub fn accept_failed(e: &std::io::Error) -> String {
    let errno = e.raw_os_error();
    let level = match errno {
        Some(24 | 23) => "crit",
        _ => "error",
    };
    let code = errno.map_or_else(String::new, |n| format!("{n}: "));
    // std's message ends with "(os error N)"; nginx's is strerror alone.
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    format!("[{level}] accept4() failed ({code}{text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Headers, Version};

    #[test]
    fn the_line_has_nginx_context_fields_in_nginx_order() {
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        let req = RequestHead {
            method: "GET".into(),
            target: "/slow".into(),
            version: Version::Http11,
            headers,
        };
        let line = upstream_error(
            3,
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
            "203.0.113.7:50000".parse().expect("an address"),
            "",
            &req,
            "10.0.0.2:8000",
        );
        assert_eq!(
            line,
            "[error] *3 upstream timed out (110: Connection timed out) while reading response \
             header from upstream, client: 203.0.113.7, server: , request: \"GET /slow HTTP/1.1\", \
             upstream: \"http://10.0.0.2:8000/slow\", host: \"example.com\""
        );
    }

    #[test]
    fn an_accept_out_of_descriptors_is_crit_with_the_errno_and_its_words() {
        let e = std::io::Error::from_raw_os_error(24);
        assert_eq!(
            accept_failed(&e),
            "[crit] accept4() failed (24: Too many open files)"
        );
        let e = std::io::Error::from_raw_os_error(103);
        assert!(accept_failed(&e).starts_with("[error] accept4() failed (103: "));
    }
}
