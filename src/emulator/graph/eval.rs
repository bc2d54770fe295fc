//! Runs a parsed query over in-memory tables of JSON values, with Kusto's semantics for the
//! subset: string comparisons (`==` exact, `=~` and the string operators case-insensitive),
//! dynamic values that read as `""` where a string is expected, and nulls that never match.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::ast::{
    AggFunc, Aggregate, BinOp, Expr, Func, JoinKind, Named, Op, Query, SortKey, Source,
};
use super::error::QueryError;
use super::prefilter::Prefilter;

/// The default and the largest row limit of `mv-expand` in Resource Graph.
const MV_EXPAND_DEFAULT_LIMIT: usize = 128;
const MV_EXPAND_MAX_LIMIT: usize = 400;

/// A table: named columns and rows of values in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// A table of these columns and no rows.
    pub fn new(columns: Vec<String>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Each row as a JSON object keyed by column name.
    pub fn objects(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|row| {
                let map: Map<String, Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect();
                Value::Object(map)
            })
            .collect()
    }

    fn index(&self) -> HashMap<String, usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect()
    }
}

/// Where a query's tables come from: by lower-cased name.
pub trait Catalog {
    /// The table of this (lower-cased) name, or `None` when there is no such table.
    fn table(&self, name: &str) -> Option<Table>;

    /// The columns of that table, without copying its rows.
    fn columns(&self, name: &str) -> Option<Vec<String>>;

    /// The same table with only the rows `keep` accepts, and only what `read` says of each
    /// column (see [`Read`]); a catalog that can test rows before copying them overrides
    /// this, so that a leading `where` copies only what it keeps.
    fn table_where(
        &self,
        name: &str,
        keep: &dyn Fn(&[Value]) -> bool,
        read: Option<&[Read]>,
    ) -> Option<Table> {
        let mut table = self.table(name)?;
        table.rows.retain(|row| keep(row));
        if let Some(read) = read {
            for row in &mut table.rows {
                let copied = copy_read(row, Some(read));
                *row = copied;
            }
        }
        Some(table)
    }
}

/// How much of a source column a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// None of it: the cell is left null.
    Nothing,
    /// All of it.
    Whole,
    /// Only these members of it (`c.a`, `c.b.x`), when it is an object: the others are left
    /// out, as no expression of the query can see them.
    Members(HashSet<String>),
}

