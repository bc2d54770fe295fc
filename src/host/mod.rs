//! The Rhai host: builds the engine (limits, sandbox, module resolver, Ctrl-C), holds the
//! state the registered functions share, and runs source text. Knows Rhai and calls
//! `arm/`; it never talks HTTP itself. Rhai runs on a plain thread; every API call enters
//! the async client through a tokio runtime handle (`block_on` on that thread, never
//! inside an async task).

pub mod access;
pub mod api;
pub mod beneath;
pub mod bulk;
pub mod census;
pub mod convert;
mod deletes;
pub mod depth;
pub mod diagnostic;
pub mod drift;
pub mod files;
pub mod html;
mod identities;
pub mod locks;
pub mod plan;
mod planned;
pub mod references;
pub mod relations;
pub mod scope;
mod scoped_lists;
pub mod session;
pub mod stdlib;
pub mod tenant_references;
pub mod text;
pub mod time;
pub mod usage;
pub mod workflows;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rhai::{Dynamic, Engine, EvalAltResult, Scope};

use crate::arm::{ArmClient, ArmError};
use diagnostic::Source;
use plan::Plan;

/// Every registered function's documentation: the API table and the relations functions.
pub fn all_docs() -> impl Iterator<Item = &'static api::FnDoc> {
    api::DOCS
        .iter()
        .chain(relations::DOCS)
        .chain(scope::DOCS)
        .chain(usage::DOCS)
}

/// Resource limits of a script (each overridable on the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most operations a script may run before it is stopped.
    pub max_operations: u64,
    /// Deepest nesting of function calls.
    pub max_call_depth: usize,
    /// Longest string, in bytes.
    pub max_string_size: usize,
    /// Most items in one array.
    pub max_array_size: usize,
    /// Most entries in one map.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 500_000_000,
            max_call_depth: 64,
            max_string_size: 64 * 1024 * 1024,
            max_array_size: 5_000_000,
            max_map_size: 5_000_000,
        }
    }
}

/// How a host is set up.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Record writes instead of sending them.
    pub dry_run: bool,
    /// `confirm()` answers yes.
    pub yes: bool,
    /// Whether a person is at a terminal (`confirm()` asks only then).
    pub interactive: bool,
    /// Where `import "x"` finds `x.rhai` when it is not a shipped module.
    pub script_dir: PathBuf,
    /// Most requests in flight for the array forms.
    pub concurrency: usize,
    /// Show a progress bar on stderr during array calls (a terminal, and not `-o json`).
    pub progress: bool,
    /// What `read_*` and `write_text` may reach (`--allow-read`, `--allow-write`).
    pub permissions: files::Permissions,
    /// The client talks to the emulator this process started (`--local`).
    pub local: bool,
    /// The scope at start (`--subscriptions`, `--management-group`, `--all-subscriptions`).
    pub scope: scope::Scope,
}

/// Counts of writes that went through, for the report after an interruption.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Identities or groups created.
    pub created: usize,
    /// Identities updated.
    pub updated: usize,
    /// Identities or groups deleted.
    pub deleted: usize,
    /// Items of array calls never sent because of an interruption.
    pub not_started: usize,
}

/// What the registered functions share.
pub struct HostState {
    /// The ARM client.
    pub client: ArmClient,
    /// Enters the async client from the script's thread.
    pub runtime: tokio::runtime::Handle,
    /// The subscription calls act in (`use_subscription` changes it); empty until one is known.
    pub subscription: RefCell<String>,
    /// Dry-run on or off.
    pub dry_run: Cell<bool>,
    /// What a dry-run recorded.
    pub plan: RefCell<Plan>,
    /// `--yes`.
    pub yes: bool,
    /// A person is at a terminal.
    pub interactive: bool,
    /// Set by Ctrl-C: the script stops at its next operation and bulk calls start nothing new.
    pub interrupted: Arc<AtomicBool>,
    /// Group and identity names seen in results (REPL completion).
    pub seen: RefCell<BTreeSet<String>>,
    /// Whether names are noted for completion (only the REPL completes).
    pub completing: Cell<bool>,
    /// Writes done.
    pub done: Cell<Done>,
    /// Most requests in flight for the array forms (`set_concurrency` changes it).
    pub concurrency: Cell<usize>,
    /// The summary of the last array call.
    pub last_summary: RefCell<Option<crate::arm::bulk::Summary>>,
    /// The results of the last array call that an interruption cut short.
    pub cut_short: RefCell<Option<rhai::Array>>,
    /// Show a progress bar during array calls.
    pub progress: bool,
    /// What `read_*` and `write_text` may reach.
    pub permissions: files::Permissions,
    /// Running against `--local`.
    pub local: bool,
    /// What calls without an explicit subscription act on (`use_scope` changes it).
    pub scope: RefCell<scope::Scope>,
    /// Identities read from Resource Graph rows (lower-case id -> the principal it showed):
    /// a destructive step on one re-reads it from ARM first.
    pub graph_rows: RefCell<std::collections::HashMap<String, String>>,
    /// The tenant's references as last read, for read-only audits that follow.
    pub tenant_wide: RefCell<tenant_references::Kept>,
}

