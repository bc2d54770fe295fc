//! What the identity functions of the API do: create (one, or many through the bulk
//! runner), read, update, and the dry-run shapes of each. Registered in `api.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map};
use serde_json::{Value, json};

use super::HostState;
use super::api::KNOWN_AFTER_APPLY;
use super::bulk::{bulk_run, keep_if_cut, mark_would_fail, result_map};
use super::convert::{self, arm_error, usage_error};
use super::plan::Change;
use crate::arm::bulk::Outcome;
use crate::arm::{ArmClient, ArmError, IdentityCreate, IdentityRef, names};
use crate::output;
use crate::plan::step::{Fingerprint, Op};

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn identity_ref(s: &HostState, rg: &str, name: &str) -> Res<IdentityRef> {
    IdentityRef::new(&s.subscription()?, rg, name).map_err(arm_error)
}

/// An identity as the map scripts see: the fields of `az identity show`.
pub(super) fn identity_value(s: &HostState, identity: &crate::model::Identity) -> Res<Dynamic> {
    s.saw(&identity.name);
    if let Some(rg) = output::resource_group_of(&identity.id) {
        s.saw(&rg);
    }
    Ok(identity_map(identity, None).into())
}

/// The map of an identity, as `output::identity_json` shapes it, built directly (a list of
/// thousands spends most of its time on this), with `subscriptionId` when given.
pub(super) fn identity_map(identity: &crate::model::Identity, subscription: Option<&str>) -> Map {
    identity_map_sharing(identity, subscription, &mut Repeated::default())
}

/// Texts that most identities of a list share (tenant, type, location, subscription, group,
/// tag values), made once and shared by every map that holds them: a list of thousands
/// made a string of each for every identity.
#[derive(Default)]
pub(super) struct Repeated(HashMap<String, ImmutableString>);

impl Repeated {
    /// At most this many distinct texts are kept (tag values can be all different).
    const KEPT: usize = 4096;

    fn text(&mut self, v: &str) -> Dynamic {
        if let Some(known) = self.0.get(v) {
            return known.clone().into();
        }
        let made = ImmutableString::from(v);
        if self.0.len() < Self::KEPT {
            self.0.insert(v.to_string(), made.clone());
        }
        made.into()
    }
}

/// `identity_map`, sharing repeated texts through `repeated` across the maps of one list.
pub(super) fn identity_map_sharing(
    identity: &crate::model::Identity,
    subscription: Option<&str>,
    repeated: &mut Repeated,
) -> Map {
    let text = |v: &str| Dynamic::from(ImmutableString::from(v));
    let p = &identity.properties;
    let mut m = Map::new();
    m.insert("clientId".into(), text(&p.client_id));
    m.insert("id".into(), text(&identity.id));
    m.insert(
        "isolationScope".into(),
        p.isolation_scope.as_deref().map_or(Dynamic::UNIT, text),
    );
    m.insert("location".into(), repeated.text(&identity.location));
    m.insert("name".into(), text(&identity.name));
    m.insert("principalId".into(), text(&p.principal_id));
    m.insert(
        "resourceGroup".into(),
        output::resource_group_of(&identity.id).map_or(Dynamic::UNIT, |g| repeated.text(&g)),
    );
    let tags: Map = identity
        .tags
        .iter()
        .map(|(k, v)| (k.as_str().into(), repeated.text(v)))
        .collect();
    m.insert("tags".into(), tags.into());
    m.insert("tenantId".into(), repeated.text(&p.tenant_id));
    m.insert("type".into(), repeated.text(&identity.kind));
    if let Some(sub) = subscription {
        m.insert("subscriptionId".into(), repeated.text(sub));
    }
    m
}

pub(super) fn identities(s: &HostState, list: Vec<crate::model::Identity>) -> Res<Array> {
    let mut repeated = Repeated::default();
    Ok(list
        .iter()
        .map(|identity| {
            s.saw(&identity.name);
            if let Some(rg) = output::resource_group_of(&identity.id) {
                s.saw(&rg);
            }
            identity_map_sharing(identity, None, &mut repeated).into()
        })
        .collect())
}

