//! The journal of an apply, `FILE.journal`: one JSON line per event, appended and flushed to
//! the OS as it happens, so that a killed apply loses at most the steps in flight. A second
//! apply reads it to skip what was finished and to re-check what was in flight.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::PlanError;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sent and accepted (or, after an interruption, found done).
    Done,
    /// Found already in its planned end state; nothing sent.
    AlreadyDone,
    /// The target changed since the plan; not touched.
    Drifted,
    /// Not sent: the step it prepares, or depends on, did not go ahead.
    Skipped,
    /// Sent, and refused or failed.
    Failed,
}

impl Outcome {
    /// Whether a later apply leaves the step alone (everything but a failure).
    pub fn is_final(self) -> bool {
        self != Outcome::Failed
    }

    /// Its name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Done => "Done",
            Outcome::AlreadyDone => "AlreadyDone",
            Outcome::Drifted => "Drifted",
            Outcome::Skipped => "Skipped",
            Outcome::Failed => "Failed",
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// An apply of the plan with this digest began.
    Begin {
        /// The plan's digest.
        plan: String,
        /// 1 for the first apply, then 2, ...
        run: u32,
        /// RFC 3339.
        time: String,
    },
    /// A step's request is about to be sent.
    Started {
        /// The step.
        step: usize,
    },
    /// A step ended.
    Ended {
        /// The step.
        step: usize,
        /// How.
        outcome: Outcome,
        /// The HTTP status of its last answer, when one was sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// What happened, for people.
        detail: String,
        /// The run it ended in.
        run: u32,
    },
}

/// Whether a line reads as a journal line (so that a plan is never written over a journal).
pub fn is_journal_line(line: &str) -> bool {
    serde_json::from_str::<Entry>(line).is_ok()
}

/// What a journal says so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The plan digest it belongs to.
    pub plan: Option<String>,
    /// Runs begun.
    pub runs: u32,
    /// The last end of each step.
    pub ended: BTreeMap<usize, (Outcome, Option<u16>, String, u32)>,
    /// Steps started and never ended (in flight when an apply stopped).
    pub in_flight: BTreeSet<usize>,
}

impl Progress {
    /// Reads `path`; an absent journal is empty progress. A last line cut short by a kill
    /// is ignored; any other unreadable line is an error.
    pub fn read(path: &Path) -> Result<Self, PlanError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(PlanError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut progress = Self::default();
        let lines: Vec<&str> = text.split('\n').collect();
        let last = lines.len().saturating_sub(1);
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = match serde_json::from_str(line) {
                Ok(e) => e,
                // The unterminated last line is the one a kill can cut short.
                Err(_) if n == last => break,
                Err(e) => {
                    return Err(PlanError::Invalid(format!(
                        "journal {} line {}: {e}",
                        path.display(),
                        n + 1
                    )));
                }
            };
            match entry {
                Entry::Begin { plan, run, .. } => {
                    if progress.plan.as_ref().is_some_and(|p| *p != plan) {
                        return Err(PlanError::Invalid(format!(
                            "journal {} mixes applies of two plans",
                            path.display()
                        )));
                    }
                    progress.plan = Some(plan);
                    progress.runs = progress.runs.max(run);
                }
                Entry::Started { step } => {
                    progress.in_flight.insert(step);
                }
                Entry::Ended {
                    step,
                    outcome,
                    status,
                    detail,
                    run,
                } => {
                    progress.in_flight.remove(&step);
                    progress.ended.insert(step, (outcome, status, detail, run));
                }
            }
        }
        Ok(progress)
    }
}

/// An open journal, appended to line by line.
#[derive(Debug)]
pub struct Journal {
    file: Mutex<std::fs::File>,
    path: PathBuf,
    run: u32,
}

impl Journal {
    /// The journal of a plan file: `FILE.journal`.
    pub fn path_of(plan: &Path) -> PathBuf {
        let mut name = plan.as_os_str().to_owned();
        name.push(".journal");
        PathBuf::from(name)
    }

    /// Opens (or creates) the journal and records the start of run `run`.
    pub fn open(path: &Path, plan: &str, run: u32, time: String) -> Result<Self, PlanError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| PlanError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        let journal = Journal {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            run,
        };
        journal.write(&Entry::Begin {
            plan: plan.to_string(),
            run,
            time,
        })?;
        Ok(journal)
    }

    /// This run's number.
    pub fn run(&self) -> u32 {
        self.run
    }

    /// Appends one line with a single write, so the OS holds it even if azid is killed next.
    pub fn write(&self, entry: &Entry) -> Result<(), PlanError> {
        let mut line = serde_json::to_string(entry).map_err(PlanError::Encode)?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| PlanError::Invalid("the journal's lock was poisoned".into()))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|source| PlanError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Syncs the journal to disk (at the end of a run).
    pub fn sync(&self) -> Result<(), PlanError> {
        let file = self
            .file
            .lock()
            .map_err(|_| PlanError::Invalid("the journal's lock was poisoned".into()))?;
        file.sync_data().map_err(|source| PlanError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_by_a_kill_is_ignored_and_in_flight_steps_are_kept() {
        let dir = std::env::temp_dir().join(format!("azid-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("p.json.journal");
        let _ = std::fs::remove_file(&path);
        let journal = Journal::open(&path, "sha256:x", 1, "t".into()).expect("open");
        for entry in [
            Entry::Started { step: 0 },
            Entry::Started { step: 1 },
            Entry::Ended {
                step: 0,
                outcome: Outcome::Done,
                status: Some(200),
                detail: "deleted".into(),
                run: 1,
            },
        ] {
            journal.write(&entry).expect("write");
        }
        drop(journal);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"event\":\"ended\",\"st");
        std::fs::write(&path, text).expect("write");
        let progress = Progress::read(&path).expect("read");
        assert_eq!(progress.plan.as_deref(), Some("sha256:x"));
        assert_eq!(progress.runs, 1);
        assert_eq!(progress.ended.get(&0).map(|e| e.0), Some(Outcome::Done));
        assert!(progress.in_flight.contains(&1) && !progress.in_flight.contains(&0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
