//! `mianshen test --coverage` and `mianshen test --properties`: clause coverage of the
//! example cases, and the built-in properties over generated records.

use super::lang::t;
use mianshen::internals::testing::{self, coverage, declared, properties};
use mianshen::PropertyOptions;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs the example cases, then (when asked) the coverage report and the properties.
/// `properties` is `(cases per property, seed)`.
pub fn test(
    dir: &Path,
    files: &[PathBuf],
    with_coverage: bool,
    properties: Option<(u32, u64)>,
) -> ExitCode {
    let mut code = super::test(dir, files);
    if !with_coverage && properties.is_none() {
        return code;
    }
    let rules = match super::load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    if with_coverage {
        let files: Vec<PathBuf> = if files.is_empty() {
            testing::case_files(dir)
        } else {
            files.to_vec()
        };
        match coverage::case_coverage(&rules, &files) {
            Ok(report) => print!("\n{}", report.render()),
            Err(e) => {
                eprintln!("{}", super::error_line(&e.to_string()));
                code = ExitCode::from(1);
            }
        }
    }
    if let Some((cases, seed)) = properties {
        let report = rules.check_properties(&PropertyOptions::new(cases, seed));
        print!("\n{}", report.render());
        // How far the generated records reach into each policy.
        let reach = properties::generated_coverage(&rules, cases.min(1000), seed);
        println!("\n{}", t("cli-props--generated", &[]));
        for p in &reach.policies {
            println!(
                "  {:36} {:>5} / {:>5} / {:>5}",
                p.policy, p.eligible, p.not_eligible, p.undetermined
            );
        }
        // The properties the rule files declare (amount bounds, monotonicity).
        let declared = rules.check_declared_properties(cases, seed);
        if !declared.is_empty() {
            print!(
                "\n{}\n{}",
                t("cli-props--declared", &[]),
                declared::render(&declared)
            );
        }
        let declared_ok = declared.iter().all(|r| r.counterexample.is_none());
        if !report.passed() || !declared_ok {
            println!(
                "\n{}",
                t(
                    "cli-props--failed",
                    &[
                        ("dir", &dir.display().to_string()),
                        ("cases", &cases.to_string()),
                        ("seed", &seed.to_string()),
                    ]
                )
            );
            code = ExitCode::from(1);
        }
    }
    code
}
