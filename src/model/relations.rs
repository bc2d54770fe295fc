//! What an identity is related to: its federated credentials, the resources that carry it,
//! and role assignments of its principal. The emulator renders the same shapes, so
//! fields only it fills are optional and left out when empty.

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
    /// The subject the issuer puts in its tokens; empty (and left out) only beside a
    /// `claimsMatchingExpression`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// `{value, languageVersion}` (api-version 2025-01-31-preview and later previews).
    #[serde(
        rename = "claimsMatchingExpression",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub claims_matching_expression: Option<Value>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Managed identities of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ResourceIdentity>,
    /// Every other top-level key (`properties`, `sku`, `kind`...), as the resource holds it.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// The `identity` block of a resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceIdentity {
    /// `SystemAssigned`, `UserAssigned`, both, or `None`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Object id of the system-assigned identity, when there is one.
    #[serde(
        rename = "principalId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub principal_id: Option<String>,
    /// Tenant of the system-assigned identity, when there is one.
    #[serde(rename = "tenantId", default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Identity resource id -> its principal and client ids (or `{}` when it is gone).
    #[serde(
        rename = "userAssignedIdentities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_assigned: Option<BTreeMap<String, Value>>,
}

/// One page of a `listAssociatedResources` answer (AssociatedResourcesListResult).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedResources {
    /// Matches over all pages (a JSON number).
    pub total_count: u64,
    /// The resources on this page.
    pub value: Vec<AssociatedResource>,
    /// Absolute URL of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Free text, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ABAC condition (`null` when none).
    #[serde(default)]
    pub condition: Option<String>,
    /// Version of the condition (`null` when none).
    #[serde(default)]
    pub condition_version: Option<String>,
    /// RFC 3339 time of creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    /// RFC 3339 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<String>,
    /// Object id of the creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Object id of the last writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}
