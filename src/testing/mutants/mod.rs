//! Mutation testing of a rule set: tests that test the tests.
//!
//! A rule set's example cases and properties pass; do they pin the policy down? This
//! module makes small mutants of the rule set — a comparison flipped at its boundary,
//! a number moved by one in its last digit, a date moved by a day, a month or a year
//! (effective periods, parameter steps, date constants), `and` for `or`, `not`
//! dropped, a clause dropped, a member dropped from a set, a parameter step's value
//! changed — each one precise change at a span of the syntax tree ([`enumerate`]).
//! A mutant that no longer passes the checker is set aside (*not valid*); each other
//! one is run against the example cases and, when they all still pass, against the
//! built-in and declared properties ([`run`]). A mutant is *killed* when a case or a
//! property fails, and *survives* otherwise: a survivor is a change to the policy that
//! the tests would let ship.
//!
//! Some survivors cannot be killed: the change makes no difference any record could
//! show (an *equivalent* mutant). The one kind recognised here is a parameter value
//! moved on dates when no rule reads the parameter (a step's start moved earlier than
//! the effective period of every policy that reads it, a parameter no rule reads). The
//! score leaves them out: killed ÷ (valid − equivalent).
//!
//! [`suggest`] proposes the example cases that would kill the survivors of a policy:
//! an existing case moved onto the boundary, with the decision the rule set gives
//! there, verified to kill the mutant before it is proposed.

mod sites;
pub mod suggest;

use super::{Case, CaseFileError};
use crate::check::Severity;
use crate::compile::RuleSet;
use crate::eval::EvalOptions;
use crate::load::{self, LoadError};
use crate::record;
use crate::schema::Schema;
use crate::syntax::ast::{Expr, ExprKind, Item, RuleFile};
use crate::syntax::{self, SourceMap};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What kind of change a mutant makes, most dangerous first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// A number that makes an amount (a rate, a sum, a table entry) moved by one in
    /// its last digit.
    Amount,
    /// A parameter step's value changed.
    Parameter,
    /// A date moved by a day, a month or a year: an effective period, a parameter
    /// step, a date constant.
    Date,
    /// A number a condition compares with (an age, a count of months, a rate limit)
    /// moved by one in its last digit.
    Threshold,
    /// A comparison flipped at its boundary (`>=` ↔ `>`, `<` ↔ `<=`) or negated
    /// (`==` ↔ `!=`).
    Comparison,
    /// A clause dropped: its condition replaced by `true`.
    ClauseDropped,
    /// A member dropped from a set (`x in {a, b, c}`).
    SetMember,
    /// `and` ↔ `or`, `not` dropped, `true` ↔ `false`.
    Logic,
    /// A number in a text a decision shows (a clause's label, the legal basis) moved
    /// by one.
    Label,
}

impl Category {
    /// The category's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Category::Amount => "amount",
            Category::Parameter => "parameter",
            Category::Date => "date",
            Category::Threshold => "threshold",
            Category::Comparison => "comparison",
            Category::ClauseDropped => "clause-dropped",
            Category::SetMember => "set-member",
            Category::Logic => "logic",
            Category::Label => "label",
        }
    }
}

/// What kind of item a mutant lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnerKind {
    /// A policy.
    Policy,
    /// A "one thing" bundle.
    Bundle,
    /// A parameter with dated values.
    Parameter,
    /// A shared function.
    Function,
}

impl OwnerKind {
    /// The word for it in reports.
    pub fn name(self) -> &'static str {
        match self {
            OwnerKind::Policy => "policy",
            OwnerKind::Bundle => "bundle",
            OwnerKind::Parameter => "parameter",
            OwnerKind::Function => "function",
        }
    }
}

/// The item a mutant lies in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Policy, bundle, parameter or function.
    pub kind: OwnerKind,
    /// Its id or name.
    pub name: String,
}

/// What a mutation is about, for finding the records that tell it apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// Numbers involved (the constant before and after, a compared constant).
    pub numbers: Vec<Decimal>,
    /// Dates involved (before and after, a compared date).
    pub dates: Vec<NaiveDate>,
    /// Texts or enum values involved (a dropped set member).
    pub strings: Vec<String>,
    /// A parameter whose values change, and the first and last date they change on.
    pub param: Option<(String, NaiveDate, NaiveDate)>,
}

