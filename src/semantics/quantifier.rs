//! Quantifiers (`any`, `all`, `no`, `count`) and aggregates (`sum`, `min`, `max`,
//! `the`, `latest`, `earliest`) over the items of a list, as folds that a tier feeds
//! item by item.

use super::number::{wanted, Fault};
use super::truth::Truth;
use crate::syntax::ast::Quantifier;
use std::cmp::Ordering;

/// Which operand an unknown item's value comes from (for the missing fields a tier
/// reports): the filter's, the condition's, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The filter was unknown and decided the item.
    Filter,
    /// The condition was unknown.
    Body,
    /// The filter was unknown and the condition did not settle it.
    Both,
}

/// What the fold says after an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on with the next item.
    Next,
    /// The item was unknown: go on, its missing fields are those of [`Blame`].
    Unknown(Blame),
    /// The result is decided: stop.
    Stop,
    /// An evaluation error: the quantifier's result.
    Error,
}

/// The result of a quantifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantified {
    /// `any`, `all`, `no`.
    Truth(bool),
    /// `count`.
    Count(i64),
    /// Some item was unknown and none decided.
    Unknown,
}

/// `any`/`all`/`no`/`count` in Kleene logic. A filter (`where`) selects the items: for
/// `all` the condition must hold for the selected items (filter → condition), for the
/// others an item counts when filter and condition hold (filter ∧ condition).
#[derive(Debug, Clone, Copy)]
pub struct Quantify {
    q: Quantifier,
    count: i64,
    any_true: bool,
    any_false: bool,
    unknown: bool,
}

impl Quantify {
    /// A fold of the quantifier `q` (one of any, all, no, count).
    #[inline(always)]
    pub fn new(q: Quantifier) -> Quantify {
        Quantify {
            q,
            count: 0,
            any_true: false,
            any_false: false,
            unknown: false,
        }
    }

    /// Adds an item, from its filter's truth (`True` without a filter) and its
    /// condition's, which is asked for only when it matters (`True` without one).
    #[inline(always)]
    pub fn item(&mut self, filter: Truth, condition: impl FnOnce() -> Truth) -> Step {
        let (value, blame) = match filter {
            Truth::Error => return Step::Error,
            Truth::False => {
                // Not selected; for the others it is an item for which `filter ∧ P`
                // is false.
                if self.q != Quantifier::All {
                    self.any_false = true;
                }
                return Step::Next;
            }
            Truth::True => (condition(), Blame::Body),
            Truth::Unknown => match condition() {
                Truth::Error => return Step::Error,
                // filter → P holds whatever the filter is.
                Truth::True if self.q == Quantifier::All => (Truth::True, Blame::Body),
                _ if self.q == Quantifier::All => (Truth::Unknown, Blame::Filter),
                // filter ∧ P is false whatever the filter is.
                Truth::False => (Truth::False, Blame::Body),
                _ => (Truth::Unknown, Blame::Both),
            },
        };
        match value {
            Truth::True => {
                self.any_true = true;
                self.count += 1;
                if matches!(self.q, Quantifier::Any | Quantifier::No) {
                    return Step::Stop;
                }
                Step::Next
            }
            Truth::False => {
                self.any_false = true;
                if self.q == Quantifier::All {
                    return Step::Stop;
                }
                Step::Next
            }
            Truth::Unknown => {
                self.unknown = true;
                Step::Unknown(blame)
            }
            Truth::Error => Step::Error,
        }
    }

    /// The result over the items added.
    #[inline(always)]
    pub fn result(&self) -> Quantified {
        match self.q {
            Quantifier::Any if self.any_true => Quantified::Truth(true),
            Quantifier::No if self.any_true => Quantified::Truth(false),
            Quantifier::All if self.any_false => Quantified::Truth(false),
            _ if self.unknown => Quantified::Unknown,
            Quantifier::Any => Quantified::Truth(false),
            Quantifier::No | Quantifier::All => Quantified::Truth(true),
            _ => Quantified::Count(self.count),
        }
    }
}

/// The operations an aggregate needs on a tier's values.
pub trait Values {
    /// A value.
    type Value: Clone;
    /// An item of the list.
    type Item: Clone;
    /// Orders two values of one type (numbers across whole and decimal).
    fn order(&self, a: &Self::Value, b: &Self::Value) -> Option<Ordering>;
    /// `a + b`.
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value, Fault>;
    /// The sum of no items (the whole number 0).
    fn zero(&self) -> Self::Value;
}

