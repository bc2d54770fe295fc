//! Which options given before the subcommand apply to it: those that do not are refused
//! (exit 2) rather than silently ignored.

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::cli::{Command, IdentityCommand};
use crate::error::Error;

/// The options of scripts only, by their argument id.
const SCRIPT_ONLY: [&str; 7] = [
    "allow_read",
    "allow_write",
    "max_operations",
    "max_call_depth",
    "max_string_size",
    "max_array_size",
    "max_map_size",
];

/// The scope options, which only scripts and `identity list` follow.
const SCOPE: [&str; 3] = ["subscriptions", "management_group", "all_subscriptions"];

/// Refuses an option given before the subcommand that the subcommand would not use.
pub fn check(matches: &ArgMatches, command: Option<&Command>) -> Result<(), Error> {
    let given: Vec<&str> = matches
        .ids()
        .map(|id| id.as_str())
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .collect();
    let (name, refused): (&str, Vec<&str>) = match command {
        Some(Command::Emulator(_)) => ("emulator", given),
        Some(Command::Identity(c)) => {
            let delete = matches!(c, IdentityCommand::Delete { .. });
            let list = matches!(c, IdentityCommand::List { .. });
            let refused = given
                .into_iter()
                .filter(|id| {
                    SCRIPT_ONLY.contains(id)
                        || (*id == "concurrency" && !delete)
                        || (SCOPE.contains(id) && !list)
                })
                .collect();
            ("identity", refused)
        }
        Some(Command::Plan(_)) => {
            let refused = given
                .into_iter()
                // Group ids (`Common`, ...) name no option of their own.
                .filter(|id| id.starts_with(|c: char| c.is_ascii_lowercase()))
                .filter(|id| !matches!(*id, "output" | "query"))
                .collect();
            ("plan", refused)
        }
        Some(Command::Apply(_)) => {
            let refused = given
                .into_iter()
                .filter(|id| {
                    SCRIPT_ONLY.contains(id)
                        || matches!(
                            *id,
                            "dry_run" | "plan_out" | "only_show_errors" | "subscription"
                        )
                })
                .collect();
            ("apply", refused)
        }
        Some(Command::Group(_) | Command::Lock(_)) => {
            let refused = given
                .into_iter()
                .filter(|id| SCRIPT_ONLY.contains(id) || SCOPE.contains(id) || *id == "concurrency")
                .collect();
            (
                if matches!(command, Some(Command::Lock(_))) {
                    "lock"
                } else {
                    "group"
                },
                refused,
            )
        }
        Some(Command::Graph(_)) => {
            let refused = given
                .into_iter()
                .filter(|id| SCRIPT_ONLY.contains(id) || SCOPE.contains(id) || *id == "concurrency")
                .collect();
            ("graph", refused)
        }
        _ => return Ok(()),
    };
    match refused.first() {
        None => Ok(()),
        Some(id) => Err(Error::Usage(format!(
            "--{} does not apply to `azid {name} ...`",
            id.replace('_', "-")
        ))),
    }
}
