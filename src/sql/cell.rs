//! A value in SQL: the four columns (or literals) that hold what the evaluator's
//! `Val` holds, and the combinators that state the evaluator's rules over them.
//!
//! - `v`: the value, null unless the state is known;
//! - `s`: the state: 0 known, 1 a known "none", 2 unknown (missing data), 3 an
//!   evaluation error. The codes order the states as strict operators combine them:
//!   an error wins over unknown, unknown over none (`GREATEST`);
//! - `m`: the missing field paths (a sorted text array) when unknown;
//! - `e`: the error's kind code when in error.

use super::Dialect;

/// State code: a known value.
pub(crate) const KNOWN: &str = "0";
/// State code: a known "none".
pub(crate) const NONE: &str = "1";
/// State code: unknown.
pub(crate) const UNKNOWN: &str = "2";
/// State code: an evaluation error.
pub(crate) const ERROR: &str = "3";
/// No missing paths: a typed null of the paths' array type, written out per dialect
/// when the script is rendered ([`Dialect::typed_nulls`]); an untyped `NULL` would
/// make PostgreSQL type a `CASE` of nulls as text.
pub(crate) const NO_PATHS: &str = "__MS_NO_PATHS__";

/// One part of a cell: SQL text and the columns it reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// The SQL.
    pub sql: String,
    /// The columns it reads.
    pub deps: Vec<String>,
}

impl Part {
    /// A literal (reads no column).
    pub fn lit(sql: impl Into<String>) -> Part {
        Part {
            sql: sql.into(),
            deps: vec![],
        }
    }

    /// A column.
    pub fn col(name: impl Into<String>) -> Part {
        let name = name.into();
        Part {
            sql: format!("p.{name}"),
            deps: vec![name],
        }
    }

    /// SQL over other parts (their columns read).
    pub fn of(sql: impl Into<String>, parts: &[&Part]) -> Part {
        let mut deps: Vec<String> = vec![];
        for p in parts {
            for d in &p.deps {
                if !deps.contains(d) {
                    deps.push(d.clone());
                }
            }
        }
        Part {
            sql: sql.into(),
            deps,
        }
    }

    /// Whether it is this literal.
    pub fn is(&self, lit: &str) -> bool {
        self.deps.is_empty() && self.sql == lit
    }

    /// Whether it reads no column.
    pub fn is_lit(&self) -> bool {
        self.deps.is_empty()
    }
}

/// The type of a cell's value, as SQL holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// boolean
    Bool,
    /// a whole number (bigint)
    Int,
    /// an exact decimal (numeric)
    Dec,
    /// text
    Str,
    /// a date
    Date,
    /// an enum value, as its index in the enum (so that it orders as the enum does)
    Enum(u16),
    /// a record: the row of a scope (`v` unused), or the row a choice picked (`v` its
    /// `_id`), with the field indexes leading to the nested record.
    Record(Record),
    /// a list of a row: `v` is the owner row's `_id`; the items are the rows of the
    /// layout table whose `_parent` it is.
    List {
        /// The list's table in the layout.
        table: usize,
    },
    /// the literal `none`, whose type is the other operand's
    NoneLit,
    /// a list known when the rules are compiled (a parameter's, a literal's)
    ConstList(Vec<String>),
}

/// Where a record's fields are read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The layout table of the row.
    pub table: usize,
    /// The field indexes from the row's record to this (nested) record.
    pub prefix: Vec<usize>,
    /// The scope whose row it is, when it is a scope's own row; `None` when `v` is a
    /// chosen row's `_id`.
    pub row_of: Option<usize>,
}

/// A value during the computation: its parts, where they live and its kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    /// The scope (row space) whose columns the parts read.
    pub scope: usize,
    /// The layer from which the parts can be read.
    pub level: usize,
    /// The value (null unless known).
    pub v: Part,
    /// The state code.
    pub s: Part,
    /// The missing paths (when unknown).
    pub m: Part,
    /// The error kind (when in error).
    pub e: Part,
    /// Its type.
    pub kind: Kind,
}

impl Cell {
    /// A known value given by a literal.
    pub fn known(scope: usize, kind: Kind, v: Part) -> Cell {
        Cell {
            scope,
            level: 0,
            v,
            s: Part::lit(KNOWN),
            m: Part::lit(NO_PATHS),
            e: Part::lit("NULL"),
            kind,
        }
    }

    /// The known "none" of a type.
    pub fn none(scope: usize, kind: Kind) -> Cell {
        Cell {
            s: Part::lit(NONE),
            v: Part::lit(typed_null(&kind)),
            ..Cell::known(scope, kind, Part::lit("NULL"))
        }
    }

