//! The whole flow: parse the arguments, dispatch, and turn the outcome into an exit code.

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::cli::{ApplyArgs, Cli, Command, Common, EmulatorArgs, ScriptOptions};
use crate::commands::{self, Printer};
use crate::config::Config;
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::Error;
use crate::host::files::Permissions;
use crate::host::{Host, HostOptions, Limits};
use crate::session::Session;

mod placement;

/// Runs azid with these arguments (the first is the program name) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // The command line as a plan file records it (the program name left out).
    let argv: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(both) => both,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let outcome =
        placement::check(&matches, cli.command.as_ref()).and_then(|()| match cli.command {
            Some(Command::Emulator(args)) => emulator(args),
            Some(Command::Plan(c)) => commands::plan::run(c, cli.common.output, cli.common.query),
            Some(Command::Apply(args)) => apply(cli.common, &cli.script, args),
            Some(
                command @ (Command::Identity(_)
                | Command::Group(_)
                | Command::Lock(_)
                | Command::Graph(_)),
            ) => azure(cli.common, &cli.script, command, &argv),
            command => script(cli.common, cli.script, command),
        });
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

/// `azid apply FILE`: the file and its journal are checked, and --yes or a terminal to ask
/// on is required, before anything is sent; `--status` sends nothing at all.
fn apply(top: Common, script: &ScriptOptions, mut args: ApplyArgs) -> Result<ExitCode, Error> {
    let common = top.merge(std::mem::take(&mut args.common));
    if common.subscription.is_some() || common.only_show_errors {
        let name = if common.only_show_errors {
            "only-show-errors"
        } else {
            "subscription"
        };
        return Err(Error::Usage(format!(
            "--{name} does not apply to `azid apply ...`: the plan names its subscriptions, and apply reports every step"
        )));
    }
    args.yes |= script.yes;
    args.concurrency = args.concurrency.or(script.concurrency);
    if args.status && args.yes {
        return Err(Error::Usage(
            "--status only reads the journal; --yes does not apply to it".into(),
        ));
    }
    let json = common.output == Some(crate::output::Format::Json);
    let config = Config::resolve(&common)?;
    init_logging(config.verbosity);
    let printer = Printer {
        format: config.output,
        query: config.query.clone(),
    };
    if args.status {
        return commands::apply::status(&args, json, &printer);
    }
    commands::apply::load(&args.file)?;
    commands::apply::check_can_confirm(&args)?;
    let var = |k: &str| std::env::var(k).ok();
    runtime()?.block_on(async {
        let session = Session::connect(&config, &var, true).await?;
        commands::apply::run(&session, &args, &printer, json).await
    })
}

/// The commands that talk to ARM: resolve, connect, dispatch.
fn azure(
    top: Common,
    script: &ScriptOptions,
    mut command: Command,
    argv: &[String],
) -> Result<ExitCode, Error> {
    let common = top.merge(command.take_common());
    let dry_run = script.dry_run
        || matches!(
            command,
            Command::Identity(crate::cli::IdentityCommand::Revoke { dry_run: true, .. })
        );
    if script.plan_out.is_some() && !dry_run {
        return Err(Error::Usage(
            "--plan-out writes the plan of a dry-run: add --dry-run".into(),
        ));
    }
    let flags = commands::Flags {
        plan_out: script.plan_out.as_deref(),
        argv,
        dry_run: script.dry_run,
        yes: script.yes,
        concurrency: script.concurrency,
        quiet: common.only_show_errors,
    };
    let config = Config::resolve(&common)?;
    init_logging(config.verbosity);
    let printer = Printer {
        format: config.output,
        query: config.query.clone(),
    };
    let var = |k: &str| std::env::var(k).ok();
    if let Some(group) = crate::config::default_group(&var)? {
        command.default_group(&group);
    }
    // A scope given before the subcommand applies to `identity list` (placement refuses it elsewhere).
    if let Command::Identity(crate::cli::IdentityCommand::List { scope, .. }) = &mut command {
        *scope = script.scope.clone().merge(std::mem::take(scope));
    }
    // Resource Graph queries, and lists over more than one subscription, need no current one.
    let lazy = match &command {
        Command::Graph(_) => true,
        Command::Identity(crate::cli::IdentityCommand::List { scope, .. }) => scope.given(),
        _ => false,
    };
    runtime()?.block_on(async {
        let session = Session::connect(&config, &var, lazy).await?;
        match command {
            Command::Graph(c) => commands::graph::run(&session, c, &printer).await,
            Command::Identity(c) => commands::identity::run(&session, c, &printer, flags).await,
            Command::Group(c) => commands::group::run(&session, c, &printer, flags).await,
            Command::Lock(c) => commands::lock::run(&session, c, &printer).await,
            _ => Err(Error::Usage("not an Azure command".into())),
        }
    })
}

