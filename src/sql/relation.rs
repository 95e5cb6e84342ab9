//! Row spaces and their layers: how the compiled SQL keeps every expression computed
//! once per row.
//!
//! A *scope* is a row space: the subject table's rows, or the items of a list (each
//! joined to the row of the enclosing scope it belongs to). An expression's value is a
//! few columns of its scope; a node whose operands are columns is computed in the
//! next *layer*, a common table expression over the previous one. So the SQL text
//! stays linear in the size of the rules, however often a value is read, and each
//! layer keeps only the columns a later one reads (PostgreSQL allows at most 1,664
//! columns in a select list).

use super::Dialect;
use std::collections::BTreeSet;

/// A column computed in a layer.
#[derive(Debug, Clone)]
pub(crate) struct Computed {
    /// Its name (unique in the script).
    pub name: String,
    /// Its SQL over the previous layer's columns (and the layer's joins).
    pub sql: String,
    /// The columns of the previous layer (or of the joins) it reads.
    pub deps: Vec<String>,
}

/// A relation joined into a layer (`LEFT JOIN cte AS alias ON alias._key = prev.col`).
#[derive(Debug, Clone)]
pub(crate) struct Join {
    /// The joined common table expression.
    pub cte: String,
    /// Its alias in the layer.
    pub alias: String,
    /// The column of the previous layer matched with the joined relation's `_key`.
    pub on: String,
}

/// One layer of a scope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    /// The columns it adds.
    pub columns: Vec<Computed>,
    /// The relations it joins.
    pub joins: Vec<Join>,
}

/// A row space.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Its number (names its common table expressions `s<n>_<layer>`).
    pub id: usize,
    /// The enclosing scope, `None` for the subject's.
    pub parent: Option<usize>,
    /// How deep it is: 0 for the subject's.
    pub depth: usize,
    /// The SQL of its first relation (layer 0): `_id`, `_path`, the ids of the rows
    /// of the enclosing scopes `_sc0 … _sc<depth-1>`, and its base columns.
    pub base: String,
    /// The columns layer 0 has (always kept: `_id`, `_path`, `_sc*`).
    pub fixed: Vec<String>,
    /// Layers 1 and on (index 0 is layer 1).
    pub layers: Vec<Layer>,
    /// Columns that must survive up to a given layer (read there by an inner scope).
    pub pinned: Vec<(String, usize)>,
}

impl Scope {
    /// A scope whose layer 0 is `base`.
    pub fn new(id: usize, parent: Option<usize>, depth: usize, base: String) -> Scope {
        let mut fixed = vec!["_id".to_string(), "_path".to_string()];
        if depth > 0 {
            fixed.push("_pos".to_string());
        }
        fixed.extend((0..depth).map(|d| format!("_sc{d}")));
        Scope {
            id,
            parent,
            depth,
            base,
            fixed,
            layers: vec![],
            pinned: vec![],
        }
    }

    /// The name of layer `level`'s common table expression.
    pub fn cte(&self, level: usize) -> String {
        format!("s{}_{level}", self.id)
    }

    /// The current last layer.
    pub fn top(&self) -> usize {
        self.layers.len()
    }

    /// Adds a computed column at `level` (made as needed).
    pub fn add(&mut self, level: usize, column: Computed) {
        self.with_layer(level, |l| l.columns.push(column));
    }

    /// Adds a join at `level`.
    pub fn join(&mut self, level: usize, join: Join) {
        self.with_layer(level, |l| l.joins.push(join));
    }

    /// Runs `f` on layer `level`, made as needed.
    fn with_layer(&mut self, level: usize, f: impl FnOnce(&mut Layer)) {
        let index = level.max(1) - 1;
        if self.layers.len() <= index {
            self.layers.resize_with(index + 1, Layer::default);
        }
        if let Some(layer) = self.layers.get_mut(index) {
            f(layer);
        }
    }

    /// The common table expressions of the scope, up to and including layer `upto`,
    /// keeping after each layer only what a later one (or `outputs`) reads.
    pub fn render(
        &self,
        dialect: Dialect,
        upto: usize,
        outputs: &[String],
    ) -> Vec<(String, String)> {
        let live = self.live_after(upto, outputs);
        let mut out = vec![(self.cte(0), self.base.clone())];
        for level in 1..=upto {
            let Some(layer) = self.layers.get(level - 1) else {
                break;
            };
            let keep = live.get(level).cloned().unwrap_or_default();
            let defined: BTreeSet<&str> = layer.columns.iter().map(|c| c.name.as_str()).collect();
            let mut select: Vec<String> = self.fixed.iter().map(|c| format!("p.{c}")).collect();
            for c in &keep {
                if !defined.contains(c.as_str()) && !self.fixed.contains(c) {
                    select.push(format!("p.{c}"));
                }
            }
            for c in &layer.columns {
                if keep.contains(&c.name) {
                    select.push(format!("{} AS {}", c.sql, c.name));
                }
            }
            let mut from = format!("{} p", self.cte(level - 1));
            for j in &layer.joins {
                from.push_str(&format!(
                    " LEFT JOIN {} {} ON {}._key = p.{}",
                    j.cte, j.alias, j.alias, j.on
                ));
            }
            let fence = match dialect {
                // Keeps PostgreSQL from pulling the layer up into the next one, which
                // would copy each expression into every place that reads it.
                Dialect::Postgres => " OFFSET 0",
                Dialect::Spark => "",
            };
            out.push((
                self.cte(level),
                format!("SELECT {} FROM {from}{fence}", select.join(", ")),
            ));
        }
        out
    }

    /// For each level 0..=upto, the columns its relation must output.
    fn live_after(&self, upto: usize, outputs: &[String]) -> Vec<BTreeSet<String>> {
        let mut live = vec![BTreeSet::new(); upto + 1];
        let mut needed: BTreeSet<String> = outputs.iter().cloned().collect();
        for level in (0..=upto).rev() {
            for (c, at) in &self.pinned {
                if *at == level {
                    needed.insert(c.clone());
                }
            }
            if let Some(slot) = live.get_mut(level) {
                *slot = needed.clone();
            }
            if level == 0 {
                break;
            }
            if let Some(layer) = self.layers.get(level - 1) {
                for c in &layer.columns {
                    if needed.remove(&c.name) {
                        needed.extend(c.deps.iter().cloned());
                    }
                }
                needed.extend(layer.joins.iter().map(|j| j.on.clone()));
            }
        }
        live
    }
}
