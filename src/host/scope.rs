//! Scope for scripts: one subscription (the default), a list, a management group or the
//! tenant. `use_scope` sets it; `identity_list()`, `resource_list()` and
//! `role_assignment_list()` follow it, reading through Resource Graph when more than one
//! subscription is in scope (ARM lists fanned out with `#{consistent: true}`).
//! `graph_query` runs KQL; `subscriptions()` lists the caller's subscriptions.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use serde_json::Value;

use super::HostState;
use super::api::FnDoc;
use super::convert::{self, arm_error, usage_error};
use crate::arm::graph::GraphScope;
use crate::arm::scope::SUBSCRIPTIONS_QUERY;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub use crate::arm::scope::Scope;

/// The current subscription under a scope: the one subscription it names, or its first one
/// when none was set; otherwise `current` as it is.
pub fn current_for(scope: &Scope, current: String) -> String {
    match scope {
        Scope::Subscriptions(subs) if subs.len() == 1 || current.is_empty() => {
            subs.first().cloned().unwrap_or(current)
        }
        _ => current,
    }
}

/// The functions of this file, for `:help`, completion and the examples test.
pub const DOCS: &[FnDoc] = &[
    FnDoc {
        name: "graph_query",
        params: &["kql: &str"],
        returns: "Array",
        doc: "Runs a Resource Graph query over the scope in use and returns every row (all pages) as maps.",
        example: r#"graph_query("resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, name").len()"#,
    },
    FnDoc {
        name: "graph_query",
        params: &["kql: &str", "opts: Map"],
        returns: "Array",
        doc: "Runs a Resource Graph query with #{subscriptions: [..]} or #{management_groups: [..]} or #{tenant: true}, and #{first: N}, and returns the rows.",
        example: r#"graph_query("resourcecontainers | project name", #{first: 5}).len()"#,
    },
    FnDoc {
        name: "subscriptions",
        params: &[],
        returns: "Array",
        doc: "The subscriptions the caller can read: #{id, subscriptionId, name, state, managementGroupAncestorsChain}.",
        example: r#"subscriptions().map(|s| s.subscriptionId)"#,
    },
    FnDoc {
        name: "use_scope",
        params: &["scope: Map"],
        returns: "Map",
        doc: "Sets the scope of identity_list(), resource_list(), role_assignment_list() and the audits: #{subscriptions: [..]} (a single one also becomes the current subscription), #{management_group: \"mg\"}, #{tenant: true} or #{} for the current subscription; returns it.",
        example: r#"use_scope(#{subscriptions: [subscription()]})"#,
    },
    FnDoc {
        name: "scope",
        params: &[],
        returns: "Map",
        doc: "The scope in use, as use_scope takes it.",
        example: r#"scope()"#,
    },
    FnDoc {
        name: "identity_list",
        params: &["opts: Map"],
        returns: "Array",
        doc: "Every identity in scope; #{consistent: true} reads ARM lists (each subscription's groups paged concurrently) instead of Resource Graph.",
        example: r#"identity_list(#{consistent: true}).len()"#,
    },
];

/// Registers the functions of this file.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let [query, query_opts, subs, use_scope, scope, list] =
        std::array::from_fn(|i| DOCS[i].registration());
    let s = state.clone();
    query.register_into_engine(engine, move |kql: &str| -> Res<Array> {
        let scope = current_graph_scope(&s)?;
        rows(&s, kql, &scope, None)
    });
    let s = state.clone();
    query_opts.register_into_engine(engine, move |kql: &str, opts: Map| -> Res<Array> {
        let (scope, first) = query_options(&s, &opts)?;
        rows(&s, kql, &scope, first)
    });
    let s = state.clone();
    subs.register_into_engine(engine, move || subscriptions(&s));
    let s = state.clone();
    use_scope.register_into_engine(engine, move |m: Map| -> Res<Dynamic> {
        let scope = scope_of(&m)?;
        let current = s.subscription.borrow().clone();
        *s.subscription.borrow_mut() = current_for(&scope, current);
        *s.scope.borrow_mut() = scope;
        Ok(scope_map(&s.scope.borrow()).into())
    });
    let s = state.clone();
    scope.register_into_engine(engine, move || -> Dynamic {
        scope_map(&s.scope.borrow()).into()
    });
    let s = state.clone();
    list.register_into_engine(engine, move |opts: Map| -> Res<Array> {
        let mut consistent = false;
        for (key, value) in &opts {
            match key.as_str() {
                "consistent" => {
                    consistent = value
                        .as_bool()
                        .map_err(|t| usage_error(format!("consistent is true or false, not {t}")))?
                }
                other => {
                    return Err(usage_error(format!(
                        "unknown option '{other}': identity_list takes #{{consistent}}"
                    )));
                }
            }
        }
        if consistent {
            super::scoped_lists::identities_consistent(&s)
        } else {
            super::scoped_lists::identity_list(&s)
        }
    });
}

