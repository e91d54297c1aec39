//! A stack's whole configuration: the `[stack]` table of a lesson file.

use serde::{Deserialize, Serialize};

use crate::app::AppConfig;
use crate::framework::FrameworkConfig;
use crate::gateway::AppServerConfig;
use crate::server::WebServerConfig;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    /// `[stack.web_server]`: nginx's settings.
    pub web_server: WebServerConfig,
    /// `[stack.app_server]`: gunicorn's / uvicorn's settings.
    pub app_server: AppServerConfig,
    /// `[stack.framework]`: the framework's own behaviour (what it does
    /// with an exception).
    pub framework: FrameworkConfig,
    /// `[stack.app]`: the notes app and its database.
    pub app: AppConfig,
}
