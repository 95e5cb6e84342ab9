//! The `mianshen` command line.

mod diff;
mod lang;
mod mutants;
pub mod output;
mod props;
mod run;
#[cfg(feature = "serve")]
mod serve;
mod sql;

use clap::{Parser, Subcommand};
// The facade wherever it suffices; the internals for what only a command line needs
// (diagnostics of a rule set that loads, the fast tier's coverage, record files read
// with their own messages, escaping for the terminal).
use lang::t;
use mianshen::internals::{check, escape, eval, load, record};
use mianshen::{
    Decision, EvalOptions, ExtraValue, LoadError, MemberStatus, Outcome, ReadOptions, RequestError,
    RuleSet, Severity,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mianshen",
    version,
    about = "免申 — a rules-as-code engine for public services"
)]
struct Cli {
    /// The language of messages: en or zh (default: from LC_ALL, LC_MESSAGES or LANG;
    /// English when unset). Codes and JSON output are the same in every language.
    #[arg(long, global = true, value_enum, value_name = "LANG")]
    lang: Option<lang::LangArg>,
    #[command(subcommand)]
    command: Command,
}

/// How a batch goes through its population: the options `run` and `diff` share.
#[derive(clap::Args, Debug)]
struct StreamArgs {
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// The subject kind of the records (needed for CSV when the schema has several).
    #[arg(long)]
    subject: Option<String>,
    /// Input format: jsonl, csv or parquet (default: from the file name).
    #[arg(long)]
    format: Option<String>,
}

/// How records are read and how much work a decision may take: the options of `eval`,
/// `run`, `test` and `prefill` (docs/records.md lists the limits and the errors).
#[derive(clap::Args, Debug, Clone, Copy)]
struct RecordArgs {
    /// Accept keys the schema does not declare (they are not read; `run` counts the
    /// records that carry each in summary.json). Strict by default: such a key is an
    /// error.
    #[arg(long)]
    lenient: bool,
    /// The longest record text (a JSON line, a record file), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = record::DEFAULT_MAX_BYTES)]
    max_record_bytes: usize,
    /// The deepest nesting of mappings and lists in a record.
    #[arg(long, value_name = "N", default_value_t = record::DEFAULT_MAX_DEPTH)]
    max_record_depth: usize,
    /// The budget of evaluation steps per decision (expression nodes evaluated plus
    /// list items visited); past it the decision is an evaluation error.
    #[arg(long, value_name = "STEPS", default_value_t = eval::DEFAULT_BUDGET)]
    budget: u64,
}

impl RecordArgs {
    fn read(&self) -> ReadOptions {
        ReadOptions {
            lenient: self.lenient,
            max_bytes: self.max_record_bytes,
            max_depth: self.max_record_depth,
        }
    }

    fn eval(&self, trace: bool) -> EvalOptions {
        EvalOptions {
            trace,
            budget: self.budget,
            ..EvalOptions::default()
        }
    }
}

/// The record options of the command being run.
static RECORD_ARGS: std::sync::OnceLock<RecordArgs> = std::sync::OnceLock::new();

fn record_args() -> RecordArgs {
    RECORD_ARGS.get().copied().unwrap_or(RecordArgs {
        lenient: false,
        max_record_bytes: record::DEFAULT_MAX_BYTES,
        max_record_depth: record::DEFAULT_MAX_DEPTH,
        budget: eval::DEFAULT_BUDGET,
    })
}

