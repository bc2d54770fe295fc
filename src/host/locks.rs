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
    let mut wanted: Vec<String> = ids
        .into_iter()
        .filter_map(subscription_of)
        .map(str::to_lowercase)
        .filter(|sub| !cache.contains_key(sub))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    // One list per subscription, sent together.
    let mut tasks = tokio::task::JoinSet::new();
    for sub in wanted {
        let client = client.clone();
        tasks.spawn(async move {
            let set = client.lock_set(&sub).await.map(Arc::new);
            (sub, set)
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((sub, set)) = done {
            cache.insert(sub, set);
        }
    }
}

/// `lock_list(scopes)`: the locks of each scope, read concurrently, by scope as given.
pub fn list_many(s: &HostState, scopes: &Array) -> Res<rhai::Map> {
    let scopes: Vec<String> = scopes
        .iter()
        .map(|v| {
            v.clone()
                .into_immutable_string()
                .map(|t| t.to_string())
                .map_err(|t| {
                    super::convert::usage_error(format!(
                        "lock_list: each scope is a string, not {t}"
                    ))
                })
        })
        .collect::<Res<_>>()?;
    let client = s.client.clone();
    let found = s.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, scope) in scopes.iter().cloned().enumerate() {
            let client = client.clone();
            tasks.spawn(async move { (index, client.lock_list(&scope).await) });
        }
        let mut out: Vec<Option<Vec<serde_json::Value>>> = vec![None; scopes.len()];
        while let Some(done) = tasks.join_next().await {
            let (index, listed) = done.map_err(|e| crate::arm::ArmError::Decode {
                status: 0,
                message: format!("a lock list stopped: {e}"),
            })?;
            if let Some(slot) = out.get_mut(index) {
                *slot = Some(listed?);
            }
        }
        Ok(scopes.into_iter().zip(out).collect::<Vec<_>>())
    })?;
    let mut map = rhai::Map::new();
    for (scope, locks) in found {
        let locks: Array = locks
            .unwrap_or_default()
            .iter()
            .map(rhai::serde::to_dynamic)
            .collect::<Res<_>>()?;
        map.insert(scope.into(), locks.into());
    }
    Ok(map)
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
