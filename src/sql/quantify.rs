//! Quantifiers and aggregates over a list in SQL: the items are the rows of an inner
//! scope (the list's table joined to the row that owns it); each item's step is
//! computed there as the fold of `crate::semantics::quantifier` takes it, and the
//! fold's result by an aggregate grouped by the owner row, with the items'
//! positions deciding what the evaluator's order decides (the first error, a stop).

use super::cell::{Cell, Kind, Part, Record, KNOWN, NO_PATHS};
use super::compile::{kind_of, Compiled, Compiler, Frame, Items, Unsupported};
use super::relation::{Computed, Join};
use super::Dialect;
use crate::ir::Expr;
use crate::syntax::ast::Quantifier;

/// An item's step: the column names of its event (`T`, `F`, `U`, `E`, `S` skipped,
/// `K` a value, `N` none), value, missing fields and error kind.
struct Event {
    ev: String,
    v: String,
    m: String,
    e: String,
    level: usize,
}

impl Event {
    fn columns(&self) -> Vec<String> {
        vec![
            self.ev.clone(),
            self.v.clone(),
            self.m.clone(),
            self.e.clone(),
        ]
    }
}

/// An aggregate's select list, the inner layer it reads, and the columns it reads.
pub(crate) struct Fold {
    /// The aggregate's select list (after `_key`).
    pub select: String,
    /// The inner layer it reads.
    pub level: usize,
    /// The inner columns it reads.
    pub outputs: Vec<String>,
}

