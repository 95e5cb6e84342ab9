//! `mianshen test RULES --mutants` and `mianshen test RULES --suggest POLICY`: tests
//! that test the tests (docs/testing.md).

use super::record_args;
use mianshen::internals::escape;
use mianshen::internals::testing::{self, mutants};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The options of `--mutants`.
pub struct Args {
    pub seed: u64,
    pub max: Option<usize>,
    pub min_score: f64,
    pub json: bool,
    pub property_cases: u32,
}

/// The rule set's sources and its example cases (those given, or RULES/cases).
fn prepare(dir: &Path, files: &[PathBuf]) -> Result<(mutants::Sources, mutants::Suite), ExitCode> {
    let sources = mutants::Sources::read_dir(dir).map_err(|e| {
        eprintln!("error: {}", escape::text(&e.to_string()));
        ExitCode::from(1)
    })?;
    let files: Vec<PathBuf> = if files.is_empty() {
        testing::try_case_files(dir).map_err(|e| {
            eprintln!("error: {}", escape::text(&e.to_string()));
            ExitCode::from(1)
        })?
    } else {
        files.to_vec()
    };
    let suite = mutants::Suite::load(&files).map_err(|e| {
        eprintln!("error: {}", escape::text(&e.to_string()));
        ExitCode::from(1)
    })?;
    Ok((sources, suite))
}

fn options(seed: u64, max: Option<usize>, property_cases: u32) -> mutants::RunOptions {
    mutants::RunOptions {
        seed,
        max,
        property_cases,
        read: record_args().read(),
        eval: record_args().eval(true),
    }
}

/// Runs the mutants; exit status 1 when the score is below `--min-score` (or the rule
/// set cannot be tested), 2 on a usage error.
pub fn mutants(dir: &Path, files: &[PathBuf], args: Args) -> ExitCode {
    if !(0.0..=1.0).contains(&args.min_score) {
        eprintln!(
            "error: --min-score {} is not a share: write a number from 0 to 1 (0.9 for 90%)",
            args.min_score
        );
        return ExitCode::from(2);
    }
    let (sources, suite) = match prepare(dir, files) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let started = Instant::now();
    let opts = options(args.seed, args.max, args.property_cases);
    let report = match mutants::run(&sources, &suite, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {}", dir.display(), escape::text(&e.to_string()));
            return ExitCode::from(1);
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        let text =
            serde_json::to_string_pretty(&report.to_json(Some(args.min_score))).unwrap_or_default();
        println!("{}", escape::json(&text));
    } else {
        print!("{}", escape::lines(&report.render(Some(args.min_score))));
        println!(
            "\n{} mutants judged in {elapsed:.1} s on {} threads; rerun with `mianshen test {} --mutants --seed {}{}`",
            report.results.len(),
            rayon::current_num_threads(),
            dir.display(),
            args.seed,
            args.max.map_or(String::new(), |m| format!(" --max {m}"))
        );
    }
    if report.score() + 1e-12 >= args.min_score {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Proposes boundary cases for the surviving mutants of one policy: runs the mutants
/// of the policy (and of the parameters and functions it may read), and prints, for
/// each survivor, example cases that kill it, in the case-file layout. Nothing is
/// written.
pub fn suggest(
    dir: &Path,
    files: &[PathBuf],
    policy: &str,
    property_cases: u32,
    seed: u64,
) -> ExitCode {
    let (sources, suite) = match prepare(dir, files) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let rules = match super::load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    if rules.policy(policy).is_none() {
        let ids: Vec<&str> = rules.policies().map(|p| p.id()).collect();
        let hint = mianshen::internals::check::did_you_mean(policy, ids)
            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
        eprintln!("error: unknown policy `{}`{hint}", escape::text(policy));
        return ExitCode::from(2);
    }
    let opts = options(seed, None, property_cases);
    let keep = |m: &mutants::Mutant| match m.owner.kind {
        mutants::OwnerKind::Policy => m.owner.name == policy,
        mutants::OwnerKind::Parameter | mutants::OwnerKind::Function => true,
        mutants::OwnerKind::Bundle => false,
    };
    let report = match mutants::run_filtered(&sources, &suite, &opts, &keep) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {}", dir.display(), escape::text(&e.to_string()));
            return ExitCode::from(1);
        }
    };
    let survivors: Vec<mutants::Mutant> = report
        .survivors()
        .into_iter()
        .filter(|r| matches!(r.status, mutants::Status::Survived { equivalent: None }))
        .map(|r| r.mutant.clone())
        .collect();
    let found = mutants::suggest::suggest(&sources, &rules, &suite, policy, &survivors, &opts);
    let mut out = String::new();
    out.push_str(&format!(
        "# Boundary cases for {policy}: each kills a mutant that survives the example cases\n\
         # and properties of {}. `expected` is what the rule set decides now: check it\n\
         # against the policy text before pasting the case under `cases:`. Nothing is written.\n",
        dir.display()
    ));
    let mut shown = 0;
    let mut unfound = vec![];
    // A case proposed for several mutants is printed once.
    let mut printed: Vec<(&str, &str)> = vec![];
    for s in &found {
        let m = &s.mutant;
        if s.cases.is_empty() {
            if m.owner.kind == mutants::OwnerKind::Policy {
                unfound.push(s);
            }
            continue;
        }
        shown += 1;
        out.push_str(&format!(
            "\n  # {} [{}] {}  {} {}, {}: {}\n  # {}\n",
            m.id,
            m.category.name(),
            m.location(),
            m.owner.kind.name(),
            m.owner.name,
            m.part,
            m.change(),
            s.summary
        ));
        for c in &s.cases {
            match printed.iter().find(|(content, _)| *content == c.content) {
                Some((_, id)) => {
                    out.push_str(&format!("  # the case {id} above kills it too\n"));
                    break;
                }
                None => {
                    printed.push((&c.content, &c.id));
                    out.push_str(&c.yaml);
                }
            }
        }
    }
    if !unfound.is_empty() {
        out.push_str(&format!(
            "\n# {} surviving mutant(s) of {policy} with no boundary case found from its cases\n\
             # (equivalent, or out of reach of one change to one case):\n",
            unfound.len()
        ));
        for s in unfound {
            let m = &s.mutant;
            out.push_str(&format!(
                "#   {} [{}] {}  {}: {}\n",
                m.id,
                m.category.name(),
                m.location(),
                m.part,
                m.change()
            ));
        }
    }
    print!("{}", escape::lines(&out));
    eprintln!(
        "{shown} surviving mutant(s) of {policy} (or of the parameters and functions it reads) with a boundary case; {} run",
        report.results.len()
    );
    ExitCode::SUCCESS
}
