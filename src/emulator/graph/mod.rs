//! Resource Graph: the KQL subset that identity inventory and audits need, parsed and run
//! over tables built from the emulator's state.

pub mod ast;
pub mod error;
pub mod eval;
pub mod lexer;
pub mod parser;

#[cfg(test)]
mod tests;

pub use error::QueryError;
pub use eval::{Catalog, Table};
