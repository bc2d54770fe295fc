//! The re-check before a step: read each target from ARM (batched: one paged list per
//! resource group where many identities of it are read, concurrent GETs otherwise), then
//! compare with the fingerprint the plan relied on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::step::{Fingerprint, Op, Step};
use crate::arm::bulk::{self, Outcome};
use crate::arm::{ArmClient, ArmError, IdentityRef};
use crate::model::{FederatedCredential, GenericResource, Identity, ResourceGroup, RoleAssignment};

/// A target as it is now; `None` inside: it does not exist.
#[derive(Debug, Clone)]
pub enum Observed {
    /// An identity.
    Identity(Option<Identity>, Option<Vec<String>>),
    /// A resource (with its identity block).
    Resource(Option<GenericResource>),
    /// A role assignment.
    Assignment(Option<RoleAssignment>),
    /// A federated credential.
    Credential(Option<FederatedCredential>),
    /// A resource group.
    Group(Option<ResourceGroup>),
    /// Nothing is read for this step.
    Unread,
}

/// What to do with a step after its re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target is as the plan saw it: send the step.
    Proceed,
    /// The target is already in the step's end state: nothing to send.
    Achieved(String),
    /// The target changed: not touched.
    Drifted(String),
}

/// Most identities of one group read with one GET each; past it, the group is listed once.
const GETS_PER_GROUP: usize = 8;

fn not_found<T>(result: Result<T, ArmError>) -> Result<Option<T>, ArmError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The identity and credential name of a federated credential id.
pub fn credential_target(id: &str) -> Result<(IdentityRef, String), ArmError> {
    let lower = id.to_lowercase();
    let marker = "/federatedidentitycredentials/";
    let at = lower.find(marker).ok_or_else(|| {
        ArmError::invalid(
            "credential id",
            id,
            "it names no federatedIdentityCredentials",
        )
    })?;
    let identity = IdentityRef::parse(&id[..at])?;
    Ok((identity, id[at + marker.len()..].to_string()))
}

/// The subscription and name of a resource group id.
pub fn group_target(id: &str) -> Result<(String, String), ArmError> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        ["", s, sub, g, name]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourcegroups") =>
        {
            Ok((sub.to_string(), name.to_string()))
        }
        _ => Err(ArmError::invalid(
            "resource group id",
            id,
            "it is /subscriptions/ID/resourceGroups/NAME",
        )),
    }
}

fn reads_identity(op: &Op) -> bool {
    matches!(
        op,
        Op::IdentityPut { .. } | Op::IdentityTags { .. } | Op::IdentityRevoke | Op::IdentityDelete
    )
}

