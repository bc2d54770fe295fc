//! A recursive-descent parser for the KQL subset: tabular operators joined by `|`, and
//! scalar expressions with Kusto's precedence (or < and < comparison < additive <
//! multiplicative < unary < member access and calls).
//!
//! Anything outside the subset is refused here, with its name and position, so that a query
//! is never half understood and answered wrongly.

use serde_json::{Map, Value};

use super::ast::{
    AggFunc, Aggregate, BinOp, Expr, Func, JoinKind, Named, Op, Query, SortKey, Source, Texts,
};
use super::error::QueryError;
use super::lexer::{Tok, Token, tokenize};

/// Resource Graph's limits on one query.
const MAX_JOINS: usize = 3;
const MAX_UNION_LEGS: usize = 3;
const MAX_MV_EXPANDS: usize = 2;
/// How deeply expressions and subqueries may nest before the query is refused.
const MAX_NESTING: usize = 64;

/// Operators that may open a query, which then reads the `resources` table.
const IMPLICIT_SOURCE_OPERATORS: [&str; 15] = [
    "where",
    "filter",
    "extend",
    "project",
    "project-away",
    "mv-expand",
    "summarize",
    "join",
    "order",
    "sort",
    "take",
    "limit",
    "top",
    "distinct",
    "count",
];

