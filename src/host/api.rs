//! Every function a script can call, registered in one place, each with its parameter
//! names and a doc comment holding an example. `DOCS` is the one table that `:help`, the
//! REPL's completion and the examples test read.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::rc::Rc;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};
use serde_json::{Value, json};

use super::convert::{self, arm_error, error_map, usage_error};
use super::plan::Change;
use super::references::{self, DeleteOptions, References, Step, Uses};
use super::{HostState, access};
use crate::arm::bulk::{self, Item, Outcome, Summary};
use crate::arm::{
    ArmClient, ArmError, GroupCreate, GroupDeleted, IdentityCreate, IdentityRef, names,
};
use crate::output;

/// The documentation of one registered function (or overload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FnDoc {
    /// Function name.
    pub name: &'static str,
    /// Parameters, as `name: Type`.
    pub params: &'static [&'static str],
    /// Return type.
    pub returns: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// A line of Rhai that runs against a group `rg` (eastus) holding the identity `app-1`.
    pub example: &'static str,
}

impl FnDoc {
    /// `name(a: T, b: U) -> R`.
    pub fn signature(&self) -> String {
        format!(
            "{}({}) -> {}",
            self.name,
            self.params.join(", "),
            self.returns
        )
    }

    /// The registration of the function, with its parameter names and doc comment.
    pub(crate) fn registration(&self) -> FuncRegistration {
        let mut info: Vec<&str> = self.params.to_vec();
        info.push(self.returns);
        FuncRegistration::new(self.name)
            .with_params_info(info)
            .with_comments([format!(
                "/// {}\n///\n/// Example: `{}`",
                self.doc, self.example
            )])
    }
}

macro_rules! doc {
    ($id:ident, $name:literal, [$($p:literal),*], $ret:literal, $doc:literal, $ex:literal) => {
        const $id: FnDoc = FnDoc { name: $name, params: &[$($p),*], returns: $ret, doc: $doc, example: $ex };
    };
}

