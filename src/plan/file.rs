//! The plan file: a JSON document holding the steps of a dry-run and where, when and by whom
//! it was made, sealed with a sha256 digest so that an edited or truncated file is refused.
//! Written atomically (a temporary file renamed over the target).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::PlanError;
use super::step::{Change, Step};

/// The `format` of every plan file.
pub const FORMAT: &str = "azid-plan";
/// The format version this azid reads and writes.
pub const VERSION: u64 = 1;

/// Who made the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedBy {
    /// The `oid` claim of the caller's token; `null` when the token is not a JWT.
    #[serde(rename = "objectId")]
    pub object_id: Option<String>,
    /// Which credential made the token (`token`, `cli`, `env`, ...).
    pub credential: String,
}

/// Where the plan acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The subscriptions its steps touch (and the one it was made in), lower-cased.
    pub subscriptions: Vec<String>,
}

/// What produced the steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `run`, `eval`, `repl`, `stdin` or the az-style command (`identity delete`, ...).
    pub command: String,
    /// The script's path (`run`), or the expression (`eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The script's arguments, or the command's.
    #[serde(default)]
    pub args: Vec<String>,
}

/// How many steps of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `+` steps.
    pub create: usize,
    /// `~` steps.
    pub update: usize,
    /// `-` steps.
    pub delete: usize,
    /// Steps marked `wouldFail`.
    #[serde(rename = "wouldFail")]
    pub would_fail: usize,
}

impl Counts {
    /// Counts these steps.
    pub fn of(steps: &[Step]) -> Self {
        let count = |c| steps.iter().filter(|s| s.change == c).count();
        Counts {
            create: count(Change::Create),
            update: count(Change::Update),
            delete: count(Change::Delete),
            would_fail: steps.iter().filter(|s| s.would_fail.is_some()).count(),
        }
    }
}

/// A whole plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always `azid-plan`.
    pub format: String,
    /// [`VERSION`].
    pub version: u64,
    /// The azid that wrote it.
    #[serde(rename = "azidVersion")]
    pub azid_version: String,
    /// RFC 3339, UTC.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// Who made it.
    #[serde(rename = "createdBy")]
    pub created_by: CreatedBy,
    /// Where it acts.
    pub scope: Scope,
    /// What produced it.
    pub source: Source,
    /// The counts of `steps`.
    pub counts: Counts,
    /// Every step, in the order the dry-run recorded them.
    pub steps: Vec<Step>,
    /// `sha256:` and the hex digest of the canonical JSON of everything else.
    pub digest: String,
}

