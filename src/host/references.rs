//! What still uses an identity, and the safe delete built on it: detach it from every
//! resource that carries it, remove its role assignments, then delete it. For many
//! identities the references are gathered once per batch (one paged list of resources and
//! one of role assignments) and checked locally, as DESIGN.md asks.

use std::collections::HashMap;

use serde_json::Value;

use crate::arm::graph::GraphScope;
use crate::arm::{ArmClient, ArmError, IdentityRef};
use crate::model::{GenericResource, RoleAssignment};

/// How a delete treats references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Detach the identity from resources first.
    pub detach: bool,
    /// Remove its role assignments first.
    pub remove_role_assignments: bool,
    /// Delete even if it is still used (Azure leaves the references dangling).
    pub force: bool,
}

/// The references to one identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uses {
    /// Ids of resources whose identity block names it.
    pub resources: Vec<String>,
    /// Role assignments of its principal.
    pub assignments: Vec<RoleAssignment>,
}

/// One step of a safe delete, for the plan and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove the identity from this resource.
    Detach {
        /// The resource id.
        resource: String,
    },
    /// Delete this role assignment.
    Unassign {
        /// The assignment id.
        assignment: String,
    },
    /// Delete the identity.
    Delete,
}

/// The references of a batch, read once: either a subscription's resources and role
/// assignments (matched by identity id and principal), or, tenant-wide from Resource Graph,
/// each identity's attachments and assignments already matched to its id.
#[derive(Debug, Clone, Default)]
pub struct References {
    resources: Vec<GenericResource>,
    assignments: Vec<RoleAssignment>,
    /// Tenant-wide: resource ids by the (lower-case) identity id they carry.
    attached: HashMap<String, Vec<String>>,
    /// Tenant-wide: role assignments by the (lower-case) id of the identity whose principal holds them.
    assigned: HashMap<String, Vec<RoleAssignment>>,
    /// Tenant-wide: principal ids by (lower-case) identity id, as Resource Graph shows them.
    principals: HashMap<String, String>,
    tenant_wide: bool,
}

/// Identity ids per Resource Graph query: Microsoft's advice for querying by ids is batches
/// of 1,000 or fewer (GRAPH-AND-LOCKS.md §3).
const IDS_PER_QUERY: usize = 1000;

/// A KQL string literal.
fn kql_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `(a, b, ...)` of lower-case id literals for `in`.
fn kql_list(ids: &[String]) -> String {
    let items: Vec<String> = ids.iter().map(|i| kql_string(&i.to_lowercase())).collect();
    format!("({})", items.join(", "))
}

/// The query of the resources, in any subscription, whose identity block names one of `ids`.
fn attached_query(ids: &[String]) -> String {
    format!(
        "resources | where isnotempty(identity) | mv-expand k = bag_keys(identity.userAssignedIdentities) \
         | extend identityId = tolower(tostring(k)) | where identityId in {} | project id, identityId | order by id asc",
        kql_list(ids)
    )
}

/// The query of the role assignments, at any scope, of the principals of `ids`.
fn assigned_query(ids: &[String]) -> String {
    format!(
        "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | extend identityId = tolower(id) \
         | where identityId in {} | project identityId, principalId = tostring(properties.principalId) \
         | join kind=leftouter (authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
         | project id, name, type, properties, principalId = tostring(properties.principalId)) on principalId \
         | project identityId, principalId, id, name, type, properties | order by identityId asc",
        kql_list(ids)
    )
}

/// Past this many identities a batch reads every reference of the tenant (a page per 1,000
/// rows) instead of two filtered queries per `IDS_PER_QUERY` identities.
const FILTERED_UP_TO: usize = IDS_PER_QUERY;

/// Every (identity, resource) pair of the tenant, packed into one row (`pairs`: "identity id
/// resource id" strings), so that the whole list costs one query of the quota instead of a
/// page per 1,000 pairs (Microsoft's paging advice: `summarize make_set(id)` first).
const ALL_ATTACHED: &str = "resources | where isnotempty(identity) \
     | mv-expand k = bag_keys(identity.userAssignedIdentities) | extend identityId = tolower(tostring(k)) \
     | where isnotempty(identityId) | extend pair = strcat(identityId, ' ', id) | summarize pairs = make_list(pair)";

