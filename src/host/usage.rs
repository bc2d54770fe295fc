//! What uses many identities at once, for audits: their attachments and role assignments
//! read tenant-wide in a few Resource Graph queries (not three calls per identity), and
//! their federated credentials listed concurrently.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult};
use serde_json::{Value, json};

use super::HostState;
use super::api::FnDoc;
use super::bulk::bulk_run;
use super::convert;
use super::identities::ref_of;
use super::references::References;
use crate::arm::IdentityRef;
use crate::arm::bulk::Outcome;
use crate::output::assignment_json;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The functions of this file, for `:help`, completion and the examples test.
pub const DOCS: &[FnDoc] = &[FnDoc {
    name: "identity_uses",
    params: &["identities: Array"],
    returns: "Array",
    doc: "What uses each identity (maps or ids), read tenant-wide: #{id, name, resourceGroup, resources, role_assignments, federated_credentials, orphan}, or #{id, name, error} when it could not be read.",
    example: r#"identity_uses(identity_list("rg")).filter(|u| u.orphan).len()"#,
}];

/// Registers the functions of this file.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let s = state.clone();
    DOCS[0]
        .registration()
        .register_into_engine(engine, move |items: Array| identity_uses(&s, &items));
}

fn identity_uses(s: &HostState, items: &Array) -> Res<Array> {
    let ids: Vec<IdentityRef> = items.iter().map(ref_of).collect::<Res<_>>()?;
    if ids.is_empty() {
        return Ok(Array::new());
    }
    let full: Vec<String> = ids.iter().map(IdentityRef::id).collect();
    let hints = super::deletes::principal_hints(&full, items);
    // The Resource Graph reads run while the credentials are listed.
    let gathering = {
        let client = s.client.clone();
        s.runtime
            .spawn(async move { References::gather_tenant_hinted(&client, &full, &hints).await })
    };
    let client = s.client.clone();
    let counted = bulk_run(s, ids.clone(), move |id| {
        let client = client.clone();
        async move { client.credential_list(&id).await.map(|c| c.len()) }
    });
    let refs = s.block_on(async {
        gathering.await.map_err(|e| crate::arm::ArmError::Decode {
            status: 0,
            message: format!("a Resource Graph read stopped: {e}"),
        })?
    })?;
    ids.iter()
        .zip(counted)
        .map(|(id, item)| {
            let base = json!({"id": id.id(), "name": id.name, "resourceGroup": id.resource_group});
            let value = match item.outcome {
                Outcome::Done(credentials) => {
                    let uses = refs.uses(&id.id());
                    let orphan = uses.resources.is_empty()
                        && uses.assignments.is_empty()
                        && credentials == 0;
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
