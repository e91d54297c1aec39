//! Cookies: the `Cookie` header a browser sends and the `Set-Cookie` a
//! server answers with (RFC 6265).
//!
//! ```text
//! server ─ Set-Cookie: sessionid=Zq…; HttpOnly; SameSite=Lax; Path=/ ─▶ browser (stores it)
//! server ◀──────────────── Cookie: sessionid=Zq… ──────────────────── browser (every request)
//! ```
//!
//! The attributes are the security of a session cookie:
//!
//! * `HttpOnly`: page scripts cannot read it (`document.cookie`), so a
//!   cross-site-scripting bug cannot steal the session (RFC 6265 §4.1.2.6).
//! * `Secure`: sent over HTTPS only (§4.1.2.5); set when the request came
//!   over TLS.
//! * `SameSite=Lax`: not sent on cross-site subrequests or cross-site
//!   POSTs, only on top-level GET navigations (RFC 6265bis §4.1.2.7);
//!   Django's default.
//! * `Path=/`: sent for every path of the site.
//! * `Max-Age=0` with an empty value deletes it (§4.1.2.2), as logout does.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use crate::http::text::decimal;

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), if sent.
/// The first of repeated names wins, as most servers read it.
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value for a session cookie with the attributes above.
pub fn session(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let mut c = [
        name,
        "=",
        value,
        "; HttpOnly; SameSite=Lax; Path=/; Max-Age=",
        &decimal(max_age_secs),
    ]
    .concat();
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn delete(name: &str, secure: bool) -> String {
    let mut c = [name, "=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"].concat();
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_finds_a_cookie_among_others_and_ignores_look_alikes() {
        let h = "theme=dark; sessionid=abc; xsessionid=no";
        assert_eq!(get(h, "sessionid"), Some("abc"));
        assert_eq!(get(h, "session"), None);
        assert_eq!(get("garbage without pairs", "sessionid"), None);
    }

    #[test]
    fn session_cookie_is_httponly_lax_path_root_and_secure_over_tls() {
        assert_eq!(
            session("sessionid", "v", 1800, false),
            "sessionid=v; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800"
        );
        assert!(session("sessionid", "v", 1, true).ends_with("; Secure"));
        assert_eq!(
            delete("sessionid", false),
            "sessionid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
        );
    }
}
