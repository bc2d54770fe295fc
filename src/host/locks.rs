//! Management locks in scripts: `lock_list(scope)`, the dry-run check that marks the plan lines
//! a lock would stop with 409 `ScopeLocked`, and what the safe delete asks of them (a locked
//! identity gets no detach or unassign first). Locks are read once per subscription per check,
//! never per item. Asks ARM (`arm::locks`); knows Rhai only through `HostState`.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Array, EvalAltResult};

use super::HostState;
use super::plan::{Change, Plan};
use crate::arm::locks::{LockSet, LockedOp};
use crate::arm::{ArmClient, ArmError, IdentityRef};

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The locks of each subscription read so far (by lower-case id), or the error reading them.
pub type LockCache = HashMap<String, Result<Arc<LockSet>, ArmError>>;

/// `lock_list(scope)`: every lock at, above or below a subscription, group or resource, as ARM
/// returns them (all pages).
pub fn list(s: &HostState, scope: &str) -> Res<Array> {
    let found = s.block_on(s.client.lock_list(scope))?;
    found.iter().map(rhai::serde::to_dynamic).collect()
}

/// The subscription of a resource id, if it names one.
fn subscription_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    let (Some(""), Some(word), Some(sub)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    (word.eq_ignore_ascii_case("subscriptions") && uuid::Uuid::try_parse(sub).is_ok())
        .then_some(sub)
}

/// Reads the locks of each subscription these ids name that the cache lacks.
pub async fn read_into<'a>(
    client: &ArmClient,
    ids: impl IntoIterator<Item = &'a str>,
    cache: &mut LockCache,
) {
    for id in ids {
        let Some(sub) = subscription_of(id) else {
            continue;
        };
        let key = sub.to_lowercase();
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(key) {
            slot.insert(client.lock_set(sub).await.map(Arc::new));
        }
    }
}

/// The locks over `id`'s subscription, when they could be read.
pub fn of(cache: &LockCache, id: &str) -> Option<Arc<LockSet>> {
    let sub = subscription_of(id)?.to_lowercase();
    cache.get(&sub)?.as_ref().ok().cloned()
}

/// Whether a lock stops the delete of this identity: then the safe delete plans and does
/// nothing else for it (no detach of its resources, no unassign), only the delete ARM refuses.
pub fn delete_blocked(locks: Option<&LockSet>, id: &IdentityRef) -> bool {
    locks.is_some_and(|l| !l.blocking(&id.id(), LockedOp::Delete).is_empty())
}

/// Marks every planned change a lock would stop (once the caller's permissions allow it);
/// the locks of each subscription are read once, through `cache`. A subscription whose locks
/// cannot be read is noted, its lines left as they are.
pub fn check_plan(s: &HostState, plan: &mut Plan, cache: &mut LockCache) {
    s.runtime.block_on(mark_plan(&s.client, plan, cache));
}

/// [`check_plan`] for any plan and client (the az-style commands' dry runs too).
pub async fn mark_plan(client: &ArmClient, plan: &mut Plan, cache: &mut LockCache) {
    let ids: Vec<String> = plan.items().iter().map(|p| p.id.clone()).collect();
    read_into(client, ids.iter().map(String::as_str), cache).await;
    let mut noted = Vec::new();
    let marks: Vec<(usize, Vec<String>)> = plan
        .items()
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let sub = subscription_of(&item.id)?.to_lowercase();
            let locks = match cache.get(&sub)? {
                Ok(locks) => locks,
                Err(_) => {
                    if !noted.contains(&sub) {
                        noted.push(sub.clone());
                    }
                    return None;
                }
            };
            let op = match item.change {
                Change::Delete => LockedOp::Delete,
                Change::Create | Change::Update => LockedOp::Write,
            };
            let scopes = locks.blocking(&item.id, op);
            (!scopes.is_empty()).then_some((index, scopes))
        })
        .collect();
    for sub in noted {
        if let Some(Err(e)) = cache.get(&sub) {
            plan.note(plan_note(&sub, e));
        }
    }
    for (index, scopes) in marks {
        plan.lock(index, scopes);
    }
}

fn plan_note(sub: &str, e: &ArmError) -> String {
    format!(
        "could not read the locks of /subscriptions/{sub}: {}",
        crate::error::render_arm(e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_of_ids() {
        let sub = "00000000-0000-0000-0000-000000000001";
        assert_eq!(
            subscription_of(&format!("/subscriptions/{sub}/resourceGroups/rg")),
            Some(sub)
        );
        assert_eq!(subscription_of(&format!("/SUBSCRIPTIONS/{sub}")), Some(sub));
        assert_eq!(subscription_of("/subscriptions/x/resourceGroups/rg"), None);
        assert_eq!(subscription_of("rg/name"), None);
    }
}