impl<'r> Compiler<'r> {
    /// `q var in list [where filter] [: body]`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn quantified(
        &mut self,
        q: Quantifier,
        var: usize,
        list: &'r Expr,
        filter: Option<&'r Expr>,
        body: Option<&'r Expr>,
        frame: &mut Frame<'r>,
        scope: usize,
    ) -> Compiled<Cell> {
        let list = self.expr(list, frame, scope)?;
        let (inner, item) = self.open_items(&list, scope)?;
        let saved = frame.locals.get(var).cloned().flatten();
        if let Some(slot) = frame.locals.get_mut(var) {
            *slot = Some(item.clone());
        }
        let f = filter.map(|f| self.expr(f, frame, inner)).transpose();
        let b = body.map(|b| self.expr(b, frame, inner)).transpose();
        if let Some(slot) = frame.locals.get_mut(var) {
            *slot = saved;
        }
        let (f, b) = (f?, b?);
        let logical = matches!(
            q,
            Quantifier::Any | Quantifier::All | Quantifier::No | Quantifier::Count
        );
        if logical {
            let ev = self.truth_event(q, inner, f.as_ref(), b.as_ref())?;
            let agg = self.truth_fold(q, &ev)?;
            let kind = if q == Quantifier::Count {
                Kind::Int
            } else {
                Kind::Bool
            };
            self.close_items(q, list, inner, agg, kind, scope)
        } else {
            let choose = matches!(q, Quantifier::Latest | Quantifier::Earliest);
            let value = match b {
                Some(b) => b,
                None => item.clone(),
            };
            let ev = self.value_event(inner, f.as_ref(), &value)?;
            let kind = if choose {
                item.kind.clone()
            } else {
                value.kind.clone()
            };
            let agg = self.value_fold(q, inner, &ev, &value, &item)?;
            self.close_items(q, list, inner, agg, kind, scope)
        }
    }

    /// The inner scope of a list's items, and the cell of the item variable.
    pub(crate) fn open_items(&mut self, list: &Cell, scope: usize) -> Compiled<(usize, Cell)> {
        let Kind::List { table } = list.kind else {
            return Err(Unsupported(
                "a quantifier over a list that is not a list field of the record".into(),
            ));
        };
        let owner = list
            .v
            .deps
            .first()
            .cloned()
            .ok_or_else(|| Unsupported("internal: a list without its owner".into()))?;
        let depth = self.scope(scope)?.depth + 1;
        let inner = self.new_scope(Some(scope), depth);
        if let Some(slot) = self.items.get_mut(inner) {
            *slot = Some(Items { table, owner });
        }
        if !self.tables_read.contains(&table) {
            self.tables_read.push(table);
        }
        let t = self
            .layout
            .tables
            .get(table)
            .ok_or_else(|| Unsupported("internal: list table".into()))?;
        let item = match (&t.record, &t.scalar) {
            (Some(_), _) => Cell::known(
                inner,
                Kind::Record(Record {
                    table,
                    prefix: vec![],
                    row_of: Some(inner),
                }),
                Part::col("_id"),
            ),
            (None, Some(ty)) => {
                let ty = ty.clone();
                let col = self.base_column(inner, 0)?;
                let v = self.decode_scalar(&ty, &col)?;
                Cell::known(inner, kind_of(&ty), v)
            }
            (None, None) => return Err(Unsupported("internal: an empty list table".into())),
        };
        Ok((inner, item))
    }

    /// An item's step for `any`/`all`/`no`/`count` (`Quantify::item`).
    fn truth_event(
        &mut self,
        q: Quantifier,
        inner: usize,
        f: Option<&Cell>,
        b: Option<&Cell>,
    ) -> Compiled<Event> {
        let d = self.dialect;
        let yes = Cell::known(inner, Kind::Bool, Part::lit("TRUE"));
        let f = f.unwrap_or(&yes);
        let b = b.unwrap_or(&yes);
        let all = q == Quantifier::All;
        let (fs, bs) = (&f.s.sql, &b.s.sql);
        let (ft, bt, bf) = (f.is_true(), b.is_true(), b.is_false());
        let unknown_f = if all {
            format!("CASE WHEN {bs} = 3 THEN 'E' WHEN {bt} THEN 'T' ELSE 'U' END")
        } else {
            format!("CASE WHEN {bs} = 3 THEN 'E' WHEN {bf} THEN 'F' ELSE 'U' END")
        };
        let ev = format!(
            "CASE WHEN {fs} = 3 THEN 'E' WHEN {fs} = 2 THEN {unknown_f} WHEN NOT {ft} THEN 'S' \
             WHEN {bs} = 3 THEN 'E' WHEN {bs} = 2 THEN 'U' WHEN {bt} THEN 'T' ELSE 'F' END"
        );
        let e = format!(
            "CASE WHEN {fs} = 3 THEN {} WHEN {bs} = 3 THEN {} END",
            f.e.sql, b.e.sql
        );
        let b_m = format!("CASE WHEN {bs} = 2 THEN {} END", b.m.sql);
        let f_m = format!("CASE WHEN {fs} = 2 THEN {} END", f.m.sql);
        let m = if all {
            // Blame: the filter when it was unknown, else the condition.
            format!("CASE WHEN {fs} = 2 THEN {f_m} ELSE {b_m} END")
        } else {
            format!(
                "CASE WHEN {fs} = 2 THEN {} ELSE {b_m} END",
                d.union(&[f_m.clone(), b_m.clone()])
            )
        };
        let deps: Vec<&Part> = f.parts().into_iter().chain(b.parts()).collect();
        self.put_event(inner, &[f, b], &deps, ev, "NULL".into(), m, e)
    }

    /// An item's step for an aggregate (`Aggregate::item`): the filter first (its
    /// error, its unknown, or skipped), then the value.
    fn value_event(&mut self, inner: usize, f: Option<&Cell>, b: &Cell) -> Compiled<Event> {
        let yes = Cell::known(inner, Kind::Bool, Part::lit("TRUE"));
        let f = f.unwrap_or(&yes);
        let (fs, bs) = (&f.s.sql, &b.s.sql);
        let ft = f.is_true();
        let ev = format!(
            "CASE WHEN {fs} = 3 THEN 'E' WHEN {fs} = 2 THEN 'U' WHEN NOT {ft} THEN 'S' \
             WHEN {bs} = 3 THEN 'E' WHEN {bs} = 2 THEN 'U' WHEN {bs} = 1 THEN 'N' ELSE 'K' END"
        );
        let e = format!(
            "CASE WHEN {fs} = 3 THEN {} WHEN {bs} = 3 THEN {} END",
            f.e.sql, b.e.sql
        );
        let m = format!("CASE WHEN {fs} = 2 THEN {} ELSE {} END", f.m.sql, b.m.sql);
        let v = format!(
            "CASE WHEN {fs} = 0 AND {ft} AND {bs} = 0 THEN {} END",
            b.v.sql
        );
        let deps: Vec<&Part> = f.parts().into_iter().chain(b.parts()).collect();
        self.put_event(inner, &[f, b], &deps, ev, v, m, e)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_event(
        &mut self,
        inner: usize,
        cells: &[&Cell],
        deps: &[&Part],
        ev: String,
        v: String,
        m: String,
        e: String,
    ) -> Compiled<Event> {
        let level = cells.iter().map(|c| c.level).max().unwrap_or(0) + 1;
        let name = self.fresh("q");
        let dep_names: Vec<String> = Part::of("", deps).deps;
        let mut out = vec![];
        for (suffix, sql) in [("ev", ev), ("v", v), ("m", m), ("e", e)] {
            let col = format!("{name}{suffix}");
            self.scopes
                .get_mut(inner)
                .ok_or_else(|| Unsupported("internal: scope".into()))?
                .add(
                    level,
                    Computed {
                        name: col.clone(),
                        sql,
                        deps: dep_names.clone(),
                    },
                );
            out.push(col);
        }
        let [ev, v, m, e]: [String; 4] = out
            .try_into()
            .map_err(|_| Unsupported("internal: event".into()))?;
        Ok(Event { ev, v, m, e, level })
    }

    /// The fold of `any`/`all`/`no`/`count` over the events, as the aggregate's
    /// select list (`r_v`, `r_s`, `r_m`, `r_e`).
    fn truth_fold(&self, q: Quantifier, ev: &Event) -> Compiled<Fold> {
        let d = self.dialect;
        let (e, t, f, u) = (
            format!("{} = 'E'", ev.ev),
            format!("{} = 'T'", ev.ev),
            format!("{} = 'F'", ev.ev),
            format!("{} = 'U'", ev.ev),
        );
        let first_e = first_error_agg(d, &e, &ev.e);
        let pos = |c: &str| format!("MIN(CASE WHEN {c} THEN _pos END)");
        let any_u = format!("MAX(CASE WHEN {u} THEN 1 ELSE 0 END) = 1");
        let missing = union_agg(d, &u, &ev.m);
        let (stop, on_stop, otherwise) = match q {
            Quantifier::Any => (Some(pos(&t)), "TRUE", "FALSE"),
            Quantifier::No => (Some(pos(&t)), "FALSE", "TRUE"),
            Quantifier::All => (Some(pos(&f)), "FALSE", "TRUE"),
            _ => (None, "", ""),
        };
        let first_e_pos = format!("MIN(CASE WHEN {e} THEN _pos END)");
        let (s, v) = match &stop {
            Some(stop) => {
                let err = format!("({first_e_pos} IS NOT NULL AND ({stop} IS NULL OR {first_e_pos} < {stop}))");
                (
                    format!("CASE WHEN {err} THEN 3 WHEN {stop} IS NOT NULL THEN 0 WHEN {any_u} THEN 2 ELSE 0 END"),
                    format!("CASE WHEN {err} THEN NULL WHEN {stop} IS NOT NULL THEN {on_stop} WHEN {any_u} THEN NULL ELSE {otherwise} END"),
                )
            }
            None => (
                format!("CASE WHEN {first_e_pos} IS NOT NULL THEN 3 WHEN {any_u} THEN 2 ELSE 0 END"),
                format!("CASE WHEN {first_e_pos} IS NOT NULL OR {any_u} THEN NULL ELSE CAST(SUM(CASE WHEN {t} THEN 1 ELSE 0 END) AS BIGINT) END"),
            ),
        };
        let select = format!("{v} AS r_v, {s} AS r_s, {missing} AS r_m, {first_e} AS r_e");
        Ok(Fold {
            select,
            level: ev.level,
            outputs: ev.columns(),
        })
    }

    /// The fold of an aggregate over the events.
    fn value_fold(
        &mut self,
        q: Quantifier,
        inner: usize,
        ev: &Event,
        value: &Cell,
        item: &Cell,
    ) -> Compiled<Fold> {
        let d = self.dialect;
        let (e, u, k, n) = (
            format!("{} = 'E'", ev.ev),
            format!("{} = 'U'", ev.ev),
            format!("{} = 'K'", ev.ev),
            format!("{} = 'N'", ev.ev),
        );
        let any_e = format!("MAX(CASE WHEN {e} THEN 1 ELSE 0 END) = 1");
        let any_u = format!("MAX(CASE WHEN {u} THEN 1 ELSE 0 END) = 1");
        let first_e = first_error_agg(d, &e, &ev.e);
        let missing = union_agg(d, &u, &ev.m);
        let v = if value.kind == Kind::Str {
            d.bytewise(&ev.v)
        } else {
            ev.v.clone()
        };
        let kv = format!("CASE WHEN {k} THEN {v} END");
        let level = ev.level;
        let mut outputs = ev.columns();
        let fold = |select: String, level: usize, outputs: Vec<String>| Fold {
            select,
            level,
            outputs,
        };
        // (own fault condition, its code, the value)
        let (fault, value_sql): (Option<(String, &str)>, String) = match q {
            Quantifier::Sum => {
                let sum = format!("SUM({})", d.as_decimal(&kv));
                if value.kind == Kind::Int {
                    (
                        Some((
                            format!("COALESCE({sum}, 0) NOT BETWEEN -9223372036854775808 AND 9223372036854775807"),
                            "overflow",
                        )),
                        format!("CAST(COALESCE({sum}, 0) AS BIGINT)"),
                    )
                } else {
                    (None, format!("COALESCE({sum}, 0)"))
                }
            }
            Quantifier::Min => (None, format!("MIN({kv})")),
            Quantifier::Max => (None, format!("MAX({kv})")),
            Quantifier::The => {
                let selected = format!("SUM(CASE WHEN {k} OR {n} THEN 1 ELSE 0 END)");
                return Ok(fold(
                    self.the_select(&selected, &first_e, &any_e, &any_u, &missing, &kv),
                    level,
                    outputs,
                ));
            }
            _ => {
                let latest = q == Quantifier::Latest;
                let best = self.fresh("w");
                let chosen_col = self.fresh("w");
                let agg = if latest { "MAX" } else { "MIN" };
                let level = ev.level + 1;
                let depth = self.scope(inner)?.depth - 1;
                // The chosen item itself: its row's id, or a scalar item's value.
                let item_sql = if matches!(item.kind, Kind::Record(_)) {
                    "p._id".to_string()
                } else {
                    item.v.sql.clone()
                };
                self.scopes
                    .get_mut(inner)
                    .ok_or_else(|| Unsupported("internal: scope".into()))?
                    .add(
                        level,
                        Computed {
                            name: chosen_col.clone(),
                            sql: item_sql,
                            deps: item.v.deps.clone(),
                        },
                    );
                self.scopes
                    .get_mut(inner)
                    .ok_or_else(|| Unsupported("internal: scope".into()))?
                    .add(
                        level,
                        Computed {
                            name: best.clone(),
                            sql: format!("{agg}({kv}) OVER (PARTITION BY p._sc{depth})"),
                            deps: vec![ev.ev.clone(), ev.v.clone()],
                        },
                    );
                let is_best = format!("({k} AND {v} = {best})");
                let ties = format!("SUM(CASE WHEN {is_best} THEN 1 ELSE 0 END)");
                let chosen = format!("MIN(CASE WHEN {is_best} THEN {chosen_col} END)");
                outputs.push(best.clone());
                outputs.push(chosen_col.clone());
                let s = format!(
                    "CASE WHEN {any_e} THEN 3 WHEN {any_u} THEN 2 WHEN {ties} = 0 OR {ties} > 1 THEN 3 ELSE 0 END"
                );
                let e = format!(
                    "CASE WHEN {any_e} THEN {first_e} WHEN {any_u} THEN NULL WHEN {ties} = 0 THEN 'no-item' WHEN {ties} > 1 THEN 'tie' END"
                );
                let v = format!(
                    "CASE WHEN {any_e} OR {any_u} OR {ties} <> 1 THEN NULL ELSE {chosen} END"
                );
                let select = format!("{v} AS r_v, {s} AS r_s, {missing} AS r_m, {e} AS r_e");
                return Ok(fold(select, level, outputs));
            }
        };
        let none = matches!(q, Quantifier::Min | Quantifier::Max);
        let (s, e) = match fault {
            Some((cond, code)) => (
                format!("CASE WHEN {any_e} THEN 3 WHEN {any_u} THEN 2 WHEN {cond} THEN 3 ELSE 0 END"),
                format!("CASE WHEN {any_e} THEN {first_e} WHEN {any_u} THEN NULL WHEN {cond} THEN '{code}' END"),
            ),
            None if none => (
                format!("CASE WHEN {any_e} THEN 3 WHEN {any_u} THEN 2 WHEN {value_sql} IS NULL THEN 1 ELSE 0 END"),
                format!("CASE WHEN {any_e} THEN {first_e} END"),
            ),
            None => (
                format!("CASE WHEN {any_e} THEN 3 WHEN {any_u} THEN 2 ELSE 0 END"),
                format!("CASE WHEN {any_e} THEN {first_e} END"),
            ),
        };
        let v = format!("CASE WHEN {any_e} OR {any_u} THEN NULL ELSE {value_sql} END");
        let select = format!("{v} AS r_v, {s} AS r_s, {missing} AS r_m, {e} AS r_e");
        Ok(fold(select, level, outputs))
    }

    fn the_select(
        &self,
        selected: &str,
        first_e: &str,
        any_e: &str,
        any_u: &str,
        missing: &str,
        kv: &str,
    ) -> String {
        let s = format!(
            "CASE WHEN {any_e} THEN 3 WHEN {any_u} THEN 2 WHEN {selected} <> 1 THEN 3 WHEN MAX({kv}) IS NULL THEN 1 ELSE 0 END"
        );
        let e = format!(
            "CASE WHEN {any_e} THEN {first_e} WHEN {any_u} THEN NULL WHEN {selected} = 0 THEN 'no-item' WHEN {selected} > 1 THEN 'several-items' END"
        );
        let v =
            format!("CASE WHEN {any_e} OR {any_u} OR {selected} <> 1 THEN NULL ELSE MAX({kv}) END");
        format!("{v} AS r_v, {s} AS r_s, {missing} AS r_m, {e} AS r_e")
    }

    /// Aggregates the inner scope by owner row and joins the result into `scope`: the
    /// list's own state first (unknown, or none as an empty list), then the fold (an
    /// owner without items gets the fold of no items).
    fn close_items(
        &mut self,
        q: Quantifier,
        list: Cell,
        inner: usize,
        fold: Fold,
        kind: Kind,
        scope: usize,
    ) -> Compiled<Cell> {
        // A record chosen is read by its id from here on.
        let kind = match kind {
            Kind::Record(r) => Kind::Record(Record { row_of: None, ..r }),
            k => k,
        };
        let d = self.dialect;
        let (alias, join_level) = self.join_fold(inner, fold, &list, scope)?;
        let (empty_v, empty_s, empty_e) = empty_fold(q, d);
        let ls = &list.s.sql;
        let empty = format!("({ls} = 1 OR {alias}._key IS NULL)");
        let pick = |on_list: &str, on_empty: &str, on_agg: String| {
            format!(
                "CASE WHEN {ls} >= 2 THEN {on_list} WHEN {empty} THEN {on_empty} ELSE {on_agg} END"
            )
        };
        let list_deps = Part::of("", &list.parts()).deps;
        let mk = |sql: String| Part {
            sql,
            deps: list_deps.clone(),
        };
        let v = mk(pick("NULL", &empty_v, format!("{alias}.r_v")));
        let s = mk(pick(ls, &empty_s, format!("{alias}.r_s")));
        let m = mk(pick(&list.m.sql, NO_PATHS, format!("{alias}.r_m")));
        let e = mk(pick(&list.e.sql, &empty_e, format!("{alias}.r_e")));
        let cell = Cell {
            scope,
            level: 0,
            v,
            s,
            m,
            e,
            kind,
        };
        let mut cell = self.put_at(cell, join_level)?;
        cell.level = join_level;
        Ok(cell)
    }

    /// Aggregates the inner scope's rows by owner row (`fold`) and joins the result
    /// into `scope` in the layer after the list and what the items read of it: the
    /// join's alias and layer.
    pub(crate) fn join_fold(
        &mut self,
        inner: usize,
        fold: Fold,
        list: &Cell,
        scope: usize,
    ) -> Compiled<(String, usize)> {
        let Fold {
            select,
            level,
            outputs,
        } = fold;
        let inner_depth = self.scope(inner)?.depth;
        let cte = self.fresh("agg");
        let top = self.scope(inner)?.top().max(level);
        let agg_sql = format!(
            "SELECT _sc{k} AS _key, {select} FROM {} GROUP BY _sc{k}",
            self.scope(inner)?.cte(top),
            k = inner_depth - 1
        );
        let imports_level = self.imports.get(inner).map_or(0, |i| i.level);
        let join_level = list.level.max(imports_level) + 1;
        let owner_is_fixed = list.v.deps.first().is_some_and(|c| c.starts_with('_'));
        let base_level = if owner_is_fixed {
            imports_level
        } else {
            imports_level.max(list.level)
        };
        let alias = self.fresh("a");
        self.scopes
            .get_mut(scope)
            .ok_or_else(|| Unsupported("internal: scope".into()))?
            .join(
                join_level,
                Join {
                    cte: cte.clone(),
                    alias: alias.clone(),
                    on: "_id".into(),
                },
            );
        if let Some(list_of) = self.inner.get_mut(scope) {
            list_of.push(super::compile::InnerJoin {
                level: join_level,
                scope: inner,
                cte,
                sql: agg_sql,
                outputs,
                upto: top,
                base_level,
            });
        }
        Ok((alias, join_level))
    }

    /// Materialises every part of `cell` at `level` (parts that read a join there).
    pub(crate) fn put_at(&mut self, mut cell: Cell, level: usize) -> Compiled<Cell> {
        let name = self.fresh("n");
        for (suffix, part) in [
            ("v", &mut cell.v),
            ("s", &mut cell.s),
            ("m", &mut cell.m),
            ("e", &mut cell.e),
        ] {
            let col = format!("{name}{suffix}");
            self.scopes
                .get_mut(cell.scope)
                .ok_or_else(|| Unsupported("internal: scope".into()))?
                .add(
                    level,
                    Computed {
                        name: col.clone(),
                        sql: part.sql.clone(),
                        deps: part.deps.clone(),
                    },
                );
            *part = Part::col(col);
        }
        Ok(cell)
    }

    /// `x in list` for a list field: strict in x and the list, then whether an item
    /// equals x.
    pub(crate) fn list_membership(
        &mut self,
        x: Cell,
        list: Cell,
        negated: bool,
        scope: usize,
    ) -> Compiled<Cell> {
        let (inner, item) = self.open_items(&list, scope)?;
        let xi = self.import(x.clone(), inner)?;
        let eq = self.compare(crate::syntax::ast::CmpOp::Eq, item, xi, inner)?;
        let ev = self.truth_event(Quantifier::Any, inner, None, Some(&eq))?;
        let agg = self.truth_fold(Quantifier::Any, &ev)?;
        let found =
            self.close_items(Quantifier::Any, list.clone(), inner, agg, Kind::Bool, scope)?;
        let st = self.strict(&[&x, &list]);
        let hit = if negated {
            format!("NOT {}", found.is_true())
        } else {
            found.is_true()
        };
        let s = Part::of(
            format!("CASE WHEN {s} >= 2 THEN {s} ELSE 0 END", s = st.s.sql),
            &[&st.s],
        );
        let v = Part::of(
            format!(
                "CASE WHEN {s} = 0 THEN {hit} WHEN {s} = 1 THEN FALSE END",
                s = st.s.sql
            ),
            &[&st.s, &found.v, &found.s],
        );
        self.node(scope, &[&x, &list, &found], Kind::Bool, [v, s, st.m, st.e])
    }

    /// `len(list)` of a list field: none when the list is none.
    pub(crate) fn list_length(&mut self, list: Cell, scope: usize) -> Compiled<Cell> {
        let (inner, _) = self.open_items(&list, scope)?;
        let ev = self.truth_event(Quantifier::Count, inner, None, None)?;
        let agg = self.truth_fold(Quantifier::Count, &ev)?;
        let count = self.close_items(
            Quantifier::Count,
            list.clone(),
            inner,
            agg,
            Kind::Int,
            scope,
        )?;
        let s = Part::of(
            format!(
                "CASE WHEN {} = 1 THEN 1 ELSE {} END",
                list.s.sql, count.s.sql
            ),
            &[&list.s, &count.s],
        );
        let v = Part::of(
            format!(
                "CASE WHEN {} = 1 THEN NULL ELSE {} END",
                list.s.sql, count.v.sql
            ),
            &[&list.s, &count.v],
        );
        let (m, e) = (count.m.clone(), count.e.clone());
        self.node(scope, &[&list, &count], Kind::Int, [v, s, m, e])
    }

    /// A scalar item's column as the cells hold it.
    fn decode_scalar(&self, ty: &crate::schema::FieldType, col: &Part) -> Compiled<Part> {
        match ty {
            crate::schema::FieldType::Enum(e) => {
                let def = self
                    .rules
                    .schema
                    .enum_def(*e)
                    .ok_or_else(|| Unsupported("internal: enum".into()))?;
                let arms: Vec<String> = def
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("WHEN {} THEN {i}", self.dialect.text(v)))
                    .collect();
                Ok(Part::of(
                    format!("CAST(CASE {} {} END AS BIGINT)", col.sql, arms.join(" ")),
                    &[col],
                ))
            }
            _ => Ok(col.clone()),
        }
    }
}