/// The result of an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregated<V, I> {
    /// `sum`, `min`, `max`, `the`: a value, or `None` for a known "none".
    Value(Option<V>),
    /// `latest`, `earliest`: the item chosen.
    Item(I),
    /// Some item's filter or value was unknown.
    Unknown,
    /// An evaluation error.
    Error(Fault),
}

/// `sum`, `min`, `max`, `the`, `latest`, `earliest` over the selected items: an
/// unknown filter or value makes the result unknown (once every item is seen, since
/// an error in a later item is still the result); a "none" value adds nothing and is
/// never the least or greatest; `the` wants exactly one selected item; `latest` and
/// `earliest` want one item with the greatest (least) value, a tie being an error.
#[derive(Debug, Clone)]
pub struct Aggregate<V, I> {
    q: Quantifier,
    unknown: bool,
    fault: Option<Fault>,
    sum: Option<V>,
    best: Option<V>,
    best_item: Option<I>,
    tie: bool,
    selected: usize,
    the: Option<V>,
}

impl<V: Clone, I: Clone> Aggregate<V, I> {
    /// A fold of the aggregate `q`.
    #[inline(always)]
    pub fn new(q: Quantifier) -> Self {
        Aggregate {
            q,
            unknown: false,
            fault: None,
            sum: None,
            best: None,
            best_item: None,
            tie: false,
            selected: 0,
            the: None,
        }
    }

    /// An item whose filter or value is unknown.
    #[inline(always)]
    pub fn unknown(&mut self) {
        self.unknown = true;
    }

    /// A selected item and its value (`None`: a known "none"). Inlined, so that a
    /// tier's loop over one aggregate keeps only that aggregate's arm.
    #[inline(always)]
    pub fn item<O: Values<Value = V, Item = I>>(&mut self, ops: &O, item: &I, value: Option<V>) {
        self.selected += 1;
        if self.unknown {
            return;
        }
        match self.q {
            Quantifier::Sum => {
                if let (Some(v), None) = (value, &self.fault) {
                    let acc = self.sum.take().unwrap_or_else(|| ops.zero());
                    match ops.add(&acc, &v) {
                        Ok(s) => self.sum = Some(s),
                        Err(f) => self.fault = Some(f),
                    }
                }
            }
            Quantifier::Min | Quantifier::Max => {
                let want = wanted(self.q == Quantifier::Min);
                if let Some(v) = value {
                    if self
                        .best
                        .as_ref()
                        .is_none_or(|b| ops.order(&v, b) == Some(want))
                    {
                        self.best = Some(v);
                    }
                }
            }
            Quantifier::The => self.the = value,
            _ => {
                let want = wanted(self.q == Quantifier::Earliest);
                let Some(v) = value else { return };
                match &self.best {
                    None => {
                        self.best = Some(v);
                        self.best_item = Some(item.clone());
                    }
                    Some(b) => match ops.order(&v, b) {
                        Some(o) if o == want => {
                            self.best = Some(v);
                            self.best_item = Some(item.clone());
                            self.tie = false;
                        }
                        Some(Ordering::Equal) => self.tie = true,
                        _ => {}
                    },
                }
            }
        }
    }

    /// The result over the items given.
    #[inline(always)]
    pub fn result<O: Values<Value = V, Item = I>>(self, ops: &O) -> Aggregated<V, I> {
        if self.unknown {
            return Aggregated::Unknown;
        }
        match self.q {
            Quantifier::Sum => match self.fault {
                Some(f) => Aggregated::Error(f),
                None => Aggregated::Value(Some(self.sum.unwrap_or_else(|| ops.zero()))),
            },
            Quantifier::Min | Quantifier::Max => Aggregated::Value(self.best),
            Quantifier::The => match self.selected {
                1 => Aggregated::Value(self.the),
                0 => Aggregated::Error(Fault::NoItem),
                n => Aggregated::Error(Fault::SeveralItems(n)),
            },
            _ if self.tie => Aggregated::Error(Fault::Tie),
            _ => match self.best_item {
                Some(i) => Aggregated::Item(i),
                None => Aggregated::Error(Fault::NothingToChoose),
            },
        }
    }
}
