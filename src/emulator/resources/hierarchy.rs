//! The tenant's management-group tree as one value: the root (named by the tenant id), the
//! stored groups with their parents, and where each known subscription sits. Read from the
//! store when needed (the tree is small).

use std::collections::BTreeMap;

use crate::emulator::store::{ManagementGroupRecord, StoreError, Tx, key_of};

/// The display name Azure gives the root group.
pub const ROOT_DISPLAY_NAME: &str = "Tenant Root Group";

/// The most levels below the root Azure allows.
pub const MAX_DEPTH: usize = 6;

/// Checks a management group id as Azure does: 1 to 90 letters, digits, `-`, `_`, `.`, `(`
/// and `)`, not ending with `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 90
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a management group id: use 1 to 90 letters, digits, '-', '_', '.', '(' or ')', \
             not ending with '.'"
        ))
    }
}

/// The tree as the store holds it now.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// The root's key (the tenant id, lower case).
    pub root: String,
    /// The tenant id as spelled.
    pub tenant_id: String,
    /// Stored groups by key.
    pub groups: BTreeMap<String, ManagementGroupRecord>,
    /// The group key of each known subscription (key), the root for those not placed.
    pub placement: BTreeMap<String, String>,
}

impl Hierarchy {
    /// Reads the tree; `subs` are the known subscription keys.
    pub fn load(tx: &Tx<'_>, tenant_id: &str, subs: &[String]) -> Result<Hierarchy, StoreError> {
        let root = key_of(tenant_id);
        let groups: BTreeMap<String, ManagementGroupRecord> = tx
            .management_groups()?
            .into_iter()
            .map(|g| (key_of(&g.name), g))
            .collect();
        let placed: BTreeMap<String, String> = tx.subscription_placements()?.into_iter().collect();
        let placement = subs
            .iter()
            .map(|s| {
                let key = s.to_ascii_lowercase();
                let group = placed
                    .get(&key)
                    .filter(|g| groups.contains_key(*g))
                    .cloned()
                    .unwrap_or_else(|| root.clone());
                (key, group)
            })
            .collect();
        Ok(Hierarchy {
            root,
            tenant_id: tenant_id.to_string(),
            groups,
            placement,
        })
    }

    /// Whether a group (key) exists, the root included.
    pub fn exists(&self, key: &str) -> bool {
        key == self.root || self.groups.contains_key(key)
    }

    /// The group's id as spelled.
    pub fn name<'a>(&'a self, key: &'a str) -> &'a str {
        if key == self.root {
            return &self.tenant_id;
        }
        self.groups.get(key).map_or(key, |g| g.name.as_str())
    }

    /// The group's friendly name.
    pub fn display_name<'a>(&'a self, key: &'a str) -> &'a str {
        if key == self.root {
            return ROOT_DISPLAY_NAME;
        }
        self.groups
            .get(key)
            .map_or(key, |g| g.display_name.as_str())
    }

    /// The parent's key; `None` for the root.
    pub fn parent(&self, key: &str) -> Option<&str> {
        if key == self.root {
            return None;
        }
        Some(
            self.groups
                .get(key)
                .map_or(self.root.as_str(), |g| g.parent.as_str()),
        )
    }

    /// The group's ancestors, nearest first, the root last (empty for the root). A broken
    /// chain (a parent that is gone) ends at the root.
    pub fn ancestors(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut at = key.to_string();
        while let Some(parent) = self.parent(&at) {
            if out.iter().any(|p| p == parent) || out.len() > self.groups.len() {
                break;
            }
            let parent = if self.exists(parent) {
                parent.to_string()
            } else {
                self.root.clone()
            };
            out.push(parent.clone());
            at = parent;
        }
        out
    }

    /// The group and its ancestors, the group first.
    pub fn chain(&self, key: &str) -> Vec<String> {
        let mut out = vec![key.to_string()];
        out.extend(self.ancestors(key));
        out
    }

    /// The group (key) a known subscription (key) sits in.
    pub fn group_of(&self, sub: &str) -> &str {
        self.placement
            .get(sub)
            .map_or(self.root.as_str(), String::as_str)
    }

    /// The groups a subscription sits under, nearest first, the root last.
    pub fn subscription_chain(&self, sub: &str) -> Vec<String> {
        self.chain(self.group_of(sub))
    }

    /// The direct child groups of a group, in key order.
    pub fn child_groups(&self, key: &str) -> Vec<&ManagementGroupRecord> {
        self.groups
            .iter()
            .filter(|(k, _)| self.parent(k) == Some(key))
            .map(|(_, g)| g)
            .collect()
    }

    /// The subscriptions (keys) directly in a group.
    pub fn child_subscriptions(&self, key: &str) -> Vec<&str> {
        self.placement
            .iter()
            .filter(|(_, g)| g.as_str() == key)
            .map(|(s, _)| s.as_str())
            .collect()
    }

    /// Every group below a group (keys), parents before children.
    pub fn descendant_groups(&self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut queue = vec![key.to_string()];
        while let Some(at) = queue.pop() {
            for child in self.child_groups(&at) {
                let child = key_of(&child.name);
                if !out.contains(&child) && child != key {
                    out.push(child.clone());
                    queue.push(child);
                }
            }
        }
        out
    }

    /// Every subscription (key) below a group, at any depth.
    pub fn subscriptions_below(&self, key: &str) -> Vec<String> {
        self.placement
            .keys()
            .filter(|s| self.subscription_chain(s).iter().any(|g| g == key))
            .cloned()
            .collect()
    }
}

/// The ARM id of a group.
pub fn group_id(name: &str) -> String {
    format!("/providers/Microsoft.Management/managementGroups/{name}")
}

/// The lower-case scope key of a group, as role assignments at it are stored.
pub fn group_scope_key(key: &str) -> String {
    key_of(&group_id(key))
}
