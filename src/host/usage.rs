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
                s.runtime.spawn(async move {
                    References::gather_tenant_hinted(&client, &full, &hints).await
                })
            };
            let counted = count_credentials(s, ids.clone());
            let refs = s.block_on(async {
                gathering.await.map_err(|e| crate::arm::ArmError::Decode {
                    status: 0,
                    message: format!("a Resource Graph read stopped: {e}"),
                })?
            })?;
            (refs, counted)
        }
        Credentials::Unused => {
            // The references first; then only the identities they leave unused need a list.
            let refs = s.block_on(References::gather_tenant_hinted(&s.client, &full, &hints))?;
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
