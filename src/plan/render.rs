//! A plan file and an apply's results for people: the `+ / ~ / -` lines with their details
//! and would-fail marks, the counts, and a table form.

use serde_json::{Value, json};

use super::apply::Results;
use super::file::PlanFile;
use super::journal::Outcome;
use crate::output::printable;

/// The plan as `azid plan show` prints it.
pub fn text(plan: &PlanFile) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        let (mark, verb) = step.change.mark();
        out.push_str(&format!("{mark} {verb} {}", printable(&step.target)));
        if let Some(w) = &step.would_fail {
            out.push_str(&format!(
                "  ! would fail: {} ({})",
                printable(&w.code),
                printable(&w.message)
            ));
        }
        out.push('\n');
        for detail in &step.details {
            out.push_str(&format!("    {}\n", printable(detail)));
        }
    }
    let c = plan.counts;
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete.",
        c.create, c.update, c.delete
    ));
    if c.would_fail > 0 {
        out.push_str(&format!(" {} would fail.", c.would_fail));
    }
    out.push_str(&format!(
        "\nMade {} by {} in {}; digest {}.\n",
        plan.created_at,
        plan.created_by
            .object_id
            .as_deref()
            .unwrap_or("(unknown caller)"),
        plan.scope.subscriptions.join(", "),
        plan.digest
    ));
    out
}

/// One row per step, for `-o table` (and `--query`).
pub fn rows(plan: &PlanFile) -> Value {
    Value::Array(
        plan.steps
            .iter()
            .map(|s| {
                let op = serde_json::to_value(&s.op).unwrap_or(Value::Null);
                json!({
                    "Step": s.index,
                    "Change": s.change.mark().1,
                    "Op": op.get("op").cloned().unwrap_or(Value::Null),
                    "Target": s.target,
                    "WouldFail": s.would_fail.as_ref().map(|w| w.code.clone()),
                })
            })
            .collect(),
    )
}

/// Counts of an apply's results: (done, already done, drifted, skipped, failed, not started).
pub fn tally(results: &Results) -> [usize; 6] {
    let mut t = [0usize; 6];
    for r in results {
        let slot = match r.as_ref().map(|r| r.outcome) {
            Some(Outcome::Done) => 0,
            Some(Outcome::AlreadyDone) => 1,
            Some(Outcome::Drifted) => 2,
            Some(Outcome::Skipped) => 3,
            Some(Outcome::Failed) => 4,
            None => 5,
        };
        t[slot] += 1;
    }
    t
}

/// The summary line of an apply or its status.
pub fn summary(results: &Results) -> String {
    let [done, already, drifted, skipped, failed, left] = tally(results);
    format!(
        "Apply: {done} done, {already} already done, {drifted} drifted, {skipped} skipped, {failed} failed, {left} not started (of {}).",
        results.len()
    )
}

/// One line per step that did not simply succeed in this run, then the summary; with
/// `all`, every step.
pub fn report(plan: &PlanFile, results: &Results, run: u32, all: bool) -> String {
    let mut out = String::new();
    for (step, result) in plan.steps.iter().zip(results) {
        let (mark, verb) = step.change.mark();
        let line = match result {
            None => "not started".to_string(),
            Some(r) => {
                let when = if r.run < run {
                    format!(" (run {})", r.run)
                } else {
                    String::new()
                };
                format!("{}{when}: {}", r.outcome.name(), printable(&r.detail))
            }
        };
        let plain = matches!(result, Some(r) if r.outcome == Outcome::Done && r.run == run);
        if all || !plain {
            out.push_str(&format!(
                "{mark} {verb} {}  {line}\n",
                printable(&step.target)
            ));
        }
    }
    out.push_str(&summary(results));
    out.push('\n');
    out
}

/// The results as JSON, one object per step.
pub fn results_json(plan: &PlanFile, results: &Results) -> Value {
    Value::Array(
        plan.steps
            .iter()
            .zip(results)
            .map(|(s, r)| {
                json!({
                    "step": s.index,
                    "target": s.target,
                    "outcome": r.as_ref().map_or("NotStarted", |r| r.outcome.name()),
                    "status": r.as_ref().and_then(|r| r.status),
                    "detail": r.as_ref().map(|r| r.detail.clone()),
                    "run": r.as_ref().map(|r| r.run),
                })
            })
            .collect(),
    )
}
