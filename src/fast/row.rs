//! The flat row layout the compiled evaluator reads.
//!
//! A record becomes one vector of [`Cell`]s: the root record's fields first, each nested
//! record (`hukou`, `employment`) inline after its own cell, and list items appended
//! after the root, each list cell pointing at a run of item cells. Every field is
//! therefore a constant offset from its record's base, which the compiler resolves
//! once; a row is cleared and refilled for the next record, so reading a population
//! allocates nothing per record once the buffers have grown.
//!
//! [`RowReader`] (in `row_reader.rs`) fills a row from a JSON line.

use crate::schema::{FieldType, Presence, RecordId, Schema};
use crate::value::Value;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::sync::Arc;

pub use super::row_reader::RowReader;

/// One cell of a row, and the value the compiled evaluator computes.
///
/// Dates are packed as `year * 10000 + month * 100 + day`, which orders like the
/// dates and makes completed years a subtraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// A required field that is absent: unknown.
    Unknown,
    /// The compiled evaluator cannot give this value (an evaluation error, or a case it
    /// leaves to the reference evaluator).
    Error,
    /// A known "none".
    None,
    /// true / false
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// An exact decimal whose mantissa fits in 62 bits (money, most ratios): mantissa
    /// and scale, computed on as integers.
    Fixed(i64, u8),
    /// Any other exact decimal, packed.
    Dec(PackedDecimal),
    /// A packed date.
    Date(i32),
    /// An enum value's index in its type.
    Enum(u16),
    /// Text: a byte range of the row's text.
    Str(u32, u32),
    /// A list: `len` item cells from `start`.
    List(u32, u32),
    /// A record whose fields start at this cell.
    Rec(u32),
}

impl Cell {
    /// The cell of a decimal: `Fixed` when the mantissa fits (and it is not a negative
    /// zero, whose sign the outputs keep), `Dec` otherwise.
    #[inline]
    pub fn dec(d: Decimal) -> Cell {
        let m = d.mantissa();
        if m.unsigned_abs() < 1 << 62 && !(m == 0 && d.is_sign_negative()) {
            Cell::Fixed(m as i64, d.scale() as u8)
        } else {
            Cell::Dec(PackedDecimal::new(d))
        }
    }

    /// The decimal of a `Fixed` or `Dec` cell, and a whole number as a decimal.
    #[inline]
    pub fn decimal(self) -> Option<Decimal> {
        match self {
            Cell::Int(i) => Some(Decimal::from(i)),
            Cell::Fixed(m, s) => Some(Decimal::new(m, u32::from(s))),
            Cell::Dec(d) => Some(d.get()),
            _ => None,
        }
    }
}

/// A decimal in 13 bytes (scale and sign, then the 96-bit mantissa), so that a cell
/// takes 16 bytes (rows are a third smaller) and fits the two machine words in which a
/// compiled expression returns its value (`lower::Word`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedDecimal([u8; 13]);

impl PackedDecimal {
    /// Packs a decimal.
    #[inline]
    pub fn new(d: Decimal) -> Self {
        // `serialize`: flags (scale in byte 2, sign in the top bit of byte 3), then the
        // mantissa's low, middle and high words.
        let b = d.serialize();
        let mut p = [0u8; 13];
        p[0] = b[2] | (b[3] & 0x80);
        p[1..].copy_from_slice(&b[4..16]);
        PackedDecimal(p)
    }

    /// A decimal of a mantissa that fits in 63 bits and a scale up to 28 (the unit
    /// tests' way to build one).
    #[cfg(test)]
    pub fn from_small(mantissa: i64, scale: u32) -> Self {
        let m = mantissa.unsigned_abs();
        let mut p = [0u8; 13];
        p[0] = (scale.min(28) as u8) | if mantissa < 0 { 0x80 } else { 0 };
        p[1..9].copy_from_slice(&m.to_le_bytes());
        PackedDecimal(p)
    }

    /// The mantissa (signed) and scale, when the mantissa fits in 63 bits: the common
    /// case of money, computed on directly.
    #[inline]
    pub fn small(self) -> Option<(i64, u32)> {
        let p = self.0;
        if p[9..13] != [0, 0, 0, 0] || p[8] & 0x80 != 0 {
            return None;
        }
        let mut m = [0u8; 8];
        m.copy_from_slice(&p[1..9]);
        let m = u64::from_le_bytes(m) as i64;
        let scale = u32::from(p[0] & 0x7f);
        Some((if p[0] & 0x80 != 0 { -m } else { m }, scale))
    }

