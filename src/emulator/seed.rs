//! A generated tenant for scale tests (`azid emulator --seed-tenant SUBS:IDENTITIES`): the
//! subscriptions, groups, identities, resources that reference them (in other subscriptions
//! too, and some dangling), role assignments at every scope, federated credentials and orphans,
//! made by fixed rules of each item's index so that tests can compute what to expect (the README
//! states the rules). Ids (principals, clients, assignment names) come from a fixed random seed,
//! so one `SUBS:IDENTITIES` always gives the same tenant. The rows are written straight into an
//! empty store in one transaction; nothing goes through HTTP.

use std::collections::BTreeMap;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, json};

use super::store::{
    AssignmentRow, BulkRows, FicRecord, GroupRecord, IdentityBlock, IdentityRecord,
    ManagementGroupRecord, ResourceRecord, RoleAssignmentRecord, Store, StoreError, SystemIdentity,
    key_of,
};

/// Resource groups in each seeded subscription (`rg-0` .. `rg-3`).
pub const GROUPS_PER_SUBSCRIPTION: usize = 4;
/// The most subscriptions a seed may ask for.
pub const MAX_SUBSCRIPTIONS: usize = 5_000;
/// The most identities a seed may ask for (names have six digits).
pub const MAX_IDENTITIES: usize = 1_000_000;
/// Reader's role definition GUID.
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
/// Contributor's role definition GUID.
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
/// Managed Identity Operator's role definition GUID.
pub const MI_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
/// Meta key of the seeded subscription ids, so a restart on the data file knows them.
const META_SUBSCRIPTIONS: &str = "seed_tenant_subscriptions";
/// Meta key of the seed's `SUBS:IDENTITIES`.
const META_SPEC: &str = "seed_tenant";
/// The random seed of every generated id.
const ID_SEED: u64 = 0x5eed_7e4a;
/// Regions, by index modulo 3.
const LOCATIONS: [&str; 3] = ["eastus", "westeurope", "westus2"];
/// `env` tag values, by index modulo 3.
const ENVS: [&str; 3] = ["prod", "dev", "test"];
/// Generic resource types by index modulo 4: namespace, type, name prefix.
pub const RESOURCE_KINDS: [(&str, &str, &str); 4] = [
    ("Microsoft.Compute", "virtualMachines", "vm"),
    ("Microsoft.Web", "sites", "app"),
    ("Microsoft.ContainerService", "managedClusters", "aks"),
    ("Microsoft.App", "containerApps", "ca"),
];
/// The issuer of every seeded federated credential.
/// The seeded management groups as (name, parent); `None` hangs a group under the tenant's root.
pub const MANAGEMENT_GROUPS: [(&str, Option<&str>); 4] = [
    ("mg-platform", None),
    ("mg-workloads", None),
    ("mg-prod", Some("mg-workloads")),
    ("mg-dev", Some("mg-workloads")),
];

/// Where seeded subscription `s` sits: `mg-platform`, `mg-prod` or `mg-dev` by `s % 4`, and
/// directly under the root when `s % 4 == 3`.
pub fn subscription_group(s: usize) -> Option<&'static str> {
    match s % 4 {
        0 => Some("mg-platform"),
        1 => Some("mg-prod"),
        2 => Some("mg-dev"),
        _ => None,
    }
}

const FIC_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// How big a tenant to generate: `SUBS:IDENTITIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSeed {
    subscriptions: usize,
    identities: usize,
}

/// Why a `SUBS:IDENTITIES` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedParseError {
    /// Not two numbers around a colon.
    #[error("'{0}' is not SUBS:IDENTITIES (two whole numbers, e.g. 50:20000)")]
    Shape(String),
    /// A count out of range.
    #[error("{what} must be from 1 to {max}, not {value}")]
    Range {
        /// Which count.
        what: &'static str,
        /// The most allowed.
        max: usize,
        /// What was given.
        value: usize,
    },
}

