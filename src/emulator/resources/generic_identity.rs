//! The `identity` block of a generic resource (ARM's ManagedServiceIdentity): reading
//! it from a PUT or merging it from a PATCH (an entry set to null detaches that identity),
//! checking that newly referenced identities exist, and rendering it with each identity's
//! principal and client ids — `{}` for one that no longer exists, as Azure shows stale
//! references. Knows the store's identity rows, not HTTP.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::Value;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::now_ms;
use crate::emulator::store::{IdentityBlock, SystemIdentity, Tx, identity_scope_key, key_of};
use crate::model::ResourceIdentity;

/// What a request's `identity` says.
#[derive(Debug, Default)]
pub struct IdentityInput {
    /// `type`, read as (system-assigned, user-assigned); `None` when absent.
    kind: Option<(bool, bool)>,
    /// `userAssignedIdentities` entries: id as sent, and false for a null (detach).
    entries: Vec<(String, bool)>,
}

impl IdentityInput {
    /// Reads an `identity` value; `Ok(None)` for null.
    pub fn read(value: &Value) -> Result<Option<Self>, ApiError> {
        let map = match value {
            Value::Null => return Ok(None),
            Value::Object(map) => map,
            other => {
                return Err(ApiError::invalid_content(format!(
                    "'identity' must be an object, found {}",
                    validate::kind_of(other)
                )));
            }
        };
        let kind = match map.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_type(s)?),
            Some(other) => return Err(invalid_type(&other.to_string())),
        };
        let mut entries = Vec::new();
        match map.get("userAssignedIdentities") {
            None | Some(Value::Null) => {}
            Some(Value::Object(ids)) => {
                for (id, value) in ids {
                    if identity_key(id).is_none() {
                        return Err(ApiError::bad_request(
                            "LinkedInvalidPropertyId",
                            format!(
                                "Property id '{id}' at path 'identity.userAssignedIdentities' is invalid. Expect a \
                                 fully qualified resource id of the form '/subscriptions/{{subscriptionId}}/\
                                 resourceGroups/{{resourceGroupName}}/providers/Microsoft.ManagedIdentity/\
                                 userAssignedIdentities/{{name}}'."
                            ),
                        ));
                    }
                    entries.push((id.clone(), !value.is_null()));
                }
            }
            Some(other) => {
                return Err(ApiError::invalid_content(format!(
                    "'identity.userAssignedIdentities' must be an object, found {}",
                    validate::kind_of(other)
                )));
            }
        }
        if kind.is_some_and(|(_, user)| !user) && entries.iter().any(|(_, keep)| *keep) {
            return Err(ApiError::bad_request(
                "InvalidIdentityType",
                "'identity.userAssignedIdentities' may only be given with the identity type 'UserAssigned' or \
                 'SystemAssigned, UserAssigned'.",
            ));
        }
        Ok(Some(Self { kind, entries }))
    }

    /// The block a PUT makes: the type is required, and a user-assigned type needs an entry.
    /// `old` keeps an enabled system identity's ids.
    pub fn replace(
        &self,
        old: Option<&IdentityBlock>,
        tenant_id: &str,
    ) -> Result<IdentityBlock, ApiError> {
        let Some((system, user)) = self.kind else {
            return Err(ApiError::bad_request(
                "InvalidIdentityType",
                "The identity type is required: 'None', 'SystemAssigned', 'UserAssigned' or \
                 'SystemAssigned, UserAssigned'.",
            ));
        };
        let mut block = IdentityBlock {
            system: system.then(|| system_identity(old, tenant_id)),
            user: BTreeMap::new(),
        };
        if user {
            for (id, keep) in &self.entries {
                if *keep {
                    block.user.entry(key_of(id)).or_insert_with(|| id.clone());
                }
            }
            if block.user.is_empty() {
                return Err(ApiError::bad_request(
                    "InvalidIdentityType",
                    "The identity type 'UserAssigned' needs at least one entry in 'identity.userAssignedIdentities'.",
                ));
            }
        }
        Ok(block)
    }

    /// The block a PATCH leaves: entries merge into `old` (null detaches one); a type without
    /// `UserAssigned` detaches them all; with none left, the type drops `UserAssigned`.
    pub fn merge(&self, old: &IdentityBlock, tenant_id: &str) -> IdentityBlock {
        let mut block = old.clone();
        if let Some((system, user)) = self.kind {
            block.system = system.then(|| system_identity(Some(old), tenant_id));
            if !user {
                block.user.clear();
            }
        }
        for (id, keep) in &self.entries {
            if *keep {
                block.user.entry(key_of(id)).or_insert_with(|| id.clone());
            } else {
                block.user.remove(&key_of(id));
            }
        }
        block
    }
}

/// Checks that every identity `block` references and `old` did not exists (a reference kept
/// from before may be stale, as in Azure).
pub fn check_new_references(
    tx: &Tx<'_>,
    resource_id: &str,
    block: &IdentityBlock,
    old: Option<&IdentityBlock>,
) -> Result<(), ApiError> {
    for (key, id) in &block.user {
        if old.is_some_and(|o| o.user.contains_key(key)) {
            continue;
        }
        if lookup(tx, id)?.is_none() {
            return Err(ApiError::bad_request(
                "FailedIdentityOperation",
                format!(
                    "Identity operation for resource '{resource_id}' failed with error 'Failed to perform resource \
                     identity operation. Status: 'NotFound'. Response: 'Resource '{id}' was not found.''."
                ),
            ));
        }
    }
    Ok(())
}

