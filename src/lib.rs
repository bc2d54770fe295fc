//! azid: a scriptable automation host for Azure user-assigned managed identities,
//! with an ARM-compatible emulator so that everything can run offline.
//!
//! The crate map, one line a module:

/// The ARM client: HTTP, retries, paging, credentials, validation; knows nothing of Rhai.
pub mod arm;
/// Command-line surface (clap derive only; doc comments are the help text).
pub mod cli;
/// The az-compatible `identity` and `group` commands.
pub mod commands;
/// Resolved settings: target, credential choice, subscription, output.
pub mod config;
/// The ARM-compatible emulator: an HTTP server that shares only `model` with the client.
pub mod emulator;
/// The top-level error: its exit code and its rendering, once.
pub mod error;
/// The Rhai host: the scripting API over the ARM client, limits, dry-run, diagnostics.
pub mod host;
/// Serde-only JSON shapes of ARM resources, pages and errors.
pub mod model;
/// Output formats, `--query`, and the az shapes of identities and groups.
pub mod output;
/// Plan files (`--plan-out`), `azid plan show` and `azid apply` with drift checks and a journal.
pub mod plan;
/// The interactive REPL over the Rhai host.
pub mod repl;
/// Parse arguments, dispatch, and turn the outcome into an exit code.
mod run;
/// A connected client and subscription (and the in-process emulator under `--local`).
pub mod session;

pub use run::run;
