//! What `identity_delete` does in all its forms: the reference check, the safe-delete
//! steps, the dry-run plan of them, and the bulk form that reads references once per batch.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, Map};
use tokio::sync::watch;

use super::bulk::{bulk_run_slotted_since, keep_if_cut, mark_would_fail_with, result_map};
use super::convert::usage_error;
use super::identities::{probe, ref_of};
use super::locks::{self, LockCache};
use super::plan::Change;
use super::references::{self, DeleteOptions, References, Step, Uses};
use super::{HostState, drift};
use crate::arm::bulk::{Outcome, Slot};
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

/// The principals the maps of a batch carry, by lower-case identity id.
pub(super) fn principal_hints(full: &[String], items: &Array) -> HashMap<String, String> {
    full.iter()
        .zip(items)
        .filter_map(|(id, item)| principal_hint(item).map(|p| (id.to_lowercase(), p)))
        .collect()
}

/// The steps of one delete; `None` when it is gone. With the batch's tenant-wide
/// references no principal is needed (they are matched by identity id); without them the
/// identity's own references are read, from ARM and tenant-wide from Resource Graph.
pub(super) async fn delete_steps(
    client: ArmClient,
    id: IdentityRef,
    principal: Option<String>,
    references: Option<Arc<References>>,
    options: DeleteOptions,
) -> Result<Option<Vec<Step>>, ArmError> {
    if let Some(refs) = &references {
        return refs.uses(&id.id()).steps(&id, options).map(Some);
    }
    let principal = match principal {
        Some(p) => p,
        None => match probe(&client, &id).await? {
            Some(identity) => identity.properties.principal_id,
            None => return Ok(None),
        },
    };
    let full = [id.id()];
    let (own, tenant) = tokio::join!(
        Uses::of(&client, &id, &principal),
        References::gather_tenant(&client, &full)
    );
    let uses = match own {
        Ok(mut uses) => {
            uses.merge(tenant?.uses(&id.id()));
            uses
        }
        // The map named an identity that is gone by now.
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
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
    let shown = s.graph_rows.borrow().get(&id.id().to_lowercase()).cloned();
    if let Some(shown) = shown {
        // Chosen from Resource Graph rows: ARM says whether it is still the same identity
        // (a new attachment is read from ARM below and blocks the delete as any use does).
        let now = s.block_on(probe(&s.client, id))?;
        let now = now.map(|i| i.properties.principal_id);
        drift::compare(id, &shown, now.as_deref(), &[], None).map_err(super::convert::arm_error)?;
    }
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

/// A value computed once in the background and awaited by every item of a batch.
type Awaited<T> = watch::Receiver<Option<Result<T, ArmError>>>;

/// Starts `work` on the runtime; each item awaits its result with `ready`.
fn in_background<T, Fut>(s: &HostState, work: Fut) -> Awaited<T>
where
    T: Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, ArmError>> + Send + 'static,
{
    let (tell, told) = watch::channel(None);
    s.runtime.spawn(async move {
        let _ = tell.send(Some(work.await));
    });
    told
}

/// The background value, once it is in; the item's place among the calls in flight is
/// given to another item while it waits.
async fn ready<T: Clone>(mut told: Awaited<T>, slot: &Slot) -> Result<T, ArmError> {
    let now = told.borrow().clone();
    if let Some(value) = now {
        return value;
    }
    let waited = slot
        .away(async { told.wait_for(Option::is_some).await.map(|v| v.clone()) })
        .await;
    match waited {
        Ok(Some(value)) => value,
        _ => Err(stopped_read()),
    }
}

fn stopped_read() -> ArmError {
    ArmError::Decode {
        status: 0,
        message: "a read of the batch stopped before it answered".into(),
    }
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

pub(super) fn delete_many(s: &HostState, items: &Array, options: DeleteOptions) -> Res<Array> {
    let ids: Vec<IdentityRef> = items.iter().map(ref_of).collect::<Res<_>>()?;
    let since = (s.client.stats(), std::time::Instant::now());
    // References are read once for the batch, tenant-wide (a few Resource Graph queries),
    // not once per identity or per subscription; a failed read fails every item, each
    // with the reason, and nothing is deleted unchecked. The read runs in the background
    // while the ARM re-reads below go ahead.
    let full: Vec<String> = ids.iter().map(IdentityRef::id).collect();
    let hints = principal_hints(&full, items);
    let gathering = {
        let client = s.client.clone();
        in_background(s, async move {
            References::gather_tenant_hinted(&client, &full, &hints)
                .await
                .map(Arc::new)
        })
    };
    // Items chosen from Resource Graph rows are re-read from ARM before anything is done
    // to them: their group listed once (by the first of them to need it), their
    // attachments read one call each.
    let shown: Vec<Option<String>> = {
        let rows = s.graph_rows.borrow();
        ids.iter()
            .map(|i| rows.get(&i.id().to_lowercase()).cloned())
            .collect()
    };
    let chosen: Vec<IdentityRef> = ids
        .iter()
        .zip(&shown)
        .filter(|(_, shown)| shown.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    // Their groups' lists, in the background too (each group once, paged on its own).
    let listing = {
        let (client, chosen) = (s.client.clone(), chosen);
        in_background(s, async move {
            let refs: Vec<&IdentityRef> = chosen.iter().collect();
            drift::principals_now(&client, &refs).await.map(Arc::new)
        })
    };
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
    let work: Vec<_> = ids
        .iter()
        .cloned()
        .zip(shown)
        .map(|(id, shown)| {
            let locked = safe(options)
                && locks::delete_blocked(locks::of(&lock_cache, &id.id()).as_deref(), &id);
            (id, shown, locked)
        })
        .collect();
    // Each item goes on by itself: its attachments re-read from ARM, then (once the batch's
    // references and group lists are in) its comparison and its delete. No item waits for
    // the others' reads, and none is touched before the references are in.
    let results = bulk_run_slotted_since(s, since, work, move |(id, shown, locked), slot| {
        let (client, listing, gathering) = (client.clone(), listing.clone(), gathering.clone());
        async move {
            if let Some(shown) = shown {
                let attached = client
                    .identity_resources(&id)
                    .await
                    .map(|found| found.into_iter().map(|r| r.id).collect::<Vec<String>>());
                let principal = ready(listing, &slot)
                    .await?
                    .get(&id.id().to_lowercase())
                    .cloned();
                // Its attachments count only while it exists; gone, it is reported as such.
                let attached = match (&principal, attached) {
                    (None, _) => None,
                    (Some(_), Ok(a)) => Some(a),
                    (Some(_), Err(e)) => return Err(e),
                };
                let refs = ready(gathering.clone(), &slot).await?;
                let known = refs.uses(&id.id()).resources;
                drift::compare(
                    &id,
                    &shown,
                    principal.as_deref(),
                    &known,
                    attached.as_deref(),
                )?;
            }
            let refs = ready(gathering, &slot).await?;
            let steps = if locked {
                Some(vec![Step::Delete])
            } else {
                delete_steps(client.clone(), id.clone(), None, Some(refs), options).await?
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
