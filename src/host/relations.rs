//! What an identity is related to, for scripts: its federated credentials, the resources it
//! is attached to, role assignments of its principal, and one audit record of all of them.

use crate::plan::step::{Fingerprint, Op};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use serde_json::json;

use super::HostState;
use super::api::FnDoc;
use super::convert::{self, arm_error, usage_error};
use super::plan::Change;
use crate::arm::federated::{self, CredentialSpec, MAX_PER_IDENTITY};
use crate::arm::{IdentityRef, roles};
use crate::output::{self, assignment_json, credential_json};

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The functions of this file, for `:help`, completion and the examples test.
pub const DOCS: &[FnDoc] = &[
    FnDoc {
        name: "federated_credential_create",
        params: &["identity: Dynamic", "name: &str", "opts: Map"],
        returns: "Map",
        doc: "Creates or updates a federated credential #{issuer, subject, audiences} of an identity (a map or an id); writes to one identity are serialised.",
        example: r#"federated_credential_create(identity_show("rg", "app-1"), "gh-main", #{issuer: "https://token.actions.githubusercontent.com", subject: "repo:org/app:ref:refs/heads/main"})"#,
    },
    FnDoc {
        name: "federated_credential_list",
        params: &["identity: Dynamic"],
        returns: "Array",
        doc: "The federated credentials of an identity.",
        example: r#"federated_credential_list(identity_show("rg", "app-1")).len()"#,
    },
    FnDoc {
        name: "federated_credential_show",
        params: &["identity: Dynamic", "name: &str"],
        returns: "Map",
        doc: "One federated credential, or () when it does not exist.",
        example: r#"federated_credential_show(identity_show("rg", "app-1"), "gh-main") == ()"#,
    },
    FnDoc {
        name: "federated_credential_delete",
        params: &["identity: Dynamic", "name: &str"],
        returns: "bool",
        doc: "Deletes a federated credential: true when it was deleted, false when it did not exist.",
        example: r#"federated_credential_delete(identity_show("rg", "app-1"), "gh-main")"#,
    },
    FnDoc {
        name: "identity_resources",
        params: &["identity: Dynamic"],
        returns: "Array",
        doc: "The resources an identity is attached to: #{id, name, type, resourceGroup, subscriptionId, subscriptionDisplayName}.",
        example: r#"identity_resources(identity_show("rg", "app-1")).map(|r| r.id)"#,
    },
    FnDoc {
        name: "role_assignments",
        params: &["identity: Dynamic"],
        returns: "Array",
        doc: "The role assignments of an identity's principal, at any scope of the subscription.",
        example: r#"role_assignments(identity_show("rg", "app-1")).map(|a| a.role)"#,
    },
    FnDoc {
        name: "role_assign",
        params: &["identity: Dynamic", "role: &str", "scope: &str"],
        returns: "Map",
        doc: "Assigns a role (a built-in name such as \"Reader\", a GUID or a role definition id) to an identity at a scope, waiting out the directory's replication delay after a create.",
        example: r#"role_assign(identity_show("rg", "app-1"), "Reader", "/subscriptions/" + subscription() + "/resourceGroups/rg")"#,
    },
    FnDoc {
        name: "resource_list",
        params: &[],
        returns: "Array",
        doc: "Every resource in scope that can carry identities: #{id, name, type, resourceGroup, identities} with the ids of its user-assigned identities (plus subscriptionId at a wider scope).",
        example: r#"resource_list().filter(|r| r.identities.len() > 0).len()"#,
    },
    FnDoc {
        name: "role_assignment_list",
        params: &[],
        returns: "Array",
        doc: "Every role assignment in scope, at any scope below it, flattened (#{id, name, principalId, principalType, role, roleDefinitionId, scope, type}).",
        example: r#"role_assignment_list().len()"#,
    },
    FnDoc {
        name: "identity_audit",
        params: &["identity: Dynamic"],
        returns: "Map",
        doc: "One record of what an identity is used by: #{identity, resources, role_assignments, federated_credentials: #{count, limit, items}, tags, orphan}.",
        example: r#"identity_audit(identity_show("rg", "app-1")).orphan"#,
    },
];

