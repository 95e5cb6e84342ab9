//! `mianshen test --coverage` and `mianshen test --properties`: clause coverage of the
//! example cases, and the built-in properties over generated records.

use mianshen::testing::{self, coverage, properties};
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
                eprintln!("error: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    if let Some((cases, seed)) = properties {
        let report = properties::run_properties(&rules, cases, seed);
        print!("\n{}", report.render());
        if !report.passed() {
            println!(
                "\nproperties failed; rerun with `mianshen test {} --properties --cases {cases} --seed {seed}`",
                dir.display()
            );
            code = ExitCode::from(1);
        }
    }
    code
}
