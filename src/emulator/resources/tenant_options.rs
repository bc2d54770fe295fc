//! The `--management-group NAME[:PARENT]` and `--subscription ID[@GROUP]` options: parsed,
//! checked against each other before the emulator starts (a usage error), and applied to the
//! store at start; and the check that a `--caller` granted at a group names one that exists.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use crate::emulator::EmulatorError;
use crate::emulator::access::callers::Caller;
use crate::emulator::resources::hierarchy::{MAX_DEPTH, check_name};
use crate::emulator::state::now_ms;
use crate::emulator::store::{ManagementGroupRecord, Store, key_of};

/// `--management-group NAME[:PARENT]`: a group below PARENT (another `--management-group`),
/// or below the root when PARENT is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group's id.
    pub name: String,
    /// Its parent's id; `None` for the root.
    pub parent: Option<String>,
}

impl FromStr for GroupSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, parent) = match s.split_once(':') {
            Some((name, parent)) => (name, Some(parent)),
            None => (s, None),
        };
        check_name(name).map_err(|e| format!("'{s}': {e}"))?;
        if let Some(parent) = parent {
            check_name(parent).map_err(|e| format!("'{s}': the parent {e}"))?;
        }
        Ok(GroupSpec {
            name: name.to_string(),
            parent: parent.map(str::to_string),
        })
    }
}

/// `--subscription ID[@GROUP]`: a subscription the emulator knows, below GROUP (a
/// `--management-group`) or below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    /// The subscription id.
    pub id: String,
    /// The group it sits in; `None` for the root.
    pub group: Option<String>,
}

impl FromStr for SubscriptionSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, group) = match s.split_once('@') {
            Some((id, group)) => (id, Some(group)),
            None => (s, None),
        };
        if id.len() != 36 || uuid::Uuid::try_parse(id).is_err() {
            return Err(format!("'{id}' is not a subscription id (a UUID)"));
        }
        if let Some(group) = group {
            check_name(group).map_err(|e| format!("'{s}': the group {e}"))?;
        }
        Ok(SubscriptionSpec {
            id: id.to_string(),
            group: group.map(str::to_string),
        })
    }
}