#[derive(Subcommand)]
enum Command {
    /// Check a rules directory: syntax, names and types against the schema.
    Check {
        /// The rules directory (with schema.yaml and *.rules files).
        rules: PathBuf,
    },
    /// Decide every policy (or one) for one record on a date, with reasons.
    Eval {
        /// The rules directory.
        rules: PathBuf,
        /// The record (JSON or YAML).
        record: PathBuf,
        /// The reference date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Only this policy.
        #[arg(long)]
        policy: Option<String>,
        /// The subject kind (person, enterprise); recognised from the record if not given.
        #[arg(long)]
        subject: Option<String>,
        /// Print a JSON array of decisions, with traces.
        #[arg(long)]
        json: bool,
        /// Only the not-eligible decisions that fail at least one and at most K
        /// clauses (default 1), each failed clause with how far the record is from it.
        #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "1")]
        near_miss: Option<usize>,
        /// An overlay directory whose items replace the rules' items of the same name.
        #[arg(long, value_name = "DIR")]
        overlay: Option<PathBuf>,
        #[command(flatten)]
        records: RecordArgs,
    },
    /// The no-application batch: decide every policy for every record of a population.
    Run {
        /// The rules directory.
        rules: PathBuf,
        /// The population: JSON Lines (one record a line), CSV with a header of
        /// dotted schema paths, or Parquet in the layout of `mianshen export`; `-`
        /// for standard input (JSON Lines or CSV).
        #[arg(long)]
        input: String,
        /// The reference date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The output directory (grants.jsonl, pushes.jsonl, rejected.jsonl, summary.json).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        stream: StreamArgs,
        /// Also write a pre-filled form of this bundle for every subject for whom at
        /// least one member is available (forms.jsonl).
        #[arg(long)]
        bundle: Option<String>,
        /// Also write near.jsonl: every not-eligible decision that fails at least one
        /// and at most K clauses (default 1), with how far the record is from each.
        #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "1")]
        near_miss: Option<usize>,
        /// Also write a self-contained HTML report for managers: outcomes, amounts,
        /// the missing fields that block decisions, near misses.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Also write visit lists for grid workers, one per value of this schema field
        /// (`person.grid`): OUT/visits/<group>.csv and .html, every subject with an
        /// undetermined decision and the facts a visit must collect.
        #[arg(long, value_name = "PATH")]
        visits_by: Option<String>,
        /// An overlay directory whose items replace the rules' items of the same name.
        #[arg(long, value_name = "DIR")]
        overlay: Option<PathBuf>,
        #[command(flatten)]
        records: RecordArgs,
    },
    /// Who a change reaches: every record decided under two versions of the rules
    /// (OLD_RULES and NEW_RULES, RULES with --overlay, or RULES on --date and
    /// --to-date); writes changes.jsonl, impact.json and rejected.jsonl.
    Diff {
        /// The rules (the earlier version).
        rules: PathBuf,
        /// The later rules (default: the same rules).
        new_rules: Option<PathBuf>,
        /// An overlay directory over the later rules: its parameters, scales,
        /// policies, bundles and functions replace those of the same name.
        #[arg(long, value_name = "DIR")]
        overlay: Option<PathBuf>,
        /// The population, as for `run`.
        #[arg(long)]
        input: String,
        /// The reference date, YYYY-MM-DD (of both versions, or the earlier).
        #[arg(long)]
        date: String,
        /// The later version's reference date (default: --date).
        #[arg(long, value_name = "DATE")]
        to_date: Option<String>,
        /// The output directory (changes.jsonl, impact.json, rejected.jsonl).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        stream: StreamArgs,
        #[command(flatten)]
        records: RecordArgs,
    },
    /// Pre-fill a "one thing" bundle for one record: members, form, materials.
    Prefill {
        /// The rules directory.
        rules: PathBuf,
        /// The bundle id.
        #[arg(long)]
        bundle: String,
        /// The record (JSON or YAML).
        record: PathBuf,
        /// The reference date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also write the printable form as a self-contained HTML page.
        #[arg(long)]
        html: Option<PathBuf>,
        #[command(flatten)]
        records: RecordArgs,
    },
    /// Run example cases (by default those shipped in RULES/cases).
    Test {
        /// The rules directory.
        rules: PathBuf,
        /// Case files to run instead of the shipped ones.
        cases: Vec<PathBuf>,
        /// Report clause coverage: each clause seen true, false, unknown.
        #[arg(long)]
        coverage: bool,
        /// Check the built-in properties over generated records.
        #[arg(long)]
        properties: bool,
        /// Generated cases per property (with --properties: default 1000; with
        /// --mutants: default 100, for the mutants the example cases do not kill; 0
        /// runs the example cases only).
        #[arg(long = "cases", value_name = "N")]
        prop_cases: Option<u32>,
        /// Seed of the generated cases (with --properties, --mutants), and of the
        /// sample of mutants (with --max).
        #[arg(long, value_name = "S", default_value_t = 2025)]
        seed: u64,
        /// Test the tests: run small mutants of the rule set (a comparison flipped, a
        /// number or a date moved by one, a clause or a set member dropped, ...)
        /// against the example cases and properties, and report those that survive.
        #[arg(long)]
        mutants: bool,
        /// With --mutants: run at most N mutants, a sample chosen by --seed.
        #[arg(long, value_name = "N", requires = "mutants")]
        max: Option<usize>,
        /// With --mutants: exit with status 1 when the share of mutants killed is
        /// below this (0 to 1).
        #[arg(long, value_name = "F", default_value_t = 0.9, requires = "mutants")]
        min_score: f64,
        /// With --mutants: print the report as JSON.
        #[arg(long, requires = "mutants")]
        json: bool,
        /// Propose example cases on the boundaries that would kill the surviving
        /// mutants of this policy (printed in the case-file layout, never written).
        #[arg(long, value_name = "POLICY", conflicts_with_all = ["mutants", "properties", "coverage"])]
        suggest: Option<String>,
        #[command(flatten)]
        records: RecordArgs,
    },
    /// The rule set compiled to one SQL script for PostgreSQL or Spark: reads the
    /// subject tables and writes a `decisions` table (docs/sql.md); with --ddl, the
    /// tables it reads.
    Sql(sql::SqlArgs),
    /// Write a population (JSON Lines) in the tables' layout: CSV files with a psql
    /// load script, or Parquet.
    Export(sql::ExportArgs),
    /// Serve decisions over HTTP: a JSON API, metrics and a page for policy staff
    /// (docs/serve.md).
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    lang::init(cli.lang);
    match cli.command {
        Command::Check { rules } => check(&rules),
        Command::Sql(args) => sql::sql(args),
        Command::Export(args) => sql::export(args),
        Command::Eval {
            rules,
            record,
            date,
            policy,
            subject,
            json,
            near_miss,
            overlay,
            records,
        } => {
            let _ = RECORD_ARGS.set(records);
            eval_cmd(EvalArgs {
                dir: &rules,
                overlay: overlay.as_deref(),
                record_path: &record,
                date: &date,
                policy: policy.as_deref(),
                subject: subject.as_deref(),
                json,
                near_miss,
            })
        }
        Command::Test {
            rules,
            cases,
            coverage,
            properties,
            prop_cases,
            seed,
            mutants,
            max,
            min_score,
            json,
            suggest,
            records,
        } => {
            let _ = RECORD_ARGS.set(records);
            if let Some(policy) = suggest {
                return mutants::suggest(&rules, &cases, &policy, prop_cases.unwrap_or(100), seed);
            }
            if mutants {
                return mutants::mutants(
                    &rules,
                    &cases,
                    mutants::Args {
                        seed,
                        max,
                        min_score,
                        json,
                        property_cases: prop_cases.unwrap_or(100),
                    },
                );
            }
            props::test(
                &rules,
                &cases,
                coverage,
                properties.then_some((prop_cases.unwrap_or(1000), seed)),
            )
        }
        Command::Prefill {
            rules,
            bundle,
            record,
            date,
            json,
            html,
            records,
        } => {
            let _ = RECORD_ARGS.set(records);
            prefill(&rules, &bundle, &record, &date, json, html.as_deref())
        }
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::main(args),
        Command::Run {
            rules,
            input,
            date,
            out,
            stream,
            bundle,
            near_miss,
            report,
            visits_by,
            overlay,
            records,
        } => {
            let _ = RECORD_ARGS.set(records);
            run::run(run::RunArgs {
                rules: &rules,
                input: &input,
                date: &date,
                out: &out,
                threads: stream.threads,
                quiet: stream.quiet,
                subject: stream.subject.as_deref(),
                format: stream.format.as_deref(),
                bundle: bundle.as_deref(),
                overlay: overlay.as_deref(),
                near_miss,
                report: report.as_deref(),
                visits_by: visits_by.as_deref(),
            })
        }
        Command::Diff {
            rules,
            new_rules,
            overlay,
            input,
            date,
            to_date,
            out,
            stream,
            records,
        } => {
            let _ = RECORD_ARGS.set(records);
            diff::diff(diff::DiffArgs {
                rules: &rules,
                new_rules: new_rules.as_deref(),
                overlay: overlay.as_deref(),
                input: &input,
                date: &date,
                to_date: to_date.as_deref(),
                out: &out,
                threads: stream.threads,
                quiet: stream.quiet,
                subject: stream.subject.as_deref(),
                format: stream.format.as_deref(),
            })
        }
    }
}

