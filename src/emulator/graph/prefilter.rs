//! A test of a source table's rows before they are copied: the query's leading `where`s,
//! through the `extend`s before them, and a one-column `mv-expand` with the `where`s after it
//! that read only what it expands, folded into predicates over the catalog's own row.
//!
//! A lookup by a thousand ids over a tenant's rows copied every row, expanded it and dropped
//! nearly all of them; with this test only the rows that can give an answer are copied. It
//! never changes an answer: a row it keeps still goes through every operator, and it drops
//! only rows that no operator after it could keep.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::ast::{Expr, Op};
use super::eval::{eval, expansion, reads, truthy};

/// What a catalog row must pass to be copied.
#[derive(Debug, Default)]
pub struct Prefilter {
    /// Predicates over the source row (the `extend`ed columns they read written out).
    row: Vec<Expr>,
    /// A one-column `mv-expand`: its expression over the source row, the limit, and the
    /// predicates over the expanded value alone (a one-cell row of that column).
    expand: Option<Expand>,
}

#[derive(Debug)]
struct Expand {
    expr: Expr,
    limit: usize,
    name: String,
    values: Vec<Expr>,
}

impl Prefilter {
    /// The test for `ops` (what follows the source table, its leading `where` already taken
    /// out), over a source of these columns; `None` when it would test nothing.
    pub fn of(ops: &[Op], columns: &[String], default_limit: usize) -> Option<Prefilter> {
        let source: HashSet<&str> = columns.iter().map(String::as_str).collect();
        let mut defined: HashMap<String, Expr> = HashMap::new();
        let mut filter = Prefilter::default();
        let mut rest = ops.iter();
        for op in rest.by_ref() {
            match op {
                Op::Where(p) => {
                    let p = substitute(p, &defined);
                    if reads_only(&p, |c| source.contains(c)) {
                        filter.row.push(p);
                    }
                }
                Op::Extend(items) => {
                    for item in items {
                        let e = substitute(&item.expr, &defined);
                        defined.insert(item.name.clone(), e);
                    }
                }
                Op::MvExpand { items, limit } if items.len() == 1 => {
                    let item = &items[0];
                    let expr = substitute(&item.expr, &defined);
                    if !reads_only(&expr, |c| source.contains(c)) {
                        break;
                    }
                    defined.remove(&item.name);
                    filter.expand = Some(Expand {
                        expr,
                        limit: limit.unwrap_or(default_limit),
                        name: item.name.clone(),
                        values: Vec::new(),
                    });
                    break;
                }
                _ => break,
            }
        }
        if let Some(expand) = &mut filter.expand {
            // After the expansion only what reads the expanded value alone is tested; the
            // columns extended before it read the source row, and are left to the operators.
            // A column extended from anything else is opaque: what reads it is not tested.
            let mut after: HashMap<String, Expr> = HashMap::new();
            let mut opaque: HashSet<String> = HashSet::new();
            for op in rest {
                let raw = |c: &str| c == expand.name && !opaque.contains(c);
                match op {
                    Op::Where(p) => {
                        let p = substitute(p, &after);
                        if reads_only(&p, raw) {
                            expand.values.push(p);
                        }
                    }
                    Op::Extend(items) => {
                        for item in items {
                            let e = substitute(&item.expr, &after);
                            let raw = |c: &str| c == expand.name && !opaque.contains(c);
                            if reads_only(&e, raw) {
                                opaque.remove(&item.name);
                                after.insert(item.name.clone(), e);
                            } else {
                                after.remove(&item.name);
                                opaque.insert(item.name.clone());
                            }
                        }
                    }
                    _ => break,
                }
            }
        }
        (!filter.row.is_empty() || filter.expand.is_some()).then_some(filter)
    }

    /// Whether this source row can give any row of the answer.
    pub fn keeps(&self, row: &[Value], idx: &HashMap<String, usize>) -> bool {
        if !self.row.iter().all(|p| truthy(&eval(p, row, idx))) {
            return false;
        }
        let Some(expand) = &self.expand else {
            return true;
        };
        let one: HashMap<String, usize> = HashMap::from([(expand.name.clone(), 0)]);
        expansion(eval(&expand.expr, row, idx))
            .into_iter()
            .take(expand.limit)
            .any(|v| {
                let cell = [v];
                expand.values.iter().all(|p| truthy(&eval(p, &cell, &one)))
            })
    }
}

/// Whether every column `expr` reads passes `known`.
fn reads_only(expr: &Expr, known: impl Fn(&str) -> bool) -> bool {
    let mut names = HashSet::new();
    reads(expr, &mut names);
    names.iter().all(|n| known(n))
}

/// `expr` with every column that `defined` names replaced by its definition.
fn substitute(expr: &Expr, defined: &HashMap<String, Expr>) -> Expr {
    if defined.is_empty() {
        return expr.clone();
    }
    let sub = |e: &Expr| Box::new(substitute(e, defined));
    match expr {
        Expr::Col { name, .. } => defined.get(name).cloned().unwrap_or_else(|| expr.clone()),
        Expr::Lit(_) => expr.clone(),
        Expr::Member(base, key) => Expr::Member(sub(base), key.clone()),
        Expr::Index(base, index) => Expr::Index(sub(base), sub(index)),
        Expr::Neg(inner) => Expr::Neg(sub(inner)),
        Expr::Binary(op, l, r) => Expr::Binary(*op, sub(l), sub(r)),
        Expr::In {
            expr,
            list,
            negated,
            ci,
            texts,
        } => Expr::In {
            expr: sub(expr),
            list: list.iter().map(|e| substitute(e, defined)).collect(),
            negated: *negated,
            ci: *ci,
            texts: texts.clone(),
        },
        Expr::Call { func, args } => Expr::Call {
            func: *func,
            args: args.iter().map(|e| substitute(e, defined)).collect(),
        },
    }
}
