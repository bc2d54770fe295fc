//! `azid plan show FILE`: a plan file for people (the `+ / ~ / -` lines, counts and
//! would-fail marks), as the file itself (`-o json`), or one row per step (`-o table`).
//! Also writes the plan of a dry-run to `--plan-out`.

use std::path::Path;
use std::process::ExitCode;

use crate::arm::ArmClient;
use crate::cli::PlanCommand;
use crate::error::Error;
use crate::host::plan::Plan;
use crate::output::{self, Format};
use crate::plan::file::{CreatedBy, PlanFile, Source};
use crate::plan::{record, render};

/// Runs `azid plan ...`; `format` and `query` given before `plan` apply too.
pub fn run(
    command: PlanCommand,
    format: Option<Format>,
    query: Option<String>,
) -> Result<ExitCode, Error> {
    let PlanCommand::Show {
        file,
        output: local_format,
        query: local_query,
    } = command;
    let plan = PlanFile::load(&file)?;
    let query = local_query.or(query);
    match local_format.or(format) {
        None if query.is_none() => print!("{}", render::text(&plan)),
        Some(Format::Table | Format::Tsv) => output::emit(
            &render::rows(&plan),
            local_format.or(format).unwrap_or(Format::Table),
            query.as_deref(),
        )?,
        other => {
            let value = serde_json::to_value(&plan).map_err(crate::plan::PlanError::Encode)?;
            output::emit(&value, other.unwrap_or(Format::Json), query.as_deref())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a dry-run's plan to `path` (atomically), with who made it and from what.
pub async fn write(
    client: &ArmClient,
    plan: &Plan,
    subscription: &str,
    source: Source,
    path: &Path,
) -> Result<(), Error> {
    let created_by = CreatedBy {
        object_id: client.caller_object_id().await,
        credential: client.credential_name().to_string(),
    };
    let file = record::plan_file(plan, subscription, created_by, source)?;
    file.write(path)?;
    eprintln!(
        "Plan written to {} ({} steps, {}).",
        path.display(),
        file.steps.len(),
        file.digest
    );
    Ok(())
}
