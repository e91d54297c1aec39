//! `limit_except`: access rules for the methods a location does not list.
//!
//! ```nginx
//! location /notes {
//!     limit_except GET { deny all; }   # POST, PUT, DELETE… get 403
//! }
//! ```
//!
//! A request whose method is listed goes on under the location's own
//! rules; any other method is checked against the rules inside the block
//! (which, when it has none, are the location's). Listing `GET` lets
//! `HEAD` through as well, as the nginx docs say: a HEAD is a GET without
//! the body (RFC 9110 §9.3.2).
//!
//! Source: nginx docs, ngx_http_core_module, `limit_except`.
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use serde::{Deserialize, Serialize};

use super::access::Rule;

/// One `limit_except METHOD … { … }` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitExcept {
    /// The methods let through (`GET` implies `HEAD`).
    pub methods: Vec<String>,
    /// The `allow`/`deny` rules for every other method, in order.
    #[serde(default)]
    pub access: Vec<Rule>,
}

/// The methods `limit_except` accepts (nginx's list; `ngx_http_core_limit_except`).
pub const METHODS: [&str; 14] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
    "PATCH",
];

impl LimitExcept {
    /// Is `method` one of those let through?
    pub fn lets_through(&self, method: &str) -> bool {
        self.methods
            .iter()
            .any(|m| m == method || (m == "GET" && method == "HEAD"))
    }

    /// The methods as nginx writes them after `limit_except`.
    pub fn written(&self) -> String {
        self.methods.join(" ")
    }

    /// What nginx would refuse to start with: no method, or one it does
    /// not know ("invalid method").
    pub fn check(&self) -> Result<(), String> {
        if self.methods.is_empty() {
            return Err("limit_except needs at least one method".to_string());
        }
        match self.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            Some(m) => Err(format!(
                "limit_except: invalid method `{m}` (one of {})",
                METHODS.join(", ")
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(methods: &[&str]) -> LimitExcept {
        LimitExcept {
            methods: methods.iter().map(|m| m.to_string()).collect(),
            access: vec![Rule::parse("deny all").expect("a rule")],
        }
    }

    #[test]
    fn get_lets_head_through_too() {
        let l = only(&["GET"]);
        assert!(l.lets_through("GET"));
        assert!(l.lets_through("HEAD"));
        assert!(!l.lets_through("POST"));
        assert!(!l.lets_through("OPTIONS"));
    }

    #[test]
    fn head_alone_does_not_let_get_through() {
        let l = only(&["HEAD"]);
        assert!(l.lets_through("HEAD"));
        assert!(!l.lets_through("GET"));
    }

    #[test]
    fn methods_match_exactly_as_sent() {
        // Methods are case-sensitive (RFC 9110 §9.1).
        assert!(!only(&["GET"]).lets_through("get"));
    }

    #[test]
    fn an_unknown_method_or_none_is_refused_at_load() {
        assert!(only(&["GET", "POST"]).check().is_ok());
        assert!(only(&[]).check().is_err());
        assert!(
            only(&["FETCH"])
                .check()
                .expect_err("FETCH")
                .contains("FETCH")
        );
    }
}
