//! The request line's target forms (RFC 9112 §3.2) and the methods nginx
//! refuses outright.
//!
//! ```text
//! origin-form      GET /notes?x=1 HTTP/1.1           ─▶ served
//! absolute-form    GET http://example.com/notes …    ─▶ served; its host replaces Host (§3.2.2)
//! authority-form   CONNECT example.com:443 …         ─▶ 405: nginx tunnels nothing (allow_connect off)
//! asterisk-form    OPTIONS * …                       ─▶ 400: nginx's parser wants `/` or a scheme
//! ```
//!
//! RFC 9112 allows the authority-form only with CONNECT (§3.2.3) and the
//! asterisk-form only with OPTIONS (§3.2.4); a server need not support
//! either. nginx (1.29.4 and later) parses `CONNECT host:port` and answers
//! 405 unless a module takes the tunnel; any other target with CONNECT,
//! and an authority-form with any other method, is an invalid request
//! line (400). It never accepts `*`: `OPTIONS *` is 400 too. `TRACE` is
//! always 405 ("client sent TRACE method"): echoing a request back lets a
//! script read cookies a page may not (cross-site tracing). Each of these
//! closes the connection. nginx 1.22 differs in one place: it refused
//! `CONNECT host:port` as an invalid request line (400) and answered 405
//! to `CONNECT /`.
//!
//! Source: `ngx_http_parse_request_line` (ngx_http_parse.c) and
//! `ngx_http_process_request_header` (ngx_http_request.c).
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

/// The form of a request target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `/path?query`.
    Origin,
    /// `scheme://authority/path`.
    Absolute,
    /// `host:port`.
    Authority,
    /// `*`.
    Asterisk,
    /// None of them.
    Invalid,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Origin => "origin-form",
            Form::Absolute => "absolute-form",
            Form::Authority => "authority-form",
            Form::Asterisk => "asterisk-form",
            Form::Invalid => "no form of RFC 9112 §3.2",
        }
    }
}

/// Which form a target has.
pub fn form(target: &str) -> Form {
    if target.starts_with('/') {
        return Form::Origin;
    }
    if target == "*" {
        return Form::Asterisk;
    }
    if let Some((scheme, _)) = target.split_once("://")
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Form::Absolute;
    }
    // host:port, the port all digits and not empty (RFC 9112 §3.2.3).
    match target.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !host.contains(['/', '?', '#', '@']) =>
        {
            Form::Authority
        }
        _ => Form::Invalid,
    }
}

/// nginx's verdict on a request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// What nginx logs, and why it refuses.
    pub why: &'static str,
}

/// `None` when nginx goes on with this method and target.
pub fn judge(method: &str, target: &str) -> Option<Refusal> {
    let form = form(target);
    match (method, form) {
        ("CONNECT", Form::Authority) => Some(Refusal {
            status: 405,
            why: "client sent CONNECT method: nginx is a reverse proxy and opens no tunnels \
                  (no module sets allow_connect)",
        }),
        ("CONNECT", _) => Some(Refusal {
            status: 400,
            why: "client sent invalid request: CONNECT takes an authority-form target, host:port \
                  (RFC 9112 §3.2.3)",
        }),
        ("TRACE", _) => Some(Refusal {
            status: 405,
            why: "client sent TRACE method: nginx never echoes a request back (cross-site tracing)",
        }),
        (_, Form::Origin | Form::Absolute) => None,
        (_, Form::Asterisk) => Some(Refusal {
            status: 400,
            why: "client sent invalid request: nginx's request-line parser takes a target that \
                  starts with `/` or a scheme, never `*` (RFC 9112 §3.2.4 lets a server refuse it)",
        }),
        (_, Form::Authority) => Some(Refusal {
            status: 400,
            why: "client sent invalid request: the authority-form is for CONNECT only \
                  (RFC 9112 §3.2.3)",
        }),
        (_, Form::Invalid) => Some(Refusal {
            status: 400,
            why: "client sent invalid request: the target is in no form of RFC 9112 §3.2",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_recognised() {
        assert_eq!(form("/notes?x=1"), Form::Origin);
        assert_eq!(form("http://example.com/notes"), Form::Absolute);
        assert_eq!(form("HTTPS://example.com"), Form::Absolute);
        assert_eq!(form("example.com:443"), Form::Authority);
        assert_eq!(form("[::1]:443"), Form::Authority);
        assert_eq!(form("*"), Form::Asterisk);
        assert_eq!(form("example.com"), Form::Invalid);
        assert_eq!(form("example.com:"), Form::Invalid);
        assert_eq!(form("1http://x/"), Form::Invalid);
    }

    fn status(method: &str, target: &str) -> Option<u16> {
        judge(method, target).map(|r| r.status)
    }

    #[test]
    fn connect_with_an_authority_is_405_and_with_anything_else_400() {
        assert_eq!(status("CONNECT", "example.com:443"), Some(405));
        assert_eq!(status("CONNECT", "/"), Some(400));
        assert_eq!(status("CONNECT", "http://example.com/"), Some(400));
    }

    #[test]
    fn options_asterisk_is_400_like_any_asterisk() {
        assert_eq!(status("OPTIONS", "*"), Some(400));
        assert_eq!(status("GET", "*"), Some(400));
        assert_eq!(status("OPTIONS", "/"), None);
    }

    #[test]
    fn an_authority_without_connect_is_400() {
        assert_eq!(status("GET", "example.com:80"), Some(400));
    }

    #[test]
    fn trace_is_always_405() {
        assert_eq!(status("TRACE", "/"), Some(405));
    }

    #[test]
    fn origin_and_absolute_forms_go_on() {
        assert_eq!(status("GET", "/"), None);
        assert_eq!(status("POST", "http://example.com/notes"), None);
    }
}
