//! Resource Graph's tables built from the emulator's store, in ARG's shapes and casing:
//! `resources` (identities and generic resources, `type` and `resourceGroup` lower-cased),
//! `resourcecontainers` (subscriptions with their management-group ancestors, resource groups,
//! management groups) and `authorizationresources` (role assignments at every scope, up to
//! management groups, and the built-in role definitions). Each row keeps what a caller needs
//! to read it, so one snapshot of the tenant serves every caller and scope.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::eval::{Catalog, Read, Table, copy_read};
use crate::emulator::access::callers::Principal;
use crate::emulator::access::roles::GROUP_READ;
use crate::emulator::resources::hierarchy::{Hierarchy, group_id, group_scope_key};
use crate::emulator::resources::management_groups::GROUP_READ as MG_READ;
use crate::emulator::store::{
    AnyResource, AssignmentQuery, GroupAssignmentQuery, IdentityBlock, StoreError, Tx,
    identity_scope_key, key_of,
};

/// Columns of `resources`, in ARG's order.
pub const RESOURCE_COLUMNS: [&str; 14] = [
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
];

/// Columns of `resourcecontainers` and `authorizationresources`.
pub const CONTAINER_COLUMNS: [&str; 10] = [
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "properties",
    "tags",
];

/// The built-in roles a role assignment can name: GUID and role name, as Azure defines them.
const BUILT_IN_ROLES: [(&str, &str); 5] = [
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"),
    (
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        "Managed Identity Contributor",
    ),
    (
        "f1a07417-d97a-45cb-824c-7a7467783830",
        "Managed Identity Operator",
    ),
];

const ASSIGNMENT_READ: &str = "Microsoft.Authorization/roleAssignments/read";
const DEFINITION_READ: &str = "Microsoft.Authorization/roleDefinitions/read";

/// Which of the three tables a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableName {
    /// `resources`.
    Resources,
    /// `resourcecontainers`.
    Containers,
    /// `authorizationresources`.
    Authorization,
}

impl TableName {
    /// The table's name in queries.
    pub fn name(self) -> &'static str {
        match self {
            TableName::Resources => "resources",
            TableName::Containers => "resourcecontainers",
            TableName::Authorization => "authorizationresources",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            TableName::Resources => &RESOURCE_COLUMNS,
            TableName::Containers | TableName::Authorization => &CONTAINER_COLUMNS,
        }
    }
}

/// What reading a row needs of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    /// Some role in the subscription (the subscription's own row).
    RoleIn,
    /// This action at the row's subscription and group.
    Action(String),
    /// This action at a management group or above: the group's chain, the group first.
    AtGroup(&'static str, Vec<String>),
}

/// One row with where it lives and who may read it.
#[derive(Debug, Clone)]
pub struct Row {
    table: TableName,
    /// Subscription key (lower case).
    sub: String,
    /// Resource group key (lower case), when the row is inside one.
    rg: Option<String>,
    need: Need,
    /// For authorization rows: whether the row sits exactly at the subscription scope.
    at_subscription: bool,
    /// The management group (key) a row of a group, or of an assignment at one, belongs to.
    group: Option<String>,
    values: Vec<Value>,
}

/// The management groups (keys) a query sees, besides its subscriptions.
#[derive(Debug, Clone, Default)]
pub struct GroupScope {
    /// The groups named as the scope (the root at tenant scope).
    pub named: HashSet<String>,
    /// Those and every group below them.
    pub within: HashSet<String>,
    /// The groups above the scope (for `AtScopeAndAbove` and `AtScopeAboveAndBelow`).
    pub above: HashSet<String>,
}

/// Every row of the tenant, as one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    rows: Vec<Row>,
}

/// Which authorization rows a query sees, relative to the subscriptions it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationScope {
    /// At the subscriptions and below (ARG's default).
    AndBelow,
    /// At the subscriptions and above them.
    AndAbove,
    /// Only at the subscriptions themselves.
    Exact,
    /// Above, at and below.
    AboveAndBelow,
}