/// Parses a whole query.
pub fn parse(src: &str) -> Result<Query, QueryError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        at: 0,
        joins: 0,
        unions: 0,
        mv_expands: 0,
        depth: 0,
    };
    let query = p.query()?;
    match p.peek() {
        Tok::End => Ok(query),
        _ => Err(QueryError::syntax(p.pos(), "'|' or the end of the query")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    joins: usize,
    unions: usize,
    mv_expands: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].kind
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.at + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn pos(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        tok
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == sym)
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if self.is_sym(sym) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), QueryError> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(QueryError::syntax(self.pos(), &format!("'{sym}'")))
        }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.is_word(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), QueryError> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(QueryError::syntax(self.pos(), &format!("'{word}'")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, QueryError> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.bump();
                Ok(name)
            }
            _ => Err(QueryError::syntax(self.pos(), what)),
        }
    }

    fn count(&mut self, what: &str) -> Result<usize, QueryError> {
        match self.peek().clone() {
            Tok::Int(n) if n >= 0 => {
                self.bump();
                usize::try_from(n).map_err(|_| QueryError::syntax(self.pos(), what))
            }
            _ => Err(QueryError::syntax(self.pos(), what)),
        }
    }

    fn nest(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::Limit {
                what: format!("the query nests deeper than {MAX_NESTING} levels"),
                pos: self.pos(),
            });
        }
        Ok(())
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.nest()?;
        let source = if self.is_word("union") {
            let pos = self.pos();
            self.bump();
            Source::Union(self.union_legs(pos)?)
        } else if matches!(self.peek(), Tok::Ident(w) if IMPLICIT_SOURCE_OPERATORS.contains(&w.as_str()))
        {
            // A query may start with an operator: Resource Graph then reads `resources`.
            let pos = self.pos();
            let first = self.operator()?;
            let mut ops = vec![first];
            while self.eat_sym("|") {
                ops.push(self.operator()?);
            }
            self.depth -= 1;
            return Ok(Query {
                source: Source::Table {
                    name: "resources".to_string(),
                    pos,
                },
                ops,
            });
        } else {
            let pos = self.pos();
            let name = self.ident("a table name")?;
            Source::Table { name, pos }
        };
        let mut ops = Vec::new();
        while self.eat_sym("|") {
            ops.push(self.operator()?);
        }
        self.depth -= 1;
        Ok(Query { source, ops })
    }

    /// The legs of a `union`: parenthesised queries or table names, comma-separated.
    fn union_legs(&mut self, pos: usize) -> Result<Vec<Query>, QueryError> {
        if self.eat_word("kind") {
            self.expect_sym("=")?;
            let kind = self.ident("a union kind")?;
            if kind != "outer" {
                return Err(QueryError::semantic(
                    pos,
                    format!("union kind={kind} is not supported; use kind=outer"),
                ));
            }
        }
        let mut legs = Vec::new();
        loop {
            legs.push(self.leg()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.unions += legs.len();
        if self.unions > MAX_UNION_LEGS {
            return Err(QueryError::Limit {
                what: format!("a query may have at most {MAX_UNION_LEGS} union legs"),
                pos,
            });
        }
        Ok(legs)
    }

    /// A subquery in parentheses, or a bare table name.
    fn leg(&mut self) -> Result<Query, QueryError> {
        if self.eat_sym("(") {
            let q = self.query()?;
            self.expect_sym(")")?;
            Ok(q)
        } else {
            let pos = self.pos();
            let name = self.ident("a table name or a parenthesised query")?;
            Ok(Query {
                source: Source::Table { name, pos },
                ops: Vec::new(),
            })
        }
    }

    fn operator(&mut self) -> Result<Op, QueryError> {
        let pos = self.pos();
        let name = self.ident("an operator")?;
        match name.as_str() {
            "where" | "filter" => Ok(Op::Where(self.expr()?)),
            "extend" => Ok(Op::Extend(self.named_list()?)),
            "project" => Ok(Op::Project(self.named_list()?)),
            "project-away" => {
                let mut names = vec![self.ident("a column name")?];
                while self.eat_sym(",") {
                    names.push(self.ident("a column name")?);
                }
                Ok(Op::ProjectAway(names))
            }
            "mv-expand" => self.mv_expand(pos),
            "summarize" => self.summarize(),
            "join" => self.join(pos),
            "union" => Ok(Op::Union(self.union_legs(pos)?)),
            "order" | "sort" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_sym(",") {
                    keys.push(self.sort_key()?);
                }
                Ok(Op::Order(keys))
            }
            "take" | "limit" => Ok(Op::Take(self.count("a row count")?)),
            "top" => {
                let count = self.count("a row count")?;
                self.expect_word("by")?;
                Ok(Op::Top {
                    count,
                    key: self.sort_key()?,
                })
            }
            "distinct" => {
                if self.eat_sym("*") {
                    return Ok(Op::Distinct(Vec::new()));
                }
                Ok(Op::Distinct(self.named_list()?))
            }
            "count" => Ok(Op::Count),
            other => Err(QueryError::UnsupportedOperator {
                name: other.to_string(),
                pos,
            }),
        }
    }

    fn mv_expand(&mut self, pos: usize) -> Result<Op, QueryError> {
        self.mv_expands += 1;
        if self.mv_expands > MAX_MV_EXPANDS {
            return Err(QueryError::Limit {
                what: format!("a query may have at most {MAX_MV_EXPANDS} mv-expand operators"),
                pos,
            });
        }
        if self.eat_word("kind") {
            self.expect_sym("=")?;
            let kind = self.ident("bag or array")?;
            if kind != "bag" && kind != "array" {
                return Err(QueryError::syntax(pos, "kind=bag or kind=array"));
            }
        }
        let mut items = Vec::new();
        loop {
            let mut item = self.named()?;
            if item.name.is_empty() {
                item.name = format!("Column{}", items.len() + 1);
            }
            if self.eat_word("to") {
                // `to typeof(T)` only casts; the values are JSON already.
                self.expect_word("typeof")?;
                self.expect_sym("(")?;
                self.ident("a type name")?;
                self.expect_sym(")")?;
            }
            items.push(item);
            if !self.eat_sym(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            Some(self.count("a row limit")?)
        } else {
            None
        };
        Ok(Op::MvExpand { items, limit })
    }

    fn summarize(&mut self) -> Result<Op, QueryError> {
        let mut aggs = Vec::new();
        if !self.is_word("by") {
            loop {
                aggs.push(self.aggregate(aggs.len())?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let by = if self.eat_word("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        if aggs.is_empty() && by.is_empty() {
            return Err(QueryError::syntax(self.pos(), "an aggregation or 'by'"));
        }
        Ok(Op::Summarize { aggs, by })
    }

    fn aggregate(&mut self, index: usize) -> Result<Aggregate, QueryError> {
        let explicit = self.assigned_name();
        let pos = self.pos();
        let fname = self.ident("an aggregation function")?;
        let Some(func) = AggFunc::named(&fname) else {
            return Err(QueryError::UnsupportedFunction { name: fname, pos });
        };
        self.expect_sym("(")?;
        let arg = if self.is_sym(")") {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect_sym(")")?;
        let needs_arg = !matches!(func, AggFunc::Count);
        if needs_arg != arg.is_some() {
            return Err(QueryError::semantic(
                pos,
                format!(
                    "{fname}() takes {} argument",
                    if needs_arg { "one" } else { "no" }
                ),
            ));
        }
        let name = explicit.unwrap_or_else(|| {
            let suffix = match (func, &arg) {
                (AggFunc::Count | AggFunc::CountIf, _) => String::new(),
                (_, Some(e)) => e
                    .derived_name()
                    .unwrap_or_else(|| format!("Column{}", index + 1)),
                (_, None) => String::new(),
            };
            format!("{}{suffix}", func.default_prefix())
        });
        Ok(Aggregate { name, func, arg })
    }

    fn join(&mut self, pos: usize) -> Result<Op, QueryError> {
        self.joins += 1;
        if self.joins > MAX_JOINS {
            return Err(QueryError::Limit {
                what: format!("a query may have at most {MAX_JOINS} joins"),
                pos,
            });
        }
        let mut kind = JoinKind::InnerUnique;
        if self.eat_word("kind") {
            self.expect_sym("=")?;
            let kpos = self.pos();
            kind = match self.ident("a join kind")?.as_str() {
                "inner" => JoinKind::Inner,
                "innerunique" => JoinKind::InnerUnique,
                "leftouter" => JoinKind::LeftOuter,
                other => {
                    return Err(QueryError::semantic(
                        kpos,
                        format!(
                            "join kind={other} is not supported; use inner, innerunique or leftouter"
                        ),
                    ));
                }
            };
        }
        let right = self.leg()?;
        self.expect_word("on")?;
        let mut on = Vec::new();
        loop {
            let kpos = self.pos();
            let left = self.postfix()?;
            if self.eat_sym("==") {
                let right_key = self.postfix()?;
                on.push((
                    strip_side(left, "$left", kpos)?,
                    strip_side(right_key, "$right", kpos)?,
                ));
            } else {
                if left.derived_name().is_none() {
                    return Err(QueryError::syntax(
                        kpos,
                        "a column name or $left.x == $right.y",
                    ));
                }
                on.push((left.clone(), left));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(Op::Join {
            kind,
            right: Box::new(right),
            on,
        })
    }

    fn sort_key(&mut self) -> Result<SortKey, QueryError> {
        let expr = self.expr()?;
        // Kusto sorts descending unless told otherwise; nulls go last descending, first ascending.
        let desc = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let mut nulls_first = !desc;
        if self.eat_word("nulls") {
            nulls_first = if self.eat_word("first") {
                true
            } else {
                self.expect_word("last")?;
                false
            };
        }
        Ok(SortKey {
            expr,
            desc,
            nulls_first,
        })
    }

    /// `name = expr` when the next two tokens are a name and a lone `=`.
    fn assigned_name(&mut self) -> Option<String> {
        if let (Tok::Ident(name), Tok::Sym("=")) = (self.peek().clone(), self.peek_at(1).clone()) {
            self.bump();
            self.bump();
            Some(name)
        } else {
            None
        }
    }

    /// An expression, with `name =` before it or the name Kusto derives ("" when none).
    fn named(&mut self) -> Result<Named, QueryError> {
        let explicit = self.assigned_name();
        let expr = self.expr()?;
        let name = explicit.or_else(|| expr.derived_name()).unwrap_or_default();
        Ok(Named { name, expr })
    }

    /// A comma-separated list of (optionally named) expressions; unnamed computed ones get
    /// Kusto's `Column1`, `Column2`, ... in order.
    fn named_list(&mut self) -> Result<Vec<Named>, QueryError> {
        let mut items = Vec::new();
        let mut unnamed = 0;
        loop {
            let mut item = self.named()?;
            if item.name.is_empty() {
                unnamed += 1;
                item.name = format!("Column{unnamed}");
            }
            items.push(item);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(items)
    }

    // Scalar expressions, lowest precedence first.

    fn expr(&mut self) -> Result<Expr, QueryError> {
        self.nest()?;
        let e = self.or();
        self.depth -= 1;
        e
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            let right = self.and()?;
            left = Expr::Binary(BinOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.comparison()?;
        while self.eat_word("and") {
            let right = self.comparison()?;
            left = Expr::Binary(BinOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.additive()?;
        let pos = self.pos();
        let op = match self.peek().clone() {
            Tok::Sym("==") => BinOp::Eq,
            Tok::Sym("!=") | Tok::Sym("<>") => BinOp::Ne,
            Tok::Sym("=~") => BinOp::EqCi,
            Tok::Sym("!~") => BinOp::NeCi,
            Tok::Sym("<") => BinOp::Lt,
            Tok::Sym("<=") => BinOp::Le,
            Tok::Sym(">") => BinOp::Gt,
            Tok::Sym(">=") => BinOp::Ge,
            Tok::Ident(w) => match w.as_str() {
                "has" => BinOp::Has,
                "!has" => BinOp::NotHas,
                "contains" => BinOp::Contains,
                "!contains" => BinOp::NotContains,
                "startswith" => BinOp::StartsWith,
                "!startswith" => BinOp::NotStartsWith,
                "endswith" => BinOp::EndsWith,
                "!endswith" => BinOp::NotEndsWith,
                "in" | "!in" | "in~" | "!in~" => {
                    self.bump();
                    let list = self.paren_list()?;
                    return Ok(Expr::In {
                        expr: Box::new(left),
                        texts: Texts::of(&list),
                        list,
                        negated: w.starts_with('!'),
                        ci: w.ends_with('~'),
                    });
                }
                other if is_unsupported_string_operator(other) => {
                    return Err(QueryError::UnsupportedOperator {
                        name: other.to_string(),
                        pos,
                    });
                }
                _ => return Ok(left),
            },
            _ => return Ok(left),
        };
        self.bump();
        let right = self.additive()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn paren_list(&mut self) -> Result<Vec<Expr>, QueryError> {
        self.expect_sym("(")?;
        let mut items = Vec::new();
        if !self.is_sym(")") {
            loop {
                items.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.expect_sym(")")?;
        Ok(items)
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_sym("+") {
                BinOp::Add
            } else if self.eat_sym("-") {
                BinOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_sym("*") {
                BinOp::Mul
            } else if self.eat_sym("/") {
                BinOp::Div
            } else if self.eat_sym("%") {
                BinOp::Mod
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.eat_sym("-") {
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(match inner {
                Expr::Lit(Value::Number(n)) if n.as_i64().is_some() => Expr::Lit(
                    n.as_i64()
                        .and_then(i64::checked_neg)
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                ),
                Expr::Lit(Value::Number(n)) => {
                    Expr::Lit(n.as_f64().map(|f| Value::from(-f)).unwrap_or(Value::Null))
                }
                other => Expr::Neg(Box::new(other)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, QueryError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_sym(".") {
                let key = self.ident("a property name")?;
                e = Expr::Member(Box::new(e), key);
            } else if self.is_sym("[") {
                self.bump();
                let index = self.expr()?;
                self.expect_sym("]")?;
                e = match index {
                    Expr::Lit(Value::String(key)) => Expr::Member(Box::new(e), key),
                    other => Expr::Index(Box::new(e), Box::new(other)),
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Int(n) => Ok(Expr::Lit(Value::from(n))),
            Tok::Real(f) => Ok(Expr::Lit(Value::from(f))),
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                if !self.is_sym("(") {
                    return Ok(match name.as_str() {
                        "true" => Expr::Lit(Value::Bool(true)),
                        "false" => Expr::Lit(Value::Bool(false)),
                        _ => Expr::Col { name, pos },
                    });
                }
                if name == "dynamic" {
                    self.bump();
                    let value = self.json_literal()?;
                    self.expect_sym(")")?;
                    return Ok(Expr::Lit(value));
                }
                let Some(func) = Func::named(&name) else {
                    return Err(QueryError::UnsupportedFunction { name, pos });
                };
                let args = self.paren_list()?;
                let (min, max) = func.arity();
                if args.len() < min || args.len() > max {
                    return Err(QueryError::semantic(
                        pos,
                        format!("{name}() takes {}", arity_text(min, max)),
                    ));
                }
                if func == Func::Pack && args.len() % 2 != 0 {
                    return Err(QueryError::semantic(
                        pos,
                        format!("{name}() takes key, value pairs: an even number of arguments"),
                    ));
                }
                Ok(Expr::Call { func, args })
            }
            _ => Err(QueryError::syntax(
                pos,
                "a value, a column or a function call",
            )),
        }
    }

    /// The body of `dynamic(...)`: JSON, with Kusto's single-quoted strings allowed.
    fn json_literal(&mut self) -> Result<Value, QueryError> {
        self.nest()?;
        let pos = self.pos();
        let value = match self.bump() {
            Tok::Str(s) => Value::String(s),
            Tok::Int(n) => Value::from(n),
            Tok::Real(f) => Value::from(f),
            Tok::Sym("-") => match self.bump() {
                Tok::Int(n) => n
                    .checked_neg()
                    .map(Value::from)
                    .ok_or_else(|| QueryError::syntax(pos, "a number"))?,
                Tok::Real(f) => Value::from(-f),
                _ => return Err(QueryError::syntax(pos, "a number")),
            },
            Tok::Ident(w) if w == "null" => Value::Null,
            Tok::Ident(w) if w == "true" => Value::Bool(true),
            Tok::Ident(w) if w == "false" => Value::Bool(false),
            Tok::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat_sym("]") {
                    loop {
                        items.push(self.json_literal()?);
                        if self.eat_sym("]") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Value::Array(items)
            }
            Tok::Sym("{") => {
                let mut map = Map::new();
                if !self.eat_sym("}") {
                    loop {
                        let kpos = self.pos();
                        let key = match self.bump() {
                            Tok::Str(s) | Tok::Ident(s) => s,
                            _ => return Err(QueryError::syntax(kpos, "a property name")),
                        };
                        self.expect_sym(":")?;
                        map.insert(key, self.json_literal()?);
                        if self.eat_sym("}") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Value::Object(map)
            }
            _ => return Err(QueryError::syntax(pos, "a JSON value")),
        };
        self.depth -= 1;
        Ok(value)
    }
}

/// `$left.x` → `x` (and the same for `$right`); a key without the side prefix is refused.
fn strip_side(e: Expr, side: &str, pos: usize) -> Result<Expr, QueryError> {
    match e {
        Expr::Member(base, key) => match *base {
            Expr::Col {
                ref name,
                pos: cpos,
            } if name == side => Ok(Expr::Col {
                name: key,
                pos: cpos,
            }),
            other => Ok(Expr::Member(Box::new(strip_side(other, side, pos)?), key)),
        },
        _ => Err(QueryError::syntax(pos, &format!("{side}.column"))),
    }
}

fn is_unsupported_string_operator(word: &str) -> bool {
    matches!(
        word,
        "has_cs"
            | "!has_cs"
            | "contains_cs"
            | "!contains_cs"
            | "startswith_cs"
            | "endswith_cs"
            | "hasprefix"
            | "hassuffix"
            | "has_any"
            | "has_all"
            | "matches"
            | "between"
            | "!between"
    )
}

fn arity_text(min: usize, max: usize) -> String {
    match (min, max) {
        (1, 1) => "one argument".to_string(),
        (a, b) if a == b => format!("{a} arguments"),
        (a, b) if b >= 64 => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    }
}
