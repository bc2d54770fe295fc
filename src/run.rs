//! The whole flow: parse the arguments, dispatch, and turn the outcome into an exit code.

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

use crate::cli::{Cli, Command, EmulatorArgs};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::Error;

/// Runs azid with these arguments (the first is the program name) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let outcome = match cli.command {
        Command::Emulator(args) => emulator(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "could not start the async runtime",
            source,
        })
}

/// `azid emulator`: serve until Ctrl-C or SIGTERM.
fn emulator(args: EmulatorArgs) -> Result<ExitCode, Error> {
    let options = EmulatorOptions {
        listen: args.listen,
        data: args.data,
        token: args.token,
        subscriptions: args.subscriptions,
        tls: args.tls,
        ca_path: args.ca_file,
        page_size: args.page_size,
        group_delete_delay: Duration::from_millis(args.group_delete_delay),
        identity_header: args.identity_header,
    };
    runtime()?.block_on(async {
        let emulator = Emulator::start(options).await?;
        let mut out = std::io::stdout().lock();
        out.write_all(emulator.banner().as_bytes())
            .and_then(|()| out.flush())
            .map_err(|source| Error::Io {
                context: "could not write to stdout",
                source,
            })?;
        drop(out);
        shutdown_signal().await;
        drop(emulator);
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
