//! Every function a script can call, registered in one place, each with its parameter
//! names and a doc comment holding an example. `DOCS` is the one table that `:help`, the
//! REPL's completion and the examples test read.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};
use serde_json::{Value, json};

use super::bulk::summary_map;
use super::convert::{self, arm_error, usage_error};
use super::deletes::{delete_many, delete_one, delete_options, principal_hint};
use super::identities::{
    create_many, create_one, creation, identities, identity_ref, identity_value, ref_of,
    revoke_tokens, update,
};
use super::plan::Change;
use super::references::DeleteOptions;
use super::{HostState, access};
use crate::arm::{ArmError, GroupCreate, GroupDeleted, IdentityRef, names};
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
    /// `name(a: T, b: U) -> R`, with script types (`String`, not Rust's `&str`).
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| p.replace("&str", "String"))
            .collect();
        format!("{}({}) -> {}", self.name, params.join(", "), self.returns)
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
    "Every identity in scope: the subscription's (all pages), or, with more than one subscription in scope, one Resource Graph query (items carry subscriptionId).",
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
    CHECK,
    "identity_check",
    ["rg: &str", "name: &str", "opts: Map"],
    "String",
    "Checks a group name, an identity name and create options #{location, tags, isolationScope} as identity_create does, sending nothing: an empty string when they hold, else what is wrong.",
    r#"identity_check("rg", "app-2", #{tags: #{env: "dev"}}).len() == 0"#
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
    REVOKE,
    "identity_revoke_tokens",
    ["rg: &str", "name: &str"],
    "()",
    "Revokes the tokens issued to an identity (planned as an update in a dry-run).",
    r#"identity_revoke_tokens("rg", "app-1")"#
);
doc!(
    REVOKE_ONE,
    "identity_revoke_tokens",
    ["identity: Dynamic"],
    "()",
    "Revokes the tokens of the identity a map (from identity_list or identity_show) or a resource id names.",
    r#"identity_revoke_tokens(identity_show("rg", "app-1"))"#
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
    LOCK_LIST,
    "lock_list",
    ["scope: &str"],
    "Array",
    "The management locks at, above and below a scope (subscription, group or resource id), as ARM returns them: #{id, name, type, properties: #{level, notes, owners}} (all pages).",
    r#"lock_list("/subscriptions/" + subscription() + "/resourceGroups/rg").filter(|l| l.properties.level != "NotSpecified")"#
);
doc!(
    LOCK_LISTS,
    "lock_list",
    ["scopes: Array"],
    "Map",
    "The locks of each scope, read concurrently: a map from each scope (as given) to what lock_list(scope) returns for it.",
    r#"lock_list(["/subscriptions/" + subscription()])["/subscriptions/" + subscription()].len()"#
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
    PRINTABLE,
    "printable",
    ["text: &str"],
    "String",
    "The text with its control characters (line breaks, escape sequences) shown escaped, safe to print in a table.",
    r#"printable("a\tb") == "a\\tb""#
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
    "Asks yes/no on the terminal; true with --yes; false (saying so on stderr) when no one is at a terminal.",
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
    CHECK,
    SHOW,
    UPDATE,
    DELETE,
    DELETE_MAP,
    DELETE_ID,
    DELETE_MANY,
    DELETE_SAFE,
    DELETE_MANY_SAFE,
    REVOKE,
    REVOKE_ONE,
    GROUP_CREATE,
    GROUP_LIST,
    GROUP_SHOW,
    GROUP_DELETE,
    SUBSCRIPTION,
    USE_SUBSCRIPTION,
    PERMISSIONS,
    CAN,
    LOCK_LIST,
    LOCK_LISTS,
    TABLE,
    TABLE_COLS,
    PRINTABLE,
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
    super::html::HTML_PAGE,
    super::census::CREDENTIAL_COUNTS,
    super::census::KEY_SET,
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
    LIST.registration()
        .register_into_engine(engine, move || super::scoped_lists::identity_list(&s));
    let s = state.clone();
    LIST_RG
        .registration()
        .register_into_engine(engine, move |rg: &str| {
            let sub = s.subscription()?;
            identities(&s, s.block_on(s.client.identity_list_group(&sub, rg))?)
        });
    let s = state.clone();
    CHECK.registration().register_into_engine(
        engine,
        move |rg: &str, name: &str, opts: Map| -> String {
            match identity_ref(&s, rg, name).and_then(|_| creation(&opts)) {
                Ok(_) => String::new(),
                Err(e) => super::diagnostic::message(&e)
                    .split_once(") ")
                    .map_or_else(String::new, |(_, m)| m.to_string()),
            }
        },
    );
    let s = state.clone();
    SHOW.registration()
        .register_into_engine(engine, move |rg: &str, name: &str| -> Res<Dynamic> {
            let id = identity_ref(&s, rg, name)?;
            // `()` means the identity is absent; a missing group is an error, as in az.
            match s.runtime.block_on(s.client.identity_show(&id)) {
                Ok(identity) => identity_value(&s, &identity),
                Err(e) if e.is_not_found() && e.code() != "ResourceGroupNotFound" => {
                    Ok(Dynamic::UNIT)
                }
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
    REVOKE
        .registration()
        .register_into_engine(engine, move |rg: &str, name: &str| {
            revoke_tokens(&s, &identity_ref(&s, rg, name)?)
        });
    let s = state.clone();
    REVOKE_ONE
        .registration()
        .register_into_engine(engine, move |identity: Dynamic| {
            revoke_tokens(&s, &ref_of(&identity)?)
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
    let s = state.clone();
    LOCK_LIST
        .registration()
        .register_into_engine(engine, move |scope: &str| super::locks::list(&s, scope));
    let s = state.clone();
    LOCK_LISTS
        .registration()
        .register_into_engine(engine, move |scopes: Array| {
            super::locks::list_many(&s, &scopes)
        });
    TABLE
        .registration()
        .register_into_engine(engine, |rows: Array| table(&rows, None));
    TABLE_COLS
        .registration()
        .register_into_engine(engine, |rows: Array, columns: Array| {
            table(&rows, Some(&columns))
        });
    PRINTABLE
        .registration()
        .register_into_engine(engine, |text: &str| -> String {
            output::printable(text).into_owned()
        });
    TO_JSON
        .registration()
        .register_into_engine(engine, |value: Dynamic| -> Res<String> {
            // Written straight from the value: a JSON tree of a large report first would
            // hold it twice.
            crate::host::depth::check(&value)?;
            serde_json::to_string_pretty(&value).map_err(|e| usage_error(e.to_string()))
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
        let fingerprint = if existing.is_some() {
            crate::plan::step::Fingerprint::Exists
        } else {
            crate::plan::step::Fingerprint::Absent
        };
        s.plan.borrow_mut().record_step(
            if existing.is_some() {
                Change::Update
            } else {
                Change::Create
            },
            id.clone(),
            Some((
                crate::plan::step::Op::GroupPut {
                    location: location.to_string(),
                    tags: BTreeMap::new(),
                },
                fingerprint,
            )),
            Vec::new(),
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
                s.plan.borrow_mut().record_step(
                    Change::Delete,
                    format!("/subscriptions/{sub}/resourceGroups/{name}"),
                    Some((
                        crate::plan::step::Op::GroupDelete,
                        crate::plan::step::Fingerprint::Exists,
                    )),
                    Vec::new(),
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
        eprintln!(
            "confirm: no terminal to answer \"{}\"; taken as no (pass --yes to answer yes)",
            crate::output::printable(question)
        );
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
