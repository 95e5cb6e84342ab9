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
//! - **One meaning.** The batch's fast tier (`fast`) is a specialisation of the
//!   semantics written once in `semantics`; whatever it cannot decide exactly, the
//!   reference evaluator (`eval`) decides.
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
//! The stages are private to the crate: the items at the crate root are the API.

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
pub(crate) mod batch;
pub(crate) mod bundle;
pub(crate) mod check;
pub(crate) mod compile;
pub(crate) mod escape;
pub(crate) mod eval;
pub(crate) mod fast;
pub(crate) mod ir;
pub(crate) mod load;
pub(crate) mod record;
pub(crate) mod schema;
pub(crate) mod semantics;
pub(crate) mod syntax;
pub(crate) mod testing;
pub(crate) mod value;

/// Not part of the API: the stages the API is built from, for the project's own
/// command line, tests, benchmarks and fuzz targets. No stability promise: anything
/// here may change or go in any release. Hosts use the items at the crate root.
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
    pub mod compile {
        pub use crate::compile::*;
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
    pub mod ir {
        pub use crate::ir::*;
    }
    pub mod load {
        pub use crate::load::*;
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

pub use batch::{
    BatchError, ChunkOutput, InputRecord, PolicySummary, RunConfig, Sink, Source, Summary,
};
pub use check::{code as diagnostic_code, Diagnostic, Severity};
pub use compile::RuleSet;
pub use eval::{
    Amount, BundleResult, ClauseTrace, Decision, ErrorKind, EvalError, EvalOptions, ExtraValue,
    Fact, ItemDecision, MaterialLine, MemberStatus, Outcome, PrefilledField, Trace, Truth,
};
pub use load::LoadError;
pub use record::{Record, RecordError, RecordErrorKind};
