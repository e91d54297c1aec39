//! Who is asking: the identity the authentication middleware attaches to a
//! request, which the authorization middleware and the handlers read.
//!
//! ```text
//! Cookie: sessionid=…          ─┐
//! Authorization: Bearer eyJ…   ─┼─▶ authentication ─▶ req.identity = User { alice, [editor] }
//! (nothing)                    ─┘                     or Anonymous { rejected: … }
//! ```
//!
//! Authentication answers "who are you?"; it never refuses a request by
//! itself. A request with no credentials, or with credentials that do not
//! hold (an expired session, a token with a bad signature), goes on as
//! *anonymous*, remembering why, so that the layer that needs a user can
//! answer 401 and say what was wrong (RFC 6750 §3.1 `invalid_token`).
//! This is Starlette's `AuthenticationMiddleware` with `request.user` and
//! Django's `AnonymousUser`.
//!
//! Book: "Who are you, and what may you do" (book/src/auth.md).

use serde::{Deserialize, Serialize};

/// A role: a named set of permissions (role-based access control).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May do everything, to every object.
    Admin,
    /// May create notes, and change or delete their own.
    Editor,
    /// May read.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// How the client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A session cookie naming a server-side session.
    Session,
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer,
}

impl Credential {
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Session => "session cookie",
            Credential::Bearer => "bearer token",
        }
    }
}

/// A user the request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub roles: Vec<Role>,
    pub via: Credential,
}

impl User {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// `alice (editor)`, for summaries and decisions.
    pub fn describe(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        [&self.username, " (", &roles.join(", "), ")"].concat()
    }
}

/// Credentials came, and were not accepted: which kind, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub credential: Credential,
    pub reason: String,
}

/// The identity a request carries once authentication has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Nobody in particular; `rejected` says why credentials that came
    /// were not accepted.
    Anonymous {
        rejected: Option<Rejected>,
    },
    User(User),
}

impl Identity {
    pub fn user(&self) -> Option<&User> {
        match self {
            Identity::User(u) => Some(u),
            Identity::Anonymous { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Identity::User(u) => u.describe(),
            Identity::Anonymous { .. } => "anonymous".to_string(),
        }
    }
}