doc!(
    CREATE,
    "identity_create",
    ["rg: &str", "name: &str"],
    "Map",
    "Creates an identity in the group's location (or updates the one of that name) and returns it.",
    r#"identity_create("rg", "app-2")"#
);
doc!(
    CREATE_OPTS,
    "identity_create",
    ["rg: &str", "name: &str", "opts: Map"],
    "Map",
    "Creates an identity with options #{location, tags, isolationScope} and returns it.",
    r#"identity_create("rg", "app-3", #{location: "westus", tags: #{env: "dev"}})"#
);
doc!(
    CREATE_MANY,
    "identity_create",
    ["rg: &str", "names: Array", "opts: Map"],
    "Array",
    "Creates many identities concurrently; one result #{id, name, ok, status, error} per name, in order.",
    r#"identity_create("rg", ["ci-1", "ci-2"], #{tags: #{owner: "ci"}}).filter(|r| !r.ok)"#
);
doc!(
    LIST,
    "identity_list",
    [],
    "Array",
    "Every identity of the subscription (all pages).",
    r#"identity_list().len()"#
);
doc!(
    LIST_RG,
    "identity_list",
    ["rg: &str"],
    "Array",
    "Every identity of a resource group (all pages).",
    r#"identity_list("rg").filter(|i| i.tags.owner == ())"#
);
doc!(
    SHOW,
    "identity_show",
    ["rg: &str", "name: &str"],
    "Map",
    "One identity, or () when it does not exist.",
    r#"identity_show("rg", "app-1").principalId"#
);
doc!(
    UPDATE,
    "identity_update",
    ["rg: &str", "name: &str", "opts: Map"],
    "Map",
    "Replaces an identity's tags with #{tags: #{...}} and returns it.",
    r#"identity_update("rg", "app-1", #{tags: #{owner: "ops"}})"#
);
doc!(
    DELETE,
    "identity_delete",
    ["rg: &str", "name: &str"],
    "bool",
    "Deletes an identity: true when it was deleted, false when it did not exist.",
    r#"identity_delete("rg", "app-1")"#
);
doc!(
    DELETE_MAP,
    "identity_delete",
    ["identity: Map"],
    "bool",
    "Deletes the identity a map (from identity_list or identity_show) describes.",
    r#"identity_delete(identity_show("rg", "app-1"))"#
);
doc!(
    DELETE_ID,
    "identity_delete",
    ["id: &str"],
    "bool",
    "Deletes the identity with this resource id.",
    r#"identity_delete(identity_show("rg", "app-1").id)"#
);
doc!(
    DELETE_MANY,
    "identity_delete",
    ["items: Array"],
    "Array",
    "Deletes many identities (maps or ids) concurrently; one result #{id, name, ok, status, error} each, in order.",
    r#"identity_delete(identity_list("rg")).filter(|r| r.ok).len()"#
);
doc!(
    DELETE_SAFE,
    "identity_delete",
    ["identity: Dynamic", "opts: Map"],
    "bool",
    "Deletes an identity (a map or an id) with #{detach, remove_role_assignments, force}: detaches it from resources and removes its role assignments first; without them a delete of an identity still in use fails, naming what uses it.",
    r#"identity_delete(identity_show("rg", "app-1"), #{detach: true, remove_role_assignments: true})"#
);
doc!(
    DELETE_MANY_SAFE,
    "identity_delete",
    ["items: Array", "opts: Map"],
    "Array",
    "Deletes many identities with #{detach, remove_role_assignments, force}, checking their references once for the batch; one result each, in order.",
    r#"identity_delete(identity_list("rg"), #{force: true}).len()"#
);
doc!(
    GROUP_CREATE,
    "group_create",
    ["name: &str", "location: &str"],
    "Map",
    "Creates (or updates) a resource group and returns it.",
    r#"group_create("rg-new", "eastus")"#
);
doc!(
    GROUP_LIST,
    "group_list",
    [],
    "Array",
    "Every resource group of the subscription.",
    r#"group_list().map(|g| g.name)"#
);
doc!(
    GROUP_SHOW,
    "group_show",
    ["name: &str"],
    "Map",
    "One resource group, or () when it does not exist.",
    r#"group_show("rg").location"#
);
doc!(
    GROUP_DELETE,
    "group_delete",
    ["name: &str"],
    "bool",
    "Deletes a resource group and everything in it, waiting until it is gone; false when it did not exist.",
    r#"group_delete("rg")"#
);
doc!(
    SUBSCRIPTION,
    "subscription",
    [],
    "String",
    "The subscription calls act in.",
    r#"subscription()"#
);
doc!(
    USE_SUBSCRIPTION,
    "use_subscription",
    ["id: &str"],
    "String",
    "Makes later calls act in another subscription; returns it.",
    r#"use_subscription(subscription())"#
);
doc!(
    PERMISSIONS,
    "permissions",
    ["scope: &str"],
    "Array",
    "What the caller may do at a scope (subscription, group or resource id): one #{actions, notActions, dataActions, notDataActions} per role that applies.",
    r#"permissions("/subscriptions/" + subscription() + "/resourceGroups/rg").map(|p| p.actions)"#
);
doc!(
    CAN,
    "can",
    ["action: &str", "scope: &str"],
    "bool",
    "Whether the caller's roles at a scope allow an ARM action (wildcards matched as ARM does).",
    r#"can("Microsoft.ManagedIdentity/userAssignedIdentities/delete", "/subscriptions/" + subscription() + "/resourceGroups/rg")"#
);
doc!(
    TABLE,
    "table",
    ["rows: Array"],
    "String",
    "Renders an array of maps as an aligned table of their scalar fields.",
    r#"print(table(identity_list("rg")))"#
);
doc!(
    TABLE_COLS,
    "table",
    ["rows: Array", "columns: Array"],
    "String",
    "Renders an array of maps as a table of the named columns, in that order.",
    r#"print(table(identity_list("rg"), ["name", "location"]))"#
);
doc!(
    TO_JSON,
    "to_json",
    ["value: Dynamic"],
    "String",
    "A value as indented JSON.",
    r#"to_json(#{a: 1, b: [true]})"#
);
doc!(
    PARSE_JSON,
    "parse_json",
    ["text: &str"],
    "Dynamic",
    "Parses JSON text into maps, arrays and scalars.",
    r#"parse_json("{\"a\": 1}").a"#
);
doc!(
    CONFIRM,
    "confirm",
    ["question: &str"],
    "bool",
    "Asks yes/no on the terminal; true with --yes; false when no one is at a terminal.",
    r#"if confirm("Delete everything?") { print("going ahead") }"#
);
doc!(
    BULK_SUMMARY,
    "bulk_summary",
    [],
    "Map",
    "The summary of the last array call: #{done, failed, skipped, throttled, retries, elapsed_ms}, or () before any.",
    r#"identity_create("rg", ["b-1", "b-2"], #{}); bulk_summary().done"#
);
doc!(
    SET_CONCURRENCY,
    "set_concurrency",
    ["n: i64"],
    "i64",
    "Sets how many requests the array calls keep in flight (1 to 256); returns it.",
    r#"set_concurrency(4)"#
);
doc!(
    EXIT,
    "exit",
    ["code: i64"],
    "()",
    "Stops the script; azid exits with this code.",
    r#"if identity_list("rg").len() > 100 { exit(3) }"#
);

