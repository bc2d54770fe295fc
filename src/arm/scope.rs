//! ARM lists across subscriptions and groups: a subscription's identities read by listing
//! its resource groups once and then paging through the groups concurrently (within the
//! read bucket the pacer keeps), instead of one nextLink after another.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use serde::Deserialize;
use serde_json::Value;

use super::ArmClient;
use super::error::ArmError;
use super::graph::{self, GraphScope};
use super::names;
use super::packed::Packing;
use crate::model::{Identity, IdentityProperties};

/// One page of a resource group's identities from a fanned-out list, and where it belongs in
/// the order asked (the subscription's index, the group's position in its subscription's
/// list, the page's in the group's).
#[derive(Debug)]
pub struct ListedPart {
    /// The index of its subscription in the list given.
    pub subscription: usize,
    /// Its group's position among the subscription's groups.
    pub group: usize,
    /// Its position among the group's pages.
    pub page: usize,
    /// The page's identities, in ARM's order.
    pub identities: Vec<Identity>,
}

/// What calls without an explicit subscription act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// The current subscription (`subscription()`), as always.
    #[default]
    One,
    /// These subscriptions.
    Subscriptions(Vec<String>),
    /// A management group and everything below it.
    ManagementGroup(String),
    /// Every subscription the caller can read.
    Tenant,
}

impl Scope {
    /// Whether more than one subscription may be in scope.
    pub fn is_wide(&self) -> bool {
        match self {
            Scope::One => false,
            Scope::Subscriptions(s) => s.len() > 1,
            Scope::ManagementGroup(_) | Scope::Tenant => true,
        }
    }

    /// The Resource Graph scope of it, `current` being the current subscription.
    pub fn graph(&self, current: &str) -> GraphScope {
        match self {
            Scope::One => GraphScope::Subscriptions(vec![current.to_string()]),
            Scope::Subscriptions(s) => GraphScope::Subscriptions(s.clone()),
            Scope::ManagementGroup(g) => GraphScope::ManagementGroups(vec![g.clone()]),
            Scope::Tenant => GraphScope::Tenant,
        }
    }

    /// Checks the names before anything is sent.
    pub fn validated(self) -> Result<Self, ArmError> {
        match &self {
            Scope::One | Scope::Tenant => {}
            Scope::Subscriptions(subs) => {
                if subs.is_empty() {
                    return Err(ArmError::invalid(
                        "subscriptions",
                        "[]",
                        "a scope names at least one subscription",
                    ));
                }
                for s in subs {
                    names::subscription_id(s)?;
                }
            }
            Scope::ManagementGroup(g) => graph::management_group_name(g)?,
        }
        Ok(self)
    }
}

/// The identities in scope, read packed (`graph_rows_packed`)...
const IDENTITIES: &str =
    "resources | where type =~ 'microsoft.managedidentity/userassignedidentities'";
/// ...with every field an identity map needs.
const IDENTITY_COLUMNS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("location", "location"),
    ("tags", "tags"),
    ("subscriptionId", "subscriptionId"),
    ("tenantId", "properties.tenantId"),
    ("principalId", "properties.principalId"),
    ("clientId", "properties.clientId"),
    ("isolationScope", "properties.isolationScope"),
];

/// An identity as a packed Resource Graph row holds it (any field may be null): an array of
/// the values of `IDENTITY_COLUMNS`, whose order the fields follow.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityRow {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    tags: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    subscription_id: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    principal_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    isolation_scope: Option<String>,
}

impl IdentityRow {
    /// The identity as ARM shapes it, with its subscription; `None` without an id or name.
    fn identity(self) -> Option<(String, Identity)> {
        let tags = self
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect();
        Some((
            self.subscription_id?,
            Identity {
                id: self.id?,
                name: self.name?,
                kind: "Microsoft.ManagedIdentity/userAssignedIdentities".into(),
                location: self.location.unwrap_or_default(),
                tags,
                properties: IdentityProperties {
                    tenant_id: self.tenant_id.unwrap_or_default(),
                    principal_id: self.principal_id.unwrap_or_default(),
                    client_id: self.client_id.unwrap_or_default(),
                    isolation_scope: self.isolation_scope,
                    assignment_restrictions: None,
                },
            },
        ))
    }
}

/// The query of the caller's subscriptions.
pub const SUBSCRIPTIONS_QUERY: &str = "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' \
     | project id, subscriptionId, name, state = tostring(properties.state), \
     managementGroupAncestorsChain = properties.managementGroupAncestorsChain | order by subscriptionId asc";

fn stopped(e: tokio::task::JoinError) -> ArmError {
    ArmError::Decode {
        status: 0,
        message: format!("a list stopped: {e}"),
    }
}