impl TenantSeed {
    /// A seed of `subscriptions` subscriptions holding `identities` identities in all.
    pub fn new(subscriptions: usize, identities: usize) -> Result<Self, SeedParseError> {
        let check = |what, max, value| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(SeedParseError::Range { what, max, value })
            }
        };
        check(
            "the number of subscriptions",
            MAX_SUBSCRIPTIONS,
            subscriptions,
        )?;
        check("the number of identities", MAX_IDENTITIES, identities)?;
        Ok(Self {
            subscriptions,
            identities,
        })
    }

    /// How many subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions
    }

    /// How many identities in all (and as many generic resources).
    pub fn identities(&self) -> usize {
        self.identities
    }

    /// The id of seeded subscription `s`: `00000000-5eed-4000-8000-{s:012}`.
    pub fn subscription_id(s: usize) -> String {
        format!("00000000-5eed-4000-8000-{s:012}")
    }

    /// Every seeded subscription id, in order.
    pub fn subscription_ids(&self) -> Vec<String> {
        (0..self.subscriptions).map(Self::subscription_id).collect()
    }
}

impl FromStr for TenantSeed {
    type Err = SeedParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape = || SeedParseError::Shape(text.to_string());
        let (subs, ids) = text.split_once(':').ok_or_else(shape)?;
        let number = |t: &str| t.trim().parse::<usize>().map_err(|_| shape());
        Self::new(number(subs)?, number(ids)?)
    }
}

impl std::fmt::Display for TenantSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.subscriptions, self.identities)
    }
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The store already holds a tenant (seeded or not).
    #[error(
        "--seed-tenant fills only an empty store, and the data file already holds {rows} rows \
         (groups, identities, credentials, resources, role assignments); start without --seed-tenant \
         to serve what it holds, or give a new --data file"
    )]
    NotEmpty {
        /// How many rows it holds.
        rows: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where seeded identity `i` lives: subscription index, group index.
fn identity_place(n: usize, i: usize) -> (usize, usize) {
    (i % n, (i / n) % GROUPS_PER_SUBSCRIPTION)
}

/// Where seeded resource `r` lives: a third (`r % 3 == 0`) in the subscription after the one of
/// identity `r`, the rest beside it; the group index is that of identity `r`.
fn resource_place(n: usize, r: usize) -> (usize, usize) {
    let sub = if r.is_multiple_of(3) {
        (r + 1) % n
    } else {
        r % n
    };
    (sub, (r / n) % GROUPS_PER_SUBSCRIPTION)
}

fn group_name(g: usize) -> String {
    format!("rg-{g}")
}

fn identity_name(i: usize) -> String {
    format!("id-{i:06}")
}

fn identity_id(n: usize, i: usize) -> String {
    let (s, g) = identity_place(n, i);
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
        TenantSeed::subscription_id(s),
        group_name(g),
        identity_name(i)
    )
}

fn resource_id(n: usize, r: usize) -> String {
    let (s, g) = resource_place(n, r);
    let (namespace, kind, prefix) = RESOURCE_KINDS[r % RESOURCE_KINDS.len()];
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{namespace}/{kind}/{prefix}-{r:06}",
        TenantSeed::subscription_id(s),
        group_name(g)
    )
}

/// Whether resources reference identity `i` (its index modulo 10 is not 4, 8 or 9).
pub fn is_referenced(i: usize) -> bool {
    !matches!(i % 10, 4 | 8 | 9)
}

/// Whether identity `i` is an orphan: nothing references it, it holds no role and has no
/// federated credential (index modulo 10 is 4 or 9).
pub fn is_orphan(i: usize) -> bool {
    matches!(i % 10, 4 | 9)
}

/// How many federated credentials identity `i` has: 18 to 20 when `i % 50 == 3`, else 1 to 3
/// when `i % 10 == 1`, else none.
pub fn credential_count(i: usize) -> usize {
    if i % 50 == 3 {
        18 + (i / 50) % 3
    } else if i % 10 == 1 {
        1 + (i / 10) % 3
    } else {
        0
    }
}

fn random_uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn identity_tags(i: usize) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    match i % 7 {
        6 => {}
        5 => {
            tags.insert("env".into(), ENVS[i % 3].into());
        }
        _ => {
            tags.insert("owner".into(), format!("team-{}", i % 5));
            tags.insert("env".into(), ENVS[i % 3].into());
        }
    }
    tags
}

