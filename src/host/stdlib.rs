//! The Rhai modules shipped in `stdlib/`, embedded in the binary, and the module resolver
//! that serves them first and then `.rhai` files beside the script.

use std::path::{Path, PathBuf};

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

/// `(name, source)` of every module in `stdlib/`.
pub const MODULES: &[(&str, &str)] = &[
    ("tags", include_str!("../../stdlib/tags.rhai")),
    ("report", include_str!("../../stdlib/report.rhai")),
    ("audit", include_str!("../../stdlib/audit.rhai")),
    ("cleanup", include_str!("../../stdlib/cleanup.rhai")),
];

/// The source of a shipped module.
pub fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Serves `import "name"`: a shipped module, else `name.rhai` in the script's folder.
pub struct Resolver {
    files: FileModuleResolver,
    dir: PathBuf,
}

impl Resolver {
    /// Resolves files relative to `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            files: FileModuleResolver::new_with_path(dir),
            dir: dir.to_path_buf(),
        }
    }

    /// The text of a module, for error messages.
    pub fn text(&self, path: &str) -> Option<String> {
        match source(path) {
            Some(s) => Some(s.to_string()),
            None => std::fs::read_to_string(self.dir.join(format!("{path}.rhai"))).ok(),
        }
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source_path: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let Some(text) = source(path) else {
            // The sandbox: a script may import its neighbours, nothing above or outside its folder.
            let p = Path::new(path);
            if p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(super::convert::arm_error(crate::arm::ArmError::invalid(
                    "import",
                    path,
                    "imports name a shipped module or a file beside the script, without '..' or an absolute path",
                )));
            }
            return self.files.resolve(engine, source_path, path, pos);
        };
        let mut ast = engine
            .compile(text)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e.into(), pos))?;
        ast.set_source(path);
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?;
        Ok(module.into())
    }
}
