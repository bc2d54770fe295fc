//! `azid identity create|list|show|update|delete`, with az's flags, output and exit codes.

use std::process::ExitCode;

use serde_json::Value;

use super::dryrun::{self, Draft};
use super::{Flags, Printer, parse_tags, tags_given};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::arm::bulk::{self, Outcome, Summary};
use crate::arm::federated::CredentialSpec;
use crate::arm::{ArmError, IdentityCreate, IdentityRef, names};
use crate::cli::{CredentialCommand, CredentialSpecArgs, IdentityCommand, Target};
use crate::error::{Error, render_arm};
use crate::host::locks::{self as host_locks, LockCache};
use crate::host::plan::Change;
use crate::host::references::{self, DeleteOptions, References, Step, Uses};
use crate::output::{self, Format};
use crate::output::{credential_json, identity_json};
use crate::plan::step::{Fingerprint, Op as PlanOp};
use crate::session::Session;

/// Runs one `identity` subcommand.
pub async fn run(
    session: &Session,
    command: IdentityCommand,
    out: &Printer,
    flags: Flags<'_>,
) -> Result<ExitCode, Error> {
    let client = &session.client;
    // `identity revoke` also takes `--dry-run` after the subcommand.
    let dry_run = flags.dry_run || matches!(command, IdentityCommand::Revoke { dry_run: true, .. });
    if dry_run {
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
        IdentityCommand::Create {
            resource_group,
            name,
            location,
            tags,
            isolation_scope,
            ..
        } => {
            let id = IdentityRef::new(&session.subscription, group(&resource_group)?, &name)?;
            let create = IdentityCreate {
                location,
                tags: parse_tags(&tags)?,
                isolation_scope,
            };
            let identity = client.identity_create(&id, &create).await?;
            out.print(&identity_json(&identity))?;
        }
        IdentityCommand::List {
            resource_group,
            scope,
            ..
        } => {
            let scope = scope
                .scope()
                .map_err(|e| Error::Usage(crate::error::render_arm(&e)))?;
            if scope.is_wide() {
                if resource_group.is_some() {
                    return Err(Error::Usage(
                        "-g lists one group of one subscription; leave it out with --subscriptions, \
                         --management-group or --all-subscriptions"
                            .into(),
                    ));
                }
                let found = client.identity_list_graph(&scope.graph("")).await?;
                out.print(&Value::Array(
                    found
                        .iter()
                        .map(|(sub, i)| crate::output::with_subscription(identity_json(i), sub))
                        .collect(),
                ))?;
                return Ok(ExitCode::SUCCESS);
            }
            let subscription = match &scope {
                crate::arm::scope::Scope::Subscriptions(one) => one
                    .first()
                    .cloned()
                    .unwrap_or_else(|| session.subscription.clone()),
                _ => session.subscription.clone(),
            };
            let identities = match &resource_group {
                Some(rg) => client.identity_list_group(&subscription, rg).await?,
                None => client.identity_list(&subscription).await?,
            };
            out.print(&Value::Array(
                identities.iter().map(identity_json).collect(),
            ))?;
        }
        IdentityCommand::ListOperations { .. } => {
            out.print(&Value::Array(client.identity_operations().await?))?;
        }
        IdentityCommand::Revoke { target, .. } => {
            for id in targets(session, &target)? {
                client.identity_revoke_tokens(&id).await?;
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
        IdentityCommand::Update {
            target,
            tags,
            isolation_scope,
            ..
        } => {
            let tags = tags_given(&tags)?;
            let ids = targets(session, &target)?;
            let mut updated = Vec::new();
            for id in &ids {
                let identity = match (&tags, &isolation_scope) {
                    (Some(tags), None) => client.identity_update_tags(id, tags).await?,
                    // The isolation scope is set with a PUT that keeps everything else.
                    (tags, Some(scope)) => {
                        let old = client.identity_show(id).await?;
                        let create = IdentityCreate {
                            location: Some(old.location),
                            tags: tags.clone().unwrap_or(old.tags),
                            isolation_scope: Some(scope.clone()),
                        };
                        client.identity_create(id, &create).await?
                    }
                    (None, None) => client.identity_show(id).await?,
                };
                updated.push(identity_json(&identity));
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
            detach,
            remove_role_assignments,
            if_unused,
            ..
        } => {
            let ids = targets(session, &target)?;
            let options = DeleteOptions {
                detach,
                remove_role_assignments,
                force: true,
            };
            let steps = delete_steps(session, &ids, options, if_unused, flags.quiet).await?;
            if let ([id], [steps]) = (ids.as_slice(), steps.as_slice()) {
                references::apply(client, id, steps).await?;
                return Ok(ExitCode::SUCCESS);
            }
            let concurrency = concurrency.or(flags.concurrency).unwrap_or(16);
            return delete_many(session, ids, steps, concurrency, common.output).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads, once for the batch, what still uses each identity; warns on stderr per identity in
/// use, refuses the whole batch under `--if-unused`, and returns each identity's delete steps.
async fn delete_steps(
    session: &Session,
    ids: &[IdentityRef],
    options: DeleteOptions,
    if_unused: bool,
    quiet: bool,
) -> Result<Vec<Vec<Step>>, Error> {
    let client = &session.client;
    // Tenant-wide: an identity attached to a resource of another subscription is in use.
    let full: Vec<String> = ids.iter().map(IdentityRef::id).collect();
    let refs = match References::gather_tenant(client, &full).await {
        Ok(r) => Some(r),
        // Unused cannot be shown without the reads.
        Err(e) if if_unused => return Err(e.into()),
        // The deletes themselves say what is wrong, item by item.
        Err(e) => {
            if !quiet {
                eprintln!(
                    "WARNING: could not check what uses the identities: {}",
                    render_arm(&e)
                );
            }
            None
        }
    };
    // A locked identity's safe delete does nothing but the delete (which ARM refuses).
    let mut locks = LockCache::new();
    if options.detach || options.remove_role_assignments {
        host_locks::read_into(client, full.iter().map(String::as_str), &mut locks).await;
    }
    let mut all = Vec::with_capacity(ids.len());
    let mut in_use = 0;
    for id in ids {
        let id_text = id.id();
        if host_locks::delete_blocked(host_locks::of(&locks, &id_text).as_deref(), id) {
            all.push(vec![Step::Delete]);
            continue;
        }
        let uses = refs.as_ref().map(|r| r.uses(&id_text)).unwrap_or_default();
        if !uses.resources.is_empty() || !uses.assignments.is_empty() {
            in_use += 1;
            if !quiet {
                warn_uses(id, &uses, options);
            }
        }
        all.push(uses.steps(id, options)?);
    }
    if if_unused && in_use > 0 {
        return Err(Error::Arm(ArmError::Api {
            status: 409,
            code: "IdentityInUse".into(),
            message: format!(
                "--if-unused: {in_use} of {} identities are still in use; nothing was deleted",
                ids.len()
            ),
            request_id: None,
        }));
    }
    Ok(all)
}

/// One warning line per kind of reference left behind (or removed, with the options).
fn warn_uses(id: &IdentityRef, uses: &Uses, options: DeleteOptions) {
    let who = format!("{}/{}", id.resource_group, id.name);
    if !uses.resources.is_empty() {
        let what = if options.detach {
            "detaching it from"
        } else {
            "it stays attached to"
        };
        eprintln!(
            "WARNING: identity {who} is in use: {what} {}",
            uses.resources.join(", ")
        );
    }
    if !uses.assignments.is_empty() {
        let scopes: Vec<String> = uses
            .assignments
            .iter()
            .map(|a| a.properties.scope.clone().unwrap_or_else(|| a.id.clone()))
            .collect();
        let what = if options.remove_role_assignments {
            "removing its role assignments at"
        } else {
            "its role assignments stay at"
        };
        eprintln!(
            "WARNING: identity {who} is in use: {what} {}",
            scopes.join(", ")
        );
    }
}

/// Many deletes, concurrently, every item accounted for; one failure never stops the others,
/// and Ctrl-C stops new ones and prints what each item came to.
async fn delete_many(
    session: &Session,
    ids: Vec<IdentityRef>,
    steps: Vec<Vec<Step>>,
    concurrency: u32,
    output: Option<Format>,
) -> Result<ExitCode, Error> {
    let client = &session.client;
    let before = client.stats();
    let started = std::time::Instant::now();
    let progress = if output == Some(Format::Json) {
        None
    } else {
        output::progress_bar()
    };
    let worker = client.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    // The handler is registered before the first delete starts, so that Ctrl-C never has
    // its default (fatal) meaning during the run.
    let listener = super::on_ctrl_c(stop.clone(), interrupted.clone())?;
    tracing::info!(
        "deleting {} identities, at most {concurrency} at a time",
        ids.len()
    );
    let work: Vec<(IdentityRef, Vec<Step>)> = ids.iter().cloned().zip(steps).collect();
    let items = bulk::run(
        work,
        concurrency as usize,
        stop,
        progress,
        move |(id, steps)| {
            let client = worker.clone();
            async move { references::apply(&client, &id, &steps).await }
        },
    )
    .await;
    listener.abort();
    let summary = Summary::of(&items, client.stats() - before, started.elapsed());
    let stopped = interrupted.load(Ordering::SeqCst);
    for (id, item) in ids.iter().zip(&items) {
        let who = format!("{}/{}", id.resource_group, id.name);
        match &item.outcome {
            Outcome::Failed(e) => eprintln!("ERROR: {who}: {}", render_arm(e)),
            Outcome::Done(_) if stopped => eprintln!("{who}: Deleted"),
            Outcome::NotStarted => eprintln!("{who}: NotStarted"),
            Outcome::Done(_) => {}
        }
    }
    eprintln!("{summary}");
    if stopped {
        eprintln!(
            "Interrupted: {} deleted, {} not started.",
            summary.done, summary.skipped
        );
        return Ok(ExitCode::from(130));
    }
    if summary.failed + summary.skipped > 0 {
        return Err(Error::Partial {
            failed: summary.failed + summary.skipped,
            total: ids.len(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan of a command that writes under `--dry-run`; `None` for the commands that only read.
async fn plan(session: &Session, command: &IdentityCommand) -> Result<Option<Draft>, Error> {
    let client = &session.client;
    let mut draft = Draft::default();
    match command {
        IdentityCommand::Create {
            resource_group,
            name,
            location,
            tags,
            isolation_scope,
            ..
        } => {
            let id = IdentityRef::new(&session.subscription, group(resource_group)?, name)?;
            if let Some(l) = location {
                names::location(l)?;
            }
            let tags = parse_tags(tags)?;
            dryrun::identity_put(
                client,
                &mut draft,
                &id,
                &tags,
                isolation_scope.as_deref(),
                location.as_deref(),
            )
            .await?;
        }
        IdentityCommand::Update {
            target,
            tags,
            isolation_scope,
            ..
        } => {
            let tags = tags_given(tags)?;
            for id in targets(session, target)? {
                // An update of what does not exist fails, as it would for real.
                let old = client.identity_show(&id).await?;
                let tags = tags.clone().unwrap_or(old.tags);
                dryrun::identity_put(
                    client,
                    &mut draft,
                    &id,
                    &tags,
                    isolation_scope.as_deref(),
                    None,
                )
                .await?;
            }
        }
        IdentityCommand::Revoke { target, .. } => {
            for id in targets(session, target)? {
                // The plan holds only identities the real call would find.
                let found = match client.identity_show(&id).await {
                    Ok(found) => found,
                    Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
                    Err(e) => return Err(e.into()),
                };
                draft.add(
                    Change::Update,
                    id.id(),
                    vec!["revoke tokens".to_string()],
                    (
                        PlanOp::IdentityRevoke,
                        Fingerprint::of_identity(&found, None),
                    ),
                );
            }
        }
        IdentityCommand::Delete {
            target,
            detach,
            remove_role_assignments,
            if_unused,
            ..
        } => {
            let ids = targets(session, target)?;
            let options = DeleteOptions {
                detach: *detach,
                remove_role_assignments: *remove_role_assignments,
                force: true,
            };
            let steps = delete_steps(session, &ids, options, *if_unused, false).await?;
            for (id, steps) in ids.iter().zip(steps) {
                let Some(shown) = dryrun::found(client.identity_show(id).await)? else {
                    continue;
                };
                let detached: Vec<String> = steps
                    .iter()
                    .filter_map(|s| match s {
                        Step::Detach { resource } => Some(resource.clone()),
                        _ => None,
                    })
                    .collect();
                // Without --detach or --if-unused, az deletes an attached identity too.
                let attached = (*detach || *if_unused).then_some(detached);
                let identity_id = id.id();
                for step in steps {
                    match step {
                        Step::Detach { resource } => {
                            let block = client.resource_show(&resource).await?;
                            draft.add(
                                Change::Update,
                                resource,
                                vec![format!("- identity {identity_id}")],
                                (
                                    PlanOp::Detach {
                                        identity: identity_id.clone(),
                                    },
                                    Fingerprint::of_block(block.identity.as_ref()),
                                ),
                            )
                        }
                        Step::Unassign { assignment } => draft.add(
                            Change::Delete,
                            assignment,
                            Vec::new(),
                            (
                                PlanOp::Unassign {
                                    identity: identity_id.clone(),
                                },
                                Fingerprint::Exists,
                            ),
                        ),
                        Step::Delete => draft.add(
                            Change::Delete,
                            identity_id.clone(),
                            Vec::new(),
                            (
                                PlanOp::IdentityDelete,
                                Fingerprint::of_identity(&shown, attached.clone()),
                            ),
                        ),
                    }
                }
            }
        }
        IdentityCommand::FederatedCredential(
            CredentialCommand::Create {
                credential: c,
                spec: s,
                ..
            }
            | CredentialCommand::Update {
                credential: c,
                spec: s,
                ..
            },
        ) => {
            let id = IdentityRef::new(
                &session.subscription,
                group(&c.resource_group)?,
                &c.identity_name,
            )?;
            let spec = CredentialSpec {
                issuer: s.issuer.clone(),
                subject: s.subject.clone(),
                audiences: s.audiences.clone(),
            };
            dryrun::credential_put(client, &mut draft, &id, &c.name, &spec).await?;
        }
        IdentityCommand::FederatedCredential(CredentialCommand::Delete {
            credential: c, ..
        }) => {
            let id = IdentityRef::new(
                &session.subscription,
                group(&c.resource_group)?,
                &c.identity_name,
            )?;
            if let Some(old) = dryrun::found(client.credential_show(&id, &c.name).await)? {
                let fingerprint = Fingerprint::Credential {
                    issuer: old.properties.issuer.clone(),
                    subject: old.properties.subject.clone(),
                    audiences: old.properties.audiences.clone(),
                };
                draft.add(
                    Change::Delete,
                    old.id,
                    Vec::new(),
                    (PlanOp::CredentialDelete, fingerprint),
                );
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(draft))
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
            let id = identity(group(&c.resource_group)?, &c.identity_name)?;
            let (made, _) = client.credential_put(&id, &c.name, spec(s)).await?;
            out.print(&credential_json(&made))?;
        }
        CredentialCommand::Show { credential: c, .. } => {
            let id = identity(group(&c.resource_group)?, &c.identity_name)?;
            match client.credential_show(&id, &c.name).await {
                Ok(found) => out.print(&credential_json(&found))?,
                Err(e) if e.is_not_found() => return Err(Error::NotFound(e)),
                Err(e) => return Err(e.into()),
            }
        }
        CredentialCommand::Delete { credential: c, .. } => {
            let id = identity(group(&c.resource_group)?, &c.identity_name)?;
            client.credential_delete(&id, &c.name).await?;
        }
        CredentialCommand::List {
            identity_name,
            resource_group,
            ..
        } => {
            let id = identity(group(&resource_group)?, &identity_name)?;
            let all = client.credential_list(&id).await?;
            out.print(&Value::Array(all.iter().map(credential_json).collect()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The resource group given with `-g`, or filled in from the default group.
fn group(given: &Option<String>) -> Result<&str, Error> {
    given.as_deref().ok_or_else(|| {
        Error::Usage(
            "no resource group: pass -g RESOURCE_GROUP, or set a default with AZURE_DEFAULTS_GROUP or `az configure --defaults group=NAME`".into(),
        )
    })
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
            "name the identity with -g RESOURCE_GROUP -n NAME (or -n NAME and a default group), or with --ids ID".into(),
        )),
    }
}
