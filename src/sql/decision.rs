//! A policy's decision in SQL, as `crate::eval` decides it for one subject: every
//! clause evaluated; a false one makes it not eligible (every false clause listed);
//! else the first clause in error is the decision's error; else the amount (its
//! rules in order, the first whose guard holds) is computed, its error counting only
//! when no clause erred and nothing is missing; unknown clauses and an unknown amount
//! make it undetermined with their missing fields.

use super::cell::{Cell, Kind, Part, NO_PATHS};
use super::compile::{Compiled, Compiler, Frame, Unsupported};
use super::operators::any_state;
use super::Dialect;
use crate::ir::{AmountDef, AmountGuard, PolicyDef};

/// A decision as columns of the subject's scope.
#[derive(Debug, Clone)]
pub(crate) struct DecisionCols {
    /// `eligible`, `not_eligible`, `undetermined` or `error`.
    pub outcome: Part,
    /// The amount, null unless eligible with one.
    pub amount: Part,
    /// Its unit.
    pub unit: Part,
    /// Its period.
    pub period: Part,
    /// Its extras, a JSON object text (null when none).
    pub extras: Part,
    /// The false clauses (a text array).
    pub failed: Part,
    /// The missing fields (a text array).
    pub missing: Part,
    /// Where the error is: a clause id or `amount`.
    pub error_at: Part,
    /// The error's kind code.
    pub error_kind: Part,
    /// The layer they are in.
    pub level: usize,
}

impl DecisionCols {
    /// The parts in output order.
    pub fn parts(&self) -> [&Part; 9] {
        [
            &self.outcome,
            &self.amount,
            &self.unit,
            &self.period,
            &self.extras,
            &self.failed,
            &self.missing,
            &self.error_at,
            &self.error_kind,
        ]
    }
}

impl<'r> Compiler<'r> {
    /// The decision of policy `index` for the subject (computed once).
    pub(crate) fn decide(&mut self, index: usize) -> Compiled<DecisionCols> {
        if let Some(Some(d)) = self.decided.get(index) {
            return Ok(d.clone());
        }
        if self.deciding.contains(&index) {
            return Err(Unsupported("internal: a cycle of policy references".into()));
        }
        let rules = self.rules;
        let p = rules
            .program
            .policies
            .get(index)
            .ok_or_else(|| Unsupported("internal: no such policy".into()))?;
        self.deciding.push(index);
        let d = self.decide_policy(p);
        self.deciding.retain(|&i| i != index);
        let d = d?;
        if let Some(slot) = self.decided.get_mut(index) {
            *slot = Some(d.clone());
        }
        Ok(d)
    }

    fn decide_policy(&mut self, p: &'r PolicyDef) -> Compiled<DecisionCols> {
        let d = self.dialect;
        if !p.in_force(self.date) {
            let lit = |s: &str| Part::lit(d.text(s));
            return Ok(DecisionCols {
                outcome: lit("not_eligible"),
                amount: Part::lit(d.null(&Kind::Dec)),
                unit: Part::lit(d.null(&Kind::Str)),
                period: Part::lit(d.null(&Kind::Str)),
                extras: Part::lit(d.null(&Kind::Str)),
                failed: Part::lit(d.text_array(&["C0".to_string()])),
                missing: Part::lit(d.empty_array()),
                error_at: Part::lit(d.null(&Kind::Str)),
                error_kind: Part::lit(d.null(&Kind::Str)),
                level: 0,
            });
        }
        if let Some(pi) = &p.per_item {
            return self.decide_items(p, pi);
        }
        let mut frame = Frame::new(0, p.locals, &p.lets);
        self.decide_in(p, &mut frame)
    }

    /// The clauses and the amount of `p` in `frame`'s scope (the subject's, or an
    /// item's), assembled.
    pub(crate) fn decide_in(
        &mut self,
        p: &'r PolicyDef,
        frame: &mut Frame<'r>,
    ) -> Compiled<DecisionCols> {
        let mut clauses = vec![];
        for c in &p.clauses {
            let scope = frame.scope;
            clauses.push((c.id.clone(), self.expr(&c.condition, frame, scope)?));
        }
        let amount = self.amount(p, frame)?;
        self.assemble(&clauses, amount, frame.scope)
    }

