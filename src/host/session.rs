//! What a REPL session keeps between lines besides its variables: the functions defined so
//! far (a later definition of the same name and arity replaces an earlier one) and the
//! modules imported, so that every later line can call them.

use std::sync::atomic::Ordering;

use rhai::{AST, Caches, Dynamic, EvalAltResult, GlobalRuntimeState, Scope};

use super::{Host, Stop};

/// The functions and imports of one REPL session.
pub struct Session {
    global: GlobalRuntimeState,
    caches: Caches,
    functions: AST,
}

/// A function the session defined: its name and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defined {
    /// The function's name.
    pub name: String,
    /// Its parameter names.
    pub params: Vec<String>,
}

impl Session {
    /// An empty session for `host`'s engine.
    pub fn new(host: &Host) -> Self {
        Self {
            global: host.engine.new_global_runtime_state(),
            caches: Caches::new(),
            functions: AST::empty(),
        }
    }

    /// The functions defined so far, sorted by name.
    pub fn functions(&self) -> Vec<Defined> {
        let mut out: Vec<Defined> = self
            .functions
            .iter_functions()
            .map(|f| Defined {
                name: f.name.to_string(),
                params: f.params.iter().map(|p| p.to_string()).collect(),
            })
            .collect();
        out.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then(a.params.len().cmp(&b.params.len()))
        });
        out
    }

    /// Each imported module's alias with the names of its public functions.
    pub fn modules(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (alias, module) in self.global.iter_imports() {
            if out.iter().any(|(a, _)| a == alias) {
                continue;
            }
            let mut names: Vec<String> = module
                .iter_script_fn_info()
                .filter(|(_, access, ..)| *access == rhai::FnAccess::Public)
                .map(|(_, _, name, ..)| name.to_string())
                .collect();
            names.sort();
            names.dedup();
            out.push((alias.to_string(), names));
        }
        out.sort();
        out
    }
}

impl Host {
    /// Runs one REPL entry in `scope`, keeping its functions and imports in `session` for
    /// the entries after it; returns its value, or how it stopped.
    pub fn run_in(
        &self,
        session: &mut Session,
        scope: &mut Scope<'static>,
        name: &str,
        text: &str,
    ) -> Result<Dynamic, Stop> {
        self.state.interrupted.store(false, Ordering::SeqCst);
        let mut ast = match self.engine.compile_with_scope(scope, text) {
            Ok(ast) => ast,
            Err(e) => return Err(self.stop(&EvalAltResult::from(e), scope, name, text)),
        };
        ast.set_source(name);
        // Defined before the entry runs, so that it can call what it defines.
        session.functions = session.functions.merge(&ast.clone_functions_only());
        let global = &mut session.global;
        // The operations limit applies to each entry, as it does to each script.
        global.num_operations = 0;
        global.source = Some(name.into());
        global.lib.clear();
        global.lib.push(session.functions.shared_lib().clone());
        #[allow(deprecated)]
        let result =
            self.engine
                .eval_statements_raw(global, &mut session.caches, scope, ast.statements());
        result.map_err(|e| self.stop(&e, scope, name, text))
    }
}
