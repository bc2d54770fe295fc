//! File access for scripts, only inside the paths the user allowed with `--allow-read` and
//! `--allow-write` (none by default, as in Deno): `read_text`, `read_csv`, `read_json` and
//! `write_text`. Every target is resolved (symlinks, `.` and `..`) before it is checked
//! against the allowed roots, which were resolved the same way at start. Knows the file
//! system and Rhai; nothing of ARM.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Position};

use super::HostState;
use super::api::FnDoc;
use super::convert;

/// `read_text(path)`.
pub const READ_TEXT: FnDoc = FnDoc {
    name: "read_text",
    params: &["path: &str"],
    returns: "String",
    doc: "The text of a UTF-8 file inside an --allow-read path.",
    example: r#"read_text("identities.csv").split("\n")[0]"#,
};

/// `read_csv(path)`.
pub const READ_CSV: FnDoc = FnDoc {
    name: "read_csv",
    params: &["path: &str"],
    returns: "Array",
    doc: "The rows of a CSV file inside an --allow-read path, as maps from the header row's names to strings.",
    example: r#"read_csv("identities.csv").map(|row| row.name)"#,
};

/// `read_json(path)`.
pub const READ_JSON: FnDoc = FnDoc {
    name: "read_json",
    params: &["path: &str"],
    returns: "Dynamic",
    doc: "The value in a JSON file inside an --allow-read path.",
    example: r#"read_json("policy.json").required"#,
};

/// `write_text(path, text)`.
pub const WRITE_TEXT: FnDoc = FnDoc {
    name: "write_text",
    params: &["path: &str", "text: &str"],
    returns: "()",
    doc: "Creates or replaces a file inside an --allow-write path (its folder must exist; a symbolic link is refused). Happens in --dry-run too: it is output, not a change to Azure.",
    example: r#"write_text("names.txt", identity_list("rg").map(|i| i.name).reduce(|s, n| s + n + "\n", ""))"#,
};

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path is outside every allowed root (or no root was given).
    #[error("{action} '{path}'{resolved} is not allowed: {reason}")]
    Denied {
        /// "reading" or "writing".
        action: &'static str,
        /// The path as the script gave it.
        path: String,
        /// ` (resolved: /real/path)` when the real path differs, else empty.
        resolved: String,
        /// Which flag would allow it.
        reason: String,
    },
    /// The file system refused.
    #[error("could not {action} '{path}': {message}")]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The path as given.
        path: String,
        /// What failed.
        message: String,
    },
    /// The file is not valid CSV.
    #[error("invalid CSV in '{path}': {message}")]
    Csv {
        /// The path as given.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// The file is not valid JSON.
    #[error("invalid JSON in '{path}': {message}")]
    Json {
        /// The path as given.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// An `--allow-read`/`--allow-write` path could not be resolved.
    #[error("--allow-{kind} '{path}': {message}")]
    Root {
        /// "read" or "write".
        kind: &'static str,
        /// The path as given.
        path: String,
        /// What failed.
        message: String,
    },
}

impl FileError {
    /// The `code` a script's `catch` sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Denied { .. } => "PermissionDenied",
            Self::Io { .. } => "FileError",
            Self::Csv { .. } => "InvalidCsv",
            Self::Json { .. } => "InvalidJson",
            Self::Root { .. } => "InvalidArgument",
        }
    }
}

/// The error a script sees: `#{code, message, status}`, with no status (nothing was sent).
fn raise(error: FileError) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("code".into(), error.code().into());
    map.insert("message".into(), error.to_string().into());
    map.insert("status".into(), Dynamic::UNIT);
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// The resolved roots a script may read and write under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
}