fn check(dir: &Path) -> ExitCode {
    let checked = match load::check_dir(dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", error_line(&load_error_text(&e)));
            return ExitCode::from(1);
        }
    };
    for d in &checked.diagnostics {
        eprint!(
            "{}",
            escape::lines(&d.render_in(&checked.sources, lang::lang()))
        );
        eprintln!();
    }
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match &checked.rules {
        Some(r) if errors == 0 => {
            // Scales are counted only in a rule set that has some.
            let scales = match r.program().scales.len() {
                0 => String::new(),
                n => t("cli-check--scales", &[("n", &n.to_string())]),
            };
            println!(
                "{}",
                t(
                    "cli-check--ok",
                    &[
                        ("dir", &dir.display().to_string()),
                        ("policies", &r.policies().len().to_string()),
                        ("bundles", &r.bundles().len().to_string()),
                        ("parameters", &r.program().params.len().to_string()),
                        ("scales", &scales),
                        ("functions", &r.program().functions.len().to_string()),
                        ("version", r.version()),
                    ]
                )
            );
            println!("{}", batch_coverage(r));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "{}",
                t(
                    "cli-check--errors",
                    &[
                        ("dir", &dir.display().to_string()),
                        ("n", &errors.to_string())
                    ]
                )
            );
            ExitCode::from(1)
        }
    }
}

