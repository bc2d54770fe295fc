//! `azid identity create|list|show|update|delete`, with az's flags, output and exit codes.

use std::process::ExitCode;

use serde_json::Value;

use super::Printer;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::arm::bulk::{self, Outcome, Summary};
use crate::arm::federated::CredentialSpec;
use crate::arm::{IdentityCreate, IdentityRef, names};
use crate::cli::{CredentialCommand, CredentialSpecArgs, IdentityCommand, Target};
use crate::error::{Error, render_arm};
use crate::host::plan::{Change, Plan};
use crate::output::{self, Format};
use crate::output::{credential_json, identity_json};
use crate::session::Session;

/// Runs one `identity` subcommand.
pub async fn run(
    session: &Session,
    command: IdentityCommand,
    out: &Printer,
) -> Result<ExitCode, Error> {
    let client = &session.client;
    match command {
        IdentityCommand::Create {
            resource_group,
            name,
            location,
            tags,
            isolation_scope,
            ..
        } => {
            let id = IdentityRef::new(&session.subscription, &resource_group, &name)?;
            let create = IdentityCreate {
                location,
                tags: names::parse_tags(&tags)?,
                isolation_scope,
            };
            let identity = client.identity_create(&id, &create).await?;
            out.print(&identity_json(&identity))?;
        }
        IdentityCommand::List { resource_group, .. } => {
            let identities = match &resource_group {
                Some(rg) => {
                    client
                        .identity_list_group(&session.subscription, rg)
                        .await?
                }
                None => client.identity_list(&session.subscription).await?,
            };
            out.print(&Value::Array(
                identities.iter().map(identity_json).collect(),
            ))?;
        }
        IdentityCommand::Revoke {
            target, dry_run, ..
        } => {
            let ids = targets(session, &target)?;
            let mut plan = Plan::default();
            for id in &ids {
                if dry_run {
                    // The plan holds only identities the real call would find.
                    match client.identity_show(id).await {
                        Ok(_) => plan.record(Change::Update, id.id()),
                        Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    client.identity_revoke_tokens(id).await?;
                }
            }
            if dry_run {
                print!("{plan}");
            }
        }
        IdentityCommand::ListResources { target, .. } => {
            let mut found = Vec::new();
            for id in targets(session, &target)? {
                found.extend(client.identity_resources(&id).await?);
            }
            out.print(&serde_json::json!(found))?;
        }
        IdentityCommand::FederatedCredential(command) => {
            return credential(session, command, out).await;
        }
        IdentityCommand::Show { target, .. } => {
            let ids = targets(session, &target)?;
            let mut shown = Vec::new();
            for id in &ids {
                match client.identity_show(id).await {
                    Ok(identity) => shown.push(identity_json(&identity)),
                    Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
                    Err(e) => return Err(e.into()),
                }
            }
            let value = if target.ids.len() > 1 {
                Value::Array(shown)
            } else {
                shown.pop().unwrap_or(Value::Null)
            };
            out.print(&value)?;
        }
        IdentityCommand::Update { target, tags, .. } => {
            let tags = names::parse_tags(&tags)?;
            let ids = targets(session, &target)?;
            let mut updated = Vec::new();
            for id in &ids {
                updated.push(identity_json(
                    &client.identity_update_tags(id, &tags).await?,
                ));
            }
            let value = if target.ids.len() > 1 {
                Value::Array(updated)
            } else {
                updated.pop().unwrap_or(Value::Null)
            };
            out.print(&value)?;
        }
        IdentityCommand::Delete {
            target,
            concurrency,
            common,
            ..
        } => {
            let ids = targets(session, &target)?;
            if let [id] = ids.as_slice() {
                client.identity_delete(id).await?;
                return Ok(ExitCode::SUCCESS);
            }
            // Many ids: concurrently, every item accounted for; one failure never stops the others.
            let before = client.stats();
            let started = std::time::Instant::now();
            let progress = if common.output == Some(Format::Json) {
                None
            } else {
                output::progress_bar()
            };
            let worker = client.clone();
            let stop = Arc::new(AtomicBool::new(false));
            let items = bulk::run(
                ids.clone(),
                concurrency as usize,
                stop,
                progress,
                move |id| {
                    let client = worker.clone();
                    async move { client.identity_delete(&id).await }
                },
            )
            .await;
            let summary = Summary::of(&items, client.stats() - before, started.elapsed());
            for (id, item) in ids.iter().zip(&items) {
                if let Outcome::Failed(e) = &item.outcome {
                    eprintln!(
                        "ERROR: {}/{}: {}",
                        id.resource_group,
                        id.name,
                        render_arm(e)
                    );
                }
            }
            eprintln!("{summary}");
            if summary.failed + summary.skipped > 0 {
                return Err(Error::Partial {
                    failed: summary.failed + summary.skipped,
                    total: ids.len(),
                });
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `azid identity federated-credential ...`, as az.
async fn credential(
    session: &Session,
    command: CredentialCommand,
    out: &Printer,
) -> Result<ExitCode, Error> {
    let client = &session.client;
    let identity = |rg: &str, name: &str| IdentityRef::new(&session.subscription, rg, name);
    let spec = |s: CredentialSpecArgs| CredentialSpec {
        issuer: s.issuer,
        subject: s.subject,
        audiences: s.audiences,
    };
    match command {
        CredentialCommand::Create {
            credential: c,
            spec: s,
            ..
        }
        | CredentialCommand::Update {
            credential: c,
            spec: s,
            ..
        } => {
            let id = identity(&c.resource_group, &c.identity_name)?;
            let (made, _) = client.credential_put(&id, &c.name, spec(s)).await?;
            out.print(&credential_json(&made))?;
        }
        CredentialCommand::Show { credential: c, .. } => {
            let id = identity(&c.resource_group, &c.identity_name)?;
            match client.credential_show(&id, &c.name).await {
                Ok(found) => out.print(&credential_json(&found))?,
                Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
                Err(e) => return Err(e.into()),
            }
        }
        CredentialCommand::Delete { credential: c, .. } => {
            let id = identity(&c.resource_group, &c.identity_name)?;
            client.credential_delete(&id, &c.name).await?;
        }
        CredentialCommand::List {
            identity_name,
            resource_group,
            ..
        } => {
            let id = identity(&resource_group, &identity_name)?;
            let all = client.credential_list(&id).await?;
            out.print(&Value::Array(all.iter().map(credential_json).collect()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The identities a command names: `-g/-n` in the session's subscription, or `--ids`; all
/// are validated before the first request.
fn targets(session: &Session, target: &Target) -> Result<Vec<IdentityRef>, Error> {
    if !target.ids.is_empty() {
        return target
            .ids
            .iter()
            .map(|id| IdentityRef::parse(id).map_err(Error::from))
            .collect();
    }
    match (&target.resource_group, &target.name) {
        (Some(rg), Some(name)) => Ok(vec![IdentityRef::new(&session.subscription, rg, name)?]),
        _ => Err(Error::Usage(
            "name the identity with -g RESOURCE_GROUP -n NAME, or with --ids ID".into(),
        )),
    }
}
