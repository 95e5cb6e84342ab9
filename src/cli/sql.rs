//! `mianshen sql` (the rule set compiled to SQL, or the tables it reads) and
//! `mianshen export` (a population written in those tables' layout).

use super::lang::t;
use mianshen::internals::sql::{compile_script, ddl, export, parquet, Dialect};
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
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
    /// The population, JSON Lines (`-` for standard input).
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
    /// Accept keys the schema does not declare (they are not exported), as `run
    /// --lenient` does. Strict by default: such a record is rejected.
    #[arg(long)]
    pub lenient: bool,
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
        let rules = match super::load_rules(&args.rules) {
            Ok(r) => r,
            Err(c) => return c,
        };
        print!("{}", ddl::ddl(rules.schema(), args.dialect.into()));
        return ExitCode::SUCCESS;
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
            let dir = args.rules.display().to_string();
            eprintln!(
                "{}",
                t(
                    "cli--no-such-policy",
                    &[("policy", id.as_str()), ("dir", &dir)]
                )
            );
            return ExitCode::from(2);
        }
    }
    let script = compile_script(&rules, args.dialect.into(), date, &args.policies);
    print!("{}", script.sql);
    let (compiled, left) = (
        script.compiled.len().to_string(),
        script.left_out.len().to_string(),
    );
    eprintln!(
        "{}",
        t(
            "cli--sql-compiled",
            &[("compiled", &compiled), ("left", &left)]
        )
    );
    for (id, why) in &script.left_out {
        eprintln!(
            "{}",
            t(
                "cli--sql-left-out",
                &[("policy", id.as_str()), ("reason", why.as_str())]
            )
        );
    }
    ExitCode::SUCCESS
}

/// Runs `mianshen export`: the population read as `run` reads it, written in the
/// tables' layout into `--out`, with `rejected.jsonl` for the records refused. Exit
/// status 1 when the input cannot be read or the outputs written.
pub fn export(args: ExportArgs) -> ExitCode {
    let rules = match super::load_rules(&args.rules) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let fail = |message: String| {
        eprintln!("{}", super::error_line(&message));
        ExitCode::from(1)
    };
    let input: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match File::open(&args.input) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            Err(e) => {
                return fail(format!(
                    "cannot read the input {}: {e}",
                    args.input.display()
                ))
            }
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return fail(format!("cannot write to {}: {e}", args.out.display()));
    }
    let options = export::ExportOptions {
        subject: args.subject.clone(),
        read: mianshen::ReadOptions {
            lenient: args.lenient,
            ..mianshen::ReadOptions::default()
        },
    };
    let schema = rules.schema();
    let (files, result) = match args.format {
        ExportFormat::Csv => csv_files(schema, input, &options, &args.out),
        ExportFormat::Parquet => parquet_files(schema, input, &options, &args.out),
    };
    match result {
        Ok(summary) => {
            eprintln!("{}", summary_line(&summary, &args.out, files.len()));
            ExitCode::SUCCESS
        }
        Err(message) => {
            // Nothing half written is left to be taken for a population.
            for f in &files {
                let _ = std::fs::remove_file(f);
            }
            fail(message)
        }
    }
}

/// The one line `export` ends with.
fn summary_line(s: &export::ExportSummary, out: &Path, files: usize) -> String {
    let out = out.display().to_string();
    let out = out.trim_end_matches('/');
    let mut line = format!(
        "{} records written, {} rejected ({} read) → {files} files in {out}",
        s.written, s.rejected, s.read
    );
    if s.rejected > 0 {
        line.push_str(&format!("; the reasons in {out}/rejected.jsonl"));
    }
    line
}

/// What an export wrote (the files, to remove if it failed) and how it ended.
type Written = (Vec<PathBuf>, Result<export::ExportSummary, String>);

/// Creates `names` in `dir` (and `rejected.jsonl`), buffered.
fn create_files(
    dir: &Path,
    names: &[String],
    made: &mut Vec<PathBuf>,
) -> Result<(Vec<BufWriter<File>>, BufWriter<File>), String> {
    let mut open = |name: &str| {
        let path = dir.join(name);
        let f = File::create(&path).map_err(|e| format!("cannot write {}: {e}", path.display()));
        made.push(path);
        f.map(|f| BufWriter::with_capacity(1 << 16, f))
    };
    let rejected = open("rejected.jsonl")?;
    let files = names.iter().map(|n| open(n)).collect::<Result<_, _>>()?;
    Ok((files, rejected))
}

/// `--format csv`: a CSV file a table, `load.psql` beside them.
fn csv_files(
    schema: &mianshen::internals::schema::Schema,
    input: Box<dyn BufRead>,
    options: &export::ExportOptions,
    dir: &Path,
) -> Written {
    let names: Vec<String> = export::table_names(schema)
        .iter()
        .map(|t| export::csv_file_name(t))
        .collect();
    let mut made = vec![];
    let result = (|| {
        let (mut tables, mut rejected) = create_files(dir, &names, &mut made)?;
        let summary = export::export_csv(schema, input, options, &mut tables, &mut rejected)
            .map_err(|e| e.to_string())?;
        rejected
            .flush()
            .map_err(|e| format!("cannot write rejected.jsonl: {e}"))?;
        let script = dir.join("load.psql");
        made.push(script.clone());
        std::fs::write(&script, export::load_script(schema))
            .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        Ok(summary)
    })();
    (made, result)
}

/// `--format parquet`: a Parquet file a subject kind.
fn parquet_files(
    schema: &mianshen::internals::schema::Schema,
    input: Box<dyn BufRead>,
    options: &export::ExportOptions,
    dir: &Path,
) -> Written {
    let names: Vec<String> = parquet::subject_names(schema)
        .iter()
        .map(|s| parquet::parquet_file_name(s))
        .collect();
    let mut made = vec![];
    let result = (|| {
        let (files, mut rejected) = create_files(dir, &names, &mut made)?;
        let summary = parquet::export_parquet(schema, input, options, files, &mut rejected)
            .map_err(|e| e.to_string())?;
        rejected
            .flush()
            .map_err(|e| format!("cannot write rejected.jsonl: {e}"))?;
        Ok(summary)
    })();
    (made, result)
}