/// Every role assignment of the tenant.
const ALL_ASSIGNED: &str = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
     | project id, name, type, properties | order by id asc";

/// The principals of some identities.
fn principals_query(ids: &[String]) -> String {
    format!(
        "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | extend identityId = tolower(id) \
         | where identityId in {} | project identityId, principalId = tostring(properties.principalId) | order by identityId asc",
        kql_list(ids)
    )
}

/// What one query of a gather reads.
#[derive(Debug, Clone, Copy)]
enum Rows {
    /// `id, identityId`: a resource carrying an identity.
    Attached,
    /// `identityId, principalId` and, unless null, an assignment of that principal.
    AssignedTo,
    /// An assignment, matched to identities by its principal.
    Assignment,
    /// `identityId, principalId`.
    Principal,
}

fn text(row: &serde_json::Map<String, Value>, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

impl References {
    /// Reads, tenant-wide through Resource Graph, what uses these identities (full ids):
    /// resources in any subscription that carry them and role assignments of their
    /// principals at every scope; a few queries per batch, sent together.
    pub async fn gather_tenant(client: &ArmClient, ids: &[String]) -> Result<Self, ArmError> {
        Self::gather_tenant_hinted(client, ids, &HashMap::new()).await
    }

    /// `gather_tenant`, with the principals already known (lower-case id -> principal id):
    /// a large batch then reads the tenant's references whole instead of by chunks of ids.
    pub async fn gather_tenant_hinted(
        client: &ArmClient,
        ids: &[String],
        hints: &HashMap<String, String>,
    ) -> Result<Self, ArmError> {
        let mut unique: Vec<String> = ids.iter().map(|i| i.to_lowercase()).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut queries: Vec<(Rows, String)> = Vec::new();
        let mut refs = References {
            tenant_wide: true,
            ..References::default()
        };
        if unique.len() <= FILTERED_UP_TO {
            for chunk in unique.chunks(IDS_PER_QUERY) {
                queries.push((Rows::Attached, attached_query(chunk)));
                queries.push((Rows::AssignedTo, assigned_query(chunk)));
            }
        } else {
            queries.push((Rows::Attached, ALL_ATTACHED.to_string()));
            queries.push((Rows::Assignment, ALL_ASSIGNED.to_string()));
            let unknown: Vec<String> = unique
                .iter()
                .filter(|i| !hints.contains_key(*i))
                .cloned()
                .collect();
            for chunk in unknown.chunks(IDS_PER_QUERY) {
                queries.push((Rows::Principal, principals_query(chunk)));
            }
            for id in &unique {
                if let Some(p) = hints.get(id) {
                    refs.principals.insert(id.clone(), p.to_lowercase());
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (kind, query) in queries {
            let client = client.clone();
            tasks.spawn(async move {
                client
                    .graph_query(&query, &GraphScope::Tenant, None)
                    .await
                    .map(|rows| (kind, rows.rows))
            });
        }
        let wanted: std::collections::HashSet<&String> = unique.iter().collect();
        let mut loose: Vec<RoleAssignment> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (kind, rows) = joined.map_err(|e| ArmError::Decode {
                status: 0,
                message: format!("a Resource Graph read stopped: {e}"),
            })??;
            for mut row in rows {
                let identity = text(&row, "identityId");
                match kind {
                    Rows::Attached if row.contains_key("pairs") => {
                        let pairs = row.get("pairs").and_then(Value::as_array);
                        for pair in pairs.into_iter().flatten().filter_map(Value::as_str) {
                            if let Some((identity, resource)) = pair.split_once(' ')
                                && wanted.contains(&identity.to_string())
                            {
                                refs.attached
                                    .entry(identity.to_string())
                                    .or_default()
                                    .push(resource.to_string());
                            }
                        }
                    }
                    Rows::Attached if wanted.contains(&identity) => {
                        refs.attached
                            .entry(identity)
                            .or_default()
                            .push(text(&row, "id"));
                    }
                    Rows::Attached => {}
                    Rows::Principal => {
                        refs.principals
                            .insert(identity, text(&row, "principalId").to_lowercase());
                    }
                    Rows::AssignedTo => {
                        refs.principals
                            .insert(identity.clone(), text(&row, "principalId").to_lowercase());
                        row.remove("identityId");
                        row.remove("principalId");
                        let entry = refs.assigned.entry(identity).or_default();
                        // A principal with no assignment comes back with null columns.
                        if let Ok(a) = serde_json::from_value::<RoleAssignment>(Value::Object(row))
                        {
                            entry.push(a);
                        }
                    }
                    Rows::Assignment => {
                        if let Ok(a) = serde_json::from_value::<RoleAssignment>(Value::Object(row))
                        {
                            loose.push(a);
                        }
                    }
                }
            }
        }
        if !loose.is_empty() {
            let mut by_principal: HashMap<String, Vec<String>> = HashMap::new();
            for (id, p) in &refs.principals {
                by_principal.entry(p.clone()).or_default().push(id.clone());
            }
            for a in loose {
                let principal = a.properties.principal_id.to_lowercase();
                for id in by_principal.get(&principal).into_iter().flatten() {
                    refs.assigned.entry(id.clone()).or_default().push(a.clone());
                }
            }
        }
        Ok(refs)
    }

    /// The principal Resource Graph shows for an identity (when it showed the identity).
    pub fn principal(&self, identity_id: &str) -> Option<&str> {
        self.principals
            .get(&identity_id.to_lowercase())
            .map(String::as_str)
    }

    /// Whether this was read tenant-wide (matched by identity id: no principal is needed).
    pub fn tenant_wide(&self) -> bool {
        self.tenant_wide
    }

    /// Reads both lists.
    pub async fn gather(client: &ArmClient, subscription: &str) -> Result<Self, ArmError> {
        let (resources, assignments) = tokio::try_join!(
            client.resources_list(subscription),
            client.role_assignments_all(subscription)
        )?;
        Ok(Self {
            resources,
            assignments,
            ..Self::default()
        })
    }

    /// Whether the subscription holds any role assignment (when it holds none, no delete
    /// needs to know its identity's principal).
    pub fn has_assignments(&self) -> bool {
        !self.assignments.is_empty()
    }

    /// What uses the identity with this id and principal (tenant-wide: by its id alone).
    pub fn uses(&self, identity_id: &str, principal_id: &str) -> Uses {
        if self.tenant_wide {
            let key = identity_id.to_lowercase();
            return Uses {
                resources: self.attached.get(&key).cloned().unwrap_or_default(),
                assignments: self.assigned.get(&key).cloned().unwrap_or_default(),
            };
        }
        let resources = self
            .resources
            .iter()
            .filter(|r| {
                r.identity
                    .as_ref()
                    .and_then(|i| i.user_assigned.as_ref())
                    .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(identity_id)))
            })
            .map(|r| r.id.clone())
            .collect();
        let assignments = self
            .assignments
            .iter()
            .filter(|a| a.properties.principal_id.eq_ignore_ascii_case(principal_id))
            .cloned()
            .collect();
        Uses {
            resources,
            assignments,
        }
    }
}

impl Uses {
    /// Adds what `other` found that this does not hold yet.
    pub fn merge(&mut self, other: Uses) {
        for r in other.resources {
            if !self.resources.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
                self.resources.push(r);
            }
        }
        for a in other.assignments {
            if !self
                .assignments
                .iter()
                .any(|x| x.id.eq_ignore_ascii_case(&a.id))
            {
                self.assignments.push(a);
            }
        }
    }

    /// Reads the references of one identity with identity-specific calls.
    pub async fn of(
        client: &ArmClient,
        id: &IdentityRef,
        principal_id: &str,
    ) -> Result<Self, ArmError> {
        let (resources, assignments) = tokio::try_join!(
            client.identity_resources(id),
            client.role_assignments_of(&id.subscription, principal_id)
        )?;
        Ok(Self {
            resources: resources.into_iter().map(|r| r.id).collect(),
            assignments,
        })
    }

    /// The steps a delete takes with `options`, or the error naming what still uses it.
    pub fn steps(&self, id: &IdentityRef, options: DeleteOptions) -> Result<Vec<Step>, ArmError> {
        let blocking_resources = !options.detach && !self.resources.is_empty();
        let blocking_roles = !options.remove_role_assignments && !self.assignments.is_empty();
        if (blocking_resources || blocking_roles) && !options.force {
            let mut what = Vec::new();
            if blocking_resources {
                what.push(format!("attached to {}", self.resources.join(", ")));
            }
            if blocking_roles {
                let scopes: Vec<String> = self
                    .assignments
                    .iter()
                    .map(|a| a.properties.scope.clone().unwrap_or_else(|| a.id.clone()))
                    .collect();
                what.push(format!("assigned roles at {}", scopes.join(", ")));
            }
            return Err(ArmError::Api {
                status: 409,
                code: "IdentityInUse".into(),
                message: format!(
                    "identity '{}' is still {}; pass #{{detach: true, remove_role_assignments: true}} to remove those \
                     first, or #{{force: true}} to leave them dangling",
                    id.name,
                    what.join(" and ")
                ),
                request_id: None,
            });
        }
        let mut steps = Vec::new();
        if options.detach {
            steps.extend(self.resources.iter().map(|r| Step::Detach {
                resource: r.clone(),
            }));
        }
        if options.remove_role_assignments {
            steps.extend(self.assignments.iter().map(|a| Step::Unassign {
                assignment: a.id.clone(),
            }));
        }
        steps.push(Step::Delete);
        Ok(steps)
    }
}