/// Every registered function, for `:help`, completion and the examples test.
pub const DOCS: &[FnDoc] = &[
    CREATE,
    CREATE_OPTS,
    CREATE_MANY,
    LIST,
    LIST_RG,
    SHOW,
    UPDATE,
    DELETE,
    DELETE_MAP,
    DELETE_ID,
    DELETE_MANY,
    DELETE_SAFE,
    DELETE_MANY_SAFE,
    GROUP_CREATE,
    GROUP_LIST,
    GROUP_SHOW,
    GROUP_DELETE,
    SUBSCRIPTION,
    USE_SUBSCRIPTION,
    PERMISSIONS,
    CAN,
    TABLE,
    TABLE_COLS,
    TO_JSON,
    PARSE_JSON,
    CONFIRM,
    BULK_SUMMARY,
    SET_CONCURRENCY,
    EXIT,
    super::time::NOW,
    super::time::PARSE_DATE,
    super::time::DAYS_BETWEEN,
    super::text::MATCHES,
    super::text::MATCHES_GLOB,
    super::files::READ_TEXT,
    super::files::READ_CSV,
    super::files::READ_JSON,
    super::files::WRITE_TEXT,
    super::workflows::IS_LOCAL,
    super::workflows::IS_DRY_RUN,
    super::workflows::EPRINT,
];

/// What `generated` fields hold in a dry-run.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

type Res<T> = Result<T, Box<EvalAltResult>>;

