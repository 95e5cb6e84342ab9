//! Arithmetic, comparison, logic and choice in SQL, each as the evaluator decides it
//! (`crate::eval::Evaluator::eval_node`): the same order of operands, the same
//! states.

use super::cell::{Cell, Kind, Part, ERROR, KNOWN, NONE, NO_PATHS, UNKNOWN};
use super::compile::{Compiled, Compiler, Frame, Unsupported};
use super::ops::{cmp_sql, numeric_kind};
use super::Dialect;
use crate::ir::{DateUnit, Expr, Pat};
use crate::syntax::ast::{ArithOp, CmpOp};

/// The range of a whole number.
const INT_RANGE: &str = "-9223372036854775808 AND 9223372036854775807";

impl<'r> Compiler<'r> {
    /// The operators that are neither leaves nor calls.
    pub(crate) fn operator(
        &mut self,
        e: &'r Expr,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        match e {
            Expr::Neg(x) => {
                let x = self.expr(x, frame, scope)?;
                self.negate(x, scope)
            }
            Expr::Arith(op, a, b, ty) => {
                let a = self.expr(a, frame, scope)?;
                let b = self.expr(b, frame, scope)?;
                self.arith(*op, a, b, *ty == crate::ir::Ty::Int, scope)
            }
            Expr::DateShift(d, dur, minus) => {
                let Expr::Duration(n, unit) = &**dur else {
                    return Err(Unsupported("internal: a shift without a duration".into()));
                };
                let d = self.expr(d, frame, scope)?;
                let n = if *minus { -*n } else { *n };
                self.shift_const(d, n, *unit, scope)
            }
            Expr::Not(x) => {
                let x = self.expr(x, frame, scope)?;
                self.not(x, scope)
            }
            Expr::And(xs) => self.kleene(xs, false, frame, scope),
            Expr::Or(xs) => self.kleene(xs, true, frame, scope),
            Expr::Compare(op, a, b) => {
                let a = self.expr(a, frame, scope)?;
                let b = self.expr(b, frame, scope)?;
                self.compare(*op, a, b, scope)
            }
            Expr::InSet(x, items, negated) => self.in_set(x, items, *negated, frame, scope),
            Expr::InRange(x, lo, hi, negated) => {
                let cells = [
                    self.expr(x, frame, scope)?,
                    self.expr(lo, frame, scope)?,
                    self.expr(hi, frame, scope)?,
                ];
                self.in_range(cells, *negated, scope)
            }
            Expr::InList(x, list, negated) => {
                let x = self.expr(x, frame, scope)?;
                let list = self.expr(list, frame, scope)?;
                self.in_list(x, list, *negated, scope)
            }
            Expr::IsNone(x, negated) => {
                let x = self.expr(x, frame, scope)?;
                self.is_none(x, *negated, scope)
            }
            Expr::Otherwise(a, b) => {
                let a = self.expr(a, frame, scope)?;
                let b = self.expr(b, frame, scope)?;
                self.otherwise(a, b, scope)
            }
            Expr::If(c, a, b) => {
                let c = self.expr(c, frame, scope)?;
                let a = self.expr(a, frame, scope)?;
                let b = self.expr(b, frame, scope)?;
                self.if_then(c, a, b, scope)
            }
            Expr::Cases(arms, default) => self.cases(arms, default.as_deref(), frame, scope),
            Expr::Match(s, arms) => self.match_arms(s, arms, frame, scope),
            _ => Err(Unsupported("internal: not an operator".into())),
        }
    }

    fn negate(&mut self, x: Cell, scope: usize) -> Compiled<Cell> {
        let d = self.dialect;
        if x.kind == Kind::Int {
            let wide = d.wide(&x.v.sql);
            let value = Part::of(format!("CAST(-{wide} AS BIGINT)"), &[&x.v]);
            let fault = format!("(-{wide}) NOT BETWEEN {INT_RANGE}");
            return self.strict_node(scope, &[&x], Kind::Int, value, Some((fault, "overflow")));
        }
        let value = Part::of(format!("(-{})", d.as_decimal(&x.v.sql)), &[&x.v]);
        let kind = Kind::Dec;
        self.strict_node(scope, &[&x], kind, value, None)
    }

    /// `a op b`: whole-number arithmetic (overflow an error) when the result type is
    /// int and the operator is not `/`; exact decimals otherwise.
    pub(crate) fn arith(
        &mut self,
        op: ArithOp,
        a: Cell,
        b: Cell,
        int: bool,
        scope: usize,
    ) -> Compiled<Cell> {
        let d = self.dialect;
        let sym = match op {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        };
        if int && op != ArithOp::Div {
            let wide = format!("({} {sym} {})", d.wide(&a.v.sql), d.wide(&b.v.sql));
            let value = Part::of(format!("CAST({wide} AS BIGINT)"), &[&a.v, &b.v]);
            let fault = format!("{wide} NOT BETWEEN {INT_RANGE}");
            return self.strict_node(
                scope,
                &[&a, &b],
                Kind::Int,
                value,
                Some((fault, "overflow")),
            );
        }
        let (x, y) = (d.as_decimal(&a.v.sql), d.as_decimal(&b.v.sql));
        if op == ArithOp::Div {
            let value = Part::of(
                format!("({x} / CASE WHEN {y} = 0 THEN NULL ELSE {y} END)"),
                &[&a.v, &b.v],
            );
            let fault = format!("{y} = 0");
            return self.strict_node(
                scope,
                &[&a, &b],
                Kind::Dec,
                value,
                Some((fault, "division-by-zero")),
            );
        }
        let value = Part::of(format!("({x} {sym} {y})"), &[&a.v, &b.v]);
        self.strict_node(
            scope,
            &[&a, &b],
            numeric_kind(&a.kind, &b.kind),
            value,
            None,
        )
    }

    /// `d ± n unit` with `n` known when compiling.
    pub(crate) fn shift_const(
        &mut self,
        date: Cell,
        n: i64,
        unit: DateUnit,
        scope: usize,
    ) -> Compiled<Cell> {
        let d = self.dialect;
        let n_sql = d.int(n);
        let (value, fault) = self.shift_sql(&date.v.sql, &n_sql, unit);
        let value = Part::of(value, &[&date.v]);
        self.strict_node(
            scope,
            &[&date],
            Kind::Date,
            value,
            Some((fault, "invalid-date")),
        )
    }

    /// The SQL of `date + n unit` (months and years clamped to the month's end), and
    /// the condition under which the result leaves the calendar the database can hold
    /// (`invalid-date`): in Spark the engine's own calendar; in PostgreSQL from 4712 BC
    /// to the engine's last year (262142), the engine's calendar reaching further back
    /// (docs/sql.md, known limits).
    pub(crate) fn shift_sql(&self, date: &str, n: &str, unit: DateUnit) -> (String, String) {
        let d = self.dialect;
        let (lo, hi) = match d {
            Dialect::Postgres => (-4712, 262_142),
            // Spark's dates count days in 32 bits, proleptic as the engine's: its
            // whole calendar.
            Dialect::Spark => (-262_143, 262_142),
        };
        let (year, month) = (d.date_part("YEAR", date), d.date_part("MONTH", date));
        let months = match unit {
            DateUnit::Days => None,
            DateUnit::Months => Some(n.to_string()),
            DateUnit::Years => Some(format!("({n} * 12)")),
        };
        match months {
            Some(m) => {
                let wide = d.wide(&m);
                let result_year = format!("FLOOR(({year} * 12 + {month} - 1 + {wide}) / 12.0)");
                (
                    format!(
                        "CASE WHEN {result_year} BETWEEN {lo} AND {hi} THEN {} END",
                        d.add_months(date, &m)
                    ),
                    format!("({result_year} NOT BETWEEN {lo} AND {hi})"),
                )
            }
            None => {
                // A year's margin: the day count gives the year only roughly.
                let result_year = format!("({year} + {} / 365.2425)", d.wide(n));
                (
                    format!(
                        "CASE WHEN {result_year} BETWEEN {} AND {} THEN {} END",
                        lo + 1,
                        hi - 1,
                        d.add_days(date, n)
                    ),
                    format!("({result_year} NOT BETWEEN {} AND {})", lo + 1, hi - 1),
                )
            }
        }
    }

    fn not(&mut self, x: Cell, scope: usize) -> Compiled<Cell> {
        if x.always_known() {
            let v = Part::of(format!("(NOT {})", x.is_true()), &[&x.v]);
            return self.node(
                scope,
                &[&x],
                Kind::Bool,
                [v, x.s.clone(), x.m.clone(), x.e.clone()],
            );
        }
        let s = Part::of(
            format!("CASE WHEN {s} >= 2 THEN {s} ELSE 0 END", s = x.s.sql),
            &[&x.s],
        );
        let v = Part::of(
            format!("CASE WHEN {} <= 1 THEN NOT {} END", x.s.sql, x.is_true()),
            &[&x.s, &x.v],
        );
        let m = x.m.clone();
        let e = x.e.clone();
        self.node(scope, &[&x], Kind::Bool, [v, s, m, e])
    }

    /// Kleene `and` (`or` when `or`): one deciding operand decides, whatever the
    /// others; else the first error; else unknown with every unknown operand's
    /// missing fields.
    fn kleene(
        &mut self,
        xs: &'r [Expr],
        or: bool,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let mut cells = vec![];
        for x in xs {
            cells.push(self.expr(x, frame, scope)?);
        }
        let ops: Vec<&Cell> = cells.iter().collect();
        let deciding: Vec<String> = ops
            .iter()
            .map(|c| if or { c.is_true() } else { c.is_false() })
            .collect();
        let any_deciding = format!("({})", deciding.join(" OR "));
        let any_error = any_state(&ops, ERROR);
        let any_unknown = any_state(&ops, UNKNOWN);
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.extend(c.parts());
        }
        let (decided, identity) = if or {
            ("TRUE", "FALSE")
        } else {
            ("FALSE", "TRUE")
        };
        let s = Part::of(
            format!(
                "CASE WHEN {any_deciding} THEN 0 WHEN {any_error} THEN 3 WHEN {any_unknown} THEN 2 ELSE 0 END"
            ),
            &deps,
        );
        let v = Part::of(
            format!(
                "CASE WHEN {any_deciding} THEN {decided} WHEN {any_error} OR {any_unknown} THEN NULL ELSE {identity} END"
            ),
            &deps,
        );
        let e = self.first_error(&ops);
        let m = self.missing_union(&ops);
        self.node(scope, &ops, Kind::Bool, [v, s, m, e])
    }

    /// `a op b`: unknown when either is, false when either is none.
    pub(crate) fn compare(&mut self, op: CmpOp, a: Cell, b: Cell, scope: usize) -> Compiled<Cell> {
        let cmp = self.compare_sql(op, &a, &b)?;
        let st = self.strict(&[&a, &b]);
        let value = Part::of(cmp, &[&a.v, &b.v]);
        if st.s.is(KNOWN) {
            return self.node(scope, &[&a, &b], Kind::Bool, [value, st.s, st.m, st.e]);
        }
        let s = Part::of(
            format!("CASE WHEN {s} >= 2 THEN {s} ELSE 0 END", s = st.s.sql),
            &[&st.s],
        );
        let v = Part::of(
            format!(
                "CASE WHEN {s} = 0 THEN {} WHEN {s} = 1 THEN FALSE END",
                value.sql,
                s = st.s.sql
            ),
            &[&st.s, &value],
        );
        self.node(scope, &[&a, &b], Kind::Bool, [v, s, st.m, st.e])
    }

    /// The SQL comparison of two known values (text by bytes, enums by position).
    fn compare_sql(&self, op: CmpOp, a: &Cell, b: &Cell) -> Compiled<String> {
        let d = self.dialect;
        let sym = cmp_sql(op);
        match (&a.kind, &b.kind) {
            (Kind::Str, Kind::Str) => Ok(format!(
                "({} {sym} {})",
                d.bytewise(&a.v.sql),
                d.bytewise(&b.v.sql)
            )),
            (Kind::Record(_) | Kind::List { .. } | Kind::ConstList(_), _)
            | (_, Kind::Record(_) | Kind::List { .. } | Kind::ConstList(_)) => {
                Err(Unsupported("a comparison of records or lists".into()))
            }
            (Kind::Int | Kind::Dec, Kind::Int | Kind::Dec)
            | (Kind::Date, Kind::Date)
            | (Kind::Bool, Kind::Bool) => Ok(format!("({} {sym} {})", a.v.sql, b.v.sql)),
            (Kind::Enum(x), Kind::Enum(y)) if x == y => {
                Ok(format!("({} {sym} {})", a.v.sql, b.v.sql))
            }
            // A literal `none` compared: never true (the strict state makes it false).
            (Kind::NoneLit, _) | (_, Kind::NoneLit) => Ok("FALSE".into()),
            // Values of different types never order: every comparison is false.
            _ => Ok("FALSE".into()),
        }
    }

    /// `x in {a, b, …}`: the first error (x, then the items), else unknown with the
    /// missing fields of x and the items, else whether x equals a known item (false
    /// when x is none).
    fn in_set(
        &mut self,
        x: &'r Expr,
        items: &'r [Expr],
        negated: bool,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let x = self.expr(x, frame, scope)?;
        let mut cells = vec![];
        for it in items {
            cells.push(self.expr(it, frame, scope)?);
        }
        let mut found = vec![];
        for c in &cells {
            let eq = self.compare_sql(CmpOp::Eq, &x, c)?;
            found.push(if c.always_known() {
                format!("COALESCE({eq}, FALSE)")
            } else {
                format!("({} = 0 AND COALESCE({eq}, FALSE))", c.s.sql)
            });
        }
        let found = if found.is_empty() {
            "FALSE".to_string()
        } else {
            format!("({})", found.join(" OR "))
        };
        let mut ops: Vec<&Cell> = vec![&x];
        ops.extend(cells.iter());
        let hit = if negated {
            format!("NOT {found}")
        } else {
            found
        };
        self.membership(scope, &ops, &x, hit)
    }

    /// The result of a membership test whose operands are `ops` (x first): errors,
    /// then unknown, then `found` (negated) when x is known, false when it is none.
    fn membership(&mut self, scope: usize, ops: &[&Cell], x: &Cell, hit: String) -> Compiled<Cell> {
        let any_error = any_state(ops, ERROR);
        let any_unknown = any_state(ops, UNKNOWN);
        let mut deps: Vec<&Part> = vec![];
        for c in ops {
            deps.extend(c.parts());
        }
        let s = Part::of(
            format!("CASE WHEN {any_error} THEN 3 WHEN {any_unknown} THEN 2 ELSE 0 END"),
            &deps,
        );
        let v = Part::of(
            format!(
                "CASE WHEN {any_error} OR {any_unknown} THEN NULL WHEN {} THEN {hit} ELSE FALSE END",
                x.state_is(KNOWN)
            ),
            &deps,
        );
        let e = self.first_error(ops);
        let m = self.missing_union(ops);
        self.node(scope, ops, Kind::Bool, [v, s, m, e])
    }

    /// `x in lo..hi`.
    fn in_range(&mut self, [x, lo, hi]: [Cell; 3], negated: bool, scope: usize) -> Compiled<Cell> {
        let ge = self.compare_sql(CmpOp::Ge, &x, &lo)?;
        let le = self.compare_sql(CmpOp::Le, &x, &hi)?;
        let all_known = [&lo, &hi]
            .iter()
            .filter(|c| !c.always_known())
            .map(|c| format!("{} = 0", c.s.sql))
            .collect::<Vec<_>>();
        let inside = if all_known.is_empty() {
            format!("COALESCE({ge} AND {le}, FALSE)")
        } else {
            format!(
                "({} AND COALESCE({ge} AND {le}, FALSE))",
                all_known.join(" AND ")
            )
        };
        // Inside or not when both bounds are known; false when one is none.
        let hit = if negated {
            format!("({} AND NOT {inside})", bounds_known(&[&lo, &hi]))
        } else {
            inside
        };
        let ops = [&x, &lo, &hi];
        self.membership(scope, &ops, &x, hit)
    }

    /// `x in list` (a list known when compiling).
    fn in_list(&mut self, x: Cell, list: Cell, negated: bool, scope: usize) -> Compiled<Cell> {
        match &list.kind {
            Kind::ConstList(items) => {
                let found = if items.is_empty() {
                    "FALSE".to_string()
                } else {
                    let eq: Vec<String> =
                        items.iter().map(|i| format!("{} = {i}", x.v.sql)).collect();
                    format!("COALESCE({}, FALSE)", eq.join(" OR "))
                };
                let hit = if negated {
                    format!("NOT {found}")
                } else {
                    found
                };
                self.membership(scope, &[&x], &x, hit)
            }
            Kind::List { .. } => self.list_membership(x, list, negated, scope),
            _ => Err(Unsupported("internal: `in` of a non-list".into())),
        }
    }

    fn is_none(&mut self, x: Cell, negated: bool, scope: usize) -> Compiled<Cell> {
        let (on_none, on_known) = if negated {
            ("FALSE", "TRUE")
        } else {
            ("TRUE", "FALSE")
        };
        let s = Part::of(
            format!("CASE WHEN {s} >= 2 THEN {s} ELSE 0 END", s = x.s.sql),
            &[&x.s],
        );
        let v = Part::of(
            format!(
                "CASE WHEN {s} = 1 THEN {on_none} WHEN {s} = 0 THEN {on_known} END",
                s = x.s.sql
            ),
            &[&x.s],
        );
        let (m, e) = (x.m.clone(), x.e.clone());
        self.node(scope, &[&x], Kind::Bool, [v, s, m, e])
    }

    /// `a otherwise b`: b when a is none.
    fn otherwise(&mut self, a: Cell, b: Cell, scope: usize) -> Compiled<Cell> {
        let kind = unify(&a.kind, &b.kind);
        let (av, bv) = (self.coerce(&a, &kind), self.coerce(&b, &kind));
        let pick = |x: &Part, y: &Part| {
            Part::of(
                format!(
                    "CASE WHEN {} = 1 THEN {} ELSE {} END",
                    a.s.sql, y.sql, x.sql
                ),
                &[&a.s, x, y],
            )
        };
        let parts = [
            pick(&av, &bv),
            pick(&a.s, &b.s),
            pick(&a.m, &b.m),
            pick(&a.e, &b.e),
        ];
        self.node(scope, &[&a, &b], kind, parts)
    }

    /// `if c then a else b`: c's error or unknown, else the branch it picks.
    fn if_then(&mut self, c: Cell, a: Cell, b: Cell, scope: usize) -> Compiled<Cell> {
        let kind = unify(&a.kind, &b.kind);
        let (av, bv) = (self.coerce(&a, &kind), self.coerce(&b, &kind));
        let t = c.is_true();
        let branch = |on_error: &Part, on_unknown: &Part, x: &Part, y: &Part| {
            Part::of(
                format!(
                    "CASE WHEN {} = 3 THEN {} WHEN {} = 2 THEN {} WHEN {t} THEN {} ELSE {} END",
                    c.s.sql, on_error.sql, c.s.sql, on_unknown.sql, x.sql, y.sql
                ),
                &[&c.s, &c.v, on_error, on_unknown, x, y],
            )
        };
        let null = Part::lit("NULL");
        let parts = [
            branch(&null, &null, &av, &bv),
            branch(&Part::lit("3"), &Part::lit("2"), &a.s, &b.s),
            branch(&Part::lit(NO_PATHS), &c.m, &a.m, &b.m),
            branch(&c.e, &null, &a.e, &b.e),
        ];
        self.node(scope, &[&c, &a, &b], kind, parts)
    }

    /// `cases`: the arms in order; an arm's condition in error or unknown is the
    /// result, a true one picks its value.
    fn cases(
        &mut self,
        arms: &'r [(Expr, Expr)],
        default: Option<&'r Expr>,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let mut compiled = vec![];
        for (c, v) in arms {
            compiled.push((self.expr(c, frame, scope)?, self.expr(v, frame, scope)?));
        }
        let default = match default {
            Some(d) => self.expr(d, frame, scope)?,
            None => Cell::none(scope, Kind::NoneLit),
        };
        let kind = compiled
            .iter()
            .map(|(_, v)| v.kind.clone())
            .fold(default.kind.clone(), |k, v| unify(&k, &v));
        let mut arms_sql: [Vec<String>; 4] = Default::default();
        let mut ops: Vec<&Cell> = vec![];
        for (c, v) in &compiled {
            let vv = self.coerce(v, &kind);
            let t = c.is_true();
            let cs = &c.s.sql;
            for (i, (on_err, on_unk, picked)) in [
                ("NULL".to_string(), "NULL".to_string(), vv.sql.clone()),
                ("3".into(), "2".into(), v.s.sql.clone()),
                (NO_PATHS.into(), c.m.sql.clone(), v.m.sql.clone()),
                (c.e.sql.clone(), "NULL".into(), v.e.sql.clone()),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(list) = arms_sql.get_mut(i) {
                    list.push(format!(
                        "WHEN {cs} = 3 THEN {on_err} WHEN {cs} = 2 THEN {on_unk} WHEN {t} THEN {picked}"
                    ));
                }
            }
            ops.push(c);
            ops.push(v);
        }
        ops.push(&default);
        let dv = self.coerce(&default, &kind);
        let defaults = [
            dv.sql,
            default.s.sql.clone(),
            default.m.sql.clone(),
            default.e.sql.clone(),
        ];
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.extend(c.parts());
        }
        let parts: Vec<Part> = arms_sql
            .iter()
            .zip(defaults)
            .map(|(arms, d)| Part::of(format!("CASE {} ELSE {d} END", arms.join(" ")), &deps))
            .collect();
        let [v, s, m, e]: [Part; 4] = parts
            .try_into()
            .map_err(|_| Unsupported("internal: cases".into()))?;
        self.node(scope, &ops, kind, [v, s, m, e])
    }

    /// `match`: the subject once; unknown stops; then each pattern in order.
    fn match_arms(
        &mut self,
        subject: &'r Expr,
        arms: &'r [(Vec<Pat>, Expr)],
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let x = self.expr(subject, frame, scope)?;
        // Each pattern as a condition of its own, then as `cases` arms: a pattern in
        // error or unknown (when x is known) is the result; a hit picks the value.
        let mut conds: Vec<(Cell, &'r Expr)> = vec![];
        for (pats, value) in arms {
            for pat in pats {
                let hit = self.pattern(&x, pat, frame, scope)?;
                conds.push((hit, value));
            }
        }
        let mut compiled = vec![];
        for (hit, value) in conds {
            compiled.push((hit, self.expr(value, frame, scope)?));
        }
        let kind = compiled
            .iter()
            .map(|(_, v)| v.kind.clone())
            .fold(Kind::NoneLit, |k, v| unify(&k, &v));
        let xs = &x.s.sql;
        let mut arms_sql: [Vec<String>; 4] = [
            vec![format!("WHEN {xs} >= 2 THEN NULL")],
            vec![format!("WHEN {xs} >= 2 THEN {xs}")],
            vec![format!("WHEN {xs} >= 2 THEN {}", x.m.sql)],
            vec![format!("WHEN {xs} >= 2 THEN {}", x.e.sql)],
        ];
        let mut ops: Vec<&Cell> = vec![&x];
        for (hit, v) in &compiled {
            let vv = self.coerce(v, &kind);
            let hs = &hit.s.sql;
            let t = hit.is_true();
            let picks = [
                ("NULL".to_string(), "NULL".to_string(), vv.sql.clone()),
                ("3".into(), "2".into(), v.s.sql.clone()),
                (NO_PATHS.into(), hit.m.sql.clone(), v.m.sql.clone()),
                (hit.e.sql.clone(), "NULL".into(), v.e.sql.clone()),
            ];
            for (list, (on_err, on_unk, picked)) in arms_sql.iter_mut().zip(picks) {
                list.push(format!(
                    "WHEN {hs} = 3 THEN {on_err} WHEN {hs} = 2 THEN {on_unk} WHEN {t} THEN {picked}"
                ));
            }
            ops.push(hit);
            ops.push(v);
        }
        let mut deps: Vec<&Part> = vec![];
        for c in &ops {
            deps.extend(c.parts());
        }
        let defaults = ["NULL", "1", NO_PATHS, "NULL"];
        let parts: Vec<Part> = arms_sql
            .iter()
            .zip(defaults)
            .map(|(arms, d)| Part::of(format!("CASE {} ELSE {d} END", arms.join(" ")), &deps))
            .collect();
        let [v, s, m, e]: [Part; 4] = parts
            .try_into()
            .map_err(|_| Unsupported("internal: match".into()))?;
        self.node(scope, &ops, kind, [v, s, m, e])
    }

    /// Whether a `match` pattern hits a subject: false when the subject is none
    /// (but `_`), else the pattern's values' error or unknown, else the test.
    fn pattern(
        &mut self,
        x: &Cell,
        pat: &'r Pat,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let xs = &x.s.sql;
        match pat {
            Pat::Any => Ok(Cell::known(scope, Kind::Bool, Part::lit("TRUE"))),
            Pat::Eq(p) => {
                let p = self.expr(p, frame, scope)?;
                let eq = self.compare_sql(CmpOp::Eq, x, &p)?;
                let s = Part::of(
                    format!(
                        "CASE WHEN {xs} <> 0 THEN 0 WHEN {} = 1 THEN 0 ELSE {} END",
                        p.s.sql, p.s.sql
                    ),
                    &[&x.s, &p.s],
                );
                let v = Part::of(
                    format!(
                        "CASE WHEN {xs} = 0 AND {} = 0 THEN COALESCE({eq}, FALSE) ELSE FALSE END",
                        p.s.sql
                    ),
                    &[&x.s, &x.v, &p.s, &p.v],
                );
                let m = p.m.clone();
                let e = p.e.clone();
                self.node(scope, &[x, &p], Kind::Bool, [v, s, m, e])
            }
            Pat::Range(lo, hi) => {
                let lo = self.expr(lo, frame, scope)?;
                let hi = self.expr(hi, frame, scope)?;
                let ge = self.compare_sql(CmpOp::Ge, x, &lo)?;
                let le = self.compare_sql(CmpOp::Le, x, &hi)?;
                // Errors in order (lo, hi); then lo's unknown, then hi's.
                let s = Part::of(
                    format!(
                        "CASE WHEN {xs} <> 0 THEN 0 WHEN {l} = 3 OR {h} = 3 THEN 3 WHEN {l} = 2 OR {h} = 2 THEN 2 ELSE 0 END",
                        l = lo.s.sql,
                        h = hi.s.sql
                    ),
                    &[&x.s, &lo.s, &hi.s],
                );
                let e = Part::of(
                    format!(
                        "CASE WHEN {} = 3 THEN {} ELSE {} END",
                        lo.s.sql, lo.e.sql, hi.e.sql
                    ),
                    &[&lo.s, &lo.e, &hi.e],
                );
                let m = Part::of(
                    format!(
                        "CASE WHEN {} = 2 THEN {} ELSE {} END",
                        lo.s.sql, lo.m.sql, hi.m.sql
                    ),
                    &[&lo.s, &lo.m, &hi.m],
                );
                let v = Part::of(
                    format!(
                        "CASE WHEN {xs} = 0 AND {} = 0 AND {} = 0 THEN COALESCE({ge} AND {le}, FALSE) ELSE FALSE END",
                        lo.s.sql, hi.s.sql
                    ),
                    &[&x.s, &x.v, &lo.s, &lo.v, &hi.s, &hi.v],
                );
                self.node(scope, &[x, &lo, &hi], Kind::Bool, [v, s, m, e])
            }
        }
    }

    /// A value of `cell` as `kind` (a whole number widened to a decimal).
    pub(crate) fn coerce(&self, cell: &Cell, kind: &Kind) -> Part {
        if *kind == Kind::Dec && cell.kind == Kind::Int {
            return Part::of(self.dialect.as_decimal(&cell.v.sql), &[&cell.v]);
        }
        if cell.kind == Kind::NoneLit && *kind != Kind::NoneLit {
            return Part::lit(self.dialect.null(kind));
        }
        cell.v.clone()
    }
}

