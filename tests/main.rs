//! The one integration-test binary: every test drives a real emulator over HTTP on loopback
//! (in-process through the library, or the `azid` binary as a child process).

mod bulk;
mod cli;
mod cli_auth;
mod cli_flags;
mod conformance;
mod demo;
mod emulator_api;
mod emulator_graph;
mod emulator_realism;
mod emulator_relations;
mod fault_accounting;
mod files;
mod harness;
mod hostile_server;
mod permissions;
mod process;
mod relations;
mod repl;
mod sandbox;
mod scripting;
mod tenant_scope;
mod workflows;
