//! The batch's fast tier: the rule set specialised to one reference date and to a flat
//! record layout, deciding outcomes and amounts only.
//!
//! It is a specialisation of the one meaning ([`crate::semantics`]), never a second
//! one: every operator reduces to the semantics' definitions, on packed
//! representations (dates as `yyyymmdd` integers, money as an integer mantissa and a
//! scale). Whatever it cannot give exactly — missing data to name, an evaluation
//! error, a construct it does not cover, a record its reader refuses — it leaves to
//! the reference evaluator ([`crate::eval`]), which makes the full decision.
//!
//! Inside, data flows one way: `lower` turns the checked program into closures over
//! the `row` layout for the date; `row_reader` parses a JSON line straight into a row;
//! `decide` runs the closures on a row and gives a [`Verdict`] per policy. Outside,
//! only the three types here are seen: [`FastRules`] (built once per run), a
//! [`FastDecider`] per thread, and [`FastRows`] (rows kept for later, for the
//! benchmark's evaluation-only measurement). The batch uses them; so do the
//! differential tests that hold this tier to the reference evaluator.

mod decide;
mod lower;
mod row;
mod row_reader;

pub use decide::Verdict;
pub use row_reader::Refused;

use crate::compile::RuleSet;
use crate::eval::ExtraValue;
use chrono::NaiveDate;

/// A rule set lowered for one reference date. `Send + Sync`: build it once per run and
/// share it between the threads' deciders.
pub struct FastRules {
    compiled: lower::CompiledRules,
}

impl std::fmt::Debug for FastRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.compiled.fmt(f)
    }
}

impl FastRules {
    /// Lowers `rules` for `ref_date`.
    pub fn new(rules: &RuleSet, ref_date: NaiveDate) -> Self {
        FastRules {
            compiled: lower::CompiledRules::new(rules, ref_date),
        }
    }

    /// Lowers `rules` for `ref_date` and a budget of evaluation steps per decision
    /// ([`crate::eval::EvalOptions::budget`]): a record whose list operations may take
    /// more is left to the reference evaluator, which reports the budget.
    pub fn with_budget(rules: &RuleSet, ref_date: NaiveDate, budget: u64) -> Self {
        FastRules {
            compiled: lower::CompiledRules::with_budget(rules, ref_date, budget),
        }
    }

    /// [`with_budget`](Self::with_budget), its rows holding the fields `used` marks
    /// (per record type of the schema, per field; at least those the rules read,
    /// [`RuleSet::used_fields`]): two rule sets of one schema lowered with the same
    /// `used` lay rows out alike, so that a record read for one is decided by the other
    /// ([`FastDecider::decide_read_by`]).
    pub fn with_fields(
        rules: &RuleSet,
        ref_date: NaiveDate,
        budget: u64,
        used: Vec<Vec<bool>>,
    ) -> Self {
        FastRules {
            compiled: lower::CompiledRules::with_fields(rules, ref_date, budget, used),
        }
    }

    /// Whether the policy with this index (rule-set order) is decided by this tier at
    /// all (otherwise the reference evaluator decides it for every record).
    pub fn is_compiled(&self, policy: usize) -> bool {
        self.compiled.is_compiled(policy)
    }

    /// Why the policy with this index is left to the reference evaluator.
    pub fn uncompiled_reason(&self, policy: usize) -> Option<&'static str> {
        (!self.is_compiled(policy))
            .then(|| self.compiled.uncompiled.get(policy).copied())
            .flatten()
    }
}

/// One thread's reader, row and evaluator, reused record after record.
pub struct FastDecider<'t> {
    reader: row::RowReader<'t>,
    evaluator: decide::RowEvaluator<'t>,
    layout: &'t row::RowLayout,
    row: row::Row,
}

impl<'t> FastDecider<'t> {
    /// A decider of `fast`, built from `rules`.
    pub fn new(rules: &'t RuleSet, fast: &'t FastRules) -> Self {
        FastDecider {
            reader: row::RowReader::new(&rules.schema, &fast.compiled.layout),
            evaluator: decide::RowEvaluator::new(&fast.compiled),
            layout: &fast.compiled.layout,
            row: row::Row::default(),
        }
    }

    /// Reads one JSON record (of the subject kind with this index, or the one its
    /// single top-level key names). A refused record is left to the reference reader,
    /// which either reads it or explains the rejection.
    pub fn read(&mut self, json: &str, subject: Option<usize>) -> Result<(), Refused> {
        self.reader.read(json, subject, &mut self.row)
    }

    /// Decides every policy (rule-set order) for the record last read.
    pub fn decide(&mut self) -> &[Verdict] {
        self.evaluator.decide(&self.row)
    }

    /// Decides every policy for the record `other` last read, without reading it
    /// again: `other`'s rows must be laid out as this one's (one schema, the same
    /// fields held: [`FastRules::with_fields`]). The subject and id are `other`'s.
    pub fn decide_read_by(&mut self, other: &FastDecider<'_>) -> &[Verdict] {
        self.evaluator.decide(&other.row)
    }

    /// Decides every policy for the row `k` of `rows`.
    pub fn decide_stored(&mut self, rows: &FastRows, k: usize) -> &[Verdict] {
        self.evaluator.decide(rows.0.get(k))
    }

    /// The verdicts of the last decision.
    pub fn verdicts(&self) -> &[Verdict] {
        self.evaluator.verdicts()
    }

    /// The extras of an eligible verdict of the record last read, as the outputs state
    /// them: (index of the extra in its amount rule, value).
    pub fn extras(&self, range: (u32, u32)) -> Vec<(usize, ExtraValue)> {
        self.evaluator.extras(range, &self.row)
    }

    /// After [`decide`](Self::decide): how many clauses of policy `policy` are false
    /// for the record last read (every clause counted, up to `limit`); `None` when
    /// this tier does not decide the policy clause by clause. A clause it counts false
    /// is false for the reference evaluator too; one it cannot decide is not counted.
    pub fn false_clauses(&mut self, policy: usize, limit: usize) -> Option<usize> {
        self.evaluator.false_clauses(&self.row, policy, limit)
    }

    /// The subject kind of the record last read.
    pub fn subject(&self) -> usize {
        self.row.subject
    }

    /// The id of the subject of the record last read.
    pub fn subject_id(&self) -> Option<&str> {
        self.row.id(self.layout)
    }

    /// Keeps the record last read in `rows`.
    pub fn store(&self, rows: &mut FastRows) {
        rows.0.push(&self.row);
    }

    /// After [`decide`](Self::decide) panicked: the policy whose deciding panics on
    /// the record last read (to name it in the error).
    pub(crate) fn policy_at_fault(&mut self) -> Option<usize> {
        self.evaluator.policy_at_fault(&self.row)
    }

    /// Test hook of the batch's panic handling: the next decision panics in this
    /// tier, in the first policy it decides.
    pub(crate) fn inject_fault(&mut self) {
        self.evaluator.inject_fault();
    }
}

/// Records read into rows and kept, in one arena.
#[derive(Debug, Default)]
pub struct FastRows(row::RowBatch);

impl FastRows {
    /// No rows.
    pub fn new() -> Self {
        FastRows(row::RowBatch::new())
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }
}