impl AuthorizationScope {
    /// Parses ARG's spelling (case-insensitively).
    pub fn parse(text: &str) -> Option<AuthorizationScope> {
        [
            ("AtScopeAndBelow", AuthorizationScope::AndBelow),
            ("AtScopeAndAbove", AuthorizationScope::AndAbove),
            ("AtScopeExact", AuthorizationScope::Exact),
            ("AtScopeAboveAndBelow", AuthorizationScope::AboveAndBelow),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, scope)| scope)
    }

    /// Whether a row below the named subscription (a group, a resource) is in view.
    fn sees_below(self) -> bool {
        matches!(
            self,
            AuthorizationScope::AndBelow | AuthorizationScope::AboveAndBelow
        )
    }

    /// Whether a row above the named scope (an assignment at a management group) is in view.
    fn sees_above(self) -> bool {
        matches!(
            self,
            AuthorizationScope::AndAbove | AuthorizationScope::AboveAndBelow
        )
    }
}

/// Everything a listing needs without a cap on rows.
const ALL: usize = 1 << 40;

impl Snapshot {
    /// Reads every row of these subscriptions (`(key, display spelling)`) from the store.
    pub fn load(
        tx: &Tx<'_>,
        subs: &[(String, String)],
        tenant_id: &str,
    ) -> Result<Snapshot, StoreError> {
        let mut rows = Vec::new();
        let mut resources = Vec::new();
        let mut identities: HashMap<String, (String, String)> = HashMap::new();
        let keys: Vec<String> = subs.iter().map(|(k, _)| k.clone()).collect();
        let tree = Hierarchy::load(tx, tenant_id, &keys)?;
        group_rows(tx, &tree, &mut rows)?;
        for (sub, shown) in subs {
            rows.push(subscription_row(sub, shown, tenant_id, &tree));
            for group in tx.groups(sub, "", ALL)?.items {
                rows.push(group_row(sub, shown, tenant_id, &group));
            }
            for item in tx.all_resources(sub, None, "", ALL)?.items {
                if let AnyResource::Identity(i) = &item {
                    identities.insert(
                        identity_scope_key(sub, &key_of(&i.resource_group), &key_of(&i.name)),
                        (i.principal_id.clone(), i.client_id.clone()),
                    );
                }
                resources.push((sub.clone(), shown.clone(), item));
            }
            let scope = format!("/subscriptions/{sub}");
            let query = AssignmentQuery {
                sub,
                at_or_above: std::slice::from_ref(&scope),
                below: Some(&scope),
                principal: None,
            };
            for a in tx.assignments(&query, "", ALL)?.items {
                rows.push(assignment_row(sub, shown, tenant_id, &a));
            }
            for (guid, role) in BUILT_IN_ROLES {
                rows.push(definition_row(sub, shown, tenant_id, guid, role));
            }
        }
        for (sub, shown, item) in resources {
            rows.push(match item {
                AnyResource::Identity(i) => identity_row(&sub, &shown, &i),
                AnyResource::Generic(r) => generic_row(&sub, &shown, tenant_id, &r, &identities),
            });
        }
        Ok(Snapshot { rows })
    }

    /// The tables a caller sees within these subscriptions (keys), built when a query names them.
    pub fn view<'a>(
        &'a self,
        caller: &'a Principal,
        subs: &'a HashSet<String>,
        groups: &'a GroupScope,
        auth_scope: AuthorizationScope,
    ) -> View<'a> {
        View {
            snapshot: self,
            caller,
            subs,
            groups,
            auth_scope,
        }
    }
}

/// One caller's view of a snapshot, within a query's subscriptions.
pub struct View<'a> {
    snapshot: &'a Snapshot,
    caller: &'a Principal,
    subs: &'a HashSet<String>,
    groups: &'a GroupScope,
    auth_scope: AuthorizationScope,
}

impl View<'_> {
    fn which(name: &str) -> Option<TableName> {
        [
            TableName::Resources,
            TableName::Containers,
            TableName::Authorization,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    fn visible<'r>(&self, which: TableName, row: &'r Row, seen: &mut Readable<'r>) -> bool {
        if let Some(group) = &row.group {
            let scope = self.groups;
            let in_scope = match which {
                TableName::Authorization => {
                    scope.named.contains(group)
                        || (self.auth_scope.sees_below() && scope.within.contains(group))
                        || (self.auth_scope.sees_above() && scope.above.contains(group))
                }
                _ => scope.within.contains(group),
            };
            return row.table == which && in_scope && readable(self.caller, row);
        }
        row.table == which
            && seen.in_subs(self.subs, &row.sub)
            && seen.check(self.caller, row)
            && (which != TableName::Authorization
                || row.at_subscription
                || self.auth_scope.sees_below())
    }
}

