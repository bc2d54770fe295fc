//! `azid run FILE`, `azid eval EXPR`, and a script on standard input: run Rhai through the
//! host, print what az would (the value of `eval`), the plan of a dry-run, and the outcome.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

use rhai::{Array, Dynamic, Scope};

use super::Printer;
use crate::error::Error;
use crate::host::convert;
use crate::host::plan::Plan;
use crate::host::{Host, Stop};
use crate::plan::file::Source;

/// Exit code of a script stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT: u8 = 130;

/// The last stop signal received (0: none yet), for the exit code of an interrupted script.
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Records the signal that stopped the script (SIGINT or SIGTERM).
pub fn note_signal(signal: i32) {
    LAST_SIGNAL.store(signal, Ordering::SeqCst);
}

/// 128 + the signal that stopped the script, as shells report it; 130 when none is known.
fn interrupted_exit() -> u8 {
    let signal = LAST_SIGNAL.load(Ordering::SeqCst);
    u8::try_from(signal)
        .ok()
        .filter(|s| (1..=64).contains(s))
        .map_or(INTERRUPTED_EXIT, |s| 128 + s)
}

/// A fresh scope holding the script's `ARGS`.
pub fn scope_with_args(args: &[String]) -> Scope<'static> {
    let mut scope = Scope::new();
    let args: Array = args.iter().map(|a| Dynamic::from(a.clone())).collect();
    scope.push_constant("ARGS", args);
    scope
}

/// Where `--plan-out` writes a dry-run's plan, and what made it.
pub type PlanOut<'a> = Option<(&'a Path, Source)>;

/// `azid run FILE [-- ARGS]`.
pub fn run_file(
    host: &Host,
    path: &Path,
    args: &[String],
    plan_out: Option<&Path>,
) -> Result<ExitCode, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("could not read the script {}: {e}", path.display())))?;
    let mut scope = scope_with_args(args);
    let name = path.display().to_string();
    let source = Source {
        command: "run".into(),
        script: Some(name.clone()),
        args: args.to_vec(),
    };
    let outcome = host.run(&mut scope, &name, &text).map(|_| None);
    finish(host, outcome, None, plan_out.map(|p| (p, source)))
}

/// `azid eval EXPR`: prints the value (`null` for `()`).
pub fn eval(
    host: &Host,
    text: &str,
    printer: &Printer,
    plan_out: Option<&Path>,
) -> Result<ExitCode, Error> {
    let mut scope = scope_with_args(&[]);
    let outcome = host.run(&mut scope, "<eval>", text).map(Some);
    let source = Source {
        command: "eval".into(),
        script: Some(text.to_string()),
        args: Vec::new(),
    };
    finish(
        host,
        outcome,
        Some((printer, true)),
        plan_out.map(|p| (p, source)),
    )
}

/// Writes a dry-run's plan as a plan file (see `commands::plan::write`).
pub fn write_plan(host: &Host, plan: &Plan, path: &Path, source: Source) -> Result<(), Error> {
    let state = host.state();
    let subscription = state.subscription.borrow().clone();
    state.runtime.block_on(super::plan::write(
        &state.client,
        plan,
        &subscription,
        source,
        path,
    ))
}

/// A script piped to `azid`: runs it, and prints its final value as `eval` does.
pub fn stdin(host: &Host, printer: &Printer, plan_out: Option<&Path>) -> Result<ExitCode, Error> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| Error::Io {
            context: "could not read the script from standard input",
            source,
        })?;
    let mut scope = scope_with_args(&[]);
    let outcome = host.run(&mut scope, "<stdin>", &text).map(Some);
    let source = Source {
        command: "stdin".into(),
        script: Some(text.clone()),
        args: Vec::new(),
    };
    finish(
        host,
        outcome,
        Some((printer, false)),
        plan_out.map(|p| (p, source)),
    )
}

/// Prints a value (with the printer; `()` as `null` when asked), the plan, or the failure,
/// and decides the exit code: a dry-run whose plan holds changes that would fail exits 1.
/// The plan of a script that ran to its end is written to `--plan-out`; an incomplete one
/// is not.
fn finish(
    host: &Host,
    outcome: Result<Option<Dynamic>, Stop>,
    printer: Option<(&Printer, bool)>,
    plan_out: PlanOut<'_>,
) -> Result<ExitCode, Error> {
    let mut succeeded = false;
    let code = match outcome {
        Ok(value) => {
            if let (Some((printer, unit_is_null)), Some(value)) = (printer, value)
                && (unit_is_null || !value.is_unit())
            {
                let json = convert::to_json(&value)
                    .map_err(|e| Error::Usage(format!("the result cannot be printed: {e}")))?;
                printer.print(&json)?;
            }
            succeeded = true;
            ExitCode::SUCCESS
        }
        Err(Stop::Exit(code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(Stop::Interrupted) => {
            eprintln!("{}", crate::host::bulk::interruption_report(host.done()));
            ExitCode::from(interrupted_exit())
        }
        Err(Stop::Failed(rendered)) => {
            eprint!("{rendered}");
            ExitCode::FAILURE
        }
    };
    if host.dry_run() {
        let plan = host.take_plan();
        print!("{plan}");
        if let Some((path, source)) = plan_out {
            if succeeded {
                write_plan(host, &plan, path, source)?;
            } else {
                eprintln!(
                    "No plan was written to {}: the script did not run to its end.",
                    path.display()
                );
            }
        }
        if succeeded && plan.failing() > 0 {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(code)
}
