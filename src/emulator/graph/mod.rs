//! Resource Graph: the KQL subset that identity inventory and audits need, parsed and run
//! over tables built from the emulator's state.

pub mod ast;
mod endpoint;
pub mod error;
pub mod eval;
mod freshness;
pub mod lexer;
mod paging;
pub mod parser;
mod prefilter;
mod quota;
mod request;
mod results;
mod tables;

#[cfg(test)]
mod tests;

pub use endpoint::{GraphService, MAX_RESPONSE_BYTES, query};
pub use error::QueryError;
pub use eval::{Catalog, Table};
pub use quota::{QuotaParseError, QuotaSpec};
