//! The responses the web server writes itself, shaped like nginx's
//! (`ngx_http_special_response.c`): a small HTML page whose title keeps
//! nginx's own reason phrases ("413 Request Entity Too Large", "400 Request
//! Header Or Cookie Too Large").

use super::tokens::ServerTokens;
use crate::http::{ResponseHead, status};

/// nginx's reason phrase for a status it generates (nginx keeps the names
/// of RFC 2616 where RFC 9110 renamed them).
pub fn nginx_reason(code: u16) -> &'static str {
    match code {
        302 => "Moved Temporarily",
        405 => "Not Allowed",
        408 => "Request Time-out",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        414 => "Request-URI Too Large",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => status::reason(code),
    }
}

/// nginx's page title for a status it generates. Two pages keep other
/// words than the status line: "302 Found" (the line says "302 Moved
/// Temporarily") and "401 Authorization Required" (the line says "401
/// Unauthorized"), as `ngx_http_error_302_page` and `_401_page` do.
pub fn nginx_title(code: u16) -> String {
    let words = match code {
        302 => "Found",
        401 => "Authorization Required",
        _ => nginx_reason(code),
    };
    format!("{code} {words}")
}

/// After these nginx drops keep-alive (`ngx_http_special_response_handler`).
pub fn closes_connection(code: u16) -> bool {
    matches!(code, 400 | 408 | 413 | 414 | 500 | 501 | 505)
}

/// Which of nginx's pages to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The page of a status: its title is also its heading
    /// ("414 Request-URI Too Large").
    Status(u16),
    /// nginx's own status 494, "Request Header Or Cookie Too Large", for a
    /// header line (or a head) that does not fit its buffers. It is sent
    /// as 400: the title names the reason, the heading says "400 Bad
    /// Request" and a line of its own repeats the reason
    /// (`ngx_http_error_494_page`).
    HeaderTooLarge,
    /// nginx's status 497: a plain HTTP request on a port that listens
    /// with `ssl`. Sent as 400, shaped as the 494 page
    /// (`ngx_http_error_497_page`).
    PlainHttpToHttps,
}

/// The reason of the 497 page.
const PLAIN_TO_HTTPS: &str = "The plain HTTP request was sent to HTTPS port";

/// The reason of the 494 page.
const HEADER_TOO_LARGE: &str = "Request Header Or Cookie Too Large";

impl Page {
    /// The status on the wire.
    pub fn status(self) -> u16 {
        match self {
            Page::Status(code) => code,
            Page::HeaderTooLarge | Page::PlainHttpToHttps => 400,
        }
    }

    fn body(self, tokens: ServerTokens) -> String {
        let (title, middle) = match self {
            Page::Status(code) => {
                let title = nginx_title(code);
                let middle = format!("<center><h1>{title}</h1></center>\r\n");
                (title, middle)
            }
            Page::HeaderTooLarge | Page::PlainHttpToHttps => {
                let reason = if self == Page::HeaderTooLarge {
                    HEADER_TOO_LARGE
                } else {
                    PLAIN_TO_HTTPS
                };
                (
                    format!("400 {reason}"),
                    format!(
                        "<center><h1>{}</h1></center>\r\n<center>{reason}</center>\r\n",
                        nginx_title(400)
                    ),
                )
            }
        };
        format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n{middle}<hr><center>{}</center>\r\n</body>\r\n</html>\r\n",
            tokens.server()
        )
    }
}

/// Head and body of an error page. `keep_alive` says whether the
/// connection stays open after it (never for the statuses of
/// [`closes_connection`]). `tokens` says whether the `Server` field and
/// the page's foot name the version.
pub fn page(
    page: Page,
    tokens: ServerTokens,
    date: &str,
    keep_alive: bool,
) -> (ResponseHead, Vec<u8>) {
    let code = page.status();
    let body = page.body(tokens).into_bytes();
    let mut head = ResponseHead::new(code);
    head.reason = nginx_reason(code).to_string();
    head.headers.push("Server", tokens.server());
    head.headers.push("Date", date);
    head.headers.push("Content-Type", "text/html");
    head.headers.push("Content-Length", body.len().to_string());
    // nginx always says which (ngx_http_header_filter_module.c).
    let keeps = keep_alive && !closes_connection(code);
    head.headers
        .push("Connection", if keeps { "keep-alive" } else { "close" });
    (head, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_302_and_401_pages_keep_other_words_than_their_status_lines() {
        assert_eq!(nginx_reason(302), "Moved Temporarily");
        assert_eq!(nginx_title(302), "302 Found");
        assert_eq!(nginx_reason(401), "Unauthorized");
        assert_eq!(nginx_title(401), "401 Authorization Required");
        assert_eq!(nginx_title(408), "408 Request Time-out");
        assert_eq!(nginx_title(404), "404 Not Found");
    }

    fn body(p: Page) -> String {
        String::from_utf8(page(p, ServerTokens::Off, "Thu, 01 Jan 1970 00:00:00 GMT", false).1)
            .expect("ASCII page")
    }

    #[test]
    fn server_tokens_on_names_the_version_in_the_field_and_at_the_foot() {
        let (head, body) = page(Page::Status(403), ServerTokens::On, "d", true);
        let version = crate::server::tokens::PRODUCT_VERSION;
        assert_eq!(head.headers.get("server"), Some(version));
        let body = String::from_utf8(body).expect("ASCII page");
        assert!(
            body.contains(&format!("<hr><center>{version}</center>")),
            "{body}"
        );
        let (head, body) = page(Page::Status(403), ServerTokens::Off, "d", true);
        assert_eq!(head.headers.get("server"), Some("roundtrip-nginx"));
        assert!(!String::from_utf8_lossy(&body).contains(version));
    }

    #[test]
    fn a_status_page_uses_its_title_as_the_heading() {
        assert_eq!(
            body(Page::Status(414)),
            "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n\
             <center><h1>414 Request-URI Too Large</h1></center>\r\n\
             <hr><center>roundtrip-nginx</center>\r\n</body>\r\n</html>\r\n"
        );
    }

    #[test]
    fn the_header_too_large_page_is_a_400_headed_bad_request_with_the_reason_on_its_own_line() {
        let (head, _) = page(Page::HeaderTooLarge, ServerTokens::Off, "d", true);
        assert_eq!((head.status, head.reason.as_str()), (400, "Bad Request"));
        assert_eq!(head.headers.get("connection"), Some("close"));
        assert_eq!(
            body(Page::HeaderTooLarge),
            "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n\
             <center><h1>400 Bad Request</h1></center>\r\n\
             <center>Request Header Or Cookie Too Large</center>\r\n\
             <hr><center>roundtrip-nginx</center>\r\n</body>\r\n</html>\r\n"
        );
    }
}