/// The cells of a row the query reads, copied as `read` says; all of it without `read`.
pub fn copy_read(row: &[Value], read: Option<&[Read]>) -> Vec<Value> {
    match read {
        None => row.to_vec(),
        Some(read) => row
            .iter()
            .zip(read)
            .map(|(v, read)| match (read, v) {
                (Read::Nothing, _) => Value::Null,
                (Read::Members(names), Value::Object(m)) => Value::Object(
                    m.iter()
                        .filter(|(k, _)| names.contains(k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                _ => v.clone(),
            })
            .collect(),
    }
}

/// What the query reads of each column of the source table before an operator that keeps
/// only what it names (`project`, `summarize`, `distinct`, `count`): the rest need not be
/// copied, as no later operator can see it. `None` when any column may reach the answer.
pub(super) fn source_columns(query: &Query) -> Option<HashMap<String, Read>> {
    let mut names = HashMap::new();
    let whole = |names: &mut HashMap<String, Read>, name: &str| {
        names.insert(name.to_string(), Read::Whole);
    };
    for op in &query.ops {
        match op {
            Op::Where(e) => reads_of(e, &mut names),
            Op::Extend(items) => items.iter().for_each(|n| reads_of(&n.expr, &mut names)),
            Op::Project(items) | Op::Distinct(items) => {
                items.iter().for_each(|n| reads_of(&n.expr, &mut names));
                return Some(names);
            }
            Op::ProjectAway(cols) => cols.iter().for_each(|c| whole(&mut names, c)),
            Op::MvExpand { items, .. } => {
                for n in items {
                    reads_of(&n.expr, &mut names);
                    whole(&mut names, &n.name);
                }
            }
            Op::Summarize { aggs, by } => {
                aggs.iter()
                    .filter_map(|a| a.arg.as_ref())
                    .for_each(|e| reads_of(e, &mut names));
                by.iter().for_each(|n| reads_of(&n.expr, &mut names));
                return Some(names);
            }
            Op::Join { on, .. } => on.iter().for_each(|(l, _)| reads_of(l, &mut names)),
            Op::Order(keys) => keys.iter().for_each(|k| reads_of(&k.expr, &mut names)),
            Op::Top { key, .. } => reads_of(&key.expr, &mut names),
            Op::Take(_) => {}
            Op::Count => return Some(names),
            Op::Union(_) => return None,
        }
    }
    None
}

/// Adds what an expression reads of each column: a column named only in member paths with
/// literal names (`c.a`) is read as those members, any other use reads it whole.
fn reads_of(expr: &Expr, names: &mut HashMap<String, Read>) {
    if let Expr::Member(base, key) = expr
        && let Expr::Col { name, .. } = base.as_ref()
    {
        let read = names
            .entry(name.clone())
            .or_insert_with(|| Read::Members(HashSet::new()));
        if let Read::Members(members) = read {
            members.insert(key.clone());
        }
        return;
    }
    let mut columns = HashSet::new();
    match expr {
        Expr::Member(base, _) => return reads_of(base, names),
        Expr::Neg(base) => return reads_of(base, names),
        Expr::Binary(_, l, r) => {
            reads_of(l, names);
            return reads_of(r, names);
        }
        Expr::In { expr, list, .. } => {
            reads_of(expr, names);
            return list.iter().for_each(|e| reads_of(e, names));
        }
        Expr::Call { args, .. } => return args.iter().for_each(|e| reads_of(e, names)),
        other => reads(other, &mut columns),
    }
    for c in columns {
        names.insert(c, Read::Whole);
    }
}

/// Adds the columns an expression reads.
pub(super) fn reads(expr: &Expr, names: &mut HashSet<String>) {
    match expr {
        Expr::Col { name, .. } => {
            names.insert(name.clone());
        }
        Expr::Lit(_) => {}
        Expr::Member(base, _) | Expr::Neg(base) => reads(base, names),
        Expr::Index(base, index) => {
            reads(base, names);
            reads(index, names);
        }
        Expr::Binary(_, l, r) => {
            reads(l, names);
            reads(r, names);
        }
        Expr::In { expr, list, .. } => {
            reads(expr, names);
            list.iter().for_each(|e| reads(e, names));
        }
        Expr::Call { args, .. } => args.iter().for_each(|e| reads(e, names)),
    }
}

impl Catalog for HashMap<String, Table> {
    fn table(&self, name: &str) -> Option<Table> {
        self.get(name).cloned()
    }

    fn columns(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|t| t.columns.clone())
    }
}

/// Runs `query` over the tables of `catalog`.
pub fn run(query: &Query, catalog: &dyn Catalog) -> Result<Table, QueryError> {
    let mut ops = query.ops.as_slice();
    let mut table = match &query.source {
        Source::Table { name, pos } => {
            let unknown = || QueryError::UnknownTable {
                name: name.clone(),
                pos: *pos,
            };
            let lower = name.to_ascii_lowercase();
            let columns = Table::new(catalog.columns(&lower).ok_or_else(unknown)?);
            // Only what the query reads is copied out of the catalog.
            let read: Option<Vec<Read>> = source_columns(query).map(|names| {
                columns
                    .columns
                    .iter()
                    .map(|c| names.get(c).cloned().unwrap_or(Read::Nothing))
                    .collect()
            });
            // A leading `where` is tested on the catalog's rows before they are copied, and
            // so is what the operators after it would surely drop (see `Prefilter`).
            let idx = columns.index();
            let lead = match ops.split_first() {
                Some((Op::Where(pred), rest)) => {
                    check(pred, &columns)?;
                    ops = rest;
                    Some(pred)
                }
                _ => None,
            };
            let later = Prefilter::of(ops, &columns.columns, MV_EXPAND_DEFAULT_LIMIT);
            let keep = |row: &[Value]| {
                lead.is_none_or(|p| truthy(&eval(p, row, &idx)))
                    && later.as_ref().is_none_or(|f| f.keeps(row, &idx))
            };
            catalog
                .table_where(&lower, &keep, read.as_deref())
                .ok_or_else(unknown)?
        }
        Source::Union(legs) => {
            let tables = legs
                .iter()
                .map(|q| run(q, catalog))
                .collect::<Result<Vec<_>, _>>()?;
            union(tables)
        }
    };
    for op in ops {
        table = apply(op, table, catalog)?;
    }
    Ok(table)
}

/// Whether the query limits its own rows (`take`, `limit`, `top`), so that Resource Graph
/// gives no skip token.
pub fn limits_rows(query: &Query) -> bool {
    query
        .ops
        .iter()
        .any(|op| matches!(op, Op::Take(_) | Op::Top { .. }))
}

fn apply(op: &Op, input: Table, catalog: &dyn Catalog) -> Result<Table, QueryError> {
    match op {
        Op::Where(pred) => {
            check(pred, &input)?;
            let idx = input.index();
            let rows = input
                .rows
                .into_iter()
                .filter(|row| truthy(&eval(pred, row, &idx)))
                .collect();
            Ok(Table {
                columns: input.columns,
                rows,
            })
        }
        Op::Extend(items) => extend(input, items),
        Op::Project(items) => {
            for item in items {
                check(&item.expr, &input)?;
            }
            let idx = input.index();
            let rows = input
                .rows
                .iter()
                .map(|row| items.iter().map(|it| eval(&it.expr, row, &idx)).collect())
                .collect();
            Ok(Table {
                columns: unique_names(items.iter().map(|i| i.name.clone())),
                rows,
            })
        }
        Op::ProjectAway(names) => {
            let mut keep = Vec::new();
            for name in names {
                if !input.columns.contains(name) {
                    return Err(QueryError::UnknownColumn {
                        name: name.clone(),
                        pos: 0,
                    });
                }
            }
            for (i, c) in input.columns.iter().enumerate() {
                if !names.contains(c) {
                    keep.push(i);
                }
            }
            Ok(Table {
                columns: keep.iter().map(|&i| input.columns[i].clone()).collect(),
                rows: input
                    .rows
                    .into_iter()
                    .map(|row| keep.iter().map(|&i| row[i].clone()).collect())
                    .collect(),
            })
        }
        Op::MvExpand { items, limit } => mv_expand(input, items, *limit),
        Op::Summarize { aggs, by } => summarize(input, aggs, by),
        Op::Join { kind, right, on } => {
            let right = run(right, catalog)?;
            join(input, right, *kind, on)
        }
        Op::Union(legs) => {
            let mut tables = vec![input];
            for q in legs {
                tables.push(run(q, catalog)?);
            }
            Ok(union(tables))
        }
        Op::Order(keys) => sort(input, keys),
        Op::Take(n) => {
            let mut t = input;
            t.rows.truncate(*n);
            Ok(t)
        }
        Op::Top { count, key } => {
            let mut t = sort(input, std::slice::from_ref(key))?;
            t.rows.truncate(*count);
            Ok(t)
        }
        Op::Distinct(items) => distinct(input, items),
        Op::Count => Ok(Table {
            columns: vec!["Count".to_string()],
            rows: vec![vec![Value::from(input.rows.len() as u64)]],
        }),
    }
}

/// Refuses an expression that names a column the table does not have.
fn check(expr: &Expr, table: &Table) -> Result<(), QueryError> {
    match expr {
        Expr::Col { name, pos } => {
            if table.columns.iter().any(|c| c == name) {
                Ok(())
            } else {
                Err(QueryError::UnknownColumn {
                    name: name.clone(),
                    pos: *pos,
                })
            }
        }
        Expr::Lit(_) => Ok(()),
        Expr::Member(base, _) | Expr::Neg(base) => check(base, table),
        Expr::Index(base, index) => {
            check(base, table)?;
            check(index, table)
        }
        Expr::Binary(_, l, r) => {
            check(l, table)?;
            check(r, table)
        }
        Expr::In { expr, list, .. } => {
            check(expr, table)?;
            list.iter().try_for_each(|e| check(e, table))
        }
        Expr::Call { args, .. } => args.iter().try_for_each(|e| check(e, table)),
    }
}

fn extend(mut table: Table, items: &[Named]) -> Result<Table, QueryError> {
    for item in items {
        check(&item.expr, &table)?;
        let idx = table.index();
        let values: Vec<Value> = table
            .rows
            .iter()
            .map(|row| eval(&item.expr, row, &idx))
            .collect();
        match table.columns.iter().position(|c| *c == item.name) {
            Some(at) => {
                for (row, v) in table.rows.iter_mut().zip(values) {
                    row[at] = v;
                }
            }
            None => {
                table.columns.push(item.name.clone());
                for (row, v) in table.rows.iter_mut().zip(values) {
                    row.push(v);
                }
            }
        }
    }
    Ok(table)
}

fn mv_expand(table: Table, items: &[Named], limit: Option<usize>) -> Result<Table, QueryError> {
    let limit = limit.unwrap_or(MV_EXPAND_DEFAULT_LIMIT);
    if limit > MV_EXPAND_MAX_LIMIT {
        return Err(QueryError::Limit {
            what: format!("mv-expand limit may be at most {MV_EXPAND_MAX_LIMIT}"),
            pos: 0,
        });
    }
    for item in items {
        check(&item.expr, &table)?;
    }
    let idx = table.index();
    let mut columns = table.columns.clone();
    let mut targets = Vec::new();
    for item in items {
        match columns.iter().position(|c| *c == item.name) {
            Some(at) => targets.push(at),
            None => {
                columns.push(item.name.clone());
                targets.push(columns.len() - 1);
            }
        }
    }
    let mut rows = Vec::new();
    for row in &table.rows {
        let expanded: Vec<Vec<Value>> = items
            .iter()
            .map(|it| expansion(eval(&it.expr, row, &idx)))
            .collect();
        // Several expressions expand side by side; the longest decides the row count.
        let n = expanded.iter().map(Vec::len).max().unwrap_or(0).min(limit);
        for i in 0..n {
            let mut out = row.clone();
            out.resize(columns.len(), Value::Null);
            for (values, &at) in expanded.iter().zip(&targets) {
                out[at] = values.get(i).cloned().unwrap_or(Value::Null);
            }
            rows.push(out);
        }
    }
    Ok(Table { columns, rows })
}

/// The values `mv-expand` makes rows of: an array's items, an object's entries (each a
/// one-entry object), nothing for null, a scalar itself.
pub(super) fn expansion(value: Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a,
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| {
                let mut one = Map::new();
                one.insert(k, v);
                Value::Object(one)
            })
            .collect(),
        Value::Null => Vec::new(),
        scalar => vec![scalar],
    }
}

