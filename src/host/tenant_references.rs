//! What uses a batch of identities, read tenant-wide through Resource Graph: resources in
//! any subscription whose `identity.userAssignedIdentities` names one, and role assignments of
//! their principals at every scope. Two queries per 1,000 identities, or, for a larger batch,
//! the tenant's references whole (a few pages).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::references::Uses;
use crate::arm::graph::{GraphScope, kql_string};
use crate::arm::{ArmClient, ArmError};
use crate::model::RoleAssignment;

/// The references of a batch, read once, tenant-wide from Resource Graph: each identity's
/// attachments and role assignments, matched to its id.
#[derive(Debug, Clone, Default)]
pub struct References {
    /// Resource ids by the (lower-case) identity id they carry.
    attached: HashMap<String, Vec<String>>,
    /// Role assignments by the (lower-case) id of the identity whose principal holds them.
    assigned: HashMap<String, Vec<RoleAssignment>>,
    /// Principal ids by (lower-case) identity id, as Resource Graph shows them.
    principals: HashMap<String, String>,
}

/// Identity ids per Resource Graph query: Microsoft's advice for querying by ids is batches
/// of 1,000 or fewer (GRAPH-AND-LOCKS.md §3).
const IDS_PER_QUERY: usize = 1000;

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
/// resource id" strings, the identity id as the resource spells it), so that the whole list
/// costs one query of the quota instead of a page per 1,000 pairs (Microsoft's paging advice:
/// `summarize make_set(id)` first).
const ALL_ATTACHED: &str = "resources | where isnotempty(identity) \
     | mv-expand k = bag_keys(identity.userAssignedIdentities) | extend identityId = tostring(k) \
     | where isnotempty(identityId) | extend pair = strcat(identityId, ' ', id) | summarize pairs = make_list(pair)";

/// The same pairs as rows, read in buckets when one row would pass ARG's answer limit.
const ATTACHED_ROWS: &str = "resources | where isnotempty(identity) \
     | mv-expand k = bag_keys(identity.userAssignedIdentities) | extend identityId = tostring(k) \
     | where isnotempty(identityId)";

/// The tenant's `(identity id, resource id)` pairs: one packed row, or, in a tenant whose
/// pairs do not fit one answer, a packed read in buckets.
async fn attached_pairs(client: &ArmClient) -> Result<Vec<(String, String)>, ArmError> {
    let rows = match client
        .graph_query(ALL_ATTACHED, &GraphScope::Tenant, None)
        .await
    {
        Ok(found) => {
            return Ok(found
                .rows
                .iter()
                .filter_map(|row| row.get("pairs").and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|pair| pair.split_once(' '))
                .map(|(identity, resource)| (identity.to_string(), resource.to_string()))
                .collect());
        }
        Err(e) if e.is_too_large() => {
            let columns = [("id", "id"), ("identityId", "identityId")];
            client
                .graph_rows_packed(
                    ATTACHED_ROWS,
                    &columns,
                    crate::arm::packed::Packing::Objects,
                    &GraphScope::Tenant,
                    crate::arm::packed::by_id,
                )
                .await?
                .rows
        }
        Err(e) => return Err(e),
    };
    let text = |row: &serde_json::Map<String, Value>, key: &str| {
        row.get(key).and_then(Value::as_str).map(str::to_string)
    };
    Ok(rows
        .iter()
        .filter_map(|row| Some((text(row, "identityId")?, text(row, "id")?)))
        .collect())
}

/// Every role assignment of the tenant.
const ALL_ASSIGNED: &str = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
     | project id, name, type, properties | order by id asc";

/// The role assignments, at any scope, of these principals.
fn of_principals_query(principals: &[String]) -> String {
    format!(
        "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
         | extend principalId = tolower(tostring(properties.principalId)) | where principalId in {} \
         | project id, name, type, properties, principalId | order by id asc",
        kql_list(principals)
    )
}