impl Catalog for View<'_> {
    fn table(&self, name: &str) -> Option<Table> {
        self.table_where(name, &|_| true, None)
    }

    fn columns(&self, name: &str) -> Option<Vec<String>> {
        Some(
            Self::which(name)?
                .columns()
                .iter()
                .map(|c| c.to_string())
                .collect(),
        )
    }

    fn table_where(
        &self,
        name: &str,
        keep: &dyn Fn(&[Value]) -> bool,
        read: Option<&[Read]>,
    ) -> Option<Table> {
        let which = Self::which(name)?;
        let mut table = Table::new(self.columns(name)?);
        let mut seen = Readable::default();
        for row in &self.snapshot.rows {
            if self.visible(which, row, &mut seen) && keep(&row.values) {
                table.rows.push(copy_read(&row.values, read));
            }
        }
        Some(table)
    }
}

/// What the caller may read, decided once per subscription, group and action of a query
/// instead of once per row (a tenant holds many rows per group).
/// The last answers are kept apart too: the rows of a group stand together in a snapshot,
/// so most rows need no lookup at all.
#[derive(Default)]
struct Readable<'r> {
    known: HashMap<Permission<'r>, bool>,
    last: Option<(Permission<'r>, bool)>,
    last_sub: Option<(&'r str, bool)>,
}

/// An action (none for "any role") in a subscription and maybe a group.
type Permission<'r> = (Option<&'r str>, &'r str, Option<&'r str>);

impl<'r> Readable<'r> {
    fn check(&mut self, caller: &Principal, row: &'r Row) -> bool {
        let action = match &row.need {
            Need::RoleIn => None,
            Need::Action(a) => Some(a.as_str()),
            Need::AtGroup(..) => return readable(caller, row),
        };
        let key = (action, row.sub.as_str(), row.rg.as_deref());
        if let Some((_, known)) = self.last.filter(|(k, _)| *k == key) {
            return known;
        }
        let known = *self
            .known
            .entry(key)
            .or_insert_with(|| readable(caller, row));
        self.last = Some((key, known));
        known
    }

    /// Whether the row's subscription is one of the query's.
    fn in_subs(&mut self, subs: &HashSet<String>, sub: &'r str) -> bool {
        if let Some((_, known)) = self.last_sub.filter(|(s, _)| *s == sub) {
            return known;
        }
        let known = subs.contains(sub);
        self.last_sub = Some((sub, known));
        known
    }
}

fn readable(caller: &Principal, row: &Row) -> bool {
    match &row.need {
        Need::RoleIn => caller.has_role_in(&row.sub),
        Need::Action(action) => caller.can(action, &row.sub, row.rg.as_deref()),
        Need::AtGroup(action, chain) => caller.can_at_group(action, chain),
    }
}

