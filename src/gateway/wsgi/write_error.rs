//! The page a gunicorn worker writes when a request fails below the app:
//! `gunicorn.util.write_error`, called from `Worker.handle_error`
//! (`workers/base.py`).
//!
//! It bypasses the WSGI response object entirely: it formats a status
//! line, three header fields and a small HTML page into one string and
//! writes it straight onto the socket. So unlike every response the app
//! makes, it has no `Server` and no `Date` field, and its fields come in
//! gunicorn's fixed order: `Connection: close`, `Content-Type: text/html`,
//! `Content-Length`. A worker killed on `timeout` answers with it too: the
//! arbiter's SIGABRT raises `SystemExit` inside the request, which the
//! worker's `handle` catches as a `BaseException` and passes to
//! `handle_error` as a 500 "Internal Server Error" with an empty message
//! (gunicorn 27, `workers/sync.py`).
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), "The arbiter
//! kills a stuck worker".

/// The bytes `write_error(sock, status, reason, mesg)` sends. `mesg` is
/// HTML-escaped as Python's `html.escape` does (quotes included).
pub fn write_error(status: u16, reason: &str, mesg: &str) -> Vec<u8> {
    // The template after textwrap.dedent: two-space indents, one line per
    // element, a trailing newline.
    let page = format!(
        "<html>\n  <head>\n    <title>{reason}</title>\n  </head>\n  <body>\n    \
         <h1><p>{reason}</p></h1>\n    {}\n  </body>\n</html>\n",
        html_escape(mesg)
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/html\r\n\
         Content-Length: {}\r\n\r\n{page}",
        page.len()
    )
    .into_bytes()
}

/// The 500 a worker writes when the arbiter kills it mid-request.
pub fn worker_timeout_page() -> Vec<u8> {
    write_error(500, "Internal Server Error", "")
}

/// Python's `html.escape(s, quote=True)`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact bytes gunicorn 27.0.1's `util.write_error(sock, 500,
    /// "Internal Server Error", "")` writes (its template run through
    /// CPython 3.11's textwrap.dedent).
    #[test]
    fn the_timeout_500_is_byte_for_byte_gunicorns_write_error() {
        let expected = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\
             Content-Type: text/html\r\nContent-Length: 141\r\n\r\n<html>\n  <head>\n    \
             <title>Internal Server Error</title>\n  </head>\n  <body>\n    \
             <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n";
        assert_eq!(String::from_utf8_lossy(&worker_timeout_page()), expected);
    }

    #[test]
    fn the_page_has_no_server_or_date_field_and_its_length_counts_the_page() {
        let bytes = write_error(400, "Bad Request", "Invalid Method 'G<T'");
        let text = String::from_utf8_lossy(&bytes);
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(!head.to_ascii_lowercase().contains("server:"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("date:"), "{head}");
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        assert!(body.contains("Invalid Method &#x27;G&lt;T&#x27;"), "{body}");
    }
}