/// Carries out the steps; returns whether the identity itself was deleted (false: absent).
pub async fn apply(client: &ArmClient, id: &IdentityRef, steps: &[Step]) -> Result<bool, ArmError> {
    let identity_id = id.id();
    let mut deleted = false;
    for step in steps {
        match step {
            Step::Detach { resource } => {
                let version = client.resource_api_version(resource).await?;
                client
                    .resource_detach(resource, &identity_id, &version)
                    .await?;
            }
            Step::Unassign { assignment } => {
                client.role_assignment_delete(assignment).await?;
            }
            Step::Delete => deleted = client.identity_delete(id).await?,
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleAssignmentProperties;

    fn id() -> IdentityRef {
        IdentityRef::new("00000000-0000-0000-0000-000000000001", "rg", "app-1").unwrap()
    }

    fn uses() -> Uses {
        Uses {
            resources: vec![
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/web".into(),
            ],
            assignments: vec![RoleAssignment {
                id: "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a".into(),
                name: "a".into(),
                kind: "Microsoft.Authorization/roleAssignments".into(),
                properties: RoleAssignmentProperties {
                    role_definition_id: "r".into(),
                    principal_id: "p".into(),
                    principal_type: None,
                    scope: Some("/subscriptions/s".into()),
                    ..RoleAssignmentProperties::default()
                },
            }],
        }
    }

    #[test]
    fn a_used_identity_is_refused_naming_what_uses_it() {
        let e = uses().steps(&id(), DeleteOptions::default()).unwrap_err();
        assert_eq!(e.code(), "IdentityInUse");
        assert!(
            e.message().contains("Microsoft.Web/sites/web")
                && e.message().contains("/subscriptions/s"),
            "{e}"
        );
        let only_detach = uses()
            .steps(
                &id(),
                DeleteOptions {
                    detach: true,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            only_detach.message().contains("assigned roles")
                && !only_detach.message().contains("attached")
        );
    }

    #[test]
    fn safe_delete_detaches_then_unassigns_then_deletes() {
        let all = DeleteOptions {
            detach: true,
            remove_role_assignments: true,
            force: false,
        };
        let steps = uses().steps(&id(), all).unwrap();
        assert!(matches!(steps[0], Step::Detach { .. }));
        assert!(matches!(steps[1], Step::Unassign { .. }));
        assert_eq!(steps[2], Step::Delete);
        let forced = uses()
            .steps(
                &id(),
                DeleteOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(forced, [Step::Delete]);
        assert_eq!(
            Uses::default()
                .steps(&id(), DeleteOptions::default())
                .unwrap(),
            [Step::Delete]
        );
    }
}
