//! Dry-run: the writes a script would make, recorded instead of sent, and the plan printed
//! at the end (`+ create`, `~ update`, `- delete` per resource, then counts).

use std::fmt;

/// What would happen to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `+`: a new resource.
    Create,
    /// `~`: an existing resource changes.
    Update,
    /// `-`: a resource goes away.
    Delete,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What would happen.
    pub change: Change,
    /// The resource id.
    pub id: String,
}

/// Everything a dry-run recorded, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    items: Vec<Planned>,
}

impl Plan {
    /// Records a change.
    pub fn record(&mut self, change: Change, id: impl Into<String>) {
        self.items.push(Planned {
            change,
            id: id.into(),
        });
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
            writeln!(f, "{mark} {verb} {}", item.id)?;
        }
        let (c, u, d) = self.counts();
        writeln!(
            f,
            "Plan: {c} to create, {u} to update, {d} to delete. Nothing was changed (dry run)."
        )
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
}
