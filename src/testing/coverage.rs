//! Clause coverage: for every clause of every policy (per-item clauses counted once
//! per item), whether the example cases made it true, false and unknown at least once.
//!
//! A clause never seen false is a clause nobody has tested failing: an edit that makes
//! it always true (a threshold flipped, an exclusion dropped) would pass every case.
//! Only the policies a case asserts (its `expected` block) count: a decision nobody
//! checks tests nothing.

use super::{read_case_file, CaseFileError};
use crate::compile::RuleSet;
use crate::eval::{self, ClauseTrace, Decision, EvalOptions, Outcome, Truth};
use std::path::PathBuf;

/// How often one clause took each value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClauseCoverage {
    /// `C1`
    pub id: String,
    /// Its label.
    pub label: String,
    /// Times seen true.
    pub seen_true: u32,
    /// Times seen false.
    pub seen_false: u32,
    /// Times seen unknown.
    pub seen_unknown: u32,
    /// Times its evaluation failed (an evaluation error).
    pub seen_error: u32,
}

/// The coverage of one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyCoverage {
    /// Policy id.
    pub policy: String,
    /// Decisions counted.
    pub decisions: u32,
    /// Eligible decisions.
    pub eligible: u32,
    /// Not-eligible decisions.
    pub not_eligible: u32,
    /// Undetermined decisions.
    pub undetermined: u32,
    /// `C0` (in force) and the policy's clauses, in order.
    pub clauses: Vec<ClauseCoverage>,
}

/// Clause coverage of a rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageReport {
    /// Cases (or records) counted.
    pub cases: u32,
    /// One entry per policy, in rule-set order.
    pub policies: Vec<PolicyCoverage>,
}

/// Coverage totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Clauses (with C0).
    pub clauses: usize,
    /// Seen true at least once.
    pub seen_true: usize,
    /// Seen false at least once.
    pub seen_false: usize,
    /// Seen both true and false.
    pub seen_both: usize,
    /// Seen unknown at least once.
    pub seen_unknown: usize,
}

impl CoverageReport {
    /// An empty report with a row for every clause of every policy.
    pub fn new(rules: &RuleSet) -> Self {
        let policies = rules
            .program
            .policies
            .iter()
            .map(|p| {
                let mut clauses = vec![ClauseCoverage {
                    id: "C0".into(),
                    label: "在有效期内 (in force)".into(),
                    ..ClauseCoverage::default()
                }];
                clauses.extend(p.clauses.iter().map(|c| ClauseCoverage {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    ..ClauseCoverage::default()
                }));
                PolicyCoverage {
                    policy: p.id.clone(),
                    clauses,
                    ..PolicyCoverage::default()
                }
            })
            .collect();
        CoverageReport { cases: 0, policies }
    }

    /// Counts a decision made with traces (its clauses and its items' clauses).
    pub fn add(&mut self, d: &Decision) {
        let Some(pc) = self.policies.iter_mut().find(|p| p.policy == d.policy) else {
            return;
        };
        pc.decisions += 1;
        match d.outcome {
            Outcome::Eligible => pc.eligible += 1,
            Outcome::NotEligible => pc.not_eligible += 1,
            Outcome::Undetermined => pc.undetermined += 1,
        }
        if let Some(t) = &d.trace {
            count(pc, &t.clauses);
        }
        if let Some((_, items)) = &d.per_item {
            for (_, it) in items {
                if let Some(t) = &it.trace {
                    count(pc, &t.clauses);
                }
            }
        }
    }

    /// The policy's coverage.
    pub fn policy(&self, id: &str) -> Option<&PolicyCoverage> {
        self.policies.iter().find(|p| p.policy == id)
    }

    /// Clauses never seen false: (policy, clause id, label).
    pub fn never_false(&self) -> Vec<(String, String, String)> {
        self.select(|c| c.seen_false == 0)
    }

    /// Clauses never seen true: (policy, clause id, label).
    pub fn never_true(&self) -> Vec<(String, String, String)> {
        self.select(|c| c.seen_true == 0)
    }

    fn select(&self, f: impl Fn(&ClauseCoverage) -> bool) -> Vec<(String, String, String)> {
        self.policies
            .iter()
            .flat_map(|p| {
                p.clauses
                    .iter()
                    .filter(|c| f(c))
                    .map(|c| (p.policy.clone(), c.id.clone(), c.label.clone()))
            })
            .collect()
    }