/// Renders a block; `None` when the resource uses no identity.
pub fn render(tx: &Tx<'_>, block: &IdentityBlock) -> Result<Option<ResourceIdentity>, ApiError> {
    let kind = match (block.system.is_some(), !block.user.is_empty()) {
        (false, false) => return Ok(None),
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        (true, true) => "SystemAssigned, UserAssigned",
    };
    let mut user = BTreeMap::new();
    for id in block.user.values() {
        let shown = match lookup(tx, id)? {
            Some(i) => {
                serde_json::json!({ "principalId": i.principal_id, "clientId": i.client_id })
            }
            None => serde_json::json!({}),
        };
        user.insert(id.clone(), shown);
    }
    Ok(Some(ResourceIdentity {
        kind: Some(kind.to_string()),
        principal_id: block.system.as_ref().map(|s| s.principal_id.clone()),
        tenant_id: block.system.as_ref().map(|s| s.tenant_id.clone()),
        user_assigned: (!user.is_empty()).then_some(user),
    }))
}

/// The reference key of a user-assigned identity id (lower case, canonical), or `None` when
/// the id is not one.
pub fn identity_key(id: &str) -> Option<String> {
    let (sub, group, name) = identity_parts(id)?;
    Some(identity_scope_key(&sub, &group, &name))
}

/// (subscription, group, name) keys of a user-assigned identity id.
fn identity_parts(id: &str) -> Option<(String, String, String)> {
    let s: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    let is = |i: usize, word: &str| s[i].eq_ignore_ascii_case(word);
    let ok = s.len() == 8
        && is(0, "subscriptions")
        && validate::is_guid(s[1])
        && is(2, "resourceGroups")
        && !s[3].is_empty()
        && is(4, "providers")
        && is(5, "Microsoft.ManagedIdentity")
        && is(6, "userAssignedIdentities")
        && !s[7].is_empty();
    ok.then(|| (key_of(s[1]), key_of(s[3]), key_of(s[7])))
}

fn lookup(
    tx: &Tx<'_>,
    id: &str,
) -> Result<Option<crate::emulator::store::IdentityRecord>, ApiError> {
    match identity_parts(id) {
        Some((sub, group, name)) => Ok(tx.identity(&sub, &group, &name)?),
        None => Ok(None),
    }
}

fn system_identity(old: Option<&IdentityBlock>, tenant_id: &str) -> SystemIdentity {
    old.and_then(|o| o.system.clone())
        .unwrap_or_else(|| SystemIdentity {
            principal_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_string(),
            created_ms: now_ms(),
        })
}

/// `None`, `SystemAssigned`, `UserAssigned`, `SystemAssigned, UserAssigned` (any case and spacing).
fn parse_type(value: &str) -> Result<(bool, bool), ApiError> {
    let (mut system, mut user) = (false, false);
    for part in value.split(',').map(str::trim) {
        match part.to_ascii_lowercase().as_str() {
            "none" if !value.contains(',') => {}
            "systemassigned" if !system => system = true,
            "userassigned" if !user => user = true,
            _ => return Err(invalid_type(value)),
        }
    }
    Ok((system, user))
}

fn invalid_type(value: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidIdentityType",
        format!(
            "The identity type '{value}' is invalid. Allowed values are 'None', 'SystemAssigned', 'UserAssigned' \
             and 'SystemAssigned, UserAssigned'."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_types() {
        assert_eq!(parse_type("None").unwrap(), (false, false));
        assert_eq!(parse_type("userassigned").unwrap(), (false, true));
        assert_eq!(
            parse_type("SystemAssigned,UserAssigned").unwrap(),
            (true, true)
        );
        assert_eq!(
            parse_type("SystemAssigned, UserAssigned").unwrap(),
            (true, true)
        );
        for bad in [
            "",
            "Both",
            "None, UserAssigned",
            "UserAssigned, UserAssigned",
        ] {
            assert!(parse_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_ids() {
        let id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG/providers/\
                  Microsoft.ManagedIdentity/userAssignedIdentities/Id1";
        assert_eq!(
            identity_key(id).unwrap(),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/\
             microsoft.managedidentity/userassignedidentities/id1"
        );
        for bad in [
            "",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/sites/a",
            "subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
             Microsoft.ManagedIdentity/userAssignedIdentities/a",
        ] {
            assert!(identity_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_patch_merges_and_null_detaches() {
        let a = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/a";
        let b = a.replace("/a", "/b");
        let put = IdentityInput::read(&serde_json::json!({
            "type": "UserAssigned", "userAssignedIdentities": { a: {}, &b: {} }
        }))
        .unwrap()
        .unwrap();
        let block = put.replace(None, "t").unwrap();
        assert_eq!(block.user.len(), 2);
        let patch = IdentityInput::read(&serde_json::json!({
            "userAssignedIdentities": { a.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions"): null }
        }))
        .unwrap()
        .unwrap();
        let merged = patch.merge(&block, "t");
        assert_eq!(merged.user.values().collect::<Vec<_>>(), [&b]);
        let none = IdentityInput::read(&serde_json::json!({"type": "None"}))
            .unwrap()
            .unwrap()
            .merge(&merged, "t");
        assert!(none.user.is_empty() && none.system.is_none());
    }
}