impl HostState {
    /// The current subscription, or the error saying how to set one.
    pub fn subscription(&self) -> Result<String, Box<EvalAltResult>> {
        let sub = self.subscription.borrow();
        if sub.is_empty() {
            return Err(convert::usage_error(
                "no subscription is set: pass --subscription ID, set AZURE_SUBSCRIPTION_ID, choose a default with \
                 `az account set`, or call use_subscription(id)",
            ));
        }
        Ok(sub.clone())
    }

    /// Runs an async client call to completion from the script's thread.
    pub fn block_on<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, ArmError>>,
    ) -> Result<T, Box<EvalAltResult>> {
        self.runtime.block_on(fut).map_err(convert::arm_error)
    }

    /// Notes a name for completion.
    pub fn saw(&self, name: &str) {
        if self.completing.get() {
            self.seen.borrow_mut().insert(name.to_string());
        }
    }

    /// Counts a write.
    pub fn count(&self, f: impl FnOnce(&mut Done)) {
        let mut d = self.done.get();
        f(&mut d);
        self.done.set(d);
    }
}

/// How a script ended, other than with a value.
#[derive(Debug)]
pub enum Stop {
    /// It called `exit(n)`.
    Exit(i32),
    /// Ctrl-C stopped it.
    Interrupted,
    /// It failed; the rendered diagnostic.
    Failed(String),
}

/// An engine with the azid API, ready to run scripts.
pub struct Host {
    engine: Rc<Engine>,
    state: Rc<HostState>,
    resolver: Rc<stdlib::Resolver>,
}

/// The `ErrorTerminated` token of Ctrl-C (an `exit(n)` carries an integer instead).
const INTERRUPTED: &str = "interrupted";

impl Host {
    /// Builds the engine; `runtime` must outlive the host.
    pub fn new(
        client: ArmClient,
        subscription: String,
        runtime: tokio::runtime::Handle,
        options: HostOptions,
    ) -> Self {
        // The client's own stop flag: Ctrl-C then also ends any wait inside an API call.
        let interrupted = client.interrupt_flag();
        let subscription = scope::current_for(&options.scope, subscription);
        let state = Rc::new(HostState {
            client,
            runtime,
            subscription: RefCell::new(subscription),
            dry_run: Cell::new(options.dry_run),
            plan: RefCell::new(Plan::default()),
            yes: options.yes,
            interactive: options.interactive,
            interrupted: interrupted.clone(),
            seen: RefCell::new(BTreeSet::new()),
            completing: Cell::new(false),
            done: Cell::new(Done::default()),
            concurrency: Cell::new(options.concurrency.max(1)),
            last_summary: RefCell::new(None),
            cut_short: RefCell::new(None),
            progress: options.progress,
            permissions: options.permissions,
            local: options.local,
            scope: RefCell::new(options.scope.clone()),
            graph_rows: RefCell::default(),
            tenant_wide: RefCell::default(),
        });
        let mut engine = Engine::new();
        let l = &options.limits;
        engine
            .set_max_operations(l.max_operations)
            .set_max_call_levels(l.max_call_depth)
            .set_max_string_size(l.max_string_size)
            .set_max_array_size(l.max_array_size)
            .set_max_map_size(l.max_map_size)
            .set_max_expr_depths(128, 64);
        // `eval` would run text the parser never saw, outside the limits set on the AST.
        engine.disable_symbol("eval");
        let flag = interrupted;
        engine.on_progress(move |_| {
            flag.load(Ordering::Relaxed)
                .then(|| Dynamic::from(INTERRUPTED))
        });
        let resolver = Rc::new(stdlib::Resolver::new(&options.script_dir));
        engine.set_module_resolver(SharedResolver(resolver.clone()));
        depth::register(&mut engine);
        api::register(&mut engine, &state);
        relations::register(&mut engine, &state);
        html::register(&mut engine, &state);
        census::register(&mut engine, &state);
        scope::register(&mut engine, &state);
        usage::register(&mut engine, &state);
        Self {
            engine: Rc::new(engine),
            state,
            resolver,
        }
    }

