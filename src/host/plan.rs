//! Dry-run: the writes a script would make, recorded instead of sent, and the plan printed
//! at the end (`+ create`, `~ update`, `- delete` per resource, then counts). A line the
//! caller's permissions would refuse is marked `! would fail` (see `host::access`), and so is
//! a line a management lock would stop (see `host::locks`).

use std::fmt;

use crate::output::printable;

pub use crate::plan::step::Change;
use crate::plan::step::{Fingerprint, Op};

/// Why a planned change would be refused: the caller may not do `action` at `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The ARM action the change needs.
    pub action: String,
    /// Where the caller's permissions were looked up.
    pub scope: String,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What would happen.
    pub change: Change,
    /// The resource id.
    pub id: String,
    /// Set when the caller's permissions would refuse it with 403 AuthorizationFailed.
    pub denied: Option<Denied>,
    /// The locked scopes, when a management lock would stop it with 409 ScopeLocked.
    pub locked: Option<Vec<String>>,
    /// What apply sends, and what the plan relied on; `None` for a line apply cannot run.
    pub step: Option<(Op, Fingerprint)>,
    /// Lines shown under it in a plan file (tag diff, detached identity).
    pub details: Vec<String>,
}

/// Everything a dry-run recorded, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    items: Vec<Planned>,
    notes: Vec<String>,
}

impl Plan {
    /// Records a change. ARM ids ignore case, so a change to a resource already planned
    /// (the same id, or one differing only in case) is the same change, as in the real run:
    /// a repeat, or an update of what the plan creates, adds no line.
    pub fn record(&mut self, change: Change, id: impl Into<String>) {
        self.record_step(change, id, None, Vec::new());
    }

    /// Records a change with what apply sends and what the plan relied on (see `record`).
    pub fn record_step(
        &mut self,
        change: Change,
        id: impl Into<String>,
        step: Option<(Op, Fingerprint)>,
        details: Vec<String>,
    ) {
        let id = id.into();
        let already = self.items.iter().any(|p| {
            p.id.eq_ignore_ascii_case(&id)
                && (p.change == change || (p.change == Change::Create && change == Change::Update))
        });
        if already {
            return;
        }
        self.items.push(Planned {
            change,
            id,
            denied: None,
            locked: None,
            step,
            details,
        });
    }

    /// Marks the `index`-th change as one the caller's permissions would refuse.
    pub fn deny(&mut self, index: usize, denied: Denied) {
        if let Some(item) = self.items.get_mut(index) {
            item.denied = Some(denied);
        }
    }

    /// Marks the `index`-th change as one the locks at these scopes would stop.
    pub fn lock(&mut self, index: usize, scopes: Vec<String>) {
        if let Some(item) = self.items.get_mut(index) {
            item.locked = Some(scopes);
        }
    }

    /// How many changes a lock would stop (and the caller's permissions would not refuse first).
    pub fn locked(&self) -> usize {
        self.items
            .iter()
            .filter(|p| p.denied.is_none() && p.locked.is_some())
            .count()
    }

    /// Adds a line printed before the counts (e.g. permissions that could not be checked).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// How many changes would be refused, by permissions or by locks.
    pub fn failing(&self) -> usize {
        self.items
            .iter()
            .filter(|p| p.denied.is_some() || p.locked.is_some())
            .count()
    }

    /// The recorded changes.
    pub fn items(&self) -> &[Planned] {
        &self.items
    }

