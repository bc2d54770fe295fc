//! What `GET {scope}/providers/Microsoft.Authorization/permissions` lists: one entry per role
//! assignment that applies at the scope, with the role's actions and notActions.

use serde::{Deserialize, Serialize};

/// The permissions one role assignment grants at a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Allowed control-plane actions (may hold `*` wildcards).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Actions taken back out of `actions`.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Allowed data-plane actions.
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Data-plane actions taken back out of `data_actions`.
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}
