//! The lesson client's cookie jars: what a browser does with cookies,
//! so that a lesson can sign in once and stay signed in.
//!
//! ```text
//! response: Set-Cookie: sessionid=Zq…; HttpOnly; Path=/   ─▶ jar "alice" keeps sessionid=Zq…
//! request with jar = "alice"                              ─▶ Cookie: sessionid=Zq…
//! response: Set-Cookie: sessionid=; Max-Age=0             ─▶ jar "alice" forgets it
//! ```
//!
//! A `[[request]]` with `jar = "NAME"` sends that jar's cookies and keeps
//! what the response sets, as a browser does for one site (RFC 6265
//! §5.3: a cookie with `Max-Age` ≤ 0 is removed). `jar_from = "OTHER"`
//! first copies another jar into it: a thief's copy of a cookie, which the
//! browser's sign-out does not reach.
//!
//! What we simplify: one site, so no `Domain` or `Path` matching, and no
//! expiry by `Max-Age` over time (the server checks that anyway).
//!
//! Book: "Writing a lesson" (book/src/lessons.md).

use std::collections::BTreeMap;

/// The jars, by name; each maps a cookie's name to its value. Beside
/// them, the bearer tokens the lesson kept (`save_token`), by name.
#[derive(Debug, Default)]
pub struct Jars {
    jars: BTreeMap<String, BTreeMap<String, String>>,
    tokens: BTreeMap<String, String>,
}

impl Jars {
    /// Keep the `access_token` of a JSON body under `name`.
    pub fn save_token(&mut self, name: &str, body: &[u8]) {
        let token = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
        if let Some(t) = token {
            self.tokens.insert(name.to_string(), t);
        }
    }

    /// The token kept under `name`; `tampered` swaps its payload for one
    /// that claims the admin role, keeping header and signature.
    pub fn token(&self, name: &str, tampered: bool) -> Option<String> {
        let token = self.tokens.get(name)?;
        if !tampered {
            return Some(token.clone());
        }
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let payload = parts.get(1).and_then(|p| engine.decode(p).ok())?;
        let mut claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
        claims["roles"] = serde_json::json!(["admin"]);
        parts[1] = engine.encode(claims.to_string());
        Some(parts.join("."))
    }

    /// Copy jar `from` into jar `to` (replacing what `to` had).
    pub fn copy(&mut self, from: &str, to: &str) {
        let copied = self.jars.get(from).cloned().unwrap_or_default();
        self.jars.insert(to.to_string(), copied);
    }

    /// One cookie of jar `name`.
    pub fn cookie(&self, jar: &str, cookie: &str) -> Option<&str> {
        self.jars.get(jar)?.get(cookie).map(String::as_str)
    }

    /// The `Cookie` header for jar `name`, if it holds any cookie.
    pub fn cookie_header(&self, name: &str) -> Option<String> {
        let jar = self.jars.get(name).filter(|j| !j.is_empty())?;
        let pairs: Vec<String> = jar.iter().map(|(n, v)| [n, "=", v].concat()).collect();
        Some(pairs.join("; "))
    }

    /// Keep what one `Set-Cookie` value says, in jar `name`.
    pub fn store(&mut self, name: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((cookie, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            return;
        };
        let removed = parts.any(|attr| {
            attr.trim().split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age")
                    && v.trim().parse::<i64>().is_ok_and(|n| n <= 0)
            })
        });
        let jar = self.jars.entry(name.to_string()).or_default();
        if removed {
            jar.remove(cookie.trim());
        } else {
            jar.insert(cookie.trim().to_string(), value.trim().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jar_keeps_what_is_set_forgets_what_is_deleted_and_copies_survive() {
        let mut jars = Jars::default();
        assert_eq!(jars.cookie_header("alice"), None);
        jars.store("alice", "sessionid=abc; HttpOnly; Path=/; Max-Age=1800");
        jars.store("alice", "theme=dark");
        assert_eq!(
            jars.cookie_header("alice").as_deref(),
            Some("sessionid=abc; theme=dark")
        );
        jars.copy("alice", "thief");
        jars.store("alice", "sessionid=; Max-Age=0; Path=/");
        assert_eq!(jars.cookie_header("alice").as_deref(), Some("theme=dark"));
        assert_eq!(
            jars.cookie_header("thief").as_deref(),
            Some("sessionid=abc; theme=dark")
        );
        jars.store("alice", "garbage");
        assert_eq!(jars.cookie_header("alice").as_deref(), Some("theme=dark"));
    }
}
