//! Why a query was refused, with the position in the query text.

/// A query that cannot be run: bad syntax, or something outside the supported subset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The text does not parse.
    #[error("syntax error at position {pos}: expected {expected}")]
    Syntax { pos: usize, expected: String },
    /// A tabular operator the emulator does not implement.
    #[error("the operator '{name}' at position {pos} is not supported by this Resource Graph")]
    UnsupportedOperator { name: String, pos: usize },
    /// A scalar or aggregate function the emulator does not implement.
    #[error("the function '{name}' at position {pos} is not supported by this Resource Graph")]
    UnsupportedFunction { name: String, pos: usize },
    /// A table that does not exist.
    #[error("the table '{name}' at position {pos} does not exist")]
    UnknownTable { name: String, pos: usize },
    /// A column that no row of the input has, where one is required.
    #[error("the name '{name}' at position {pos} does not refer to any known column")]
    UnknownColumn { name: String, pos: usize },
    /// A query past one of Resource Graph's documented limits (joins, unions, mv-expands).
    #[error("{what} at position {pos}")]
    Limit { what: String, pos: usize },
    /// Arguments of the wrong number or kind.
    #[error("{what} at position {pos}")]
    Semantic { what: String, pos: usize },
}

impl QueryError {
    /// A syntax error at `pos`.
    pub fn syntax(pos: usize, expected: &str) -> QueryError {
        QueryError::Syntax {
            pos,
            expected: expected.to_string(),
        }
    }

    /// A semantic error at `pos`.
    pub fn semantic(pos: usize, what: impl Into<String>) -> QueryError {
        QueryError::Semantic {
            pos,
            what: what.into(),
        }
    }

    /// The detail code that Resource Graph would put beside `InvalidQuery`.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::Syntax { .. } => "ParserFailure",
            QueryError::UnsupportedOperator { .. } => "UnsupportedOperator",
            QueryError::UnsupportedFunction { .. } => "UnsupportedFunction",
            QueryError::UnknownTable { .. } => "InvalidTable",
            QueryError::UnknownColumn { .. } => "InvalidColumn",
            QueryError::Limit { .. } => "QueryLimitExceeded",
            QueryError::Semantic { .. } => "InvalidQuery",
        }
    }
}
