//! The parsed form of a query: a source table, then tabular operators in order.

use serde_json::Value;

/// A whole query: rows from `source`, then each operator in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub source: Source,
    pub ops: Vec<Op>,
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A named table (`resources`, `resourcecontainers`, `authorizationresources`).
    Table { name: String, pos: usize },
    /// `union` of several queries, columns merged by name.
    Union(Vec<Query>),
}

/// One tabular operator after a `|`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Where(Expr),
    Extend(Vec<Named>),
    Project(Vec<Named>),
    ProjectAway(Vec<String>),
    MvExpand {
        items: Vec<Named>,
        limit: Option<usize>,
    },
    Summarize {
        aggs: Vec<Aggregate>,
        by: Vec<Named>,
    },
    Join {
        kind: JoinKind,
        right: Box<Query>,
        on: Vec<(Expr, Expr)>,
    },
    Union(Vec<Query>),
    Order(Vec<SortKey>),
    Take(usize),
    Top {
        count: usize,
        key: SortKey,
    },
    Distinct(Vec<Named>),
    Count,
}

/// How `join` matches rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// The default: each distinct left key once, joined to every matching right row.
    InnerUnique,
    Inner,
    LeftOuter,
}

/// An expression with the column name it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub expr: Expr,
}

/// One aggregation of `summarize`, with its output column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub name: String,
    pub func: AggFunc,
    pub arg: Option<Expr>,
}

/// The aggregation functions of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    CountIf,
    DCount,
    MakeList,
    MakeSet,
    Sum,
    Min,
    Max,
}

/// One key of `order by` / `top`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// A scalar expression evaluated per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    /// A column of the row.
    Col {
        name: String,
        pos: usize,
    },
    /// `x.name` or `x['name']`.
    Member(Box<Expr>, String),
    /// `x[index]`.
    Index(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x in (...)`, `!in`, `in~`, `!in~`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        ci: bool,
        /// The list as a set, when it holds only string literals.
        texts: Option<Texts>,
    },
    /// A scalar function call; the name is one of the supported ones.
    Call {
        func: Func,
        args: Vec<Expr>,
    },
}

/// The string literals of an `in` list, looked up instead of compared one by one: a query by
/// a thousand ids over tens of thousands of rows made millions of comparisons.
#[derive(Debug, Clone)]
pub struct Texts {
    /// As written, for `in`.
    exact: std::sync::Arc<std::collections::HashSet<String>>,
    /// In lower case, for `in~`.
    lower: std::sync::Arc<std::collections::HashSet<String>>,
}

impl Texts {
    /// The set of `list`, when every item is a string literal.
    pub fn of(list: &[Expr]) -> Option<Texts> {
        let texts: Vec<&str> = list
            .iter()
            .map(|e| match e {
                Expr::Lit(serde_json::Value::String(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(Texts {
            exact: std::sync::Arc::new(texts.iter().map(|t| t.to_string()).collect()),
            lower: std::sync::Arc::new(texts.iter().map(|t| t.to_lowercase()).collect()),
        })
    }

    /// Whether `text` is one of them (ignoring case when `ci`).
    pub fn contains(&self, text: &str, ci: bool) -> bool {
        if ci {
            self.lower.contains(&text.to_lowercase())
        } else {
            self.exact.contains(text)
        }
    }
}

/// Derived from the list it sits beside: two `in`s are equal when their lists are.
impl PartialEq for Texts {
    fn eq(&self, _: &Texts) -> bool {
        true
    }
}

/// Binary operators, comparison and arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    NotHas,
    Contains,
    NotContains,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// The scalar functions of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    ToString,
    ToLower,
    ToUpper,
    BagKeys,
    ArrayLength,
    Iif,
    IsNull,
    IsNotNull,
    IsEmpty,
    IsNotEmpty,
    StrCat,
    Split,
    Not,
    /// `pack` / `bag_pack`: a property bag of key, value pairs.
    Pack,
    /// `pack_array(value, ...)`: a dynamic array of the values, in order.
    PackArray,
    /// `hash(value [, mod])`: a 64-bit hash of the value's text, or that modulo `mod`.
    Hash,
}

impl Func {
    /// The function of this name, if it is in the subset.
    pub fn named(name: &str) -> Option<Func> {
        Some(match name {
            "tostring" => Func::ToString,
            "tolower" => Func::ToLower,
            "toupper" => Func::ToUpper,
            "bag_keys" => Func::BagKeys,
            "array_length" => Func::ArrayLength,
            "iif" | "iff" => Func::Iif,
            "isnull" => Func::IsNull,
            "isnotnull" => Func::IsNotNull,
            "isempty" => Func::IsEmpty,
            "isnotempty" => Func::IsNotEmpty,
            "strcat" => Func::StrCat,
            "split" => Func::Split,
            "not" => Func::Not,
            "pack" | "bag_pack" => Func::Pack,
            "pack_array" => Func::PackArray,
            "hash" => Func::Hash,
            _ => return None,
        })
    }

    /// How many arguments it takes, at least and at most.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Iif => (3, 3),
            Func::StrCat => (1, 64),
            Func::Split => (2, 3),
            Func::Pack => (2, 128),
            Func::PackArray => (1, 64),
            Func::Hash => (1, 2),
            _ => (1, 1),
        }
    }
}

impl AggFunc {
    /// The aggregation of this name, if it is in the subset.
    pub fn named(name: &str) -> Option<AggFunc> {
        Some(match name {
            "count" => AggFunc::Count,
            "countif" => AggFunc::CountIf,
            "dcount" => AggFunc::DCount,
            "make_list" => AggFunc::MakeList,
            "make_set" => AggFunc::MakeSet,
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            _ => return None,
        })
    }

    /// The prefix of the column name Kusto gives an unnamed aggregation.
    pub fn default_prefix(self) -> &'static str {
        match self {
            AggFunc::Count => "count_",
            AggFunc::CountIf => "countif_",
            AggFunc::DCount => "dcount_",
            AggFunc::MakeList => "list_",
            AggFunc::MakeSet => "set_",
            AggFunc::Sum => "sum_",
            AggFunc::Min => "min_",
            AggFunc::Max => "max_",
        }
    }
}

impl Expr {
    /// The column name Kusto derives for an unnamed expression: a column keeps its name, a
    /// dotted path is joined with `_` (as Resource Graph flattens them), anything else has none.
    pub fn derived_name(&self) -> Option<String> {
        match self {
            Expr::Col { name, .. } => Some(name.clone()),
            Expr::Member(base, key) => base.derived_name().map(|b| format!("{b}_{key}")),
            _ => None,
        }
    }
}