/// Which policies the batch's compiled tier decides, and why the others are left to
/// the reference evaluator (they are decided all the same, only more slowly).
fn batch_coverage(rules: &RuleSet) -> String {
    // What compiles does not depend on the date; any date the policies know will do.
    let Some(on) = rules.program().policies.iter().map(|p| p.from).min() else {
        return t("cli-batch--no-policies", &[]);
    };
    let compiled = mianshen::internals::fast::FastRules::new(rules, on);
    let n = rules.program().policies.len();
    let left: Vec<String> = (0..n)
        .filter(|&i| !compiled.is_compiled(i))
        .map(|i| {
            format!(
                "{} ({})",
                rules.program().policies[i].id,
                compiled.uncompiled_reason(i).unwrap_or("?")
            )
        })
        .collect();
    if left.is_empty() {
        t("cli-batch--all-compiled", &[("n", &n.to_string())])
    } else {
        t(
            "cli-batch--some-compiled",
            &[
                ("compiled", &(n - left.len()).to_string()),
                ("n", &n.to_string()),
                ("left", &left.join(", ")),
            ],
        )
    }
}

/// `error: …` in this run's language; `message` is escaped for the terminal.
pub fn error_line(message: &str) -> String {
    t("cli--error", &[("message", &escape::text(message))])
}

/// A load error in this run's language.
fn load_error_text(e: &LoadError) -> String {
    e.message_in(lang::lang())
}

/// Loads a rule set or prints why not.
pub fn load_rules(dir: &Path) -> Result<RuleSet, ExitCode> {
    RuleSet::load_dir(dir).map_err(|e| {
        match &e {
            LoadError::Diagnostics {
                diagnostics,
                sources,
            } => {
                for d in diagnostics {
                    eprint!("{}", escape::lines(&d.render_in(sources, lang::lang())));
                }
                eprintln!(
                    "{}",
                    t(
                        "cli--rules-refused",
                        &[
                            ("dir", &dir.display().to_string()),
                            ("error", &load_error_text(&e)),
                        ]
                    )
                );
            }
            other => eprintln!("{}", error_line(&load_error_text(other))),
        }
        ExitCode::from(1)
    })
}

/// Loads a rule set, with an overlay over it when one is given, or prints why not.
pub fn load_rules_with(dir: &Path, overlay: Option<&Path>) -> Result<RuleSet, ExitCode> {
    let Some(overlay) = overlay else {
        return load_rules(dir);
    };
    load::load_overlay(dir, overlay).map_err(|e| {
        match &e {
            LoadError::Diagnostics {
                diagnostics,
                sources,
            } => {
                for d in diagnostics {
                    eprint!("{}", escape::lines(&d.render(sources)));
                }
                eprintln!(
                    "error: {} with the overlay {}: {e}",
                    dir.display(),
                    overlay.display()
                );
            }
            other => eprintln!("error: {}", escape::text(&other.to_string())),
        }
        ExitCode::from(1)
    })
}

/// Reads a record file (JSON or YAML) as a JSON value.
pub fn read_record_file(path: &Path) -> Result<serde_json::Value, String> {
    let options = record_args().read();
    let fail = |e: record::RecordError| {
        t(
            "cli--record-error",
            &[
                ("path", &path.display().to_string()),
                ("error", &e.reason()),
            ],
        )
    };
    // A file over the limit is refused before it is read.
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > options.max_bytes as u64 {
            return Err(fail(record::too_long(
                usize::try_from(meta.len()).unwrap_or(usize::MAX),
                &options,
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        t(
            "cli--cannot-read",
            &[
                ("path", &path.display().to_string()),
                ("error", &e.to_string()),
            ],
        )
    })?;
    let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if is_yaml {
        record::parse_yaml(&text, &options).map_err(fail)
    } else {
        record::parse_json(&text, &options).map_err(fail)
    }
}

pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, ExitCode> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        eprintln!("{}", t("cli--bad-date", &[("date", s)]));
        ExitCode::from(2)
    })
}