    /// An evaluation error of `kind_code` for every row.
    pub fn error(scope: usize, kind: Kind, code: &str, dialect: Dialect) -> Cell {
        Cell {
            s: Part::lit(ERROR),
            v: Part::lit(dialect.null(&kind)),
            e: Part::lit(dialect.text(code)),
            ..Cell::known(scope, kind, Part::lit("NULL"))
        }
    }

    /// Whether it is always known.
    pub fn always_known(&self) -> bool {
        self.s.is(KNOWN)
    }

    /// Whether it may be in error (a state that is not a plain code may be any).
    pub fn may_err(&self) -> bool {
        !(self.s.is(KNOWN) || self.s.is(NONE) || self.s.is(UNKNOWN))
    }

    /// Whether it may be unknown.
    pub fn may_be_unknown(&self) -> bool {
        !(self.s.is(KNOWN) || self.s.is(NONE) || self.s.is(ERROR))
    }

    /// The parts, for dependency lists.
    pub fn parts(&self) -> [&Part; 4] {
        [&self.v, &self.s, &self.m, &self.e]
    }

    /// SQL: whether it is true (a known `true`).
    pub fn is_true(&self) -> String {
        if self.kind != Kind::Bool {
            return "FALSE".into();
        }
        if self.always_known() {
            return format!("({} IS TRUE)", self.v.sql);
        }
        format!("({} = 0 AND {} IS TRUE)", self.s.sql, self.v.sql)
    }

    /// SQL: whether it is false as a condition (a known value that is not `true`, or
    /// a known "none").
    pub fn is_false(&self) -> String {
        if self.kind != Kind::Bool {
            return format!("({} <= 1)", self.s.sql);
        }
        if self.always_known() {
            return format!("({} IS NOT TRUE)", self.v.sql);
        }
        format!("({} <= 1 AND {} IS NOT TRUE)", self.s.sql, self.v.sql)
    }

    /// SQL: whether its state is `code`.
    pub fn state_is(&self, code: &str) -> String {
        if [KNOWN, NONE, UNKNOWN, ERROR].iter().any(|c| self.s.is(c)) {
            return if self.s.sql == code { "TRUE" } else { "FALSE" }.into();
        }
        format!("({} = {code})", self.s.sql)
    }
}

/// A typed null of a kind, written in either dialect (decimals and text by a token
/// [`Dialect::typed_nulls`] writes out).
pub(crate) fn typed_null(kind: &Kind) -> String {
    match kind {
        Kind::Bool => "CAST(NULL AS BOOLEAN)".into(),
        Kind::Int | Kind::Enum(_) => "CAST(NULL AS BIGINT)".into(),
        Kind::Date => "CAST(NULL AS DATE)".into(),
        Kind::Dec => NULL_DECIMAL.into(),
        Kind::Str => NULL_TEXT.into(),
        _ => "NULL".into(),
    }
}

/// A typed null decimal, written out per dialect.
pub(crate) const NULL_DECIMAL: &str = "__MS_NULL_DECIMAL__";
/// A typed null text, written out per dialect.
pub(crate) const NULL_TEXT: &str = "__MS_NULL_TEXT__";

/// The SQL type of a kind's value, for typed nulls.
pub(crate) fn sql_type(kind: &Kind, dialect: Dialect) -> &'static str {
    match (kind, dialect) {
        (Kind::Bool, _) => "BOOLEAN",
        (Kind::Int | Kind::Enum(_), _) => "BIGINT",
        (Kind::Dec, Dialect::Postgres) => "NUMERIC",
        (Kind::Dec, Dialect::Spark) => "DECIMAL(38,18)",
        (Kind::Str, Dialect::Postgres) => "TEXT",
        (Kind::Str, Dialect::Spark) => "STRING",
        (Kind::Date, _) => "DATE",
        (
            Kind::Record(_) | Kind::List { .. } | Kind::ConstList(_) | Kind::NoneLit,
            Dialect::Postgres,
        ) => "TEXT",
        (
            Kind::Record(_) | Kind::List { .. } | Kind::ConstList(_) | Kind::NoneLit,
            Dialect::Spark,
        ) => "STRING",
    }
}

/// SQL helpers that differ between dialects.
impl Dialect {
    /// A typed null.
    pub(crate) fn null(self, kind: &Kind) -> String {
        format!("CAST(NULL AS {})", sql_type(kind, self))
    }

    /// A text array of literals.
    pub(crate) fn text_array(self, items: &[String]) -> String {
        let lits: Vec<String> = items.iter().map(|s| self.text(s)).collect();
        match self {
            Dialect::Postgres => format!("ARRAY[{}]::text[]", lits.join(", ")),
            Dialect::Spark if lits.is_empty() => "CAST(array() AS ARRAY<STRING>)".into(),
            Dialect::Spark => format!("array({})", lits.join(", ")),
        }
    }