impl Permissions {
    /// Resolves the roots given on the command line (relative to the current folder). A root
    /// that does not exist yet is allowed when its folder does (`--allow-write out.csv`).
    pub fn new(read: &[PathBuf], write: &[PathBuf]) -> Result<Self, FileError> {
        let resolve = |kind: &'static str, roots: &[PathBuf]| {
            roots
                .iter()
                .map(|root| {
                    resolve_new(root).map_err(|message| FileError::Root {
                        kind,
                        path: root.display().to_string(),
                        message,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            read: resolve("read", read)?,
            write: resolve("write", write)?,
        })
    }

    /// The real path of an existing file inside a read root.
    pub fn check_read(&self, path: &str) -> Result<PathBuf, FileError> {
        let given = absolute(Path::new(path));
        match std::fs::canonicalize(&given) {
            Ok(real) => self.inside("reading", &self.read, path, &real),
            // Missing or unreadable: say so only inside the roots, so that a script cannot
            // probe what exists elsewhere.
            Err(e) => {
                self.inside("reading", &self.read, path, &lexical(&given))?;
                Err(FileError::Io {
                    action: "read",
                    path: path.to_string(),
                    message: e.to_string(),
                })
            }
        }
    }

    /// The real path a write to `path` would create or replace, inside a write root; its
    /// folder must exist and it must not be a symbolic link.
    pub fn check_write(&self, path: &str) -> Result<PathBuf, FileError> {
        let io = |message: String| FileError::Io {
            action: "write",
            path: path.to_string(),
            message,
        };
        let given = absolute(Path::new(path));
        let (Some(parent), Some(Component::Normal(name))) =
            (given.parent(), given.components().next_back())
        else {
            return Err(io("not a file name".into()));
        };
        let folder = match std::fs::canonicalize(parent) {
            Ok(folder) => folder,
            Err(e) => {
                self.inside("writing", &self.write, path, &lexical(&given))?;
                return Err(io(format!("its folder cannot be used: {e}")));
            }
        };
        let target = folder.join(name);
        self.inside("writing", &self.write, path, &target)?;
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(FileError::Denied {
                action: "writing",
                path: path.to_string(),
                resolved: String::new(),
                reason: "it is a symbolic link, and azid does not write through links".into(),
            });
        }
        Ok(target)
    }

    fn inside(
        &self,
        action: &'static str,
        roots: &[PathBuf],
        path: &str,
        real: &Path,
    ) -> Result<PathBuf, FileError> {
        if roots.iter().any(|root| real.starts_with(root)) {
            return Ok(real.to_path_buf());
        }
        let flag = if action == "reading" {
            "--allow-read"
        } else {
            "--allow-write"
        };
        let reason = if roots.is_empty() {
            format!("scripts have no file access unless {flag} PATH allows it")
        } else {
            let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            format!("it is outside {flag} {}", list.join(", "))
        };
        let resolved = if lexical(&absolute(Path::new(path))) == real {
            String::new()
        } else {
            format!(" (resolved: {})", real.display())
        };
        Err(FileError::Denied {
            action,
            path: path.to_string(),
            resolved,
            reason,
        })
    }
}

/// `path` made absolute against the current folder (without touching the file system).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `..` and `.` removed by reading the path, for paths that do not exist.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The real path of `path`, or of its folder joined with its name when it does not exist yet.
fn resolve_new(path: &Path) -> Result<PathBuf, String> {
    let given = absolute(path);
    if let Ok(real) = std::fs::canonicalize(&given) {
        return Ok(real);
    }
    match (given.parent(), given.components().next_back()) {
        (Some(parent), Some(Component::Normal(name))) => std::fs::canonicalize(parent)
            .map(|folder| folder.join(name))
            .map_err(|e| format!("neither it nor its folder can be used: {e}")),
        _ => Err("not a usable path".into()),
    }
}

/// Registers `read_text`, `read_csv`, `read_json` and `write_text`.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    let s = state.clone();
    READ_TEXT
        .registration()
        .register_into_engine(engine, move |path: &str| {
            read_text(&s.permissions, path).map_err(raise)
        });
    let s = state.clone();
    READ_CSV
        .registration()
        .register_into_engine(engine, move |path: &str| {
            read_csv(&s.permissions, path).map_err(raise)
        });
    let s = state.clone();
    READ_JSON.registration().register_into_engine(
        engine,
        move |path: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            let text = read_text(&s.permissions, path).map_err(raise)?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                raise(FileError::Json {
                    path: path.to_string(),
                    message: e.to_string(),
                })
            })?;
            convert::to_dynamic(&value)
        },
    );
    let s = state.clone();
    WRITE_TEXT
        .registration()
        .register_into_engine(engine, move |path: &str, text: &str| {
            write_text(&s.permissions, path, text).map_err(raise)
        });
}

fn read_text(p: &Permissions, path: &str) -> Result<String, FileError> {
    let real = p.check_read(path)?;
    std::fs::read_to_string(&real).map_err(|e| FileError::Io {
        action: "read",
        path: path.to_string(),
        message: e.to_string(),
    })
}