/// Reads the targets of these steps as they are now, at most `concurrency` requests at once.
pub async fn observe(
    client: &ArmClient,
    steps: &[&Step],
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Result<Observed, ArmError>> {
    // Identities of a group with many targets come from one paged list of the group.
    let mut per_group: HashMap<(String, String), usize> = HashMap::new();
    let refs: Vec<Option<IdentityRef>> = steps
        .iter()
        .map(|s| {
            reads_identity(&s.op)
                .then(|| IdentityRef::parse(&s.target).ok())
                .flatten()
        })
        .collect();
    for id in refs.iter().flatten() {
        *per_group
            .entry((
                id.subscription.to_lowercase(),
                id.resource_group.to_lowercase(),
            ))
            .or_default() += 1;
    }
    let mut listed: HashMap<(String, String), Result<HashMap<String, Identity>, ArmError>> =
        HashMap::new();
    for ((sub, rg), n) in &per_group {
        if *n <= GETS_PER_GROUP {
            continue;
        }
        let list = match client.identity_list_group(sub, rg).await {
            Ok(all) => Ok(all
                .into_iter()
                .map(|i| (i.name.to_lowercase(), i))
                .collect()),
            // A group that is gone holds no identity.
            Err(e) if e.is_not_found() => Ok(HashMap::new()),
            Err(e) => Err(e),
        };
        listed.insert((sub.clone(), rg.clone()), list);
    }
    // What each identity is attached to, from one list of resources per subscription, when
    // a delete relied on it.
    let mut attached: HashMap<String, Result<HashMap<String, Vec<String>>, ArmError>> =
        HashMap::new();
    for step in steps {
        let relies = matches!(
            step.fingerprint,
            Fingerprint::Identity {
                attached: Some(_),
                ..
            }
        );
        let Some(sub) = super::file::subscription_of(&step.target).filter(|_| relies) else {
            continue;
        };
        if attached.contains_key(&sub) {
            continue;
        }
        let found = client.resources_list(&sub).await.map(|all| {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for r in all {
                let ids = r.identity.as_ref().and_then(|i| i.user_assigned.as_ref());
                for key in ids.into_iter().flat_map(|m| m.keys()) {
                    map.entry(key.to_lowercase())
                        .or_default()
                        .push(r.id.to_lowercase());
                }
            }
            map
        });
        attached.insert(sub, found);
    }
    let attached = Arc::new(attached);
    let mut out: Vec<Option<Result<Observed, ArmError>>> = vec![None; steps.len()];
    let mut gets = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let attachments = |id: &IdentityRef| -> Result<Option<Vec<String>>, ArmError> {
            match attached.get(&id.subscription.to_lowercase()) {
                None => Ok(None),
                Some(Ok(map)) => Ok(Some(
                    map.get(&id.id().to_lowercase())
                        .cloned()
                        .unwrap_or_default(),
                )),
                Some(Err(e)) => Err(e.clone()),
            }
        };
        if let Some(id) = &refs[i]
            && let Some(list) = listed.get(&(
                id.subscription.to_lowercase(),
                id.resource_group.to_lowercase(),
            ))
        {
            out[i] = Some(match list {
                Ok(map) => attachments(id)
                    .map(|a| Observed::Identity(map.get(&id.name.to_lowercase()).cloned(), a)),
                Err(e) => Err(e.clone()),
            });
            continue;
        }
        gets.push((i, (*step).clone()));
    }
    let client2 = client.clone();
    let attached2 = attached.clone();
    let items = bulk::run(gets.clone(), concurrency, stop, None, move |(_, step)| {
        let client = client2.clone();
        let attached = attached2.clone();
        async move { read_one(&client, &step, &attached).await }
    })
    .await;
    for ((i, _), item) in gets.into_iter().zip(items) {
        out[i] = Some(match item.outcome {
            Outcome::Done(o) => Ok(o),
            Outcome::Failed(e) => Err(e),
            Outcome::NotStarted => Err(ArmError::invalid(
                "step",
                steps[i].target.clone(),
                "not re-checked: the apply was interrupted",
            )),
        });
    }
    out.into_iter()
        .map(|o| o.unwrap_or(Ok(Observed::Unread)))
        .collect()
}

type Attached = HashMap<String, Result<HashMap<String, Vec<String>>, ArmError>>;

/// Reads one step's target with its own GET.
async fn read_one(
    client: &ArmClient,
    step: &Step,
    attached: &Attached,
) -> Result<Observed, ArmError> {
    Ok(match &step.op {
        Op::IdentityPut { .. }
        | Op::IdentityTags { .. }
        | Op::IdentityRevoke
        | Op::IdentityDelete => {
            let id = IdentityRef::parse(&step.target)?;
            let found = not_found(client.identity_show(&id).await)?;
            let a = match attached.get(&id.subscription.to_lowercase()) {
                None => None,
                Some(Ok(map)) => Some(
                    map.get(&id.id().to_lowercase())
                        .cloned()
                        .unwrap_or_default(),
                ),
                Some(Err(e)) => return Err(e.clone()),
            };
            Observed::Identity(found, a)
        }
        Op::Detach { .. } => {
            Observed::Resource(not_found(client.resource_show(&step.target).await)?)
        }
        Op::Unassign { .. } => {
            Observed::Assignment(not_found(client.role_assignment_show(&step.target).await)?)
        }
        Op::CredentialPut { .. } | Op::CredentialDelete => {
            let (id, name) = credential_target(&step.target)?;
            Observed::Credential(not_found(client.credential_show(&id, &name).await)?)
        }
        Op::GroupPut { .. } | Op::GroupDelete => {
            let (sub, name) = group_target(&step.target)?;
            Observed::Group(not_found(client.group_show(&sub, &name).await)?)
        }
        Op::RoleAssign { .. } | Op::WithGroup { .. } => Observed::Unread,
    })
}

fn tag_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> String {
    crate::commands::dryrun::tag_diff(old, new).join(", ")
}

