//! The top-level error: what went wrong at the edge, its exit code (as az: 1 error,
//! 2 usage, 3 not found on show), and its one rendering, `ERROR: ...` on stderr.

use std::process::ExitCode;

use crate::arm::ArmError;
use crate::config::ConfigError;
use crate::emulator::EmulatorError;
use crate::output::OutputError;

/// A failure that ends the process.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The emulator could not start.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// The async runtime or a stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Settings could not be resolved.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An ARM call failed, or was refused before it was sent.
    #[error(transparent)]
    Arm(#[from] ArmError),
    /// `show` found nothing (exit code 3, as az).
    #[error(transparent)]
    NotFound(ArmError),
    /// Output could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// A plan file could not be written, read or applied.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// Some items of a multi-item command failed (each was reported as it failed).
    #[error("{failed} of {total} items failed")]
    Partial {
        /// How many failed.
        failed: usize,
        /// How many there were.
        total: usize,
    },
}

impl Error {
    /// The exit code az uses for this kind of failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Error::Usage(_) | Error::Arm(ArmError::Invalid { .. }) => 2,
            Error::Config(
                ConfigError::Invalid(_) | ConfigError::Conflict(_) | ConfigError::Query { .. },
            ) => 2,
            Error::Output(OutputError::Query { .. }) => 2,
            Error::NotFound(_) => 3,
            _ => 1,
        })
    }

    /// Writes the error to stderr: `ERROR: (Code) message` for ARM's errors, as az does.
    pub fn report(&self) {
        eprintln!("ERROR: {}", render(self));
    }
}

/// One line for an error; ARM's own errors keep their code in front.
pub fn render(error: &Error) -> String {
    match error {
        Error::Arm(e) | Error::NotFound(e) => render_arm(e),
        other => other.to_string(),
    }
}

/// `(Code) message` for ARM's answers, the plain message for local failures.
pub fn render_arm(e: &ArmError) -> String {
    match e {
        ArmError::Api { code, message, .. } => format!("({code}) {message}"),
        other => other.to_string(),
    }
}