/// Reads and checks a record file against the schema; exit code 2 on any problem.
fn load_record(
    rules: &RuleSet,
    path: &Path,
    subject: Option<&str>,
) -> Result<record::Record, ExitCode> {
    let value = read_record_file(path).map_err(|m| {
        eprintln!("{}", error_line(&m));
        ExitCode::from(2)
    })?;
    let subject = record::detect_subject(rules.schema(), &value, subject).map_err(|m| {
        eprintln!(
            "{}",
            error_line(&t(
                "cli--record-error",
                &[("path", &path.display().to_string()), ("error", &m)]
            ))
        );
        ExitCode::from(2)
    })?;
    record::read_record_with(rules.schema(), subject, &value, record_args().read())
        .map(|(r, unknown)| {
            for k in unknown {
                eprintln!(
                    "{}",
                    t(
                        "cli--unknown-field-ignored",
                        &[
                            ("path", &escape::text(&path.display().to_string())),
                            ("field", &escape::text(&k)),
                        ]
                    )
                );
            }
            r
        })
        .map_err(|e| {
            eprintln!(
                "{}",
                t(
                    "cli--record-invalid",
                    &[
                        ("error", &escape::text(&e.to_string())),
                        ("path", &escape::text(&path.display().to_string())),
                    ]
                )
            );
            ExitCode::from(2)
        })
}

fn prefill(
    dir: &Path,
    bundle: &str,
    record_path: &Path,
    date: &str,
    json: bool,
    html: Option<&Path>,
) -> ExitCode {
    let rules = match load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let ref_date = match parse_date(date) {
        Ok(d) => d,
        Err(c) => return c,
    };
    if rules.bundle(bundle).is_none() {
        let hint = check::did_you_mean(bundle, rules.bundles().map(|b| b.id()))
            .map_or(String::new(), |s| t("cli--did-you-mean", &[("name", &s)]));
        eprintln!(
            "{}",
            t(
                "cli--unknown-bundle",
                &[("bundle", bundle), ("hint", &hint)]
            )
        );
        return ExitCode::from(2);
    }
    let rec = match load_record(&rules, record_path, None) {
        Ok(r) => r,
        Err(c) => return c,
    };
    // The text output's trace words in this run's language; JSON and the form as ever.
    let mut opts = record_args().eval(true);
    if !json && html.is_none() {
        opts.lang = lang::lang();
    }
    let result = match rules.prefill_with(bundle, &rec, ref_date, opts) {
        Ok(r) => r,
        Err(RequestError::WrongSubject {
            expected, found, ..
        }) => {
            eprintln!(
                "{}",
                t(
                    "cli--bundle-wrong-subject",
                    &[
                        ("bundle", bundle),
                        ("expected", &expected),
                        ("path", &record_path.display().to_string()),
                        ("found", &found),
                    ]
                )
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}", error_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let who = rec.id.clone().unwrap_or_else(|| t("cli--no-id", &[]));
    if let Some(path) = html {
        let page = mianshen::internals::bundle::render_html(&result, &who, ref_date);
        if let Err(e) = std::fs::write(path, page) {
            eprintln!(
                "{}",
                error_line(&t(
                    "cli--cannot-write",
                    &[
                        ("path", &path.display().to_string()),
                        ("error", &e.to_string())
                    ]
                ))
            );
            return ExitCode::from(2);
        }
    }
    if json {
        println!("{}", output::prefill_json(&result));
        return ExitCode::SUCCESS;
    }
    print_form(&result, &who, ref_date, html);
    ExitCode::SUCCESS
}

/// The pre-filled form as text: members, fields, what to enter, materials, errors, and
/// where the printable page went.
fn print_form(
    result: &mianshen::BundleResult,
    who: &str,
    ref_date: chrono::NaiveDate,
    html: Option<&Path>,
) {
    // Every value printed below may come from the record: each is escaped on its own,
    // so that no value can start a line of its own ([`escape::text`]).
    let t = |s: &str| escape::text(s).into_owned();
    let word = |id: &'static str, args: &[(&'static str, &str)]| lang::t(id, args);
    println!(
        "{}",
        word(
            "cli-prefill--header",
            &[
                ("bundle", &t(&result.bundle)),
                ("title", &t(&result.title)),
                ("who", &t(who)),
                ("date", &ref_date.to_string()),
            ]
        )
    );
    println!("\n{}", word("cli-prefill--members", &[]));
    for (key, label, m) in &result.members {
        let status = member_status_text(m);
        println!("  {} {}: {status}", t(key), t(label));
    }
    println!("\n{}", word("cli-prefill--prefilled", &[]));
    for f in &result.prefilled {
        let v = match (&f.display, &f.value) {
            (Some(d), _) => d.clone(),
            (None, serde_json::Value::String(s)) => s.clone(),
            (None, other) => other.to_string(),
        };
        println!(
            "  {} {}: {}   ← {}",
            t(&f.key),
            t(&f.label),
            t(&v),
            t(&f.source)
        );
    }
    println!("\n{}", word("cli-prefill--to-enter", &[]));
    for (k, l) in &result.to_enter {
        println!("  {} {}", t(k), t(l));
    }
    println!("\n{}", word("cli-prefill--materials", &[]));
    for m in &result.materials {
        println!(
            "{}",
            word(
                "cli-prefill--material",
                &[
                    (
                        "status",
                        &word(
                            if m.held {
                                "cli-prefill--held"
                            } else {
                                "cli-prefill--submit"
                            },
                            &[]
                        )
                    ),
                    ("label", &t(&m.label)),
                    ("key", &t(&m.key)),
                    ("members", &t(&m.members.join(", "))),
                ]
            )
        );
    }
    for e in &result.errors {
        println!(
            "\n{}",
            word(
                "cli--eval-error",
                &[
                    ("code", e.kind.code()),
                    ("at", &t(&e.at)),
                    ("message", &t(&e.message_in(lang::lang()))),
                ]
            )
        );
    }
    if let Some(path) = html {
        println!(
            "\n{}",
            word(
                "cli-prefill--form-written",
                &[("path", &t(&path.display().to_string()))]
            )
        );
    }
}