/// The principals of some identities.
fn principals_query(ids: &[String]) -> String {
    format!(
        "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | extend identityId = tolower(id) \
         | where identityId in {} | project identityId, principalId = tostring(properties.principalId) | order by identityId asc",
        kql_list(ids)
    )
}

/// Every reference of the tenant as Resource Graph shows it, read in two queries (a page of
/// quota for the attachments, a page per 1,000 role assignments): what a large batch, the
/// dangling-reference audit and a report share.
#[derive(Debug, Default)]
pub struct TenantWide {
    /// `(identity id as the resource spells it, resource id)` of every resource that carries a
    /// user-assigned identity, ordered by resource id.
    pub attached: Vec<(String, String)>,
    /// Every role assignment of the tenant, at any scope.
    pub assignments: Vec<RoleAssignment>,
}

impl TenantWide {
    /// Reads the tenant's attachments and role assignments, the two queries sent together.
    pub async fn read(client: &ArmClient) -> Result<Self, ArmError> {
        let (attached, assigned) = tokio::join!(
            attached_pairs(client),
            client.graph_query(ALL_ASSIGNED, &GraphScope::Tenant, None)
        );
        let mut attached = attached?;
        attached.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let assignments = assigned?
            .rows
            .into_iter()
            .filter_map(|row| assignment_of(row).ok())
            .collect();
        Ok(TenantWide {
            attached,
            assignments,
        })
    }
}

/// How long the tenant's references, once read, serve later read-only audits of the same
/// process: Resource Graph itself lags ARM by about as much.
const REUSE_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The tenant's references last read by this process, reused by read-only audits (never by a
/// delete's check) while the process has written nothing since and for at most `REUSE_FOR`.
#[derive(Debug, Default)]
pub struct Kept {
    last: Option<(std::time::Instant, u64, Arc<TenantWide>)>,
}

impl Kept {
    /// The kept read, when this process has made no write since (`writes` is its count of
    /// writes now) and it is recent enough.
    pub fn fresh(&self, writes: u64, now: std::time::Instant) -> Option<Arc<TenantWide>> {
        match &self.last {
            Some((at, w, whole))
                if *w == writes && now.saturating_duration_since(*at) < REUSE_FOR =>
            {
                Some(whole.clone())
            }
            _ => None,
        }
    }

    /// Keeps a read made when the process had made `writes` writes.
    pub fn keep(&mut self, writes: u64, at: std::time::Instant, whole: Arc<TenantWide>) {
        self.last = Some((at, writes, whole));
    }
}

/// What one query of a gather reads.
#[derive(Debug, Clone, Copy)]
enum Rows {
    /// `id, identityId`: a resource carrying an identity.
    Attached,
    /// `identityId, principalId` and, unless null, an assignment of that principal.
    AssignedTo,
    /// An assignment with its `principalId`, matched to identities by their known principals.
    OfPrincipal,
    /// `identityId, principalId`.
    Principal,
}

