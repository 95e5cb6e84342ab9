//! mianshen (免申) — a rules-as-code engine for public services.
//!
//! Policy staff write the conditions of subsidies and treatments in a small, checked
//! language; the engine evaluates the records the government already holds and
//! decides, for each subject, which policies apply, how much, and why — in three-valued
//! logic, with exact money and calendar rules, and a trace of every clause.
//!
//! This page is for the engineer of a host application: a service that depends on the
//! crate to decide records. Everything a host uses is at the crate root; the stages it
//! is built from are private (see [the pipeline](#the-pipeline)).
//!
//! ```
//! use mianshen::{Outcome, RuleSet};
//!
//! // Once, at start-up: parse, check and compile the rules.
//! let rules = RuleSet::load_dir("rules").expect("the shipped rules check");
//!
//! // Per request: read a record against the rule set's schema, decide it on a date.
//! let record = rules
//!     .read_json(r#"{"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}}"#)
//!     .expect("a valid record");
//! let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
//! let senior = rules
//!     .decide_policy("sh-senior-comprehensive-allowance", &record, on)
//!     .expect("a policy of the rule set, about persons");
//! assert_eq!(senior.outcome, Outcome::Eligible);
//! assert_eq!(senior.amount.as_ref().unwrap().value.to_string(), "180.00");
//! ```
//!
//! # The API
//!
//! | To … | use |
//! |---|---|
//! | load a rule set | [`RuleSet::load_dir`] (a rules directory), [`RuleSet::from_sources`] (texts kept in a database) |
//! | list what it holds | [`RuleSet::policies`] / [`RuleSet::policy`] ([`PolicyInfo`]), [`RuleSet::bundles`] / [`RuleSet::bundle`] ([`BundleInfo`]), [`RuleSet::subjects`], [`RuleSet::version`] |
//! | read a record | [`RuleSet::read_json`], [`RuleSet::read_yaml`], [`RuleSet::read_value`] (serde values); the `_with` forms take [`ReadOptions`] (lenient reading, size and depth limits) |
//! | decide | [`RuleSet::decide`] (every policy about the record's subject kind), [`RuleSet::decide_policy`] (one); the `_with` forms take [`EvalOptions`] (traces, budget). A [`Decision`] has an [`Outcome`], the false clauses or the missing fields, an [`Amount`], an [`EvalError`] when the rule text leaves the case undefined, and a [`Trace`] |
//! | pre-fill a "one thing" bundle | [`RuleSet::prefill`] → [`BundleResult`] (members' [`MemberStatus`], [`PrefilledField`]s with their sources, fields to enter, [`MaterialLine`]s) |
//! | run a batch | [`RuleSet::run`] over any iterator of [`InputRecord`]s, [`RuleSet::run_json_lines`] over JSON Lines; outputs go to your [`Sink`] as [`ChunkOutput`]s; [`RunConfig`] sets the date, threads and limits; a [`Summary`] comes back |
//! | find whom a change reaches | [`RuleSet::compare`] (one record: the [`Change`]s between two rule sets, or one rule set on two dates), [`RuleSet::diff`] / [`RuleSet::diff_json_lines`] (a population, streamed: [`ChunkOutput::changes`] lines and an [`Impact`] per policy, set by a [`DiffConfig`]), [`RuleSet::load_dir_with_overlay`] (a reform as a few items over a rules directory) |
//! | find who is one step away | [`RuleSet::near_misses`] ([`NearMiss`]: each failed clause as a [`Miss`], with the record's value, the threshold, the gap, the day time closes it); in a batch, [`RunConfig::near_miss`] ([`ChunkOutput::near`]) |
//! | see where the data is thin | [`Summary::missing`] (per policy, the missing fields and the decisions each blocks alone, [`MissingCount`]); [`RuleSet::report_html`] (the managers' report of a run) |
//! | test a rule set | [`case_files`] and [`RuleSet::run_cases`] → [`CaseReport`] (example cases); [`RuleSet::check_properties`] → [`PropertyReport`] (built-in properties on generated records); [`RuleSet::check_declared_properties`] → [`DeclaredResult`]s |
//! | property-test your own code | [`RuleSet::record_strategy`] and [`RuleSet::case_strategy`]: proptest strategies of records for the rule set's schema, shaped by [`Constraints`] |
//!
//! Records and decisions serialise (serde) to the JSON the command line prints and the
//! batch writes, documented in `docs/records.md`.
//!
//! # Guarantees
//!
//! - **Compile once, evaluate many.** Loading parses, checks and compiles the rules;
//!   a [`RuleSet`] is then immutable, and nothing is parsed or compiled per record.
//! - **Shared across threads.** [`RuleSet`] is `Send + Sync` (a compile-time
//!   assertion in the crate holds it to that): share one `Arc<RuleSet>` or `&RuleSet`
//!   between all your threads and decide concurrently, without locks.
//! - **No panics.** The library does not panic on any input — rules, schema, record
//!   or date: the crate denies `unwrap`, `expect`, `panic!` and unchecked indexing
//!   outside its unit tests, and each decision runs inside a panic guard as a seat
//!   belt (a bug of the engine becomes an [`ErrorKind::Internal`] error on the
//!   decision, or [`BatchError::Internal`] in a batch, never an unwinding host).
//! - **No side effects.** The library never prints, never reads the clock or the
//!   environment, and touches the file system only where asked to
//!   ([`RuleSet::load_dir`], [`case_files`], [`RuleSet::run_cases`]). Every
//!   evaluation takes its reference date explicitly: the same rule set, record and
//!   date give the same decisions, byte for byte, and a batch's outputs do not depend
//!   on the number of threads.
//! - **Bounded work.** Each decision has a budget of evaluation steps
//!   ([`EvalOptions::budget`], [`RunConfig::budget`]; past it the decision is
//!   undetermined with [`ErrorKind::BudgetExceeded`]); record texts have size and
//!   depth limits ([`ReadOptions`]); the checker refuses rules that nest deeper than
//!   the evaluator allows.
//!
//! # Errors
//!
//! Every error is a value with a kind to match on, and each kind has a stable code (the
//! same in every language, and the one the JSON outputs carry). Match on kinds and
//! codes, never on messages, and keep a wildcard arm: the kinds are `#[non_exhaustive]`.
//!
//! | What failed | Error | Match on |
//! |---|---|---|
//! | loading a rule set | [`LoadError`] | its variants; for [`LoadError::Diagnostics`], each [`Diagnostic`]'s [`Severity`] and [`DiagnosticCode`] (match on its variants, or the constants of [`diagnostic_code`]; its text is the stable code); [`Diagnostic::render`] shows one with its source line, [`Diagnostic::render_in`] in Chinese ([`Lang`]) |
//! | reading a record | [`RecordError`] | [`RecordError::kind`] ([`RecordErrorKind`], [`RecordErrorKind::code`]), with the field's path |
//! | deciding | not an `Err`: the [`Decision`] is undetermined and carries an [`EvalError`] | [`EvalError::kind`] ([`ErrorKind`], [`ErrorKind::code`]), with the clause it was at |
//! | asking for an unknown policy, bundle or subject kind, or a record of another kind | [`RequestError`] | its variants |
//! | a batch run | [`BatchError`] (the sink failed, the input could not be read, a bug) | its variants; a record that cannot be read is not an error of the run but a line of [`ChunkOutput::rejected`] |
//!
//! ```
//! use mianshen::{ErrorKind, Outcome, RuleSet};
//!
//! let schema = "subjects:\n  person:\n    id: person.id\n    fields:\n      person:\n        fields:\n          id: {type: string}\n          income: {type: decimal}\n          members: {type: int}\n";
//! let policy = r#"
//! policy per-head "人均收入补贴" {
//!   subject person
//!   mode no_application
//!   effective from 2025-01-01
//!   C1 "人均月收入低于1000元": person.income / person.members < 1000
//! }"#;
//! let rules = RuleSet::from_sources(schema, &[("per-head.rules", policy)]).unwrap();
//! let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
//!
//! // A record without members: the rule text leaves the case undefined.
//! let record = rules.read_json(r#"{"person": {"id": "P1", "income": 1500, "members": 0}}"#).unwrap();
//! let d = rules.decide_policy("per-head", &record, on).unwrap();
//! assert_eq!(d.outcome, Outcome::Undetermined);
//! match d.error.as_ref().map(|e| e.kind) {
//!     Some(ErrorKind::DivisionByZero) => { /* route to a caseworker */ }
//!     Some(ErrorKind::BudgetExceeded) => { /* too costly to decide: report it */ }
//!     Some(other) => panic!("unexpected {}", other.code()),
//!     None => panic!("expected an error"),
//! }
//! assert_eq!(d.error.unwrap().kind.code(), "division-by-zero");
//!
//! // A record that does not fit the schema is refused before any decision.
//! let e = rules.read_json(r#"{"person": {"id": "P2", "income": true}}"#).unwrap_err();
//! assert_eq!((e.kind.code(), e.path.as_str()), ("wrong-type", "person.income"));
//! ```
//!
//! # The pipeline
//!
//! One stage per module, data flowing one way; the stages are private, and may change
//! in any release without the API changing:
//!
//! ```text
//! rule files ──syntax──▶ AST with spans
//! schema.yaml ──schema──▶ Schema
//! AST + Schema ──check──▶ typed, resolved program   or diagnostics
//! program ──compile──▶ RuleSet
//! RuleSet + record (record) + date ──eval──▶ Decision per policy, bundle results
//!                                  ──fast──▶ the batch's verdicts (one date, flat rows)
//! Decisions ──▶ batch (the nightly run) · bundle (printable forms) · testing (cases,
//!               properties, generators)
//! ```
//!
//! The meaning of the language is written once (three-valued truth, exact arithmetic
//! and rounding, the calendar); the reference evaluator applies it to one record, and
//! the batch's fast tier is a specialisation of it for one date over flat rows. What
//! the fast tier cannot decide exactly, the reference evaluator decides: a batch and
//! [`RuleSet::decide`] agree on every decision.
//!
//! # Features
//!
//! The default feature `cli` builds the `mianshen` command line and its dependencies
//! (clap, indicatif, csv, mimalloc). A host depends on the library alone with
//! `mianshen = { version = "0.1", default-features = false }`.
//!
//! The hidden module `internals` is not part of the API: it exists for the project's
//! own command line, tests, benchmarks and fuzz targets, and carries no stability
//! promise.

