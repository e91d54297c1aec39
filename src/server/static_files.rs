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

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::http::{ResponseHead, Version};
use crate::units::Time;

use super::tokens::PRODUCT_VERSION;

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

/// `expires`: how long caches may keep a file without asking again
/// (ngx_http_headers_module). nginx writes `Expires` (the date) and
/// `Cache-Control: max-age` (the seconds) after `ETag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expires {
    /// `expires off` (the default): neither field is written.
    Off,
    /// `expires 1h`: fresh for this long from now.
    For(Time),
    /// `expires epoch`: already stale (`Cache-Control: no-cache`).
    Epoch,
    /// `expires max`: ten years (`Expires: Thu, 31 Dec 2037 23:55:55 GMT`).
    Max,
}

impl Expires {
    pub fn parse(s: &str) -> Result<Expires, String> {
        match s.trim() {
            "off" => Ok(Expires::Off),
            "epoch" => Ok(Expires::Epoch),
            "max" => Ok(Expires::Max),
            t => Time::parse(t)
                .map(Expires::For)
                .map_err(|e| format!("expires: {e}, or off, epoch or max")),
        }
    }

    /// `(Expires, Cache-Control)` for a response sent at `now_secs`.
    pub fn fields(self, now_secs: u64) -> Option<(String, String)> {
        match self {
            Expires::Off => None,
            Expires::Epoch => Some((http_date(1), "no-cache".to_string())),
            // nginx's fixed values for `max`.
            Expires::Max => Some((
                "Thu, 31 Dec 2037 23:55:55 GMT".to_string(),
                "max-age=315360000".to_string(),
            )),
            Expires::For(t) => {
                let secs = t.0.as_secs();
                Some((
                    http_date(now_secs.saturating_add(secs)),
                    format!("max-age={secs}"),
                ))
            }
        }
    }

    /// Write the fields, when on, at the end of `head`.
    pub fn apply(self, head: &mut ResponseHead, now_secs: u64) {
        if let Some((expires, cache_control)) = self.fields(now_secs) {
            head.headers.push("Expires", expires);
            head.headers.push("Cache-Control", cache_control);
        }
    }
}

impl fmt::Display for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expires::Off => f.write_str("off"),
            Expires::Epoch => f.write_str("epoch"),
            Expires::Max => f.write_str("max"),
            Expires::For(t) => write!(f, "{t}"),
        }
    }
}

