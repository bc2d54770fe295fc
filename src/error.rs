//! The top-level error: what went wrong at the edge, its exit code, and its one rendering.

use std::process::ExitCode;

use crate::emulator::EmulatorError;

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
}

impl Error {
    /// The exit code az uses for this kind of failure (1: error).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }

    /// Writes `ERROR: message` to stderr, as az does.
    pub fn report(&self) {
        eprintln!("ERROR: {self}");
    }
}