/// One mutant: one change of one span of one rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutant {
    /// `M0001`, … in source order (stable for the same rule files).
    pub id: String,
    /// Index of the rule file in [`Sources::files`].
    pub file: usize,
    /// The rule file's path, as shown.
    pub path: String,
    /// First byte of the changed text.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// 1-based line of the change.
    pub line: usize,
    /// 1-based column (in characters) of the change.
    pub column: usize,
    /// What kind of change.
    pub category: Category,
    /// The text replaced.
    pub original: String,
    /// The text put in its place (empty: deleted).
    pub mutated: String,
    /// The policy, bundle, parameter or function it lies in.
    pub owner: Owner,
    /// The part of it: `C2`, `amount`, `effective`, `let months`, `step 1 (from …)`.
    pub part: String,
    /// The change in words.
    pub what: String,
    /// What the change is about.
    pub hints: Hints,
}

impl Mutant {
    /// `rules/x.rules:12:7`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.path, self.line, self.column)
    }

    /// `` `>=` → `>` `` (an empty text shown as `∅`).
    pub fn change(&self) -> String {
        let shown = |s: &str| {
            if s.is_empty() {
                "∅".to_string()
            } else {
                format!("`{}`", s.split_whitespace().collect::<Vec<_>>().join(" "))
            }
        };
        format!("{} → {}", shown(&self.original), shown(&self.mutated))
    }
}

/// The text of a rule set: its schema and rule files, as read from a directory.
#[derive(Debug, Clone)]
pub struct Sources {
    /// `schema.yaml`'s text.
    pub schema_text: String,
    /// The schema.
    pub schema: Schema,
    /// Each rule file: its path (as shown) and text, in path order.
    pub files: Vec<(PathBuf, String)>,
}

impl Sources {
    /// Reads a rules directory the way [`load::check_dir`] does.
    pub fn read_dir(dir: &Path) -> Result<Sources, LoadError> {
        let texts = load::read_dir_texts(dir)?;
        Ok(Sources {
            schema_text: texts.schema_text,
            schema: texts.schema,
            files: texts.files,
        })
    }

    /// Parses and checks the rule files.
    pub fn check(&self) -> load::Checked {
        load::check_sources(self.schema.clone(), &self.schema_text, self.files.clone())
    }

    /// The rule files with a mutant applied.
    pub fn mutated(&self, m: &Mutant) -> Vec<(PathBuf, String)> {
        let mut files = self.files.clone();
        if let Some((_, text)) = files.get_mut(m.file) {
            if text.is_char_boundary(m.start)
                && text.is_char_boundary(m.end)
                && m.start <= m.end
                && m.end <= text.len()
            {
                text.replace_range(m.start..m.end, &m.mutated);
            }
        }
        files
    }

    /// Parses and checks the rule files with a mutant applied.
    pub fn check_mutant(&self, m: &Mutant) -> load::Checked {
        load::check_sources(self.schema.clone(), &self.schema_text, self.mutated(m))
    }

    fn parse(&self) -> Result<Vec<RuleFile>, String> {
        let mut out = vec![];
        for (i, (path, text)) in self.files.iter().enumerate() {
            match syntax::parse_rule_file(text, i) {
                Ok(f) => out.push(f),
                Err(e) => return Err(format!("{}: {}", path.display(), e.message)),
            }
        }
        Ok(out)
    }
}

/// Every mutant of a rule set, in source order, with ids `M0001`, …; and, for each
/// parameter, the dates on which some rule can read it (for equivalence).
pub fn enumerate(sources: &Sources) -> Result<Vec<Mutant>, String> {
    let asts = sources.parse()?;
    let mut map = SourceMap::default();
    for (p, t) in &sources.files {
        map.add(p.clone(), t.clone());
    }
    let mut all = vec![];
    for (i, ast) in asts.iter().enumerate() {
        let text = sources.files.get(i).map_or("", |(_, t)| t.as_str());
        let path = sources
            .files
            .get(i)
            .map_or(String::new(), |(p, _)| p.display().to_string());
        let mut ms = sites::file_mutants(i, text, ast);
        ms.sort_by_key(|m| m.start);
        for m in &mut ms {
            let (line, column) = map.line_col(crate::syntax::ast::Span {
                file: i,
                start: m.start,
                end: m.end,
            });
            m.line = line;
            m.column = column;
            m.path = path.clone();
        }
        all.extend(ms);
    }
    // One mutant per change.
    let mut seen = std::collections::HashSet::new();
    all.retain(|m| seen.insert((m.file, m.start, m.end, m.mutated.clone())));
    let width = all.len().to_string().len().max(4);
    for (k, m) in all.iter_mut().enumerate() {
        m.id = format!("M{:0width$}", k + 1);
    }
    Ok(all)
}