fn summarize(table: Table, aggs: &[Aggregate], by: &[Named]) -> Result<Table, QueryError> {
    for e in by
        .iter()
        .map(|b| &b.expr)
        .chain(aggs.iter().filter_map(|a| a.arg.as_ref()))
    {
        check(e, &table)?;
    }
    let idx = table.index();
    let mut order: Vec<Vec<Value>> = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (r, row) in table.rows.iter().enumerate() {
        let key: Vec<Value> = by.iter().map(|b| eval(&b.expr, row, &idx)).collect();
        let text = key_text(&key);
        let members = groups.entry(text).or_default();
        if members.is_empty() {
            order.push(key);
        }
        members.push(r);
    }
    // Without `by`, an empty input still gives one row (count 0).
    if by.is_empty() && order.is_empty() {
        order.push(Vec::new());
        groups.insert(key_text(&[]), Vec::new());
    }
    let mut columns: Vec<String> = by.iter().map(|b| b.name.clone()).collect();
    columns.extend(aggs.iter().map(|a| a.name.clone()));
    let mut rows = Vec::new();
    // The keys are known: the aggregates may take the values they read out of the rows
    // instead of copying them, when no two of them read the same value.
    let moving = moves(aggs);
    let mut input = table.rows;
    for key in order {
        let members = &groups[&key_text(&key)];
        let mut out = key;
        for agg in aggs {
            let values = members.iter().map(|&r| match (&agg.arg, input.get_mut(r)) {
                (Some(e), Some(row)) if moving => take(e, row, &idx),
                (Some(e), Some(row)) => eval(e, row, &idx),
                _ => Value::Null,
            });
            out.push(aggregate(agg.func, values));
        }
        rows.push(out);
    }
    Ok(Table {
        columns: unique_names(columns),
        rows,
    })
}