/// What the store needs to know of the tenant while the rows are made.
struct Context<'a> {
    tenant_id: &'a str,
    owner_id: &'a str,
    created_ms: i64,
}

/// The rows of a seeded tenant.
fn rows(seed: &TenantSeed, ctx: &Context<'_>) -> BulkRows {
    let (n, m) = (seed.subscriptions, seed.identities);
    let mut rng = StdRng::seed_from_u64(ID_SEED);
    let mut out = BulkRows::default();
    for s in 0..n {
        let sub = TenantSeed::subscription_id(s);
        for g in 0..GROUPS_PER_SUBSCRIPTION {
            out.groups.push((
                sub.clone(),
                GroupRecord {
                    name: group_name(g),
                    location: LOCATIONS[0].into(),
                    tags: None,
                    managed_by: None,
                    deleting: false,
                },
            ));
        }
    }
    let mut principals = Vec::with_capacity(m);
    for i in 0..m {
        let (s, g) = identity_place(n, i);
        let sub = TenantSeed::subscription_id(s);
        let principal_id = random_uuid(&mut rng);
        let client_id = random_uuid(&mut rng);
        principals.push(principal_id.clone());
        let record = IdentityRecord {
            name: identity_name(i),
            resource_group: group_name(g),
            location: LOCATIONS[i % 3].into(),
            tags: identity_tags(i),
            tenant_id: ctx.tenant_id.to_string(),
            principal_id,
            client_id,
            isolation_scope: "None".into(),
            restricted_providers: Vec::new(),
            created_ms: ctx.created_ms,
        };
        for c in 0..credential_count(i) {
            out.credentials.push((
                sub.clone(),
                key_of(&record.resource_group),
                key_of(&record.name),
                FicRecord {
                    name: format!("fic-{c:02}"),
                    issuer: FIC_ISSUER.into(),
                    subject: Some(format!("repo:contoso/app-{i:06}:environment:env-{c:02}")),
                    audiences: vec!["api://AzureADTokenExchange".into()],
                    claims: None,
                },
            ));
        }
        out.identities.push((sub, record));
    }
    for r in 0..m {
        out.resources.push(resource(n, m, r, ctx, &mut rng));
    }
    for (i, principal) in principals.iter().enumerate() {
        if let Some((scope, role)) = assignment_scope(n, i) {
            out.assignments
                .push(assignment(&scope, role, principal, ctx, &mut rng));
        }
    }
    let groups: Vec<String> = MANAGEMENT_GROUPS
        .iter()
        .map(|(g, _)| g.to_string())
        .collect();
    for (scope, principal, role) in management_group_assignments(&out.identities, &groups) {
        out.assignments
            .push(assignment(&scope, role, &principal, ctx, &mut rng));
    }
    out
}

/// Generic resource `r`: by `r % 10`, it references identity `r` (0-3, 5-7; with 1 also
/// identity `r + 1`), an identity that does not exist (4), only a system-assigned identity (9),
/// or no identity (8).
fn resource(
    n: usize,
    m: usize,
    r: usize,
    ctx: &Context<'_>,
    rng: &mut StdRng,
) -> (String, ResourceRecord) {
    let (s, g) = resource_place(n, r);
    let sub = TenantSeed::subscription_id(s);
    let (namespace, kind, prefix) = RESOURCE_KINDS[r % RESOURCE_KINDS.len()];
    let mut identity = IdentityBlock::default();
    let mut refer = |id: String| {
        identity.user.insert(key_of(&id), id);
    };
    match r % 10 {
        4 => refer(format!(
            "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost-{r:06}",
            group_name(g)
        )),
        8 => {}
        9 => {
            identity.system = Some(SystemIdentity {
                principal_id: random_uuid(rng),
                tenant_id: ctx.tenant_id.to_string(),
                created_ms: ctx.created_ms,
            });
        }
        k => {
            refer(identity_id(n, r));
            if k == 1 && r + 1 < m {
                refer(identity_id(n, r + 1));
            }
        }
    }
    let mut tags = BTreeMap::new();
    if r.is_multiple_of(2) {
        tags.insert("owner".to_string(), format!("team-{}", r % 5));
    }
    let mut rest = Map::new();
    rest.insert(
        "properties".into(),
        json!({ "provisioningState": "Succeeded" }),
    );
    let record = ResourceRecord {
        name: format!("{prefix}-{r:06}"),
        resource_group: group_name(g),
        namespace: namespace.into(),
        kind: kind.into(),
        location: LOCATIONS[r % 3].into(),
        tags,
        rest,
        identity,
        created_ms: ctx.created_ms,
    };
    (sub, record)
}

