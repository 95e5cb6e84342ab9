//! The SQL backend: the rule set's meaning compiled for the databases where a
//! province's records already live (PostgreSQL and its family, Spark SQL).
//!
//! - [`layout`]: the tables a population is laid out in, from the record schema;
//! - [`ddl`]: the `CREATE TABLE` statements of a layout, per dialect;
//! - [`export`]: a population written in that layout (CSV and a psql load script);
//! - `parquet` (feature `parquet`): the same as Parquet files in Spark's nested layout,
//!   and read back into records;
//!
//! The SQL is a backend of the compiled rule set, held to the reference evaluator by
//! differential tests (`tests/sql.rs`), never a restatement of its own.

mod builtins;
mod cell;
mod compile;
pub mod ddl;
mod decision;
pub mod export;
mod items;
pub mod layout;
mod operators;
mod ops;
#[cfg(feature = "parquet")]
pub mod parquet;
mod quantify;
mod relation;
mod script;

pub use script::{compile_script, Script, DECISION_COLUMNS};

/// The SQL dialects the backend writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL 12 or later, and the databases that speak its dialect (openGauss,
    /// GaussDB, Kingbase).
    Postgres,
    /// Spark SQL 3.4 or later.
    Spark,
}

impl Dialect {
    /// An identifier quoted for the dialect.
    pub(crate) fn quote(self, name: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A text literal.
    pub(crate) fn text(self, s: &str) -> String {
        match self {
            Dialect::Postgres => format!("'{}'", s.replace('\'', "''")),
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }
}
