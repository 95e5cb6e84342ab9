//! Example cases: a record, a reference date and the expected decisions, in the layout
//! of `citizen-schema.md` ("Example-case layout"), run against a rule set.

pub mod coverage;
pub mod declared;
pub mod generate;
pub mod mutants;
pub mod properties;

use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions};
use crate::record::{self, yaml_to_json};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// A file of example cases.
#[derive(Debug, Deserialize)]
pub struct CaseFile {
    /// The cases.
    pub cases: Vec<Case>,
}

/// One example case.
#[derive(Debug, Deserialize)]
pub struct Case {
    /// Unique id.
    pub id: String,
    /// What it checks.
    #[serde(default)]
    pub title: Option<String>,
    /// The `ref` of the evaluation.
    pub reference_date: serde_yaml::Value,
    /// The subject kind of the record (`person`, `enterprise`); when absent, told by the
    /// record's top-level keys.
    #[serde(default)]
    pub subject: Option<String>,
    /// The subject's record, as it would be read from a batch line.
    pub record: serde_yaml::Value,
    /// Expected results by policy (or bundle) id.
    pub expected: serde_yaml::Mapping,
}

/// The result of one example case: its id and title, and every expectation that did
/// not hold (none: the case passed).
#[derive(Debug)]
pub struct CaseResult {
    /// The case file the case came from.
    pub file: PathBuf,
    /// The case's id as written in the case file, named in failures.
    pub id: String,
    /// The case's `title:` as written, if any.
    pub title: Option<String>,
    /// Differences between expected and actual (empty: passed).
    pub failures: Vec<CaseFailure>,
}

/// One expectation of a case that did not hold: for one policy or bundle, what
/// differs, with the expected block and the actual decision.
#[derive(Debug)]
pub struct CaseFailure {
    /// The policy or bundle id (or `case` / `record` when the case itself is wrong).
    pub target: String,
    /// What differs, one line each.
    pub differences: Vec<String>,
    /// The case's expected block, as JSON.
    pub expected: Json,
    /// The actual decision (with trace), when there is one.
    pub actual: Option<Json>,
}

/// A case file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CaseFileError {
    /// The case file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

/// Lists the case files of a rules directory: every `*.yaml` below `cases/` (none when
/// they cannot be listed: see [`try_case_files`]).
pub fn case_files(rules_dir: &Path) -> Vec<PathBuf> {
    try_case_files(rules_dir).unwrap_or_default()
}

/// Lists the case files of a rules directory, every `*.yaml` (or `*.yml`) regular file
/// below `cases/`, by the rules of [`crate::load::RulesDir`]: a FIFO, a device or a link
/// leading outside the rules directory is an error naming it.
pub fn try_case_files(rules_dir: &Path) -> Result<Vec<PathBuf>, crate::load::LoadError> {
    if !rules_dir.join("cases").exists() {
        return Ok(vec![]);
    }
    crate::load::RulesDir::new(rules_dir)?.files(Some("cases"), &["yaml", "yml"])
}