/// The one role assignment of identity `i`'s principal, by `i % 10`: Reader on the next
/// subscription (0), Contributor on resource `i`'s group (1), Managed Identity Operator on
/// resource `i` (2), Reader on its own subscription (3), Managed Identity Operator on itself
/// (5), Reader on its own group (8); none otherwise.
fn assignment_scope(n: usize, i: usize) -> Option<(String, &'static str)> {
    let (s, g) = identity_place(n, i);
    let (rs, rg) = resource_place(n, i);
    let sub = |s: usize| format!("/subscriptions/{}", TenantSeed::subscription_id(s));
    let group = |s: usize, g: usize| format!("{}/resourceGroups/{}", sub(s), group_name(g));
    Some(match i % 10 {
        0 => (sub((s + 1) % n), READER),
        1 => (group(rs, rg), CONTRIBUTOR),
        2 => (resource_id(n, i), MI_OPERATOR),
        3 => (sub(s), READER),
        5 => (identity_id(n, i), MI_OPERATOR),
        8 => (group(s, g), READER),
        _ => return None,
    })
}

fn assignment(
    scope: &str,
    role: &str,
    principal: &str,
    ctx: &Context<'_>,
    rng: &mut StdRng,
) -> AssignmentRow {
    let name = random_uuid(rng);
    // `/subscriptions/{s}/...`: the scope's subscription is its second segment; a management
    // group's scope has none, and its role definitions are the tenant's.
    let sub = if scope.starts_with("/subscriptions/") {
        scope.split('/').nth(2).unwrap_or_default().to_string()
    } else {
        String::new()
    };
    let role_definition_id = if sub.is_empty() {
        format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")
    } else {
        format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}")
    };
    let record = RoleAssignmentRecord {
        name: name.clone(),
        scope: scope.to_string(),
        role_definition_id,
        principal_id: principal.to_string(),
        principal_type: "ServicePrincipal".into(),
        description: None,
        created_ms: ctx.created_ms,
        updated_ms: ctx.created_ms,
        created_by: ctx.owner_id.to_string(),
        updated_by: ctx.owner_id.to_string(),
        condition: None,
        condition_version: None,
    };
    AssignmentRow {
        key: key_of(&format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        )),
        sub: key_of(&sub),
        scope: key_of(scope),
        role: role.to_string(),
        record,
    }
}

/// The role assignments the seed gives at management-group scope, as `(scope, principal id,
/// role GUID)`, for the seeded identities (in index order) and the tenant's management groups:
/// Reader on group `groups[(i / 100) % len]` for every identity with `i % 100 == 7` (which
/// holds no other role).
pub fn management_group_assignments(
    identities: &[(String, IdentityRecord)],
    groups: &[String],
) -> Vec<(String, String, &'static str)> {
    if groups.is_empty() {
        return Vec::new();
    }
    identities
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 100 == 7)
        .map(|(i, (_, identity))| {
            let group = &groups[(i / 100) % groups.len()];
            (
                format!("/providers/Microsoft.Management/managementGroups/{group}"),
                identity.principal_id.clone(),
                READER,
            )
        })
        .collect()
}