/// On which dates each parameter can be read: `None` for any date (read with an
/// explicit date, or by a function or a bundle); otherwise the effective periods of
/// the policies that read it (none at all: no rule reads it).
fn parameter_reach(asts: &[RuleFile]) -> HashMap<String, Option<Vec<(NaiveDate, NaiveDate)>>> {
    let mut reach: HashMap<String, Option<Vec<(NaiveDate, NaiveDate)>>> = HashMap::new();
    for ast in asts {
        for item in &ast.items {
            if let Item::Parameter(p) = item {
                reach.insert(p.name.name.clone(), Some(vec![]));
            }
        }
    }
    let names: Vec<String> = reach.keys().cloned().collect();
    let mut read = |e: &Expr, period: Option<(NaiveDate, NaiveDate)>| {
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            let (name, dated) = match &x.kind {
                ExprKind::Name(id) => (Some(&id.name), false),
                ExprKind::Call(id, _) => (Some(&id.name), true),
                _ => (None, false),
            };
            if let Some(n) = name.filter(|n| names.contains(n)) {
                let entry = reach.entry(n.clone()).or_insert(Some(vec![]));
                match (period, dated, entry.as_mut()) {
                    (Some(p), false, Some(v)) => v.push(p),
                    _ => *entry = None,
                }
            }
            stack.extend(x.children());
        }
    };
    for ast in asts {
        for item in &ast.items {
            match item {
                Item::Policy(p) => {
                    let period = p
                        .effective
                        .as_ref()
                        .map(|e| (e.from, e.to.unwrap_or(NaiveDate::MAX)));
                    let whole = period.unwrap_or((NaiveDate::MIN, NaiveDate::MAX));
                    let one = RuleFile {
                        items: vec![item.clone()],
                    };
                    for e in one.expressions() {
                        read(e, Some(whole));
                    }
                }
                Item::Parameter(_) => {}
                _ => {
                    let one = RuleFile {
                        items: vec![item.clone()],
                    };
                    for e in one.expressions() {
                        read(e, None);
                    }
                }
            }
        }
    }
    reach
}

/// Why a mutant is equivalent, when the one analysis here can tell: the parameter
/// values it changes are never read.
fn equivalence(
    m: &Mutant,
    reach: &HashMap<String, Option<Vec<(NaiveDate, NaiveDate)>>>,
) -> Option<String> {
    let (name, from, to) = m.hints.param.as_ref()?;
    let periods = reach.get(name)?.as_ref()?;
    if periods.is_empty() {
        return Some(format!("no rule reads parameter {name}"));
    }
    if periods.iter().any(|(a, b)| from <= b && a <= to) {
        return None;
    }
    let shown: Vec<String> = periods
        .iter()
        .map(|(a, b)| {
            if *b == NaiveDate::MAX {
                format!("from {a}")
            } else {
                format!("{a} – {b}")
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let changed = if from == to {
        format!("{from}")
    } else if *to == NaiveDate::MAX {
        format!("from {from}")
    } else {
        format!("{from} – {to}")
    };
    Some(format!(
        "{name} changes only on {changed}, and the policies that read it are in force {} only",
        shown.join(", ")
    ))
}

/// The example cases a mutant is run against.
#[derive(Debug, Default)]
pub struct Suite {
    /// Each case with the file it came from, in file order.
    pub cases: Vec<(PathBuf, Case)>,
}

impl Suite {
    /// Reads case files.
    pub fn load(files: &[PathBuf]) -> Result<Suite, CaseFileError> {
        let mut cases = vec![];
        for f in files {
            let file = super::read_case_file(f)?;
            cases.extend(file.cases.into_iter().map(|c| (f.clone(), c)));
        }
        Ok(Suite { cases })
    }

    /// The ids of the cases that fail against a rule set.
    pub fn failing(&self, rules: &RuleSet, opts: &RunOptions) -> Vec<String> {
        use rayon::prelude::*;
        self.cases
            .par_iter()
            .filter_map(|(f, c)| {
                let r = super::run_case_with(rules, f, c, opts.read, opts.eval);
                (!r.failures.is_empty()).then(|| r.id.clone())
            })
            .collect()
    }

    /// The first case that fails against a rule set, trying first the cases that
    /// state a decision of `first` (the policy or bundle a mutant lies in).
    fn first_failure(&self, rules: &RuleSet, first: &str, opts: &RunOptions) -> Option<String> {
        let states = |c: &Case| c.expected.keys().any(|k| k.as_str() == Some(first));
        let ordered = self
            .cases
            .iter()
            .filter(|(_, c)| states(c))
            .chain(self.cases.iter().filter(|(_, c)| !states(c)));
        for (f, c) in ordered {
            let r = super::run_case_with(rules, f, c, opts.read, opts.eval);
            if !r.failures.is_empty() {
                return Some(c.id.clone());
            }
        }
        None
    }
}

/// How a mutation run goes.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Seed of the sample (with `max`) and of the properties' generated records.
    pub seed: u64,
    /// Run this many mutants, a sample chosen by the seed; `None`: all of them.
    pub max: Option<usize>,
    /// Generated records per property for the mutants the cases do not kill; 0: the
    /// example cases only.
    pub property_cases: u32,
    /// How case records are read.
    pub read: record::ReadOptions,
    /// How decisions are made.
    pub eval: EvalOptions,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 2025,
            max: None,
            property_cases: 100,
            read: record::ReadOptions::default(),
            eval: EvalOptions {
                trace: true,
                ..EvalOptions::default()
            },
        }
    }
}

