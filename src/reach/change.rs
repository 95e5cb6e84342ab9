//! Change impact: the decisions that differ between two versions of the rules — two
//! rule sets, or one rule set on two dates — and their counts per policy.

use crate::compile::RuleSet;
use crate::eval::{self, Decision, EvalOptions, Outcome, Truth};
use crate::record::Record;
use crate::syntax::ast::Mode;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// One version of the rules: a rule set and the reference date it decides on.
#[derive(Debug, Clone, Copy)]
pub struct Version<'r> {
    /// The rule set.
    pub rules: &'r RuleSet,
    /// The reference date.
    pub on: NaiveDate,
}

/// A decision as a change sees it: its outcome and amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The outcome.
    pub outcome: Outcome,
    /// The amount, when eligible with one (two decimal places in JSON).
    #[serde(serialize_with = "money")]
    pub amount: Option<Decimal>,
}

fn money<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&crate::value::money(*d).to_string()),
        None => s.serialize_none(),
    }
}

/// What a policy absent from a rule set (or about another subject kind) counts as:
/// not eligible, without an amount.
const ABSENT: Side = Side {
    outcome: Outcome::NotEligible,
    amount: None,
};

impl Side {
    /// The side of a decision.
    pub fn of(d: &Decision) -> Side {
        Side::new(d.outcome, d.amount.as_ref().map(|a| a.value))
    }

    /// A side with this outcome and amount (an amount only counts when eligible).
    pub fn new(outcome: Outcome, amount: Option<Decimal>) -> Side {
        Side {
            outcome,
            amount: if outcome == Outcome::Eligible {
                amount
            } else {
                None
            },
        }
    }
}

/// Whether two sides differ, an absent side counting as not eligible ([`Side`]):
/// the outcome differs, or the amount (compared as numbers: `2.0` is `2.00`).
pub fn differs(before: Option<Side>, after: Option<Side>) -> bool {
    let (b, a) = (before.unwrap_or(ABSENT), after.unwrap_or(ABSENT));
    b.outcome != a.outcome || b.amount != a.amount
}

/// A decision that differs between the two versions: a line of `changes.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The subject's id.
    pub subject: String,
    /// The policy's id.
    pub policy: String,
    /// Before; `None` when the policy is not in the earlier rule set.
    pub before: Option<Side>,
    /// After; `None` when the policy is not in the later rule set.
    pub after: Option<Side>,
    /// The clauses whose value changed (`C0` when the effective period is crossed);
    /// empty when the policy is in one rule set only.
    pub clauses: Vec<String>,
    /// Whether the subject is to be told: newly eligible, or eligible with another
    /// amount, under a policy that grants (`no_application`) or pushes
    /// (`push_and_confirm`).
    pub notify: bool,
}

/// Whether a change is one to tell the subject about ([`Change::notify`]); `mode` is
/// the later rule set's mode of the policy.
pub fn notify(before: Option<Side>, after: Option<Side>, mode: Option<Mode>) -> bool {
    let (b, a) = (before.unwrap_or(ABSENT), after.unwrap_or(ABSENT));
    a.outcome == Outcome::Eligible
        && (b.outcome != Outcome::Eligible || b.amount != a.amount)
        && matches!(mode, Some(Mode::NoApplication | Mode::PushAndConfirm))
}

/// The change between two decisions of one policy for one subject (either may be
/// absent: the policy is in one rule set only), `None` when they do not differ.
/// Decisions with traces name the clauses whose value changed.
pub fn change(
    subject: &str,
    policy: &str,
    before: Option<&Decision>,
    after: Option<&Decision>,
    mode: Option<Mode>,
) -> Option<Change> {
    let (b, a) = (before.map(Side::of), after.map(Side::of));
    if !differs(b, a) || (b.is_none() && a.is_none()) {
        return None;
    }
    let clauses = match (before, after) {
        (Some(x), Some(y)) => changed_clauses(x, y),
        _ => vec![],
    };
    Some(Change {
        subject: subject.to_string(),
        policy: policy.to_string(),
        before: b,
        after: a,
        clauses,
        notify: notify(b, a, mode),
    })
}

