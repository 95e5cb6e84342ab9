//! The flat row layout the compiled evaluator reads, and a reader that parses a JSON
//! record straight into it.
//!
//! A record becomes one vector of [`Cell`]s: the root record's fields first, each nested
//! record (`hukou`, `employment`) inline after its own cell, and list items appended
//! after the root, each list cell pointing at a run of item cells. Every field is
//! therefore a constant offset from its record's base, which the compiler resolves
//! once; a row is cleared and refilled for the next record, so reading a population
//! allocates nothing per record once the buffers have grown.
//!
//! The reader accepts a subset of what [`super::read_record`] accepts and gives the same
//! values for it; whatever it does not accept (a wrong type, an out-of-range number, a
//! layout it does not cover) it refuses, and the caller reads that record the
//! reference way, which also explains the error.

use crate::schema::{FieldType, Presence, RecordId, Schema};
use crate::value::Value;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

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
    /// An exact decimal.
    Dec(Decimal),
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

/// Packs a date.
pub fn pack_date(d: NaiveDate) -> Option<i32> {
    let y = d.year();
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(y * 10_000 + d.month() as i32 * 100 + d.day() as i32)
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
    /// The text of a string cell.
    pub fn str(&self, start: u32, len: u32) -> &str {
        self.text
            .get(start as usize..(start + len) as usize)
            .unwrap_or("")
    }

    /// The subject's id, when the record has one.
    pub fn id(&self, layout: &RowLayout) -> Option<&str> {
        let off = layout.id_cells.get(self.subject).copied().flatten()?;
        match self.cells.get(off as usize)? {
            Cell::Str(s, l) => Some(self.str(*s, *l)),
            _ => None,
        }
    }
}

/// Where each field of each record type lives in a row, worked out once per rule set.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// Per record type, per field: the cell offset from the record's base.
    offsets: Vec<Vec<u32>>,
    /// Per record type: the cells of a record with every field absent (nested record
    /// cells hold offsets relative to the record's base).
    templates: Vec<Vec<Cell>>,
    /// Per record type: string defaults to write into the text (cell offset, text).
    text_defaults: Vec<Vec<(u32, Arc<str>)>>,
    /// Per record type, per field: whether the rules read it.
    used: Vec<Vec<bool>>,
    /// Per record type: whether the layout covers it (a list default other than `[]`
    /// does not fit in a template).
    supported: Vec<bool>,
    /// Per subject kind: the cell of its id, when the id sits at a fixed offset.
    id_cells: Vec<Option<u32>>,
}

