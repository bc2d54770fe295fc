//! The az-compatible commands, one file per noun. Each takes a connected `Session` and
//! the parsed subcommand, prints what az would print, and returns the exit code.

pub mod group;
pub mod identity;
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