    /// The engine (for the REPL's completion and validation).
    pub fn engine(&self) -> Rc<Engine> {
        self.engine.clone()
    }

    /// The shared state.
    pub fn state(&self) -> &Rc<HostState> {
        &self.state
    }

    /// Runs `text` in `scope`; returns its value, or how it stopped.
    pub fn run(&self, scope: &mut Scope<'static>, name: &str, text: &str) -> Result<Dynamic, Stop> {
        self.state.interrupted.store(false, Ordering::SeqCst);
        let result = self
            .engine
            .compile_with_scope(scope, text)
            .map_err(EvalAltResult::from)
            .map_err(Box::new)
            .and_then(|mut ast| {
                ast.set_source(name);
                self.engine.eval_ast_with_scope::<Dynamic>(scope, &ast)
            });
        // An array call cut short by Ctrl-C returns its results; the script still stopped.
        match result {
            Ok(_) if self.state.interrupted.load(Ordering::SeqCst) => Err(Stop::Interrupted),
            Ok(value) => Ok(value),
            Err(error) => Err(self.stop(&error, scope, name, text)),
        }
    }

    /// Classifies a failure and renders it once.
    fn stop(&self, error: &EvalAltResult, scope: &Scope<'_>, name: &str, text: &str) -> Stop {
        let mut inner = error;
        while let EvalAltResult::ErrorInFunctionCall(_, _, e, _)
        | EvalAltResult::ErrorInModule(_, e, _) = inner
        {
            inner = e;
        }
        if let EvalAltResult::ErrorTerminated(token, _) = inner {
            if let Ok(code) = token.as_int() {
                return Stop::Exit(i32::try_from(code).unwrap_or(1));
            }
            return Stop::Interrupted;
        }
        // An API call cut short by Ctrl-C fails with an error the script may not catch in time.
        if self.state.interrupted.load(Ordering::SeqCst) {
            return Stop::Interrupted;
        }
        let resolver = self.resolver.clone();
        Stop::Failed(diagnostic::render_in(
            error,
            &Source { name, text },
            &move |path| resolver.text(path),
            &|path| diagnostic::map_keys_in(scope, path),
        ))
    }

    /// The flag Ctrl-C sets.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.state.interrupted.clone()
    }

    /// Turns dry-run on or off (the REPL's `:dry-run`).
    pub fn set_dry_run(&self, on: bool) {
        self.state.dry_run.set(on);
    }

    /// Whether dry-run is on.
    pub fn dry_run(&self) -> bool {
        self.state.dry_run.get()
    }

    /// Takes the recorded plan, leaving it empty, with the changes the caller's permissions
    /// would refuse marked (one permissions lookup per resource group), and those a management
    /// lock would stop (one lock list per subscription).
    pub fn take_plan(&self) -> Plan {
        let mut plan = self.state.plan.take();
        access::check_plan(&self.state, &mut plan);
        locks::check_plan(&self.state, &mut plan, &mut locks::LockCache::new());
        plan
    }

    /// Writes done so far.
    pub fn done(&self) -> Done {
        self.state.done.get()
    }
}

/// Lets the engine own a handle to the resolver the host also reads module texts from.
struct SharedResolver(Rc<stdlib::Resolver>);

impl rhai::ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: rhai::Position,
    ) -> Result<rhai::Shared<rhai::Module>, Box<EvalAltResult>> {
        self.0.resolve(engine, source, path, pos)
    }
}
