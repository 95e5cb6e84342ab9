//! `mianshen sql` (the rule set compiled to SQL, or the tables it reads) and
//! `mianshen export` (a population written in those tables' layout).

use mianshen::internals::sql::{compile_script, Dialect};
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
    if args.ddl {
        eprintln!("error: not yet");
        return ExitCode::from(2);
    }
    compile_cmd(&args)
}

/// `mianshen sql RULES --dialect D --date DATE`: prints the script; says on stderr
/// which policies it leaves out and why (exit 0 all the same: the script decides the
/// others).
fn compile_cmd(args: &SqlArgs) -> ExitCode {
    let rules = match super::load_rules(&args.rules) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let date = match super::parse_date(args.date.as_deref().unwrap_or_default()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    for id in &args.policies {
        if rules.policy(id).is_none() {
            eprintln!("error: no policy `{id}` in {}", args.rules.display());
            return ExitCode::from(2);
        }
    }
    let script = compile_script(&rules, args.dialect.into(), date, &args.policies);
    print!("{}", script.sql);
    eprintln!(
        "compiled {} policies to SQL; left out {}",
        script.compiled.len(),
        script.left_out.len()
    );
    for (id, why) in &script.left_out {
        eprintln!("  left out {id}: {why}");
    }
    ExitCode::SUCCESS
}

/// Runs `mianshen export`.
pub fn export(args: ExportArgs) -> ExitCode {
    let _ = args;
    eprintln!("error: not yet");
    ExitCode::from(2)
}