/// A role assignment from a Resource Graph row (which lower-cases `type`).
fn assignment_of(row: serde_json::Map<String, Value>) -> Result<RoleAssignment, serde_json::Error> {
    let mut a: RoleAssignment = serde_json::from_value(Value::Object(row))?;
    a.kind = "Microsoft.Authorization/roleAssignments".into();
    Ok(a)
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
        Self::gather_tenant_sharing(client, ids, hints, None)
            .await
            .map(|(refs, _)| refs)
    }

    /// `gather_tenant_hinted`, where a large batch takes the tenant's references from `whole`
    /// when given (else reads them); returns them too when it used them, to be shared.
    pub async fn gather_tenant_sharing(
        client: &ArmClient,
        ids: &[String],
        hints: &HashMap<String, String>,
        whole: Option<Arc<TenantWide>>,
    ) -> Result<(Self, Option<Arc<TenantWide>>), ArmError> {
        let mut unique: Vec<String> = ids.iter().map(|i| i.to_lowercase()).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut queries: Vec<(Rows, String)> = Vec::new();
        let mut refs = References::default();
        if unique.len() <= FILTERED_UP_TO {
            for chunk in unique.chunks(IDS_PER_QUERY) {
                queries.push((Rows::Attached, attached_query(chunk)));
                // With every principal known, their assignments alone: no join over the
                // tenant's identities.
                let known: Option<Vec<String>> =
                    chunk.iter().map(|id| hints.get(id).cloned()).collect();
                match known {
                    Some(principals) => {
                        for (id, p) in chunk.iter().zip(&principals) {
                            refs.principals.insert(id.clone(), p.to_lowercase());
                        }
                        queries.push((Rows::OfPrincipal, of_principals_query(&principals)));
                    }
                    None => queries.push((Rows::AssignedTo, assigned_query(chunk))),
                }
            }
        } else {
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
        // A large batch reads the tenant's references whole, beside its principal queries.
        let reading_whole = match (unique.len() > FILTERED_UP_TO, whole) {
            (false, _) => None,
            (true, Some(whole)) => Some(tokio::spawn(async move { Ok(whole) })),
            (true, None) => {
                let client = client.clone();
                Some(tokio::spawn(async move {
                    TenantWide::read(&client).await.map(Arc::new)
                }))
            }
        };
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
        let stopped = |e: tokio::task::JoinError| ArmError::Decode {
            status: 0,
            message: format!("a Resource Graph read stopped: {e}"),
        };
        while let Some(joined) = tasks.join_next().await {
            let (kind, rows) = joined.map_err(stopped)??;
            for mut row in rows {
                let identity = text(&row, "identityId");
                match kind {
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
                    Rows::OfPrincipal => {
                        let principal = text(&row, "principalId").to_lowercase();
                        row.remove("principalId");
                        if let Ok(a) = assignment_of(row) {
                            for (id, p) in &refs.principals {
                                if *p == principal {
                                    refs.assigned.entry(id.clone()).or_default().push(a.clone());
                                }
                            }
                        }
                    }
                    Rows::AssignedTo => {
                        refs.principals
                            .insert(identity.clone(), text(&row, "principalId").to_lowercase());
                        row.remove("identityId");
                        row.remove("principalId");
                        let entry = refs.assigned.entry(identity).or_default();
                        // A principal with no assignment comes back with null columns.
                        if let Ok(a) = assignment_of(row) {
                            entry.push(a);
                        }
                    }
                }
            }
        }
        let Some(reading) = reading_whole else {
            return Ok((refs, None));
        };
        let whole = reading.await.map_err(stopped)??;
        for (identity, resource) in &whole.attached {
            let identity = identity.to_lowercase();
            if wanted.contains(&identity) {
                refs.attached
                    .entry(identity)
                    .or_default()
                    .push(resource.clone());
            }
        }
        let mut by_principal: HashMap<&str, Vec<&String>> = HashMap::new();
        for (id, p) in &refs.principals {
            by_principal.entry(p.as_str()).or_default().push(id);
        }
        for a in &whole.assignments {
            let principal = a.properties.principal_id.to_lowercase();
            for id in by_principal.get(principal.as_str()).into_iter().flatten() {
                refs.assigned
                    .entry((*id).clone())
                    .or_default()
                    .push(a.clone());
            }
        }
        Ok((refs, Some(whole)))
    }

    /// The principal Resource Graph shows for an identity (when it showed the identity).
    pub fn principal(&self, identity_id: &str) -> Option<&str> {
        self.principals
            .get(&identity_id.to_lowercase())
            .map(String::as_str)
    }

    /// What uses the identity with this id.
    pub fn uses(&self, identity_id: &str) -> Uses {
        let key = identity_id.to_lowercase();
        Uses {
            resources: self.attached.get(&key).cloned().unwrap_or_default(),
            assignments: self.assigned.get(&key).cloned().unwrap_or_default(),
        }
    }
}