    /// The totals over every clause.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in self.policies.iter().flat_map(|p| &p.clauses) {
            t.clauses += 1;
            t.seen_true += usize::from(c.seen_true > 0);
            t.seen_false += usize::from(c.seen_false > 0);
            t.seen_both += usize::from(c.seen_true > 0 && c.seen_false > 0);
            t.seen_unknown += usize::from(c.seen_unknown > 0);
        }
        t
    }

    /// Whether every clause was seen true and seen false.
    pub fn full_true_false(&self) -> bool {
        let t = self.totals();
        t.seen_both == t.clauses
    }

    /// The report in words: per policy and clause, then the clauses never seen false
    /// (and never seen true), then the totals.
    pub fn render(&self) -> String {
        let mut out = format!("clause coverage over {} case(s):\n", self.cases);
        for p in &self.policies {
            let n = p.clauses.len();
            let t = p.clauses.iter().filter(|c| c.seen_true > 0).count();
            let f = p.clauses.iter().filter(|c| c.seen_false > 0).count();
            let u = p.clauses.iter().filter(|c| c.seen_unknown > 0).count();
            out.push_str(&format!(
                "\n{}: {} decision(s) ({} eligible, {} not_eligible, {} undetermined); clauses seen true {t}/{n}, false {f}/{n}, unknown {u}/{n}\n",
                p.policy, p.decisions, p.eligible, p.not_eligible, p.undetermined
            ));
            for c in &p.clauses {
                let mark = if c.seen_true > 0 && c.seen_false > 0 {
                    " "
                } else {
                    "!"
                };
                out.push_str(&format!(
                    "  {mark} {:4} true {:>4}  false {:>4}  unknown {:>4}{}  {}\n",
                    c.id,
                    c.seen_true,
                    c.seen_false,
                    c.seen_unknown,
                    if c.seen_error > 0 {
                        format!("  error {:>4}", c.seen_error)
                    } else {
                        String::new()
                    },
                    c.label
                ));
            }
        }
        let nf = self.never_false();
        let nt = self.never_true();
        out.push_str(&format!("\nclauses never seen false: {}\n", nf.len()));
        for (p, c, l) in &nf {
            out.push_str(&format!("  {p} {c} {l}\n"));
        }
        out.push_str(&format!("clauses never seen true: {}\n", nt.len()));
        for (p, c, l) in &nt {
            out.push_str(&format!("  {p} {c} {l}\n"));
        }
        let t = self.totals();
        let pct = |x: usize| {
            if t.clauses == 0 {
                100.0
            } else {
                (x as f64) * 100.0 / (t.clauses as f64)
            }
        };
        out.push_str(&format!(
            "total: {} clauses; seen true {} ({:.1}%), seen false {} ({:.1}%), both {} ({:.1}%), unknown {} ({:.1}%)\n",
            t.clauses,
            t.seen_true,
            pct(t.seen_true),
            t.seen_false,
            pct(t.seen_false),
            t.seen_both,
            pct(t.seen_both),
            t.seen_unknown,
            pct(t.seen_unknown)
        ));
        out
    }
}

fn count(pc: &mut PolicyCoverage, traces: &[ClauseTrace]) {
    for ct in traces {
        if let Some(c) = pc.clauses.iter_mut().find(|c| c.id == ct.id) {
            match ct.value {
                Truth::True => c.seen_true += 1,
                Truth::False => c.seen_false += 1,
                Truth::Unknown => c.seen_unknown += 1,
                Truth::Error => c.seen_error += 1,
            }
        }
    }
}

/// Runs the example cases of `files` with traces and counts, for the policies each case
/// asserts, every clause's values. Cases that cannot be read (a bad date, a record the
/// schema rejects) are skipped: `mianshen test` reports them.
pub fn case_coverage(rules: &RuleSet, files: &[PathBuf]) -> Result<CoverageReport, CaseFileError> {
    let mut report = CoverageReport::new(rules);
    for f in files {
        let file = read_case_file(f)?;
        for case in &file.cases {
            if add_case(rules, case, &mut report) {
                report.cases += 1;
            }
        }
    }
    Ok(report)
}

fn add_case(rules: &RuleSet, case: &super::Case, report: &mut CoverageReport) -> bool {
    let Ok((ref_date, subject, rec)) =
        super::prepare_case(rules, case, crate::record::ReadOptions::default())
    else {
        return false;
    };
    for k in case.expected.keys() {
        let target = crate::schema::yaml_scalar_text(k).unwrap_or_default();
        if let Some(&pi) = rules.policy_index.get(&target) {
            if rules
                .program
                .policies
                .get(pi)
                .is_none_or(|p| p.subject != subject)
            {
                continue;
            }
            let d = eval::evaluate_policy(
                rules,
                pi,
                &rec,
                ref_date,
                EvalOptions {
                    trace: true,
                    ..Default::default()
                },
            );
            report.add(&d);
        }
    }
    true
}
