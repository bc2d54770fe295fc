//! What uses many identities at once, for audits: their attachments and role assignments
//! read tenant-wide in a few Resource Graph queries (not three calls per identity), and
//! their federated credentials listed concurrently.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use serde_json::{Value, json};

use super::HostState;
use super::api::FnDoc;
use super::bulk::bulk_run;
use super::convert;
use super::identities::ref_of;
use super::references::References;
use super::tenant_references::TenantWide;
use crate::arm::IdentityRef;
use crate::arm::bulk::Outcome;
use crate::output::assignment_json;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The functions of this file, for `:help`, completion and the examples test.
pub const DOCS: &[FnDoc] = &[
    FnDoc {
        name: "identity_uses",
        params: &["identities: Array"],
        returns: "Array",
        doc: "What uses each identity (maps or ids), read tenant-wide: #{id, name, resourceGroup, resources, role_assignments, federated_credentials, orphan}, or #{id, name, error} when it could not be read.",
        example: r#"identity_uses(identity_list("rg")).filter(|u| u.orphan).len()"#,
    },
    FnDoc {
        name: "identity_uses",
        params: &["identities: Array", "opts: Map"],
        returns: "Array",
        doc: "The same; with #{credentials: \"unused\"} federated credentials are listed only for identities that no resource or role assignment uses (the others get federated_credentials: ()), which is all an orphan audit needs.",
        example: r#"identity_uses(identity_list("rg"), #{credentials: "unused"}).filter(|u| u.orphan).len()"#,
    },
    FnDoc {
        name: "dangling_references",
        params: &["identities: Array"],
        returns: "Map",
        doc: "What in the tenant points at identities that are not among these (maps with id and principalId: every identity of the tenant): #{resources: [#{id, name, type, resourceGroup, missing}], role_assignments: [...] (of service principals that are none of them)}, from the reads of tenant_references().",
        example: r#"dangling_references(identity_list()).resources.len()"#,
    },
    FnDoc {
        name: "tenant_references",
        params: &[],
        returns: "Map",
        doc: "Every reference to identities in the tenant, from Resource Graph: #{resources: [#{id, name, type, resourceGroup, subscriptionId, identities}] (each resource whose identity block names user-assigned identities), role_assignments: [...] (every role assignment, at any scope)}. Reuses the tenant read of an identity_uses a moment ago when this process has written nothing since.",
        example: r#"tenant_references().resources.len()"#,
    },
];

/// Which identities' federated credentials are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credentials {
    /// Every identity's.
    All,
    /// Only those of identities no resource or role assignment uses.
    Unused,
}

/// Registers the functions of this file.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let s = state.clone();
    DOCS[0]
        .registration()
        .register_into_engine(engine, move |items: Array| {
            identity_uses(&s, &items, Credentials::All)
        });
    let s = state.clone();
    DOCS[1]
        .registration()
        .register_into_engine(engine, move |items: Array, opts: rhai::Map| {
            identity_uses(&s, &items, credentials_option(&opts)?)
        });
    let s = state.clone();
    DOCS[2]
        .registration()
        .register_into_engine(engine, move |items: Array| dangling_references(&s, &items));
    let s = state.clone();
    DOCS[3]
        .registration()
        .register_into_engine(engine, move || tenant_references(&s));
}

/// `#{credentials: "all" | "unused"}`; anything else is refused.
fn credentials_option(opts: &rhai::Map) -> Res<Credentials> {
    if let Some(key) = opts.keys().find(|k| k.as_str() != "credentials") {
        return Err(convert::usage_error(format!(
            "identity_uses: unknown option '{key}'; the option is credentials"
        )));
    }
    match opts.get("credentials").map(|v| v.to_string()) {
        None => Ok(Credentials::All),
        Some(v) if v == "all" => Ok(Credentials::All),
        Some(v) if v == "unused" => Ok(Credentials::Unused),
        Some(v) => Err(convert::usage_error(format!(
            "identity_uses: credentials is \"all\" or \"unused\", not {v}"
        ))),
    }
}

