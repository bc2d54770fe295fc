//! Plan files and their apply: a dry-run's steps written as a sealed JSON file
//! (`--plan-out`), shown (`azid plan show`), and run exactly (`azid apply`), each step
//! re-checked against ARM first and recorded in a journal that a later apply resumes from.
//! Knows ARM through `arm/`, never Rhai.

pub mod apply;
pub mod check;
pub mod file;
pub mod journal;
pub mod record;
pub mod render;
pub mod step;

use std::path::PathBuf;

/// Why a plan file could not be written, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// JSON could not be made.
    #[error("could not encode the plan: {0}")]
    Encode(serde_json::Error),
    /// The file is not a plan this azid applies, or the plan cannot be written as a file.
    #[error("{0}")]
    Invalid(String),
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
