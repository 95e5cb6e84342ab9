//! The API for host applications: load a rule set once, then read records against
//! its schema and decide them, from any number of threads; run the batch into your own
//! sink; run a rule set's example cases and properties; generate records for your own
//! property tests.
//!
//! A [`RuleSet`] is immutable once loaded and `Send + Sync`: share it (`&RuleSet` or
//! `Arc<RuleSet>`) across threads and evaluate concurrently; nothing is compiled or
//! cached per call beyond the evaluation itself. Every evaluation takes an explicit
//! reference date: the library never reads the clock, the environment or the file
//! system except in [`RuleSet::load_dir`], [`case_files`] and [`RuleSet::run_cases`].

use crate::batch::{self, BatchError, DiffConfig, Impact, InputRecord, RunConfig, Sink, Summary};
use crate::check::did_you_mean;
use crate::compile::RuleSet;
use crate::eval::{self, BundleResult, Decision, EvalOptions};
use crate::ir::{BundleDef, PolicyDef};
use crate::load::{self, LoadError};
use crate::messages::Lang;
use crate::reach::{self, Change, NearMiss, ReachError};
use crate::record::{self, ReadOptions, Record, RecordError, RecordErrorKind};
use crate::schema::Schema;
use crate::syntax::ast::Mode;
use crate::testing::declared::{self, DeclaredResult};
use crate::testing::generate::{self, Constraints};
use crate::testing::properties::{self, PropertyOptions, PropertyReport};
use crate::testing::{self, CaseReport};
use chrono::NaiveDate;
use proptest::strategy::BoxedStrategy;
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

/// A request a rule set cannot answer as asked: an id it does not know, or a record of
/// another subject kind than the policy or bundle asked about. A mistake of the caller,
/// never of the record's data (that is a [`RecordError`]) or of the rule text (an
/// [`EvalError`](crate::EvalError) on the decision).
///
/// ```
/// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
/// let record = rules.read_json(r#"{"person": {"id": "P1"}}"#).unwrap();
/// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
/// match rules.decide_policy("sh-senior-comprehensive-allowanse", &record, on) {
///     Err(mianshen::RequestError::UnknownPolicy { did_you_mean, .. }) => {
///         assert_eq!(did_you_mean.as_deref(), Some("sh-senior-comprehensive-allowance"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The rule set has no policy with this id.
    #[error("unknown policy `{id}`{}", suggest(did_you_mean))]
    UnknownPolicy {
        /// The id asked for.
        id: String,
        /// The closest policy id, when one is close.
        did_you_mean: Option<String>,
    },
    /// The rule set has no bundle with this id.
    #[error("unknown bundle `{id}`{}", suggest(did_you_mean))]
    UnknownBundle {
        /// The id asked for.
        id: String,
        /// The closest bundle id, when one is close.
        did_you_mean: Option<String>,
    },
    /// The schema has no subject kind with this name.
    #[error("unknown subject kind `{name}`: one of {}", known.join(", "))]
    UnknownSubject {
        /// The name asked for.
        name: String,
        /// The subject kinds of the schema.
        known: Vec<String>,
    },
    /// The policy or bundle is about another subject kind than the record.
    #[error("`{target}` is about {expected} records, and the record is a {found} record")]
    WrongSubject {
        /// The policy or bundle id.
        target: String,
        /// The subject kind it is about.
        expected: String,
        /// The record's subject kind.
        found: String,
    },
    /// Generator constraints name a path that is not a field of the subject kind.
    #[error("{0}")]
    Constraint(String),
}

fn suggest(did_you_mean: &Option<String>) -> String {
    did_you_mean
        .as_ref()
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
}

/// A policy of a rule set, as a host lists it (from [`RuleSet::policies`] or
/// [`RuleSet::policy`]): its id, title, subject kind, mode, period in force and
/// clauses.
///
/// ```
/// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
/// let p = rules.policy("sh-senior-comprehensive-allowance").unwrap();
/// assert_eq!(p.subject(), "person");
/// assert_eq!(p.mode(), mianshen::Mode::NoApplication);
/// assert!(p.clauses().any(|(id, _label)| id == "C1"));
/// ```
#[derive(Clone, Copy)]
pub struct PolicyInfo<'r> {
    def: &'r PolicyDef,
    schema: &'r Schema,
}

impl std::fmt::Debug for PolicyInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyInfo")
            .field("id", &self.def.id)
            .field("title", &self.def.title)
            .finish_non_exhaustive()
    }
}

fn subject_name(schema: &Schema, index: usize) -> &str {
    schema.subjects.get(index).map_or("?", |s| s.name.as_str())
}

