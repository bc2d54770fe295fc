//! Runs a plan file's steps, exactly those, in waves of a safe order (groups, identities,
//! their credentials and roles, then what prepares deletes, the deletes, group deletes).
//! Each wave's targets are re-read in one batch and compared with the fingerprints; what
//! drifted is not touched and what depends on it is skipped. The rest goes through the bulk
//! engine (concurrency, retries, per-item results, progress), each step journalled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::PlanError;
use super::check::{self, Verdict};
use super::file::PlanFile;
use super::journal::{Entry, Journal, Outcome, Progress};
use super::step::{Op, Step};
use crate::arm::bulk::{self, Progress as Bar};
use crate::arm::federated::CredentialSpec;
use crate::arm::{ArmClient, ArmError, GroupCreate, IdentityCreate, IdentityRef};

/// How one step ended, in this run or an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// How.
    pub outcome: Outcome,
    /// The HTTP status of its last answer, when known.
    pub status: Option<u16>,
    /// What happened.
    pub detail: String,
    /// The run it ended in.
    pub run: u32,
}

/// How an apply runs.
#[derive(Clone)]
pub struct Settings {
    /// Most requests in flight.
    pub concurrency: usize,
    /// A progress bar, if any.
    pub progress: Option<Arc<dyn Bar>>,
    /// Set by Ctrl-C: nothing new starts.
    pub stop: Arc<AtomicBool>,
}

/// One result per step (`None`: not started, the apply was stopped first).
pub type Results = Vec<Option<StepResult>>;

fn end(
    journal: &Journal,
    results: &mut Results,
    step: usize,
    outcome: Outcome,
    status: Option<u16>,
    detail: String,
) -> Result<(), PlanError> {
    journal.write(&Entry::Ended {
        step,
        outcome,
        status,
        detail: detail.clone(),
        run: journal.run(),
    })?;
    if let Some(slot) = results.get_mut(step) {
        *slot = Some(StepResult {
            outcome,
            status,
            detail,
            run: journal.run(),
        });
    }
    Ok(())
}

fn went_ahead(result: &Option<StepResult>) -> bool {
    matches!(
        result,
        Some(StepResult {
            outcome: Outcome::Done | Outcome::AlreadyDone,
            ..
        })
    )
}