fn identity_uses(s: &HostState, items: &Array, which: Credentials) -> Res<Array> {
    let ids: Vec<IdentityRef> = items.iter().map(ref_of).collect::<Res<_>>()?;
    if ids.is_empty() {
        return Ok(Array::new());
    }
    let full: Vec<String> = ids.iter().map(IdentityRef::id).collect();
    let hints = super::deletes::principal_hints(&full, items);
    let (refs, counted) = match which {
        Credentials::All => {
            // The Resource Graph reads run while the credentials are listed.
            let gathering = {
                let client = s.client.clone();
                let kept = kept(s);
                s.runtime.spawn(async move {
                    References::gather_tenant_sharing(&client, &full, &hints, kept).await
                })
            };
            let started = (Instant::now(), s.client.stats().writes);
            let counted = count_credentials(s, ids.clone());
            let refs = s.block_on(async {
                gathering.await.map_err(|e| crate::arm::ArmError::Decode {
                    status: 0,
                    message: format!("a Resource Graph read stopped: {e}"),
                })?
            })?;
            (keep(s, started, refs), counted)
        }
        Credentials::Unused => {
            // The references first; then only the identities they leave unused need a list.
            let started = (Instant::now(), s.client.stats().writes);
            let refs = s.block_on(References::gather_tenant_sharing(
                &s.client,
                &full,
                &hints,
                kept(s),
            ))?;
            let refs = keep(s, started, refs);
            let unused: Vec<bool> = ids
                .iter()
                .map(|id| {
                    let uses = refs.uses(&id.id());
                    uses.resources.is_empty() && uses.assignments.is_empty()
                })
                .collect();
            let wanted: Vec<IdentityRef> = ids
                .iter()
                .zip(&unused)
                .filter(|(_, u)| **u)
                .map(|(id, _)| id.clone())
                .collect();
            let mut listed = count_credentials(s, wanted).into_iter();
            let counted = unused
                .iter()
                .map(|u| match u {
                    true => listed.next().unwrap_or(Outcome::NotStarted),
                    false => Outcome::Done(None),
                })
                .collect();
            (refs, counted)
        }
    };
    ids.iter()
        .zip(counted)
        .map(|(id, outcome)| {
            let base = json!({"id": id.id(), "name": id.name, "resourceGroup": id.resource_group});
            let value = match outcome {
                Outcome::Done(credentials) => {
                    let uses = refs.uses(&id.id());
                    let orphan = uses.resources.is_empty()
                        && uses.assignments.is_empty()
                        && credentials == Some(0);
                    let mut v = base;
                    v["resources"] = json!(uses.resources);
                    v["role_assignments"] =
                        Value::Array(uses.assignments.iter().map(assignment_json).collect());
                    v["federated_credentials"] = json!(credentials);
                    v["orphan"] = json!(orphan);
                    v
                }
                Outcome::Failed(e) => {
                    let mut v = base;
                    v["error"] = json!({"code": e.code(), "message": e.message()});
                    v["orphan"] = json!(false);
                    v
                }
                Outcome::NotStarted => {
                    let mut v = base;
                    v["error"] =
                        json!({"code": "NotStarted", "message": "interrupted before it was read"});
                    v["orphan"] = json!(false);
                    v
                }
            };
            convert::to_dynamic(&value)
        })
        .collect::<Res<Vec<Dynamic>>>()
}

/// The tenant's references this process read lately and may reuse, if any.
fn kept(s: &HostState) -> Option<Arc<TenantWide>> {
    s.tenant_wide
        .borrow()
        .fresh(s.client.stats().writes, Instant::now())
}

/// Keeps the tenant's references a gather used (read when `started`: time, writes so far).
fn keep(
    s: &HostState,
    started: (Instant, u64),
    (refs, whole): (References, Option<Arc<TenantWide>>),
) -> References {
    if let Some(whole) = whole {
        s.tenant_wide.borrow_mut().keep(started.1, started.0, whole);
    }
    refs
}