/// A member's status as the text form shows it.
fn member_status_text(m: &MemberStatus) -> String {
    let t = |s: &str| escape::text(s).into_owned();
    let word = |id: &'static str, args: &[(&'static str, &str)]| lang::t(id, args);
    match m {
        MemberStatus::Procedural { status, missing } => match status {
            Outcome::Eligible => word("cli-prefill--available", &[]),
            Outcome::NotEligible => word("cli-prefill--not-available", &[]),
            Outcome::Undetermined if missing.is_empty() => {
                word("cli-prefill--undetermined-see-errors", &[])
            }
            Outcome::Undetermined => word(
                "cli-prefill--undetermined-missing",
                &[("missing", &t(&missing.join(", ")))],
            ),
        },
        MemberStatus::Policy { decision: d, item } => {
            let mut s = outcome_word(d.outcome);
            if let Some(item) = item {
                s.push_str(&word("cli-prefill--for-item", &[("item", &t(item))]));
            }
            if !d.failed.is_empty() {
                s.push_str(&word(
                    "cli-prefill--failed",
                    &[("clauses", &t(&d.failed.join(", ")))],
                ));
            }
            if !d.missing.is_empty() {
                s.push_str(&word(
                    "cli-prefill--missing",
                    &[("fields", &t(&d.missing.join(", ")))],
                ));
            }
            if let Some(e) = &d.error {
                s.push_str(&word(
                    "cli-prefill--error",
                    &[
                        ("code", e.kind.code()),
                        ("at", &t(&e.at)),
                        ("message", &t(&e.message_in(lang::lang()))),
                    ],
                ));
            }
            s
        }
    }
}

/// Options of `mianshen eval`.
struct EvalArgs<'a> {
    dir: &'a Path,
    overlay: Option<&'a Path>,
    record_path: &'a Path,
    date: &'a str,
    policy: Option<&'a str>,
    subject: Option<&'a str>,
    json: bool,
    near_miss: Option<usize>,
}

fn eval_cmd(args: EvalArgs<'_>) -> ExitCode {
    let EvalArgs {
        dir,
        overlay,
        record_path,
        date,
        policy,
        subject,
        json,
        near_miss,
    } = args;
    let rules = match load_rules_with(dir, overlay) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let ref_date = match parse_date(date) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let rec = match load_record(&rules, record_path, subject) {
        Ok(r) => r,
        Err(c) => return c,
    };
    // The text output's trace words in this run's language; JSON as ever.
    let mut opts = record_args().eval(true);
    if !json {
        opts.lang = lang::lang();
    }
    let decisions: Vec<Decision> = match policy {
        Some(id) => match rules.decide_policy_with(id, &rec, ref_date, opts) {
            Ok(d) => vec![d],
            Err(RequestError::WrongSubject { .. }) => {
                eprintln!("{}", t("cli--policy-wrong-subject", &[("policy", id)]));
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("{}", error_line(&e.to_string()));
                return ExitCode::from(2);
            }
        },
        None => rules.decide_with(&rec, ref_date, opts),
    };
    if let Some(k) = near_miss {
        return near_cmd(&rules, &rec, ref_date, &decisions, k, json);
    }
    if json {
        println!("{}", output::decisions_json(&decisions));
    } else {
        let who = rec.id.clone().unwrap_or_else(|| t("cli--no-id", &[]));
        println!(
            "{}",
            t(
                "cli-eval--header",
                &[
                    ("who", &escape::text(&who)),
                    ("date", &ref_date.to_string())
                ]
            )
        );
        for d in &decisions {
            print!("{}", explain(&rules, d));
        }
    }
    ExitCode::SUCCESS
}