/// The clauses whose value differs between two traced decisions of one policy, by
/// id, in clause order. A decision out of its effective period evaluates only `C0`:
/// then only the clauses both evaluated are compared. Per-item policies compare the
/// clauses of the items both decided (same item id).
pub fn changed_clauses(before: &Decision, after: &Decision) -> Vec<String> {
    let (Some(tb), Some(ta)) = (&before.trace, &after.trace) else {
        return vec![];
    };
    let in_force = |t: &eval::Trace| {
        !t.clauses
            .iter()
            .any(|c| c.id == "C0" && c.value == Truth::False)
    };
    let both = in_force(tb) && in_force(ta);
    let mut out: Vec<String> = vec![];
    let add = |id: &str, out: &mut Vec<String>| {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_string());
        }
    };
    let value = |t: &eval::Trace, id: &str| t.clauses.iter().find(|c| c.id == id).map(|c| c.value);
    for c in &tb.clauses {
        match value(ta, &c.id) {
            Some(v) if v != c.value => add(&c.id, &mut out),
            None if both => add(&c.id, &mut out),
            _ => {}
        }
    }
    for c in &ta.clauses {
        if both && value(tb, &c.id).is_none() {
            add(&c.id, &mut out);
        }
    }
    if let (Some((_, xs)), Some((_, ys))) = (&before.per_item, &after.per_item) {
        for (id, x) in xs {
            let Some((_, y)) = ys.iter().find(|(k, _)| k == id) else {
                continue;
            };
            let (Some(tx), Some(ty)) = (&x.trace, &y.trace) else {
                continue;
            };
            for c in &tx.clauses {
                match value(ty, &c.id) {
                    Some(v) if v != c.value => add(&c.id, &mut out),
                    None => add(&c.id, &mut out),
                    _ => {}
                }
            }
            for c in &ty.clauses {
                if value(tx, &c.id).is_none() {
                    add(&c.id, &mut out);
                }
            }
        }
    }
    out
}

/// The policies of two rule sets paired by id: the earlier's in its order (with the
/// later's index, if it has the policy), then those only in the later one.
pub fn policy_pairs(
    before: &RuleSet,
    after: &RuleSet,
) -> Vec<(String, Option<usize>, Option<usize>)> {
    let mut pairs: Vec<(String, Option<usize>, Option<usize>)> = before
        .program
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.id.clone(),
                Some(i),
                after.policy_index.get(&p.id).copied(),
            )
        })
        .collect();
    for (j, p) in after.program.policies.iter().enumerate() {
        if !before.policy_index.contains_key(&p.id) {
            pairs.push((p.id.clone(), None, Some(j)));
        }
    }
    pairs
}

/// Every change of one subject's decisions between two versions of the rules: each
/// policy about the record's subject kind decided (with traces) in either version, in
/// the order of [`policy_pairs`]. `before_record` and `after_record` are the subject's
/// record as each rule set's schema reads it (the same record when the schemas are).
pub fn compare(
    before: Version<'_>,
    before_record: &Record,
    after: Version<'_>,
    after_record: &Record,
    budget: u64,
) -> Vec<Change> {
    let opts = EvalOptions {
        trace: true,
        budget,
        ..EvalOptions::default()
    };
    let decide = |v: Version<'_>, rec: &Record| -> Vec<Option<Decision>> {
        let of_subject = (0..v.rules.program.policies.len()).filter(|&i| {
            v.rules
                .program
                .policies
                .get(i)
                .is_some_and(|p| p.subject == rec.subject)
        });
        let mut out = vec![None; v.rules.program.policies.len()];
        for (i, d) in eval::evaluate_policies(v.rules, rec, v.on, opts, of_subject) {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(d);
            }
        }
        out
    };
    let (db, da) = (decide(before, before_record), decide(after, after_record));
    let subject = after_record
        .id
        .clone()
        .or_else(|| before_record.id.clone())
        .unwrap_or_default();
    policy_pairs(before.rules, after.rules)
        .into_iter()
        .filter_map(|(id, bi, ai)| {
            let b = bi.and_then(|i| db.get(i)).and_then(Option::as_ref);
            let a = ai.and_then(|i| da.get(i)).and_then(Option::as_ref);
            let mode = ai
                .and_then(|i| after.rules.program.policies.get(i))
                .map(|p| p.mode);
            change(&subject, &id, b, a, mode)
        })
        .collect()
}

/// Where a policy is: in both rule sets, only the later (new) or only the earlier
/// (gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// In both.
    #[default]
    Both,
    /// Only in the later rule set: every decision is new.
    New,
    /// Only in the earlier rule set: every decision is gone.
    Gone,
}

