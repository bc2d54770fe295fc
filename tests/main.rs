//! The one integration-test binary: every test drives a real emulator over HTTP on loopback
//! (in-process through the library, or the `azid` binary as a child process).

mod apply;
mod bulk;
mod cli;
mod cli_auth;
mod cli_flags;
mod conformance;
mod demo;
mod emulator_api;
mod emulator_graph;
mod emulator_locks;
mod emulator_management_groups;
mod emulator_realism;
mod emulator_relations;
mod emulator_seed;
mod fault_accounting;
mod files;
mod harness;
mod hostile_server;
mod locks;
mod permissions;
mod plan_files;
mod process;
mod relations;
mod repl;
mod report;
mod sandbox;
mod scripting;
mod tenant_scope;
mod workflows;