/// `eval --near-miss K`: the decisions one (to K) steps from eligible, and what each
/// failed clause would need.
fn near_cmd(
    rules: &RuleSet,
    rec: &record::Record,
    on: chrono::NaiveDate,
    decisions: &[Decision],
    k: usize,
    json: bool,
) -> ExitCode {
    let who = rec.id.clone().unwrap_or_else(|| "(no id)".into());
    let misses: Vec<mianshen::internals::reach::NearMiss> = decisions
        .iter()
        .filter_map(|d| {
            let i = rules.policy_number(&d.policy)?;
            mianshen::internals::reach::near_miss(rules, i, rec, on, d, k, &who)
        })
        .collect();
    if json {
        println!(
            "{}",
            escape::json(&serde_json::to_string_pretty(&misses).unwrap_or_default())
        );
        return ExitCode::SUCCESS;
    }
    let t = |s: &str| escape::text(s).into_owned();
    let steps = if k == 1 {
        "one step".to_string()
    } else {
        format!("at most {k} steps")
    };
    println!(
        "{} on {on}: {} not-eligible decision(s) {steps} away",
        t(&who),
        misses.len()
    );
    for m in &misses {
        let title = rules.policy(&m.policy).map_or("", |p| p.title());
        let when = if m.unknown.is_empty() {
            "would be eligible if".to_string()
        } else {
            format!(
                "would be eligible, once {} known true, if",
                t(&m.unknown.join(", "))
            )
        };
        println!("\n{} {} — {when}", t(&m.policy), t(title));
        let mut bases: Vec<&str> = vec![];
        for f in &m.failed {
            println!("  ✗ {} {}{}", t(&f.clause), t(&f.label), t(&miss_words(f)));
            if let Some(b) = f.basis.as_deref().filter(|b| !bases.contains(b)) {
                bases.push(b);
            }
        }
        for b in bases {
            println!("  basis: {}", t(b));
        }
    }
    ExitCode::SUCCESS
}

/// How far a failed clause is, in words: `: 170, needs >= 180 (gap 10)`.
fn miss_words(m: &mianshen::internals::reach::Miss) -> String {
    use mianshen::internals::reach::MissKind;
    let mut out = String::new();
    if let (Some(kind), Some(needs), Some(actual), Some(threshold)) =
        (m.kind, m.needs, &m.actual, &m.threshold)
    {
        let what = match kind {
            MissKind::Age => "age ",
            _ => "",
        };
        out.push_str(&format!(": {what}{actual}, needs {needs} {threshold}"));
        let one = matches!(m.gap.as_deref(), Some("1" | "-1"));
        let unit = match kind {
            MissKind::Age if one => " year",
            MissKind::Age => " years",
            MissKind::Date if one => " day",
            MissKind::Date => " days",
            MissKind::Number | MissKind::Value => "",
        };
        match (&m.gap, m.on) {
            (Some(g), Some(on)) => out.push_str(&format!(" ({g}{unit}, on {on})")),
            (Some(g), None) => out.push_str(&format!(" (gap {g}{unit})")),
            (None, Some(on)) => out.push_str(&format!(" (on {on})")),
            (None, None) => {}
        }
    }
    if !m.changeable {
        out.push_str(" — cannot change");
    }
    out
}