/// Registers the functions of this file.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let [
        create,
        list,
        show,
        delete,
        resources,
        assignments,
        assign,
        all_resources,
        all_assignments,
        audit,
    ] = std::array::from_fn(|i| DOCS[i].registration());
    let s = state.clone();
    create.register_into_engine(engine, move |identity: Dynamic, name: &str, opts: Map| {
        credential_create(&s, &identity, name, &opts)
    });
    let s = state.clone();
    list.register_into_engine(engine, move |identity: Dynamic| -> Res<Array> {
        let id = super::identities::ref_of(&identity)?;
        let all = s.block_on(s.client.credential_list(&id))?;
        all.iter()
            .map(|c| convert::to_dynamic(&credential_json(c)))
            .collect()
    });
    let s = state.clone();
    show.register_into_engine(
        engine,
        move |identity: Dynamic, name: &str| -> Res<Dynamic> {
            let id = super::identities::ref_of(&identity)?;
            match s.runtime.block_on(s.client.credential_show(&id, name)) {
                Ok(c) => convert::to_dynamic(&credential_json(&c)),
                Err(e) if e.is_not_found() => Ok(Dynamic::UNIT),
                Err(e) => Err(arm_error(e)),
            }
        },
    );
    let s = state.clone();
    delete.register_into_engine(engine, move |identity: Dynamic, name: &str| -> Res<bool> {
        let id = super::identities::ref_of(&identity)?;
        federated::credential_name(name).map_err(arm_error)?;
        if s.dry_run.get() {
            let found = match s.runtime.block_on(s.client.credential_show(&id, name)) {
                Ok(c) => Some(c),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(arm_error(e)),
            };
            if let Some(c) = &found {
                s.plan.borrow_mut().record_step(
                    Change::Delete,
                    credential_id(&id, name),
                    Some((Op::CredentialDelete, credential_fingerprint(c))),
                    Vec::new(),
                );
            }
            return Ok(found.is_some());
        }
        s.block_on(s.client.credential_delete(&id, name))
    });
    let s = state.clone();
    resources.register_into_engine(engine, move |identity: Dynamic| -> Res<Array> {
        let id = super::identities::ref_of(&identity)?;
        let found = s.block_on(s.client.identity_resources(&id))?;
        found
            .iter()
            .map(|r| convert::to_dynamic(&json!(r)))
            .collect()
    });
    let s = state.clone();
    assignments.register_into_engine(engine, move |identity: Dynamic| -> Res<Array> {
        let (id, principal) = principal_of(&s, &identity)?;
        let found = s.block_on(s.client.role_assignments_of(&id.subscription, &principal))?;
        found
            .iter()
            .map(|a| convert::to_dynamic(&assignment_json(a)))
            .collect()
    });
    let s = state.clone();
    assign.register_into_engine(engine, move |identity: Dynamic, role: &str, scope: &str| {
        role_assign(&s, &identity, role, scope)
    });
    let s = state.clone();
    all_resources.register_into_engine(engine, move || -> Res<Array> {
        if let Some(wide) = super::scoped_lists::resources_wide(&s)? {
            return Ok(wide);
        }
        let sub = s.subscription()?;
        let found = s.block_on(s.client.resources_list(&sub))?;
        found
            .iter()
            .map(|r| {
                let identities: Vec<String> = r
                    .identity
                    .as_ref()
                    .and_then(|i| i.user_assigned.as_ref())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                convert::to_dynamic(&json!({
                    "id": r.id, "name": r.name, "type": r.kind,
                    "resourceGroup": output::resource_group_of(&r.id), "identities": identities,
                }))
            })
            .collect()
    });
    let s = state.clone();
    all_assignments.register_into_engine(engine, move || -> Res<Array> {
        if let Some(wide) = super::scoped_lists::assignments_wide(&s)? {
            return Ok(wide);
        }
        let sub = s.subscription()?;
        let found = s.block_on(s.client.role_assignments_all(&sub))?;
        found
            .iter()
            .map(|a| convert::to_dynamic(&assignment_json(a)))
            .collect()
    });
    let s = state.clone();
    audit.register_into_engine(engine, move |identity: Dynamic| {
        identity_audit(&s, &identity)
    });
}

/// What a plan relies on about a federated credential.
fn credential_fingerprint(c: &crate::model::FederatedCredential) -> Fingerprint {
    Fingerprint::Credential {
        issuer: c.properties.issuer.clone(),
        subject: c.properties.subject.clone(),
        audiences: c.properties.audiences.clone(),
    }
}

fn credential_id(id: &IdentityRef, name: &str) -> String {
    format!("{}/federatedIdentityCredentials/{name}", id.id())
}