impl RowLayout {
    /// Lays out `schema`; `used` marks, per record type and field, what the rules read.
    pub fn new(schema: &Schema, used: Vec<Vec<bool>>) -> Self {
        let n = schema.records.len();
        let mut layout = RowLayout {
            offsets: vec![vec![]; n],
            templates: vec![vec![]; n],
            text_defaults: vec![vec![]; n],
            used,
            supported: vec![true; n],
            id_cells: vec![],
        };
        for r in 0..n {
            let mut template = vec![];
            let mut texts = vec![];
            let mut supported = true;
            layout.offsets[r] = lay_out(schema, r, 0, &mut template, &mut texts, &mut supported);
            layout.templates[r] = template;
            layout.text_defaults[r] = texts;
            layout.supported[r] = supported;
        }
        layout.id_cells = schema
            .subjects
            .iter()
            .map(|s| {
                let mut rec = s.root;
                let mut off = 0u32;
                for (k, &i) in s.id_path.iter().enumerate() {
                    off += *layout.offsets[rec].get(i)?;
                    let f = &schema.records[rec].fields[i];
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
    fn instantiate(&self, rec: RecordId, row: &mut Row) -> u32 {
        let base = row.cells.len() as u32;
        row.cells
            .extend(self.templates[rec].iter().map(|c| match c {
                Cell::Rec(x) => Cell::Rec(x + base),
                other => *other,
            }));
        for (off, text) in &self.text_defaults[rec] {
            let start = row.text.len() as u32;
            row.text.push_str(text);
            row.cells[(base + off) as usize] = Cell::Str(start, text.len() as u32);
        }
        base
    }

    /// The cell of field `i` of a record of type `rec` at `base` when the field is
    /// absent or null.
    fn absent(&self, rec: RecordId, i: usize, base: u32, row: &Row) -> Cell {
        let off = self.offsets[rec][i];
        match self.templates[rec][off as usize] {
            Cell::Rec(x) => Cell::Rec(x + base),
            // A string default: the cell the template instantiation wrote.
            Cell::Str(..) => row.cells[(base + off) as usize],
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
    let def = &schema.records[rec];
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
        Value::Decimal(d) => Cell::Dec(*d),
        Value::Date(d) => Cell::Date(pack_date(*d)?),
        Value::Enum(_, i) => Cell::Enum(*i),
        Value::Str(_) | Value::List(_) | Value::Record(_) => return None,
    })
}

/// Reads JSON records into rows. Keep one per thread: it reuses its buffers.
#[derive(Debug)]
pub struct RowReader<'a> {
    schema: &'a Schema,
    layout: &'a RowLayout,
    /// Item bases of the lists being read (nested lists share it).
    items: Vec<u32>,
}

/// Why the row reader refused a record; read it the reference way to learn more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record does not fit the fast reader: {0}")]
pub struct Refused(pub String);

impl<'a> RowReader<'a> {
    /// A reader for records of `schema` laid out by `layout`.
    pub fn new(schema: &'a Schema, layout: &'a RowLayout) -> Self {
        RowReader {
            schema,
            layout,
            items: vec![],
        }
    }

    /// Reads one JSON object into `row` (cleared first), as a record of `subject`, or
    /// of the subject whose root has the object's first key.
    pub fn read(
        &mut self,
        text: &str,
        subject: Option<usize>,
        row: &mut Row,
    ) -> Result<(), Refused> {
        row.cells.clear();
        row.text.clear();
        self.items.clear();
        let mut de = serde_json::Deserializer::from_str(text);
        let mut st = State {
            schema: self.schema,
            layout: self.layout,
            row,
            items: &mut self.items,
        };
        RootSeed {
            st: &mut st,
            subject,
        }
        .deserialize(&mut de)
        .map_err(|e| Refused(e.to_string()))?;
        de.end().map_err(|e| Refused(e.to_string()))
    }
}

struct State<'s, 'a> {
    schema: &'a Schema,
    layout: &'a RowLayout,
    row: &'s mut Row,
    items: &'s mut Vec<u32>,
}

impl State<'_, '_> {
    /// Reads the fields of a record of type `rec` at `base` from a JSON object.
    fn fields<'de, A: MapAccess<'de>>(
        &mut self,
        rec: RecordId,
        base: u32,
        map: &mut A,
        first: Option<Option<usize>>,
    ) -> Result<(), A::Error> {
        let schema = self.schema;
        let recs = [rec];
        // Records usually list their keys in schema order: try the next field first.
        let mut hint = 0;
        let mut key = match first {
            Some(k) => Some(k),
            None => map
                .next_key_seed(KeySeed {
                    schema,
                    recs: &recs,
                    hint,
                })?
                .map(|k| k.map(|x| x.1)),
        };
        while let Some(field) = key {
            match field {
                Some(i) if self.layout.used[rec][i] => self.field(rec, i, base, map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            hint = field.map_or(hint, |i| i + 1);
            key = map
                .next_key_seed(KeySeed {
                    schema,
                    recs: &recs,
                    hint,
                })?
                .map(|k| k.map(|x| x.1));
        }
        Ok(())
    }

    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        rec: RecordId,
        i: usize,
        base: u32,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let f = &self.schema.records[rec].fields[i];
        let at = base + self.layout.offsets[rec][i];
        let cell = map.next_value_seed(ValueSeed {
            st: self,
            ty: &f.ty,
            at,
        })?;
        let cell = match cell {
            Cell::None => self.layout.absent(rec, i, base, self.row),
            c => {
                if let Some((lo, hi)) = f.range {
                    let x = match c {
                        Cell::Int(i) => Decimal::from(i),
                        Cell::Dec(d) => d,
                        _ => lo,
                    };
                    if x < lo || x > hi {
                        return Err(de::Error::custom("outside the declared range"));
                    }
                }
                c
            }
        };
        self.row.cells[at as usize] = cell;
        Ok(())
    }

    fn push_text(&mut self, s: &str) -> Cell {
        let start = self.row.text.len() as u32;
        self.row.text.push_str(s);
        Cell::Str(start, s.len() as u32)
    }
}

/// Resolves a key against candidate record types without copying it: the candidate and
/// field index, `None` for a key no candidate has.
struct KeySeed<'a> {
    schema: &'a Schema,
    recs: &'a [RecordId],
    /// The field index to try first (of the only candidate).
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<(usize, usize)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<(usize, usize)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if let [r] = self.recs {
            if let Some(f) = self.schema.records[*r].fields.get(self.hint) {
                if f.name == v {
                    return Ok(Some((0, self.hint)));
                }
            }
        }
        Ok(self
            .recs
            .iter()
            .enumerate()
            .find_map(|(k, &r)| self.schema.records[r].field_index(v).map(|i| (k, i))))
    }
}

struct RootSeed<'x, 's, 'a> {
    st: &'x mut State<'s, 'a>,
    subject: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let schema = self.st.schema;
        let roots: Vec<RecordId> = match self.subject {
            Some(s) => vec![schema.subjects[s].root],
            None => schema.subjects.iter().map(|s| s.root).collect(),
        };
        // The first key tells the subject kind when it is not given.
        let first = map.next_key_seed(KeySeed {
            schema,
            recs: &roots,
            hint: 0,
        })?;
        let subject = match (self.subject, first) {
            (Some(s), _) => s,
            (None, Some(Some((k, _)))) => k,
            (None, None) if schema.subjects.len() == 1 => 0,
            _ => return Err(de::Error::custom("cannot tell the subject kind")),
        };
        let root = schema.subjects[subject].root;
        if !self.st.layout.supported[root] {
            return Err(de::Error::custom("layout not covered"));
        }
        self.st.row.subject = subject;
        self.st.layout.instantiate(root, self.st.row);
        match first {
            Some(k) => self.st.fields(root, 0, &mut map, Some(k.map(|(_, i)| i))),
            None => Ok(()),
        }
    }
}