/// The tenant's references: kept from a read a moment ago, or read now and kept.
fn tenant_wide(s: &HostState) -> Res<Arc<TenantWide>> {
    if let Some(whole) = kept(s) {
        return Ok(whole);
    }
    let started = (Instant::now(), s.client.stats().writes);
    let whole = Arc::new(s.block_on(TenantWide::read(&s.client))?);
    s.tenant_wide
        .borrow_mut()
        .keep(started.1, started.0, whole.clone());
    Ok(whole)
}

/// `dangling_references(identities)`: the resources that name an identity not among
/// `identities`, and the service principals' role assignments whose principal is none of theirs.
fn dangling_references(s: &HostState, items: &Array) -> Res<Map> {
    let lowered = |field| super::census::lowered_values("dangling_references", items, field);
    let known: HashSet<String> = lowered("id")?.into_iter().collect();
    let principals: HashSet<String> = lowered("principalId")?.into_iter().collect();
    let whole = tenant_wide(s)?;
    let mut resources = Array::new();
    // Pairs are ordered by resource: one entry per resource that misses any.
    for chunk in whole.attached.chunk_by(|a, b| a.1 == b.1) {
        let missing: Vec<&str> = chunk
            .iter()
            .filter(|(identity, _)| !known.contains(&identity.to_lowercase()))
            .map(|(identity, _)| identity.as_str())
            .collect();
        if let (Some((_, id)), false) = (chunk.first(), missing.is_empty()) {
            resources.push(resource_map(id, "missing", missing)?);
        }
    }
    references_map(
        resources,
        whole.assignments.iter().filter(|a| {
            a.properties.principal_type.as_deref() == Some("ServicePrincipal")
                && !principals.contains(&a.properties.principal_id.to_lowercase())
        }),
    )
}

/// `tenant_references()`: every resource that carries a user-assigned identity and every
/// role assignment of the tenant, from Resource Graph (or the read a moment ago).
fn tenant_references(s: &HostState) -> Res<Map> {
    let whole = tenant_wide(s)?;
    // One map per resource, with the identities it names (pairs are ordered by resource).
    let mut resources = Array::new();
    for chunk in whole.attached.chunk_by(|a, b| a.1 == b.1) {
        if let Some((_, id)) = chunk.first() {
            let names = chunk.iter().map(|(i, _)| i.as_str()).collect();
            resources.push(resource_map(id, "identities", names)?);
        }
    }
    references_map(resources, whole.assignments.iter())
}

/// A resource named by its id, with the identity ids of `key` (`identities` or `missing`).
fn resource_map(id: &str, key: &str, identities: Vec<&str>) -> Res<Dynamic> {
    let mut value = json!({
        "id": id,
        "name": id.rsplit('/').next(),
        "type": super::scoped_lists::id_type(id),
        "resourceGroup": crate::output::resource_group_of(id),
        "subscriptionId": id.split('/').nth(2),
    });
    value[key] = json!(identities);
    convert::to_dynamic(&value)
}

/// `#{resources, role_assignments}` of these resource maps and assignments.
fn references_map<'a>(
    resources: Array,
    assignments: impl Iterator<Item = &'a crate::model::RoleAssignment>,
) -> Res<Map> {
    let assignments = assignments
        .map(|a| convert::to_dynamic(&assignment_json(a)))
        .collect::<Res<Array>>()?;
    let mut out = Map::new();
    out.insert("resources".into(), resources.into());
    out.insert("role_assignments".into(), assignments.into());
    Ok(out)
}

/// Each identity's count of federated credentials (`Some`), listed concurrently.
fn count_credentials(s: &HostState, ids: Vec<IdentityRef>) -> Vec<Outcome<Option<usize>>> {
    let client = s.client.clone();
    let expected = ids.len();
    let mut out: Vec<Outcome<Option<usize>>> = bulk_run(s, ids, move |id| {
        let client = client.clone();
        async move { client.credential_list(&id).await.map(|c| Some(c.len())) }
    })
    .into_iter()
    .map(|item| item.outcome)
    .collect();
    // A run stopped early reports the rest as never started.
    out.resize_with(expected, || Outcome::NotStarted);
    out
}