impl Serialize for Expires {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Expires, D::Error> {
        Expires::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

crate::units::schema_as_text!(Expires, "Expires", {
    "description": "nginx's `expires`: \"off\", \"epoch\", \"max\" or a time such as \"1h\".",
    "type": "string",
    "pattern": "^\\s*(off|epoch|max|[0-9]+(ms|s|m|h)?)\\s*$"
});

/// The fields every answer about a file starts with.
fn file_head(status: u16, date: &str) -> ResponseHead {
    let mut head = ResponseHead::new(status);
    head.version = Version::Http11;
    head.headers.push("Server", PRODUCT_VERSION);
    head.headers.push("Date", date);
    head
}

fn connection(keep_alive: bool) -> &'static str {
    if keep_alive { "keep-alive" } else { "close" }
}

/// The head of a 304: no body, so no Content-Type, Content-Length or
/// Accept-Ranges (nginx 1.22, measured); the validators, and `expires`.
pub fn not_modified_head(
    facts: &FileFacts,
    date: &str,
    keep_alive: bool,
    expires: Expires,
    now_secs: u64,
) -> ResponseHead {
    let mut head = file_head(304, date);
    head.headers
        .push("Last-Modified", http_date(facts.mtime_secs));
    head.headers.push("Connection", connection(keep_alive));
    if !facts.etag.is_empty() {
        head.headers.push("ETag", facts.etag.as_str());
    }
    expires.apply(&mut head, now_secs);
    head
}

/// The fields nginx decides on a file's whole 200 before its range filter
/// turns it into a 206 or a 416, and that stay on what the range filter
/// sends (RFC 9110 §15.3.7 for the 206).
#[derive(Debug, Clone, Copy)]
pub struct WholeFields {
    /// `Vary: Accept-Encoding`: a compression filter found the whole 200
    /// "could vary" (`r->gzip_vary`) and `gzip_vary` is on. The filters
    /// mark it before they look at `Accept-Encoding`, so a 206 for a
    /// client that asked for no coding still has it.
    pub vary: bool,
    /// `expires`: written by the headers filter, which runs before the
    /// range filter.
    pub expires: Expires,
    /// Now, for `expires`.
    pub now_secs: u64,
}

impl WholeFields {
    /// `Vary`, then `Expires` and `Cache-Control`, on a head the range
    /// filter made from nothing (the 416's error page): `Vary` after
    /// `Connection`, where nginx's header filter writes it.
    pub fn apply_to_page(&self, head: &mut ResponseHead) {
        if self.vary {
            head.headers
                .insert_after("connection", "Vary", "Accept-Encoding");
        }
        self.expires.apply(head, self.now_secs);
    }
}

/// The head of a 206 of one range, or of several in `multipart/byteranges`
/// (`boundary` set). The length is the body's.
///
/// `expires` is written as on the 200: nginx's headers filter (which
/// writes it) runs before its range filter turns the 200 into a 206
/// (`ngx_http_range_header_filter` is the later of the two), and RFC 9110
/// §15.3.7 asks a 206 to carry the `Cache-Control`, `Expires` (and `Vary`)
/// the 200 would have carried.
pub fn partial_head(
    facts: &FileFacts,
    date: &str,
    keep_alive: bool,
    body_len: u64,
    single: Option<String>,
    boundary: Option<&str>,
    whole: &WholeFields,
) -> ResponseHead {
    let mut head = file_head(206, date);
    match boundary {
        Some(b) => head.headers.push(
            "Content-Type",
            format!("multipart/byteranges; boundary={b}"),
        ),
        None => head
            .headers
            .push("Content-Type", facts.content_type.as_str()),
    }
    head.headers.push("Content-Length", body_len.to_string());
    head.headers
        .push("Last-Modified", http_date(facts.mtime_secs));
    head.headers.push("Connection", connection(keep_alive));
    if whole.vary {
        head.headers.push("Vary", "Accept-Encoding");
    }
    if !facts.etag.is_empty() {
        head.headers.push("ETag", facts.etag.as_str());
    }
    whole.expires.apply(&mut head, whole.now_secs);
    if let Some(range) = single {
        head.headers.push("Content-Range", range);
    }
    head
}

/// The head of a 200 for a whole file, in nginx's order.
pub fn ok_head(
    facts: &FileFacts,
    date: &str,
    keep_alive: bool,
    expires: Expires,
    now_secs: u64,
) -> ResponseHead {
    let mut head = ResponseHead::new(200);
    head.version = Version::Http11;
    head.headers.push("Server", PRODUCT_VERSION);
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
    if !facts.etag.is_empty() {
        head.headers.push("ETag", facts.etag.as_str());
    }
    expires.apply(&mut head, now_secs);
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
    fn expires_writes_expires_and_max_age_before_accept_ranges() {
        let f = FileFacts::new("/srv/a.css", 7, 0, "text/plain");
        let head = ok_head(&f, "d", true, Expires::parse("1h").unwrap(), 1_764_547_200);
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(
            &names[6..],
            ["ETag", "Expires", "Cache-Control", "Accept-Ranges"]
        );
        assert_eq!(head.headers.get("cache-control"), Some("max-age=3600"));
        assert_eq!(
            head.headers.get("expires"),
            Some("Mon, 01 Dec 2025 01:00:00 GMT")
        );
        assert_eq!(
            Expires::Epoch.fields(5),
            Some(("Thu, 01 Jan 1970 00:00:01 GMT".into(), "no-cache".into()))
        );
        assert!(Expires::parse("soon").is_err());
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
        let head = ok_head(&f, "d", true, Expires::Off, 0);
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
