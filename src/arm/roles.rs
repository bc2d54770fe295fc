//! Role assignments of an identity's principal (Microsoft.Authorization, api-version
//! 2022-04-01): list at the subscription, create (waiting out the directory's replication
//! delay for a new principal), and delete.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::error::ArmError;
use super::{ArmClient, decode, names};
use crate::model::RoleAssignment;

/// The api-version of role assignments.
pub const AUTHORIZATION_API_VERSION: &str = "2022-04-01";

/// Built-in roles by name, with their fixed role definition GUIDs.
pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    (
        "User Access Administrator",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    ),
    (
        "Managed Identity Contributor",
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    ),
    (
        "Managed Identity Operator",
        "f1a07417-d97a-45cb-824c-7a7467783830",
    ),
];

/// How often, and how long apart, an assignment to a brand-new principal is tried again.
const PRINCIPAL_WAITS: &[u64] = &[1, 2, 4, 8, 15, 30];

/// The full role definition id for a role given by name, GUID or id.
pub fn role_definition_id(subscription: &str, role: &str) -> Result<String, ArmError> {
    if role.starts_with('/')
        && role
            .to_lowercase()
            .contains("/providers/microsoft.authorization/roledefinitions/")
    {
        return Ok(role.to_string());
    }
    let guid = if uuid::Uuid::try_parse(role).is_ok() {
        role.to_string()
    } else {
        let wanted = role.replace(['-', '_'], " ");
        let found = BUILT_IN_ROLES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&wanted));
        let Some((_, guid)) = found else {
            let known: Vec<&str> = BUILT_IN_ROLES.iter().map(|(n, _)| *n).collect();
            return Err(ArmError::invalid(
                "role",
                role,
                format!(
                    "a role is a role definition id, a GUID, or one of: {}",
                    known.join(", ")
                ),
            ));
        };
        guid.to_string()
    };
    Ok(format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    ))
}

/// Scopes are the subscription, one of its resource groups, or a resource in it.
pub fn scope(subscription: &str, scope: &str) -> Result<String, ArmError> {
    names::resource_path("scope", scope)?;
    let prefix = format!("/subscriptions/{subscription}");
    let rule = "a scope is /subscriptions/{id}, a resource group id, or a resource id in the current subscription";
    if !scope.to_lowercase().starts_with(&prefix.to_lowercase())
        || scope.contains("//")
        || scope.ends_with('/')
    {
        return Err(ArmError::invalid("scope", scope, rule));
    }
    let parts: Vec<&str> = scope.split('/').collect();
    if parts.len() > 3 && !parts[3].eq_ignore_ascii_case("resourceGroups") {
        return Err(ArmError::invalid("scope", scope, rule));
    }
    if let Some(rg) = parts.get(4) {
        names::group_name(rg)?;
    }
    Ok(scope.to_string())
}

impl ArmClient {
    /// Every role assignment of a principal in the subscription, at any scope.
    pub async fn role_assignments_of(
        &self,
        subscription: &str,
        principal_id: &str,
    ) -> Result<Vec<RoleAssignment>, ArmError> {
        names::subscription_id(subscription)?;
        let mut url = self.url(
            &format!(
                "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments"
            ),
            AUTHORIZATION_API_VERSION,
        );
        url.query_pairs_mut()
            .append_pair("$filter", &format!("principalId eq '{principal_id}'"));
        self.list_all(url).await
    }

    /// Every role assignment in the subscription (for checking many identities at once).
    pub async fn role_assignments_all(
        &self,
        subscription: &str,
    ) -> Result<Vec<RoleAssignment>, ArmError> {
        names::subscription_id(subscription)?;
        let url = self.url(
            &format!(
                "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments"
            ),
            AUTHORIZATION_API_VERSION,
        );
        self.list_all(url).await
    }

    /// Assigns a role to a principal at a scope. A principal created moments ago is not yet
    /// known to the directory (400 PrincipalNotFound); that is waited out a bounded number of times.
    pub async fn role_assign(
        &self,
        scope: &str,
        role_definition_id: &str,
        principal_id: &str,
    ) -> Result<RoleAssignment, ArmError> {
        names::resource_path("scope", scope)?;
        let name = uuid::Uuid::new_v4().to_string();
        let url = self.url(
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            AUTHORIZATION_API_VERSION,
        );
        let body = json!({ "properties": {
            "roleDefinitionId": role_definition_id, "principalId": principal_id, "principalType": "ServicePrincipal"
        }});
        let mut waits = PRINCIPAL_WAITS.iter();
        loop {
            match self
                .send(Method::PUT, url.clone(), Some(&body), &[200, 201])
                .await
            {
                Ok(reply) => return decode(&reply),
                Err(e) if e.code() == "PrincipalNotFound" => match waits.next() {
                    Some(secs) => {
                        tracing::info!(
                            "principal {principal_id} is not replicated yet; trying again in {secs} s"
                        );
                        self.pause(Duration::from_secs(*secs), &url).await?;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// GET one role assignment by id.
    pub async fn role_assignment_show(&self, id: &str) -> Result<RoleAssignment, ArmError> {
        names::resource_path("role assignment id", id)?;
        self.get_json(self.url(id, AUTHORIZATION_API_VERSION)).await
    }

    /// Deletes a role assignment by id: `true` when it was deleted, `false` when it was gone.
    pub async fn role_assignment_delete(&self, id: &str) -> Result<bool, ArmError> {
        if !id
            .to_lowercase()
            .contains("/providers/microsoft.authorization/roleassignments/")
        {
            return Err(ArmError::invalid(
                "role assignment id",
                id,
                "a role assignment id ends in /providers/Microsoft.Authorization/roleAssignments/{guid}",
            ));
        }
        let reply = self
            .send(
                Method::DELETE,
                self.url(id, AUTHORIZATION_API_VERSION),
                None,
                &[200, 204],
            )
            .await?;
        Ok(reply.status == 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn roles_by_name_guid_or_id() {
        let reader = role_definition_id(SUB, "reader").unwrap();
        assert!(reader.ends_with("/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"));
        assert_eq!(
            role_definition_id(SUB, "managed-identity-operator").unwrap(),
            role_definition_id(SUB, "Managed Identity Operator").unwrap()
        );
        assert!(
            role_definition_id(SUB, "f1a07417-d97a-45cb-824c-7a7467783830")
                .unwrap()
                .starts_with("/subscriptions/")
        );
        assert_eq!(role_definition_id(SUB, &reader).unwrap(), reader);
        assert!(
            role_definition_id(SUB, "Wizard")
                .unwrap_err()
                .to_string()
                .contains("Managed Identity Operator")
        );
    }

    #[test]
    fn scopes_stay_in_the_subscription() {
        for ok in [
            format!("/subscriptions/{SUB}"),
            format!("/subscriptions/{SUB}/resourceGroups/rg"),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
            ),
        ] {
            assert!(scope(SUB, &ok).is_ok(), "{ok}");
        }
        for bad in [
            "/subscriptions/other".to_string(),
            format!("/subscriptions/{SUB}/"),
            format!("/subscriptions/{SUB}/foo/bar"),
            "rg".to_string(),
        ] {
            assert!(scope(SUB, &bad).is_err(), "{bad}");
        }
    }
}