/// A group's key as text, the map key of its group.
fn key_text(key: &[Value]) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

/// The column and member names of a plain path (`c`, `c.a.b`).
fn plain_path(expr: &Expr) -> Option<Vec<&str>> {
    match expr {
        Expr::Col { name, .. } => Some(vec![name.as_str()]),
        Expr::Member(base, key) => {
            let mut p = plain_path(base)?;
            p.push(key.as_str());
            Some(p)
        }
        _ => None,
    }
}

/// Adds the paths an aggregate's argument takes; false when it is not made of plain paths,
/// literals, `pack` with literal names and `pack_array` alone.
fn taken_paths<'e>(expr: &'e Expr, paths: &mut Vec<Vec<&'e str>>) -> bool {
    match expr {
        Expr::Lit(_) => true,
        Expr::Call {
            func: Func::Pack,
            args,
        } => args.chunks(2).all(|pair| match pair {
            [Expr::Lit(_), value] => taken_paths(value, paths),
            _ => false,
        }),
        Expr::Call {
            func: Func::PackArray,
            args,
        } => args.iter().all(|value| taken_paths(value, paths)),
        other => match plain_path(other) {
            Some(p) => {
                paths.push(p);
                true
            }
            None => false,
        },
    }
}

/// Whether the aggregates may take their values out of the rows: each reads only plain
/// paths, and none of them lies within another (or is read twice), so no read finds a value
/// an earlier one took.
fn moves(aggs: &[Aggregate]) -> bool {
    let mut paths = Vec::new();
    if !aggs
        .iter()
        .filter_map(|a| a.arg.as_ref())
        .all(|e| taken_paths(e, &mut paths))
    {
        return false;
    }
    paths.iter().enumerate().all(|(i, a)| {
        paths.iter().skip(i + 1).all(|b| {
            let n = a.len().min(b.len());
            a[..n] != b[..n]
        })
    })
}

