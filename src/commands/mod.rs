//! The az-compatible commands, one file per noun. Each takes a connected `Session` and
//! the parsed subcommand, prints what az would print, and returns the exit code.

pub mod apply;
pub mod dryrun;
pub mod graph;
pub mod group;
pub mod identity;
pub mod lock;
pub mod plan;
pub mod script;

use serde_json::Value;

use crate::error::Error;
use crate::output::{self, Format};

/// How results are printed.
#[derive(Debug, Clone)]
pub struct Printer {
    /// `-o`.
    pub format: Format,
    /// `--query`.
    pub query: Option<String>,
}

impl Printer {
    /// Prints one result.
    pub fn print(&self, value: &Value) -> Result<(), Error> {
        output::emit(value, self.format, self.query.as_deref()).map_err(Error::from)
    }
}

/// The options of `--dry-run`, `--yes` and `--concurrency` as they apply to an Azure command,
/// wherever on the command line they were given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    /// `--plan-out`: where the plan of `--dry-run` is written as a plan file.
    pub plan_out: Option<&'a std::path::Path>,
    /// The command line, recorded in a plan file.
    pub argv: &'a [String],
    /// Plan the writes instead of sending them.
    pub dry_run: bool,
    /// Answer yes to confirmations.
    pub yes: bool,
    /// Most requests in flight for `--ids` (default 16).
    pub concurrency: Option<u32>,
    /// `--only-show-errors`: no warnings.
    pub quiet: bool,
}

/// The tags of `--tags`, or `None` when the option was not given (an update keeps the old ones).
pub fn tags_given(
    args: &[String],
) -> Result<Option<std::collections::BTreeMap<String, String>>, Error> {
    if args.is_empty() {
        Ok(None)
    } else {
        parse_tags(args).map(Some)
    }
}

/// `--tags` as az takes it: `key=value key2=` ..., `""` for none, or one JSON object of strings.
pub fn parse_tags(args: &[String]) -> Result<std::collections::BTreeMap<String, String>, Error> {
    if let [one] = args
        && one.trim_start().starts_with('{')
    {
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_str(one).map_err(|e| {
                Error::Usage(format!(
                    "--tags '{one}' is not a JSON object of string values: {e}"
                ))
            })?;
        crate::arm::names::tags(&map)?;
        return Ok(map);
    }
    Ok(crate::arm::names::parse_tags(args)?)
}

/// Writes the plan of an az-style command's `--dry-run` to `--plan-out`, when given.
pub async fn write_plan(
    session: &crate::session::Session,
    draft: &dryrun::Draft,
    flags: Flags<'_>,
) -> Result<(), Error> {
    let Some(path) = flags.plan_out else {
        return Ok(());
    };
    let source = crate::plan::file::Source {
        command: "command".into(),
        script: None,
        args: flags.argv.to_vec(),
    };
    plan::write(
        &session.client,
        draft.plan(),
        &session.subscription,
        source,
        path,
    )
    .await
}

/// Refuses `--plan-out` on a command that writes nothing.
pub fn no_plan_out(flags: Flags<'_>) -> Result<(), Error> {
    match flags.plan_out {
        Some(_) => Err(Error::Usage(
            "--plan-out applies to commands that write; this one only reads".into(),
        )),
        None => Ok(()),
    }
}

/// Listens for Ctrl-C during a bulk run: it sets `interrupted` and `stop` (which the run
/// obeys) instead of ending the process. The handler is in place when this returns, so Ctrl-C
/// never has its default (fatal) meaning once the run starts; abort the task after the run.
pub(crate) fn on_ctrl_c(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    use std::sync::atomic::Ordering;
    #[cfg(unix)]
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|source| Error::Io {
            context: "could not install the Ctrl-C handler",
            source,
        })?;
    Ok(tokio::spawn(async move {
        #[cfg(unix)]
        let heard = sigint.recv().await.is_some();
        #[cfg(not(unix))]
        let heard = tokio::signal::ctrl_c().await.is_ok();
        if heard {
            interrupted.store(true, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
        }
    }))
}
