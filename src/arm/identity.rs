//! User-assigned identity operations (Microsoft.ManagedIdentity, api-version from the
//! options): create (PUT), show, update of tags (PATCH), delete, and the two lists.

use std::collections::BTreeMap;

use reqwest::{Method, Url};
use serde_json::json;

use super::error::ArmError;
use super::{ArmClient, decode, names, seg};
use crate::model::Identity;

/// The api-version of `revokeTokens` (no stable version defines it).
pub const REVOKE_TOKENS_API_VERSION: &str = "2023-07-31-preview";

/// What a create sends; `location: None` takes the resource group's, as `az identity create` does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentityCreate {
    /// Region; `None` for the group's.
    pub location: Option<String>,
    /// Tags (replacing any the identity had).
    pub tags: BTreeMap<String, String>,
    /// `None` or `Regional`; `None` leaves the service default.
    pub isolation_scope: Option<String>,
}

/// Names one identity: subscription, group and name, each validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRef {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Identity name.
    pub name: String,
}

impl IdentityRef {
    /// Validates the parts before any request.
    pub fn new(subscription: &str, resource_group: &str, name: &str) -> Result<Self, ArmError> {
        names::subscription_id(subscription)?;
        names::group_name(resource_group)?;
        names::identity_name(name)?;
        Ok(Self {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            name: name.into(),
        })
    }

    /// Parses and validates a full resource id.
    pub fn parse(id: &str) -> Result<Self, ArmError> {
        let p = names::identity_id(id)?;
        Ok(Self {
            subscription: p.subscription,
            resource_group: p.resource_group,
            name: p.name,
        })
    }

    /// The full resource id (ARM spells `resourcegroups` in lower case).
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            self.subscription, self.resource_group, self.name
        )
    }

    fn path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            seg(&self.subscription),
            seg(&self.resource_group),
            seg(&self.name)
        )
    }
}

/// Whether an identity read back holds what a create sent (its location and tags).
fn wrote(found: &Identity, location: &str, create: &IdentityCreate) -> bool {
    let squash = |l: &str| l.to_lowercase().replace(' ', "");
    squash(&found.location) == squash(location) && found.tags == create.tags
}

impl ArmClient {
    fn identity_url(&self, id: &IdentityRef) -> Url {
        self.url(&id.path(), &self.options().msi_api_version)
    }

    /// PUT: creates the identity (201) or updates it (200); the group's location when none is given.
    pub async fn identity_create(
        &self,
        id: &IdentityRef,
        create: &IdentityCreate,
    ) -> Result<Identity, ArmError> {
        self.identity_put(id, create)
            .await
            .map(|(identity, _)| identity)
    }

