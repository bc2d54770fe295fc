//! `azid apply FILE [--yes] [--status]`: checks the plan file (digest, format version, the
//! subscriptions it names), shows its counts, asks, and applies exactly its steps,
//! continuing from `FILE.journal` when an earlier apply stopped.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Printer;
use crate::cli::ApplyArgs;
use crate::error::Error;
use crate::output;
use crate::plan::apply::{self, Results, Settings, StepResult};
use crate::plan::file::PlanFile;
use crate::plan::journal::{Journal, Progress};
use crate::plan::{PlanError, render};
use crate::session::Session;

/// Exit code of an apply stopped by Ctrl-C.
const INTERRUPTED_EXIT: u8 = 130;

/// A plan file and what its journal says, both checked; nothing is sent.
pub fn load(file: &Path) -> Result<(PlanFile, Progress), Error> {
    let plan = PlanFile::load(file)?;
    let progress = Progress::read(&Journal::path_of(file))?;
    if let Some(other) = progress.plan.as_ref().filter(|p| **p != plan.digest) {
        return Err(PlanError::Invalid(format!(
            "{} belongs to another plan ({other}); move it away to apply this one",
            Journal::path_of(file).display()
        ))
        .into());
    }
    Ok((plan, progress))
}

/// The results a journal records, without sending anything.
fn recorded(plan: &PlanFile, progress: &Progress) -> Results {
    plan.steps
        .iter()
        .map(|s| {
            progress
                .ended
                .get(&s.index)
                .map(|(outcome, status, detail, run)| StepResult {
                    outcome: *outcome,
                    status: *status,
                    detail: detail.clone(),
                    run: *run,
                })
        })
        .collect()
}

/// `azid apply FILE --status`: the journal's progress; sends nothing.
pub fn status(args: &ApplyArgs, json: bool, printer: &Printer) -> Result<ExitCode, Error> {
    let (plan, progress) = load(&args.file)?;
    let results = recorded(&plan, &progress);
    if json {
        printer.print(&render::results_json(&plan, &results))?;
    } else {
        print!(
            "{}",
            render::report(&plan, &results, progress.runs + 1, true)
        );
        if !progress.in_flight.is_empty() {
            println!(
                "{} step(s) were in flight when the last apply stopped; the next apply re-checks them.",
                progress.in_flight.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses, before anything is sent, an apply that could not ask and was not told --yes.
pub fn check_can_confirm(args: &ApplyArgs) -> Result<(), Error> {
    if !args.yes && !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "apply asks before it changes anything, and there is no terminal to ask on: pass --yes"
                .into(),
        ));
    }
    Ok(())
}

fn ask(question: &str) -> bool {
    eprint!("{question} (y/n): ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

/// `azid apply FILE`.
pub async fn run(
    session: &Session,
    args: &ApplyArgs,
    printer: &Printer,
    json: bool,
) -> Result<ExitCode, Error> {
    let (plan, progress) = load(&args.file)?;
    let client = &session.client;
    // Every subscription the plan names must be reachable before the first write.
    for sub in &plan.scope.subscriptions {
        if let Err(e) = client.subscription_show(sub).await {
            return Err(PlanError::Invalid(format!(
                "the plan acts in subscription {sub}, which these credentials cannot reach: {}",
                crate::error::render_arm(&e)
            ))
            .into());
        }
    }
    let c = plan.counts;
    let finished = progress
        .ended
        .values()
        .filter(|(o, ..)| o.is_final())
        .count();
    eprintln!(
        "Plan: {} to create, {} to update, {} to delete{}; made {}.",
        c.create,
        c.update,
        c.delete,
        if c.would_fail > 0 {
            format!(" ({} marked would-fail)", c.would_fail)
        } else {
            String::new()
        },
        plan.created_at
    );
    if finished > 0 {
        eprintln!(
            "{} of {} steps finished in earlier applies (per {}); they are not sent again.",
            finished,
            plan.steps.len(),
            Journal::path_of(&args.file).display()
        );
    }
    if !args.yes && !ask("Apply these steps?") {
        eprintln!("Nothing was changed.");
        return Ok(ExitCode::FAILURE);
    }
    let run = progress.runs.saturating_add(1);
    let journal = Arc::new(Journal::open(
        &Journal::path_of(&args.file),
        &plan.digest,
        run,
        crate::plan::now_rfc3339(),
    )?);
    let stop = client.interrupt_flag();
    let interrupted = Arc::new(AtomicBool::new(false));
    let listener = super::on_ctrl_c(stop.clone(), interrupted.clone())?;
    let settings = Settings {
        concurrency: args.concurrency.map_or(16, |c| c as usize),
        progress: if json { None } else { output::progress_bar() },
        stop,
    };
    let results = apply::apply(client, &plan, journal, &progress, &settings).await;
    listener.abort();
    let results = results?;
    if json {
        printer.print(&render::results_json(&plan, &results))?;
    } else {
        print!("{}", render::report(&plan, &results, run, false));
    }
    if interrupted.load(Ordering::SeqCst) {
        eprintln!("Interrupted: run `azid apply` again to continue.");
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    let [_, _, drifted, skipped, failed, left] = render::tally(&results);
    Ok(if drifted + skipped + failed + left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
