//! File access for scripts, only inside the paths the user allowed with `--allow-read` and
//! `--allow-write` (none by default, as in Deno): `read_text`, `read_csv`, `read_json` and
//! `write_text`. Every target is resolved (symlinks, `.` and `..`) before it is checked
//! against the allowed roots, which were resolved the same way at start, and is then opened
//! beneath its root (`beneath`), so that the tree changing between check and open cannot
//! lead outside. Knows the file system and Rhai; nothing of ARM.

use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Position};

use super::HostState;
use super::api::FnDoc;
use super::beneath::{self, Access, BeneathError};
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

    /// The real path of a file inside a read root. A path that does not exist is resolved as
    /// far as it does, so that a missing file outside the roots is refused exactly as an
    /// existing one is.
    pub fn check_read(&self, path: &str) -> Result<PathBuf, FileError> {
        let real = resolve_existing(&absolute(Path::new(path)));
        self.inside("reading", &self.read, path, &real)
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
        let target = resolve_existing(parent).join(name);
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

    /// Opens a checked path beneath the root that holds it, so that a folder swapped for a
    /// link after the check cannot lead the open elsewhere.
    fn open(
        &self,
        roots: &[PathBuf],
        action: &'static str,
        path: &str,
        real: &Path,
        access: Access,
    ) -> Result<std::fs::File, FileError> {
        let io = |message: String| FileError::Io {
            action: if access == Access::Read {
                "read"
            } else {
                "write"
            },
            path: path.to_string(),
            message,
        };
        let root = roots
            .iter()
            .filter(|root| real.starts_with(root))
            .max_by_key(|root| root.as_os_str().len())
            .ok_or_else(|| io("it is outside every allowed path".into()))?;
        // A root that is a file is opened beneath its folder.
        let (folder, relative) = match real.strip_prefix(root) {
            Ok(rest) if !rest.as_os_str().is_empty() => (root.as_path(), rest.to_path_buf()),
            _ => match (root.parent(), root.file_name()) {
                (Some(folder), Some(name)) => (folder, PathBuf::from(name)),
                _ => return Err(io("not a file name".into())),
            },
        };
        beneath::open(folder, &relative, access).map_err(|e| match e {
            BeneathError::Escapes => FileError::Denied {
                action,
                path: path.to_string(),
                resolved: String::new(),
                reason: "a symbolic link on the way leads elsewhere, and azid does not open files through links".into(),
            },
            BeneathError::Unsupported => io(e.to_string()),
            BeneathError::Io(e) => io(e.to_string()),
        })
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
        // Where a link leads is shown only for paths the script names inside its roots: what
        // lies elsewhere, and whether it exists, is not the script's to learn.
        let lexical = lexical(&absolute(Path::new(path)));
        let resolved = if lexical == real || !roots.iter().any(|root| lexical.starts_with(root)) {
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

/// The real path of `path` as far as it exists, the rest (which does not exist) read lexically.
fn resolve_existing(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let parts: Vec<Component> = path.components().collect();
    for keep in (1..parts.len()).rev() {
        let head: PathBuf = parts[..keep].iter().collect();
        if let Ok(real) = std::fs::canonicalize(&head) {
            let rest: PathBuf = parts[keep..].iter().collect();
            return lexical(&real.join(rest));
        }
    }
    lexical(path)
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
    let mut file = p.open(&p.read, "reading", path, &real, Access::Read)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| FileError::Io {
        action: "read",
        path: path.to_string(),
        message: e.to_string(),
    })?;
    Ok(text)
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
    let mut file = p.open(&p.write, "writing", path, &real, Access::Write)?;
    file.write_all(text.as_bytes()).map_err(|e| FileError::Io {
        action: "write",
        path: path.to_string(),
        message: e.to_string(),
    })
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
        let missing = read_text(&p, &format!("{root}/in/missing.txt")).unwrap_err();
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
        let nofolder = write_text(&p, &format!("{root}/out/no/such.csv"), "x").unwrap_err();
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