impl<'r> PolicyInfo<'r> {
    /// The policy's id, kebab-case (`sh-senior-comprehensive-allowance`): the key of its
    /// decisions and of the batch's outputs.
    pub fn id(&self) -> &'r str {
        &self.def.id
    }

    /// The policy's title as written, usually Chinese (`上海市老年综合津贴`).
    pub fn title(&self) -> &'r str {
        &self.def.title
    }

    /// The subject kind it decides about (`person`, `enterprise`), as the schema names it.
    pub fn subject(&self) -> &'r str {
        subject_name(self.schema, self.def.subject)
    }

    /// How the policy reaches the citizen: granted from the data, pushed to be
    /// confirmed, or applied for.
    pub fn mode(&self) -> Mode {
        self.def.mode
    }

    /// Who issues and executes the policy, if the rule text states it.
    pub fn authority(&self) -> Option<&'r str> {
        self.def.authority.as_deref()
    }

    /// The policy's legal basis, if the rule text states it (every trace carries it).
    pub fn basis(&self) -> Option<&'r str> {
        self.def.basis.as_deref()
    }

    /// The first day the policy is in force.
    pub fn effective_from(&self) -> NaiveDate {
        self.def.from
    }

    /// The last day the policy is in force; `None` when open-ended.
    pub fn effective_to(&self) -> Option<NaiveDate> {
        self.def.to
    }

    /// Whether the policy is in force on `on`.
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.def.in_force(on)
    }

    /// Its clauses in order, as `(id, label)`: `("C1", "年满65周岁")`, … (the `C0` of a
    /// trace, "in force on the reference date", is not written in the rule text and
    /// not listed).
    pub fn clauses(&self) -> impl ExactSizeIterator<Item = (&'r str, &'r str)> + 'r {
        self.def
            .clauses
            .iter()
            .map(|c| (c.id.as_str(), c.label.as_str()))
    }

    /// Whether an eligible decision carries an amount.
    pub fn has_amount(&self) -> bool {
        !self.def.amounts.is_empty()
    }

    /// Decided once per item of a list (per hire, per child) rather than once per
    /// subject: its decisions carry [`Decision::per_item`].
    pub fn is_per_item(&self) -> bool {
        self.def.per_item.is_some()
    }

    /// The ids of the policies declared mutually exclusive with this one.
    pub fn excludes(&self) -> &'r [String] {
        &self.def.excludes
    }

    /// The rule file it was written in.
    pub fn source(&self) -> &'r str {
        &self.def.source
    }
}

/// A "one thing" bundle of a rule set (from [`RuleSet::bundles`] or
/// [`RuleSet::bundle`]): several matters handled together, with one pre-filled form.
///
/// ```
/// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
/// for b in rules.bundles() {
///     assert!(b.members().len() > 0, "{}", b.id());
/// }
/// ```
#[derive(Clone, Copy)]
pub struct BundleInfo<'r> {
    def: &'r BundleDef,
    schema: &'r Schema,
}

impl std::fmt::Debug for BundleInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleInfo")
            .field("id", &self.def.id)
            .field("title", &self.def.title)
            .finish_non_exhaustive()
    }
}

impl<'r> BundleInfo<'r> {
    /// The bundle's id (`bundle-unemployment`), as [`RuleSet::prefill`] takes it.
    pub fn id(&self) -> &'r str {
        &self.def.id
    }

    /// The bundle's printable title, as the form shows it.
    pub fn title(&self) -> &'r str {
        &self.def.title
    }

    /// The subject kind it is for, as the schema names it.
    pub fn subject(&self) -> &'r str {
        subject_name(self.schema, self.def.subject)
    }

    /// The legal frame printed on the form, if the rule text states it.
    pub fn basis(&self) -> Option<&'r str> {
        self.def.basis.as_deref()
    }

    /// Its member matters in order, as `(key, label)`.
    pub fn members(&self) -> impl ExactSizeIterator<Item = (&'r str, &'r str)> + 'r {
        self.def
            .members
            .iter()
            .map(|m| (m.key.as_str(), m.label.as_str()))
    }

    /// Its form's fields in form order, as `(key, label)`.
    pub fn form_fields(&self) -> impl ExactSizeIterator<Item = (&'r str, &'r str)> + 'r {
        self.def
            .fields
            .iter()
            .map(|f| (f.key.as_str(), f.label.as_str()))
    }
}

