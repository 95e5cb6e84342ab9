//! mianshen (免申) — a rules-as-code engine for public services.
//!
//! Policy staff write the conditions of subsidies and treatments in a small, checked
//! language; the engine evaluates the records the government already holds and
//! decides, for each subject, which policies apply, how much, and why — in three-valued
//! logic, with exact money and calendar rules, and a trace of every clause.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! rule files ──syntax──▶ AST with spans
//! schema.yaml ──schema──▶ Schema
//! AST + Schema ──check──▶ ir::Program (typed, resolved)   or diagnostics
//! Program ──compile──▶ RuleSet
//! RuleSet + record (record) + date ──eval──▶ Decision per policy, bundle results
//! Decisions ──▶ batch (the nightly run) · bundle (printable forms) · testing (cases,
//!               properties, coverage)
//! ```
//!
//! A host loads a rules directory once and evaluates many records against it:
//!
//! ```
//! use mianshen::{eval, load, record};
//! let rules = load::load_dir(std::path::Path::new("rules")).expect("the shipped rules check");
//! let json = serde_json::json!({
//!     "person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}
//! });
//! let subject = record::detect_subject(&rules.schema, &json, None).unwrap();
//! let rec = record::read_record(&rules.schema, subject, &json).unwrap();
//! let date = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
//! let decisions = eval::evaluate_all(&rules, &rec, date, eval::EvalOptions { trace: true, ..Default::default() });
//! let senior = decisions.iter().find(|d| d.policy == "sh-senior-comprehensive-allowance").unwrap();
//! assert_eq!(senior.outcome, eval::Outcome::Eligible);
//! assert_eq!(senior.amount.as_ref().unwrap().value.to_string(), "180.00");
//! ```
//!
//! The library never panics on any input, never prints, and never reads the clock or
//! the environment: every evaluation has an explicit reference date.

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
pub mod compile;
pub mod escape;
pub mod eval;
pub mod fast;
pub mod ir;
pub mod load;
pub mod record;
pub mod schema;
pub mod semantics;
pub mod syntax;
pub mod testing;
pub mod value;

pub use batch::{
    BatchError, ChunkOutput, InputRecord, PolicySummary, RunConfig, Sink, Source, Summary,
};
pub use compile::RuleSet;
pub use eval::{
    Amount, BundleResult, ClauseTrace, Decision, EvalError, EvalOptions, ExtraValue, Fact,
    ItemDecision, MaterialLine, MemberStatus, Outcome, PrefilledField, Trace, Truth,
};
pub use load::LoadError;
pub use record::{Record, RecordError};
