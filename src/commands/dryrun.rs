//! `--dry-run` for the az-style commands that write: reads are sent, and the writes they
//! would make are printed as the scripts' plan (`+ / ~ / -` lines, then the counts), with
//! the tag changes of an update under its line. A write that would change nothing is left out.

use std::collections::BTreeMap;

use crate::arm::federated::CredentialSpec;
use crate::arm::{ArmClient, ArmError, IdentityRef};
use crate::host::plan::{Change, Plan};
use crate::plan::step::{Fingerprint, Op};

/// A plan being drawn up, with detail lines per change.
#[derive(Debug, Default)]
pub struct Draft {
    plan: Plan,
    details: Vec<Vec<String>>,
}

impl Draft {
    /// Records a change, the lines printed under it, and what apply sends and relies on.
    pub fn add(
        &mut self,
        change: Change,
        id: impl Into<String>,
        details: Vec<String>,
        step: (Op, Fingerprint),
    ) {
        self.plan
            .record_step(change, id, Some(step), details.clone());
        self.details.push(details);
    }

    /// Marks the changes a management lock would stop (one lock list per subscription).
    pub async fn mark_locks(&mut self, client: &ArmClient) {
        let mut cache = crate::host::locks::LockCache::new();
        crate::host::locks::mark_plan(client, &mut self.plan, &mut cache).await;
    }

    /// How many changes would fail.
    pub fn failing(&self) -> usize {
        self.plan.failing()
    }

    /// The plan drawn up.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan as printed: each change, its details indented, then the counts.
    pub fn render(&self) -> String {
        let text = self.plan.to_string();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            out.push_str(line);
            out.push('\n');
            for detail in self.details.get(i).into_iter().flatten() {
                out.push_str("    ");
                out.push_str(detail);
                out.push('\n');
            }
        }
        out
    }
}

/// A dry run's exit code: 1 when a planned change would fail (as a script's dry run), else 0.
pub fn dry_run_code(draft: &Draft) -> std::process::ExitCode {
    if draft.failing() > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// The lines saying how tags change from `old` to `new`; empty when they are equal.
pub fn tag_diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, v) in new {
        match old.get(k) {
            None => lines.push(format!("+ tag {k}={v}")),
            Some(was) if was != v => lines.push(format!("~ tag {k}: {was} -> {v}")),
            Some(_) => {}
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            lines.push(format!("- tag {k}={v}"));
        }
    }
    lines
}

/// `Ok(None)` for a 404, the value otherwise.
pub fn found<T>(result: Result<T, ArmError>) -> Result<Option<T>, ArmError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Plans a create-or-update of an identity with these tags (and isolation scope, and the
/// location given for a create).
pub async fn identity_put(
    client: &ArmClient,
    draft: &mut Draft,
    id: &IdentityRef,
    tags: &BTreeMap<String, String>,
    isolation_scope: Option<&str>,
    location: Option<&str>,
) -> Result<(), ArmError> {
    match found(client.identity_show(id).await)? {
        None => draft.add(
            Change::Create,
            id.id(),
            Vec::new(),
            (
                Op::IdentityPut {
                    location: location.map(str::to_string),
                    tags: tags.clone(),
                    isolation_scope: isolation_scope.map(str::to_string),
                },
                Fingerprint::Absent,
            ),
        ),
        Some(old) => {
            let mut details = tag_diff(&old.tags, tags);
            let was = old.properties.isolation_scope.as_deref().unwrap_or("None");
            if let Some(scope) = isolation_scope.filter(|s| *s != was) {
                details.push(format!("~ isolationScope: {was} -> {scope}"));
            }
            // A new isolation scope takes a PUT that keeps the location; tags alone a PATCH.
            let op = match isolation_scope {
                Some(scope) => Op::IdentityPut {
                    location: Some(old.location.clone()),
                    tags: tags.clone(),
                    isolation_scope: Some(scope.to_string()),
                },
                None => Op::IdentityTags { tags: tags.clone() },
            };
            if !details.is_empty() {
                let fingerprint = Fingerprint::of_identity(&old, None);
                draft.add(Change::Update, old.id, details, (op, fingerprint));
            }
        }
    }
    Ok(())
}

/// Plans a create-or-update of a federated credential.
pub async fn credential_put(
    client: &ArmClient,
    draft: &mut Draft,
    id: &IdentityRef,
    name: &str,
    spec: &CredentialSpec,
) -> Result<(), ArmError> {
    let spec = spec.clone().validated()?;
    let op = Op::CredentialPut {
        issuer: spec.issuer.clone(),
        subject: spec.subject.clone(),
        audiences: spec.audiences.clone(),
    };
    match found(client.credential_show(id, name).await)? {
        None => draft.add(
            Change::Create,
            format!("{}/federatedIdentityCredentials/{name}", id.id()),
            Vec::new(),
            (op, Fingerprint::Absent),
        ),
        Some(old) => {
            let p = &old.properties;
            let mut details = Vec::new();
            if p.issuer != spec.issuer {
                details.push(format!("~ issuer: {} -> {}", p.issuer, spec.issuer));
            }
            if p.subject != spec.subject {
                details.push(format!("~ subject: {} -> {}", p.subject, spec.subject));
            }
            if p.audiences != spec.audiences {
                details.push(format!(
                    "~ audiences: {} -> {}",
                    p.audiences.join(","),
                    spec.audiences.join(",")
                ));
            }
            if !details.is_empty() {
                let fingerprint = Fingerprint::Credential {
                    issuer: p.issuer.clone(),
                    subject: p.subject.clone(),
                    audiences: p.audiences.clone(),
                };
                draft.add(Change::Update, old.id, details, (op, fingerprint));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_diff_names_added_changed_and_removed_tags() {
        let old: BTreeMap<String, String> = [("a", "1"), ("b", "2")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let new: BTreeMap<String, String> = [("a", "1"), ("b", "3"), ("c", "")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        assert_eq!(tag_diff(&old, &new), ["~ tag b: 2 -> 3", "+ tag c="]);
        assert!(tag_diff(&old, &old).is_empty());
        assert_eq!(tag_diff(&old, &BTreeMap::new()), ["- tag a=1", "- tag b=2"]);
    }

    #[test]
    fn details_go_under_their_change() {
        let mut draft = Draft::default();
        let tags = (
            Op::IdentityTags {
                tags: BTreeMap::new(),
            },
            Fingerprint::Exists,
        );
        draft.add(Change::Update, "/a", vec!["+ tag x=1".into()], tags);
        draft.add(
            Change::Delete,
            "/b",
            Vec::new(),
            (Op::IdentityDelete, Fingerprint::Exists),
        );
        assert_eq!(
            draft.render(),
            "~ update /a\n    + tag x=1\n- delete /b\nPlan: 0 to create, 1 to update, 1 to delete. Nothing was changed (dry run).\n"
        );
    }
}
