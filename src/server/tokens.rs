//! `server_tokens`: how much the web server says about itself, in the
//! `Server` field of every response and at the foot of its error pages.
//!
//! | `server_tokens` | nginx sends       | roundtrip sends                  |
//! |-----------------|-------------------|----------------------------------|
//! | `on` (default)  | `nginx/1.29.4`    | `roundtrip-nginx/` + its version |
//! | `off`           | `nginx`           | `roundtrip-nginx`                |
//! | `build`         | `nginx/1.29.4 (B)`, B the name given to `configure --build=`; without one, as `on` | as `on`: roundtrip is built without a build name |
//!
//! The names are roundtrip's own, never `nginx`: a response that claimed
//! to come from nginx would be a lie a learner could carry into a bug
//! report. `off` hides only the version; nginx has no setting that drops
//! the field (RFC 9110 §10.2.4 lets a server leave it out).
//!
//! Source: nginx docs, ngx_http_core_module, `server_tokens`;
//! `ngx_http_header_filter` and `ngx_http_send_special_response`.
//!
//! Book: "The web server" (book/src/web-server.md), "Filtering".

use serde::{Deserialize, Serialize};

/// The product name, with `server_tokens off`.
pub const PRODUCT: &str = "roundtrip-nginx";

/// The product and version, with `server_tokens on`.
pub const PRODUCT_VERSION: &str = concat!("roundtrip-nginx/", env!("CARGO_PKG_VERSION"));

/// `server_tokens on | off | build`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ServerTokens {
    #[default]
    On,
    Off,
    Build,
}

impl ServerTokens {
    /// The value of the `Server` field, which is also the signature at the
    /// foot of an error page.
    pub fn server(self) -> &'static str {
        match self {
            ServerTokens::On | ServerTokens::Build => PRODUCT_VERSION,
            ServerTokens::Off => PRODUCT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_hides_the_version_and_on_shows_it() {
        assert_eq!(ServerTokens::Off.server(), "roundtrip-nginx");
        assert_eq!(
            ServerTokens::On.server(),
            format!("roundtrip-nginx/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(ServerTokens::Build.server(), ServerTokens::On.server());
        assert_eq!(ServerTokens::default(), ServerTokens::On);
    }
}
