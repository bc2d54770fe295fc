//! Helpers for reports over many identities: `federated_credential_counts(identities)` lists
//! every identity's federated credentials concurrently (at the host's concurrency, paced and
//! retried as any bulk call), and `key_set(items, field)` builds a lookup map in one step —
//! filling a map key by key in a script costs time that grows with the map, because the
//! engine re-measures a map after every insert to hold it to `--max-map-size`.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::HostState;
use super::api::FnDoc;
use super::bulk::bulk_run;
use super::convert::{arm_error, usage_error};
use crate::arm::bulk::Outcome;

/// `federated_credential_counts(identities)`.
pub const CREDENTIAL_COUNTS: FnDoc = FnDoc {
    name: "federated_credential_counts",
    params: &["identities: Array"],
    returns: "Map",
    doc: "How many federated credentials each identity (a map or an id) has, read concurrently: a map from the lower-cased id to the count. Fails naming the first identity that could not be read.",
    example: r#"federated_credential_counts(identity_list("rg"))"#,
};

/// `key_set(items, field)`.
pub const KEY_SET: FnDoc = FnDoc {
    name: "key_set",
    params: &["items: Array", "field: &str"],
    returns: "Map",
    doc: "A map whose keys are the lower-cased values of a field in each map of the array (items without it are skipped), each true: for `in` tests that ignore case, as ARM compares ids.",
    example: r#"let known = key_set(identity_list("rg"), "id"); identity_list("rg")[0].id.to_lower() in known"#,
};

/// Registers `federated_credential_counts` and `key_set`.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let s = state.clone();
    CREDENTIAL_COUNTS
        .registration()
        .register_into_engine(engine, move |identities: Array| counts(&s, &identities));
    // The engine holds the returned map to --max-map-size, as any value.
    KEY_SET
        .registration()
        .register_into_engine(engine, |items: Array, field: &str| key_set(&items, field));
}

fn key_set(items: &Array, field: &str) -> Result<Map, Box<EvalAltResult>> {
    Ok(lowered_values("key_set", items, field)?
        .into_iter()
        .map(|v| (v.into(), Dynamic::TRUE))
        .collect())
}

/// The lower-cased values of `field` in each map of `items` (items without it skipped);
/// `who` names the calling function when an item is no map.
pub(super) fn lowered_values(
    who: &str,
    items: &Array,
    field: &str,
) -> Result<Vec<String>, Box<EvalAltResult>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(map) = item.read_lock::<Map>() else {
            return Err(usage_error(format!(
                "{who}: the items are maps, not {}",
                item.type_name()
            )));
        };
        match map.get(field) {
            Some(value) if !value.is_unit() => out.push(value.to_string().to_lowercase()),
            _ => {}
        }
    }
    Ok(out)
}

fn counts(s: &HostState, identities: &Array) -> Result<Map, Box<EvalAltResult>> {
    let refs = identities
        .iter()
        .map(super::identities::ref_of)
        .collect::<Result<Vec<_>, _>>()?;
    let client = s.client.clone();
    let items = bulk_run(s, refs.clone(), move |id| {
        let client = client.clone();
        async move { client.credential_list(&id).await.map(|c| c.len()) }
    });
    if items.len() != refs.len() {
        return Err(usage_error(
            "federated_credential_counts: the run was stopped before every identity was read",
        ));
    }
    let mut out = Map::new();
    for (id, item) in refs.iter().zip(items) {
        match item.outcome {
            Outcome::Done(n) => {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                out.insert(id.id().to_lowercase().into(), Dynamic::from_int(n));
            }
            Outcome::Failed(e) => return Err(arm_error(e)),
            Outcome::NotStarted => {
                return Err(usage_error(format!(
                    "federated_credential_counts: stopped before {} was read",
                    id.id()
                )));
            }
        }
    }
    Ok(out)
}
