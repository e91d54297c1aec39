//! Bearer tokens: signed JWTs (RFC 7519) that carry who you are, for API
//! clients that do not keep cookies.
//!
//! ```text
//! POST /tokens {username, password} ─▶ {"access_token": "eyJ….eyJ….sig", "token_type": "Bearer"}
//! GET /me  Authorization: Bearer eyJ….eyJ….sig
//!    header  {"alg":"HS256","typ":"JWT"}
//!    payload {"sub":"1","name":"alice","roles":["editor"],"iat":…,"exp":…}
//!    sig     HMAC-SHA256(secret, base64url(header) "." base64url(payload))
//! ```
//!
//! The server checks the signature with the algorithm *it* chose (HS256),
//! never the one the token names: a token that says `"alg": "none"` is
//! refused, not believed (RFC 8725 §2.1, §3.1). Any change to the payload
//! (say, `roles: ["admin"]`) breaks the signature; a token signed with
//! another key does not verify. Then `exp` (RFC 7519 §4.1.4): a token at
//! or after its expiry is refused. Expiry is read on the stack's clock,
//! not the machine's, so that a lesson's "16 minutes later" is exact: the
//! `jsonwebtoken` crate's own expiry check (which reads the system clock)
//! is turned off and done here.
//!
//! A token is *stateless*: the server keeps nothing, so signing out cannot
//! revoke it; it holds until `exp`. That is the trade against sessions
//! (see `sessions`), and why access tokens live minutes, not weeks.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use std::time::UNIX_EPOCH;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::framework::middleware::{AuthBackend, Found};
use crate::framework::{Credential, Rejected, Request, Role, User};
use crate::gateway::BoxFuture;

/// The claims our tokens carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id, as a string (RFC 7519 §4.1.2).
    pub sub: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and checks tokens with one shared secret.
#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
    clock: Clock,
    pub ttl_secs: u64,
}

impl Tokens {
    pub fn new(secret: &str, clock: Clock, ttl_secs: u64) -> Tokens {
        Tokens {
            secret: secret.as_bytes().to_vec(),
            clock,
            ttl_secs,
        }
    }

    fn now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// A signed token for this user, valid for `ttl_secs`.
    pub fn issue(&self, id: i64, name: &str, roles: &[Role]) -> Result<(String, Claims), String> {
        let iat = self.now();
        let claims = Claims {
            sub: id.to_string(),
            name: name.to_string(),
            roles: roles.to_vec(),
            iat,
            exp: iat + self.ttl_secs,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map(|t| (t, claims))
        .map_err(|e| e.to_string())
    }

    /// The user a token names, or why it does not hold.
    pub fn check(&self, token: &str) -> Result<User, String> {
        if let Some(alg) = named_alg(token)
            && alg != "HS256"
        {
            return Err(format!(
                "the token says alg: {alg}; this server accepts only HS256 (RFC 8725 §3.1)"
            ));
        }
        // The algorithm is pinned here, not read from the token.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => {
                "the signature does not match: the token was changed, or signed with another key"
                    .to_string()
            }
            ErrorKind::InvalidAlgorithm => {
                "the token names another algorithm than HS256, which this server requires"
                    .to_string()
            }
            ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
            _ => format!("the token is malformed ({e})"),
        })?;
        let now = self.now();
        if now >= data.claims.exp {
            return Err(format!(
                "the token expired {} s ago",
                now.saturating_sub(data.claims.exp)
            ));
        }
        let id = data
            .claims
            .sub
            .parse::<i64>()
            .map_err(|_| "the token's `sub` is not a user id".to_string())?;
        Ok(User {
            id,
            username: data.claims.name,
            roles: data.claims.roles,
            via: Credential::Bearer,
        })
    }
}

/// The `alg` a token's header names, read only to explain a refusal.
fn named_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("alg")?.as_str().map(str::to_string)
}

/// The authentication backend that reads `Authorization: Bearer …`
/// (RFC 6750 §2.1).
pub struct BearerBackend(pub Tokens);

impl AuthBackend for BearerBackend {
    fn reads(&self) -> String {
        "the bearer token in Authorization".to_string()
    }

    fn authenticate<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let Some(value) = req.header("authorization") else {
                return Found::Nothing;
            };
            let Some((scheme, token)) = value.trim().split_once(' ') else {
                return Found::Nothing;
            };
            // The scheme is case-insensitive (RFC 9110 §11.1).
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Found::Nothing;
            }
            match self.0.check(token.trim()) {
                Ok(user) => Found::User(user),
                Err(reason) => Found::Rejected(Rejected {
                    credential: Credential::Bearer,
                    reason,
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::LESSON_EPOCH_SECS;
    use base64::Engine;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn tokens() -> Tokens {
        Tokens::new("lesson secret", Clock::starting_at(LESSON_EPOCH_SECS), 900)
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_token_names_its_user() {
        let t = tokens();
        let (token, claims) = t.issue(1, "alice", &[Role::Editor]).expect("signs");
        assert_eq!(claims.exp, LESSON_EPOCH_SECS + 900);
        let user = t.check(&token).expect("valid");
        assert_eq!((user.id, user.username.as_str()), (1, "alice"));
        assert_eq!(user.via, Credential::Bearer);
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_payload_another_key_and_alg_none_are_refused() {
        let t = tokens();
        let (token, _) = t.issue(1, "alice", &[Role::Editor]).expect("signs");
        let parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&format!(
            r#"{{"sub":"1","name":"alice","roles":["admin"],"iat":{0},"exp":{1}}}"#,
            LESSON_EPOCH_SECS,
            LESSON_EPOCH_SECS + 900
        ));
        let tampered = [parts[0], &forged, parts[2]].join(".");
        assert!(t.check(&tampered).unwrap_err().contains("signature"));
        let other = Tokens::new("another secret", Clock::starting_at(LESSON_EPOCH_SECS), 900);
        let (theirs, _) = other.issue(1, "alice", &[Role::Admin]).expect("signs");
        assert!(t.check(&theirs).unwrap_err().contains("signature"));
        let none = [b64(r#"{"alg":"none","typ":"JWT"}"#), forged, String::new()].join(".");
        assert!(t.check(&none).unwrap_err().contains("alg: none"));
        assert!(t.check("not a token").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_refused_from_its_exp_on_by_the_stacks_clock() {
        let t = tokens();
        let (token, _) = t.issue(1, "alice", &[]).expect("signs");
        tokio::time::advance(std::time::Duration::from_secs(899)).await;
        assert!(t.check(&token).is_ok());
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert!(t.check(&token).unwrap_err().contains("expired 0 s ago"));
    }
}
