//! `[stack.framework]`: how the framework itself behaves, apart from the
//! app's routes and middleware (those are the app's, under `[stack.app]`).
//!
//! ```toml
//! [stack.framework]
//! exceptions = "propagate"   # default "catch"
//! ```
//!
//! Book: "When things fail" (book/src/failures.md).

use serde::{Deserialize, Serialize};

use super::exception::Exceptions;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FrameworkConfig {
    /// Who answers an exception a handler raised: `catch` (the framework
    /// answers 500, as Starlette's `ServerErrorMiddleware` and Flask do by
    /// default) or `propagate` (the app server answers, as with Flask's
    /// `PROPAGATE_EXCEPTIONS = True`).
    pub exceptions: Exceptions,
}