/// The fold of no items: value, state and error.
fn empty_fold(q: Quantifier, d: Dialect) -> (String, String, String) {
    let t = |v: &str| (v.to_string(), KNOWN.to_string(), "NULL".to_string());
    match q {
        Quantifier::Any => t("FALSE"),
        Quantifier::All | Quantifier::No => t("TRUE"),
        Quantifier::Count | Quantifier::Sum => t(&d.int(0)),
        Quantifier::Min | Quantifier::Max => ("NULL".into(), "1".into(), "NULL".into()),
        Quantifier::The | Quantifier::Latest | Quantifier::Earliest => {
            ("NULL".into(), "3".into(), d.text("no-item"))
        }
    }
}

/// The error kind of the first item (by position) in error.
fn first_error_agg(d: Dialect, is_error: &str, e: &str) -> String {
    first_by_position(d, is_error, e)
}

/// The value (text) of the first item (by position) where `cond` holds.
pub(crate) fn first_by_position(d: Dialect, cond: &str, value: &str) -> String {
    let text = match d {
        Dialect::Postgres => "TEXT",
        Dialect::Spark => "STRING",
    };
    format!(
        "substr(MIN(CASE WHEN {cond} THEN concat(lpad(CAST(_pos AS {text}), 10, '0'), {value}) END), 11)"
    )
}

/// The sorted union of the missing paths of the items where `cond` holds.
pub(crate) fn union_agg(d: Dialect, cond: &str, m: &str) -> String {
    match d {
        Dialect::Postgres => format!(
            "ARRAY(SELECT DISTINCT (t COLLATE \"C\") FROM jsonb_array_elements(jsonb_agg(to_jsonb({m})) FILTER (WHERE {cond} AND {m} IS NOT NULL)) AS a(j) CROSS JOIN LATERAL jsonb_array_elements_text(a.j) AS x(t) ORDER BY 1)"
        ),
        Dialect::Spark => format!(
            "array_sort(array_distinct(flatten(collect_list(CASE WHEN {cond} THEN {m} END))))"
        ),
    }
}
