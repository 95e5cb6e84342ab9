//! The API for host applications: load a rule set once, then read records against
//! its schema and decide them, from any number of threads.
//!
//! A [`RuleSet`] is immutable once loaded and `Send + Sync`: share it (`&RuleSet` or
//! `Arc<RuleSet>`) across threads and evaluate concurrently; nothing is compiled or
//! cached per call beyond the evaluation itself. Every evaluation takes an explicit
//! reference date: the library never reads the clock, the environment or the file
//! system except in [`RuleSet::load_dir`].

use crate::batch::{self, BatchError, RunConfig, Sink, Summary};
use crate::compile::RuleSet;
use crate::eval::{self, BundleResult, Decision, EvalOptions};
use crate::load::{self, LoadError};
use crate::record::{self, ReadOptions, Record, RecordError, RecordErrorKind};
use crate::schema::Schema;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

// The documented guarantee: a rule set is shared across threads.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<RuleSet>();
};

/// Evaluation with traces and the default budget.
fn traced() -> EvalOptions {
    EvalOptions {
        trace: true,
        ..EvalOptions::default()
    }
}

impl RuleSet {
    /// Loads and checks a rules directory: `schema.yaml` and every `*.rules` file
    /// below it.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").expect("the shipped rules check");
    /// assert!(rules.policy("resident-basic-pension").is_some());
    /// ```
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<RuleSet, LoadError> {
        load::load_dir(dir.as_ref())
    }

    /// Loads and checks a rule set held in memory (for hosts that keep rules in a
    /// database): the schema's YAML text and the rule files as (name, text); the
    /// names are used in diagnostics only.
    ///
    /// ```
    /// let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          income: {type: decimal}\n";
    /// let policy = r#"
    /// policy low-income "低收入补贴" {
    ///   subject person
    ///   mode no_application
    ///   effective from 2025-01-01
    ///   C1 "月收入低于2000元": person.income < 2000
    ///   amount per_month CNY: 300
    /// }"#;
    /// let rules = mianshen::RuleSet::from_sources(schema, &[("low.rules", policy)]).unwrap();
    /// let record = rules.read_json(r#"{"person": {"id": "P1", "income": 1500}}"#).unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let d = rules.decide_policy("low-income", &record, on).unwrap();
    /// assert_eq!(d.outcome, mianshen::Outcome::Eligible);
    /// assert_eq!(d.amount.unwrap().value.to_string(), "300");
    /// ```
    pub fn from_sources(
        schema_yaml: &str,
        rule_files: &[(&str, &str)],
    ) -> Result<RuleSet, LoadError> {
        let schema = Schema::from_yaml(schema_yaml).map_err(|source| LoadError::Schema {
            path: PathBuf::from("schema.yaml"),
            source,
        })?;
        let texts = rule_files
            .iter()
            .map(|(name, text)| (PathBuf::from(name), (*text).to_string()))
            .collect();
        let checked = load::check_sources(schema, schema_yaml, texts);
        checked.rules.ok_or(LoadError::Diagnostics {
            diagnostics: checked.diagnostics,
            sources: checked.sources,
        })
    }

    /// Reads a record given as JSON text; its subject kind is the one its top-level key
    /// names (`{"person": {…}}`).
    /// Duplicate keys, records nested too deep or too large are rejected as they are in
    /// the batch (one judgment, [`record::parse_json`]).
    pub fn read_json(&self, text: &str) -> Result<Record, RecordError> {
        let value = record::parse_json(text, &ReadOptions::default())?;
        self.read_value(&value, None)
    }

    /// Reads a record given as YAML text.
    pub fn read_yaml(&self, text: &str) -> Result<Record, RecordError> {
        let value = record::parse_yaml(text, &ReadOptions::default())?;
        self.read_value(&value, None)
    }

    /// Reads a record given as a serde value, of the named subject kind (`None`: the
    /// one its top-level key names).
    pub fn read_value(
        &self,
        value: &serde_json::Value,
        subject: Option<&str>,
    ) -> Result<Record, RecordError> {
        let kind = record::detect_subject(&self.schema, value, subject)
            .map_err(|message| RecordError::whole(RecordErrorKind::SubjectKind, message))?;
        record::read_record(&self.schema, kind, value)
    }

    /// Decides every policy about the record's subject kind on `on`, in rule-set
    /// order, with traces.
    pub fn decide(&self, record: &Record, on: NaiveDate) -> Vec<Decision> {
        eval::evaluate_all(self, record, on, traced())
    }

