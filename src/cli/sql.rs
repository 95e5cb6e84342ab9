//! `mianshen sql` (the rule set compiled to SQL, or the tables it reads) and
//! `mianshen export` (a population written in those tables' layout).

use mianshen::internals::sql::Dialect;
use std::path::PathBuf;
use std::process::ExitCode;

/// The dialect argument.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum DialectArg {
    /// PostgreSQL and the databases that speak its dialect (openGauss, GaussDB, Kingbase).
    Postgres,
    /// Spark SQL (3.4 or later).
    Spark,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Dialect {
        match d {
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Spark => Dialect::Spark,
        }
    }
}

/// `mianshen sql`.
#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// The rules directory.
    pub rules: PathBuf,
    /// The SQL dialect.
    #[arg(long, value_enum, default_value = "postgres")]
    pub dialect: DialectArg,
    /// The reference date, YYYY-MM-DD (parameters are folded for it).
    #[arg(long, required_unless_present = "ddl")]
    pub date: Option<String>,
    /// Only these policies (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Print the tables the script reads (CREATE TABLE), not the script.
    #[arg(long, conflicts_with_all = ["date", "policies"])]
    pub ddl: bool,
}

/// `mianshen export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The rules directory (its schema gives the layout).
    pub rules: PathBuf,
    /// The population, JSON Lines.
    #[arg(long)]
    pub input: PathBuf,
    /// csv (one file a table, and load.psql) or parquet (one file a subject kind, lists
    /// as nested arrays).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// The directory to write into (made if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The subject kind of the records (recognised from each record if not given).
    #[arg(long)]
    pub subject: Option<String>,
}

/// The export's file format.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    /// CSV, one file a table, with `load.psql`.
    Csv,
    /// Parquet, one file a subject kind.
    Parquet,
}

/// Runs `mianshen sql`.
pub fn sql(args: SqlArgs) -> ExitCode {
    let _ = args;
    eprintln!("error: not yet");
    ExitCode::from(2)
}

/// Runs `mianshen export`.
pub fn export(args: ExportArgs) -> ExitCode {
    let _ = args;
    eprintln!("error: not yet");
    ExitCode::from(2)
}