/// Reads a case file (a regular file only, never waiting on a FIFO or a device).
pub fn read_case_file(path: &Path) -> Result<CaseFile, CaseFileError> {
    let text = crate::load::read_regular_text(path).map_err(|e| CaseFileError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let file: CaseFile = serde_yaml::from_str(&text).map_err(|e| {
        // A bracketed path left unquoted in a list is the usual cause: say so.
        let on_a_path_list = e
            .location()
            .and_then(|l| text.lines().nth(l.line().saturating_sub(1)))
            .map(str::trim_start)
            .is_some_and(|l| l.starts_with("missing:") || l.starts_with("failed:"));
        let hint = if on_a_path_list {
            "; a path with brackets must be quoted, e.g. missing: [\"household.members[K1].income\"]"
        } else {
            ""
        };
        CaseFileError {
            path: path.to_path_buf(),
            message: format!("{e}{hint}"),
        }
    })?;
    for case in &file.cases {
        if let Some(at) = unquoted_path(&case.expected, "expected") {
            // The case's line, to point at it (YAML values carry no positions).
            let line = text
                .lines()
                .position(|l| l.trim_start().trim_start_matches("- ") == format!("id: {}", case.id))
                .map_or(String::new(), |n| format!("line {}: ", n + 1));
            return Err(CaseFileError {
                path: path.to_path_buf(),
                message: format!(
                    "{line}case {}: {at} lists something that is not a text: a path with \
                     brackets must be quoted, e.g. missing: [\"household.members[K1].income\"]",
                    case.id
                ),
            });
        }
    }
    Ok(file)
}

/// The first `missing` or `failed` list under `v` (at `at`) with an entry that is not a
/// text: unquoted in YAML, `[household.members[K1].x]` reads as nested lists, and the
/// case could only fail.
fn unquoted_path(v: &serde_yaml::Mapping, at: &str) -> Option<String> {
    for (k, x) in v {
        let key = k.as_str().unwrap_or("?");
        let here = format!("{at}.{key}");
        match x {
            serde_yaml::Value::Sequence(items)
                if matches!(key, "missing" | "failed") && items.iter().any(|i| !i.is_string()) =>
            {
                return Some(here)
            }
            serde_yaml::Value::Mapping(m) => {
                if let Some(found) = unquoted_path(m, &here) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// A bundle result as example cases state it: `members`, and the field keys of
/// `prefilled` and `to_enter` in form order (plus `materials`).
pub fn bundle_case_view(result: &eval::BundleResult) -> Json {
    let mut v = serde_json::to_value(result).unwrap_or(Json::Null);
    // Members may also be named by their number in the bundle text: M1, M2, ...
    if let Some(Json::Object(members)) = v.get_mut("members") {
        let numbered: Vec<(String, Json)> = members
            .values()
            .enumerate()
            .map(|(i, m)| (format!("M{}", i + 1), m.clone()))
            .collect();
        for (k, m) in numbered {
            members.entry(k).or_insert(m);
        }
    }
    if let Some(map) = v.as_object_mut() {
        for key in ["prefilled", "to_enter"] {
            if let Some(Json::Array(items)) = map.get_mut(key) {
                for item in items.iter_mut() {
                    *item = item.get("key").cloned().unwrap_or(Json::Null);
                }
            }
        }
    }
    v
}

/// A case's reference date, subject kind and record; or what is wrong with it: the
/// target to report it under (`case` or `record`) and the message.
pub(crate) fn prepare_case(
    rules: &RuleSet,
    case: &Case,
    read: record::ReadOptions,
) -> Result<(NaiveDate, usize, record::Record), (&'static str, String)> {
    let date_text = crate::schema::yaml_scalar_text(&case.reference_date).unwrap_or_default();
    let ref_date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").map_err(|_| {
        (
            "case",
            format!("reference_date `{date_text}` is not a date (YYYY-MM-DD)"),
        )
    })?;
    let json = yaml_to_json(&case.record);
    let subject = record::detect_subject(&rules.schema, &json, case.subject.as_deref())
        .map_err(|m| ("case", m))?;
    let rec = record::read_record_with(&rules.schema, subject, &json, read)
        .map_err(|e| ("record", e.to_string()))?
        .0;
    Ok((ref_date, subject, rec))
}

/// Runs one case: every expected target is a policy or a bundle of the rule set.
pub fn run_case(rules: &RuleSet, file: &Path, case: &Case) -> CaseResult {
    run_case_with(
        rules,
        file,
        case,
        record::ReadOptions::default(),
        EvalOptions {
            trace: true,
            ..Default::default()
        },
    )
}

/// Runs one case, its record read with `read` and its decisions made with `opts`.
pub fn run_case_with(
    rules: &RuleSet,
    file: &Path,
    case: &Case,
    read: record::ReadOptions,
    opts: EvalOptions,
) -> CaseResult {
    let mut result = CaseResult {
        file: file.to_path_buf(),
        id: case.id.clone(),
        title: case.title.clone(),
        failures: vec![],
    };
    let fail = |target: &str, msg: String| CaseFailure {
        target: target.to_string(),
        differences: vec![msg],
        expected: Json::Null,
        actual: None,
    };
    let (ref_date, subject, rec) = match prepare_case(rules, case, read) {
        Ok(prepared) => prepared,
        Err((target, message)) => {
            result.failures.push(fail(target, message));
            return result;
        }
    };
    let strip = rules.schema.subjects.get(subject).and_then(|s| {
        let field = rules.schema.record(s.root)?.field(s.paths_from?)?;
        Some(format!("{}.", field.name))
    });
    for (k, expected) in &case.expected {
        let target = crate::schema::yaml_scalar_text(k).unwrap_or_default();
        let expected = yaml_to_json(expected);
        let actual = match rules.policy_index.get(&target) {
            Some(&pi) => {
                let d = eval::evaluate_policy(rules, pi, &rec, ref_date, opts);
                Some(decision_json(&d))
            }
            None => rules.bundle_index(&target).map(|b| {
                let result = eval::prefill(rules, b, &rec, ref_date, opts);
                bundle_case_view(&result)
            }),
        };
        let Some(actual) = actual else {
            result.failures.push(fail(
                &target,
                format!("`{target}` is neither a policy nor a bundle of this rule set"),
            ));
            continue;
        };
        let mut diffs = vec![];
        compare(&expected, &actual, &target, strip.as_deref(), &mut diffs);
        if !diffs.is_empty() {
            result.failures.push(CaseFailure {
                target,
                differences: diffs,
                expected,
                actual: Some(actual),
            });
        }
    }
    result
}

/// The outcome of running example cases: every case run, and the case files that could
/// not be read.
#[derive(Debug, Default)]
pub struct CaseReport {
    /// Every case of the files that could be read, in file order then case order.
    pub cases: Vec<CaseResult>,
    /// The case files that could not be read or parsed (each counts as one failure).
    pub unreadable: Vec<CaseFileError>,
}

impl CaseReport {
    /// Cases whose every expectation held.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failures.is_empty()).count()
    }

    /// Cases with a failed expectation, plus the files that could not be read.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed() + self.unreadable.len()
    }

    /// Whether every case passed and every file could be read.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    /// The cases with a failed expectation.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.failures.is_empty())
    }
}