/// Why mutants cannot be judged.
#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    /// The rule set itself does not parse or check.
    #[error("the rule set does not check: {0}")]
    Check(String),
    /// Example cases fail on the rule set itself: every mutant would look killed.
    #[error("{} example case(s) fail on the rule set itself ({}): fix them before testing the tests", .0.len(), .0.join(", "))]
    CasesFail(Vec<String>),
    /// Properties fail on the rule set itself.
    #[error("properties fail on the rule set itself ({}): run `mianshen test --properties` and fix them first", .0.join(", "))]
    PropertiesFail(Vec<String>),
}

/// What became of a mutant.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// A case or a property failed.
    Killed {
        /// What failed: `case P12-001`, `property three-valued-soundness (person)`.
        by: String,
    },
    /// Every case and property still passes.
    Survived {
        /// Why no record can tell it from the rule set, when that is known.
        equivalent: Option<String>,
    },
    /// The mutant does not pass the checker: not a rule set anyone could ship.
    Invalid {
        /// The checker's first error.
        reason: String,
    },
}

impl Status {
    /// `killed`, `survived` or `invalid`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Killed { .. } => "killed",
            Status::Survived { .. } => "survived",
            Status::Invalid { .. } => "invalid",
        }
    }
}

/// A mutant and what became of it.
#[derive(Debug, Clone)]
pub struct MutantResult {
    /// The mutant.
    pub mutant: Mutant,
    /// Killed, survived or not valid.
    pub status: Status,
}

/// The result of a mutation run.
#[derive(Debug, Clone)]
pub struct MutationReport {
    /// The seed.
    pub seed: u64,
    /// How many mutants the rule set has.
    pub generated: usize,
    /// Generated records per property (0: cases only).
    pub property_cases: u32,
    /// The mutants run (all, or the sample), in id order.
    pub results: Vec<MutantResult>,
}

/// Counts of a mutation run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Mutants run.
    pub run: usize,
    /// Not valid (refused by the checker).
    pub invalid: usize,
    /// Killed by an example case.
    pub killed_by_cases: usize,
    /// Killed by a property.
    pub killed_by_properties: usize,
    /// Survivors, equivalent ones included.
    pub survived: usize,
    /// Survivors known to be equivalent.
    pub equivalent: usize,
}

impl Counts {
    /// Valid mutants.
    pub fn valid(&self) -> usize {
        self.run - self.invalid
    }
    /// Killed mutants.
    pub fn killed(&self) -> usize {
        self.killed_by_cases + self.killed_by_properties
    }
    /// Killed ÷ (valid − equivalent); 1 when there is nothing to kill.
    pub fn score(&self) -> f64 {
        let n = self.valid().saturating_sub(self.equivalent);
        if n == 0 {
            1.0
        } else {
            self.killed() as f64 / n as f64
        }
    }
}

