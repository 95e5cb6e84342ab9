//! mianshen (免申) — a rules-as-code engine for public services.
//!
//! Policy staff write the conditions of subsidies and treatments in a small, checked
//! language; the engine evaluates the records the government already holds and
//! decides, for each subject, which policies apply, how much, and why — in three-valued
//! logic, with exact money and calendar rules, and a trace of every clause.
//!
//! # For a host application
//!
//! Load a rule set once ([`RuleSet::load_dir`], or [`RuleSet::from_sources`] for rules
//! kept in a database), read records against its schema ([`RuleSet::read_json`],
//! [`RuleSet::read_yaml`], [`RuleSet::read_value`]), and decide them
//! ([`RuleSet::decide`], [`RuleSet::decide_policy`], [`RuleSet::prefill`]) or run the
//! batch into your own [`Sink`] ([`RuleSet::run_json_lines`], [`batch::run`] for any
//! iterator of records):
//!
//! ```
//! let rules = mianshen::RuleSet::load_dir("rules").expect("the shipped rules check");
//! let record = rules
//!     .read_json(r#"{"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}}"#)
//!     .expect("a valid record");
//! let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
//! let senior = rules
//!     .decide_policy("sh-senior-comprehensive-allowance", &record, on)
//!     .expect("a shipped policy");
//! assert_eq!(senior.outcome, mianshen::Outcome::Eligible);
//! assert_eq!(senior.amount.as_ref().unwrap().value.to_string(), "180.00");
//! ```
//!
//! Guarantees:
//! - **Compile once, evaluate many.** A [`RuleSet`] is immutable and `Send + Sync`:
//!   share it across threads; nothing is parsed or compiled per record.
//! - **Errors are data.** Loading fails with a [`LoadError`] (diagnostics with spans),
//!   reading with a [`RecordError`] (the field path and the reason), and a decision that
//!   the rule text leaves undefined carries an [`EvalError`] whose [`ErrorKind`] a host
//!   matches on (its stable code is what the JSON outputs carry).
//! - **No panics, no side effects.** The library never panics on any input (enforced by
//!   the lints below, with a panic guard around each decision as a seat belt), never
//!   prints, and never reads the clock or the environment: every evaluation has an
//!   explicit reference date. Work is bounded by a budget of steps per decision
//!   ([`EvalOptions::budget`]).
//! - **One meaning.** The batch's fast tier ([`fast`]) is a specialisation of the
//!   semantics written once in [`semantics`]; whatever it cannot decide exactly, the
//!   reference evaluator ([`eval`]) decides.
//!
//! # The pipeline
//!
//! One module per stage, data flowing one way:
//!
//! ```text
//! rule files ──syntax──▶ AST with spans
//! schema.yaml ──schema──▶ Schema
//! AST + Schema ──check──▶ ir::Program (typed, resolved)   or diagnostics
//! Program ──compile──▶ RuleSet
//! RuleSet + record (record) + date ──eval──▶ Decision per policy, bundle results
//!                                  ──fast──▶ the batch's verdicts (one date, flat rows)
//! Decisions ──▶ batch (the nightly run) · bundle (printable forms) · testing (cases,
//!               properties, coverage)
//! ```
//!
//! The modules marked *internal* below are stages the API is built from; they are
//! public for the project's own tests and tools and may change without notice.

#![deny(missing_docs)]
// The promises above, enforced: no unsafe code, and nothing that panics on an input —
// no unwrap or expect, no panic!, no indexing or slicing that can go out of range
// (`get` and slice patterns instead). A few places allow one of them, each scoped to
// the item and with a comment saying why it holds. Unit tests (cfg(test)) may unwrap.
#![deny(unsafe_code)]
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
pub mod batch;
pub mod bundle;
pub mod check;
pub mod eval;
pub mod fast;
pub mod load;
pub mod reach;
pub mod record;
pub mod schema;
pub mod semantics;
pub mod testing;

// Internal: checked program → RuleSet.
#[doc(hidden)]
pub mod compile;
// Internal: escaping record text for terminals, JSON and HTML.
#[doc(hidden)]
pub mod escape;
// Internal: the resolved, typed program.
#[doc(hidden)]
pub mod ir;
// Internal: source text → syntax tree.
#[doc(hidden)]
pub mod syntax;
// Internal: runtime values.
#[doc(hidden)]
pub mod value;

pub use batch::{
    BatchError, ChunkOutput, InputRecord, PolicySummary, RunConfig, Sink, Source, Summary,
};
pub use check::{code as diagnostic_code, Code as DiagnosticCode, Diagnostic, Severity};
pub use compile::RuleSet;
pub use eval::{
    Amount, BundleResult, ClauseTrace, Decision, ErrorKind, EvalError, EvalOptions, ExtraValue,
    Fact, ItemDecision, MaterialLine, MemberStatus, Outcome, PrefilledField, Trace, Truth,
};
pub use load::LoadError;
pub use record::{Record, RecordError, RecordErrorKind};