/// Registers the whole API on `engine`.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let s = state.clone();
    CREATE
        .registration()
        .register_into_engine(engine, move |rg: &str, name: &str| {
            create_one(&s, rg, name, &Map::new())
        });
    let s = state.clone();
    CREATE_OPTS
        .registration()
        .register_into_engine(engine, move |rg: &str, name: &str, opts: Map| {
            create_one(&s, rg, name, &opts)
        });
    let s = state.clone();
    CREATE_MANY
        .registration()
        .register_into_engine(engine, move |rg: &str, names: Array, opts: Map| {
            create_many(&s, rg, &names, &opts)
        });
    let s = state.clone();
    CREATE_MANY
        .registration()
        .with_params_info(["rg: &str", "names: Array", "Array"])
        .register_into_engine(engine, move |rg: &str, names: Array| {
            create_many(&s, rg, &names, &Map::new())
        });
    let s = state.clone();
    LIST.registration().register_into_engine(engine, move || {
        let sub = s.subscription()?;
        identities(&s, s.block_on(s.client.identity_list(&sub))?)
    });
    let s = state.clone();
    LIST_RG
        .registration()
        .register_into_engine(engine, move |rg: &str| {
            let sub = s.subscription()?;
            identities(&s, s.block_on(s.client.identity_list_group(&sub, rg))?)
        });
    let s = state.clone();
    SHOW.registration()
        .register_into_engine(engine, move |rg: &str, name: &str| -> Res<Dynamic> {
            let id = identity_ref(&s, rg, name)?;
            match s.runtime.block_on(probe(&s.client, &id)) {
                Ok(Some(identity)) => identity_value(&s, &identity),
                Ok(None) => Ok(Dynamic::UNIT),
                Err(e) => Err(arm_error(e)),
            }
        });
    let s = state.clone();
    UPDATE
        .registration()
        .register_into_engine(engine, move |rg: &str, name: &str, opts: Map| {
            update(&s, rg, name, &opts)
        });
    let s = state.clone();
    DELETE
        .registration()
        .register_into_engine(engine, move |rg: &str, name: &str| {
            let id = identity_ref(&s, rg, name)?;
            delete_one(&s, &id, None, DeleteOptions::default())
        });
    let s = state.clone();
    DELETE_MAP
        .registration()
        .register_into_engine(engine, move |identity: Map| {
            let identity = Dynamic::from_map(identity);
            delete_one(
                &s,
                &ref_of(&identity)?,
                principal_hint(&identity),
                DeleteOptions::default(),
            )
        });
    let s = state.clone();
    DELETE_ID
        .registration()
        .register_into_engine(engine, move |id: &str| {
            let id = IdentityRef::parse(id).map_err(arm_error)?;
            delete_one(&s, &id, None, DeleteOptions::default())
        });
    let s = state.clone();
    DELETE_MANY
        .registration()
        .register_into_engine(engine, move |items: Array| {
            delete_many(&s, &items, DeleteOptions::default())
        });
    let s = state.clone();
    DELETE_SAFE
        .registration()
        .register_into_engine(engine, move |identity: Dynamic, opts: Map| {
            let options = delete_options(&opts)?;
            delete_one(&s, &ref_of(&identity)?, principal_hint(&identity), options)
        });
    let s = state.clone();
    DELETE_MANY_SAFE
        .registration()
        .register_into_engine(engine, move |items: Array, opts: Map| {
            delete_many(&s, &items, delete_options(&opts)?)
        });
    let s = state.clone();
    GROUP_CREATE
        .registration()
        .register_into_engine(engine, move |name: &str, location: &str| {
            group_create(&s, name, location)
        });
    let s = state.clone();
    GROUP_LIST
        .registration()
        .register_into_engine(engine, move || -> Res<Array> {
            let sub = s.subscription()?;
            let groups = s.block_on(s.client.group_list(&sub))?;
            groups
                .iter()
                .map(|g| {
                    s.saw(&g.name);
                    convert::to_dynamic(&output::group_json(g))
                })
                .collect()
        });
    let s = state.clone();
    GROUP_SHOW
        .registration()
        .register_into_engine(engine, move |name: &str| -> Res<Dynamic> {
            let sub = s.subscription()?;
            match s.runtime.block_on(s.client.group_show(&sub, name)) {
                Ok(g) => {
                    s.saw(&g.name);
                    convert::to_dynamic(&output::group_json(&g))
                }
                Err(e) if e.is_not_found() => Ok(Dynamic::UNIT),
                Err(e) => Err(arm_error(e)),
            }
        });
    let s = state.clone();
    GROUP_DELETE
        .registration()
        .register_into_engine(engine, move |name: &str| group_delete(&s, name));
    let s = state.clone();
    SUBSCRIPTION
        .registration()
        .register_into_engine(engine, move || s.subscription());
    let s = state.clone();
    USE_SUBSCRIPTION
        .registration()
        .register_into_engine(engine, move |id: &str| -> Res<String> {
            names::subscription_id(id).map_err(arm_error)?;
            *s.subscription.borrow_mut() = id.to_string();
            Ok(id.to_string())
        });
    let s = state.clone();
    PERMISSIONS
        .registration()
        .register_into_engine(engine, move |scope: &str| access::list(&s, scope));
    let s = state.clone();
    CAN.registration()
        .register_into_engine(engine, move |action: &str, scope: &str| {
            access::can(&s, action, scope)
        });
    TABLE
        .registration()
        .register_into_engine(engine, |rows: Array| table(&rows, None));
    TABLE_COLS
        .registration()
        .register_into_engine(engine, |rows: Array, columns: Array| {
            table(&rows, Some(&columns))
        });
    TO_JSON
        .registration()
        .register_into_engine(engine, |value: Dynamic| -> Res<String> {
            let json = convert::to_json(&value)?;
            serde_json::to_string_pretty(&json).map_err(|e| usage_error(e.to_string()))
        });
    PARSE_JSON
        .registration()
        .register_into_engine(engine, |text: &str| -> Res<Dynamic> {
            let value: Value = serde_json::from_str(text).map_err(|e| {
                arm_error(ArmError::invalid(
                    "JSON",
                    text.chars().take(40).collect::<String>(),
                    e.to_string(),
                ))
            })?;
            convert::to_dynamic(&value)
        });
    let s = state.clone();
    BULK_SUMMARY
        .registration()
        .register_into_engine(engine, move || -> Dynamic {
            s.last_summary
                .borrow()
                .as_ref()
                .map_or(Dynamic::UNIT, |sum| summary_map(sum).into())
        });
    let s = state.clone();
    SET_CONCURRENCY
        .registration()
        .register_into_engine(engine, move |n: i64| -> Res<i64> {
            if !(1..=256).contains(&n) {
                return Err(usage_error(format!("the concurrency is 1 to 256, not {n}")));
            }
            s.concurrency.set(n as usize);
            Ok(n)
        });
    let s = state.clone();
    CONFIRM
        .registration()
        .register_into_engine(engine, move |question: &str| confirm(&s, question));
    EXIT.registration()
        .register_into_engine(engine, |code: i64| -> Res<()> {
            Err(
                EvalAltResult::ErrorTerminated(Dynamic::from_int(code), rhai::Position::NONE)
                    .into(),
            )
        });
    super::workflows::register(engine, state);
}