fn credential_create(s: &HostState, identity: &Dynamic, name: &str, opts: &Map) -> Res<Dynamic> {
    let id = super::identities::ref_of(identity)?;
    federated::credential_name(name).map_err(arm_error)?;
    let mut spec = CredentialSpec {
        issuer: String::new(),
        subject: String::new(),
        audiences: Vec::new(),
    };
    for (key, value) in opts {
        match key.as_str() {
            "issuer" => spec.issuer = value.to_string(),
            "subject" => spec.subject = value.to_string(),
            "audiences" => {
                let Some(list) = value.read_lock::<Array>() else {
                    return Err(usage_error("audiences is an array of strings"));
                };
                spec.audiences = list.iter().map(|a| a.to_string()).collect();
            }
            other => {
                return Err(usage_error(format!(
                    "unknown option '{other}': a credential takes #{{issuer, subject, audiences}}"
                )));
            }
        }
    }
    let spec = spec.validated().map_err(arm_error)?;
    if s.dry_run.get() {
        let existing = match s.runtime.block_on(s.client.credential_show(&id, name)) {
            Ok(c) => Some(c),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(arm_error(e)),
        };
        let full = credential_id(&id, name);
        s.plan.borrow_mut().record_step(
            if existing.is_some() {
                Change::Update
            } else {
                Change::Create
            },
            full.clone(),
            Some((
                Op::CredentialPut {
                    issuer: spec.issuer.clone(),
                    subject: spec.subject.clone(),
                    audiences: spec.audiences.clone(),
                },
                existing
                    .as_ref()
                    .map_or(Fingerprint::Absent, credential_fingerprint),
            )),
            Vec::new(),
        );
        return convert::to_dynamic(&json!({
            "audiences": spec.audiences, "id": full, "issuer": spec.issuer, "name": name,
            "resourceGroup": id.resource_group, "subject": spec.subject,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        }));
    }
    let (credential, _) = s.block_on(s.client.credential_put(&id, name, spec))?;
    convert::to_dynamic(&credential_json(&credential))
}

/// The identity a value names, and its principal id (from the map, or read from ARM).
fn principal_of(s: &HostState, identity: &Dynamic) -> Res<(IdentityRef, String)> {
    let id = super::identities::ref_of(identity)?;
    let from_map = identity
        .read_lock::<Map>()
        .and_then(|m| {
            m.get("principalId")
                .and_then(|p| p.clone().into_immutable_string().ok())
        })
        .filter(|p| uuid::Uuid::try_parse(p).is_ok());
    let principal = match from_map {
        Some(p) => p.to_string(),
        None => {
            s.block_on(s.client.identity_show(&id))?
                .properties
                .principal_id
        }
    };
    Ok((id, principal))
}

fn role_assign(s: &HostState, identity: &Dynamic, role: &str, scope: &str) -> Res<Dynamic> {
    let id = super::identities::ref_of(identity)?;
    let role_id = roles::role_definition_id(&id.subscription, role).map_err(arm_error)?;
    let scope = roles::scope(&id.subscription, scope).map_err(arm_error)?;
    if s.dry_run.get() {
        s.plan.borrow_mut().record_step(
            Change::Create,
            format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments/(new: {role} for {})",
                id.name
            ),
            Some((
                Op::RoleAssign {
                    identity: id.id(),
                    role_definition_id: role_id.clone(),
                    scope: scope.clone(),
                },
                Fingerprint::Absent,
            )),
            Vec::new(),
        );
        return convert::to_dynamic(&json!({
            "id": super::api::KNOWN_AFTER_APPLY, "name": super::api::KNOWN_AFTER_APPLY,
            "principalId": super::api::KNOWN_AFTER_APPLY, "principalType": "ServicePrincipal",
            "roleDefinitionId": role_id, "scope": scope, "type": "Microsoft.Authorization/roleAssignments",
        }));
    }
    let (_, principal) = principal_of(s, identity)?;
    let assignment = s.block_on(s.client.role_assign(&scope, &role_id, &principal))?;
    convert::to_dynamic(&assignment_json(&assignment))
}

fn identity_audit(s: &HostState, identity: &Dynamic) -> Res<Dynamic> {
    let id = super::identities::ref_of(identity)?;
    let found = s.block_on(s.client.identity_show(&id))?;
    let client = s.client.clone();
    let (resources, assignments, credentials) = s.block_on(async {
        tokio::try_join!(
            client.identity_resources(&id),
            client.role_assignments_of(&id.subscription, &found.properties.principal_id),
            client.credential_list(&id),
        )
    })?;
    let orphan = resources.is_empty() && assignments.is_empty() && credentials.is_empty();
    convert::to_dynamic(&json!({
        "identity": output::identity_json(&found),
        "resources": resources,
        "role_assignments": assignments.iter().map(assignment_json).collect::<Vec<_>>(),
        "federated_credentials": {
            "count": credentials.len(),
            "limit": MAX_PER_IDENTITY,
            "items": credentials.iter().map(credential_json).collect::<Vec<_>>(),
        },
        "tags": found.tags,
        "orphan": orphan,
    }))
}
