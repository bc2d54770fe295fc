//! The Rhai modules shipped in `stdlib/`, embedded in the binary, and the module resolver
//! that serves them first and then `.rhai` files beside the script.

use std::path::{Path, PathBuf};

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
    dir: PathBuf,
}

/// Why a module file beside the script could not be loaded.
#[derive(Debug)]
enum Missing {
    /// There is no such file.
    NotFound,
    /// It leads out of the script's folder, or cannot be read.
    Refused(String),
}

impl Resolver {
    /// Resolves files relative to `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        }
    }

    /// The text of a module, for error messages.
    pub fn text(&self, path: &str) -> Option<String> {
        match source(path) {
            Some(s) => Some(s.to_string()),
            None => self.file_text(path).ok(),
        }
    }

    /// The text of `path.rhai` in the script's folder: its links are resolved and it must
    /// stay inside the folder; it is then opened beneath the folder, so that a link swapped
    /// in after the check is not followed.
    fn file_text(&self, path: &str) -> Result<String, Missing> {
        let real = std::fs::canonicalize(self.dir.join(format!("{path}.rhai"))).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Missing::NotFound
            } else {
                Missing::Refused(e.to_string())
            }
        })?;
        let relative = real.strip_prefix(&self.dir).map_err(|_| {
            Missing::Refused(
                "a symbolic link leads it out of the script's folder, and imports stay inside it"
                    .into(),
            )
        })?;
        let mut file = super::beneath::open(&self.dir, relative, super::beneath::Access::Read)
            .map_err(|e| Missing::Refused(e.to_string()))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text)
            .map_err(|e| Missing::Refused(e.to_string()))?;
        Ok(text)
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source_path: Option<&str>,
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
            let text = match self.file_text(path) {
                Ok(text) => text,
                Err(Missing::NotFound) => {
                    return Err(EvalAltResult::ErrorModuleNotFound(path.into(), pos).into());
                }
                Err(Missing::Refused(why)) => {
                    return Err(super::convert::arm_error(crate::arm::ArmError::invalid(
                        "import", path, why,
                    )));
                }
            };
            return compile(engine, path, &text, pos);
        };
        compile(engine, path, text, pos)
    }
}

/// Compiles and runs a module's text as a new module named `path`.
fn compile(
    engine: &Engine,
    path: &str,
    text: &str,
    pos: Position,
) -> Result<Shared<Module>, Box<EvalAltResult>> {
    let mut ast = engine
        .compile(text)
        .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e.into(), pos))?;
    ast.set_source(path);
    let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
        .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?;
    Ok(module.into())
}