fn identity_ref(s: &HostState, rg: &str, name: &str) -> Res<IdentityRef> {
    IdentityRef::new(&s.subscription()?, rg, name).map_err(arm_error)
}

/// An identity as the map scripts see: the fields of `az identity show`.
fn identity_value(s: &HostState, identity: &crate::model::Identity) -> Res<Dynamic> {
    s.saw(&identity.name);
    if let Some(rg) = output::resource_group_of(&identity.id) {
        s.saw(&rg);
    }
    convert::to_dynamic(&output::identity_json(identity))
}

fn identities(s: &HostState, list: Vec<crate::model::Identity>) -> Res<Array> {
    list.iter().map(|i| identity_value(s, i)).collect()
}

/// GET that answers `None` for a 404 (of the identity or its group).
async fn probe(
    client: &ArmClient,
    id: &IdentityRef,
) -> Result<Option<crate::model::Identity>, ArmError> {
    match client.identity_show(id).await {
        Ok(identity) => Ok(Some(identity)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn creation(opts: &Map) -> Res<IdentityCreate> {
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

fn create_one(s: &HostState, rg: &str, name: &str, opts: &Map) -> Res<Dynamic> {
    let id = identity_ref(s, rg, name)?;
    let create = creation(opts)?;
    if s.dry_run.get() {
        let (value, created) =
            s.block_on(would_create(s.client.clone(), id.clone(), Arc::new(create)))?;
        s.plan.borrow_mut().record(
            if created {
                Change::Create
            } else {
                Change::Update
            },
            id.id(),
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

/// What a create would return, without sending it: the existing identity with the new
/// tags, or the fields known before apply. Also says whether it would be new.
async fn would_create(
    client: ArmClient,
    id: IdentityRef,
    create: Arc<IdentityCreate>,
) -> Result<(Value, bool), ArmError> {
    if let Some(mut existing) = probe(&client, &id).await? {
        existing.tags = create.tags.clone();
        if let Some(scope) = &create.isolation_scope {
            existing.properties.isolation_scope = Some(scope.clone());
        }
        return Ok((output::identity_json(&existing), false));
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
    Ok((value, true))
}

fn create_many(s: &HostState, rg: &str, names: &Array, opts: &Map) -> Res<Array> {
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
        let items = bulk_run(s, ids.clone(), move |id| {
            would_create(client.clone(), id, create.clone())
        });
        let mut plan = s.plan.borrow_mut();
        return Ok(ids
            .iter()
            .zip(items)
            .map(|(id, item)| {
                if let Outcome::Done((_, created)) = &item.outcome {
                    plan.record(
                        if *created {
                            Change::Create
                        } else {
                            Change::Update
                        },
                        id.id(),
                    );
                }
                result_map(id, item.map(|(_, created)| if created { 201 } else { 200 }))
            })
            .collect());
    }
    let items = bulk_run(s, ids.clone(), move |id| {
        let (client, create) = (client.clone(), create.clone());
        async move { client.identity_put(&id, &create).await }
    });
    Ok(ids
        .iter()
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
        .collect())
}

/// Runs a bulk call on the runtime with the host's concurrency, stop flag and progress bar,
/// and keeps its summary for `bulk_summary()`.
fn bulk_run<I, T, F, Fut>(s: &HostState, ids: Vec<I>, work: F) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, ArmError>> + Send + 'static,
{
    let before = s.client.stats();
    let started = std::time::Instant::now();
    let progress = if s.progress {
        output::progress_bar()
    } else {
        None
    };
    let items = s.runtime.block_on(bulk::run(
        ids,
        s.concurrency.get(),
        s.interrupted.clone(),
        progress,
        work,
    ));
    *s.last_summary.borrow_mut() = Some(Summary::of(
        &items,
        s.client.stats() - before,
        started.elapsed(),
    ));
    items
}

fn update(s: &HostState, rg: &str, name: &str, opts: &Map) -> Res<Dynamic> {
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
        existing.tags = tags;
        s.plan.borrow_mut().record(Change::Update, id.id());
        return identity_value(s, &existing);
    }
    let identity = s.block_on(s.client.identity_update_tags(&id, &tags))?;
    s.count(|d| d.updated += 1);
    identity_value(s, &identity)
}

/// Reads `#{detach, remove_role_assignments, force}`.
fn delete_options(opts: &Map) -> Res<DeleteOptions> {
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
fn principal_hint(identity: &Dynamic) -> Option<String> {
    identity
        .read_lock::<Map>()?
        .get("principalId")
        .and_then(|p| p.clone().into_immutable_string().ok())
        .filter(|p| uuid::Uuid::try_parse(p).is_ok())
        .map(|p| p.to_string())
}

/// The steps of one delete, from the identity's own references; `None` when it is gone.
async fn delete_steps(
    client: ArmClient,
    id: IdentityRef,
    principal: Option<String>,
    references: Option<Arc<References>>,
    options: DeleteOptions,
) -> Result<Option<Vec<Step>>, ArmError> {
    let principal = match principal {
        Some(p) => p,
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

/// Records the steps of a dry-run delete in the plan.
fn plan_steps(s: &HostState, id: &IdentityRef, steps: &[Step]) {
    let mut plan = s.plan.borrow_mut();
    for step in steps {
        match step {
            Step::Detach { resource } => plan.record(Change::Update, resource.clone()),
            Step::Unassign { assignment } => plan.record(Change::Delete, assignment.clone()),
            Step::Delete => plan.record(Change::Delete, id.id()),
        }
    }
}

fn delete_one(
    s: &HostState,
    id: &IdentityRef,
    principal: Option<String>,
    options: DeleteOptions,
) -> Res<bool> {
    let steps = s.block_on(delete_steps(
        s.client.clone(),
        id.clone(),
        principal,
        None,
        options,
    ))?;
    let Some(steps) = steps else { return Ok(false) };
    if s.dry_run.get() {
        plan_steps(s, id, &steps);
        return Ok(true);
    }
    let deleted = s.block_on(references::apply(&s.client, id, &steps))?;
    if deleted {
        s.count(|d| d.deleted += 1);
    }
    Ok(deleted)
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

fn delete_many(s: &HostState, items: &Array, options: DeleteOptions) -> Res<Array> {
    let ids: Vec<IdentityRef> = items.iter().map(ref_of).collect::<Res<_>>()?;
    let hints: Vec<Option<String>> = items.iter().map(principal_hint).collect();
    // References are read once for the batch (per subscription), not once per identity; a
    // subscription that cannot be read fails its own items only.
    let mut references: HashMap<String, Result<Arc<References>, ArmError>> = HashMap::new();
    for id in &ids {
        let key = id.subscription.to_lowercase();
        if let std::collections::hash_map::Entry::Vacant(slot) = references.entry(key) {
            slot.insert(
                s.runtime
                    .block_on(References::gather(&s.client, &id.subscription))
                    .map(Arc::new),
            );
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
    let results = bulk_run(s, work, move |(id, hint, refs)| {
        let client = client.clone();
        async move {
            let Some(steps) =
                delete_steps(client.clone(), id.clone(), hint, Some(refs?), options).await?
            else {
                return Ok((false, Vec::new()));
            };
            if dry_run {
                return Ok((true, steps));
            }
            let deleted = references::apply(&client, &id, &steps).await?;
            Ok((deleted, Vec::new()))
        }
    });
    Ok(ids
        .iter()
        .zip(results)
        .map(|(id, item)| {
            if let Outcome::Done((true, steps)) = &item.outcome {
                if dry_run {
                    plan_steps(s, id, steps);
                } else {
                    s.count(|d| d.deleted += 1);
                }
            }
            result_map(id, item.map(|(deleted, _)| if deleted { 200 } else { 204 }))
        })
        .collect())
}

/// `#{id, name, ok, status, error, attempts}` for one item of an array call.
fn result_map(id: &IdentityRef, item: Item<u16>) -> Dynamic {
    let mut map = Map::new();
    map.insert("id".into(), id.id().into());
    map.insert("name".into(), id.name.clone().into());
    let (ok, status, error) = match item.outcome {
        Outcome::Done(status) => (true, Dynamic::from_int(i64::from(status)), Dynamic::UNIT),
        Outcome::Failed(e) => {
            let status = e
                .status()
                .map_or(Dynamic::UNIT, |s| Dynamic::from_int(i64::from(s)));
            (false, status, error_map(&e).into())
        }
        Outcome::NotStarted => {
            let mut e = Map::new();
            e.insert("code".into(), "NotStarted".into());
            e.insert(
                "message".into(),
                "not sent: the run was interrupted first".into(),
            );
            e.insert("status".into(), Dynamic::UNIT);
            (false, Dynamic::UNIT, e.into())
        }
    };
    map.insert("ok".into(), ok.into());
    map.insert("status".into(), status);
    map.insert("error".into(), error);
    map.insert(
        "attempts".into(),
        Dynamic::from_int(i64::from(item.attempts)),
    );
    map.into()
}

/// A bulk summary as scripts see it.
fn summary_map(summary: &Summary) -> Map {
    let mut map = Map::new();
    for (k, v) in [
        ("done", summary.done),
        ("failed", summary.failed),
        ("skipped", summary.skipped),
        ("throttled", summary.throttled as usize),
        ("retries", summary.retries as usize),
    ] {
        map.insert(k.into(), Dynamic::from_int(v as i64));
    }
    map.insert(
        "elapsed_ms".into(),
        Dynamic::from_int(summary.elapsed.as_millis() as i64),
    );
    map
}

fn group_create(s: &HostState, name: &str, location: &str) -> Res<Dynamic> {
    let sub = s.subscription()?;
    names::group_name(name).map_err(arm_error)?;
    names::location(location).map_err(arm_error)?;
    if s.dry_run.get() {
        let existing = match s.runtime.block_on(s.client.group_show(&sub, name)) {
            Ok(g) => Some(g),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(arm_error(e)),
        };
        let id = format!("/subscriptions/{sub}/resourceGroups/{name}");
        s.plan.borrow_mut().record(
            if existing.is_some() {
                Change::Update
            } else {
                Change::Create
            },
            id.clone(),
        );
        return match existing {
            Some(g) => convert::to_dynamic(&output::group_json(&g)),
            None => convert::to_dynamic(&json!({
                "id": id, "location": location.to_lowercase().replace(' ', ""), "managedBy": null, "name": name,
                "properties": {"provisioningState": KNOWN_AFTER_APPLY}, "tags": null,
                "type": "Microsoft.Resources/resourceGroups",
            })),
        };
    }
    let create = GroupCreate {
        location: location.to_string(),
        tags: BTreeMap::new(),
    };
    let group = s.block_on(s.client.group_create(&sub, name, &create))?;
    s.saw(&group.name);
    s.count(|d| d.created += 1);
    convert::to_dynamic(&output::group_json(&group))
}

fn group_delete(s: &HostState, name: &str) -> Res<bool> {
    let sub = s.subscription()?;
    if s.dry_run.get() {
        names::group_name(name).map_err(arm_error)?;
        return match s.runtime.block_on(s.client.group_show(&sub, name)) {
            Ok(_) => {
                s.plan.borrow_mut().record(
                    Change::Delete,
                    format!("/subscriptions/{sub}/resourceGroups/{name}"),
                );
                Ok(true)
            }
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(arm_error(e)),
        };
    }
    match s.runtime.block_on(s.client.group_delete(&sub, name, false)) {
        Ok(GroupDeleted::Done | GroupDeleted::Started { .. }) => {
            s.count(|d| d.deleted += 1);
            Ok(true)
        }
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(arm_error(e)),
    }
}

fn table(rows: &Array, columns: Option<&Array>) -> Res<String> {
    let value = convert::to_json(&Dynamic::from_array(rows.clone()))?;
    let columns: Option<Vec<String>> = columns
        .map(|c| {
            c.iter()
                .map(|v| {
                    v.clone()
                        .into_string()
                        .map_err(|t| usage_error(format!("column names are strings, not {t}")))
                })
                .collect()
        })
        .transpose()?;
    Ok(output::table_with(&value, columns.as_deref()))
}

fn confirm(s: &HostState, question: &str) -> Res<bool> {
    if s.yes {
        return Ok(true);
    }
    if !s.interactive || !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} (y/n): ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| usage_error(format!("could not read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
