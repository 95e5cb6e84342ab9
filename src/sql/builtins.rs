//! Built-in functions, parameters and scales in SQL. The calendar rules are those of
//! `crate::semantics::calendar`: an age completes on the birthday, a 29 February
//! birthday on 28 February in a common year; months add with the day clamped to the
//! month's end; the reference date and the parameters are folded when compiling.

use super::cell::{Cell, Kind, Part};
use super::compile::{Compiled, Compiler, Frame, Unsupported};
use crate::ir::{Builtin, DateUnit, Expr, ScaleOp};
use crate::semantics::number;
use chrono::NaiveDate;

impl<'r> Compiler<'r> {
    /// A built-in: strict in every argument (durations are literals).
    pub(crate) fn builtin(
        &mut self,
        b: Builtin,
        args: &'r [Expr],
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let mut cells = vec![];
        let mut duration = None;
        for a in args {
            match a {
                Expr::Duration(n, unit) => duration = Some((*n, *unit)),
                _ => cells.push(self.expr(a, frame, scope)?),
            }
        }
        let ops: Vec<&Cell> = cells.iter().collect();
        let d = self.dialect;
        let arg = |i: usize| -> Compiled<&Cell> {
            cells
                .get(i)
                .ok_or_else(|| Unsupported("internal: a built-in without its argument".into()))
        };
        let first = arg(0)?;
        let (kind, value, fault): (Kind, String, Option<(String, &str)>) = match b {
            Builtin::Age => {
                let on = match cells.get(1) {
                    Some(c) => c.v.sql.clone(),
                    None => d.date(self.date),
                };
                (Kind::Int, self.age_sql(&first.v.sql, &on), None)
            }
            Builtin::MonthDiff => {
                let second = arg(1)?;
                let months = |x: &str| {
                    format!(
                        "({} * 12 + {})",
                        d.date_part("YEAR", x),
                        d.date_part("MONTH", x)
                    )
                };
                (
                    Kind::Int,
                    format!("({} - {})", months(&second.v.sql), months(&first.v.sql)),
                    None,
                )
            }
            Builtin::Year => (Kind::Int, d.date_part("YEAR", &first.v.sql), None),
            Builtin::Month => (Kind::Int, d.date_part("MONTH", &first.v.sql), None),
            Builtin::Day => (Kind::Int, d.date_part("DAY", &first.v.sql), None),
            Builtin::AddDays | Builtin::AddMonths | Builtin::AddYears => {
                let unit = match b {
                    Builtin::AddDays => DateUnit::Days,
                    Builtin::AddMonths => DateUnit::Months,
                    _ => DateUnit::Years,
                };
                let n = arg(1)?;
                let (shifted, fault) = self.shift_sql(&first.v.sql, &n.v.sql, unit);
                (Kind::Date, shifted, Some((fault, "invalid-date")))
            }
            Builtin::MakeDate => {
                let (y, m, dd) = (&arg(0)?.v.sql, &arg(1)?.v.sql, &arg(2)?.v.sql);
                // Years from 1 (the databases have no year 0), up to the last both
                // calendars hold.
                let last = match d {
                    super::Dialect::Postgres => 262_142,
                    super::Dialect::Spark => 9999,
                };
                let valid = format!(
                    "({y} BETWEEN 1 AND {last} AND {m} BETWEEN 1 AND 12 AND {dd} BETWEEN 1 AND {})",
                    days_in_month_sql(y, m)
                );
                let make = match d {
                    super::Dialect::Postgres => format!(
                        "make_date(CAST({y} AS INTEGER), CAST({m} AS INTEGER), CAST({dd} AS INTEGER))"
                    ),
                    super::Dialect::Spark => format!(
                        "make_date(CAST({y} AS INT), CAST({m} AS INT), CAST({dd} AS INT))"
                    ),
                };
                (
                    Kind::Date,
                    format!("CASE WHEN {valid} THEN {make} END"),
                    Some((format!("NOT {valid}"), "invalid-date")),
                )
            }
            Builtin::WithinLast => {
                let Some((n, unit)) = duration else {
                    return Err(Unsupported(
                        "internal: within_last without a duration".into(),
                    ));
                };
                return self.within_last(first.clone(), n, unit, scope);
            }
            Builtin::Min | Builtin::Max => {
                let any_dec = ops.iter().any(|c| c.kind == Kind::Dec);
                let kind = if any_dec {
                    Kind::Dec
                } else {
                    first.kind.clone()
                };
                let sqls: Vec<String> = ops.iter().map(|c| self.coerce(c, &kind).sql).collect();
                let f = if b == Builtin::Min {
                    "LEAST"
                } else {
                    "GREATEST"
                };
                let sqls = if kind == Kind::Str {
                    sqls.iter().map(|s| d.bytewise(s)).collect()
                } else {
                    sqls
                };
                (kind, format!("{f}({})", sqls.join(", ")), None)
            }
            Builtin::Round | Builtin::RoundHalfEven => {
                return self.round(&cells, b == Builtin::RoundHalfEven, scope)
            }
            Builtin::Floor | Builtin::Ceil => {
                let f = if b == Builtin::Floor { "FLOOR" } else { "CEIL" };
                let x = d.as_decimal(&first.v.sql);
                (
                    Kind::Int,
                    format!("CAST({f}({x}) AS BIGINT)"),
                    Some((
                        format!(
                            "{f}({x}) NOT BETWEEN -9223372036854775808 AND 9223372036854775807"
                        ),
                        "overflow",
                    )),
                )
            }
            Builtin::Abs if first.kind == Kind::Int => (
                Kind::Int,
                format!("CAST(ABS({}) AS BIGINT)", d.wide(&first.v.sql)),
                Some((
                    format!("ABS({}) > 9223372036854775807", d.wide(&first.v.sql)),
                    "overflow",
                )),
            ),
            Builtin::Abs => (
                Kind::Dec,
                format!("ABS({})", d.as_decimal(&first.v.sql)),
                None,
            ),
            Builtin::Len => return self.length(first.clone(), scope),
        };
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.push(&c.v);
        }
        let value = Part::of(value, &deps);
        self.strict_node(scope, &ops, kind, value, fault)
    }

    /// The completed years from `birth` to `on` (both SQL dates).
    fn age_sql(&self, birth: &str, on: &str) -> String {
        let d = self.dialect;
        let (by, bm, bd) = (
            d.date_part("YEAR", birth),
            d.date_part("MONTH", birth),
            d.date_part("DAY", birth),
        );
        let (oy, om, od) = (
            d.date_part("YEAR", on),
            d.date_part("MONTH", on),
            d.date_part("DAY", on),
        );
        let leap = format!("({oy} % 4 = 0 AND ({oy} % 100 <> 0 OR {oy} % 400 = 0))");
        let bd = format!("CASE WHEN {bm} = 2 AND {bd} = 29 AND NOT {leap} THEN 28 ELSE {bd} END");
        format!(
            "({oy} - {by} - CASE WHEN {om} < {bm} OR ({om} = {bm} AND {od} < {bd}) THEN 1 ELSE 0 END)"
        )
    }

    /// `within_last(d, K unit)`: `ref − K ≤ d ≤ ref`, the earliest day folded.
    fn within_last(&mut self, date: Cell, n: i64, unit: DateUnit, scope: usize) -> Compiled<Cell> {
        let d = self.dialect;
        let earliest = match number::shift(self.date, -n, unit) {
            Ok(e) => e,
            Err(_) => {
                return Ok(Cell::error(scope, Kind::Bool, "invalid-date", d));
            }
        };
        let value = Part::of(
            format!(
                "({v} >= {} AND {v} <= {})",
                d.date(earliest),
                d.date(self.date),
                v = date.v.sql
            ),
            &[&date.v],
        );
        self.strict_node(scope, &[&date], Kind::Bool, value, None)
    }

    /// `round(x, n)` (half away from zero) or `round_half_even(x, n)`; negative
    /// places are an error, more than 28 are 28.
    fn round(&mut self, cells: &[Cell], half_even: bool, scope: usize) -> Compiled<Cell> {
        let d = self.dialect;
        let x = cells
            .first()
            .ok_or_else(|| Unsupported("internal: round".into()))?;
        let places = cells.get(1);
        let ops: Vec<&Cell> = cells.iter().collect();
        let n = match places {
            None => "0".to_string(),
            Some(p) if p.v.is_lit() => {
                let n: i64 =
                    p.v.sql
                        .trim_start_matches("CAST(")
                        .split(' ')
                        .next()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| Unsupported("internal: round places".into()))?;
                if n < 0 {
                    return Ok(Cell::error(scope, Kind::Dec, "invalid-argument", d));
                }
                n.min(28).to_string()
            }
            Some(_) if d == super::Dialect::Spark => {
                return Err(Unsupported(
                    "`round` to a number of places computed per record (Spark needs a literal)"
                        .into(),
                ))
            }
            Some(p) => format!("LEAST(CAST({} AS INTEGER), 28)", p.v.sql),
        };
        let xv = d.as_decimal(&x.v.sql);
        let value = match (half_even, d) {
            (false, _) => format!("ROUND({xv}, {n})"),
            (true, super::Dialect::Spark) => format!("BROUND({xv}, {n})"),
            (true, super::Dialect::Postgres) => {
                // Half to even: a tie (the scaled value ends in exactly .5) goes to the
                // even neighbour.
                let scaled = format!("({xv} * POWER(CAST(10 AS NUMERIC), {n}))");
                format!(
                    "CASE WHEN ABS({scaled} - TRUNC({scaled})) = 0.5 THEN \
                     (TRUNC({scaled}) + CASE WHEN MOD(TRUNC({scaled}), 2) = 0 THEN 0 ELSE SIGN({scaled}) END) \
                     / POWER(CAST(10 AS NUMERIC), {n}) ELSE ROUND({xv}, {n}) END"
                )
            }
        };
        let fault = match places {
            Some(p) if !p.v.is_lit() => Some((format!("{} < 0", p.v.sql), "invalid-argument")),
            _ => None,
        };
        let mut deps: Vec<&Part> = vec![&x.v];
        if let Some(p) = places {
            deps.push(&p.v);
        }
        let value = Part::of(value, &deps);
        self.strict_node(scope, &ops, Kind::Dec, value, fault)
    }

    /// A parameter on `ref` (folded) or on a date computed per record.
    pub(crate) fn parameter(
        &mut self,
        p: usize,
        at: Option<&'r Expr>,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let rules = self.rules;
        let def = rules
            .program
            .params
            .get(p)
            .ok_or_else(|| Unsupported("internal: no such parameter".into()))?;
        let Some(at) = at else {
            return match def.value_on(self.date) {
                Some(v) => self.constant(v, scope),
                None => {
                    // The error, typed as the parameter's values are.
                    let kind = def
                        .steps
                        .iter()
                        .find_map(|s| s.value.as_ref())
                        .map(|v| self.constant(v, scope).map(|c| c.kind))
                        .transpose()?
                        .unwrap_or(Kind::NoneLit);
                    Ok(Cell::error(
                        scope,
                        kind,
                        "parameter-without-value",
                        self.dialect,
                    ))
                }
            };
        };
        let date = self.expr(at, frame, scope)?;
        let mut arms = vec![];
        let mut kind = Kind::NoneLit;
        for step in &def.steps {
            let Some(v) = &step.value else { continue };
            let c = self.constant(v, scope)?;
            kind = c.kind.clone();
            arms.push((self.covers(&date.v.sql, step.from, step.to), c.v.sql));
        }
        self.dated(date, arms, kind, scope)
    }

    /// `marginal(S, x)` / `bracket(S, x)`.
    pub(crate) fn scale(
        &mut self,
        op: ScaleOp,
        s: usize,
        x: &'r Expr,
        at: Option<&'r Expr>,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let rules = self.rules;
        let def = rules
            .program
            .scales
            .get(s)
            .ok_or_else(|| Unsupported("internal: no such scale".into()))?;
        let x = self.expr(x, frame, scope)?;
        let xv = self.dialect.as_decimal(&x.v.sql);
        let date = match at {
            Some(at) => self.expr(at, frame, scope)?,
            None => Cell::known(scope, Kind::Date, Part::lit(self.dialect.date(self.date))),
        };
        let mut arms = vec![];
        for step in &def.steps {
            let Some(brackets) = &step.value else {
                continue;
            };
            let sql = match op {
                ScaleOp::Marginal => self.marginal_sql(brackets.pairs(), &xv),
                ScaleOp::Bracket => self.bracket_sql(brackets.pairs(), &xv),
            };
            arms.push((self.covers(&date.v.sql, step.from, step.to), sql));
        }
        self.dated_with(&[&x, &date], &date, arms, Kind::Dec, &x, scope)
    }

    fn marginal_sql(
        &self,
        pairs: &[(rust_decimal::Decimal, rust_decimal::Decimal)],
        x: &str,
    ) -> String {
        let d = self.dialect;
        let mut terms = vec![];
        for (i, (t, v)) in pairs.iter().enumerate() {
            let top = match pairs.get(i + 1) {
                Some((next, _)) => format!("LEAST({x}, {})", d.decimal(*next)),
                None => x.to_string(),
            };
            terms.push(format!(
                "CASE WHEN {x} > {t} THEN {v} * ({top} - {t}) ELSE 0 END",
                t = d.decimal(*t),
                v = d.decimal(*v)
            ));
        }
        format!("({})", terms.join(" + "))
    }

    fn bracket_sql(
        &self,
        pairs: &[(rust_decimal::Decimal, rust_decimal::Decimal)],
        x: &str,
    ) -> String {
        let d = self.dialect;
        let arms: Vec<String> = pairs
            .iter()
            .rev()
            .map(|(t, v)| format!("WHEN {x} >= {} THEN {}", d.decimal(*t), d.decimal(*v)))
            .collect();
        format!(
            "CASE {} ELSE {} END",
            arms.join(" "),
            d.decimal(rust_decimal::Decimal::ZERO)
        )
    }

    /// SQL: whether a step from `from` to `to` covers the date.
    fn covers(&self, date: &str, from: NaiveDate, to: Option<NaiveDate>) -> String {
        let d = self.dialect;
        match to {
            Some(t) => format!("({date} >= {} AND {date} <= {})", d.date(from), d.date(t)),
            None => format!("({date} >= {})", d.date(from)),
        }
    }

    /// A dated value read at `date`: the arm whose step covers it; none covering is
    /// the error `parameter-without-value`.
    fn dated(
        &mut self,
        date: Cell,
        arms: Vec<(String, String)>,
        kind: Kind,
        scope: usize,
    ) -> Compiled<Cell> {
        let probe = date.clone();
        self.dated_with(&[&probe], &probe, arms, kind, &date, scope)
    }

    fn dated_with(
        &mut self,
        ops: &[&Cell],
        date: &Cell,
        arms: Vec<(String, String)>,
        kind: Kind,
        value_of: &Cell,
        scope: usize,
    ) -> Compiled<Cell> {
        let covered = if arms.is_empty() {
            "FALSE".to_string()
        } else {
            format!(
                "({})",
                arms.iter()
                    .map(|(c, _)| c.clone())
                    .collect::<Vec<_>>()
                    .join(" OR ")
            )
        };
        let value = if arms.is_empty() {
            "NULL".to_string()
        } else {
            format!(
                "CASE {} END",
                arms.iter()
                    .map(|(c, v)| format!("WHEN {c} THEN {v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let value = Part::of(value, &[&date.v, &value_of.v]);
        let fault = Some((format!("NOT {covered}"), "parameter-without-value"));
        self.strict_node(scope, ops, kind, value, fault)
    }

    /// `len(list)`.
    fn length(&mut self, list: Cell, scope: usize) -> Compiled<Cell> {
        match &list.kind {
            Kind::ConstList(items) => {
                let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
                Ok(Cell::known(
                    scope,
                    Kind::Int,
                    Part::lit(self.dialect.int(n)),
                ))
            }
            Kind::List { .. } => self.list_length(list, scope),
            _ => Err(Unsupported("internal: len of a non-list".into())),
        }
    }
}

/// SQL: the days of month `m` of year `y`.
fn days_in_month_sql(y: &str, m: &str) -> String {
    format!(
        "CASE WHEN {m} IN (1, 3, 5, 7, 8, 10, 12) THEN 31 WHEN {m} IN (4, 6, 9, 11) THEN 30 \
         WHEN ({y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0)) THEN 29 ELSE 28 END"
    )
}
