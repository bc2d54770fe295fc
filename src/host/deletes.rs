//! What `identity_delete` does in all its forms: the reference check, the safe-delete
//! steps, the dry-run plan of them, and the bulk form that reads references once per batch.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::HostState;
use super::bulk::{bulk_run, keep_if_cut, mark_would_fail_with, result_map};
use super::convert::usage_error;
use super::identities::{probe, ref_of};
use super::locks::{self, LockCache};
use super::plan::Change;
use super::references::{self, DeleteOptions, References, Step, Uses};
use crate::arm::bulk::Outcome;
use crate::arm::{ArmClient, ArmError, IdentityRef};

type Res<T> = Result<T, Box<EvalAltResult>>;

/// Reads `#{detach, remove_role_assignments, force}`.
pub(super) fn delete_options(opts: &Map) -> Res<DeleteOptions> {
    let mut options = DeleteOptions::default();
    for (key, value) in opts {
        let on = value
            .as_bool()
            .map_err(|t| usage_error(format!("{key} is true or false, not {t}")))?;
        match key.as_str() {
            "detach" => options.detach = on,
            "remove_role_assignments" => options.remove_role_assignments = on,
            "force" => options.force = on,
            other => {
                return Err(usage_error(format!(
                    "unknown option '{other}': a delete takes #{{detach, remove_role_assignments, force}}"
                )));
            }
        }
    }
    Ok(options)
}

/// The principal id an identity map carries (saves a read before checking references).
pub(super) fn principal_hint(identity: &Dynamic) -> Option<String> {
    identity
        .read_lock::<Map>()?
        .get("principalId")
        .and_then(|p| p.clone().into_immutable_string().ok())
        .filter(|p| uuid::Uuid::try_parse(p).is_ok())
        .map(|p| p.to_string())
}

/// The steps of one delete, from the identity's own references; `None` when it is gone.
pub(super) async fn delete_steps(
    client: ArmClient,
    id: IdentityRef,
    principal: Option<String>,
    references: Option<Arc<References>>,
    options: DeleteOptions,
) -> Result<Option<Vec<Step>>, ArmError> {
    let principal = match principal {
        Some(p) => p,
        // The principal only matches role assignments: with none in the subscription, a
        // read of the identity would learn nothing (a gone identity's DELETE says so).
        None if references.as_ref().is_some_and(|r| !r.has_assignments()) => String::new(),
        None => match probe(&client, &id).await? {
            Some(identity) => identity.properties.principal_id,
            None => return Ok(None),
        },
    };
    let uses = match &references {
        Some(refs) => refs.uses(&id.id(), &principal),
        None => match Uses::of(&client, &id, &principal).await {
            Ok(uses) => uses,
            // The map named an identity that is gone by now.
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        },
    };
    uses.steps(&id, options).map(Some)
}

/// The plan lines of a delete's steps.
fn step_changes<'a>(
    id: &'a IdentityRef,
    steps: &'a [Step],
) -> impl Iterator<Item = (Change, String)> + 'a {
    steps.iter().map(move |step| match step {
        Step::Detach { resource } => (Change::Update, resource.clone()),
        Step::Unassign { assignment } => (Change::Delete, assignment.clone()),
        Step::Delete => (Change::Delete, id.id()),
    })
}

pub(super) fn delete_one(
    s: &HostState,
    id: &IdentityRef,
    principal: Option<String>,
    options: DeleteOptions,
) -> Res<bool> {
    let steps = if safe(options) && identity_locked(s, id) {
        Some(vec![Step::Delete])
    } else {
        s.block_on(delete_steps(
            s.client.clone(),
            id.clone(),
            principal,
            None,
            options,
        ))?
    };
    let Some(steps) = steps else { return Ok(false) };
    if s.dry_run.get() {
        super::planned::record_deletes(s, vec![(id.clone(), None, steps)], options);
        return Ok(true);
    }
    let deleted = s.block_on(references::apply(&s.client, id, &steps))?;
    if deleted {
        s.count(|d| d.deleted += 1);
    }
    Ok(deleted)
}

/// Whether a delete may do more than delete (detach, unassign): then a lock is looked for first.
fn safe(options: DeleteOptions) -> bool {
    options.detach || options.remove_role_assignments
}

/// Whether a lock stops the delete of this identity (locks that cannot be read count as none:
/// ARM still refuses what they stop).
fn identity_locked(s: &HostState, id: &IdentityRef) -> bool {
    let mut cache = LockCache::new();
    s.runtime
        .block_on(locks::read_into(&s.client, [id.id().as_str()], &mut cache));
    locks::delete_blocked(locks::of(&cache, &id.id()).as_deref(), id)
}

/// Most items of one group whose principals are read one GET each; past it, one paged
/// list of the group reads them all, so that a batch's reads do not grow with the batch.
const GETS_PER_GROUP: usize = 8;

/// The groups whose principals one list reads (more than a few items of the group lack
/// theirs), each with the indices of those items.
fn groups_to_list(ids: &[IdentityRef], hints: &[Option<String>]) -> Vec<Vec<usize>> {
    let mut wanted: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (index, (id, hint)) in ids.iter().zip(hints).enumerate() {
        if hint.is_none() {
            let key = (
                id.subscription.to_lowercase(),
                id.resource_group.to_lowercase(),
            );
            wanted.entry(key).or_default().push(index);
        }
    }
    wanted
        .into_values()
        .filter(|indices| indices.len() > GETS_PER_GROUP)
        .collect()
}