/// Lists the example-case files of a rules directory: every `*.yaml` (or `*.yml`)
/// regular file below its `cases/` directory (none when there is no such directory),
/// for [`RuleSet::run_cases`]. A FIFO, a device or a link leading outside the rules
/// directory is an error naming it.
///
/// ```
/// let files = mianshen::case_files("rules").unwrap();
/// assert!(!files.is_empty());
/// ```
pub fn case_files(rules_dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, LoadError> {
    testing::try_case_files(rules_dir.as_ref())
}

/// Loading, listing, reading, deciding: the API of a host application.
impl RuleSet {
    /// Loads and checks a rules directory: `schema.yaml` and every `*.rules` file
    /// below it (in path order), parsed, checked and compiled once.
    ///
    /// A rule set with errors is refused: [`LoadError::Diagnostics`] carries every
    /// finding with the sources to render it ([`Diagnostic::render`](crate::Diagnostic::render)).
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
    ///
    /// // A rule text with an error is refused, with every diagnostic.
    /// let broken = policy.replace("person.income", "person.incme");
    /// match mianshen::RuleSet::from_sources(schema, &[("low.rules", &broken)]) {
    ///     Err(mianshen::LoadError::Diagnostics { diagnostics, .. }) => {
    ///         assert_eq!(diagnostics[0].code, mianshen::diagnostic_code::UNKNOWN_FIELD);
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
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

    /// The rule set's version: a content hash (hex) of its rule files and schema, the
    /// same for the same texts. Every batch output carries it ([`Summary::rule_set`]).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The subject kinds of the schema (`person`, `enterprise`), in schema order.
    pub fn subjects(&self) -> impl ExactSizeIterator<Item = &str> {
        self.schema.subjects.iter().map(|s| s.name.as_str())
    }

    /// The subject kind of a record this rule set read.
    pub fn subject_of(&self, record: &Record) -> &str {
        subject_name(&self.schema, record.subject)
    }

    /// Every policy, in rule-set order (the order of [`decide`](Self::decide)'s
    /// decisions).
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let no_application = rules
    ///     .policies()
    ///     .filter(|p| p.mode() == mianshen::Mode::NoApplication)
    ///     .count();
    /// assert!(no_application > 0);
    /// ```
    pub fn policies(&self) -> impl ExactSizeIterator<Item = PolicyInfo<'_>> {
        let schema = &self.schema;
        self.program
            .policies
            .iter()
            .map(move |def| PolicyInfo { def, schema })
    }

    /// The policy with this id.
    pub fn policy(&self, id: &str) -> Option<PolicyInfo<'_>> {
        self.policy_def(id).map(|def| PolicyInfo {
            def,
            schema: &self.schema,
        })
    }

    /// Every "one thing" bundle, in rule-set order.
    pub fn bundles(&self) -> impl ExactSizeIterator<Item = BundleInfo<'_>> {
        let schema = &self.schema;
        self.program
            .bundles
            .iter()
            .map(move |def| BundleInfo { def, schema })
    }

    /// The bundle with this id.
    pub fn bundle(&self, id: &str) -> Option<BundleInfo<'_>> {
        self.program
            .bundles
            .iter()
            .find(|b| b.id == id)
            .map(|def| BundleInfo {
                def,
                schema: &self.schema,
            })
    }

    /// The position of the bundle with this id, as [`RunConfig::bundle`] takes it.
    pub fn bundle_index(&self, id: &str) -> Option<usize> {
        self.program.bundles.iter().position(|b| b.id == id)
    }

    /// Reads a record given as JSON text; its subject kind is the one its top-level key
    /// names (`{"person": {…}}`). The reading is strict ([`ReadOptions::default`]): a
    /// key the schema does not declare, a key given twice, a value of the wrong type,
    /// a record nested too deep or too large is a [`RecordError`] naming the path, as
    /// the batch rejects it.
    ///
    /// ```
    /// use mianshen::RecordErrorKind;
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let e = rules.read_json(r#"{"person": {"id": "P1", "birth_dat": "1950-01-01"}}"#).unwrap_err();
    /// assert_eq!(e.kind, RecordErrorKind::UnknownField);
    /// assert_eq!(e.kind.code(), "unknown-field");
    /// assert_eq!(e.path, "person.birth_dat");
    /// ```
    pub fn read_json(&self, text: &str) -> Result<Record, RecordError> {
        self.read_json_with(text, None, &ReadOptions::default())
            .map(|(r, _)| r)
    }

    /// Reads a record given as YAML text, strictly (see [`read_json`](Self::read_json)).
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules.read_yaml("person:\n  id: P1\n  birth_date: 1940-03-01\n").unwrap();
    /// assert_eq!(record.id.as_deref(), Some("P1"));
    /// ```
    pub fn read_yaml(&self, text: &str) -> Result<Record, RecordError> {
        self.read_yaml_with(text, None, &ReadOptions::default())
            .map(|(r, _)| r)
    }

    /// Reads a record given as a serde value, of the named subject kind (`None`: the
    /// one its top-level key names), strictly (see [`read_json`](Self::read_json)).
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let value = serde_json::json!({"person": {"id": "P1", "birth_date": "1940-03-01"}});
    /// let record = rules.read_value(&value, Some("person")).unwrap();
    /// assert_eq!(rules.subject_of(&record), "person");
    /// ```
    pub fn read_value(
        &self,
        value: &serde_json::Value,
        subject: Option<&str>,
    ) -> Result<Record, RecordError> {
        self.read_value_with(value, subject, &ReadOptions::default())
            .map(|(r, _)| r)
    }

    /// Reads a record given as JSON text with the given options; with it, the paths of
    /// the keys the schema does not declare (list items as `[]`), which only a lenient
    /// reading ([`ReadOptions::lenient`]) accepts — the fields were not read.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let lenient = mianshen::ReadOptions { lenient: true, ..Default::default() };
    /// let text = r#"{"person": {"id": "P1", "nickname": "Lao Wang"}}"#;
    /// let (record, unknown) = rules.read_json_with(text, None, &lenient).unwrap();
    /// assert_eq!(record.id.as_deref(), Some("P1"));
    /// assert_eq!(unknown, ["person.nickname"]);
    /// ```
    pub fn read_json_with(
        &self,
        text: &str,
        subject: Option<&str>,
        options: &ReadOptions,
    ) -> Result<(Record, Vec<String>), RecordError> {
        let value = record::parse_json(text, options)?;
        self.read_value_with(&value, subject, options)
    }

    /// Reads a record given as YAML text with the given options (see
    /// [`read_json_with`](Self::read_json_with)).
    pub fn read_yaml_with(
        &self,
        text: &str,
        subject: Option<&str>,
        options: &ReadOptions,
    ) -> Result<(Record, Vec<String>), RecordError> {
        let value = record::parse_yaml(text, options)?;
        self.read_value_with(&value, subject, options)
    }

    /// Reads a record given as a serde value with the given options (see
    /// [`read_json_with`](Self::read_json_with)).
    pub fn read_value_with(
        &self,
        value: &serde_json::Value,
        subject: Option<&str>,
        options: &ReadOptions,
    ) -> Result<(Record, Vec<String>), RecordError> {
        let kind = record::detect_subject(&self.schema, value, subject)
            .map_err(|message| RecordError::whole(RecordErrorKind::SubjectKind, message))?;
        record::read_record_with(&self.schema, kind, value, *options)
    }

    /// Decides every policy about the record's subject kind on `on`, in rule-set
    /// order, with traces. A policy not in force on `on` is not eligible (its clause
    /// `C0` is false).
    ///
    /// ```
    /// use mianshen::Outcome;
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules.read_json(r#"{"person": {"id": "P2", "birth_date": "1990-05-17"}}"#).unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// for d in rules.decide(&record, on) {
    ///     match d.outcome {
    ///         Outcome::Eligible => println!("{}: {:?}", d.policy, d.amount),
    ///         Outcome::NotEligible => println!("{}: not eligible ({:?})", d.policy, d.failed),
    ///         Outcome::Undetermined => println!("{}: ask for {:?}", d.policy, d.missing),
    ///     }
    /// }
    /// ```
    pub fn decide(&self, record: &Record, on: NaiveDate) -> Vec<Decision> {
        eval::evaluate_all(self, record, on, traced())
    }

    /// [`decide`](Self::decide) with options: traces cost time (a host that only needs
    /// outcomes and amounts turns them off), and the budget bounds the work of each
    /// decision.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules.read_json(r#"{"person": {"id": "P1", "birth_date": "1940-03-01"}}"#).unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let quick = mianshen::EvalOptions { trace: false, ..Default::default() };
    /// assert!(rules.decide_with(&record, on, quick).iter().all(|d| d.trace.is_none()));
    /// ```
    pub fn decide_with(
        &self,
        record: &Record,
        on: NaiveDate,
        options: EvalOptions,
    ) -> Vec<Decision> {
        eval::evaluate_all(self, record, on, options)
    }

    /// Decides one policy, by id, with its trace.
    ///
    /// Fails with [`RequestError::UnknownPolicy`] when the rule set has no such policy,
    /// and [`RequestError::WrongSubject`] when the policy is about another subject kind
    /// than the record.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let record = rules.read_json(r#"{"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}}"#).unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let d = rules.decide_policy("sh-senior-comprehensive-allowance", &record, on).unwrap();
    /// assert_eq!(d.outcome, mianshen::Outcome::Eligible);
    /// let trace = d.trace.unwrap();
    /// assert!(trace.clauses.iter().all(|c| c.value == mianshen::Truth::True));
    /// ```
    pub fn decide_policy(
        &self,
        policy: &str,
        record: &Record,
        on: NaiveDate,
    ) -> Result<Decision, RequestError> {
        self.decide_policy_with(policy, record, on, traced())
    }

    /// [`decide_policy`](Self::decide_policy) with options.
    pub fn decide_policy_with(
        &self,
        policy: &str,
        record: &Record,
        on: NaiveDate,
        options: EvalOptions,
    ) -> Result<Decision, RequestError> {
        let index =
            self.policy_index
                .get(policy)
                .copied()
                .ok_or_else(|| RequestError::UnknownPolicy {
                    id: policy.to_string(),
                    did_you_mean: did_you_mean(
                        policy,
                        self.policy_index.keys().map(String::as_str),
                    ),
                })?;
        let subject = self.program.policies.get(index).map(|p| p.subject);
        if subject != Some(record.subject) {
            return Err(self.wrong_subject(policy, subject, record));
        }
        Ok(eval::evaluate_policy(self, index, record, on, options))
    }

    fn wrong_subject(
        &self,
        target: &str,
        expected: Option<usize>,
        record: &Record,
    ) -> RequestError {
        RequestError::WrongSubject {
            target: target.to_string(),
            expected: expected
                .map_or("?", |s| subject_name(&self.schema, s))
                .to_string(),
            found: self.subject_of(record).to_string(),
        }
    }

    /// Pre-fills the "one thing" bundle with this id for a record on `on`: each
    /// member's status, the form's fields the government already knows (with where
    /// each value came from), the fields left to enter, and the materials to submit.
    ///
    /// Fails with [`RequestError::UnknownBundle`] when the rule set has no such bundle,
    /// and [`RequestError::WrongSubject`] when the bundle is for another subject kind.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let bundle = rules.bundles().next().expect("the shipped rules have bundles");
    /// let record = rules
    ///     .read_value(&serde_json::json!({bundle.subject(): {"id": "S1"}}), None)
    ///     .unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let form = rules.prefill(bundle.id(), &record, on).unwrap();
    /// assert_eq!(form.members.len(), bundle.members().len());
    /// ```
    pub fn prefill(
        &self,
        bundle: &str,
        record: &Record,
        on: NaiveDate,
    ) -> Result<BundleResult, RequestError> {
        self.prefill_with(bundle, record, on, traced())
    }

    /// [`prefill`](Self::prefill) with options.
    pub fn prefill_with(
        &self,
        bundle: &str,
        record: &Record,
        on: NaiveDate,
        options: EvalOptions,
    ) -> Result<BundleResult, RequestError> {
        let index = self
            .bundle_index(bundle)
            .ok_or_else(|| RequestError::UnknownBundle {
                id: bundle.to_string(),
                did_you_mean: did_you_mean(
                    bundle,
                    self.program.bundles.iter().map(|b| b.id.as_str()),
                ),
            })?;
        let subject = self.program.bundles.get(index).map(|b| b.subject);
        if subject != Some(record.subject) {
            return Err(self.wrong_subject(bundle, subject, record));
        }
        Ok(eval::prefill(self, index, record, on, options))
    }

    /// Runs the batch over any iterator of input records into `sink`: every record
    /// read, decided for every policy of its subject kind on `config.ref_date`, and
    /// the outputs (grants, pushes, rejected records, errors, forms) handed to the sink
    /// chunk by chunk, in input order, as JSON Lines text. Records are decided in
    /// parallel, `config.chunk_size` at a time; the result does not depend on the
    /// number of threads.
    ///
    /// A record that cannot be read is not an error of the run: it is a line of
    /// [`ChunkOutput::rejected`](crate::ChunkOutput::rejected), counted in
    /// [`Summary::rejected`]. The run fails only when the sink fails, the threads
    /// cannot start, or the engine has a bug ([`BatchError`]).
    ///
    /// ```
    /// use mianshen::{ChunkOutput, InputRecord, RunConfig, Sink};
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    ///
    /// /// Keeps the grant lines in memory.
    /// #[derive(Default)]
    /// struct Grants(Vec<String>);
    /// impl Sink for Grants {
    ///     fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
    ///         self.0.extend(chunk.grants.lines().map(str::to_string));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let people = [
    ///     serde_json::json!({"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}}),
    ///     serde_json::json!({"person": {"id": "P2", "birth_dat": "1990-05-17"}}),
    /// ];
    /// let input = (1..).zip(people).map(|(line, v)| InputRecord::value(line, v));
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let mut sink = Grants::default();
    /// let summary = rules.run(input, &RunConfig::new(on), &mut sink).unwrap();
    /// assert_eq!((summary.read, summary.evaluated, summary.rejected), (2, 1, 1));
    /// assert!(sink.0.iter().any(|l| l.contains("sh-senior-comprehensive-allowance")));
    /// ```
    pub fn run<I>(
        &self,
        records: I,
        config: &RunConfig,
        sink: &mut dyn Sink,
    ) -> Result<Summary, BatchError>
    where
        I: IntoIterator<Item = InputRecord>,
    {
        batch::run(self, records.into_iter(), config, sink, &mut |_| {})
    }

    /// Runs the batch over JSON Lines read from `input` (one record a line; blank lines
    /// are not records) into `sink`: the fast path the nightly run takes, reading
    /// blocks of bytes and deciding them in parallel while the next is read.
    ///
    /// ```
    /// use mianshen::{ChunkOutput, RunConfig, Sink};
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    ///
    /// struct Count(u64);
    /// impl Sink for Count {
    ///     fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
    ///         self.0 += chunk.records;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let lines = "{\"person\": {\"id\": \"P1\"}}\n\n{\"person\": {\"id\": \"P2\"}}\n";
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let mut sink = Count(0);
    /// let summary = rules.run_json_lines(lines.as_bytes(), &RunConfig::new(on), &mut sink).unwrap();
    /// assert_eq!((summary.read, summary.blank_lines, sink.0), (2, 1, 2));
    /// ```
    pub fn run_json_lines<R: std::io::Read>(
        &self,
        input: R,
        config: &RunConfig,
        sink: &mut dyn Sink,
    ) -> Result<Summary, BatchError> {
        batch::run_json_lines(self, input, config, sink, &mut |_, _| {})
    }

    /// Runs the example cases of the given case files (the layout of `docs/language.md`
    /// §13, "Example cases"): each case's record read strictly and decided on its
    /// reference date, with traces, and compared with what the case expects of each
    /// policy or bundle it names. A file that cannot be read or parsed is reported in
    /// [`CaseReport::unreadable`] and counts as a failure.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let report = rules.run_cases(&mianshen::case_files("rules").unwrap());
    /// assert!(report.is_success(), "{} failed", report.failed());
    /// assert_eq!(report.passed(), report.cases.len());
    /// ```
    pub fn run_cases(&self, files: &[impl AsRef<Path>]) -> CaseReport {
        self.run_cases_with(files, &ReadOptions::default(), traced())
    }

    /// [`run_cases`](Self::run_cases) with the records read with `read` and decided
    /// with `eval`.
    pub fn run_cases_with(
        &self,
        files: &[impl AsRef<Path>],
        read: &ReadOptions,
        eval: EvalOptions,
    ) -> CaseReport {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        testing::run_case_files(self, &files, *read, eval)
    }

    /// Checks the built-in properties of the rule set (amounts never negative,
    /// determinism, three-valued soundness, `missing` naming real gaps, exclusive
    /// policies never both eligible, …) on records generated from its schema, with a
    /// fixed seed: the same options give the same cases. A property that does not hold
    /// comes with the smallest record it could be shrunk to, written as a case.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let report = rules.check_properties(&mianshen::PropertyOptions::new(20, 2025));
    /// assert!(report.passed(), "{}", report.render());
    /// ```
    pub fn check_properties(&self, options: &PropertyOptions) -> PropertyReport {
        properties::run_properties_with(self, options)
    }

    /// Checks the properties the rule files declare (`property …` in a policy: amount
    /// bounds, monotonicity) on `cases` generated records each, from `seed`.
    ///
    /// ```
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let results = rules.check_declared_properties(20, 2025);
    /// assert!(results.iter().all(|r| r.counterexample.is_none()));
    /// ```
    pub fn check_declared_properties(&self, cases: u32, seed: u64) -> Vec<DeclaredResult> {
        declared::check_declared(self, cases, seed)
    }

    /// A proptest [`Strategy`](proptest::strategy::Strategy) of records of the subject
    /// kind `subject` under `constraints`, as JSON values to pass to
    /// [`read_value`](Self::read_value): every record the schema allows, fields
    /// sometimes absent or `null`, shrinking towards small records. For a host's own
    /// property tests (with `proptest = "1"` as a dev-dependency).
    ///
    /// Fails with [`RequestError::UnknownSubject`], or [`RequestError::Constraint`] when
    /// a constraint names a path that is not a field of the subject kind.
    ///
    /// ```
    /// use mianshen::{Constraints, Outcome};
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    ///
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// // Living Shanghai residents aged 65 to 69 on the reference date.
    /// let constraints = Constraints::complete()
    ///     .aged("person.birth_date", 65, 69, on)
    ///     .fixed("person.hukou_region", serde_json::json!("上海"))
    ///     .fixed("person.alive", serde_json::json!(true));
    /// let strategy = rules.record_strategy("person", &constraints).unwrap();
    ///
    /// let mut runner = TestRunner::deterministic();
    /// for _ in 0..20 {
    ///     let json = strategy.new_tree(&mut runner).unwrap().current();
    ///     let record = rules.read_value(&json, None).unwrap();
    ///     let d = rules.decide_policy("sh-senior-comprehensive-allowance", &record, on).unwrap();
    ///     assert_eq!(d.outcome, Outcome::Eligible, "{json}");
    ///     assert_eq!(d.amount.unwrap().value.to_string(), "75.00");
    /// }
    /// ```
    pub fn record_strategy(
        &self,
        subject: &str,
        constraints: &Constraints,
    ) -> Result<BoxedStrategy<serde_json::Value>, RequestError> {
        let index = self.subject_index(subject)?;
        generate::try_record_strategy(&self.schema, index, constraints)
            .map_err(RequestError::Constraint)
    }

    /// Like [`record_strategy`](Self::record_strategy), records generated with their
    /// reference date: days around every policy's start and end and every parameter
    /// step, and any day of 2015–2027; the dates the rules count from the reference
    /// date (ages, "within 12 months") are drawn around each record's own.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let cases = rules.case_strategy("person", &mianshen::Constraints::new()).unwrap();
    /// let mut runner = proptest::test_runner::TestRunner::deterministic();
    /// let (on, json) = cases.new_tree(&mut runner).unwrap().current();
    /// if let Ok(record) = rules.read_value(&json, None) {
    ///     let a = rules.decide(&record, on);
    ///     assert_eq!(a, rules.decide(&record, on));
    /// }
    /// ```
    pub fn case_strategy(
        &self,
        subject: &str,
        constraints: &Constraints,
    ) -> Result<BoxedStrategy<(NaiveDate, serde_json::Value)>, RequestError> {
        let index = self.subject_index(subject)?;
        let refs = generate::ref_date_strategy(self, None);
        generate::case_strategy(&self.schema, index, constraints, refs)
            .map_err(RequestError::Constraint)
    }

    fn subject_index(&self, name: &str) -> Result<usize, RequestError> {
        self.schema
            .subjects
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| RequestError::UnknownSubject {
                name: name.to_string(),
                known: self.subjects().map(str::to_string).collect(),
            })
    }
}