impl ArmClient {
    /// The identities in a Resource Graph scope, read packed, each with its subscription; in
    /// id order.
    pub async fn identity_list_graph(
        &self,
        scope: &GraphScope,
    ) -> Result<Vec<(String, Identity)>, ArmError> {
        let found = self
            .graph_rows_packed(
                IDENTITIES,
                IDENTITY_COLUMNS,
                Packing::Arrays,
                scope,
                |r: &IdentityRow| r.id.as_deref().unwrap_or(""),
            )
            .await?;
        Ok(found
            .rows
            .into_iter()
            .filter_map(IdentityRow::identity)
            .collect())
    }

    /// The identities of [`ArmClient::identity_list_graph`], unsorted, handed to `each` a
    /// page at a time as each page is decoded (see [`ArmClient::graph_pages_packed`]).
    pub async fn identity_pages_graph(
        &self,
        scope: &GraphScope,
        each: impl Fn(Vec<(String, Identity)>) + Send + Sync + 'static,
    ) -> Result<(), ArmError> {
        self.graph_pages_packed(
            IDENTITIES,
            IDENTITY_COLUMNS,
            Packing::Arrays,
            scope,
            move |rows| each(rows.into_iter().filter_map(IdentityRow::identity).collect()),
        )
        .await
        .map(drop)
    }

    /// The subscription ids of a scope; `current` stands for [`Scope::One`].
    pub async fn scope_subscriptions(
        &self,
        scope: &Scope,
        current: &str,
    ) -> Result<Vec<String>, ArmError> {
        match scope {
            Scope::One => Ok(vec![current.to_string()]),
            Scope::Subscriptions(subs) => Ok(subs.clone()),
            other => {
                let found = self
                    .graph_query(SUBSCRIPTIONS_QUERY, &other.graph(current), None)
                    .await?;
                Ok(found
                    .rows
                    .iter()
                    .filter_map(|r| r.get("subscriptionId").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect())
            }
        }
    }

    /// The identities of each subscription: each subscription's groups are listed once and
    /// paged concurrently, at most `width` requests in flight in all. Places are taken page
    /// by page, first come first served, so that the lists move on together and the last
    /// ones do not end one page at a time after the others. Each page of identities goes
    /// to `parts` as it is read (in no particular order: each part says where it belongs),
    /// so that the caller can use them while the other lists are still being read.
    pub async fn identity_list_streamed(
        &self,
        subscriptions: &[String],
        width: usize,
        parts: tokio::sync::mpsc::UnboundedSender<ListedPart>,
    ) -> Result<(), ArmError> {
        let gate = Arc::new(Semaphore::new(width.max(1)));
        let mut groups = JoinSet::new();
        for (index, sub) in subscriptions.iter().enumerate() {
            let (client, sub, gate) = (self.clone(), sub.clone(), gate.clone());
            groups.spawn(async move {
                client
                    .group_list_within(&sub, Some(&gate))
                    .await
                    .map(|g| (index, sub, g))
            });
        }
        let mut lists = JoinSet::new();
        while let Some(done) = groups.join_next().await {
            let (index, sub, found) = done.map_err(stopped)??;
            for (position, group) in found.into_iter().enumerate() {
                let (client, sub, gate, parts) =
                    (self.clone(), sub.clone(), gate.clone(), parts.clone());
                lists.spawn(async move {
                    let mut page = 0;
                    client
                        .identity_pages_group(&sub, &group.name, Some(&gate), |identities| {
                            // A caller that stopped listening wants no more.
                            let _ = parts.send(ListedPart {
                                subscription: index,
                                group: position,
                                page,
                                identities,
                            });
                            page += 1;
                        })
                        .await
                });
            }
        }
        while let Some(done) = lists.join_next().await {
            match done.map_err(stopped)? {
                Ok(()) => {}
                // A group deleted between the two lists holds no identities any more; the
                // pages read before it went were true when they were read.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_row_reads_the_columns_in_their_order() {
        // Each column's value is its name, so a field out of order shows.
        let row: Vec<Value> = IDENTITY_COLUMNS
            .iter()
            .map(|(name, _)| match *name {
                "tags" => serde_json::json!({"owner": "tags"}),
                other => Value::String(other.to_string()),
            })
            .collect();
        let row: IdentityRow = serde_json::from_value(Value::Array(row)).expect("row");
        let (sub, identity) = row.identity().expect("identity");
        assert_eq!(sub, "subscriptionId");
        assert_eq!(
            (identity.id.as_str(), identity.name.as_str()),
            ("id", "name")
        );
        assert_eq!(identity.location, "location");
        assert_eq!(identity.tags["owner"], "tags");
        let p = &identity.properties;
        assert_eq!(
            (
                p.tenant_id.as_str(),
                p.principal_id.as_str(),
                p.client_id.as_str(),
                p.isolation_scope.as_deref()
            ),
            (
                "tenantId",
                "principalId",
                "clientId",
                Some("isolationScope")
            )
        );
    }
}