/// A decision in words, with the clauses and the facts they read. Every piece of text
/// is escaped on its own ([`escape::text`]): a value from the record cannot start a
/// line of its own or reach the terminal as a control sequence.
pub fn explain(rules: &RuleSet, d: &Decision) -> String {
    let t = |s: &str| escape::text(s).into_owned();
    let shown = |x: &ExtraValue| {
        t(&serde_json::to_value(x)
            .map(|j| j.as_str().map_or(j.to_string(), str::to_string))
            .unwrap_or_default())
    };
    let word = |id: &'static str, args: &[(&'static str, &str)]| lang::t(id, args);
    let title = rules.policy(&d.policy).map_or("", |p| p.title());
    let mut out = format!(
        "\n{} {} — {}\n",
        t(&d.policy),
        t(title),
        outcome_word(d.outcome)
    );
    if let Some(a) = &d.amount {
        let v = mianshen::internals::value::money(a.value);
        let extras: Vec<String> = a
            .extras
            .iter()
            .map(|(k, x)| format!("{} {}", t(k), shown(x)))
            .collect();
        out.push_str(&word(
            "cli-eval--amount",
            &[
                ("value", &v.to_string()),
                ("unit", &t(&a.unit)),
                ("period", &t(&a.period)),
                (
                    "extras",
                    &if extras.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", extras.join(", "))
                    },
                ),
            ],
        ));
        out.push('\n');
    }
    for (k, v) in &d.reports {
        out.push_str(&format!("  {}: {}\n", t(k), shown(v)));
    }
    match d.outcome {
        Outcome::NotEligible if !d.failed.is_empty() => {
            out.push_str(&word(
                "cli-eval--failed",
                &[("clauses", &t(&d.failed.join(", ")))],
            ));
            out.push('\n');
        }
        // An undetermined decision for an evaluation error has no missing facts: the
        // error, printed below, says why.
        Outcome::Undetermined if !d.missing.is_empty() => {
            out.push_str(&word(
                "cli-eval--missing",
                &[("fields", &t(&d.missing.join(", ")))],
            ));
            out.push('\n');
        }
        _ => {}
    }
    if let Some(e) = &d.error {
        out.push_str("  ");
        out.push_str(&word(
            "cli--eval-error",
            &[
                ("code", e.kind.code()),
                ("at", &t(&e.at)),
                ("message", &t(&e.message_in(lang::lang()))),
            ],
        ));
        out.push('\n');
    }
    if let Some(tr) = &d.trace {
        for c in &tr.clauses {
            let mark = c.value.mark();
            let facts: Vec<String> = c
                .facts
                .iter()
                .map(|f| format!("{} = {}", t(&f.path), t(&f.value)))
                .collect();
            out.push_str(&format!("  {mark} {} {}", t(&c.id), t(&c.label)));
            if !facts.is_empty() {
                out.push_str(&format!("    [{}]", facts.join("; ")));
            }
            out.push('\n');
        }
        if let Some(b) = &tr.basis {
            out.push_str(&word("cli-eval--basis", &[("basis", &t(b))]));
            out.push('\n');
        }
    }
    if let Some((key, items)) = &d.per_item {
        for (id, item) in items {
            out.push_str(&format!(
                "  {} {}: {}",
                t(key),
                t(id),
                outcome_word(item.outcome)
            ));
            if !item.failed.is_empty() {
                out.push_str(&word(
                    "cli-prefill--failed",
                    &[("clauses", &t(&item.failed.join(", ")))],
                ));
            }
            if !item.missing.is_empty() {
                out.push_str(&word(
                    "cli-prefill--missing",
                    &[("fields", &t(&item.missing.join(", ")))],
                ));
            }
            if let Some(a) = &item.amount {
                let v = mianshen::internals::value::money(a.value);
                out.push_str(&format!(" {v} {} {}", t(&a.unit), t(&a.period)));
            }
            out.push('\n');
        }
    }
    out
}

/// An outcome as shown to people: `eligible`, `not_eligible`, `undetermined` in
/// English; 可办理, 不可办理, 待补充材料 in Chinese (JSON keeps the English words).
fn outcome_word(o: Outcome) -> String {
    t(
        match o {
            Outcome::Eligible => "outcome--eligible",
            Outcome::NotEligible => "outcome--not-eligible",
            Outcome::Undetermined => "outcome--undetermined",
        },
        &[],
    )
}

fn test(dir: &Path, files: &[PathBuf]) -> ExitCode {
    let rules = match load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let files: Vec<PathBuf> = if files.is_empty() {
        match mianshen::case_files(dir) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}", error_line(&e.to_string()));
                return ExitCode::from(1);
            }
        }
    } else {
        files.to_vec()
    };
    let report = rules.run_cases_with(&files, &record_args().read(), record_args().eval(true));
    for e in &report.unreadable {
        eprintln!("{}", error_line(&e.to_string()));
    }
    // JSON text is escaped as JSON ([`escape::json`]): no raw control or bidi character
    // is printed.
    let json = |v: &serde_json::Value| {
        escape::json(&serde_json::to_string(v).unwrap_or_default()).into_owned()
    };
    for r in report.failures() {
        println!(
            "{}",
            t(
                "cli-test--fail",
                &[
                    ("id", &escape::text(&r.id)),
                    ("title", &escape::text(r.title.as_deref().unwrap_or(""))),
                    ("file", &escape::text(&r.file.display().to_string())),
                ]
            )
        );
        for fl in &r.failures {
            for d in &fl.differences {
                println!("  {}", escape::text(&d.to_string()));
            }
            println!(
                "{}",
                t("cli-test--expected", &[("json", &json(&fl.expected))])
            );
            if let Some(a) = &fl.actual {
                let mut brief = a.clone();
                let trace = brief.as_object_mut().and_then(|m| m.remove("trace"));
                println!("{}", t("cli-test--actual", &[("json", &json(&brief))]));
                if let Some(trace) = trace {
                    println!("{}", t("cli-test--trace", &[("json", &json(&trace))]));
                }
            }
        }
    }
    println!(
        "{}",
        t(
            "cli-test--summary",
            &[
                ("passed", &report.passed().to_string()),
                ("failed", &report.failed().to_string()),
            ]
        )
    );
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