/// What changed in an identity since the plan; empty when nothing it relied on did.
/// `detached` are the resources the plan itself detaches it from.
fn identity_drift(
    fingerprint: &Fingerprint,
    now: &Identity,
    attached_now: Option<&Vec<String>>,
    detached: &[String],
) -> Vec<String> {
    let Fingerprint::Identity {
        principal_id,
        client_id,
        tags,
        attached,
    } = fingerprint
    else {
        return vec!["it exists, and the plan relied on it being absent".into()];
    };
    let mut what = Vec::new();
    if !now
        .properties
        .principal_id
        .eq_ignore_ascii_case(principal_id)
    {
        what.push(format!(
            "recreated: principalId {principal_id} -> {}",
            now.properties.principal_id
        ));
    } else if !now.properties.client_id.eq_ignore_ascii_case(client_id) {
        what.push(format!(
            "clientId {client_id} -> {}",
            now.properties.client_id
        ));
    }
    if &now.tags != tags {
        what.push(format!("retagged: {}", tag_changes(tags, &now.tags)));
    }
    if let (Some(planned), Some(current)) = (attached, attached_now) {
        let new: Vec<&String> = current
            .iter()
            .filter(|r| !planned.contains(r) && !detached.iter().any(|d| d.eq_ignore_ascii_case(r)))
            .collect();
        if !new.is_empty() {
            what.push(format!(
                "newly attached to {}",
                new.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    what
}

/// Compares a step's target as it is now with what the plan relied on. `in_flight`: the step
/// was sent by an earlier apply that stopped before it ended. `detached`: the resources the
/// plan detaches the step's identity from.
pub fn decide(step: &Step, now: &Observed, in_flight: bool, detached: &[String]) -> Verdict {
    let drift = |what: Vec<String>| {
        if what.is_empty() {
            Verdict::Proceed
        } else {
            Verdict::Drifted(what.join("; "))
        }
    };
    let gone = || Verdict::Drifted("it no longer exists".into());
    let earlier = if in_flight {
        "done by the interrupted apply"
    } else {
        "already so"
    };
    match (&step.op, now) {
        (Op::IdentityDelete, Observed::Identity(None, _)) => {
            Verdict::Achieved(format!("{earlier}: it is gone"))
        }
        (Op::IdentityDelete | Op::IdentityRevoke, Observed::Identity(Some(i), a)) => {
            drift(identity_drift(&step.fingerprint, i, a.as_ref(), detached))
        }
        (Op::IdentityRevoke, Observed::Identity(None, _)) => gone(),
        (
            Op::IdentityPut { tags, .. } | Op::IdentityTags { tags },
            Observed::Identity(found, _),
        ) => match (&step.fingerprint, found) {
            (Fingerprint::Absent, None) => Verdict::Proceed,
            (Fingerprint::Absent, Some(i)) if in_flight && &i.tags == tags => {
                Verdict::Achieved(format!("{earlier}: it exists with the planned tags"))
            }
            (Fingerprint::Absent, Some(_)) => {
                Verdict::Drifted("it was created since the plan".into())
            }
            (_, None) => gone(),
            (fp, Some(i)) => {
                let mut what = identity_drift(fp, i, None, detached);
                if &i.tags == tags {
                    what.retain(|w| !w.starts_with("retagged"));
                    if what.is_empty() {
                        return Verdict::Achieved(format!("{earlier}: it has the planned tags"));
                    }
                }
                drift(what)
            }
        },
        (Op::Detach { identity }, Observed::Resource(found)) => match found {
            None => Verdict::Achieved(format!("{earlier}: the resource is gone")),
            Some(r) => {
                let carries = r
                    .identity
                    .as_ref()
                    .and_then(|i| i.user_assigned.as_ref())
                    .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(identity)));
                if !carries {
                    return Verdict::Achieved(format!(
                        "{earlier}: it no longer carries the identity"
                    ));
                }
                let now = Fingerprint::of_block(r.identity.as_ref());
                if now == step.fingerprint {
                    Verdict::Proceed
                } else {
                    Verdict::Drifted(format!(
                        "its identity block changed: {}",
                        serde_json::to_string(&now).unwrap_or_default()
                    ))
                }
            }
        },
        (Op::Unassign { .. }, Observed::Assignment(None))
        | (Op::CredentialDelete, Observed::Credential(None))
        | (Op::GroupDelete, Observed::Group(None)) => {
            Verdict::Achieved(format!("{earlier}: it is gone"))
        }
        (Op::Unassign { .. } | Op::GroupDelete, _) => Verdict::Proceed,
        (
            Op::CredentialPut {
                issuer,
                subject,
                audiences,
            },
            Observed::Credential(found),
        ) => {
            let planned = Fingerprint::Credential {
                issuer: issuer.clone(),
                subject: subject.clone(),
                audiences: audiences.clone(),
            };
            match (found, &step.fingerprint) {
                (None, Fingerprint::Absent) => Verdict::Proceed,
                (None, _) => gone(),
                (Some(c), fp) => {
                    let now = Fingerprint::Credential {
                        issuer: c.properties.issuer.clone(),
                        subject: c.properties.subject.clone(),
                        audiences: c.properties.audiences.clone(),
                    };
                    if now == planned && (in_flight || *fp != Fingerprint::Absent) {
                        Verdict::Achieved(format!("{earlier}: it says what the plan says"))
                    } else if now == *fp {
                        Verdict::Proceed
                    } else if *fp == Fingerprint::Absent {
                        Verdict::Drifted("it was created since the plan".into())
                    } else {
                        Verdict::Drifted("its issuer, subject or audiences changed".into())
                    }
                }
            }
        }
        (Op::CredentialDelete, Observed::Credential(Some(c))) => {
            let now = Fingerprint::Credential {
                issuer: c.properties.issuer.clone(),
                subject: c.properties.subject.clone(),
                audiences: c.properties.audiences.clone(),
            };
            if matches!(step.fingerprint, Fingerprint::Credential { .. }) && now != step.fingerprint
            {
                Verdict::Drifted("its issuer, subject or audiences changed".into())
            } else {
                Verdict::Proceed
            }
        }
        (Op::GroupPut { location, .. }, Observed::Group(found)) => match (&step.fingerprint, found)
        {
            (Fingerprint::Absent, None) | (Fingerprint::Exists, Some(_)) => Verdict::Proceed,
            (Fingerprint::Absent, Some(g))
                if in_flight && g.location.eq_ignore_ascii_case(location) =>
            {
                Verdict::Achieved(format!("{earlier}: it exists"))
            }
            (Fingerprint::Absent, Some(_)) => {
                Verdict::Drifted("it was created since the plan".into())
            }
            (_, None) => gone(),
            (_, Some(_)) => Verdict::Proceed,
        },
        _ => Verdict::Proceed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IdentityProperties;
    use crate::plan::step::Change;

    fn identity(principal: &str, tags: &[(&str, &str)]) -> Identity {
        Identity {
            id: "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a".into(),
            name: "a".into(),
            kind: "Microsoft.ManagedIdentity/userAssignedIdentities".into(),
            location: "eastus".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            properties: IdentityProperties {
                principal_id: principal.into(),
                client_id: "c".into(),
                tenant_id: "t".into(),
                isolation_scope: None,
                assignment_restrictions: None,
            },
        }
    }

    fn delete_of(planned: &Identity) -> Step {
        Step {
            index: 0,
            change: Change::Delete,
            target: planned.id.clone(),
            op: Op::IdentityDelete,
            fingerprint: Fingerprint::of_identity(planned, Some(Vec::new())),
            details: Vec::new(),
            would_fail: None,
            prepares: None,
        }
    }

    #[test]
    fn a_delete_goes_ahead_only_on_the_identity_the_plan_saw() {
        let planned = identity("p1", &[]);
        let step = delete_of(&planned);
        let same = Observed::Identity(Some(planned.clone()), Some(Vec::new()));
        assert_eq!(decide(&step, &same, false, &[]), Verdict::Proceed);
        let recreated = Observed::Identity(Some(identity("p2", &[])), Some(Vec::new()));
        assert!(
            matches!(decide(&step, &recreated, false, &[]), Verdict::Drifted(w) if w.contains("recreated"))
        );
        let retagged = Observed::Identity(Some(identity("p1", &[("a", "b")])), Some(Vec::new()));
        assert!(
            matches!(decide(&step, &retagged, false, &[]), Verdict::Drifted(w) if w.contains("retagged: + tag a=b"))
        );
        let attached = Observed::Identity(Some(planned.clone()), Some(vec!["/s/web".into()]));
        assert!(
            matches!(decide(&step, &attached, false, &[]), Verdict::Drifted(w) if w.contains("newly attached to /s/web"))
        );
        // What the plan itself detaches it from is no drift.
        assert_eq!(
            decide(&step, &attached, false, &["/S/WEB".into()]),
            Verdict::Proceed
        );
        let gone = Observed::Identity(None, Some(Vec::new()));
        assert!(
            matches!(decide(&step, &gone, true, &[]), Verdict::Achieved(w) if w.contains("interrupted"))
        );
    }
}