/// The references of each subscription of a batch, and the identities of the groups listed.
type Reads = (
    HashMap<String, Result<Arc<References>, ArmError>>,
    Vec<(Vec<usize>, Option<Vec<crate::model::Identity>>)>,
);

/// Reads the references of each subscription of the batch, then the identities of each
/// group `groups_to_list` names whose subscription holds role assignments (only those
/// need the principals).
async fn batch_reads(client: &ArmClient, ids: &[IdentityRef], groups: Vec<Vec<usize>>) -> Reads {
    let mut references: HashMap<String, Result<Arc<References>, ArmError>> = HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) =
            references.entry(id.subscription.to_lowercase())
        {
            slot.insert(
                References::gather(client, &id.subscription)
                    .await
                    .map(Arc::new),
            );
        }
    }
    let mut lists = Vec::new();
    for indices in groups {
        let first = &ids[indices[0]];
        let needed = references
            .get(&first.subscription.to_lowercase())
            .is_some_and(|r| r.as_ref().is_ok_and(|r| r.has_assignments()));
        if !needed {
            continue;
        }
        let listed = client
            .identity_list_group(&first.subscription, &first.resource_group)
            .await
            .ok();
        lists.push((indices, listed));
    }
    (references, lists)
}

pub(super) fn delete_many(s: &HostState, items: &Array, options: DeleteOptions) -> Res<Array> {
    let ids: Vec<IdentityRef> = items.iter().map(ref_of).collect::<Res<_>>()?;
    let mut hints: Vec<Option<String>> = items.iter().map(principal_hint).collect();
    // References are read once for the batch (per subscription), not once per identity; a
    // subscription that cannot be read fails its own items only. Id strings carry no
    // principal: a group with more than a few of them is listed once instead of read item
    // by item; items the list lacks (or a failed list) read the identity, as a single delete.
    let groups = groups_to_list(&ids, &hints);
    let (references, lists) = s.runtime.block_on(batch_reads(&s.client, &ids, groups));
    for (indices, listed) in lists {
        let Some(listed) = listed else { continue };
        let principals: HashMap<String, String> = listed
            .into_iter()
            .map(|i| (i.name.to_lowercase(), i.properties.principal_id))
            .collect();
        for index in indices {
            if let Some(principal) = principals.get(&ids[index].name.to_lowercase()) {
                hints[index] = Some(principal.clone());
            }
        }
    }
    let work: Vec<_> = ids
        .iter()
        .cloned()
        .zip(hints)
        .map(|(id, hint)| {
            let refs = references
                .get(&id.subscription.to_lowercase())
                .cloned()
                .unwrap_or_else(|| {
                    Err(ArmError::invalid(
                        "subscription",
                        id.subscription.clone(),
                        "its references were not read",
                    ))
                });
            (id, hint, refs)
        })
        .collect();
    let client = s.client.clone();
    let dry_run = s.dry_run.get();
    // The locks of each subscription, once for the batch: a locked identity's safe delete
    // does nothing but the delete, and a dry run marks what the locks would stop.
    let mut lock_cache = LockCache::new();
    if dry_run || safe(options) {
        let id_strings: Vec<String> = ids.iter().map(IdentityRef::id).collect();
        s.runtime.block_on(locks::read_into(
            &s.client,
            id_strings.iter().map(String::as_str),
            &mut lock_cache,
        ));
    }
    let work: Vec<_> = work
        .into_iter()
        .map(|(id, hint, refs)| {
            let locked = safe(options)
                && locks::delete_blocked(locks::of(&lock_cache, &id.id()).as_deref(), &id);
            (id, hint, refs, locked)
        })
        .collect();
    let results = bulk_run(s, work, move |(id, hint, refs, locked)| {
        let client = client.clone();
        async move {
            let steps = if locked {
                Some(vec![Step::Delete])
            } else {
                delete_steps(client.clone(), id.clone(), hint, Some(refs?), options).await?
            };
            let Some(steps) = steps else {
                return Ok((false, Vec::new()));
            };
            if dry_run {
                return Ok((true, steps));
            }
            let deleted = references::apply(&client, &id, &steps).await?;
            Ok((deleted, Vec::new()))
        }
    });
    let mut changes = Vec::new();
    let mut planned = Vec::new();
    let mut out: Array = ids
        .iter()
        .zip(results)
        .enumerate()
        .map(|(index, (id, item))| {
            if let Outcome::Done((true, steps)) = &item.outcome {
                if dry_run {
                    let known = items.get(index).and_then(super::planned::from_map);
                    planned.push((id.clone(), known, steps.clone()));
                    changes.extend(step_changes(id, steps).map(|(c, r)| (index, c, r)));
                } else {
                    s.count(|d| d.deleted += 1);
                }
            }
            result_map(id, item.map(|(deleted, _)| if deleted { 200 } else { 204 }))
        })
        .collect();
    if dry_run {
        super::planned::record_deletes(s, planned, options);
        mark_would_fail_with(s, &changes, &mut out, &mut lock_cache);
    }
    Ok(keep_if_cut(s, out))
}