fn count(results: &[&MutantResult]) -> Counts {
    let mut c = Counts::default();
    for r in results {
        c.run += 1;
        match &r.status {
            Status::Invalid { .. } => c.invalid += 1,
            Status::Killed { by } if by.starts_with("case ") => c.killed_by_cases += 1,
            Status::Killed { .. } => c.killed_by_properties += 1,
            Status::Survived { equivalent } => {
                c.survived += 1;
                if equivalent.is_some() {
                    c.equivalent += 1;
                }
            }
        }
    }
    c
}

impl MutationReport {
    /// The counts over every mutant run.
    pub fn counts(&self) -> Counts {
        count(&self.results.iter().collect::<Vec<_>>())
    }

    /// Killed ÷ (valid − equivalent).
    pub fn score(&self) -> f64 {
        self.counts().score()
    }

    /// The survivors, most dangerous first (by category, then place); the equivalent
    /// ones last.
    pub fn survivors(&self) -> Vec<&MutantResult> {
        let mut s: Vec<&MutantResult> = self
            .results
            .iter()
            .filter(|r| matches!(r.status, Status::Survived { .. }))
            .collect();
        s.sort_by_key(|r| {
            let eq = matches!(
                r.status,
                Status::Survived {
                    equivalent: Some(_)
                }
            );
            (eq, r.mutant.category, r.mutant.file, r.mutant.start)
        });
        s
    }