    /// How many of each kind: (create, update, delete).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |c| self.items.iter().filter(|p| p.change == c).count();
        (
            count(Change::Create),
            count(Change::Update),
            count(Change::Delete),
        )
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            let (mark, verb) = match item.change {
                Change::Create => ('+', "create"),
                Change::Update => ('~', "update"),
                Change::Delete => ('-', "delete"),
            };
            // Ids hold names from ARM: control characters are shown escaped, so that no
            // name can rewrite what the plan appears to say.
            write!(f, "{mark} {verb} {}", printable(&item.id))?;
            if let Some(denied) = &item.denied {
                write!(
                    f,
                    "  ! would fail: AuthorizationFailed (no {} at {})",
                    printable(&denied.action),
                    printable(&denied.scope)
                )?;
            } else if let Some(scopes) = &item.locked {
                // ARM checks permissions first: a lock only shows where they allow the change.
                write!(
                    f,
                    "  ! would fail: ScopeLocked ({})",
                    printable(&scopes.join(", "))
                )?;
            }
            writeln!(f)?;
        }
        for note in &self.notes {
            writeln!(f, "! {}", printable(note))?;
        }
        let (c, u, d) = self.counts();
        write!(f, "Plan: {c} to create, {u} to update, {d} to delete. ")?;
        let locked = self.locked();
        match self.failing() - locked {
            0 => {}
            n => write!(f, "{n} would fail with AuthorizationFailed. ")?,
        }
        match locked {
            0 => {}
            n => write!(f, "{n} would fail with ScopeLocked. ")?,
        }
        writeln!(f, "Nothing was changed (dry run).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_lines_then_counts() {
        let mut plan = Plan::default();
        plan.record(Change::Create, "/a");
        plan.record(Change::Delete, "/b");
        plan.record(Change::Update, "/c");
        assert_eq!(
            plan.to_string(),
            "+ create /a\n- delete /b\n~ update /c\nPlan: 1 to create, 1 to update, 1 to delete. Nothing was changed (dry run).\n"
        );
    }

    #[test]
    fn a_resource_planned_twice_is_one_change() {
        let mut plan = Plan::default();
        plan.record(Change::Create, "/s/rg/App-1");
        plan.record(Change::Create, "/s/rg/app-1");
        plan.record(Change::Update, "/S/RG/APP-1");
        plan.record(Change::Delete, "/s/rg/b");
        plan.record(Change::Delete, "/s/rg/B");
        assert_eq!(plan.counts(), (1, 0, 1));
    }

    #[test]
    fn control_characters_in_ids_are_escaped() {
        let mut plan = Plan::default();
        plan.record(Change::Delete, "/s/rg/a\r+ create /s/rg/fake\x1b[2K");
        let text = plan.to_string();
        assert!(
            text.starts_with("- delete /s/rg/a\\r+ create /s/rg/fake\\u{1b}[2K\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn locked_lines_are_marked_and_counted() {
        let mut plan = Plan::default();
        plan.record(Change::Delete, "/s/rg/a");
        plan.record(Change::Update, "/s/rg/b");
        plan.record(Change::Delete, "/s/rg/c");
        plan.lock(0, vec!["/s/rg".into()]);
        plan.lock(2, vec!["/s".into(), "/s/rg/c".into()]);
        plan.deny(
            2,
            Denied {
                action: "M/x/delete".into(),
                scope: "/s/rg".into(),
            },
        );
        assert_eq!((plan.failing(), plan.locked()), (2, 1));
        assert_eq!(
            plan.to_string(),
            "- delete /s/rg/a  ! would fail: ScopeLocked (/s/rg)\n~ update /s/rg/b\n\
             - delete /s/rg/c  ! would fail: AuthorizationFailed (no M/x/delete at /s/rg)\n\
             Plan: 0 to create, 1 to update, 2 to delete. 1 would fail with AuthorizationFailed. 1 would fail with \
             ScopeLocked. Nothing was changed (dry run).\n"
        );
    }

    #[test]
    fn refused_lines_are_marked_and_counted() {
        let mut plan = Plan::default();
        plan.record(Change::Delete, "/s/rg/a");
        plan.record(Change::Delete, "/s/rg/b");
        plan.deny(
            1,
            Denied {
                action: "M/x/delete".into(),
                scope: "/s/rg".into(),
            },
        );
        plan.note("could not check permissions at /s/rg2: (Code) no");
        assert_eq!(plan.failing(), 1);
        assert_eq!(
            plan.to_string(),
            "- delete /s/rg/a\n- delete /s/rg/b  ! would fail: AuthorizationFailed (no M/x/delete at /s/rg)\n\
             ! could not check permissions at /s/rg2: (Code) no\n\
             Plan: 0 to create, 0 to update, 2 to delete. 1 would fail with AuthorizationFailed. Nothing was changed (dry run).\n"
        );
    }
}