/// Fills an empty store with the seeded tenant in one transaction and records its
/// subscriptions; refuses a store that holds anything. Returns the subscription ids.
pub(crate) fn apply(
    store: &Store,
    seed: &TenantSeed,
    tenant_id: &str,
    owner_id: &str,
) -> Result<Vec<String>, SeedError> {
    // Created a day ago: the principals are past any replication delay.
    let created_ms = super::state::now_ms().saturating_sub(86_400_000);
    let ctx = Context {
        tenant_id,
        owner_id,
        created_ms,
    };
    let rows = rows(seed, &ctx);
    let subs = seed.subscription_ids();
    store.transaction(|tx| {
        let held = tx.content_rows()?;
        if held > 0 {
            return Err(SeedError::NotEmpty { rows: held });
        }
        tx.insert_bulk(&rows)?;
        for (name, parent) in MANAGEMENT_GROUPS {
            tx.put_management_group(&ManagementGroupRecord {
                name: name.to_string(),
                display_name: name.to_string(),
                parent: key_of(parent.unwrap_or(tenant_id)),
                version: 1,
                updated_ms: created_ms,
                updated_by: owner_id.to_string(),
            })?;
        }
        for (s, sub) in subs.iter().enumerate() {
            tx.place_subscription(sub, subscription_group(s))?;
        }
        tx.set_meta(META_SUBSCRIPTIONS, &subs.join(","))?;
        tx.set_meta(META_SPEC, &seed.to_string())?;
        Ok(())
    })?;
    Ok(subs)
}

/// The subscriptions an earlier seed wrote into this store (none when it was never seeded).
pub(crate) fn recorded(store: &Store) -> Result<Vec<String>, StoreError> {
    let listed = store.read(|tx| tx.meta(META_SUBSCRIPTIONS))?;
    Ok(listed
        .map(|l| {
            l.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

/// Merges the subscriptions given as options with those of a seed (given ones first, no
/// repeats); `None` when neither names any.
pub(crate) fn known_subscriptions(given: &[String], seeded: &[String]) -> Option<Vec<String>> {
    let mut all: Vec<String> = given.to_vec();
    for s in seeded {
        if !all.iter().any(|g| g.eq_ignore_ascii_case(s)) {
            all.push(s.clone());
        }
    }
    (!all.is_empty()).then_some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_refused_with_the_reason() {
        let seed: TenantSeed = "50:20000".parse().unwrap();
        assert_eq!((seed.subscriptions(), seed.identities()), (50, 20_000));
        assert_eq!(seed.to_string(), "50:20000");
        for bad in ["50", "a:1", "1:b", "1:2:3", ""] {
            assert!(
                matches!(bad.parse::<TenantSeed>(), Err(SeedParseError::Shape(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "0:10".parse::<TenantSeed>(),
            Err(SeedParseError::Range { value: 0, .. })
        ));
        assert!(matches!(
            "1:1000001".parse::<TenantSeed>(),
            Err(SeedParseError::Range { .. })
        ));
    }

    #[test]
    fn the_same_spec_gives_the_same_tenant() {
        let ctx = Context {
            tenant_id: "t",
            owner_id: "o",
            created_ms: 1,
        };
        let seed = TenantSeed::new(3, 100).unwrap();
        let (a, b) = (rows(&seed, &ctx), rows(&seed, &ctx));
        assert_eq!(a.identities, b.identities);
        assert_eq!(a.resources, b.resources);
        assert_eq!(a.assignments.len(), b.assignments.len());
    }

    #[test]
    fn seeding_refuses_a_store_that_holds_state_and_changes_nothing() {
        let store = Store::open(None).unwrap();
        let seed = TenantSeed::new(2, 20).unwrap();
        apply(&store, &seed, "t", "o").unwrap();
        let before = store.read(|tx| tx.content_rows()).unwrap();
        let again = apply(&store, &seed, "t", "o");
        assert!(matches!(again, Err(SeedError::NotEmpty { rows }) if rows == before));
        assert_eq!(store.read(|tx| tx.content_rows()).unwrap(), before);
        assert_eq!(recorded(&store).unwrap(), seed.subscription_ids());
    }

    #[test]
    fn the_management_group_hook_assigns_every_hundredth_identity() {
        let ctx = Context {
            tenant_id: "t",
            owner_id: "o",
            created_ms: 1,
        };
        let identities = rows(&TenantSeed::new(2, 250).unwrap(), &ctx).identities;
        assert!(management_group_assignments(&identities, &[]).is_empty());
        let found = management_group_assignments(&identities, &["a".into(), "b".into()]);
        assert_eq!(found[0].1, identities[7].1.principal_id);
        let scopes: Vec<&str> = found.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(
            scopes,
            [
                "/providers/Microsoft.Management/managementGroups/a",
                "/providers/Microsoft.Management/managementGroups/b",
                "/providers/Microsoft.Management/managementGroups/a",
            ]
        );
    }
}
