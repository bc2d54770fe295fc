//! Turns what a dry-run recorded (`host::plan::Plan`) into the steps of a plan file: the
//! would-fail marks, and which delete each detach or unassign prepares.

use super::PlanError;
use super::file::{CreatedBy, PlanFile, Scope, Source, subscription_of};
use super::step::{Op, Step, WouldFail};
use crate::host::plan::Plan;

/// The plan file of a recorded plan; `subscription` is the one the run was in. A line that
/// carries no request (nothing apply could send) is refused, naming it.
pub fn plan_file(
    plan: &Plan,
    subscription: &str,
    created_by: CreatedBy,
    source: Source,
) -> Result<PlanFile, PlanError> {
    let mut steps = Vec::new();
    for (index, item) in plan.items().iter().enumerate() {
        let Some((op, fingerprint)) = item.step.clone() else {
            return Err(PlanError::Invalid(format!(
                "the plan's change to {} cannot be written to a plan file: apply could not carry it out",
                crate::output::printable(&item.id)
            )));
        };
        let denied = item.denied.as_ref().map(|d| WouldFail {
            code: "AuthorizationFailed".into(),
            message: format!("the caller may not {} at {}", d.action, d.scope),
        });
        let locked = item.locked.as_ref().map(|scopes| WouldFail {
            code: "ScopeLocked".into(),
            message: format!("a management lock stops it at {}", scopes.join(", ")),
        });
        let would_fail = denied.or(locked);
        steps.push(Step {
            index,
            change: item.change,
            target: item.id.clone(),
            op,
            fingerprint,
            details: item.details.clone(),
            would_fail,
            prepares: None,
        });
    }
    let deletes: Vec<(usize, String)> = steps
        .iter()
        .filter(|s| s.op == Op::IdentityDelete)
        .map(|s| (s.index, s.target.to_lowercase()))
        .collect();
    for step in &mut steps {
        if let Some(identity) = step.op.prepares() {
            let identity = identity.to_lowercase();
            step.prepares = deletes
                .iter()
                .find(|(_, t)| *t == identity)
                .map(|(i, _)| *i);
        }
    }
    let mut subscriptions: Vec<String> = steps
        .iter()
        .filter_map(|s| subscription_of(&s.target))
        .collect();
    if !subscription.is_empty() {
        subscriptions.push(subscription.to_lowercase());
    }
    subscriptions.sort();
    subscriptions.dedup();
    PlanFile::seal(
        super::now_rfc3339(),
        created_by,
        Scope { subscriptions },
        source,
        steps,
    )
}
