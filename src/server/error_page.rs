//! The responses the web server writes itself, shaped like nginx's: a small
//! HTML page whose title keeps nginx's own reason phrases ("413 Request
//! Entity Too Large", "400 Request Header Or Cookie Too Large").

use crate::http::{ResponseHead, status};

/// `Server:` on everything the web server sends.
pub const SERVER_NAME: &str = "roundtrip-nginx";

/// nginx's reason phrase for a status it generates (nginx keeps the names
/// of RFC 2616 where RFC 9110 renamed them).
pub fn nginx_reason(code: u16) -> &'static str {
    match code {
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Large",
        _ => status::reason(code),
    }
}

/// nginx's page title for a status it generates.
pub fn nginx_title(code: u16) -> String {
    format!("{code} {}", nginx_reason(code))
}

/// After these nginx drops keep-alive (`ngx_http_special_response_handler`).
pub fn closes_connection(code: u16) -> bool {
    matches!(code, 400 | 408 | 413 | 414 | 500 | 501 | 505)
}

/// Head and body of an error page. `keep_alive` says whether the
/// connection stays open after it (never for the statuses of
/// [`closes_connection`]).
pub fn page(code: u16, title: &str, date: &str, keep_alive: bool) -> (ResponseHead, Vec<u8>) {
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>{SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes();
    let mut head = ResponseHead::new(code);
    head.reason = nginx_reason(code).to_string();
    head.headers.push("Server", SERVER_NAME);
    head.headers.push("Date", date);
    head.headers.push("Content-Type", "text/html");
    head.headers.push("Content-Length", body.len().to_string());
    if !keep_alive || closes_connection(code) {
        head.headers.push("Connection", "close");
    }
    (head, body)
}