fn object(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn subscription_row(sub: &str, shown: &str, tenant_id: &str, tree: &Hierarchy) -> Row {
    let chain: Vec<Value> = tree
        .subscription_chain(sub)
        .iter()
        .map(|g| json!({ "name": tree.name(g), "displayName": tree.display_name(g) }))
        .collect();
    Row {
        table: TableName::Containers,
        sub: sub.to_string(),
        rg: None,
        need: Need::RoleIn,
        at_subscription: true,
        group: None,
        values: vec![
            json!(format!("/subscriptions/{shown}")),
            json!(crate::emulator::resources::subscriptions::display_name(
                shown
            )),
            json!("microsoft.resources/subscriptions"),
            json!(tenant_id),
            json!(""),
            json!(""),
            json!(""),
            json!(shown),
            json!({
                "state": "Enabled",
                "managementGroupAncestorsChain": chain,
            }),
            json!({}),
        ],
    }
}

fn group_row(
    sub: &str,
    shown: &str,
    tenant_id: &str,
    group: &crate::emulator::store::GroupRecord,
) -> Row {
    Row {
        table: TableName::Containers,
        sub: sub.to_string(),
        rg: Some(key_of(&group.name)),
        need: Need::Action(GROUP_READ.to_string()),
        at_subscription: false,
        group: None,
        values: vec![
            json!(format!(
                "/subscriptions/{shown}/resourceGroups/{}",
                group.name
            )),
            json!(group.name),
            json!("microsoft.resources/subscriptions/resourcegroups"),
            json!(tenant_id),
            json!(""),
            json!(group.location),
            // resourcecontainers keeps the group's own casing.
            json!(group.name),
            json!(shown),
            json!({ "provisioningState": if group.deleting { "Deleting" } else { "Succeeded" } }),
            group.tags.as_ref().map_or_else(|| json!({}), object),
        ],
    }
}

fn identity_row(sub: &str, shown: &str, i: &crate::emulator::store::IdentityRecord) -> Row {
    let kind = "Microsoft.ManagedIdentity/userAssignedIdentities";
    Row {
        table: TableName::Resources,
        sub: sub.to_string(),
        rg: Some(key_of(&i.resource_group)),
        need: Need::Action(format!("{kind}/read")),
        at_subscription: false,
        group: None,
        values: vec![
            json!(format!(
                "/subscriptions/{shown}/resourcegroups/{}/providers/{kind}/{}",
                i.resource_group, i.name
            )),
            json!(i.name),
            json!(kind.to_ascii_lowercase()),
            json!(i.tenant_id),
            json!(""),
            json!(i.location),
            json!(i.resource_group.to_lowercase()),
            json!(shown),
            json!(""),
            Value::Null,
            Value::Null,
            json!({
                "tenantId": i.tenant_id,
                "principalId": i.principal_id,
                "clientId": i.client_id,
                "isolationScope": i.isolation_scope,
            }),
            object(&i.tags),
            Value::Null,
        ],
    }
}

fn generic_row(
    sub: &str,
    shown: &str,
    tenant_id: &str,
    r: &crate::emulator::store::ResourceRecord,
    identities: &HashMap<String, (String, String)>,
) -> Row {
    let kind = format!("{}/{}", r.namespace, r.kind);
    let field = |name: &str, empty: Value| r.rest.get(name).cloned().unwrap_or(empty);
    Row {
        table: TableName::Resources,
        sub: sub.to_string(),
        rg: Some(key_of(&r.resource_group)),
        need: Need::Action(format!("{kind}/read")),
        at_subscription: false,
        group: None,
        values: vec![
            json!(crate::emulator::resources::generic::resource_id(r, shown)),
            json!(r.name),
            json!(kind.to_ascii_lowercase()),
            json!(tenant_id),
            field("kind", json!("")),
            json!(r.location),
            json!(r.resource_group.to_lowercase()),
            json!(shown),
            field("managedBy", json!("")),
            field("sku", Value::Null),
            field("plan", Value::Null),
            field("properties", json!({})),
            object(&r.tags),
            identity_block(&r.identity, identities),
        ],
    }
}

/// A resource's `identity` as ARM shows it; null when it uses none.
fn identity_block(block: &IdentityBlock, identities: &HashMap<String, (String, String)>) -> Value {
    let kind = match (block.system.is_some(), !block.user.is_empty()) {
        (false, false) => return Value::Null,
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        (true, true) => "SystemAssigned, UserAssigned",
    };
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    if let Some(system) = &block.system {
        out.insert("principalId".into(), json!(system.principal_id));
        out.insert("tenantId".into(), json!(system.tenant_id));
    }
    if !block.user.is_empty() {
        let user: Map<String, Value> = block
            .user
            .iter()
            .map(|(key, id)| {
                let shown = match identities.get(key) {
                    Some((principal, client)) => {
                        json!({ "principalId": principal, "clientId": client })
                    }
                    None => json!({}),
                };
                (id.clone(), shown)
            })
            .collect();
        out.insert("userAssignedIdentities".into(), Value::Object(user));
    }
    Value::Object(out)
}

fn assignment_row(
    sub: &str,
    shown: &str,
    tenant_id: &str,
    a: &crate::emulator::store::RoleAssignmentRecord,
) -> Row {
    // Scope: /subscriptions/{s}[/resourceGroups/{rg}[/...]]
    let parts: Vec<&str> = a.scope.split('/').filter(|p| !p.is_empty()).collect();
    let rg = parts.get(3).map(|g| key_of(g));
    Row {
        table: TableName::Authorization,
        sub: sub.to_string(),
        rg: rg.clone(),
        need: Need::Action(ASSIGNMENT_READ.to_string()),
        at_subscription: rg.is_none(),
        group: None,
        values: assignment_values(shown, tenant_id, a, &rg.unwrap_or_default()),
    }
}

/// The columns of a role assignment's row.
fn assignment_values(
    shown: &str,
    tenant_id: &str,
    a: &crate::emulator::store::RoleAssignmentRecord,
    rg: &str,
) -> Vec<Value> {
    vec![
        json!(format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            a.scope, a.name
        )),
        json!(a.name),
        json!("microsoft.authorization/roleassignments"),
        json!(tenant_id),
        json!(""),
        json!(""),
        json!(rg),
        json!(shown),
        json!({
            "roleDefinitionId": a.role_definition_id,
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "description": a.description,
            "condition": a.condition,
            "conditionVersion": a.condition_version,
            "createdBy": a.created_by,
            "updatedBy": a.updated_by,
        }),
        json!({}),
    ]
}

