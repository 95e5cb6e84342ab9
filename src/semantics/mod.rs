//! The meaning of the language, written once.
//!
//! Every operator whose result is a matter of policy semantics — exact decimal
//! arithmetic and rounding, comparisons, the Kleene connectives, quantifiers and
//! aggregates, bracket scales, ages, month arithmetic and the 29 February rule — is
//! defined here, and both evaluation tiers call these definitions: the reference
//! evaluator ([`crate::eval`]) on its tree values, the batch's compiled tier on its
//! packed cells.
//! A tier may specialise a representation (packed dates, money as integer cents) but
//! reduces to, or is derived from, the functions here; it never restates them. A
//! maintainer who changes how an age is computed changes [`calendar::age_of_parts`].
//!
//! What is *not* here is how a tier finds its operands (tree walking, closures over a
//! flat row) and how it reports missing data (paths, or just "unknown").

pub mod calendar;
pub mod number;
pub mod quantifier;
pub mod scale;
pub mod truth;

pub use number::Fault;
pub use truth::{Connective, Truth};
