//! Runtime values: what a record holds and what expressions compute.
//!
//! A record is read once into a tree of [`RecordNode`]s laid out in the schema's field
//! order, so the evaluator reaches a field by index, never by name. Each field slot is
//! already normalised by the schema: a default applied, a known "none", or missing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::sync::Arc;

/// Index of an enum type in the schema.
pub type EnumId = u16;

/// A known value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// true / false
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// An exact decimal (money, ratios).
    Decimal(Decimal),
    /// Text (names, regions, ids), shared.
    Str(Arc<str>),
    /// A calendar date.
    Date(NaiveDate),
    /// A value of an enum type: the type and the value's index in it.
    Enum(EnumId, u16),
    /// A list (of scalars, or of records such as `hires`).
    List(Arc<[Value]>),
    /// A nested record.
    Record(Arc<RecordNode>),
}

/// A record read against the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordNode {
    /// The schema path of this record, as reported in `missing` (e.g.
    /// `social_insurance.unemployment`, `hires[H2]`); empty for a subject's root.
    pub path: Arc<str>,
    /// One slot per schema field, in schema order.
    pub fields: Box<[Slot]>,
}

/// What a record holds for one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// A required field that is absent or null: unknown.
    Missing,
    /// An optional field with no value: a known "none".
    None,
    /// A value (given, or the field's default).
    Value(Value),
}

impl RecordNode {
    /// The schema path of a field of this record.
    pub fn field_path(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{}", self.path, field)
        }
    }
}

impl Value {
    /// The value as a decimal, if numeric.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Int(i) => Some(Decimal::from(*i)),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }
}

/// An amount of money to exactly two decimal places (`2305` → `2305.00`), as every
/// output states amounts.
pub fn money(d: Decimal) -> Decimal {
    let mut v = d;
    v.rescale(2);
    v
}

/// Formats a decimal for output: at least two fractional digits, more when the value
/// has them (`2305.00`, `0.60`, `0.055`).
pub fn format_decimal(d: Decimal) -> String {
    let n = d.normalize();
    if n.scale() >= 2 {
        n.to_string()
    } else {
        money(n).to_string()
    }
}
