//! Policies find people: who a change of the rules (or the passing of time) reaches,
//! who is one step from eligible, and which missing data blocks decisions.
//!
//! * **Change impact** ([`compare`], [`change`], [`PolicyImpact`]): the decisions that
//!   differ between two versions of the rules — two rule sets on one date, one rule set
//!   on two dates (a parameter step, an age, an effective period crossed) — with the
//!   clauses whose value changed and whether the subject is to be told. The batch
//!   streams it over a population ([`crate::batch::diff_json_lines`], `mianshen diff`).
//! * **Near misses** ([`near_misses`], [`explain_failed`]): not-eligible decisions
//!   that fail at most `K` clauses, each failed clause with how far the record is from
//!   it (`mianshen run --near-miss`, `mianshen eval --near-miss`).
//! * **Missing data**: undetermined decisions counted per missing field
//!   ([`field_of`] names the field of a missing path), in the batch's summary.
//! * **Visit lists** ([`visit_plan`], [`Visit`]): per subject, the facts to collect
//!   that settle every undetermined decision, grouped for grid workers
//!   (`mianshen run --visits-by PATH`).
//!
//! A host reaches them through [`crate::RuleSet::compare`],
//! [`crate::RuleSet::near_misses`], [`crate::RuleSet::diff_json_lines`] and
//! [`crate::Summary::missing`].

mod change;
mod near;
mod report;
mod visit;

pub use change::{
    change, changed_clauses, compare, differs, notify, policy_pairs, Change, PolicyImpact,
    Presence, Side, Version,
};
pub use near::{
    explain_failed, is_near_miss, near_miss, near_misses, op_text, Miss, MissKind, NearMiss,
};

pub use report::render_report;
pub use visit::{
    contact_paths, group_file_name, json_at, order, render_csv, render_html, schema_field,
    visit_plan, Visit, VisitFact, VisitNear, VisitStake, WORTH_TELLING_DAYS,
};

/// Why two versions of the rules cannot be compared on one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    /// The rule sets read records with different schemas: one [`crate::Record`] cannot
    /// stand for the subject under both.
    #[error("the two rule sets read records with different schemas: read the record with each and call reach::compare")]
    SchemaDiffers,
}

use std::borrow::Cow;

/// The field a missing path names, list items written `[]`:
/// `household.members[M1].monthly_income` → `household.members[].monthly_income`. The
/// fields of a rule set's schema are finitely many, so counts kept per field stay
/// small however large the population.
///
/// ```
/// assert_eq!(
///     mianshen::internals::reach::field_of("household.members[P1-M1].birth_date"),
///     "household.members[].birth_date"
/// );
/// use mianshen::internals::reach::field_of;
/// assert_eq!(field_of("person.birth_date"), "person.birth_date");
/// ```
pub fn field_of(path: &str) -> Cow<'_, str> {
    if !path.contains('[') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(rest.get(..=open).unwrap_or_default());
        let after = rest.get(open + 1..).unwrap_or_default();
        // An item id may itself hold brackets: the item ends at the `]` that ends the
        // path or is followed by `.` or `[`.
        let close = after
            .char_indices()
            .filter(|&(i, c)| {
                c == ']'
                    && matches!(
                        after.get(i + 1..).and_then(|s| s.chars().next()),
                        None | Some('.') | Some('[')
                    )
            })
            .map(|(i, _)| i)
            .next();
        match close {
            Some(c) => {
                out.push(']');
                rest = after.get(c + 1..).unwrap_or_default();
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_lose_their_ids() {
        assert_eq!(field_of("a[x].b[y].c"), "a[].b[].c");
        assert_eq!(field_of("a[x]"), "a[]");
        assert_eq!(field_of("a[x]y].b"), "a[].b");
        assert_eq!(field_of("a[x"), "a[x");
    }
}