/// Reads the value of a field of type `ty` whose cell is `at`; `Cell::None` for null.
struct ValueSeed<'x, 's, 'a> {
    st: &'x mut State<'s, 'a>,
    ty: &'a FieldType,
    at: u32,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, '_> {
    type Value = Cell;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, '_> {
    type Value = Cell;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value of the schema's type")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell, E> {
        match self.ty {
            FieldType::Bool => Ok(Cell::Bool(v)),
            _ => Err(E::custom("type")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
        match self.ty {
            FieldType::Int => Ok(Cell::Int(v)),
            FieldType::Decimal => Ok(Cell::Dec(Decimal::from(v))),
            FieldType::String => Ok(self.st.push_text(&v.to_string())),
            _ => Err(E::custom("type")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => Err(E::custom("number too large")),
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Cell, E> {
        Err(E::custom("binary floating point is not read"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
        match self.ty {
            FieldType::Decimal => Decimal::from_str(v)
                .or_else(|_| Decimal::from_scientific(v))
                .map(Cell::Dec)
                .map_err(|_| E::custom("decimal")),
            FieldType::String => Ok(self.st.push_text(v)),
            FieldType::Date => parse_packed_date(v)
                .map(Cell::Date)
                .ok_or_else(|| E::custom("date")),
            FieldType::Enum(e) => self.st.schema.enums[usize::from(*e)]
                .index(v)
                .map(Cell::Enum)
                .ok_or_else(|| E::custom("enum")),
            _ => Err(E::custom("type")),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
        let FieldType::List(elem) = self.ty else {
            return Err(de::Error::custom("type"));
        };
        match &**elem {
            FieldType::Record(r) => {
                let r = *r;
                if !self.st.layout.supported[r] {
                    return Err(de::Error::custom("layout not covered"));
                }
                let mark = self.st.items.len();
                while seq
                    .next_element_seed(ItemSeed {
                        st: &mut *self.st,
                        rec: r,
                    })?
                    .is_some()
                {}
                // Item records may hold lists of their own, so the items are not
                // contiguous: the list is a run of record cells pointing at them.
                let start = self.st.row.cells.len() as u32;
                let n = self.st.items.len() - mark;
                for k in mark..self.st.items.len() {
                    let base = self.st.items[k];
                    self.st.row.cells.push(Cell::Rec(base));
                }
                self.st.items.truncate(mark);
                Ok(Cell::List(start, n as u32))
            }
            FieldType::List(_) => Err(de::Error::custom("lists of lists are not read")),
            scalar => {
                // Scalar items are read into a scratch run, then appended together.
                let mut values = vec![];
                while let Some(c) = seq.next_element_seed(ValueSeed {
                    st: &mut *self.st,
                    ty: scalar,
                    at: self.at,
                })? {
                    if c == Cell::None {
                        return Err(de::Error::custom("a list item cannot be null"));
                    }
                    values.push(c);
                }
                let start = self.st.row.cells.len() as u32;
                self.st.row.cells.extend_from_slice(&values);
                Ok(Cell::List(start, values.len() as u32))
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
        match self.ty {
            FieldType::Record(r) => {
                // A nested record sits inline, right after its own cell.
                let base = self.at + 1;
                self.st.fields(*r, base, &mut map, None)?;
                Ok(Cell::Rec(base))
            }
            FieldType::Decimal | FieldType::Int => {
                // serde_json's exact number: {"$serde_json::private::Number": "12.50"}
                let _key: Option<IgnoredAny> = map.next_key()?;
                let text: std::borrow::Cow<'_, str> = map.next_value()?;
                match self.ty {
                    FieldType::Int => text
                        .parse()
                        .map(Cell::Int)
                        .map_err(|_| de::Error::custom("int")),
                    _ => Decimal::from_str(&text)
                        .or_else(|_| Decimal::from_scientific(&text))
                        .map(Cell::Dec)
                        .map_err(|_| de::Error::custom("decimal")),
                }
            }
            _ => Err(de::Error::custom("type")),
        }
    }
}

/// Reads one item of a list of records, appended to the row.
struct ItemSeed<'x, 's, 'a> {
    st: &'x mut State<'s, 'a>,
    rec: RecordId,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list item")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.st.layout.instantiate(self.rec, self.st.row);
        self.st.items.push(base);
        self.st.fields(self.rec, base, &mut map, None)
    }
}

/// `YYYY-MM-DD` as a packed date, if it is a calendar date.
fn parse_packed_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > crate::calendar::days_in_month(y as i32, m) {
        return None;
    }
    Some((y * 10_000 + m * 100 + d) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_dates_order_and_round_trip() {
        let a = parse_packed_date("2024-02-29").unwrap();
        let b = parse_packed_date("2024-03-01").unwrap();
        assert!(a < b);
        assert_eq!(parse_packed_date("2023-02-29"), None);
        assert_eq!(parse_packed_date("2023-13-01"), None);
        assert_eq!(unpack_date(a), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(
            pack_date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
            Some(a)
        );
    }
}
