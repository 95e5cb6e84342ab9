//! A policy decided item by item (`for each`), as `crate::eval` decides it: each
//! item selected by the `where` is decided on its own (its definitions, clauses and
//! amount in the item's scope); the policy is eligible when an item is (the amounts
//! summed), else undetermined when an item is (the first item's error, every such
//! item's missing fields), else not eligible.

use super::cell::{Cell, Part};
use super::compile::{Compiled, Compiler, Frame, Unsupported};
use super::decision::DecisionCols;
use super::quantify::{first_by_position, union_agg, Fold};
use super::relation::Computed;
use crate::ir::{PerItemDef, PolicyDef};

/// Where a decision's error is when the `where` of `for each` could not be decided.
const FILTER_AT: &str = "for each … where";

impl<'r> Compiler<'r> {
    /// The decision of a per-item policy for the subject.
    pub(crate) fn decide_items(
        &mut self,
        p: &'r PolicyDef,
        pi: &'r PerItemDef,
    ) -> Compiled<DecisionCols> {
        let mut subject_frame = Frame::new(0, p.locals, &p.lets);
        let list = self.expr(&pi.list, &mut subject_frame, 0)?;
        let (inner, item) = self.open_items(&list, 0)?;
        let mut frame = Frame::new(inner, p.locals, &p.lets);
        if let Some(slot) = frame.locals.get_mut(pi.var) {
            *slot = Some(item);
        }
        let filter = match &pi.filter {
            Some(f) => Some(self.expr(f, &mut frame, inner)?),
            None => None,
        };
        let item_decision = self.decide_in(p, &mut frame)?;
        let total_of = p
            .total
            .as_ref()
            .map(|(_, of)| of.as_str())
            .filter(|of| *of != "value");
        let adjusted = self.filtered(inner, &item_decision, filter.as_ref(), total_of)?;
        let fold = self.items_fold(p, &adjusted)?;
        let (alias, level) = self.join_fold(inner, fold, &list, 0)?;
        self.items_decision(&list, &alias, level)
    }

    /// An item's decision after its `where`: left out when false (`skip`); an error of
    /// the `where` is the item's error; an unknown `where` makes a decision that is not
    /// "not eligible" undetermined, with the `where`'s missing fields added.
    fn filtered(
        &mut self,
        inner: usize,
        dec: &DecisionCols,
        filter: Option<&Cell>,
        total_of: Option<&str>,
    ) -> Compiled<Vec<String>> {
        let d = self.dialect;
        let [o, amount, unit, period, extras, _failed, missing, at, kind] = dec.parts();
        // What an item adds to the total: its amount, or the extra the `total` names
        // (a number; an item without it adds nothing).
        let counted = match total_of {
            None => amount.clone(),
            Some(of) => Part::of(
                format!(
                    "CASE WHEN {} IS NOT NULL THEN COALESCE({}, 0) END",
                    amount.sql,
                    d.json_number(&extras.sql, of)
                ),
                &[amount, extras],
            ),
        };
        let amount = &counted;
        let outcome_of = o.sql.clone();
        let (outcome, amount_sql, missing_sql, at_sql, kind_sql, deps) = match filter {
            None => (
                outcome_of,
                amount.sql.clone(),
                missing.sql.clone(),
                at.sql.clone(),
                kind.sql.clone(),
                vec![],
            ),
            Some(f) => {
                let fs = &f.s.sql;
                let unknown_outcome = format!(
                    "CASE WHEN {o} IN ('not_eligible', 'error') THEN {o} ELSE 'undetermined' END",
                    o = outcome_of
                );
                (
                    format!(
                        "CASE WHEN {fs} = 3 THEN 'error' WHEN {fs} = 2 THEN {unknown_outcome} WHEN NOT {} THEN 'skip' ELSE {outcome_of} END",
                        f.is_true()
                    ),
                    format!("CASE WHEN {} THEN {} END", f.is_true(), amount.sql),
                    format!(
                        "CASE WHEN {fs} = 2 AND {outcome_of} <> 'not_eligible' THEN {} ELSE {} END",
                        d.union(&[missing.sql.clone(), f.m.sql.clone()]),
                        missing.sql
                    ),
                    format!("CASE WHEN {fs} = 3 THEN {} ELSE {} END", d.text(FILTER_AT), at.sql),
                    format!("CASE WHEN {fs} = 3 THEN {} ELSE {} END", f.e.sql, kind.sql),
                    f.parts().iter().flat_map(|p| p.deps.clone()).collect(),
                )
            }
        };
        let level = dec.level.max(filter.map_or(0, |f| f.level)) + 1;
        let mut names = vec![];
        for (sql, part) in [
            (outcome, o),
            (amount_sql, amount),
            (unit.sql.clone(), unit),
            (period.sql.clone(), period),
            (missing_sql, missing),
            (at_sql, at),
            (kind_sql, kind),
        ] {
            let name = self.fresh("i");
            let mut all = deps.clone();
            all.extend(part.deps.iter().cloned());
            all.extend(o.deps.iter().cloned());
            self.scopes
                .get_mut(inner)
                .ok_or_else(|| Unsupported("internal: scope".into()))?
                .add(
                    level,
                    Computed {
                        name: name.clone(),
                        sql,
                        deps: all,
                    },
                );
            names.push(name);
        }
        names.push(level.to_string());
        Ok(names)
    }