/// GET that answers `None` for a 404 (of the identity or its group).
pub(super) async fn probe(
    client: &ArmClient,
    id: &IdentityRef,
) -> Result<Option<crate::model::Identity>, ArmError> {
    match client.identity_show(id).await {
        Ok(identity) => Ok(Some(identity)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn creation(opts: &Map) -> Res<IdentityCreate> {
    let o = convert::create_options(opts)?;
    names::tags(&o.tags).map_err(arm_error)?;
    if let Some(l) = &o.location {
        names::location(l).map_err(arm_error)?;
    }
    Ok(IdentityCreate {
        location: o.location,
        tags: o.tags,
        isolation_scope: o.isolation_scope,
    })
}

pub(super) fn create_one(s: &HostState, rg: &str, name: &str, opts: &Map) -> Res<Dynamic> {
    let id = identity_ref(s, rg, name)?;
    let create = creation(opts)?;
    if s.dry_run.get() {
        let create = Arc::new(create);
        let (value, created, fingerprint) =
            s.block_on(would_create(s.client.clone(), id.clone(), create.clone()))?;
        s.plan.borrow_mut().record_step(
            if created {
                Change::Create
            } else {
                Change::Update
            },
            id.id(),
            Some((put_op(&create), fingerprint)),
            Vec::new(),
        );
        return convert::to_dynamic(&value);
    }
    let (identity, created) = s.block_on(s.client.identity_put(&id, &create))?;
    s.count(|d| {
        if created {
            d.created += 1
        } else {
            d.updated += 1
        }
    });
    identity_value(s, &identity)
}

/// The plan-file step of a create.
fn put_op(create: &IdentityCreate) -> Op {
    Op::IdentityPut {
        location: create.location.clone(),
        tags: create.tags.clone(),
        isolation_scope: create.isolation_scope.clone(),
    }
}

/// What a create would return, without sending it: the existing identity with the new
/// tags, or the fields known before apply. Also says whether it would be new, and what the
/// plan relies on.
pub(super) async fn would_create(
    client: ArmClient,
    id: IdentityRef,
    create: Arc<IdentityCreate>,
) -> Result<(Value, bool, Fingerprint), ArmError> {
    if let Some(mut existing) = probe(&client, &id).await? {
        let fingerprint = Fingerprint::of_identity(&existing, None);
        existing.tags = create.tags.clone();
        if let Some(scope) = &create.isolation_scope {
            existing.properties.isolation_scope = Some(scope.clone());
        }
        return Ok((output::identity_json(&existing), false, fingerprint));
    }
    // The real PUT would fail in a missing group, so the plan fails the same way.
    let group = client
        .group_show(&id.subscription, &id.resource_group)
        .await?;
    let location = match &create.location {
        Some(l) => l.to_lowercase().replace(' ', ""),
        None => group.location,
    };
    let value = json!({
        "clientId": KNOWN_AFTER_APPLY,
        "id": id.id(),
        "isolationScope": create.isolation_scope.clone().unwrap_or_else(|| "None".into()),
        "location": location,
        "name": id.name,
        "principalId": KNOWN_AFTER_APPLY,
        "resourceGroup": id.resource_group,
        "tags": create.tags,
        "tenantId": KNOWN_AFTER_APPLY,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
    });
    Ok((value, true, Fingerprint::Absent))
}

pub(super) fn create_many(s: &HostState, rg: &str, names: &Array, opts: &Map) -> Res<Array> {
    let mut create = creation(opts)?;
    // Every name is checked before the first request.
    let ids: Vec<IdentityRef> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let name = n
                .clone()
                .into_immutable_string()
                .map_err(|t| usage_error(format!("names[{i}] must be a string, not {t}")))?;
            identity_ref(s, rg, &name)
        })
        .collect::<Res<_>>()?;
    // The group's location is read once, not once per identity.
    if create.location.is_none() {
        let sub = s.subscription()?;
        names::group_name(rg).map_err(arm_error)?;
        create.location = Some(s.block_on(s.client.group_show(&sub, rg))?.location);
    }
    let create = Arc::new(create);
    let client = s.client.clone();
    if s.dry_run.get() {
        let op = put_op(&create);
        let items = bulk_run(s, ids.clone(), move |id| {
            would_create(client.clone(), id, create.clone())
        });
        let mut fingerprints = Vec::new();
        let mut changes = Vec::new();
        let mut results: Array = ids
            .iter()
            .zip(items)
            .enumerate()
            .map(|(index, (id, item))| {
                if let Outcome::Done((_, created, fingerprint)) = &item.outcome {
                    let change = if *created {
                        Change::Create
                    } else {
                        Change::Update
                    };
                    changes.push((index, change, id.id()));
                    fingerprints.push(fingerprint.clone());
                }
                result_map(
                    id,
                    item.map(|(_, created, _)| if created { 201 } else { 200 }),
                )
            })
            .collect();
        {
            let mut plan = s.plan.borrow_mut();
            for ((_, change, id), fingerprint) in changes.iter().zip(fingerprints) {
                plan.record_step(
                    *change,
                    id.clone(),
                    Some((op.clone(), fingerprint)),
                    Vec::new(),
                );
            }
        }
        mark_would_fail(s, &changes, &mut results);
        return Ok(keep_if_cut(s, results));
    }
    let items = bulk_run(s, ids.clone(), move |id| {
        let (client, create) = (client.clone(), create.clone());
        async move { client.identity_put(&id, &create).await }
    });
    Ok(keep_if_cut(
        s,
        ids.iter()
            .zip(items)
            .map(|(id, item)| {
                if let Outcome::Done((identity, created)) = &item.outcome {
                    s.saw(&identity.name);
                    s.count(|d| {
                        if *created {
                            d.created += 1
                        } else {
                            d.updated += 1
                        }
                    });
                }
                result_map(id, item.map(|(_, created)| if created { 201 } else { 200 }))
            })
            .collect(),
    ))
}

pub(super) fn update(s: &HostState, rg: &str, name: &str, opts: &Map) -> Res<Dynamic> {
    let id = identity_ref(s, rg, name)?;
    let tags: BTreeMap<String, String> = convert::update_tags(opts)?;
    names::tags(&tags).map_err(arm_error)?;
    if s.dry_run.get() {
        let Some(mut existing) = s.block_on(probe(&s.client, &id))? else {
            return Err(arm_error(ArmError::Api {
                status: 404,
                code: "ResourceNotFound".into(),
                message: format!(
                    "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{name}' under resource group '{rg}' was not found."
                ),
                request_id: None,
            }));
        };
        let fingerprint = Fingerprint::of_identity(&existing, None);
        let details = crate::commands::dryrun::tag_diff(&existing.tags, &tags);
        existing.tags = tags.clone();
        s.plan.borrow_mut().record_step(
            Change::Update,
            id.id(),
            Some((Op::IdentityTags { tags }, fingerprint)),
            details,
        );
        return identity_value(s, &existing);
    }
    let identity = s.block_on(s.client.identity_update_tags(&id, &tags))?;
    s.count(|d| d.updated += 1);
    identity_value(s, &identity)
}

/// The identity a map (`#{id}`) or an id string names.
pub(crate) fn ref_of(item: &Dynamic) -> Res<IdentityRef> {
    if let Some(map) = item.read_lock::<Map>() {
        let id = map
            .get("id")
            .and_then(|v| v.clone().into_immutable_string().ok());
        let Some(id) = id else {
            return Err(usage_error(
                "an identity map needs its 'id' field (as identity_list returns it)",
            ));
        };
        return IdentityRef::parse(&id).map_err(arm_error);
    }
    match item.clone().into_immutable_string() {
        Ok(id) => IdentityRef::parse(&id).map_err(arm_error),
        Err(t) => Err(usage_error(format!(
            "expected an identity map or a resource id, not {t}"
        ))),
    }
}

/// Revokes the tokens issued to an identity; in a dry-run, checks that it exists and plans
/// the change instead (a missing identity fails as the real call would).
pub(super) fn revoke_tokens(s: &HostState, id: &IdentityRef) -> Res<Dynamic> {
    if s.dry_run.get() {
        let found = s.block_on(probe(&s.client, id))?;
        let Some(found) = found else {
            return Err(arm_error(ArmError::Api {
                status: 404,
                code: "ResourceNotFound".into(),
                message: format!(
                    "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{}' under resource group '{}' was not found.",
                    id.name, id.resource_group
                ),
                request_id: None,
            }));
        };
        s.plan.borrow_mut().record_step(
            Change::Update,
            id.id(),
            Some((Op::IdentityRevoke, Fingerprint::of_identity(&found, None))),
            vec!["revoke tokens".into()],
        );
        return Ok(Dynamic::UNIT);
    }
    s.block_on(s.client.identity_revoke_tokens(id))?;
    s.count(|d| d.updated += 1);
    Ok(Dynamic::UNIT)
}
