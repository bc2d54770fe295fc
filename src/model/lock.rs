//! A management lock (`Microsoft.Authorization/locks`, 2020-05-01): what it is called, where it
//! sits (its id is `{scope}/providers/Microsoft.Authorization/locks/{name}`) and what it stops.

use serde::{Deserialize, Serialize};

/// A management lock as ARM renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagementLock {
    /// Level, notes and owners.
    pub properties: LockProperties,
    /// Full id: the locked scope, then `/providers/Microsoft.Authorization/locks/{name}`.
    pub id: String,
    /// `Microsoft.Authorization/locks`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The lock's name.
    pub name: String,
}

/// The `properties` of a management lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockProperties {
    /// `NotSpecified`, `CanNotDelete` or `ReadOnly`.
    pub level: String,
    /// Free text, up to 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The applications that own the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<LockOwner>>,
}

/// One owner of a lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockOwner {
    /// The owning application's id.
    #[serde(
        rename = "applicationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub application_id: Option<String>,
}
