//! The `azid` binary: everything lives in the library; this only hands over the arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    azid::run(std::env::args_os())
}
