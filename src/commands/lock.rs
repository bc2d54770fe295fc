//! `azid lock list [-g RG | --resource ID]`: the management locks of the subscription, a
//! group or a resource, printed as `az lock list` prints them (the lock's properties lifted
//! to the top, with its `resourceGroup`).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::Printer;
use crate::arm::names;
use crate::cli::LockCommand;
use crate::error::Error;
use crate::output::resource_group_of;
use crate::session::Session;

/// Runs one `lock` subcommand.
pub async fn run(
    session: &Session,
    command: LockCommand,
    out: &Printer,
) -> Result<ExitCode, Error> {
    let LockCommand::List {
        resource_group,
        resource,
        ..
    } = command;
    let sub = session.subscription.as_str();
    let scope = match (resource_group, resource) {
        (Some(rg), _) => {
            names::group_name(&rg)?;
            format!("/subscriptions/{sub}/resourceGroups/{rg}")
        }
        (None, Some(id)) => id,
        (None, None) => format!("/subscriptions/{sub}"),
    };
    let locks = session.client.lock_list(&scope).await?;
    out.print(&Value::Array(locks.iter().map(az_lock).collect()))?;
    Ok(ExitCode::SUCCESS)
}

/// A lock as az prints it: `{id, level, name, notes, owners, resourceGroup, type}`.
fn az_lock(lock: &Value) -> Value {
    let props = &lock["properties"];
    let id = lock["id"].as_str().unwrap_or("");
    json!({
        "id": lock["id"],
        "level": props["level"],
        "name": lock["name"],
        "notes": props.get("notes").cloned().unwrap_or(Value::Null),
        "owners": props.get("owners").cloned().unwrap_or(Value::Null),
        "resourceGroup": resource_group_of(id),
        "type": lock["type"],
    })
}