impl fmt::Display for SubscriptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            Some(g) => write!(f, "{}@{g}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// Checks the groups and placements of the options: no name twice, every parent and
/// placement names a given group, no cycle, no deeper than [`MAX_DEPTH`], no subscription twice.
pub fn check_options(
    groups: &[GroupSpec],
    subscriptions: &[SubscriptionSpec],
) -> Result<(), String> {
    let mut parents: BTreeMap<String, Option<String>> = BTreeMap::new();
    for g in groups {
        if parents
            .insert(key_of(&g.name), g.parent.as_deref().map(key_of))
            .is_some()
        {
            return Err(format!("--management-group '{}' is given twice", g.name));
        }
    }
    for g in groups {
        if let Some(parent) = &g.parent
            && !parents.contains_key(&key_of(parent))
        {
            return Err(format!(
                "--management-group {}:{parent}: the parent '{parent}' is not a --management-group \
                 (leave it out for the root group)",
                g.name
            ));
        }
    }
    for g in groups {
        let mut seen = vec![key_of(&g.name)];
        let mut at = key_of(&g.name);
        while let Some(Some(parent)) = parents.get(&at) {
            if seen.contains(parent) {
                return Err(format!(
                    "--management-group: the parents of '{}' form a cycle",
                    g.name
                ));
            }
            seen.push(parent.clone());
            at = parent.clone();
        }
        if seen.len() > MAX_DEPTH {
            return Err(format!(
                "--management-group '{}' is {} levels below the root; Azure allows {MAX_DEPTH}",
                g.name,
                seen.len()
            ));
        }
    }
    let mut subs = HashSet::new();
    for s in subscriptions {
        if !subs.insert(s.id.to_ascii_lowercase()) {
            return Err(format!("--subscription '{}' is given twice", s.id));
        }
        if let Some(group) = &s.group
            && !parents.contains_key(&key_of(group))
        {
            return Err(format!(
                "--subscription {s}: '{group}' is not a --management-group"
            ));
        }
    }
    Ok(())
}

/// Creates or re-parents the groups of `--management-group` and places the subscriptions of
/// `--subscription ID@GROUP`, in one transaction.
pub fn apply_options(
    store: &Store,
    groups: &[GroupSpec],
    placements: &[SubscriptionSpec],
    actor: &str,
) -> Result<(), EmulatorError> {
    store.transaction(|tx| {
        let tenant = key_of(&tx.meta("tenant_id")?.unwrap_or_default());
        for spec in groups {
            if key_of(&spec.name) == tenant {
                return Err(EmulatorError::Invalid(format!(
                    "--management-group '{}' is the root group's own name",
                    spec.name
                )));
            }
            let parent = spec.parent.as_deref().map_or(tenant.clone(), key_of);
            let old = tx.management_group(&key_of(&spec.name))?;
            if old.as_ref().is_some_and(|o| o.parent == parent) {
                continue;
            }
            tx.put_management_group(&ManagementGroupRecord {
                name: spec.name.clone(),
                display_name: old
                    .as_ref()
                    .map_or_else(|| spec.name.clone(), |o| o.display_name.clone()),
                parent,
                version: old.as_ref().map_or(1, |o| o.version.saturating_add(1)),
                updated_ms: now_ms(),
                updated_by: actor.to_string(),
            })?;
        }
        for p in placements {
            tx.place_subscription(
                &p.id.to_ascii_lowercase(),
                p.group.as_deref().map(key_of).as_deref(),
            )?;
        }
        Ok(())
    })
}

/// Checks that each `--caller` granted at a management group names one that exists.
pub fn check_callers(
    store: &Store,
    callers: &[Caller],
    tenant_id: &str,
) -> Result<(), EmulatorError> {
    for caller in callers {
        let Some(group) = &caller.management_group else {
            continue;
        };
        let key = key_of(group);
        let found =
            key == key_of(tenant_id) || store.read(|tx| tx.management_group(&key))?.is_some();
        if !found {
            return Err(EmulatorError::Invalid(format!(
                "the --caller scope names the management group '{group}', which does not exist \
                 (add it with --management-group)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(groups: &[&str], subs: &[&str]) -> Result<(), String> {
        let g: Vec<GroupSpec> = groups.iter().map(|g| g.parse().unwrap()).collect();
        let s: Vec<SubscriptionSpec> = subs.iter().map(|s| s.parse().unwrap()).collect();
        check_options(&g, &s)
    }

    #[test]
    fn options_name_what_is_wrong() {
        let sub = "00000000-0000-0000-0000-000000000001";
        assert!(specs(&["a", "b:a", "c:b"], &[&format!("{sub}@c")]).is_ok());
        for (groups, subs, says) in [
            (&["a", "A"][..], vec![], "given twice"),
            (&["a:x"][..], vec![], "the parent 'x' is not"),
            (&["a:b", "b:a"][..], vec![], "cycle"),
            (&["a:a"][..], vec![], "cycle"),
            (
                &["a"][..],
                vec![format!("{sub}@b")],
                "'b' is not a --management-group",
            ),
            (
                &["a"][..],
                vec![sub.to_string(), sub.to_string()],
                "given twice",
            ),
            (
                &["a", "b:a", "c:b", "d:c", "e:d", "f:e", "g:f"][..],
                vec![],
                "levels below the root",
            ),
        ] {
            let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
            let e = specs(groups, &subs).unwrap_err();
            assert!(e.contains(says), "{groups:?}: {e}");
        }
        for bad in ["", "a b", "x.", "a:", ":a"] {
            assert!(bad.parse::<GroupSpec>().is_err(), "{bad}");
        }
        assert!("nope@a".parse::<SubscriptionSpec>().is_err());
        assert!(format!("{sub}@").parse::<SubscriptionSpec>().is_err());
    }
}
