//! Static files: a file answered by the web server itself, as nginx's
//! static module does, without the app server ever seeing the request.
//!
//! What a 200 for a file carries (nginx 1.22, measured), in nginx's order:
//!
//! ```text
//! Server, Date, Content-Type (by extension, mime.types),
//! Content-Length, Last-Modified (the file's mtime), Connection,
//! ETag "<mtime in hex>-<size in hex>" (ngx_http_set_etag), Accept-Ranges: bytes
//! ```
//!
//! A response to HEAD has the same head and no body. Only GET and HEAD
//! may read a file: any other method gets nginx's `405 Not Allowed`.
//!
//! Book: "The web server" (book/src/web-server.md), "Static files".

use crate::http::{ResponseHead, Version};

use super::error_page::SERVER_NAME;

/// The type of a file, by its extension, from nginx's `mime.types`.
/// Anything else gets `default_type` (nginx's directive default is
/// `text/plain`; distributions' nginx.conf often set
/// `application/octet-stream`).
pub fn content_type(path: &str, default_type: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return default_type.to_string(),
    };
    let known = match ext.as_str() {
        "html" | "htm" | "shtml" => "text/html",
        "css" => "text/css",
        "xml" => "text/xml",
        "txt" => "text/plain",
        "js" => "application/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" | "svgz" => "image/svg+xml",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "wasm" => "application/wasm",
        _ => default_type,
    };
    known.to_string()
}

/// nginx's entity tag for a file: its mtime and its size, in lower-case
/// hex, quoted (a strong validator, RFC 9110 §8.8.3).
pub fn etag(mtime_secs: u64, len: u64) -> String {
    format!("\"{mtime_secs:x}-{len:x}\"")
}

/// An HTTP-date (RFC 9110 §5.6.7) for seconds since 1970.
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// What a file's response says about it, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub path: String,
    pub len: u64,
    pub mtime_secs: u64,
    pub content_type: String,
    pub etag: String,
}

impl FileFacts {
    pub fn new(path: &str, len: u64, mtime_secs: u64, default_type: &str) -> FileFacts {
        FileFacts {
            path: path.to_string(),
            len,
            mtime_secs,
            content_type: content_type(path, default_type),
            etag: etag(mtime_secs, len),
        }
    }

    /// The file as trace data.
    pub fn fields(&self) -> Vec<(String, String)> {
        vec![
            ("file".into(), self.path.clone()),
            ("size".into(), self.len.to_string()),
            ("mtime".into(), http_date(self.mtime_secs)),
            ("content_type".into(), self.content_type.clone()),
            ("etag".into(), self.etag.clone()),
        ]
    }
}

/// The head of a 200 for a whole file, in nginx's order.
pub fn ok_head(facts: &FileFacts, date: &str, keep_alive: bool) -> ResponseHead {
    let mut head = ResponseHead::new(200);
    head.version = Version::Http11;
    head.headers.push("Server", SERVER_NAME);
    head.headers.push("Date", date);
    head.headers
        .push("Content-Type", facts.content_type.as_str());
    head.headers.push("Content-Length", facts.len.to_string());
    head.headers
        .push("Last-Modified", http_date(facts.mtime_secs));
    head.headers.push(
        "Connection",
        if keep_alive { "keep-alive" } else { "close" },
    );
    head.headers.push("ETag", facts.etag.as_str());
    head.headers.push("Accept-Ranges", "bytes");
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_mtime_and_size_in_hex_as_nginx_writes_it() {
        // nginx 1.22 served a 7-byte file with mtime 0x6b113188 as this.
        assert_eq!(etag(0x6b11_3188, 7), "\"6b113188-7\"");
    }

    #[test]
    fn types_come_from_the_extension_and_the_rest_get_the_default() {
        assert_eq!(content_type("/srv/a.CSS", "text/plain"), "text/css");
        assert_eq!(
            content_type("/srv/app.js", "text/plain"),
            "application/javascript"
        );
        assert_eq!(content_type("/srv/README", "text/plain"), "text/plain");
        assert_eq!(content_type("/srv/.hidden", "x/y"), "x/y");
        assert_eq!(content_type("/srv/a.tar.gz", "x/y"), "application/gzip");
    }

    #[test]
    fn a_file_head_has_nginx_fields_in_nginx_order() {
        let f = FileFacts::new("/srv/a.css", 7, 0x6b11_3188, "text/plain");
        let head = ok_head(&f, "d", true);
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "Server",
                "Date",
                "Content-Type",
                "Content-Length",
                "Last-Modified",
                "Connection",
                "ETag",
                "Accept-Ranges"
            ]
        );
    }
}
