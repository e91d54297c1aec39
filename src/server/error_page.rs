//! The responses the web server writes itself, shaped like nginx's: a small
//! HTML page whose title keeps nginx's own reason phrases ("413 Request
//! Entity Too Large", "400 Request Header Or Cookie Too Large").

use crate::http::{ResponseHead, status};

/// `Server:` on everything the web server sends.
pub const SERVER_NAME: &str = "roundtrip-nginx";

/// nginx's title for a status it generates.
pub fn nginx_title(code: u16) -> String {
    match code {
        413 => "413 Request Entity Too Large".into(),
        414 => "414 Request-URI Too Large".into(),
        _ => format!("{code} {}", status::reason(code)),
    }
}

/// Head and body of an error page. nginx drops keep-alive after 400, 413,
/// 414, 500 and 501, so these always say `Connection: close`.
pub fn page(code: u16, title: &str, date: &str) -> (ResponseHead, Vec<u8>) {
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>{SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes();
    let mut head = ResponseHead::new(code);
    head.headers.push("Server", SERVER_NAME);
    head.headers.push("Date", date);
    head.headers.push("Content-Type", "text/html");
    head.headers.push("Content-Length", body.len().to_string());
    head.headers.push("Connection", "close");
    (head, body)
}