/// The impact of a change on one policy: counts of decisions and the exact totals.
///
/// The counts are of these predicates (a change may count in two: eligible →
/// undetermined is no longer eligible and newly undetermined), an absent policy
/// counting as not eligible:
/// `newly_eligible` (eligible after, not before), `no_longer_eligible` (eligible
/// before, not after), `newly_undetermined` (undetermined after, not before),
/// `amount_up` / `amount_down` (eligible on both sides, the amount higher / lower),
/// `unchanged` (same outcome and amount), `changed` (the others: the lines of
/// `changes.jsonl`), `notify` (changes to tell the subject about, [`Change::notify`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyImpact {
    /// In both rule sets, or one only.
    #[serde(rename = "in")]
    pub presence: Presence,
    /// Eligible after, not before.
    pub newly_eligible: u64,
    /// Eligible before, not after.
    pub no_longer_eligible: u64,
    /// Undetermined after, not before.
    pub newly_undetermined: u64,
    /// Eligible on both sides, with a higher amount after.
    pub amount_up: u64,
    /// Eligible on both sides, with a lower amount after.
    pub amount_down: u64,
    /// The same outcome and amount.
    pub unchanged: u64,
    /// Another outcome or amount.
    pub changed: u64,
    /// Changes to tell the subject about.
    pub notify: u64,
    /// The sum of the eligible amounts before.
    #[serde(serialize_with = "two_places")]
    pub amount_before: Decimal,
    /// The sum of the eligible amounts after.
    #[serde(serialize_with = "two_places")]
    pub amount_after: Decimal,
}

fn two_places<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::value::money(*d).to_string())
}

impl PolicyImpact {
    /// Counts one subject's decisions of the policy (absent: not in that rule set, or
    /// about another subject kind; nothing is counted when both are).
    pub fn count(&mut self, before: Option<Side>, after: Option<Side>, notify: bool) {
        if before.is_none() && after.is_none() {
            return;
        }
        let (b, a) = (before.unwrap_or(ABSENT), after.unwrap_or(ABSENT));
        let eligible = |s: Side| s.outcome == Outcome::Eligible;
        let undetermined = |s: Side| s.outcome == Outcome::Undetermined;
        if eligible(b) {
            self.amount_before += b.amount.unwrap_or_default();
        }
        if eligible(a) {
            self.amount_after += a.amount.unwrap_or_default();
        }
        if !differs(before, after) {
            self.unchanged += 1;
            return;
        }
        self.changed += 1;
        if notify {
            self.notify += 1;
        }
        match (eligible(b), eligible(a)) {
            (false, true) => self.newly_eligible += 1,
            (true, false) => self.no_longer_eligible += 1,
            (true, true) => {
                let (x, y) = (b.amount.unwrap_or_default(), a.amount.unwrap_or_default());
                if y > x {
                    self.amount_up += 1;
                } else if y < x {
                    self.amount_down += 1;
                }
            }
            (false, false) => {}
        }
        if undetermined(a) && !undetermined(b) {
            self.newly_undetermined += 1;
        }
    }

    /// Adds the counts and totals of `other` (of the same policy).
    pub fn merge(&mut self, other: &PolicyImpact) {
        self.newly_eligible += other.newly_eligible;
        self.no_longer_eligible += other.no_longer_eligible;
        self.newly_undetermined += other.newly_undetermined;
        self.amount_up += other.amount_up;
        self.amount_down += other.amount_down;
        self.unchanged += other.unchanged;
        self.changed += other.changed;
        self.notify += other.notify;
        self.amount_before += other.amount_before;
        self.amount_after += other.amount_after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(o: Outcome, a: Option<i64>) -> Option<Side> {
        Some(Side::new(o, a.map(Decimal::from)))
    }

    #[test]
    fn impact_counts_each_predicate() {
        use Outcome::*;
        let mut p = PolicyImpact::default();
        p.count(side(NotEligible, None), side(Eligible, Some(10)), true);
        p.count(side(Eligible, Some(10)), side(Undetermined, None), false);
        p.count(side(Eligible, Some(10)), side(Eligible, Some(12)), true);
        p.count(side(Eligible, Some(10)), side(Eligible, Some(10)), false);
        p.count(None, side(NotEligible, None), false);
        p.count(None, None, false);
        assert_eq!(p.newly_eligible, 1);
        assert_eq!(p.no_longer_eligible, 1);
        assert_eq!(p.newly_undetermined, 1);
        assert_eq!(p.amount_up, 1);
        assert_eq!(p.unchanged, 2);
        assert_eq!(p.changed, 3);
        assert_eq!(p.notify, 2);
        assert_eq!(p.amount_before, Decimal::from(30));
        assert_eq!(p.amount_after, Decimal::from(32));
    }
}