    /// The report in words, for policy staff: the score, the score of each policy and
    /// of each of its clauses, and every survivor with its place and change.
    pub fn render(&self, min_score: Option<f64>) -> String {
        let c = self.counts();
        let mut out = String::new();
        let sample = if c.run == self.generated {
            "all".to_string()
        } else {
            format!("a sample of {} chosen by seed {}", c.run, self.seed)
        };
        out.push_str(&format!(
            "mutation testing: {} mutants of the rule set, {sample}\n",
            self.generated
        ));
        let props = if self.property_cases == 0 {
            "example cases only".to_string()
        } else {
            format!(
                "example cases, then properties on {} generated records each (seed {})",
                self.property_cases, self.seed
            )
        };
        out.push_str(&format!("  run against: {props}\n"));
        out.push_str(&format!(
            "  not valid:   {:>5}  (refused by `mianshen check`: not counted)\n",
            c.invalid
        ));
        out.push_str(&format!(
            "  killed:      {:>5}  ({} by example cases, {} by properties)\n",
            c.killed(),
            c.killed_by_cases,
            c.killed_by_properties
        ));
        out.push_str(&format!(
            "  survived:    {:>5}  ({} of them equivalent: no record can tell them apart)\n",
            c.survived, c.equivalent
        ));
        let verdict = match min_score {
            Some(min) if c.score() + 1e-12 < min => format!("  — BELOW the minimum {}", pct(min)),
            Some(min) => format!("  (minimum {})", pct(min)),
            None => String::new(),
        };
        out.push_str(&format!(
            "  score:       {}  ({} killed of {} valid, non-equivalent mutants){verdict}\n",
            pct(c.score()),
            c.killed(),
            c.valid() - c.equivalent
        ));

        // Per item, per part.
        out.push_str("\nby policy and clause (killed / valid non-equivalent mutants):\n");
        let mut owners: Vec<&Owner> = vec![];
        for r in &self.results {
            if !owners.contains(&&r.mutant.owner) {
                owners.push(&r.mutant.owner);
            }
        }
        owners.sort_by_key(|o| (o.kind, o.name.clone()));
        for o in owners {
            let mine: Vec<&MutantResult> = self
                .results
                .iter()
                .filter(|r| r.mutant.owner == *o)
                .collect();
            let oc = count(&mine);
            let denom = oc.valid() - oc.equivalent;
            let flag = if oc.killed() < denom {
                format!("  {}", survive(denom - oc.killed()))
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {:<48} {:>4} / {:<4} {:>7}{flag}\n",
                format!("{} {}", o.kind.name(), o.name),
                oc.killed(),
                denom,
                pct(oc.score())
            ));
            let mut parts: Vec<&str> = vec![];
            for r in &mine {
                if !parts.contains(&r.mutant.part.as_str()) {
                    parts.push(&r.mutant.part);
                }
            }
            for p in parts {
                let these: Vec<&MutantResult> = mine
                    .iter()
                    .copied()
                    .filter(|r| r.mutant.part == p)
                    .collect();
                let pc = count(&these);
                let denom = pc.valid() - pc.equivalent;
                if pc.valid() == 0 {
                    continue;
                }
                let flag = if pc.killed() < denom {
                    format!("  ← {}", survive(denom - pc.killed()))
                } else {
                    String::new()
                };
                let eq = if pc.equivalent > 0 {
                    format!(" (+{} equivalent)", pc.equivalent)
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "      {:<44} {:>4} / {:<4}{eq}{flag}\n",
                    p,
                    pc.killed(),
                    denom
                ));
            }
        }

        let survivors = self.survivors();
        let (live, equivalent): (Vec<&MutantResult>, Vec<&MutantResult>) = survivors
            .into_iter()
            .partition(|r| matches!(r.status, Status::Survived { equivalent: None }));
        if live.is_empty() {
            out.push_str("\nno surviving mutants: every change the tool makes is caught\n");
        } else {
            out.push_str(&format!(
                "\nsurviving mutants, most dangerous first ({}): a change no case or property catches\n",
                live.len()
            ));
            for r in live {
                out.push_str(&survivor_line(&r.mutant));
            }
            out.push_str(
                "\nadd a case on each boundary (`mianshen test RULES --suggest POLICY` proposes them)\n",
            );
        }
        if !equivalent.is_empty() {
            out.push_str(&format!(
                "\nequivalent survivors ({}): not counted in the score\n",
                equivalent.len()
            ));
            for r in equivalent {
                out.push_str(&survivor_line(&r.mutant));
                if let Status::Survived {
                    equivalent: Some(why),
                } = &r.status
                {
                    out.push_str(&format!("        equivalent: {why}\n"));
                }
            }
        }
        out
    }

    /// The report as JSON: the counts and score, and every mutant run.
    pub fn to_json(&self, min_score: Option<f64>) -> Json {
        let c = self.counts();
        let mutants: Vec<Json> = self
            .results
            .iter()
            .map(|r| {
                let m = &r.mutant;
                let (killed_by, equivalent, invalid) = match &r.status {
                    Status::Killed { by } => (Json::from(by.as_str()), Json::Null, Json::Null),
                    Status::Survived { equivalent } => (
                        Json::Null,
                        equivalent.as_deref().map_or(Json::Null, Json::from),
                        Json::Null,
                    ),
                    Status::Invalid { reason } => {
                        (Json::Null, Json::Null, Json::from(reason.as_str()))
                    }
                };
                json!({
                    "id": m.id,
                    "file": m.path,
                    "line": m.line,
                    "column": m.column,
                    "category": m.category.name(),
                    "original": m.original,
                    "mutated": m.mutated,
                    "owner_kind": m.owner.kind.name(),
                    "policy": m.owner.name,
                    "clause": m.part,
                    "description": m.what,
                    "status": r.status.name(),
                    "killed_by": killed_by,
                    "equivalent": equivalent,
                    "invalid_reason": invalid,
                })
            })
            .collect();
        json!({
            "seed": self.seed,
            "generated": self.generated,
            "run": c.run,
            "property_cases": self.property_cases,
            "valid": c.valid(),
            "invalid": c.invalid,
            "killed": c.killed(),
            "killed_by_cases": c.killed_by_cases,
            "killed_by_properties": c.killed_by_properties,
            "survived": c.survived,
            "equivalent": c.equivalent,
            "score": (c.score() * 10000.0).round() / 10000.0,
            "min_score": min_score,
            "passed": min_score.is_none_or(|m| c.score() + 1e-12 >= m),
            "mutants": mutants,
        })
    }
}