    /// The script with the typed nulls of missing paths written out.
    pub(crate) fn typed_nulls(self, sql: &str) -> String {
        let typed = match self {
            Dialect::Postgres => "CAST(NULL AS TEXT[])",
            Dialect::Spark => "CAST(NULL AS ARRAY<STRING>)",
        };
        sql.replace(NO_PATHS, typed)
            .replace(NULL_DECIMAL, &self.null(&Kind::Dec))
            .replace(NULL_TEXT, &self.null(&Kind::Str))
    }

    /// The empty text array.
    pub(crate) fn empty_array(self) -> String {
        self.text_array(&[])
    }

    /// The sorted, deduplicated union of text arrays (null ones count as empty).
    pub(crate) fn union(self, arrays: &[String]) -> String {
        let empty = self.empty_array();
        let parts: Vec<String> = arrays
            .iter()
            .map(|a| format!("COALESCE({a}, {empty})"))
            .collect();
        match self {
            // Byte order (`C`), as the engine sorts paths.
            Dialect::Postgres => format!(
                "ARRAY(SELECT DISTINCT (u COLLATE \"C\") FROM unnest({}) AS u ORDER BY 1)",
                parts.join(" || ")
            ),
            Dialect::Spark => format!("array_sort(array_distinct(concat({})))", parts.join(", ")),
        }
    }

    /// Text concatenation.
    pub(crate) fn concat(self, parts: &[String]) -> String {
        match self {
            Dialect::Postgres => format!("({})", parts.join(" || ")),
            Dialect::Spark => format!("concat({})", parts.join(", ")),
        }
    }

    /// A number as text (for paths).
    pub(crate) fn to_text(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({sql} AS TEXT)"),
            Dialect::Spark => format!("CAST({sql} AS STRING)"),
        }
    }

    /// The year, month or day of a date, as a whole number.
    pub(crate) fn date_part(self, part: &str, date: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST(EXTRACT({part} FROM {date}) AS BIGINT)"),
            Dialect::Spark => format!("CAST({}({date}) AS BIGINT)", part.to_lowercase()),
        }
    }

    /// A date literal.
    pub(crate) fn date(self, d: chrono::NaiveDate) -> String {
        format!("DATE '{d}'")
    }

    /// A decimal literal.
    pub(crate) fn decimal(self, d: rust_decimal::Decimal) -> String {
        match self {
            Dialect::Postgres => format!("CAST({d} AS NUMERIC)"),
            Dialect::Spark => format!("CAST({d} AS DECIMAL(38,18))"),
        }
    }

    /// The number at `key` of a JSON object text (null when it is not a number).
    pub(crate) fn json_number(self, json: &str, key: &str) -> String {
        let k = self.text(key);
        match self {
            Dialect::Postgres => format!(
                "CASE WHEN json_typeof(CAST({json} AS JSON) -> {k}) = 'number' THEN CAST(CAST({json} AS JSON) ->> {k} AS NUMERIC) END"
            ),
            Dialect::Spark => format!(
                "CAST(get_json_object({json}, {}) AS DECIMAL(38,18))",
                self.text(&format!("$.{key}"))
            ),
        }
    }

    /// A whole-number literal.
    pub(crate) fn int(self, i: i64) -> String {
        format!("CAST({i} AS BIGINT)")
    }

    /// A string comparison that orders by bytes, as the engine does.
    pub(crate) fn bytewise(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => format!("({sql} COLLATE \"C\")"),
            Dialect::Spark => sql.to_string(),
        }
    }

    /// `d` plus `n` months (the day clamped to the month's end).
    pub(crate) fn add_months(self, d: &str, n: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("CAST({d} + make_interval(months => CAST({n} AS INTEGER)) AS DATE)")
            }
            Dialect::Spark => format!("add_months({d}, CAST({n} AS INT))"),
        }
    }

    /// `d` plus `n` days.
    pub(crate) fn add_days(self, d: &str, n: &str) -> String {
        match self {
            Dialect::Postgres => format!("({d} + CAST({n} AS INTEGER))"),
            Dialect::Spark => format!("date_add({d}, CAST({n} AS INT))"),
        }
    }

    /// A whole number widened for overflow-free arithmetic.
    pub(crate) fn wide(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({sql} AS NUMERIC)"),
            Dialect::Spark => format!("CAST({sql} AS DECIMAL(38,0))"),
        }
    }

    /// A number as a decimal.
    pub(crate) fn as_decimal(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({sql} AS NUMERIC)"),
            Dialect::Spark => format!("CAST({sql} AS DECIMAL(38,18))"),
        }
    }
}