/// `eval` of an expression `moves` allowed, moving the values it reads out of the row.
fn take(expr: &Expr, row: &mut [Value], idx: &HashMap<String, usize>) -> Value {
    match expr {
        Expr::Call {
            func: Func::Pack,
            args,
        } => Value::Object(
            args.chunks(2)
                .filter_map(|pair| match pair {
                    [name, value] => Some((text(&eval(name, row, idx)), take(value, row, idx))),
                    _ => None,
                })
                .collect(),
        ),
        Expr::Call {
            func: Func::PackArray,
            args,
        } => Value::Array(args.iter().map(|value| take(value, row, idx)).collect()),
        other => match path_mut(other, row, idx) {
            Some(v) => std::mem::take(v),
            None => eval(other, row, idx),
        },
    }
}

/// The value a plain path names in the row, to take it.
fn path_mut<'a>(
    expr: &Expr,
    row: &'a mut [Value],
    idx: &HashMap<String, usize>,
) -> Option<&'a mut Value> {
    match expr {
        Expr::Col { name, .. } => idx.get(name.as_str()).and_then(|&i| row.get_mut(i)),
        Expr::Member(base, key) => match path_mut(base, row, idx)? {
            Value::Object(m) => m.get_mut(key),
            _ => None,
        },
        _ => None,
    }
}

fn aggregate(func: AggFunc, values: impl Iterator<Item = Value>) -> Value {
    match func {
        AggFunc::Count => Value::from(values.count() as u64),
        AggFunc::CountIf => Value::from(values.filter(truthy).count() as u64),
        AggFunc::DCount => {
            let set: HashSet<String> = values
                .filter(|v| !v.is_null())
                .map(|v| v.to_string())
                .collect();
            Value::from(set.len() as u64)
        }
        AggFunc::MakeList => Value::Array(values.filter(|v| !v.is_null()).collect()),
        AggFunc::MakeSet => {
            let mut seen = HashSet::new();
            Value::Array(
                values
                    .filter(|v| !v.is_null() && seen.insert(v.to_string()))
                    .collect(),
            )
        }
        AggFunc::Sum => {
            let mut int: Option<i64> = Some(0);
            let mut real = 0.0;
            for v in values {
                if let Some(i) = v.as_i64() {
                    int = int.and_then(|s| s.checked_add(i));
                    real += i as f64;
                } else if let Some(f) = v.as_f64() {
                    int = None;
                    real += f;
                }
            }
            int.map(Value::from).unwrap_or_else(|| Value::from(real))
        }
        AggFunc::Min | AggFunc::Max => {
            let want = if func == AggFunc::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            values
                .filter(|v| !v.is_null())
                .fold(Value::Null, |best, v| {
                    if best.is_null() || compare(&v, &best) == want {
                        v
                    } else {
                        best
                    }
                })
        }
    }
}

fn join(
    left: Table,
    right: Table,
    kind: JoinKind,
    on: &[(Expr, Expr)],
) -> Result<Table, QueryError> {
    for (l, r) in on {
        check(l, &left)?;
        check(r, &right)?;
    }
    let lidx = left.index();
    let ridx = right.index();
    let key =
        |exprs: &mut dyn Iterator<Item = &Expr>, row: &[Value], idx: &HashMap<String, usize>| {
            let values: Vec<Value> = exprs.map(|e| eval(e, row, idx)).collect();
            // A null key matches nothing, as in Kusto.
            if values.iter().any(Value::is_null) {
                None
            } else {
                Some(Value::Array(values).to_string())
            }
        };
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (r, row) in right.rows.iter().enumerate() {
        if let Some(k) = key(&mut on.iter().map(|(_, r)| r), row, &ridx) {
            by_key.entry(k).or_default().push(r);
        }
    }
    let mut columns = left.columns.clone();
    for c in &right.columns {
        let mut name = c.clone();
        let mut n = 1;
        while columns.contains(&name) {
            name = format!("{c}{n}");
            n += 1;
        }
        columns.push(name);
    }
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for row in &left.rows {
        let k = key(&mut on.iter().map(|(l, _)| l), row, &lidx);
        if kind == JoinKind::InnerUnique {
            match &k {
                Some(k) if !seen.insert(k.clone()) => continue,
                _ => {}
            }
        }
        let matches = k.as_ref().and_then(|k| by_key.get(k));
        match matches {
            Some(rs) => {
                for &r in rs {
                    let mut out = row.clone();
                    out.extend(right.rows[r].iter().cloned());
                    rows.push(out);
                }
            }
            None if kind == JoinKind::LeftOuter => {
                let mut out = row.clone();
                out.resize(columns.len(), Value::Null);
                rows.push(out);
            }
            None => {}
        }
    }
    Ok(Table { columns, rows })
}