/// The Resource Graph scope of the scope in use.
fn current_graph_scope(s: &HostState) -> Res<GraphScope> {
    let scope = s.scope.borrow().clone();
    let current = if scope == Scope::One {
        s.subscription()?
    } else {
        String::new()
    };
    Ok(scope.graph(&current))
}

fn query_options(s: &HostState, opts: &Map) -> Res<(GraphScope, Option<u64>)> {
    let mut scope = None;
    let mut first = None;
    let strings = |key: &str, v: &Dynamic| -> Res<Vec<String>> {
        let list = v
            .read_lock::<Array>()
            .ok_or_else(|| usage_error(format!("{key} is an array of strings")))?;
        list.iter()
            .map(|x| {
                x.clone()
                    .into_string()
                    .map_err(|t| usage_error(format!("{key} holds strings, not {t}")))
            })
            .collect()
    };
    for (key, value) in opts {
        match key.as_str() {
            "subscriptions" => {
                scope = Some(GraphScope::Subscriptions(strings("subscriptions", value)?))
            }
            "management_groups" => {
                scope = Some(GraphScope::ManagementGroups(strings(
                    "management_groups",
                    value,
                )?))
            }
            "tenant" => {
                if value.as_bool() != Ok(true) {
                    return Err(usage_error("tenant takes true"));
                }
                scope = Some(GraphScope::Tenant);
            }
            "first" => {
                let n = value
                    .as_int()
                    .map_err(|t| usage_error(format!("first is a number, not {t}")))?;
                first = Some(
                    u64::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| usage_error(format!("first is at least 1, not {n}")))?,
                );
            }
            other => {
                return Err(usage_error(format!(
                    "unknown option '{other}': graph_query takes #{{subscriptions, management_groups, tenant, first}}"
                )));
            }
        }
    }
    let scopes = ["subscriptions", "management_groups", "tenant"]
        .iter()
        .filter(|k| opts.contains_key(**k))
        .count();
    if scopes > 1 {
        return Err(usage_error(
            "graph_query takes one of subscriptions, management_groups and tenant",
        ));
    }
    let scope = match scope {
        Some(sc) => sc,
        None => current_graph_scope(s)?,
    };
    Ok((scope.validated().map_err(arm_error)?, first))
}

fn rows(s: &HostState, kql: &str, scope: &GraphScope, first: Option<u64>) -> Res<Array> {
    let found = s.block_on(s.client.graph_query(kql, scope, first))?;
    found
        .rows
        .into_iter()
        .map(|r| convert::to_dynamic(&Value::Object(r)))
        .collect()
}

fn scope_of(m: &Map) -> Res<Scope> {
    let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    let scope = match keys.as_slice() {
        [] => Scope::One,
        ["subscriptions"] => {
            let list = m["subscriptions"]
                .read_lock::<Array>()
                .ok_or_else(|| usage_error("subscriptions is an array of subscription ids"))?
                .iter()
                .map(|v| {
                    v.clone()
                        .into_string()
                        .map_err(|t| usage_error(format!("subscription ids are strings, not {t}")))
                })
                .collect::<Res<Vec<String>>>()?;
            Scope::Subscriptions(list)
        }
        ["management_group"] => Scope::ManagementGroup(
            m["management_group"]
                .clone()
                .into_string()
                .map_err(|t| usage_error(format!("management_group is a name, not {t}")))?,
        ),
        ["tenant"] => match m["tenant"].as_bool() {
            Ok(true) => Scope::Tenant,
            _ => {
                return Err(usage_error(
                    "tenant takes true (use #{} for one subscription)",
                ));
            }
        },
        _ => {
            return Err(usage_error(
                "use_scope takes one of #{subscriptions: [..]}, #{management_group: \"name\"}, #{tenant: true} or #{}",
            ));
        }
    };
    scope.validated().map_err(arm_error)
}

fn scope_map(scope: &Scope) -> Map {
    let mut m = Map::new();
    match scope {
        Scope::One => {}
        Scope::Subscriptions(subs) => {
            let list: Array = subs.iter().map(|x| Dynamic::from(x.clone())).collect();
            m.insert("subscriptions".into(), list.into());
        }
        Scope::ManagementGroup(g) => {
            m.insert("management_group".into(), g.clone().into());
        }
        Scope::Tenant => {
            m.insert("tenant".into(), true.into());
        }
    }
    m
}

/// The subscription ids in scope (a management group's or the tenant's read through Resource Graph).
pub(super) fn subscription_ids(s: &HostState) -> Res<Vec<String>> {
    let scope = s.scope.borrow().clone();
    let current = if scope == Scope::One {
        s.subscription()?
    } else {
        String::new()
    };
    s.block_on(s.client.scope_subscriptions(&scope, &current))
}

fn subscriptions(s: &HostState) -> Res<Array> {
    let found = s.block_on(
        s.client
            .graph_query(SUBSCRIPTIONS_QUERY, &GraphScope::Tenant, None),
    )?;
    found
        .rows
        .into_iter()
        .map(|r| convert::to_dynamic(&Value::Object(r)))
        .collect()
}