fn definition_row(sub: &str, shown: &str, tenant_id: &str, guid: &str, role: &str) -> Row {
    Row {
        table: TableName::Authorization,
        sub: sub.to_string(),
        rg: None,
        need: Need::Action(DEFINITION_READ.to_string()),
        at_subscription: true,
        group: None,
        values: vec![
            json!(format!(
                "/subscriptions/{shown}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            )),
            json!(guid),
            json!("microsoft.authorization/roledefinitions"),
            json!(tenant_id),
            json!(""),
            json!(""),
            json!(""),
            json!(shown),
            json!({
                "roleName": role,
                "type": "BuiltInRole",
                "assignableScopes": ["/"],
            }),
            json!({}),
        ],
    }
}

/// The rows of the management groups (in `resourcecontainers`) and of the role assignments at
/// them (in `authorizationresources`).
fn group_rows(tx: &Tx<'_>, tree: &Hierarchy, rows: &mut Vec<Row>) -> Result<(), StoreError> {
    let mut keys = vec![tree.root.clone()];
    keys.extend(tree.groups.keys().cloned());
    for key in &keys {
        let chain = tree.chain(key);
        let ancestors: Vec<Value> = chain[1..]
            .iter()
            .map(|g| json!({ "name": tree.name(g), "displayName": tree.display_name(g) }))
            .collect();
        let record = tree.groups.get(key);
        let mut details = Map::new();
        details.insert(
            "managementGroupAncestorsChain".into(),
            Value::Array(ancestors),
        );
        if let Some(parent) = tree.parent(key) {
            details.insert(
                "parent".into(),
                json!({ "id": group_id(tree.name(parent)), "name": tree.name(parent), "displayName": tree.display_name(parent) }),
            );
        }
        details.insert("version".into(), json!(record.map_or(1, |r| r.version)));
        details.insert(
            "updatedBy".into(),
            json!(record.map_or("", |r| r.updated_by.as_str())),
        );
        rows.push(Row {
            table: TableName::Containers,
            sub: String::new(),
            rg: None,
            need: Need::AtGroup(MG_READ, chain.clone()),
            at_subscription: false,
            group: Some(key.clone()),
            values: vec![
                json!(group_id(tree.name(key))),
                json!(tree.name(key)),
                json!("microsoft.management/managementgroups"),
                json!(tree.tenant_id),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!({ "displayName": tree.display_name(key), "tenantId": tree.tenant_id, "details": details }),
                json!({}),
            ],
        });
    }
    let scopes: Vec<String> = keys.iter().map(|k| group_scope_key(k)).collect();
    let by_scope: HashMap<&str, &String> = scopes.iter().map(String::as_str).zip(&keys).collect();
    let query = GroupAssignmentQuery {
        at_or_above: &scopes,
        below_groups: &[],
        below_subs: &[],
        principal: None,
    };
    for a in tx.group_assignments(&query, "", ALL)?.items {
        let Some(key) = by_scope.get(key_of(&a.scope).as_str()) else {
            continue;
        };
        rows.push(Row {
            table: TableName::Authorization,
            sub: String::new(),
            rg: None,
            need: Need::AtGroup(ASSIGNMENT_READ, tree.chain(key)),
            at_subscription: false,
            group: Some((*key).clone()),
            values: assignment_values("", &tree.tenant_id, &a, ""),
        });
    }
    Ok(())
}