    /// [`decide`](Self::decide) with options (traces cost time: a host that only needs
    /// outcomes and amounts turns them off).
    pub fn decide_with(
        &self,
        record: &Record,
        on: NaiveDate,
        options: EvalOptions,
    ) -> Vec<Decision> {
        eval::evaluate_all(self, record, on, options)
    }

    /// Decides one policy, by id, with its trace; `None` when the rule set has no such
    /// policy.
    pub fn decide_policy(&self, policy: &str, record: &Record, on: NaiveDate) -> Option<Decision> {
        let index = *self.policy_index.get(policy)?;
        Some(eval::evaluate_policy(self, index, record, on, traced()))
    }

    /// Pre-fills the "one thing" bundle with this id for a record; `None` when the rule
    /// set has no such bundle.
    pub fn prefill(&self, bundle: &str, record: &Record, on: NaiveDate) -> Option<BundleResult> {
        let index = self.bundle_index(bundle)?;
        Some(eval::prefill(self, index, record, on, traced()))
    }

    /// Runs the batch over JSON Lines read from `input` into `sink` (see
    /// [`batch::run_json_lines`]): the fast path the nightly run takes.
    pub fn run_json_lines<R: std::io::Read>(
        &self,
        input: R,
        config: &RunConfig,
        sink: &mut dyn Sink,
    ) -> Result<Summary, BatchError> {
        batch::run_json_lines(self, input, config, sink, &mut |_, _| {})
    }
}

// Policies find people (issue 17): change impact and near misses for one subject.
impl RuleSet {
    /// What changes for one subject between this rule set on `before` and `after_rules`
    /// on `after`: every policy about the record's subject kind decided (with traces)
    /// under both, and the decisions whose outcome or amount differ, with the clauses
    /// whose value changed and whether the subject is to be told
    /// ([`crate::reach::Change`]). Pass `self` as `after_rules` to ask what the passing
    /// of time changes ("what changes for this person on 1 July?"), or a reformed rule
    /// set (e.g. [`crate::load::load_overlay`]) to ask what a reform changes.
    ///
    /// The two rule sets must read records with the same schema
    /// ([`crate::reach::ReachError::SchemaDiffers`] otherwise: read the record with
    /// each and call [`crate::reach::compare`]).
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules
    ///     .read_json(r#"{"person": {"id": "P1", "birth_date": "1960-08-15", "hukou_region": "上海"}}"#)
    ///     .unwrap();
    /// let day = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    /// // P1 turns 65 on 2025-08-15: the senior allowance starts.
    /// let changes = rules
    ///     .compare(&rules, &record, day("2025-07-01"), day("2025-09-01"))
    ///     .unwrap();
    /// let senior = changes
    ///     .iter()
    ///     .find(|c| c.policy == "sh-senior-comprehensive-allowance")
    ///     .unwrap();
    /// assert_eq!(senior.after.unwrap().outcome, mianshen::Outcome::Eligible);
    /// assert_eq!(senior.clauses, ["C2"]);
    /// assert!(senior.notify);
    /// ```
    pub fn compare(
        &self,
        after_rules: &RuleSet,
        record: &Record,
        before: NaiveDate,
        after: NaiveDate,
    ) -> Result<Vec<crate::reach::Change>, crate::reach::ReachError> {
        if self.schema != after_rules.schema {
            return Err(crate::reach::ReachError::SchemaDiffers);
        }
        Ok(crate::reach::compare(
            crate::reach::Version {
                rules: self,
                on: before,
            },
            record,
            crate::reach::Version {
                rules: after_rules,
                on: after,
            },
            record,
            eval::DEFAULT_BUDGET,
        ))
    }

    /// The record's near misses on `on`: its not-eligible decisions that fail at least
    /// one and at most `k` clauses (the policy in force), each failed clause with how
    /// far the record is from it ([`crate::reach::NearMiss`]).
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules
    ///     .read_json(r#"{"person": {"id": "P1", "birth_date": "1961-03-14", "hukou_region": "上海"}}"#)
    ///     .unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let near = rules.near_misses(&record, on, 1);
    /// let senior = near
    ///     .iter()
    ///     .find(|m| m.policy == "sh-senior-comprehensive-allowance")
    ///     .unwrap();
    /// // 年满65周岁 on 2026-03-14.
    /// assert_eq!(senior.failed[0].clause, "C2");
    /// assert_eq!(senior.failed[0].on.unwrap().to_string(), "2026-03-14");
    /// ```
    pub fn near_misses(
        &self,
        record: &Record,
        on: NaiveDate,
        k: usize,
    ) -> Vec<crate::reach::NearMiss> {
        crate::reach::near_misses(self, record, on, k)
    }
}