    /// The 13 bytes as two words: the first seven (in the low 56 bits), then the last
    /// six.
    #[inline(always)]
    pub fn words(self) -> (u64, u64) {
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi[..7].copy_from_slice(&self.0[..7]);
        lo[..6].copy_from_slice(&self.0[7..]);
        (u64::from_le_bytes(hi), u64::from_le_bytes(lo))
    }

    /// The decimal of [`words`](Self::words).
    #[inline(always)]
    pub fn from_words(hi: u64, lo: u64) -> Self {
        let mut p = [0u8; 13];
        p[..7].copy_from_slice(&hi.to_le_bytes()[..7]);
        p[7..].copy_from_slice(&lo.to_le_bytes()[..6]);
        PackedDecimal(p)
    }

    /// The decimal.
    #[inline]
    pub fn get(self) -> Decimal {
        let mut b = [0u8; 16];
        b[2] = self.0[0] & 0x7f;
        b[3] = self.0[0] & 0x80;
        b[4..].copy_from_slice(&self.0[1..]);
        Decimal::deserialize(b)
    }
}

/// Packs a date.
pub fn pack_date(d: NaiveDate) -> Option<i32> {
    let y = d.year();
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(y * 10_000 + d.month() as i32 * 100 + d.day() as i32)
}

/// The parts of a packed date (year, month, day), as the calendar rules take them.
#[inline(always)]
pub fn date_parts(p: i32) -> crate::semantics::calendar::Ymd {
    (p / 10_000, (p / 100 % 100) as u32, (p % 100) as u32)
}

/// Unpacks a date.
pub fn unpack_date(p: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(p / 10_000, (p / 100 % 100) as u32, (p % 100) as u32)
}

/// A record read into the flat layout.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The subject kind.
    pub subject: usize,
    /// The cells; the root record's fields start at 0.
    pub cells: Vec<Cell>,
    /// The text of every string cell.
    pub text: String,
}

impl Row {
    /// The subject's id, when the record has one.
    pub fn id(&self, layout: &RowLayout) -> Option<&str> {
        let off = layout.id_cells.get(self.subject).copied().flatten()?;
        match self.cells.get(off as usize)? {
            Cell::Str(s, l) => Some(self.view().str(*s, *l)),
            _ => None,
        }
    }
}

impl Row {
    /// The row as the compiled evaluator reads it.
    pub fn view(&self) -> RowRef<'_> {
        RowRef {
            subject: self.subject,
            cells: &self.cells,
            text: &self.text,
        }
    }
}

/// A row as the compiled evaluator reads it: its cells and text, wherever they are
/// stored (a [`Row`] being filled, or a [`RowBatch`] of many).
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    /// The subject kind.
    pub subject: usize,
    /// The cells; the root record's fields start at 0.
    pub cells: &'a [Cell],
    /// The text of every string cell.
    pub text: &'a str,
}

impl<'a> RowRef<'a> {
    /// The text of a string cell.
    pub fn str(&self, start: u32, len: u32) -> &'a str {
        let start = start as usize;
        self.text.get(start..start + len as usize).unwrap_or("")
    }

    /// The cell at `at`. Offsets come from the layout the row was read with; one out
    /// of range (a layout and a row that do not belong together) reads as an error,
    /// which leaves the decision to the reference evaluator instead of panicking.
    #[inline(always)]
    pub fn cell(&self, at: usize) -> Cell {
        self.cells.get(at).copied().unwrap_or(Cell::Error)
    }

    /// Field `off` of the record whose fields start at cell `base`.
    #[inline(always)]
    pub fn field(&self, base: u32, off: u32) -> Cell {
        self.cell(base as usize + off as usize)
    }

    /// The item cells of a list value's run (`start`, `len`).
    #[inline(always)]
    pub fn items(&self, start: u32, len: u32) -> &'a [Cell] {
        let start = start as usize;
        self.cells.get(start..start + len as usize).unwrap_or(&[])
    }
}

impl<'a> From<&'a Row> for RowRef<'a> {
    fn from(row: &'a Row) -> Self {
        row.view()
    }
}

/// Many rows in one arena: a population held in memory in the compiled layout, read
/// in order without chasing a pointer per record.
#[derive(Debug, Clone, Default)]
pub struct RowBatch {
    cells: Vec<Cell>,
    text: String,
    /// Per row: subject kind, first cell, cells, first text byte, text bytes.
    rows: Vec<(u32, u32, u32, u32, u32)>,
}

impl RowBatch {
    /// An empty batch.
    pub fn new() -> Self {
        RowBatch::default()
    }