    /// PUT, also saying whether the identity was new (201) rather than updated (200).
    pub async fn identity_put(
        &self,
        id: &IdentityRef,
        create: &IdentityCreate,
    ) -> Result<(Identity, bool), ArmError> {
        names::tags(&create.tags)?;
        if let Some(location) = &create.location {
            names::location(location)?;
        }
        if let Some(scope) = create
            .isolation_scope
            .as_ref()
            .filter(|s| !matches!(s.as_str(), "None" | "Regional"))
        {
            return Err(ArmError::invalid(
                "isolation scope",
                scope.as_str(),
                "the isolation scope is None or Regional",
            ));
        }
        let location = match &create.location {
            Some(l) => l.clone(),
            None => {
                self.group_show(&id.subscription, &id.resource_group)
                    .await?
                    .location
            }
        };
        let mut body = json!({ "location": location });
        if !create.tags.is_empty() {
            body["tags"] = json!(create.tags);
        }
        if let Some(scope) = &create.isolation_scope {
            body["properties"] = json!({ "isolationScope": scope });
        }
        let (reply, maybe_applied) = self
            .send_tracked(Method::PUT, self.identity_url(id), Some(&body), &[200, 201])
            .await;
        match reply {
            Ok(reply) => Ok((decode(&reply)?, reply.status == 201)),
            // The write may have landed although no answer said so: what is there now decides.
            // An identity found with what was sent counts as created by this call.
            Err(error) if maybe_applied && !matches!(error, ArmError::Interrupted { .. }) => {
                match self.read_back::<Identity>(self.identity_url(id)).await {
                    Ok(found) if wrote(&found, &location, create) => Ok((found, true)),
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// GET one identity; a missing one is an `ArmError` with status 404.
    pub async fn identity_show(&self, id: &IdentityRef) -> Result<Identity, ArmError> {
        self.get_json(self.identity_url(id)).await
    }

    /// PATCH the tags (the whole set is replaced, as in ARM).
    pub async fn identity_update_tags(
        &self,
        id: &IdentityRef,
        tags: &BTreeMap<String, String>,
    ) -> Result<Identity, ArmError> {
        names::tags(tags)?;
        let body = json!({ "tags": tags });
        let reply = self
            .send(Method::PATCH, self.identity_url(id), Some(&body), &[200])
            .await?;
        decode(&reply)
    }

    /// DELETE: `true` when this call deleted it (200), `false` when it did not exist (204).
    /// A 204 after an attempt that may have reached the server counts as deleted by this
    /// call; a failure after such an attempt is settled by reading the identity back.
    pub async fn identity_delete(&self, id: &IdentityRef) -> Result<bool, ArmError> {
        let url = self.identity_url(id);
        let (reply, maybe_applied) = self
            .send_tracked(Method::DELETE, url.clone(), None, &[200, 204])
            .await;
        match reply {
            Ok(reply) => Ok(reply.status == 200 || maybe_applied),
            Err(error) if maybe_applied && !matches!(error, ArmError::Interrupted { .. }) => {
                match self.read_back::<Identity>(url).await {
                    Err(e) if e.is_not_found() => Ok(true),
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// POST `revokeTokens`: revokes the tokens issued to the identity (200, empty body); only
    /// api-version 2023-07-31-preview defines it, so it is sent at that version.
    pub async fn identity_revoke_tokens(&self, id: &IdentityRef) -> Result<(), ArmError> {
        let url = self.url(
            &format!("{}/revokeTokens", id.path()),
            REVOKE_TOKENS_API_VERSION,
        );
        self.send(Method::POST, url, None, &[200]).await?;
        Ok(())
    }

    /// Every identity of a resource group (all pages).
    pub async fn identity_list_group(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Vec<Identity>, ArmError> {
        let mut items = Vec::new();
        self.identity_pages_group(subscription, resource_group, None, |page| {
            items.extend(page)
        })
        .await?;
        Ok(items)
    }

    /// The identities of a resource group, handed to `each` page by page as they are read,
    /// each page's request first taking a place of `gate`.
    pub async fn identity_pages_group(
        &self,
        subscription: &str,
        resource_group: &str,
        gate: Option<&tokio::sync::Semaphore>,
        each: impl FnMut(Vec<Identity>),
    ) -> Result<(), ArmError> {
        names::subscription_id(subscription)?;
        names::group_name(resource_group)?;
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
            seg(subscription),
            seg(resource_group)
        );
        self.pages_within(self.url(&path, &self.options().msi_api_version), gate, each)
            .await
    }

    /// Every identity of a subscription (all pages).
    pub async fn identity_list(&self, subscription: &str) -> Result<Vec<Identity>, ArmError> {
        names::subscription_id(subscription)?;
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
            seg(subscription)
        );
        self.list_all(self.url(&path, &self.options().msi_api_version))
            .await
    }

    /// The operations the Microsoft.ManagedIdentity provider offers (all pages).
    pub async fn identity_operations(&self) -> Result<Vec<serde_json::Value>, ArmError> {
        let path = "/providers/Microsoft.ManagedIdentity/operations";
        self.list_all(self.url(path, &self.options().msi_api_version))
            .await
    }
}
