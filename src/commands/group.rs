//! `azid group create|list|show|delete`, with az's flags, output and exit codes.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use serde_json::Value;

use super::dryrun::{self, Draft};
use super::{Flags, Printer, parse_tags};
use crate::arm::{GroupCreate, GroupDeleted, names};
use crate::cli::GroupCommand;
use crate::error::Error;
use crate::host::plan::Change;
use crate::output::group_json;
use crate::plan::step::{Fingerprint, Op};
use crate::session::Session;

/// Runs one `group` subcommand.
pub async fn run(
    session: &Session,
    command: GroupCommand,
    out: &Printer,
    flags: Flags<'_>,
) -> Result<ExitCode, Error> {
    let (client, sub) = (&session.client, session.subscription.as_str());
    if flags.dry_run {
        match plan(session, &command).await? {
            Some(mut draft) => {
                draft.mark_locks(client).await;
                print!("{}", draft.render());
                super::write_plan(session, &draft, flags).await?;
                return Ok(dryrun::dry_run_code(&draft));
            }
            None => super::no_plan_out(flags)?,
        }
    }
    match command {
        GroupCommand::Create {
            name,
            location,
            tags,
            ..
        } => {
            let create = GroupCreate {
                location,
                tags: parse_tags(&tags)?,
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
                && !flags.yes
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

/// The plan of a command that writes under `--dry-run`; `None` for the commands that only read.
async fn plan(session: &Session, command: &GroupCommand) -> Result<Option<Draft>, Error> {
    let (client, sub) = (&session.client, session.subscription.as_str());
    let mut draft = Draft::default();
    match command {
        GroupCommand::Create {
            name,
            location,
            tags,
            ..
        } => {
            names::group_name(name)?;
            names::location(location)?;
            let tags = parse_tags(tags)?;
            let op = Op::GroupPut {
                location: location.clone(),
                tags: tags.clone(),
            };
            match dryrun::found(client.group_show(sub, name).await)? {
                None => draft.add(
                    Change::Create,
                    format!("/subscriptions/{sub}/resourceGroups/{name}"),
                    Vec::new(),
                    (op, Fingerprint::Absent),
                ),
                Some(old) => {
                    let details = dryrun::tag_diff(&old.tags.clone().unwrap_or_default(), &tags);
                    if !details.is_empty() {
                        draft.add(Change::Update, old.id, details, (op, Fingerprint::Exists));
                    }
                }
            }
        }
        GroupCommand::Delete { name, .. } => {
            names::group_name(name)?;
            if let Some(old) = dryrun::found(client.group_show(sub, name).await)? {
                // Everything in the group goes with it; its identities are listed.
                let group = format!("/subscriptions/{sub}/resourceGroups/{name}");
                for identity in client.identity_list_group(sub, name).await? {
                    draft.add(
                        Change::Delete,
                        identity.id,
                        Vec::new(),
                        (
                            Op::WithGroup {
                                group: group.clone(),
                            },
                            Fingerprint::Exists,
                        ),
                    );
                }
                draft.add(
                    Change::Delete,
                    old.id,
                    Vec::new(),
                    (Op::GroupDelete, Fingerprint::Exists),
                );
            }
        }
        GroupCommand::List { .. } | GroupCommand::Show { .. } => return Ok(None),
    }
    Ok(Some(draft))
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