/// Runs every case of the given case files, records read with `read` and decided with
/// `opts`.
pub fn run_case_files(
    rules: &RuleSet,
    files: &[PathBuf],
    read: record::ReadOptions,
    opts: EvalOptions,
) -> CaseReport {
    let mut report = CaseReport::default();
    for f in files {
        match read_case_file(f) {
            Ok(file) => report.cases.extend(
                file.cases
                    .iter()
                    .map(|case| run_case_with(rules, f, case, read, opts)),
            ),
            Err(e) => report.unreadable.push(e),
        }
    }
    report
}

/// A decision as JSON, exactly as `eval --json` prints it.
pub fn decision_json(d: &Decision) -> Json {
    serde_json::to_value(d).unwrap_or(Json::Null)
}

fn as_decimal(v: &Json) -> Option<rust_decimal::Decimal> {
    use std::str::FromStr;
    match v {
        Json::Number(n) => rust_decimal::Decimal::from_str(&n.to_string())
            .or_else(|_| rust_decimal::Decimal::from_scientific(&n.to_string()))
            .ok(),
        Json::String(s) => rust_decimal::Decimal::from_str(s).ok(),
        _ => None,
    }
}

fn scalar_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares an expected block with the actual JSON: only the keys written in the
/// expectation; `failed` and `missing` as sets; numbers by value.
pub fn compare(
    expected: &Json,
    actual: &Json,
    at: &str,
    strip: Option<&str>,
    diffs: &mut Vec<String>,
) {
    match expected {
        Json::Object(map) => {
            for (k, want) in map {
                let here = format!("{at}.{k}");
                let got = actual.get(k).unwrap_or(&Json::Null);
                match k.as_str() {
                    "failed" | "missing" => {
                        let norm = |v: &Json| -> Vec<String> {
                            let mut out: Vec<String> = v
                                .as_array()
                                .map(|a| a.iter().map(scalar_text).collect())
                                .unwrap_or_default();
                            if let Some(p) = strip {
                                for s in &mut out {
                                    if let Some(rest) = s.strip_prefix(p) {
                                        *s = rest.to_string();
                                    }
                                }
                            }
                            out.sort();
                            out.dedup();
                            out
                        };
                        let (w, g) = (norm(want), norm(got));
                        if w != g {
                            diffs.push(format!("{here}: expected {w:?}, got {g:?}"));
                        }
                    }
                    _ => compare(want, got, &here, strip, diffs),
                }
            }
        }
        Json::Null => {
            if !actual.is_null() {
                diffs.push(format!("{at}: expected null, got {actual}"));
            }
        }
        Json::Array(want) => {
            let got = actual.as_array().cloned().unwrap_or_default();
            if want.len() != got.len() {
                diffs.push(format!("{at}: expected {expected}, got {actual}"));
                return;
            }
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                compare(w, g, &format!("{at}[{i}]"), strip, diffs);
            }
        }
        // A policy member or decision stated by its outcome alone: `eligible`.
        Json::String(want) if actual.get("outcome").is_some() => {
            let got = actual.get("outcome").map(scalar_text).unwrap_or_default();
            if *want != got {
                diffs.push(format!("{at}: expected {want}, got {got}"));
            }
        }
        _ => {
            let equal = match (as_decimal(expected), as_decimal(actual)) {
                (Some(a), Some(b)) => a == b,
                _ => scalar_text(expected) == scalar_text(actual) && !actual.is_null(),
            };
            if !equal {
                diffs.push(format!(
                    "{at}: expected {}, got {}",
                    scalar_text(expected),
                    if actual.is_null() {
                        "nothing".to_string()
                    } else {
                        scalar_text(actual)
                    }
                ));
            }
        }
    }
}
