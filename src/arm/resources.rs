//! The resources that carry identities: the subscription's resources with their identity
//! blocks (one paged list, for checking many identities at once), the resources attached
//! to one identity (`listAssociatedResources`), and detaching an identity from a resource.

use reqwest::Method;
use serde_json::json;

use super::error::ArmError;
use super::identity::IdentityRef;
use super::{ArmClient, names, seg};
use crate::model::{AssociatedResource, GenericResource};

/// The api-version of ARM's generic resource list.
pub const RESOURCES_LIST_API_VERSION: &str = "2021-04-01";
/// The preview api-version that serves `listAssociatedResources`.
pub const ASSOCIATED_API_VERSION: &str = "2022-01-31-preview";

/// The api-version of the providers API.
pub const PROVIDERS_API_VERSION: &str = "2021-04-01";

/// A resource provider's registration, as `GET /subscriptions/{s}/providers/{namespace}` returns it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Provider {
    #[serde(default)]
    resource_types: Vec<ProviderType>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderType {
    resource_type: String,
    #[serde(default)]
    api_versions: Vec<String>,
}

/// `(subscription, namespace, type)` of a resource id such as
/// `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app`.
fn provider_of(resource_id: &str) -> Result<(String, String, String), ArmError> {
    names::resource_path("resource id", resource_id)?;
    let parts: Vec<&str> = resource_id.split('/').collect();
    let providers = parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"));
    match (parts.get(2), providers) {
        (Some(sub), Some(i)) if parts.len() > i + 3 => {
            // Nested types (`servers/databases`) interleave names: take every other segment.
            let types: Vec<&str> = parts[i + 2..].iter().step_by(2).copied().collect();
            Ok((sub.to_string(), parts[i + 1].to_string(), types.join("/")))
        }
        _ => Err(ArmError::invalid(
            "resource id",
            resource_id,
            "a resource id ends in /providers/{namespace}/{type}/{name}",
        )),
    }
}

impl ArmClient {
    /// The newest stable api-version ARM offers for a resource's type (read once per type).
    pub async fn resource_api_version(&self, resource_id: &str) -> Result<String, ArmError> {
        let (sub, namespace, kind) = provider_of(resource_id)?;
        let key = format!("{namespace}/{kind}").to_lowercase();
        if let Some(v) = self
            .inner
            .api_versions
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(v);
        }
        let url = self.url(
            &format!("/subscriptions/{}/providers/{}", seg(&sub), seg(&namespace)),
            PROVIDERS_API_VERSION,
        );
        let provider: Provider = self.get_json(url).await?;
        let versions = provider
            .resource_types
            .iter()
            .find(|t| t.resource_type.eq_ignore_ascii_case(&kind))
            .map(|t| t.api_versions.clone())
            .unwrap_or_default();
        let newest_stable = versions
            .iter()
            .filter(|v| !v.contains("preview"))
            .max()
            .or_else(|| versions.iter().max());
        let Some(version) = newest_stable.cloned() else {
            return Err(ArmError::Decode {
                status: 200,
                message: format!("provider {namespace} lists no api-version for type {kind}"),
            });
        };
        if let Ok(mut m) = self.inner.api_versions.lock() {
            m.insert(key, version.clone());
        }
        Ok(version)
    }

    /// GET one resource (with its identity block) at the newest stable api-version of its type.
    pub async fn resource_show(&self, resource_id: &str) -> Result<GenericResource, ArmError> {
        names::resource_path("resource id", resource_id)?;
        let version = self.resource_api_version(resource_id).await?;
        self.get_json(self.url(resource_id, &version)).await
    }

    /// Every resource of the subscription (all pages), with its identity block.
    pub async fn resources_list(
        &self,
        subscription: &str,
    ) -> Result<Vec<GenericResource>, ArmError> {
        names::subscription_id(subscription)?;
        self.list_all(self.url(
            &format!("/subscriptions/{}/resources", seg(subscription)),
            RESOURCES_LIST_API_VERSION,
        ))
        .await
    }

    /// The resources an identity is attached to (all pages).
    pub async fn identity_resources(
        &self,
        id: &IdentityRef,
    ) -> Result<Vec<AssociatedResource>, ArmError> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}/listAssociatedResources",
            seg(&id.subscription),
            seg(&id.resource_group),
            seg(&id.name)
        );
        let mut url = Some(self.url(&path, ASSOCIATED_API_VERSION));
        let mut items = Vec::new();
        while let Some(u) = url {
            let reply = self.send(Method::POST, u, None, &[200]).await?;
            let page: crate::model::Page<AssociatedResource> = super::decode(&reply)?;
            items.extend(page.value);
            url = match page.next_link.filter(|l| !l.is_empty()) {
                Some(link) => Some(super::check_origin(&link, self.endpoint())?),
                None => None,
            };
        }
        Ok(items)
    }

    /// Removes an identity from a resource's `identity.userAssignedIdentities` (PATCH with a
    /// null entry, as ARM defines), keeping a system-assigned identity the resource has.
    pub async fn resource_detach(
        &self,
        resource_id: &str,
        identity_id: &str,
        api_version: &str,
    ) -> Result<(), ArmError> {
        if !resource_id.starts_with("/subscriptions/") {
            return Err(ArmError::invalid(
                "resource id",
                resource_id,
                "a resource id starts with /subscriptions/",
            ));
        }
        names::resource_path("resource id", resource_id)?;
        let url = self.url(resource_id, api_version);
        let current: GenericResource = self.get_json(url.clone()).await?;
        let identity = current.identity.unwrap_or_default();
        let system = identity
            .kind
            .as_deref()
            .is_some_and(|k| k.to_lowercase().contains("systemassigned"));
        let others = identity.user_assigned.as_ref().map_or(0, |m| {
            m.keys()
                .filter(|k| !k.eq_ignore_ascii_case(identity_id))
                .count()
        });
        // The type names what remains: dropping UserAssigned from it would remove the others too,
        // and dropping SystemAssigned would delete the resource's own identity.
        let kind = match (system, others > 0) {
            (true, true) => "SystemAssigned, UserAssigned",
            (true, false) => "SystemAssigned",
            (false, true) => "UserAssigned",
            (false, false) => "None",
        };
        let body = json!({ "identity": { "type": kind, "userAssignedIdentities": { identity_id: null } } });
        self.send(Method::PATCH, url, Some(&body), &[200, 202])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_and_type_of_a_resource_id() {
        let (sub, ns, kind) =
            provider_of("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app")
                .unwrap();
        assert_eq!(
            (sub.as_str(), ns.as_str(), kind.as_str()),
            ("s", "Microsoft.Web", "sites")
        );
        let (_, ns, kind) = provider_of(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/a/databases/b",
        )
        .unwrap();
        assert_eq!(
            (ns.as_str(), kind.as_str()),
            ("Microsoft.Sql", "servers/databases")
        );
        assert!(provider_of("/subscriptions/s/resourceGroups/rg").is_err());
    }
}