    /// Appends a copy of a row.
    pub fn push(&mut self, row: &Row) {
        self.rows.push((
            row.subject as u32,
            self.cells.len() as u32,
            row.cells.len() as u32,
            self.text.len() as u32,
            row.text.len() as u32,
        ));
        self.cells.extend_from_slice(&row.cells);
        self.text.push_str(&row.text);
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i`.
    #[inline]
    pub fn get(&self, i: usize) -> RowRef<'_> {
        let (subject, c, cn, t, tn) = self.rows.get(i).copied().unwrap_or_default();
        let (c, t) = (c as usize, t as usize);
        RowRef {
            subject: subject as usize,
            cells: self.cells.get(c..c + cn as usize).unwrap_or(&[]),
            text: self.text.get(t..t + tn as usize).unwrap_or(""),
        }
    }

    /// Bytes the batch takes.
    pub fn bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<Cell>()
            + self.text.capacity()
            + self.rows.capacity() * std::mem::size_of::<(u32, u32, u32, u32, u32)>()
    }
}

/// Where each field of each record type lives in a row, worked out once per rule set.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// Per record type, per field: the cell offset from the record's base.
    pub(super) offsets: Vec<Vec<u32>>,
    /// Per record type: the cells of a record with every field absent (nested record
    /// cells hold offsets relative to the record's base).
    templates: Vec<Vec<Cell>>,
    /// Per record type: the template cells that are nested records.
    nested: Vec<Vec<u32>>,
    /// Per record type: string defaults to write into the text (cell offset, text).
    text_defaults: Vec<Vec<(u32, Arc<str>)>>,
    /// Per record type, per field: whether the rules read it.
    pub(super) used: Vec<Vec<bool>>,
    /// Per record type: whether the layout covers it (a list default other than `[]`
    /// does not fit in a template).
    pub(super) supported: Vec<bool>,
    /// Per subject kind: the cell of its id, when the id sits at a fixed offset.
    id_cells: Vec<Option<u32>>,
    /// Per record type, per field: the field's name and closing quote as they appear
    /// in JSON, when the name needs no escaping (the reader matches keys with it).
    pub(super) quoted: Vec<Vec<Option<Box<[u8]>>>>,
    /// Per enum type: its values' names as bytes, for matching JSON text.
    pub(super) enum_names: Vec<Vec<Box<[u8]>>>,
}

impl RowLayout {
    /// Lays out `schema`; `used` marks, per record type and field, what the rules read.
    pub fn new(schema: &Schema, used: Vec<Vec<bool>>) -> Self {
        let n = schema.records.len();
        let mut layout = RowLayout {
            offsets: Vec::with_capacity(n),
            templates: Vec::with_capacity(n),
            nested: Vec::with_capacity(n),
            text_defaults: Vec::with_capacity(n),
            used,
            supported: Vec::with_capacity(n),
            id_cells: vec![],
            enum_names: schema
                .enums
                .iter()
                .map(|e| e.values.iter().map(|v| v.as_bytes().into()).collect())
                .collect(),
            quoted: schema
                .records
                .iter()
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|f| {
                            let plain =
                                f.name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
                            plain.then(|| format!("{}\"", f.name).into_bytes().into_boxed_slice())
                        })
                        .collect()
                })
                .collect(),
        };
        for r in 0..n {
            let mut template = vec![];
            let mut texts = vec![];
            let mut supported = true;
            let offsets = lay_out(schema, r, 0, &mut template, &mut texts, &mut supported);
            let nested = (0u32..)
                .zip(&template)
                .filter(|(_, c)| matches!(c, Cell::Rec(_)))
                .map(|(i, _)| i)
                .collect();
            layout.offsets.push(offsets);
            layout.nested.push(nested);
            layout.templates.push(template);
            layout.text_defaults.push(texts);
            layout.supported.push(supported);
        }
        layout.id_cells = schema
            .subjects
            .iter()
            .map(|s| {
                let mut rec = s.root;
                let mut off = 0u32;
                for (k, &i) in s.id_path.iter().enumerate() {
                    off += layout.offset(rec, i)?;
                    let f = schema.records.get(rec)?.fields.get(i)?;
                    match (&f.ty, k + 1 < s.id_path.len()) {
                        (FieldType::Record(c), true) if f.presence == Presence::Required => {
                            rec = *c;
                            off += 1;
                        }
                        (_, false) => {}
                        _ => return None,
                    }
                }
                Some(off)
            })
            .collect();
        layout
    }

    /// The cell offset of field `index` of record type `rec` from the record's base.
    pub fn offset(&self, rec: RecordId, index: usize) -> Option<u32> {
        self.offsets.get(rec)?.get(index).copied()
    }

    /// Appends an empty record of type `rec` to the row; its base.
    pub(super) fn instantiate(&self, rec: RecordId, row: &mut Row) -> u32 {
        let base = row.cells.len() as u32;
        let (Some(template), Some(nested), Some(texts)) = (
            self.templates.get(rec),
            self.nested.get(rec),
            self.text_defaults.get(rec),
        ) else {
            return base;
        };
        row.cells.extend_from_slice(template);
        for &off in nested {
            if let Some(Cell::Rec(x)) = row.cells.get_mut(base as usize + off as usize) {
                *x += base;
            }
        }
        for (off, text) in texts {
            let start = row.text.len() as u32;
            row.text.push_str(text);
            if let Some(cell) = row.cells.get_mut(base as usize + *off as usize) {
                *cell = Cell::Str(start, text.len() as u32);
            }
        }
        base
    }

    /// The cell of field `i` of a record of type `rec` at `base` when the field is
    /// absent or null.
    pub(super) fn absent(&self, rec: RecordId, i: usize, base: u32, row: &Row) -> Cell {
        let Some(off) = self.offset(rec, i) else {
            return Cell::Error;
        };
        let template = self.templates.get(rec).and_then(|t| t.get(off as usize));
        match template.copied().unwrap_or(Cell::Error) {
            Cell::Rec(x) => Cell::Rec(x + base),
            // A string default: the cell the template instantiation wrote.
            Cell::Str(..) => row.view().cell(base as usize + off as usize),
            other => other,
        }
    }
}

/// Lays out the fields of record type `rec` into `template` from `base`; the offsets.
fn lay_out(
    schema: &Schema,
    rec: RecordId,
    base: u32,
    template: &mut Vec<Cell>,
    texts: &mut Vec<(u32, Arc<str>)>,
    supported: &mut bool,
) -> Vec<u32> {
    let Some(def) = schema.records.get(rec) else {
        *supported = false;
        return vec![];
    };
    let mut offsets = Vec::with_capacity(def.fields.len());
    for f in &def.fields {
        let off = template.len() as u32;
        offsets.push(off - base);
        let absent = match (&f.presence, &f.ty) {
            (Presence::Default(v), _) => match v {
                Value::Str(s) => {
                    texts.push((off, s.clone()));
                    Cell::Str(0, 0)
                }
                Value::List(items) if items.is_empty() => Cell::List(0, 0),
                other => value_cell(other).unwrap_or_else(|| {
                    *supported = false;
                    Cell::Error
                }),
            },
            (Presence::Required, FieldType::Record(_)) => Cell::Rec(off + 1),
            (Presence::Required, _) => Cell::Unknown,
            (Presence::Optional, _) => Cell::None,
        };
        template.push(absent);
        if let FieldType::Record(c) = f.ty {
            lay_out(schema, c, off + 1, template, texts, supported);
        }
    }
    offsets
}

/// The cell of a scalar value (`None` for text, lists and records).
pub fn value_cell(v: &Value) -> Option<Cell> {
    Some(match v {
        Value::Bool(b) => Cell::Bool(*b),
        Value::Int(i) => Cell::Int(*i),
        Value::Decimal(d) => Cell::dec(*d),
        Value::Date(d) => Cell::Date(pack_date(*d)?),
        Value::Enum(_, i) => Cell::Enum(*i),
        Value::Str(_) | Value::List(_) | Value::Record(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_take_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Cell>(), 16);
    }

    proptest::proptest! {
        #[test]
        fn decimals_pack_and_unpack_exactly(
            lo in proptest::prelude::any::<u32>(),
            mid in proptest::prelude::any::<u32>(),
            hi in proptest::prelude::any::<u32>(),
            negative in proptest::prelude::any::<bool>(),
            scale in 0u32..=28,
        ) {
            let d = Decimal::from_parts(lo, mid, hi, negative, scale);
            let back = PackedDecimal::new(d).get();
            proptest::prop_assert_eq!(back, d);
            proptest::prop_assert_eq!(back.scale(), d.scale());
            proptest::prop_assert_eq!(back.is_sign_negative(), d.is_sign_negative());
        }
    }

    proptest::proptest! {
        #[test]
        fn small_decimals_are_the_same_numbers(m in -(1i64 << 62)..(1i64 << 62), scale in 0u32..=28) {
            let d = Decimal::new(m, scale);
            let packed = PackedDecimal::new(d);
            proptest::prop_assert_eq!(packed.small(), Some((m, scale)));
            if m != 0 {
                proptest::prop_assert_eq!(PackedDecimal::from_small(m, scale), packed);
            }
        }
    }

    #[test]
    fn packed_dates_order_and_round_trip() {
        let a = pack_date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()).unwrap();
        let b = pack_date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()).unwrap();
        assert!(a < b);
        assert_eq!(unpack_date(a), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(
            pack_date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
            Some(a)
        );
    }
}
