//! Microsoft.ManagedIdentity/userAssignedIdentities as the REST spec shapes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A user-assigned identity as ARM returns it (no `systemData`, as in Azure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Full resource id; ARM spells the `resourcegroups` segment in lower case.
    pub id: String,
    /// The identity's name, in the case last supplied.
    pub name: String,
    /// Always `Microsoft.ManagedIdentity/userAssignedIdentities`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Azure region, e.g. `eastus`.
    pub location: String,
    /// Tags; `{}` when none were given.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Service-generated ids and settable properties.
    pub properties: IdentityProperties,
}

/// The `properties` block of an identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProperties {
    /// Tenant of the identity's service principal.
    pub tenant_id: String,
    /// Object id of the identity's service principal.
    pub principal_id: String,
    /// Application (client) id of the identity's service principal.
    pub client_id: String,
    /// `None` or `Regional`; present from api-version 2024-11-30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_scope: Option<String>,
    /// Providers the identity may be assigned to; present from api-version 2026-05-31.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_restrictions: Option<AssignmentRestrictions>,
}

/// `properties.assignmentRestrictions` (api-version 2026-05-31).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssignmentRestrictions {
    /// Resource provider namespaces or namespace/type pairs.
    #[serde(default)]
    pub providers: Vec<String>,
}