fn read_csv(p: &Permissions, path: &str) -> Result<Array, FileError> {
    let text = read_text(p, path)?;
    let bad = |e: csv::Error| FileError::Csv {
        path: path.to_string(),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                pos,
                expected_len,
                len,
            } => format!(
                "line {}: {len} fields, but the header has {expected_len}",
                pos.as_ref().map_or(0, csv::Position::line)
            ),
            _ => e.to_string(),
        },
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(bad)?.clone();
    reader
        .records()
        .map(|record| {
            let record = record.map_err(bad)?;
            let row: Map = headers
                .iter()
                .zip(record.iter())
                .map(|(k, v)| (k.into(), Dynamic::from(v.to_string())))
                .collect();
            Ok(Dynamic::from_map(row))
        })
        .collect()
}

fn write_text(p: &Permissions, path: &str, text: &str) -> Result<(), FileError> {
    let real = p.check_write(path)?;
    let io = |e: std::io::Error| FileError::Io {
        action: "write",
        path: path.to_string(),
        message: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // A symlink swapped in after the check must not be followed out of the allowed paths.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let mut file = options.open(&real).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Permissions) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("in/sub")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(root.join("in/a.txt"), "a").unwrap();
        std::fs::write(root.join("secret.txt"), "s").unwrap();
        let p = Permissions::new(&[root.join("in")], &[root.join("out")]).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_only_inside_the_read_roots() {
        let (dir, p) = setup();
        let root = dir.path().display().to_string();
        assert!(p.check_read(&format!("{root}/in/a.txt")).is_ok());
        for outside in [
            format!("{root}/secret.txt"),
            format!("{root}/in/../secret.txt"),
            format!("{root}/in/sub/../../secret.txt"),
            format!("{root}/out/nothing-here.txt"),
            format!("{root}/in/../nowhere.txt"),
        ] {
            let e = p.check_read(&outside).unwrap_err();
            assert_eq!(e.code(), "PermissionDenied", "{outside}: {e}");
        }
        let missing = p.check_read(&format!("{root}/in/missing.txt")).unwrap_err();
        assert_eq!(missing.code(), "FileError", "{missing}");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_before_the_check() {
        let (dir, p) = setup();
        let root = dir.path();
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("in/link.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("out"), root.join("in/to-out")).unwrap();
        let e = p
            .check_read(&root.join("in/link.txt").display().to_string())
            .unwrap_err();
        assert_eq!(e.code(), "PermissionDenied");
        assert!(e.to_string().contains("resolved: "), "{e}");
        std::fs::write(root.join("out/report.csv"), "r").unwrap();
        let through = p
            .check_read(&root.join("in/to-out/report.csv").display().to_string())
            .unwrap_err();
        assert_eq!(through.code(), "PermissionDenied", "{through}");
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("out/link.txt")).unwrap();
        let w = p
            .check_write(&root.join("out/link.txt").display().to_string())
            .unwrap_err();
        assert!(w.to_string().contains("symbolic link"), "{w}");
        // A link to a folder outside: the write resolves through it and is refused.
        std::os::unix::fs::symlink(root, root.join("out/up")).unwrap();
        let w = p
            .check_write(&root.join("out/up/secret.txt").display().to_string())
            .unwrap_err();
        assert_eq!(w.code(), "PermissionDenied", "{w}");
    }

    #[test]
    fn writes_only_inside_the_write_roots() {
        let (dir, p) = setup();
        let root = dir.path().display().to_string();
        assert!(p.check_write(&format!("{root}/out/new.csv")).is_ok());
        for outside in [
            format!("{root}/new.csv"),
            format!("{root}/out/../new.csv"),
            format!("{root}/in/a.txt"),
        ] {
            let e = p.check_write(&outside).unwrap_err();
            assert_eq!(e.code(), "PermissionDenied", "{outside}: {e}");
        }
        let nofolder = p
            .check_write(&format!("{root}/out/no/such.csv"))
            .unwrap_err();
        assert_eq!(nofolder.code(), "FileError", "{nofolder}");
        let nofile = p.check_write(&format!("{root}/out/..")).unwrap_err();
        assert_eq!(nofile.code(), "FileError", "{nofile}");
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let e = Permissions::default().check_read("Cargo.toml").unwrap_err();
        assert!(
            e.to_string()
                .contains("no file access unless --allow-read PATH allows it"),
            "{e}"
        );
    }

    #[test]
    fn roots_must_exist_or_have_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Permissions::new(&[], &[dir.path().join("later.csv")]).is_ok());
        let e = Permissions::new(&[dir.path().join("no/such")], &[]).unwrap_err();
        assert!(e.to_string().starts_with("--allow-read '"), "{e}");
    }
}
