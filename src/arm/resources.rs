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

impl ArmClient {
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
    /// null entry, as ARM defines), using the api-version the resource type was read with.
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
        let body = json!({ "identity": { "type": "UserAssigned", "userAssignedIdentities": { identity_id: null } } });
        self.send(
            Method::PATCH,
            self.url(resource_id, api_version),
            Some(&body),
            &[200, 202],
        )
        .await?;
        Ok(())
    }
}