    /// The fold of the items' decisions, in the items' order.
    fn items_fold(&self, p: &PolicyDef, cols: &[String]) -> Compiled<Fold> {
        let d = self.dialect;
        let [o, amount, unit, period, missing, at, kind, level] = cols else {
            return Err(Unsupported("internal: item columns".into()));
        };
        let level: usize = level.parse().unwrap_or(0);
        let eligible = format!("{o} = 'eligible'");
        let undecided = format!("{o} IN ('undetermined', 'error')");
        let error = format!("{o} = 'error'");
        let any = |c: &str| format!("(MAX(CASE WHEN {c} THEN 1 ELSE 0 END) = 1)");
        let (any_el, any_und) = (any(&eligible), any(&undecided));
        let with_amount = format!("{eligible} AND {amount} IS NOT NULL");
        let total = format!("SUM(CASE WHEN {eligible} THEN {amount} END)");
        let first_unit = first_by_position(d, &with_amount, unit);
        let first_period = match &p.total {
            Some((per, _)) => d.text(per),
            None => first_by_position(d, &with_amount, period),
        };
        let first_at = first_by_position(d, &error, at);
        let first_kind = first_by_position(d, &error, kind);
        let missing_union = union_agg(d, &undecided, missing);
        let select = [
            format!(
                "CASE WHEN {any_el} THEN 'eligible' WHEN {any_und} THEN CASE WHEN {first_at} IS NOT NULL THEN 'error' ELSE 'undetermined' END ELSE 'not_eligible' END AS r_outcome"
            ),
            format!("CASE WHEN {any_el} THEN {total} END AS r_amount"),
            format!("CASE WHEN {any_el} AND {total} IS NOT NULL THEN {first_unit} END AS r_unit"),
            format!("CASE WHEN {any_el} AND {total} IS NOT NULL THEN {first_period} END AS r_period"),
            format!("CASE WHEN NOT {any_el} AND {any_und} THEN {missing_union} END AS r_missing"),
            format!("CASE WHEN NOT {any_el} THEN {first_at} END AS r_at"),
            format!("CASE WHEN NOT {any_el} THEN {first_kind} END AS r_kind"),
        ]
        .join(", ");
        Ok(Fold {
            select,
            level,
            outputs: vec![
                o.clone(),
                amount.clone(),
                unit.clone(),
                period.clone(),
                missing.clone(),
                at.clone(),
                kind.clone(),
            ],
        })
    }

    /// The policy's decision in the subject's scope: the list's own state first
    /// (unknown: undetermined; an error: the error, at `for each`; none or no items:
    /// not eligible), then the fold.
    fn items_decision(&mut self, list: &Cell, alias: &str, level: usize) -> Compiled<DecisionCols> {
        let d = self.dialect;
        let ls = &list.s.sql;
        let none = format!("({ls} = 1 OR {alias}._key IS NULL)");
        let pick = |unknown: &str, error: &str, empty: &str, folded: String| {
            format!(
                "CASE WHEN {ls} = 2 THEN {unknown} WHEN {ls} = 3 THEN {error} WHEN {none} THEN {empty} ELSE {folded} END"
            )
        };
        let null = "NULL";
        let empty = d.empty_array();
        let text_null = d.null(&super::cell::Kind::Str);
        let columns = [
            pick(
                "'undetermined'",
                "'error'",
                "'not_eligible'",
                format!("{alias}.r_outcome"),
            ),
            pick(null, null, null, format!("{alias}.r_amount")),
            pick(null, null, null, format!("{alias}.r_unit")),
            pick(null, null, null, format!("{alias}.r_period")),
            text_null,
            empty.clone(),
            pick(
                &list.m.sql,
                &empty,
                &empty,
                format!("COALESCE({alias}.r_missing, {empty})"),
            ),
            pick(
                null,
                &d.text(crate::eval::FOR_EACH_AT),
                null,
                format!("{alias}.r_at"),
            ),
            pick(null, &list.e.sql, null, format!("{alias}.r_kind")),
        ];
        let deps = Part::of("", &list.parts()).deps;
        let mut out = vec![];
        for sql in columns {
            let name = self.fresh("d");
            self.scopes
                .get_mut(0)
                .ok_or_else(|| Unsupported("internal: scope".into()))?
                .add(
                    level,
                    Computed {
                        name: name.clone(),
                        sql,
                        deps: deps.clone(),
                    },
                );
            out.push(Part::col(name));
        }
        let [outcome, amount, unit, period, extras, failed, missing, error_at, error_kind]: [Part;
            9] = out
            .try_into()
            .map_err(|_| Unsupported("internal: decision".into()))?;
        Ok(DecisionCols {
            outcome,
            amount,
            unit,
            period,
            extras,
            failed,
            missing,
            error_at,
            error_kind,
            level,
        })
    }
}
