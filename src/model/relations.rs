//! What an identity is related to: its federated credentials, the resources that carry it,
//! and role assignments of its principal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A federated identity credential of a user-assigned identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// Full resource id.
    pub id: String,
    /// Credential name.
    pub name: String,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Issuer, subject, audiences.
    pub properties: FederatedCredentialProperties,
}

/// The `properties` of a federated identity credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedCredentialProperties {
    /// The token issuer (a URL).
    pub issuer: String,
    /// The subject the issuer puts in its tokens.
    pub subject: String,
    /// Accepted audiences.
    pub audiences: Vec<String>,
}

/// A resource of any type, as ARM's generic resource APIs return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericResource {
    /// Full resource id.
    pub id: String,
    /// Resource name.
    pub name: String,
    /// `Namespace/type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Region, where the type has one.
    #[serde(default)]
    pub location: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Managed identities of the resource.
    #[serde(default)]
    pub identity: Option<ResourceIdentity>,
}

/// The `identity` block of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceIdentity {
    /// `SystemAssigned`, `UserAssigned`, both, or `None`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Identity resource id -> its principal and client ids (or `{}` when it is gone).
    #[serde(rename = "userAssignedIdentities", default)]
    pub user_assigned: Option<BTreeMap<String, Value>>,
}

/// One resource that a `listAssociatedResources` answer names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedResource {
    /// Full resource id.
    pub id: String,
    /// Resource name.
    pub name: String,
    /// `Namespace/type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource group.
    pub resource_group: String,
    /// Subscription id.
    pub subscription_id: String,
    /// Subscription display name.
    #[serde(default)]
    pub subscription_display_name: Option<String>,
}

/// A role assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// Full id: `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    pub id: String,
    /// A GUID.
    pub name: String,
    /// `Microsoft.Authorization/roleAssignments`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Role, principal and scope.
    pub properties: RoleAssignmentProperties,
}

/// The `properties` of a role assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    /// `.../providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub role_definition_id: String,
    /// The principal (object) id assigned.
    pub principal_id: String,
    /// `ServicePrincipal` for managed identities.
    #[serde(default)]
    pub principal_type: Option<String>,
    /// The scope it applies at.
    #[serde(default)]
    pub scope: Option<String>,
}