/// Applies `plan`, continuing from `earlier` (what its journal says), recording in `journal`.
pub async fn apply(
    client: &ArmClient,
    plan: &PlanFile,
    journal: Arc<Journal>,
    earlier: &Progress,
    settings: &Settings,
) -> Result<Results, PlanError> {
    let steps = &plan.steps;
    let mut results: Results = steps
        .iter()
        .map(|s| {
            earlier
                .ended
                .get(&s.index)
                .filter(|(o, ..)| o.is_final())
                .map(|(outcome, status, detail, run)| StepResult {
                    outcome: *outcome,
                    status: *status,
                    detail: detail.clone(),
                    run: *run,
                })
        })
        .collect();
    // The resources the plan detaches each identity from: not a drift when found attached.
    let mut detached: HashMap<String, Vec<String>> = HashMap::new();
    for s in steps {
        if let Op::Detach { identity } = &s.op {
            detached
                .entry(identity.to_lowercase())
                .or_default()
                .push(s.target.to_lowercase());
        }
    }
    let detached_of = |s: &Step| -> Vec<String> {
        detached
            .get(&s.target.to_lowercase())
            .cloned()
            .unwrap_or_default()
    };
    let mut waves: BTreeMap<u8, Vec<&Step>> = BTreeMap::new();
    for s in steps {
        waves.entry(s.op.wave()).or_default().push(s);
    }
    for (wave, members) in waves {
        if settings.stop.load(Ordering::SeqCst) {
            break;
        }
        // A delete whose identity drifted is checked before the steps that prepare it run,
        // so that they are skipped with it.
        if wave == 3 {
            let mut prepared: Vec<&Step> = Vec::new();
            for s in &members {
                if let Some(d) = s.prepares
                    && results[d].is_none()
                    && results[s.index].is_none()
                    && !prepared.iter().any(|p| p.index == d)
                    && let Some(delete) = steps.get(d)
                {
                    prepared.push(delete);
                }
            }
            let seen = check::observe(
                client,
                &prepared,
                settings.concurrency,
                settings.stop.clone(),
            )
            .await;
            for (delete, now) in prepared.iter().zip(seen) {
                let in_flight = earlier.in_flight.contains(&delete.index);
                if let Ok(now) = now
                    && let Verdict::Drifted(what) =
                        check::decide(delete, &now, in_flight, &detached_of(delete))
                {
                    end(
                        &journal,
                        &mut results,
                        delete.index,
                        Outcome::Drifted,
                        None,
                        what,
                    )?;
                }
            }
        }
        let mut pending: Vec<&Step> = Vec::new();
        for s in members {
            if results[s.index].is_some() {
                continue;
            }
            if let Op::WithGroup { group } = &s.op {
                let group_step = steps
                    .iter()
                    .find(|g| g.op == Op::GroupDelete && g.target.eq_ignore_ascii_case(group));
                let ok = group_step.is_some_and(|g| went_ahead(&results[g.index]));
                let (outcome, detail) = if ok {
                    (Outcome::Done, "went with its resource group".to_string())
                } else {
                    (
                        Outcome::Skipped,
                        "its resource group was not deleted".to_string(),
                    )
                };
                end(&journal, &mut results, s.index, outcome, None, detail)?;
                continue;
            }
            if let Some(d) = s.prepares
                && matches!(&results[d], Some(r) if !matches!(r.outcome, Outcome::Done | Outcome::AlreadyDone))
            {
                end(
                    &journal,
                    &mut results,
                    s.index,
                    Outcome::Skipped,
                    None,
                    format!("the delete it prepares (step {d}) does not go ahead"),
                )?;
                continue;
            }
            if s.op == Op::IdentityDelete {
                let blocked = steps
                    .iter()
                    .find(|p| p.prepares == Some(s.index) && !went_ahead(&results[p.index]));
                if let Some(p) = blocked {
                    end(
                        &journal,
                        &mut results,
                        s.index,
                        Outcome::Skipped,
                        None,
                        format!("step {} that prepares it did not succeed", p.index),
                    )?;
                    continue;
                }
            }
            pending.push(s);
        }
        let seen = check::observe(
            client,
            &pending,
            settings.concurrency,
            settings.stop.clone(),
        )
        .await;
        let mut send: Vec<Step> = Vec::new();
        for (s, now) in pending.iter().zip(seen) {
            let in_flight = earlier.in_flight.contains(&s.index);
            match now.map(|now| check::decide(s, &now, in_flight, &detached_of(s))) {
                // Not re-checked because Ctrl-C came first: left for the next apply.
                Err(_) if settings.stop.load(Ordering::SeqCst) => {}
                Err(e) => end(
                    &journal,
                    &mut results,
                    s.index,
                    Outcome::Failed,
                    e.status(),
                    format!("could not re-check it: {}", crate::error::render_arm(&e)),
                )?,
                Ok(Verdict::Achieved(what)) => {
                    let outcome = if in_flight {
                        Outcome::Done
                    } else {
                        Outcome::AlreadyDone
                    };
                    end(&journal, &mut results, s.index, outcome, None, what)?;
                }
                Ok(Verdict::Drifted(what)) => {
                    end(
                        &journal,
                        &mut results,
                        s.index,
                        Outcome::Drifted,
                        None,
                        what,
                    )?;
                }
                Ok(Verdict::Proceed) => send.push((*s).clone()),
            }
        }
        if send.is_empty() {
            continue;
        }
        let indices: Vec<usize> = send.iter().map(|s| s.index).collect();
        let (client2, journal2, stop) = (client.clone(), journal.clone(), settings.stop.clone());
        let items = bulk::run(
            send,
            settings.concurrency,
            settings.stop.clone(),
            settings.progress.clone(),
            move |step| {
                let (client, journal, stop) = (client2.clone(), journal2.clone(), stop.clone());
                async move {
                    let journal_failed = |e: PlanError| {
                        stop.store(true, Ordering::SeqCst);
                        ArmError::invalid(
                            "journal",
                            e.to_string(),
                            "the journal could not be written; the apply stops",
                        )
                    };
                    journal
                        .write(&Entry::Started { step: step.index })
                        .map_err(journal_failed)?;
                    let sent = execute(&client, &step).await;
                    let (outcome, status, detail) = match &sent {
                        Ok((status, detail)) => (Outcome::Done, *status, detail.clone()),
                        Err(e) => (Outcome::Failed, e.status(), crate::error::render_arm(e)),
                    };
                    journal
                        .write(&Entry::Ended {
                            step: step.index,
                            outcome,
                            status,
                            detail: detail.clone(),
                            run: journal.run(),
                        })
                        .map_err(journal_failed)?;
                    Ok((outcome, status, detail))
                }
            },
        )
        .await;
        for (index, item) in indices.into_iter().zip(items) {
            let run = journal.run();
            results[index] = match item.outcome {
                bulk::Outcome::Done((outcome, status, detail)) => Some(StepResult {
                    outcome,
                    status,
                    detail,
                    run,
                }),
                // Only a journal that cannot be written fails an item here.
                bulk::Outcome::Failed(e) => {
                    return Err(PlanError::Invalid(crate::error::render_arm(&e)));
                }
                bulk::Outcome::NotStarted => None,
            };
        }
    }
    journal.sync()?;
    Ok(results)
}