#![deny(missing_docs)]
// The promises above, enforced: no unsafe code, and nothing that panics on an input —
// no unwrap or expect, no panic!, no indexing or slicing that can go out of range
// (`get` and slice patterns instead). A few places allow one of them, each scoped to
// the item and with a comment saying why it holds. Unit tests (cfg(test)) may unwrap.
#![deny(unsafe_code)]
// Built without the internals door (`--cfg mianshen_api_only`, in CI), the crate is its
// API alone: no type of the internals may be reachable from it.
#![cfg_attr(
    mianshen_api_only,
    deny(unnameable_types),
    allow(dead_code, unused_imports)
)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod api;
pub(crate) mod batch;
pub(crate) mod bundle;
pub(crate) mod check;
pub(crate) mod compile;
pub(crate) mod escape;
pub(crate) mod eval;
pub(crate) mod fast;
pub(crate) mod ir;
pub(crate) mod load;
pub(crate) mod messages;
pub(crate) mod reach;
pub(crate) mod record;
pub(crate) mod schema;
pub(crate) mod semantics;
pub(crate) mod sql;
pub(crate) mod syntax;
pub(crate) mod testing;
pub(crate) mod value;

/// Not part of the API: the stages the API is built from, for the project's own
/// command line, tests, benchmarks and fuzz targets. No stability promise: anything
/// here may change or go in any release. Hosts use the items at the crate root.
// `--cfg mianshen_api_only` leaves the door out, so that `cargo doc` with it (in CI)
// shows that the API's documentation never links into the internals.
#[cfg(not(mianshen_api_only))]
#[doc(hidden)]
pub mod internals {
    #![allow(missing_docs)]
    pub mod batch {
        pub use crate::batch::*;
    }
    pub mod bundle {
        pub use crate::bundle::*;
    }
    pub mod check {
        pub use crate::check::*;
    }
    pub mod escape {
        pub use crate::escape::*;
    }
    pub mod eval {
        pub use crate::eval::*;
    }
    pub mod fast {
        pub use crate::fast::*;
    }
    pub mod load {
        pub use crate::load::*;
    }
    pub mod reach {
        pub use crate::reach::*;
    }
    pub mod messages {
        pub use crate::messages::*;
    }
    pub mod record {
        pub use crate::record::*;
    }
    pub mod schema {
        pub use crate::schema::*;
    }
    pub mod semantics {
        pub use crate::semantics::*;
    }
    pub mod sql {
        pub use crate::sql::*;
    }
    pub mod syntax {
        pub use crate::syntax::*;
    }
    pub mod testing {
        pub use crate::testing::*;
    }
    pub mod value {
        pub use crate::value::*;
    }
}

