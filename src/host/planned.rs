//! The plan-file side of a dry-run delete: each step recorded with what the plan relies on —
//! the identity's principal id, client id, tags and attachments, and the identity block of
//! every resource it is detached from — read in one concurrent batch, not item by item.

use std::collections::{BTreeMap, HashMap};

use rhai::{Dynamic, Map};

use super::HostState;
use super::plan::Change;
use super::references::{DeleteOptions, Step};
use crate::arm::IdentityRef;
use crate::arm::bulk::{self, Outcome};
use crate::plan::step::{Fingerprint, Op};

/// What an identity map says the plan relies on: principal id, client id, tags.
pub(super) type Known = (String, String, BTreeMap<String, String>);

/// One dry-run delete: the identity, what its map said (if anything), and its steps.
pub(super) type Planned = (IdentityRef, Option<Known>, Vec<Step>);

/// The identity fingerprint an identity map (as `identity_list` returns) already carries.
pub(super) fn from_map(item: &Dynamic) -> Option<Known> {
    let map = item.read_lock::<Map>()?;
    let text = |k: &str| {
        map.get(k)
            .and_then(|v| v.clone().into_immutable_string().ok())
            .map(|s| s.to_string())
            .filter(|s| uuid::Uuid::try_parse(s).is_ok())
    };
    let (principal, client) = (text("principalId")?, text("clientId")?);
    let tags = match map.get("tags") {
        None => BTreeMap::new(),
        Some(t) if t.is_unit() => BTreeMap::new(),
        Some(t) => {
            let tags = t.read_lock::<Map>()?;
            tags.iter()
                .map(|(k, v)| {
                    Some((
                        k.to_string(),
                        v.clone().into_immutable_string().ok()?.to_string(),
                    ))
                })
                .collect::<Option<_>>()?
        }
    };
    Some((principal, client, tags))
}

/// Records the steps of dry-run deletes in the plan, in order, with their fingerprints.
/// `known` holds what an identity map said, when the script passed maps.
pub(super) fn record_deletes(s: &HostState, deletes: Vec<Planned>, options: DeleteOptions) {
    let concurrency = s.concurrency.get();
    let stop = s.interrupted.clone();
    // Identities whose map did not say enough are read, concurrently.
    let unread: Vec<IdentityRef> = deletes
        .iter()
        .filter(|(_, known, _)| known.is_none())
        .map(|(id, ..)| id.clone())
        .collect();
    let client = s.client.clone();
    let read = s.runtime.block_on(bulk::run(
        unread.clone(),
        concurrency,
        stop.clone(),
        None,
        move |id| {
            let client = client.clone();
            async move { client.identity_show(&id).await }
        },
    ));
    let mut identities: HashMap<String, crate::model::Identity> = HashMap::new();
    for (id, item) in unread.iter().zip(read) {
        if let Outcome::Done(found) = item.outcome {
            identities.insert(id.id().to_lowercase(), found);
        }
    }
    // Each detached resource's identity block, read once.
    let mut resources: Vec<String> = deletes
        .iter()
        .flat_map(|(_, _, steps)| steps.iter())
        .filter_map(|step| match step {
            Step::Detach { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect();
    resources.sort_by_key(|r| r.to_lowercase());
    resources.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let client = s.client.clone();
    let blocks = s.runtime.block_on(bulk::run(
        resources.clone(),
        concurrency,
        stop,
        None,
        move |r| {
            let client = client.clone();
            async move { client.resource_show(&r).await }
        },
    ));
    let blocks: HashMap<String, Fingerprint> = resources
        .iter()
        .zip(blocks)
        .filter_map(|(r, item)| match item.outcome {
            Outcome::Done(found) => Some((
                r.to_lowercase(),
                Fingerprint::of_block(found.identity.as_ref()),
            )),
            _ => None,
        })
        .collect();
    let mut plan = s.plan.borrow_mut();
    for (id, known, steps) in deletes {
        let identity_id = id.id();
        let detached: Vec<String> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Detach { resource } => Some(resource.clone()),
                _ => None,
            })
            .collect();
        // A forced delete relies on nothing about attachments; otherwise the identity is
        // attached to exactly what the plan detaches it from.
        let attached = (!options.force || options.detach).then(|| detached.clone());
        let fingerprint = match known {
            Some((principal_id, client_id, tags)) => Some(Fingerprint::Identity {
                principal_id,
                client_id,
                tags,
                attached: attached.map(|mut a| {
                    a.iter_mut().for_each(|r| *r = r.to_lowercase());
                    a.sort();
                    a
                }),
            }),
            None => identities
                .get(&identity_id.to_lowercase())
                .map(|i| Fingerprint::of_identity(i, attached)),
        };
        for step in steps {
            match step {
                Step::Detach { resource } => {
                    let block = blocks.get(&resource.to_lowercase()).cloned();
                    plan.record_step(
                        Change::Update,
                        resource,
                        block.map(|b| {
                            (
                                Op::Detach {
                                    identity: identity_id.clone(),
                                },
                                b,
                            )
                        }),
                        vec![format!("- identity {identity_id}")],
                    );
                }
                Step::Unassign { assignment } => plan.record_step(
                    Change::Delete,
                    assignment,
                    Some((
                        Op::Unassign {
                            identity: identity_id.clone(),
                        },
                        Fingerprint::Exists,
                    )),
                    Vec::new(),
                ),
                Step::Delete => plan.record_step(
                    Change::Delete,
                    identity_id.clone(),
                    fingerprint.clone().map(|f| (Op::IdentityDelete, f)),
                    Vec::new(),
                ),
            }
        }
    }
}