/// `union kind=outer`: every column of every table, in order of first appearance.
fn union(tables: Vec<Table>) -> Table {
    let mut columns: Vec<String> = Vec::new();
    for t in &tables {
        for c in &t.columns {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let mut rows = Vec::new();
    for t in tables {
        let at: Vec<usize> = t
            .columns
            .iter()
            .map(|c| columns.iter().position(|x| x == c).unwrap_or(0))
            .collect();
        for row in t.rows {
            let mut out = vec![Value::Null; columns.len()];
            for (v, &i) in row.into_iter().zip(&at) {
                out[i] = v;
            }
            rows.push(out);
        }
    }
    Table { columns, rows }
}

fn sort(table: Table, keys: &[SortKey]) -> Result<Table, QueryError> {
    for k in keys {
        check(&k.expr, &table)?;
    }
    let idx = table.index();
    let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = table
        .rows
        .into_iter()
        .map(|row| {
            (
                keys.iter().map(|k| eval(&k.expr, &row, &idx)).collect(),
                row,
            )
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (k, (x, y)) in keys.iter().zip(a.iter().zip(b)) {
            let ord = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, false) => {
                    let o = compare(x, y);
                    if k.desc { o.reverse() } else { o }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    Ok(Table {
        columns: table.columns,
        rows: keyed.into_iter().map(|(_, r)| r).collect(),
    })
}

fn distinct(table: Table, items: &[Named]) -> Result<Table, QueryError> {
    let projected = if items.is_empty() {
        table
    } else {
        apply(
            &Op::Project(items.to_vec()),
            table,
            &HashMap::<String, Table>::new(),
        )?
    };
    let mut seen = HashSet::new();
    let rows = projected
        .rows
        .into_iter()
        .filter(|row| seen.insert(Value::Array(row.clone()).to_string()))
        .collect();
    Ok(Table {
        columns: projected.columns,
        rows,
    })
}

/// Column names made unique the way Kusto does: a repeat gets `1`, `2`, ... appended.
fn unique_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let mut candidate = name.clone();
        let mut n = 1;
        while out.contains(&candidate) {
            candidate = format!("{name}{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// Evaluates a scalar expression on one row.
pub(super) fn eval(expr: &Expr, row: &[Value], idx: &HashMap<String, usize>) -> Value {
    match expr {
        Expr::Lit(v) => v.clone(),
        Expr::Col { .. } | Expr::Member(..) => match path(expr, row, idx) {
            Some(v) => v.clone(),
            None => match expr {
                Expr::Member(base, key) => match eval(base, row, idx) {
                    Value::Object(mut m) => m.remove(key).unwrap_or(Value::Null),
                    _ => Value::Null,
                },
                _ => Value::Null,
            },
        },
        Expr::Index(base, index) => {
            let b = eval(base, row, idx);
            match (b, eval(index, row, idx)) {
                (Value::Array(a), Value::Number(n)) => n
                    .as_i64()
                    .and_then(|i| {
                        let len = i64::try_from(a.len()).ok()?;
                        let at = if i < 0 { len.checked_add(i)? } else { i };
                        usize::try_from(at).ok()
                    })
                    .and_then(|i| a.into_iter().nth(i))
                    .unwrap_or(Value::Null),
                (Value::Object(mut m), Value::String(k)) => m.remove(&k).unwrap_or(Value::Null),
                _ => Value::Null,
            }
        }
        Expr::Neg(inner) => match eval(inner, row, idx) {
            Value::Number(n) => match n.as_i64() {
                Some(i) => i.checked_neg().map(Value::from).unwrap_or(Value::Null),
                None => n.as_f64().map(|f| Value::from(-f)).unwrap_or(Value::Null),
            },
            _ => Value::Null,
        },
        // Comparing a column with a literal copies neither: a `where` over a tenant's rows
        // copied every cell it tested.
        Expr::Binary(op, l, r) if !matches!(op, BinOp::And | BinOp::Or) => {
            match (borrowed(l, row, idx), borrowed(r, row, idx)) {
                (Some(a), Some(b)) => relate(*op, a, b),
                _ => relate(*op, &eval(l, row, idx), &eval(r, row, idx)),
            }
        }
        Expr::Binary(op, l, r) => binary(*op, eval(l, row, idx), || eval(r, row, idx)),
        Expr::In {
            expr,
            list,
            negated,
            ci,
            texts,
        } => {
            let v = match path(expr, row, idx) {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => std::borrow::Cow::Owned(eval(expr, row, idx)),
            };
            if let Some(texts) = texts {
                let found = match &*v {
                    Value::Null => false,
                    Value::String(t) => texts.contains(t, *ci),
                    other => texts.contains(&text(other), *ci),
                };
                return Value::Bool(found != *negated);
            }
            // The row's side as text once, not once per literal: a list of a thousand ids
            // was a thousand allocations per row.
            let v: &Value = &v;
            let v_text = match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(text(v)),
                _ => None,
            };
            let same = |c: &Value| match (c, &v_text) {
                (Value::String(s), Some(t)) if *ci => same_ci(s, t),
                (Value::String(s), Some(t)) => s == t,
                _ if *ci => equal_ci(v, c),
                _ => equal(v, c),
            };
            // Literals are compared where they stand: copying a long list for every row
            // made a query by a thousand ids slow.
            let found = !v.is_null()
                && list.iter().any(|e| match e {
                    Expr::Lit(Value::Array(items)) => items.iter().any(same),
                    Expr::Lit(c) => same(c),
                    other => match eval(other, row, idx) {
                        Value::Array(items) => items.iter().any(same),
                        c => same(&c),
                    },
                });
            Value::Bool(found != *negated)
        }
        Expr::Call { func, args } => call(*func, args, row, idx),
    }
}

fn binary(op: BinOp, left: Value, right: impl FnOnce() -> Value) -> Value {
    match op {
        BinOp::And => Value::Bool(truthy(&left) && truthy(&right())),
        BinOp::Or => Value::Bool(truthy(&left) || truthy(&right())),
        _ => relate(op, &left, &right()),
    }
}

/// A value as it stands in the row or the query, when reading it needs no copy.
fn borrowed<'a>(
    expr: &'a Expr,
    row: &'a [Value],
    idx: &HashMap<String, usize>,
) -> Option<&'a Value> {
    match expr {
        Expr::Lit(v) => Some(v),
        other => path(other, row, idx),
    }
}

/// A comparison or arithmetic operator (not `and` / `or`) applied to both sides.
fn relate(op: BinOp, left: &Value, right: &Value) -> Value {
    match op {
        BinOp::Eq => Value::Bool(equal(left, right)),
        BinOp::Ne => Value::Bool(!equal(left, right)),
        BinOp::EqCi => Value::Bool(equal_ci(left, right)),
        BinOp::NeCi => Value::Bool(!equal_ci(left, right)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            if left.is_null() || right.is_null() {
                return Value::Bool(false);
            }
            let o = compare(left, right);
            Value::Bool(match op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        BinOp::Has | BinOp::NotHas => {
            Value::Bool(has(&text(left), &text(right)) == (op == BinOp::Has))
        }
        BinOp::Contains | BinOp::NotContains => Value::Bool(
            text(left)
                .to_lowercase()
                .contains(&text(right).to_lowercase())
                == (op == BinOp::Contains),
        ),
        BinOp::StartsWith | BinOp::NotStartsWith => Value::Bool(
            text(left)
                .to_lowercase()
                .starts_with(&text(right).to_lowercase())
                == (op == BinOp::StartsWith),
        ),
        BinOp::EndsWith | BinOp::NotEndsWith => Value::Bool(
            text(left)
                .to_lowercase()
                .ends_with(&text(right).to_lowercase())
                == (op == BinOp::EndsWith),
        ),
        _ => arithmetic(op, left, right),
    }
}

fn arithmetic(op: BinOp, left: &Value, right: &Value) -> Value {
    if let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) {
        let r = match op {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::Div => a.checked_div(b),
            _ => a.checked_rem(b),
        };
        return r.map(Value::from).unwrap_or(Value::Null);
    }
    match (left.as_f64(), right.as_f64()) {
        (Some(a), Some(b)) => {
            let r = match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => a % b,
            };
            serde_json::Number::from_f64(r)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// The value a column or a column's member path names, borrowed from the row (`None` for
/// any other expression): tests like `isnotempty(identity)` need no copy of the object.
fn path<'a>(expr: &Expr, row: &'a [Value], idx: &HashMap<String, usize>) -> Option<&'a Value> {
    static NULL: Value = Value::Null;
    match expr {
        Expr::Col { name, .. } => Some(
            idx.get(name.as_str())
                .and_then(|&i| row.get(i))
                .unwrap_or(&NULL),
        ),
        Expr::Member(base, key) => Some(match path(base, row, idx)? {
            Value::Object(m) => m.get(key).unwrap_or(&NULL),
            _ => &NULL,
        }),
        _ => None,
    }
}

fn call(func: Func, args: &[Expr], row: &[Value], idx: &HashMap<String, usize>) -> Value {
    let arg = |i: usize| -> std::borrow::Cow<'_, Value> {
        match args.get(i) {
            Some(e) => match path(e, row, idx) {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => std::borrow::Cow::Owned(eval(e, row, idx)),
            },
            None => std::borrow::Cow::Owned(Value::Null),
        }
    };
    match func {
        Func::ToString => Value::String(text(&arg(0))),
        Func::ToLower => Value::String(as_text(&arg(0)).to_lowercase()),
        Func::ToUpper => Value::String(as_text(&arg(0)).to_uppercase()),
        Func::BagKeys => match &*arg(0) {
            Value::Object(m) => Value::Array(m.keys().map(|k| Value::String(k.clone())).collect()),
            _ => Value::Null,
        },
        Func::ArrayLength => match &*arg(0) {
            Value::Array(a) => Value::from(a.len() as u64),
            _ => Value::Null,
        },
        Func::Iif => {
            if truthy(&arg(0)) {
                arg(1).into_owned()
            } else {
                arg(2).into_owned()
            }
        }
        Func::IsNull => Value::Bool(arg(0).is_null()),
        Func::IsNotNull => Value::Bool(!arg(0).is_null()),
        Func::IsEmpty => Value::Bool(is_empty(&arg(0))),
        Func::IsNotEmpty => Value::Bool(!is_empty(&arg(0))),
        Func::StrCat => Value::String((0..args.len()).map(|i| text(&arg(i))).collect()),
        Func::Split => {
            let s = text(&arg(0));
            let d = text(&arg(1));
            let parts: Vec<Value> = if d.is_empty() {
                vec![Value::String(s)]
            } else {
                s.split(d.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            if args.len() < 3 {
                return Value::Array(parts);
            }
            // With an index, Kusto returns the one part, still as an array.
            match arg(2)
                .as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| parts.get(i))
            {
                Some(p) => Value::Array(vec![p.clone()]),
                None => Value::Array(Vec::new()),
            }
        }
        Func::Not => Value::Bool(!truthy(&arg(0))),
        Func::Pack => Value::Object(
            (0..args.len() / 2)
                .map(|i| (text(&arg(2 * i)), arg(2 * i + 1).into_owned()))
                .collect(),
        ),
        Func::PackArray => Value::Array((0..args.len()).map(|i| arg(i).into_owned()).collect()),
        Func::Hash => {
            if arg(0).is_null() {
                return Value::Null;
            }
            let h = fnv1a(as_text(&arg(0)).as_bytes());
            if args.len() < 2 {
                // Kusto's hash is a signed 64-bit value.
                return Value::from(i64::from_ne_bytes(h.to_ne_bytes()));
            }
            match arg(1).as_i64().and_then(|m| u64::try_from(m).ok()) {
                Some(m) if m > 0 => Value::from(h % m),
                _ => Value::Null,
            }
        }
    }
}

/// FNV-1a, 64 bits: stable across runs and platforms, as a query's buckets must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `text`, borrowed when the value is a string already.
fn as_text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(text(other)),
    }
}

/// A value as Kusto's `tostring` gives it: null is `""`, dynamic values are compact JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Whether a value is `true` (Kusto's test of a predicate).
pub(super) fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `==`: strings compare exactly (a dynamic value reads as its text), numbers by value.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::String(_), _) | (_, Value::String(_)) => text(a) == text(b),
        (Value::Null, _) | (_, Value::Null) => false,
        _ => a == b,
    }
}

/// `=~`: as `==`, ignoring case.
fn equal_ci(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => same_ci(x, y),
        (Value::String(_), _) | (_, Value::String(_)) => same_ci(&text(a), &text(b)),
        _ => equal(a, b),
    }
}

/// Two texts equal but for case, as `equal_ci` compares them, without copying ASCII ones.
fn same_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// `has`: the right side's terms appear as whole terms, in order, in the left side.
fn has(haystack: &str, needle: &str) -> bool {
    fn terms(s: &str) -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
    let hay = terms(haystack);
    let need = terms(needle);
    if need.is_empty() {
        return true;
    }
    hay.windows(need.len()).any(|w| w == need.as_slice())
}

/// A total order: numbers by value, strings ordinally, then by kind.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ if rank(a) == rank(b) => a.to_string().cmp(&b.to_string()),
        _ => rank(a).cmp(&rank(b)),
    }
}