/// The digest of a plan document: sha256 over its compact JSON without the `digest` member,
/// object keys sorted (serde_json's map is ordered by key).
fn digest_of(document: &Value) -> String {
    let mut copy = document.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("digest");
    }
    let bytes = serde_json::to_vec(&copy).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl PlanFile {
    /// Seals a new plan: fills in the format, version, counts and digest.
    pub fn seal(
        created_at: String,
        created_by: CreatedBy,
        scope: Scope,
        source: Source,
        steps: Vec<Step>,
    ) -> Result<Self, PlanError> {
        let mut file = PlanFile {
            format: FORMAT.into(),
            version: VERSION,
            azid_version: env!("CARGO_PKG_VERSION").into(),
            created_at,
            created_by,
            scope,
            source,
            counts: Counts::of(&steps),
            steps,
            digest: String::new(),
        };
        let value = serde_json::to_value(&file).map_err(PlanError::Encode)?;
        file.digest = digest_of(&value);
        Ok(file)
    }

    /// The file's text: pretty JSON and a final newline.
    pub fn to_text(&self) -> Result<String, PlanError> {
        let mut text = serde_json::to_string_pretty(self).map_err(PlanError::Encode)?;
        text.push('\n');
        Ok(text)
    }

    /// Reads and checks a plan file: JSON, its format and version, its digest, and steps
    /// numbered in order whose targets lie in its scope.
    pub fn load(path: &Path) -> Result<Self, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            PlanError::Invalid(why) => {
                PlanError::Invalid(format!("plan file {} is refused: {why}", path.display()))
            }
            other => other,
        })
    }

    /// Checks the text of a plan file (see `load`).
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            PlanError::Invalid(format!(
                "not a complete JSON document ({e}): truncated or not a plan file"
            ))
        })?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(PlanError::Invalid(format!(
                "its \"format\" is not \"{FORMAT}\": not an azid plan file"
            )));
        }
        match value.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            other => {
                return Err(PlanError::Invalid(format!(
                    "it is of format version {}, and this azid reads version {VERSION} only",
                    other.map_or_else(|| "(none)".to_string(), |v| v.to_string())
                )));
            }
        }
        let stated = value.get("digest").and_then(Value::as_str).unwrap_or("");
        if stated != digest_of(&value) {
            return Err(PlanError::Invalid(
                "its digest does not match its content: the file was edited or truncated after it was written".into(),
            ));
        }
        let file: PlanFile = serde_json::from_value(value)
            .map_err(|e| PlanError::Invalid(format!("a field is missing or malformed: {e}")))?;
        for (i, step) in file.steps.iter().enumerate() {
            if step.index != i {
                return Err(PlanError::Invalid(format!(
                    "step {i} says it is step {}",
                    step.index
                )));
            }
            let in_scope = subscription_of(&step.target).is_some_and(|s| {
                file.scope
                    .subscriptions
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&s))
            });
            if !in_scope {
                return Err(PlanError::Invalid(format!(
                    "step {i} targets {}, outside the plan's subscriptions",
                    step.target
                )));
            }
        }
        if file.counts != Counts::of(&file.steps) {
            return Err(PlanError::Invalid(
                "its counts do not match its steps".into(),
            ));
        }
        Ok(file)
    }

    /// Writes the file atomically: a temporary file beside it, synced, then renamed over it.
    /// A journal (`*.journal`) is never overwritten.
    pub fn write(&self, path: &Path) -> Result<(), PlanError> {
        refuse_journal(path)?;
        let text = self.to_text()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| PlanError::Invalid(format!("{} is not a file name", path.display())))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let io = |source| PlanError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(io)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io(e));
        }
        Ok(())
    }
}

/// Refuses a path that is a plan's journal: by name, or by content.
fn refuse_journal(path: &Path) -> Result<(), PlanError> {
    let named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("journal"));
    let holds_one = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().next().map(super::journal::is_journal_line))
        .unwrap_or(false);
    if named || holds_one {
        return Err(PlanError::Invalid(format!(
            "{} is an apply journal; a plan is never written over one",
            path.display()
        )));
    }
    Ok(())
}

/// The subscription id an ARM id starts with.
pub fn subscription_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(s), Some(sub))
            if s.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() =>
        {
            Some(sub.to_lowercase())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::{Fingerprint, Op};

    fn sealed() -> PlanFile {
        let step = Step {
            index: 0,
            change: Change::Delete,
            target: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a".into(),
            op: Op::IdentityDelete,
            fingerprint: Fingerprint::Exists,
            details: Vec::new(),
            would_fail: None,
            prepares: None,
        };
        PlanFile::seal(
            "2026-01-01T00:00:00Z".into(),
            CreatedBy {
                object_id: None,
                credential: "token".into(),
            },
            Scope {
                subscriptions: vec!["00000000-0000-0000-0000-000000000001".into()],
            },
            Source {
                command: "eval".into(),
                script: None,
                args: Vec::new(),
            },
            vec![step],
        )
        .expect("sealed")
    }

    #[test]
    fn a_sealed_plan_reads_back_and_any_edit_is_refused() {
        let plan = sealed();
        let text = plan.to_text().expect("text");
        assert_eq!(PlanFile::parse(&text).expect("parses"), plan);
        let edited = text.replace("\"eval\"", "\"run\"");
        assert!(
            PlanFile::parse(&edited)
                .unwrap_err()
                .to_string()
                .contains("digest")
        );
        let truncated = &text[..text.len() - 3];
        assert!(
            PlanFile::parse(truncated)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn a_step_outside_the_scope_is_refused_even_when_resealed() {
        let mut plan = sealed();
        plan.scope.subscriptions = vec!["00000000-0000-0000-0000-000000000002".into()];
        let plan = PlanFile::seal(
            plan.created_at,
            plan.created_by,
            plan.scope,
            plan.source,
            plan.steps,
        )
        .expect("sealed");
        let e = PlanFile::parse(&plan.to_text().expect("text")).unwrap_err();
        assert!(
            e.to_string().contains("outside the plan's subscriptions"),
            "{e}"
        );
    }
}