    /// The amount: the first rule whose guard holds (a guard in error or unknown is
    /// the result), its value and extras; no rule is `no-amount` (or, without amount
    /// rules, no amount at all: state 1).
    fn amount(&mut self, p: &'r PolicyDef, frame: &mut Frame<'r>) -> Compiled<AmountCell> {
        let d = self.dialect;
        let mut arms: Vec<(Option<Cell>, AmountCell)> = vec![];
        for a in &p.amounts {
            let guard = match &a.guard {
                AmountGuard::Always => None,
                AmountGuard::When(g) => Some(self.expr(g, frame, frame.scope)?),
            };
            arms.push((guard, self.amount_rule(a, frame)?));
        }
        let no_rule = if p.amounts.is_empty() {
            ("1", "NULL".to_string())
        } else {
            ("3", d.text("no-amount"))
        };
        let mut parts: [Vec<String>; 7] = Default::default();
        let mut operands: Vec<Cell> = vec![];
        for (guard, rule) in &arms {
            let (cond, on_guard) = match guard {
                Some(g) => (
                    g.is_true(),
                    Some((g.s.sql.clone(), g.m.sql.clone(), g.e.sql.clone())),
                ),
                None => ("TRUE".to_string(), None),
            };
            let picks = [
                &rule.cell.v.sql,
                &rule.cell.s.sql,
                &rule.cell.m.sql,
                &rule.cell.e.sql,
                &rule.unit,
                &rule.period,
                &rule.extras.sql,
            ];
            for (i, (list, pick)) in parts.iter_mut().zip(picks).enumerate() {
                if let Some((gs, gm, ge)) = &on_guard {
                    let (on_e, on_u) = match i {
                        1 => ("3".to_string(), "2".to_string()),
                        2 => (NO_PATHS.to_string(), gm.clone()),
                        3 => (ge.clone(), "NULL".to_string()),
                        _ => ("NULL".to_string(), "NULL".to_string()),
                    };
                    list.push(format!(
                        "WHEN {gs} = 3 THEN {on_e} WHEN {gs} = 2 THEN {on_u}"
                    ));
                }
                list.push(format!("WHEN {cond} THEN {pick}"));
            }
            if let Some(g) = guard {
                operands.push(g.clone());
            }
            operands.push(rule.cell.clone());
            operands.push(Cell::known(frame.scope, Kind::Str, rule.extras.clone()));
        }
        let defaults = [
            "NULL".to_string(),
            no_rule.0.to_string(),
            NO_PATHS.into(),
            no_rule.1,
            "NULL".into(),
            "NULL".into(),
            "NULL".into(),
        ];
        let ops: Vec<&Cell> = operands.iter().collect();
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.extend(c.parts());
        }
        let sqls: Vec<Part> = parts
            .iter()
            .zip(defaults)
            .map(|(arms, dflt)| {
                if arms.is_empty() {
                    Part::lit(dflt)
                } else {
                    Part::of(format!("CASE {} ELSE {dflt} END", arms.join(" ")), &deps)
                }
            })
            .collect();
        let [v, s, m, e, unit, period, extras]: [Part; 7] = sqls
            .try_into()
            .map_err(|_| Unsupported("internal: amount".into()))?;
        let cell = self.node(frame.scope, &ops, Kind::Dec, [v, s, m, e])?;
        let extra = self.node(
            frame.scope,
            &ops,
            Kind::Str,
            [unit, period, extras, Part::lit("NULL")],
        )?;
        Ok(AmountCell {
            unit: extra.v.sql.clone(),
            period: extra.s.sql.clone(),
            extras: extra.m.clone(),
            cell: Cell {
                level: cell.level.max(extra.level),
                ..cell
            },
            extra_parts: vec![extra.v, extra.s, extra.m],
        })
    }

    /// One amount rule as if chosen: the first error of its value and extras, else
    /// their missing fields, else `no-amount` for a none value, `amount-precision` for
    /// more than two decimal places, else the amount.
    fn amount_rule(&mut self, a: &'r AmountDef, frame: &mut Frame<'r>) -> Compiled<AmountCell> {
        let d = self.dialect;
        let value = self.expr(&a.value, frame, frame.scope)?;
        let mut extras = vec![];
        for (name, e) in &a.extras {
            extras.push((name.clone(), self.expr(e, frame, frame.scope)?));
        }
        let mut ops: Vec<&Cell> = vec![&value];
        ops.extend(extras.iter().map(|(_, c)| c));
        let any_error = any_state(&ops, "3");
        let any_unknown = any_state(&ops, "2");
        let x = d.as_decimal(&value.v.sql);
        let vs = &value.s.sql;
        let imprecise = format!("({x} <> ROUND({x}, 2))");
        let s = format!(
            "CASE WHEN {any_error} THEN 3 WHEN {any_unknown} THEN 2 WHEN {vs} = 1 THEN 3 WHEN {imprecise} THEN 3 ELSE 0 END"
        );
        let first = self.first_error(&ops);
        let e = format!(
            "CASE WHEN {any_error} THEN {} WHEN {any_unknown} THEN NULL WHEN {vs} = 1 THEN {} WHEN {imprecise} THEN {} END",
            first.sql,
            d.text("no-amount"),
            d.text("amount-precision")
        );
        let m = self.missing_union(&ops);
        let v =
            format!("CASE WHEN {any_error} OR {any_unknown} OR {vs} <> 0 THEN NULL ELSE {x} END");
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.extend(c.parts());
        }
        let cell = self.node(
            frame.scope,
            &ops,
            Kind::Dec,
            [
                Part::of(v, &deps),
                Part::of(s, &deps),
                m,
                Part::of(e, &deps),
            ],
        )?;
        let extras_json = self.extras_json(&extras)?;
        Ok(AmountCell {
            unit: d.text(&a.unit),
            period: d.text(&a.period),
            extras: extras_json,
            cell,
            extra_parts: vec![],
        })
    }

    /// The known extras as a JSON object text (none and unknown ones left out).
    fn extras_json(&self, extras: &[(String, Cell)]) -> Compiled<Part> {
        let d = self.dialect;
        if extras.is_empty() {
            return Ok(Part::lit(d.null(&Kind::Str)));
        }
        let mut fields = vec![];
        let mut deps: Vec<&Part> = vec![];
        for (name, c) in extras {
            let shown = self.render_value(c)?;
            fields.push((
                name.clone(),
                format!("CASE WHEN {} = 0 THEN {shown} END", c.s.sql),
            ));
            deps.push(&c.s);
            deps.push(&c.v);
        }
        let sql = match d {
            Dialect::Postgres => format!(
                "CAST(json_strip_nulls(json_build_object({})) AS TEXT)",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}, {v}", d.text(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Dialect::Spark => format!(
                "to_json(named_struct({}))",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}, {v}", d.text(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok(Part::of(sql, &deps))
    }

    /// A known value as the outputs show it: numbers and booleans as they are, enums
    /// by name, dates and text as text.
    fn render_value(&self, c: &Cell) -> Compiled<String> {
        let d = self.dialect;
        Ok(match &c.kind {
            Kind::Enum(e) => {
                let def = self
                    .rules
                    .schema
                    .enum_def(*e)
                    .ok_or_else(|| Unsupported("internal: enum".into()))?;
                let arms: Vec<String> = def
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("WHEN {i} THEN {}", d.text(v)))
                    .collect();
                format!("CASE {} {} END", c.v.sql, arms.join(" "))
            }
            Kind::Date => d.to_text(&c.v.sql),
            Kind::Int | Kind::Dec | Kind::Bool | Kind::Str => c.v.sql.clone(),
            _ => return Err(Unsupported("an extra that is a record or a list".into())),
        })
    }

    /// The decision from the clauses and the amount.
    pub(crate) fn assemble(
        &mut self,
        clauses: &[(String, Cell)],
        amount: AmountCell,
        scope: usize,
    ) -> Compiled<DecisionCols> {
        let d = self.dialect;
        let cells: Vec<&Cell> = clauses.iter().map(|(_, c)| c).collect();
        let any_false = if cells.is_empty() {
            "FALSE".to_string()
        } else {
            format!(
                "({})",
                cells
                    .iter()
                    .map(|c| c.is_false())
                    .collect::<Vec<_>>()
                    .join(" OR ")
            )
        };
        let any_error = any_state(&cells, "3");
        let any_unknown = any_state(&cells, "2");
        let failed_items: Vec<String> = clauses
            .iter()
            .map(|(id, c)| format!("CASE WHEN {} THEN {} END", c.is_false(), d.text(id)))
            .collect();
        let failed = format!(
            "CASE WHEN {any_false} THEN {} ELSE {} END",
            d.compact(&failed_items),
            d.empty_array()
        );
        let error_arms: Vec<(String, String)> = clauses
            .iter()
            .filter(|(_, c)| c.may_err())
            .map(|(id, c)| (c.state_is("3"), d.text(id)))
            .collect();
        let clause_error_at = case_of(&error_arms);
        let clause_error_kind = case_of(
            &clauses
                .iter()
                .filter(|(_, c)| c.may_err())
                .map(|(_, c)| (c.state_is("3"), c.e.sql.clone()))
                .collect::<Vec<_>>(),
        );
        let clause_missing = self.missing_union(&cells);
        let a = &amount.cell;
        let missing = d.union(&[
            clause_missing.sql.clone(),
            format!("CASE WHEN {} = 2 THEN {} END", a.s.sql, a.m.sql),
        ]);
        let amount_error = format!("({} = 3 AND {})", a.s.sql, d.is_empty(&missing));
        let error_at = format!(
            "CASE WHEN {any_false} THEN NULL WHEN {any_error} THEN {clause_error_at} WHEN {amount_error} THEN {} END",
            d.text("amount")
        );
        let error_kind = format!(
            "CASE WHEN {any_false} THEN NULL WHEN {any_error} THEN {clause_error_kind} WHEN {amount_error} THEN {} END",
            a.e.sql
        );
        let undecided = format!(
            "({any_error} OR {any_unknown} OR NOT {})",
            d.is_empty(&missing)
        );
        let outcome = format!(
            "CASE WHEN {any_false} THEN 'not_eligible' WHEN {any_error} OR {amount_error} THEN 'error' WHEN {undecided} THEN 'undetermined' ELSE 'eligible' END"
        );
        let eligible = format!("(NOT {any_false} AND NOT {amount_error} AND NOT {undecided})");
        let when_eligible =
            |x: &str| format!("CASE WHEN {eligible} AND {} = 0 THEN {x} END", a.s.sql);
        let mut deps: Vec<&Part> = vec![];
        for c in &cells {
            deps.extend(c.parts());
        }
        deps.extend(a.parts());
        deps.push(&amount.extras);
        deps.extend(amount.extra_parts.iter());
        let mk = |sql: String| Part::of(sql, &deps);
        let cols = [
            mk(outcome),
            mk(d.as_decimal(&when_eligible(&a.v.sql))),
            mk(when_eligible(&amount.unit)),
            mk(when_eligible(&amount.period)),
            mk(when_eligible(&amount.extras.sql)),
            mk(failed),
            mk(format!(
                "CASE WHEN {any_false} THEN {} ELSE {missing} END",
                d.empty_array()
            )),
            mk(error_at),
            mk(error_kind),
        ];
        let level = cells
            .iter()
            .map(|c| c.level)
            .chain([a.level])
            .max()
            .unwrap_or(0)
            + 1;
        let mut out = vec![];
        for part in cols {
            let name = self.fresh("d");
            self.scopes
                .get_mut(scope)
                .ok_or_else(|| Unsupported("internal: scope".into()))?
                .add(
                    level,
                    super::relation::Computed {
                        name: name.clone(),
                        sql: part.sql,
                        deps: part.deps,
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

    /// `eligible(P)` (or `amount(P)`): P's decision read as a value.
    pub(crate) fn policy_read(&mut self, p: usize, amount: bool, scope: usize) -> Compiled<Cell> {
        let dec = self.decide(p)?;
        let o = &dec.outcome.sql;
        let s = if amount {
            format!(
                "CASE {o} WHEN 'error' THEN 3 WHEN 'undetermined' THEN 2 WHEN 'eligible' THEN CASE WHEN {} IS NULL THEN 1 ELSE 0 END ELSE 1 END",
                dec.amount.sql
            )
        } else {
            format!("CASE {o} WHEN 'error' THEN 3 WHEN 'undetermined' THEN 2 ELSE 0 END")
        };
        let v = if amount {
            dec.amount.sql.clone()
        } else {
            format!("({o} = 'eligible')")
        };
        let deps = [&dec.outcome, &dec.amount, &dec.missing, &dec.error_kind];
        let kind = if amount { Kind::Dec } else { Kind::Bool };
        let read = Cell {
            scope: 0,
            level: dec.level,
            v: Part::of(v, &deps),
            s: Part::of(s, &deps),
            m: dec.missing.clone(),
            e: dec.error_kind.clone(),
            kind,
        };
        let level = dec.level + 1;
        let read = self.put(read, level)?;
        self.import(read, scope)
    }
}

/// An amount: the chosen rule's cell with its unit, period and extras.
pub(crate) struct AmountCell {
    unit: String,
    period: String,
    extras: Part,
    cell: Cell,
    extra_parts: Vec<Part>,
}

/// `CASE WHEN c THEN v … END` (NULL without arms).
fn case_of(arms: &[(String, String)]) -> String {
    if arms.is_empty() {
        return "NULL".into();
    }
    format!(
        "CASE {} END",
        arms.iter()
            .map(|(c, v)| format!("WHEN {c} THEN {v}"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

impl Dialect {
    /// The non-null items of an array of texts, in order.
    pub(crate) fn compact(self, items: &[String]) -> String {
        if items.is_empty() {
            return self.empty_array();
        }
        match self {
            Dialect::Postgres => format!("array_remove(ARRAY[{}]::text[], NULL)", items.join(", ")),
            Dialect::Spark => format!("filter(array({}), x -> x IS NOT NULL)", items.join(", ")),
        }
    }

    /// SQL: whether a text array is empty.
    pub(crate) fn is_empty(self, array: &str) -> String {
        match self {
            Dialect::Postgres => format!("(cardinality({array}) = 0)"),
            Dialect::Spark => format!("(size({array}) = 0)"),
        }
    }
}
