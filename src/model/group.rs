//! Microsoft.Resources/resourceGroups as ARM returns it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A resource group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceGroup {
    /// `/subscriptions/{sub}/resourceGroups/{name}`.
    pub id: String,
    /// The group's name, in the case last supplied.
    pub name: String,
    /// Always `Microsoft.Resources/resourceGroups`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Azure region; cannot change after creation.
    pub location: String,
    /// Id of the resource that manages this group, if any.
    #[serde(rename = "managedBy", default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Tags; ARM omits the key when the group has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Provisioning state.
    pub properties: ResourceGroupProperties,
}

/// The `properties` block of a resource group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceGroupProperties {
    /// `Succeeded`, or `Deleting` while an asynchronous delete runs.
    #[serde(rename = "provisioningState")]
    pub provisioning_state: String,
}