/// SQL: whether any of the cells is in state `code`.
pub(crate) fn any_state(cells: &[&Cell], code: &str) -> String {
    let conds: Vec<String> = cells
        .iter()
        // Leave out only the operands whose state is another plain code.
        .filter(|c| {
            c.s.is(code)
                || ![KNOWN, NONE, UNKNOWN, ERROR]
                    .iter()
                    .any(|other| c.s.is(other))
        })
        .map(|c| c.state_is(code))
        .collect();
    if conds.is_empty() {
        "FALSE".into()
    } else {
        format!("({})", conds.join(" OR "))
    }
}

/// SQL: the bounds are all known.
fn bounds_known(cells: &[&Cell]) -> String {
    let conds: Vec<String> = cells
        .iter()
        .filter(|c| !c.always_known())
        .map(|c| format!("{} = 0", c.s.sql))
        .collect();
    if conds.is_empty() {
        "TRUE".into()
    } else {
        format!("({})", conds.join(" AND "))
    }
}

/// The kind two branches give: a decimal when one is; the other's when one is a
/// literal `none`.
pub(crate) fn unify(a: &Kind, b: &Kind) -> Kind {
    match (a, b) {
        (Kind::NoneLit, k) | (k, Kind::NoneLit) => k.clone(),
        (Kind::Int, Kind::Dec) | (Kind::Dec, Kind::Int) => Kind::Dec,
        (k, _) => k.clone(),
    }
}