/// `run`, `eval`, the REPL, or a script on standard input: Rhai on this thread, the async
/// client (and a `--local` emulator) on the runtime's worker threads.
fn script(
    top: Common,
    top_script: ScriptOptions,
    mut command: Option<Command>,
) -> Result<ExitCode, Error> {
    let (common, options) = match command.as_mut() {
        Some(c) => (
            top.merge(c.take_common()),
            top_script.merge(c.take_script()),
        ),
        None => (top, top_script),
    };
    // Rhai copies and drops nested values recursively: the script's thread gets a stack that
    // holds the deepest value the size limits allow.
    let defaults = Limits::default();
    let stack = crate::host::depth::stack_size(
        options
            .limits
            .max_array_size
            .unwrap_or(defaults.max_array_size),
        options.limits.max_map_size.unwrap_or(defaults.max_map_size),
    );
    std::thread::Builder::new()
        .name("script".into())
        .stack_size(stack)
        .spawn(move || script_on_this_thread(common, options, command))
        .map_err(|e| {
            Error::Usage(format!(
                "could not start the script's thread with a {} MiB stack, which --max-array-size and \
                 --max-map-size call for (lower them): {e}",
                stack >> 20
            ))
        })?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs a script command with its options merged.
fn script_on_this_thread(
    common: Common,
    options: ScriptOptions,
    command: Option<Command>,
) -> Result<ExitCode, Error> {
    if common.only_show_errors {
        return Err(Error::Usage(
            "--only-show-errors does not apply to scripts (run, eval, the REPL); it is for the az-style commands".into(),
        ));
    }
    if options.plan_out.is_some() && !options.dry_run {
        return Err(Error::Usage(
            "--plan-out writes the plan of a dry-run: add --dry-run".into(),
        ));
    }
    let config = Config::resolve(&common)?;
    let start_scope = options
        .scope
        .scope()
        .map_err(|e| Error::Usage(crate::error::render_arm(&e)))?;
    // Checked before anything is sent: a bad --allow-read is a usage error.
    if let Some(missing) = options.allow_read.iter().find(|p| !p.exists()) {
        return Err(Error::Usage(format!(
            "--allow-read '{}': no such file or folder",
            missing.display()
        )));
    }
    let permissions = Permissions::new(&options.allow_read, &options.allow_write)
        .map_err(|e| Error::Usage(e.to_string()))?;
    init_logging(config.verbosity);
    let printer = Printer {
        format: config.output,
        query: config.query.clone(),
    };
    let var = |k: &str| std::env::var(k).ok();
    let runtime = runtime()?;
    let session = runtime.block_on(Session::connect(&config, &var, true))?;
    let interactive = std::io::stdin().is_terminal();
    let script_dir = match &command {
        Some(Command::Run { file, .. }) => {
            file.parent().map(|p| p.to_path_buf()).unwrap_or_default()
        }
        _ => std::env::current_dir().unwrap_or_default(),
    };
    let defaults = Limits::default();
    let l = &options.limits;
    let host = Host::new(
        session.client.clone(),
        session.subscription.clone(),
        runtime.handle().clone(),
        HostOptions {
            limits: Limits {
                max_operations: l.max_operations.unwrap_or(defaults.max_operations),
                max_call_depth: l.max_call_depth.unwrap_or(defaults.max_call_depth),
                max_string_size: l.max_string_size.unwrap_or(defaults.max_string_size),
                max_array_size: l.max_array_size.unwrap_or(defaults.max_array_size),
                max_map_size: l.max_map_size.unwrap_or(defaults.max_map_size),
            },
            dry_run: options.dry_run,
            yes: options.yes,
            interactive,
            script_dir: if script_dir.as_os_str().is_empty() {
                ".".into()
            } else {
                script_dir
            },
            concurrency: options.concurrency.map_or(16, |c| c as usize),
            permissions,
            local: session.emulator().is_some(),
            scope: start_scope,
            // A bar on stderr, unless JSON was asked for explicitly (machines read that).
            progress: common.output != Some(crate::output::Format::Json),
        },
    );
    // Ctrl-C (or SIGTERM) stops the script at its next operation and ends any wait inside an
    // API call; a request already sent gets a moment to answer. The handlers are installed
    // here, before any script or prompt runs, so that SIGINT never has its default (fatal)
    // meaning while a command runs. The REPL keeps SIGTERM's: it ends the session.
    let flag = host.interrupt_flag();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let repl =
            interactive && !matches!(command, Some(Command::Run { .. } | Command::Eval { .. }));
        let kinds: &[SignalKind] = if repl {
            &[SignalKind::interrupt()]
        } else {
            &[SignalKind::interrupt(), SignalKind::terminate()]
        };
        for &kind in kinds {
            let mut stream = {
                let _entered = runtime.enter();
                signal(kind).map_err(|source| Error::Io {
                    context: "could not install the Ctrl-C and SIGTERM handlers",
                    source,
                })?
            };
            let flag = flag.clone();
            runtime.spawn(async move {
                while stream.recv().await.is_some() {
                    commands::script::note_signal(kind.as_raw_value());
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    }
    #[cfg(not(unix))]
    runtime.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let plan_out = options.plan_out.as_deref();
    let outcome = match command {
        Some(Command::Run { file, args, .. }) => {
            commands::script::run_file(&host, &file, &args, plan_out)
        }
        Some(Command::Eval { expression, .. }) => {
            commands::script::eval(&host, &expression, &printer, plan_out)
        }
        _ if interactive => {
            let target = match session.emulator() {
                Some(emu) => format!("the local emulator at {}", emu.url()),
                None => session.client.endpoint().to_string(),
            };
            let banner = format!(
                "azid {} - subscription {} on {target}\n:help lists what you can do; Ctrl-D leaves.",
                env!("CARGO_PKG_VERSION"),
                session.subscription
            );
            crate::repl::run(&host, &banner, plan_out)
        }
        _ => commands::script::stdin(&host, &printer, plan_out),
    };
    drop(host);
    drop(session);
    runtime.shutdown_timeout(Duration::from_secs(5));
    outcome
}

/// Logs to stderr: `-v` one line per request, `--debug` everything (tokens never appear).
fn init_logging(verbosity: u8) {
    use tracing::Level;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let targets = match verbosity {
        0 => return,
        1 => Targets::new().with_target("azid", Level::INFO),
        _ => Targets::new()
            .with_target("azid", Level::DEBUG)
            .with_target("azure_identity", Level::DEBUG)
            .with_target("azure_core", Level::DEBUG)
            .with_target("reqwest", Level::DEBUG)
            .with_default(Level::WARN),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init();
}

/// `azid emulator`: serve until Ctrl-C or SIGTERM.
fn emulator(args: EmulatorArgs) -> Result<ExitCode, Error> {
    crate::emulator::check_options(&args.management_groups, &args.subscriptions)
        .map_err(Error::Usage)?;
    // Without a data file, the only groups are the ones given (the root's id is made at start).
    if args.data.is_none()
        && let Some(group) = args
            .callers
            .iter()
            .filter_map(|c| c.management_group.as_deref())
            .find(|g| {
                !args
                    .management_groups
                    .iter()
                    .any(|m| m.name.eq_ignore_ascii_case(g))
            })
    {
        return Err(Error::Usage(format!(
            "--caller names the management group '{group}', which is not a --management-group"
        )));
    }
    let placements = args.subscriptions.clone();
    let options = EmulatorOptions {
        listen: args.listen,
        data: args.data,
        token: args.token,
        subscriptions: args.subscriptions.into_iter().map(|s| s.id).collect(),
        management_groups: args.management_groups,
        placements,
        graph_subscription_limit: args.graph_subscription_limit,
        tls: args.tls,
        ca_path: args.ca_file,
        page_size: args.page_size,
        group_delete_delay: Duration::from_millis(args.group_delete_delay),
        fic_write_delay: Duration::from_millis(args.fic_write_delay),
        replication_delay: Duration::from_millis(args.replication_delay),
        identity_header: args.identity_header,
        latency: args.latency,
        throttle: args.throttle,
        fault_rate: args.fault_rate,
        seed: args.seed,
        callers: args.callers,
        graph_quota: args.graph_quota,
        graph_lag: Duration::from_millis(args.graph_lag),
        tenant_seed: args.seed_tenant,
        request_log: args.request_log,
        ..EmulatorOptions::default()
    };
    let random = options.seed.is_none() && (options.fault_rate > 0.0 || options.latency.is_some());
    runtime()?.block_on(async {
        let emulator = Emulator::start(options).await?;
        if random {
            eprintln!(
                "azid emulator: latency and faults seeded with {0} (replay with --seed {0})",
                emulator.seed()
            );
        }
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