// The API: everything a host needs, at the crate root.
pub use api::{case_files, BundleInfo, PolicyInfo, RequestError};
pub use batch::{
    BatchError, ChunkOutput, DiffConfig, Impact, InputRecord, MissingCount, PolicySummary,
    RunConfig, Sink, Source, Summary,
};
pub use check::{code as diagnostic_code, Code as DiagnosticCode, Diagnostic, Severity};
pub use compile::RuleSet;
pub use eval::{
    Amount, BundleResult, ClauseTrace, Decision, ErrorKind, EvalError, EvalOptions, ExtraValue,
    Fact, ItemDecision, MaterialLine, MemberStatus, Outcome, PrefilledField, Trace, Truth,
};
pub use load::LoadError;
pub use messages::Lang;
pub use reach::{
    Change, Miss, MissKind, NearMiss, PolicyImpact, Presence, ReachError, Side, Visit, VisitFact,
    VisitNear, VisitStake,
};
pub use record::{ReadOptions, Record, RecordError, RecordErrorKind};
pub use schema::SchemaError;
pub use syntax::ast::{Mode, Span};
pub use syntax::{SourceFile, SourceMap};
pub use testing::declared::{DeclaredCounterexample, DeclaredResult};
pub use testing::generate::{Constraint, Constraints, Mix};
pub use testing::properties::{
    Counterexample, Property, PropertyOptions, PropertyReport, PropertyResult,
};
pub use testing::{CaseFailure, CaseFileError, CaseReport, CaseResult};
