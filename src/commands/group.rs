//! `azid group create|list|show|delete`, with az's flags, output and exit codes.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use serde_json::Value;

use super::Printer;
use crate::arm::{GroupCreate, GroupDeleted, names};
use crate::cli::GroupCommand;
use crate::error::Error;
use crate::output::group_json;
use crate::session::Session;

/// Runs one `group` subcommand.
pub async fn run(
    session: &Session,
    command: GroupCommand,
    out: &Printer,
) -> Result<ExitCode, Error> {
    let (client, sub) = (&session.client, session.subscription.as_str());
    match command {
        GroupCommand::Create {
            name,
            location,
            tags,
            ..
        } => {
            let create = GroupCreate {
                location,
                tags: names::parse_tags(&tags)?,
            };
            out.print(&group_json(
                &client.group_create(sub, &name, &create).await?,
            ))?;
        }
        GroupCommand::List { .. } => {
            let groups = client.group_list(sub).await?;
            out.print(&Value::Array(groups.iter().map(group_json).collect()))?;
        }
        GroupCommand::Show { name, .. } => match client.group_show(sub, &name).await {
            Ok(group) => out.print(&group_json(&group))?,
            Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
            Err(e) => return Err(e.into()),
        },
        GroupCommand::Delete {
            name, no_wait, yes, ..
        } => {
            names::group_name(&name)?;
            if !yes
                && !confirm(&format!(
                    "Delete resource group '{name}' and everything in it?"
                ))?
            {
                return Err(Error::Usage(format!(
                    "resource group '{name}' was not deleted: confirm at the prompt, or pass --yes"
                )));
            }
            if let GroupDeleted::Started { location } =
                client.group_delete(sub, &name, no_wait).await?
            {
                tracing::info!(
                    "delete of '{name}' accepted; poll {}",
                    location.unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, the answer is no.
fn confirm(question: &str) -> Result<bool, Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    eprint!("{question} (y/n): ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            context: "could not read the answer",
            source,
        })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