// Policies find people (issue 17): who a change of the rules reaches, near misses, the
// managers' report.
impl RuleSet {
    /// Loads a rules directory with an overlay directory over it: the overlay's
    /// parameters, scales, policies, bundles and functions replace the base's items of
    /// the same name (a new one is added), so that a reform is written as a few items.
    /// The schema is the base's (an overlay's `schema.yaml`, if any, must be the same);
    /// the overlay's cases are not read.
    ///
    /// ```
    /// let base = mianshen::RuleSet::load_dir("rules").unwrap();
    /// let reformed = mianshen::RuleSet::load_dir_with_overlay("rules", "examples/reform").unwrap();
    /// assert_ne!(base.version(), reformed.version());
    /// ```
    pub fn load_dir_with_overlay(
        base: impl AsRef<Path>,
        overlay: impl AsRef<Path>,
    ) -> Result<RuleSet, LoadError> {
        load::load_overlay(base.as_ref(), overlay.as_ref())
    }

    /// What changes for one subject between this rule set on `before` and `after_rules`
    /// on `after`: every policy about the record's subject kind decided (with traces)
    /// under both, and the decisions whose outcome or amount differ, with the clauses
    /// whose value changed and whether the subject is to be told ([`Change`]). Pass
    /// `self` as `after_rules` to ask what the passing of time changes ("what changes
    /// for this person on 1 July?"), or a reformed rule set
    /// ([`RuleSet::load_dir_with_overlay`]) to ask what a reform changes.
    ///
    /// The two rule sets must read records with the same schema
    /// ([`ReachError::SchemaDiffers`] otherwise).
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
    ) -> Result<Vec<Change>, ReachError> {
        if self.schema != after_rules.schema {
            return Err(ReachError::SchemaDiffers);
        }
        Ok(reach::compare(
            reach::Version {
                rules: self,
                on: before,
            },
            record,
            reach::Version {
                rules: after_rules,
                on: after,
            },
            record,
            eval::DEFAULT_BUDGET,
        ))
    }

    /// The record's near misses on `on`: its not-eligible decisions that fail at least
    /// one and at most `k` clauses (the policy in force, decided per subject), each
    /// failed clause with how far the record is from it ([`NearMiss`], [`Miss`](crate::Miss)).
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
    pub fn near_misses(&self, record: &Record, on: NaiveDate, k: usize) -> Vec<NearMiss> {
        reach::near_misses(self, record, on, k)
    }

    /// The visit a grid worker makes to one subject on date `on`, as a line of the visit
    /// lists of `mianshen run --visits-by` ([`crate::Visit`]): every fact missing from
    /// its undetermined decisions, merged across the policies, with the policies each
    /// unlocks, and its near misses (one failed clause that can change). `None` when no
    /// decision is undetermined for missing data. `raw` is the record as JSON, for the
    /// group (the value at the dotted path `by`) and the schema's `contact: true` fields.
    ///
    /// ```
    /// # use mianshen::RuleSet;
    /// let rules = RuleSet::load_dir("rules")?;
    /// let text = r#"{"person": {"id": "P1", "name": "王芳", "grid": "普陀区第2网格", "hukou_region": "上海"}}"#;
    /// let rec = rules.read_json(text)?;
    /// let raw: serde_json::Value = serde_json::from_str(text)?;
    /// let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    /// let visit = rules.visit_plan(&rec, on, Some(&raw), Some("person.grid")).unwrap();
    /// assert_eq!(visit.group.as_deref(), Some("普陀区第2网格"));
    /// assert!(visit.facts.iter().any(|f| f.path == "person.birth_date"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn visit_plan(
        &self,
        record: &Record,
        on: NaiveDate,
        raw: Option<&serde_json::Value>,
        by: Option<&str>,
    ) -> Option<crate::Visit> {
        reach::visit_plan(self, record, on, EvalOptions::default(), raw, by)
    }

    /// Diffs a population between this rule set on `config.run.ref_date` and
    /// `after_rules` on `config.after_date`, over any iterator of records: every
    /// record decided under both, the decisions that differ written to `sink` as
    /// [`ChunkOutput::changes`](crate::ChunkOutput::changes) lines ([`Change`] as JSON), the records either version
    /// cannot read as [`ChunkOutput::rejected`](crate::ChunkOutput::rejected); the counts per policy come back
    /// ([`Impact`]). Streams as [`RuleSet::run`] does.
    pub fn diff<I>(
        &self,
        after_rules: &RuleSet,
        records: I,
        config: &DiffConfig,
        sink: &mut dyn Sink,
    ) -> Result<Impact, BatchError>
    where
        I: IntoIterator<Item = InputRecord>,
    {
        batch::diff(
            self,
            after_rules,
            records.into_iter(),
            config,
            sink,
            &mut |_| {},
        )
    }

    /// [`RuleSet::diff`] over JSON Lines (as `mianshen diff`).
    ///
    /// ```
    /// use mianshen::{ChunkOutput, DiffConfig, RunConfig, Sink};
    /// let rules = mianshen::RuleSet::load_dir("rules").unwrap();
    ///
    /// #[derive(Default)]
    /// struct Changes(String);
    /// impl Sink for Changes {
    ///     fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
    ///         self.0.push_str(&chunk.changes);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let day = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    /// let lines = r#"{"person": {"id": "P1", "birth_date": "1960-08-15", "hukou_region": "上海"}}"#;
    /// let config = DiffConfig {
    ///     run: RunConfig::new(day("2025-07-01")),
    ///     after_date: day("2025-09-01"),
    /// };
    /// let mut sink = Changes::default();
    /// let impact = rules.diff_json_lines(&rules, lines.as_bytes(), &config, &mut sink).unwrap();
    /// assert_eq!(impact.changes(), sink.0.lines().count() as u64);
    /// assert!(sink.0.contains(r#""policy":"sh-senior-comprehensive-allowance""#));
    /// ```
    pub fn diff_json_lines<R: std::io::Read>(
        &self,
        after_rules: &RuleSet,
        input: R,
        config: &DiffConfig,
        sink: &mut dyn Sink,
    ) -> Result<Impact, BatchError> {
        batch::diff_json_lines(self, after_rules, input, config, sink, &mut |_, _| {})
    }

    /// The managers' report of a batch run of this rule set, as one self-contained HTML
    /// page (inline SVG charts and tables, no script): outcomes per policy, amounts,
    /// the missing fields that block decisions ([`Summary::missing`]), near misses.
    /// Its fixed words in English ([`RuleSet::report_html_in`] for another language).
    pub fn report_html(&self, summary: &Summary) -> String {
        reach::render_report(self, summary, Lang::En)
    }

    /// [`RuleSet::report_html`] with its fixed words (headings, table headers, the
    /// outcomes) in `lang`; the rules' own words (titles) as written.
    pub fn report_html_in(&self, summary: &Summary, lang: Lang) -> String {
        reach::render_report(self, summary, lang)
    }
}
