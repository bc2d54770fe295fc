//! azid: a scriptable automation host for Azure user-assigned managed identities,
//! with an ARM-compatible emulator so that everything can run offline.
//!
//! The crate map, one line a module:

/// Command-line surface (clap derive only; doc comments are the help text).
pub mod cli;
/// The ARM-compatible emulator: an HTTP server that shares only `model` with the client.
pub mod emulator;
/// The top-level error: its exit code and its rendering, once.
pub mod error;
/// Serde-only JSON shapes of ARM resources, pages and errors.
pub mod model;
/// Parse arguments, dispatch, and turn the outcome into an exit code.
mod run;

pub use run::run;