fn survive(n: usize) -> String {
    if n == 1 {
        "1 survives".to_string()
    } else {
        format!("{n} survive")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn survivor_line(m: &Mutant) -> String {
    format!(
        "  {} {:<14} {}  {} {}, {}\n        {}: {}\n",
        m.id,
        format!("[{}]", m.category.name()),
        m.location(),
        m.owner.kind.name(),
        m.owner.name,
        m.part,
        m.change(),
        m.what
    )
}

/// A small deterministic generator (SplitMix64) for sampling.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `max` of `all`, chosen by the seed, in id order (all of them when `max` is none or
/// not smaller).
pub fn sample(all: Vec<Mutant>, max: Option<usize>, seed: u64) -> Vec<Mutant> {
    let Some(max) = max.filter(|&m| m < all.len()) else {
        return all;
    };
    let mut idx: Vec<usize> = (0..all.len()).collect();
    let mut rng = SplitMix(seed ^ 0x6D75_7461_6E74_7321);
    for i in (1..idx.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    let mut keep: Vec<usize> = idx.into_iter().take(max).collect();
    keep.sort_unstable();
    let mut out = vec![];
    let mut all: Vec<Option<Mutant>> = all.into_iter().map(Some).collect();
    for k in keep {
        if let Some(m) = all.get_mut(k).and_then(Option::take) {
            out.push(m);
        }
    }
    out
}

/// The failures of the properties (built-in and declared) on a rule set.
fn property_failures(rules: &RuleSet, cases: u32, seed: u64) -> Vec<String> {
    use super::{declared, properties};
    let opts = properties::PropertyOptions {
        max_shrink_iters: 0,
        ..properties::PropertyOptions::new(cases, seed)
    };
    let report = properties::run_properties_with(rules, &opts);
    let mut out: Vec<String> = report
        .failures()
        .map(|r| format!("property {} ({})", r.property.name(), r.subject))
        .collect();
    if !out.is_empty() {
        return out;
    }
    for r in declared::check_declared(rules, cases, seed) {
        if r.counterexample.is_some() {
            out.push(format!("property {}.{}", r.policy, r.name));
        }
    }
    out
}

fn first_error(checked: &load::Checked) -> String {
    checked
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .map_or_else(
            || "the rule set does not compile".to_string(),
            |d| format!("{}: {}", d.code, d.message),
        )
}

/// Runs the mutants of a rule set against its example cases and properties.
///
/// The rule set itself must check and pass its cases (and properties, when they are
/// run): otherwise every mutant would look killed. The mutants (all, or a sample of
/// `max` chosen by the seed) are judged in parallel; the report lists them in id order
/// and does not depend on the number of threads.
pub fn run(
    sources: &Sources,
    suite: &Suite,
    opts: &RunOptions,
) -> Result<MutationReport, MutationError> {
    run_filtered(sources, suite, opts, &|_| true)
}

/// [`run`], on the mutants `keep` accepts only.
pub fn run_filtered(
    sources: &Sources,
    suite: &Suite,
    opts: &RunOptions,
    keep: &(dyn Fn(&Mutant) -> bool + Sync),
) -> Result<MutationReport, MutationError> {
    use rayon::prelude::*;
    let original = sources.check();
    let Some(rules) = original.rules.as_ref() else {
        return Err(MutationError::Check(first_error(&original)));
    };
    let failing = suite.failing(rules, opts);
    if !failing.is_empty() {
        return Err(MutationError::CasesFail(failing));
    }
    if opts.property_cases > 0 {
        let failing = property_failures(rules, opts.property_cases, opts.seed);
        if !failing.is_empty() {
            return Err(MutationError::PropertiesFail(failing));
        }
    }
    let asts = sources.parse().map_err(MutationError::Check)?;
    let reach = parameter_reach(&asts);
    let all = enumerate(sources).map_err(MutationError::Check)?;
    let all: Vec<Mutant> = all.into_iter().filter(|m| keep(m)).collect();
    let generated = all.len();
    let chosen = sample(all, opts.max, opts.seed);
    let results: Vec<MutantResult> = chosen
        .into_par_iter()
        .map(|m| {
            let status = judge(sources, suite, opts, &m, &reach);
            MutantResult { mutant: m, status }
        })
        .collect();
    Ok(MutationReport {
        seed: opts.seed,
        generated,
        property_cases: opts.property_cases,
        results,
    })
}

fn judge(
    sources: &Sources,
    suite: &Suite,
    opts: &RunOptions,
    m: &Mutant,
    reach: &HashMap<String, Option<Vec<(NaiveDate, NaiveDate)>>>,
) -> Status {
    let checked = sources.check_mutant(m);
    let Some(rules) = checked.rules.as_ref() else {
        return Status::Invalid {
            reason: first_error(&checked),
        };
    };
    if let Some(id) = suite.first_failure(rules, &m.owner.name, opts) {
        return Status::Killed {
            by: format!("case {id}"),
        };
    }
    let equivalent = equivalence(m, reach);
    // A mutant known to be equivalent cannot fail a property either: the generated
    // records are spared.
    if opts.property_cases > 0 && equivalent.is_none() {
        if let Some(p) = property_failures(rules, opts.property_cases, opts.seed)
            .into_iter()
            .next()
        {
            return Status::Killed { by: p };
        }
    }
    Status::Survived { equivalent }
}