/// Sends one step; the status of the answer that ended it, and what it did.
async fn execute(client: &ArmClient, step: &Step) -> Result<(Option<u16>, String), ArmError> {
    let target = step.target.as_str();
    match &step.op {
        Op::IdentityPut {
            location,
            tags,
            isolation_scope,
        } => {
            let id = IdentityRef::parse(target)?;
            let create = IdentityCreate {
                location: location.clone(),
                tags: tags.clone(),
                isolation_scope: isolation_scope.clone(),
            };
            let (_, created) = client.identity_put(&id, &create).await?;
            Ok(if created {
                (Some(201), "created".into())
            } else {
                (Some(200), "updated".into())
            })
        }
        Op::IdentityTags { tags } => {
            client
                .identity_update_tags(&IdentityRef::parse(target)?, tags)
                .await?;
            Ok((Some(200), "tags replaced".into()))
        }
        Op::IdentityRevoke => {
            client
                .identity_revoke_tokens(&IdentityRef::parse(target)?)
                .await?;
            Ok((Some(200), "tokens revoked".into()))
        }
        Op::IdentityDelete => {
            let deleted = client.identity_delete(&IdentityRef::parse(target)?).await?;
            Ok(if deleted {
                (Some(200), "deleted".into())
            } else {
                (Some(204), "was already gone".into())
            })
        }
        Op::Detach { identity } => {
            let version = client.resource_api_version(target).await?;
            client.resource_detach(target, identity, &version).await?;
            Ok((Some(200), format!("detached {identity}")))
        }
        Op::Unassign { .. } => {
            let deleted = client.role_assignment_delete(target).await?;
            Ok((
                Some(if deleted { 200 } else { 204 }),
                "role assignment removed".into(),
            ))
        }
        Op::RoleAssign {
            identity,
            role_definition_id,
            scope,
        } => {
            let principal = client
                .identity_show(&IdentityRef::parse(identity)?)
                .await?
                .properties
                .principal_id;
            let made = client
                .role_assign(scope, role_definition_id, &principal)
                .await?;
            Ok((Some(201), format!("assigned as {}", made.id)))
        }
        Op::CredentialPut {
            issuer,
            subject,
            audiences,
        } => {
            let (id, name) = check::credential_target(target)?;
            let spec = CredentialSpec {
                issuer: issuer.clone(),
                subject: subject.clone(),
                audiences: audiences.clone(),
            };
            client.credential_put(&id, &name, spec).await?;
            Ok((Some(200), "credential written".into()))
        }
        Op::CredentialDelete => {
            let (id, name) = check::credential_target(target)?;
            let deleted = client.credential_delete(&id, &name).await?;
            Ok((
                Some(if deleted { 200 } else { 204 }),
                "credential deleted".into(),
            ))
        }
        Op::GroupPut { location, tags } => {
            let (sub, name) = check::group_target(target)?;
            let create = GroupCreate {
                location: location.clone(),
                tags: tags.clone(),
            };
            client.group_create(&sub, &name, &create).await?;
            Ok((Some(200), "group written".into()))
        }
        Op::GroupDelete => {
            let (sub, name) = check::group_target(target)?;
            client.group_delete(&sub, &name, false).await?;
            Ok((Some(200), "group deleted".into()))
        }
        Op::WithGroup { .. } => Ok((None, "went with its resource group".into())),
    }
}
