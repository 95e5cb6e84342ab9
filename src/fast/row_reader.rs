//! Reading a JSON record straight into the flat row layout.
//!
//! A small scanner that knows the schema: it walks the JSON text once, matches each key
//! against the fields of the record it is in (trying the next field in schema order
//! first), converts the values of the fields the rules read directly into cells, and
//! checks the rest as the reference reader would read them (types, ranges, dates,
//! keys), keeping nothing of them; a key the schema does not declare or given twice
//! is refused. It does no allocation per record
//! once the row's buffers have grown.
//!
//! It accepts a subset of what the reference reader ([`crate::record::read_record`], through
//! `serde_json`) accepts and gives the same values for it. Whatever it does not accept —
//! malformed JSON, a wrong type, an out-of-range number, a number written with an
//! exponent, nesting deeper than `serde_json` allows, a layout it does not cover — it
//! refuses, and the caller reads that record the reference way, which either reads it
//! or explains why it is rejected.

use super::row::{Cell, Row, RowLayout};
use crate::schema::{FieldType, RecordId, Schema};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Nesting `serde_json` accepts before it fails with "recursion limit exceeded".
const MAX_DEPTH: usize = 127;

/// Why the row reader refused a record; read it the reference way to learn more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record does not fit the fast reader: {reason} (at byte {at})")]
pub struct Refused {
    /// What stopped it.
    pub reason: &'static str,
    /// Byte offset in the text.
    pub at: usize,
}

/// The scanner stopped; why is in [`Scan::stopped`]. Zero-sized, so results stay
/// small in the hot paths.
#[derive(Debug, Clone, Copy)]
struct Stop;

type Res<T> = Result<T, Stop>;

/// Reads JSON records into rows. Keep one per thread: it reuses its buffers.
#[derive(Debug)]
pub struct RowReader<'a> {
    schema: &'a Schema,
    layout: &'a RowLayout,
    /// Item bases of the lists being read (nested lists share it).
    items: Vec<u32>,
    /// Scalar list items being read.
    scalars: Vec<Cell>,
    /// A string with escapes, decoded.
    unescaped: String,
    /// The schema's plausible dates, packed.
    dates: (i32, i32),
}

/// A date as `yyyymmdd`.
fn packed(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

impl<'a> RowReader<'a> {
    /// A reader for records of `schema` laid out by `layout`.
    pub fn new(schema: &'a Schema, layout: &'a RowLayout) -> Self {
        RowReader {
            schema,
            layout,
            items: vec![],
            scalars: vec![],
            unescaped: String::new(),
            dates: (packed(schema.dates.0), packed(schema.dates.1)),
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
        let mut s = Scan {
            b: text.as_bytes(),
            text,
            at: 0,
            stopped: "",
        };
        self.scan(&mut s, subject, row).map_err(|Stop| Refused {
            reason: s.stopped,
            at: s.at,
        })
    }

    fn scan(&mut self, s: &mut Scan<'_>, subject: Option<usize>, row: &mut Row) -> Res<()> {
        row.cells.clear();
        row.text.clear();
        self.items.clear();
        s.ws();
        s.expect(b'{')?;
        s.ws();
        let schema = self.schema;
        // The first key tells the subject kind when it is not given.
        let first = if s.peek() == Some(b'"') {
            Some(s.string(&mut self.unescaped)?)
        } else {
            None
        };
        let subject = match (subject, first) {
            (Some(k), _) => k,
            (None, Some(key)) => {
                let key = key.get(&self.unescaped, s.text);
                schema
                    .subjects
                    .iter()
                    .position(|sub| {
                        schema
                            .record(sub.root)
                            .is_some_and(|r| r.field_index(key).is_some())
                    })
                    .ok_or_else(|| s.refuse("cannot tell the subject kind"))?
            }
            (None, None) if schema.subjects.len() == 1 => 0,
            (None, None) => return Err(s.refuse("cannot tell the subject kind")),
        };
        let Some(root) = schema.subjects.get(subject).map(|sub| sub.root) else {
            return Err(s.refuse("cannot tell the subject kind"));
        };
        if self.layout.supported.get(root) != Some(&true) {
            return Err(s.refuse("layout not covered"));
        }
        row.subject = subject;
        self.layout.instantiate(root, row);
        let mut r = Reader {
            schema,
            layout: self.layout,
            row,
            items: &mut self.items,
            scalars: &mut self.scalars,
            unescaped: &mut self.unescaped,
            dates: self.dates,
        };
        r.fields(s, root, 0, first, 1)?;
        s.ws();
        if s.at != s.b.len() {
            return Err(s.refuse("text after the record"));
        }
        Ok(())
    }
}

/// A string found by the scanner: a range of the text, or (with escapes) the decoded
/// scratch string.
#[derive(Debug, Clone, Copy)]
enum Str {
    Text(usize, usize),
    Unescaped,
}

impl Str {
    fn get<'t>(self, unescaped: &'t str, text: &'t str) -> &'t str {
        match self {
            Str::Text(a, b) => text.get(a..b).unwrap_or(""),
            Str::Unescaped => unescaped,
        }
    }
}

struct Scan<'t> {
    b: &'t [u8],
    text: &'t str,
    at: usize,
    /// Why the scanner stopped.
    stopped: &'static str,
}

/// Whether a byte ends the plain run of a JSON string: the quote, the backslash and
/// the control characters.
#[inline(always)]
fn string_stop(c: u8) -> bool {
    matches!(c, 0..=0x1f | b'"' | b'\\')
}

impl<'t> Scan<'t> {
    fn refuse(&mut self, reason: &'static str) -> Stop {
        self.stopped = reason;
        Stop
    }

    /// Skips the plain run of a string, eight bytes at a time while it can.
    fn plain_run(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let b = self.b;
        let mut at = self.at;
        while let Some(chunk) = b.get(at..at + 8) {
            let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            // The classic "has a zero byte" and "has a byte less than n" tests: the
            // lowest flagged byte is always a true match.
            let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
            let stop = zero(v ^ (ONES * u64::from(b'"')))
                | zero(v ^ (ONES * u64::from(b'\\')))
                | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
            if stop != 0 {
                self.at = at + (stop.trailing_zeros() / 8) as usize;
                return;
            }
            at += 8;
        }
        // The tail, shorter than eight bytes.
        let tail = b.get(at..).unwrap_or_default();
        self.at = at
            + tail
                .iter()
                .position(|&c| string_stop(c))
                .unwrap_or(tail.len());
    }

    /// Reads the key `"name"` when it is exactly the next text (`quoted` is the name
    /// with its closing quote).
    fn key_is(&mut self, quoted: &[u8]) -> bool {
        let n = quoted.len();
        match self.b.get(self.at..self.at + 1 + n) {
            Some([b'"', name @ ..]) if same_bytes(name, quoted) => {
                self.at += n + 1;
                true
            }
            _ => false,
        }
    }

    /// The text from `start` to here (both at ASCII bytes, so on character boundaries).
    fn slice(&mut self, start: usize) -> Res<&'t str> {
        let text = self.text;
        text.get(start..self.at)
            .ok_or_else(|| self.refuse("malformed JSON"))
    }

    /// The text not read yet.
    fn rest(&self) -> &[u8] {
        self.b.get(self.at..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Res<()> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.refuse("malformed JSON"))
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Res<()> {
        if self.rest().starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.refuse("malformed JSON"))
        }
    }

    /// A string (the opening quote next); escapes are decoded into `scratch`.
    fn string(&mut self, scratch: &mut String) -> Res<Str> {
        self.expect(b'"')?;
        let start = self.at;
        self.plain_run();
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                return Ok(Str::Text(start, self.at - 1));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.refuse("control character in a string")),
            None => return Err(self.refuse("unterminated string")),
        }
        scratch.clear();
        scratch.push_str(self.slice(start)?);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Str::Unescaped);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.rest().starts_with(b"\\u") {
                                    return Err(self.refuse("lone surrogate"));
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.refuse("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => scratch.push(c),
                                None => return Err(self.refuse("bad escape")),
                            }
                            continue;
                        }
                        _ => return Err(self.refuse("bad escape")),
                    };
                    self.at += 1;
                    scratch.push(c);
                }
                Some(c) if c < 0x20 => return Err(self.refuse("control character in a string")),
                Some(_) => {
                    // Copy the run up to the next quote or backslash at once.
                    let from = self.at;
                    self.plain_run();
                    scratch.push_str(self.slice(from)?);
                }
                None => return Err(self.refuse("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Res<u32> {
        let Some(digits) = self.b.get(self.at..self.at + 4) else {
            return Err(self.refuse("bad escape"));
        };
        let mut v = 0;
        for d in digits {
            match (*d as char).to_digit(16) {
                Some(x) => v = v * 16 + x,
                None => return Err(self.refuse("bad escape")),
            }
        }
        self.at += 4;
        Ok(v)
    }

    /// A number in JSON's grammar: its text, and whether it is a plain integer. Numbers
    /// with an exponent are refused (the reference reader spells them its own way).
    fn number(&mut self) -> Res<(&str, bool)> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.at += 1;
                }
            }
            _ => return Err(self.refuse("malformed number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.at += 1;
            let digits = self.at;
            while let Some(b'0'..=b'9') = self.peek() {
                self.at += 1;
            }
            if self.at == digits {
                return Err(self.refuse("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            return Err(self.refuse("number with an exponent"));
        }
        Ok((self.slice(start)?, integer))
    }
}

struct Reader<'r, 'a> {
    schema: &'a Schema,
    layout: &'a RowLayout,
    row: &'r mut Row,
    items: &'r mut Vec<u32>,
    scalars: &'r mut Vec<Cell>,
    unescaped: &'r mut String,
    dates: (i32, i32),
}

impl Reader<'_, '_> {
    /// Reads the fields of an object (its `{` already read, and its first key when
    /// `first` is given) into the record of type `rec` at `base`.
    fn fields(
        &mut self,
        s: &mut Scan<'_>,
        rec: RecordId,
        base: u32,
        mut key: Option<Str>,
        depth: usize,
    ) -> Res<()> {
        let layout = self.layout;
        let (Some(def), Some(quoted), Some(used)) = (
            self.schema.records.get(rec),
            layout.quoted.get(rec),
            layout.used.get(rec),
        ) else {
            return Err(s.refuse("layout not covered"));
        };
        s.ws();
        if key.is_none() && s.peek() == Some(b'}') {
            s.at += 1;
            return Ok(());
        }
        // Records usually list their keys in schema order: try the next field first.
        let mut hint = 0;
        // Fields read so far: a key given twice is an error of the reference reader.
        let mut seen = 0u128;
        loop {
            let field = match key.take() {
                Some(k) => def.field_index(k.get(self.unescaped, s.text)),
                None => match quoted.get(hint) {
                    Some(Some(q)) if s.key_is(q) => Some(hint),
                    _ => {
                        let k = s.string(self.unescaped)?;
                        def.field_index(k.get(self.unescaped, s.text))
                    }
                },
            };
            s.ws();
            s.expect(b':')?;
            s.ws();
            // A key the schema does not declare is the reference reader's to report
            // (or, read leniently, to count).
            let Some(i) = field else {
                return Err(s.refuse("a key the schema does not declare"));
            };
            let bit = 1u128.checked_shl(i as u32).unwrap_or(0);
            if bit == 0 || seen & bit != 0 {
                return Err(s.refuse("a key given twice"));
            }
            seen |= bit;
            match used.get(i) {
                Some(true) => self.field(s, rec, i, base, depth)?,
                // Not read by any rule, but checked as the reference reader checks it.
                Some(false) => self.check_field(s, rec, i, depth)?,
                None => return Err(s.refuse("layout not covered")),
            }
            hint = i + 1;
            s.ws();
            match s.peek() {
                Some(b',') => {
                    s.at += 1;
                    s.ws();
                }
                Some(b'}') => {
                    s.at += 1;
                    return Ok(());
                }
                _ => return Err(s.refuse("malformed JSON")),
            }
        }
    }

    fn field(
        &mut self,
        s: &mut Scan<'_>,
        rec: RecordId,
        i: usize,
        base: u32,
        depth: usize,
    ) -> Res<()> {
        let (Some(f), Some(off)) = (
            self.schema.records.get(rec).and_then(|r| r.fields.get(i)),
            self.layout.offset(rec, i),
        ) else {
            return Err(s.refuse("layout not covered"));
        };
        let at = base + off;
        let cell = match s.peek() {
            Some(b'n') => {
                s.literal(b"null")?;
                self.layout.absent(rec, i, base, self.row)
            }
            _ => {
                let c = self.value(s, &f.ty, at, depth)?;
                if let Some((lo, hi)) = &f.range {
                    if !within(c, *lo, *hi) {
                        return Err(s.refuse("outside the declared range"));
                    }
                }
                c
            }
        };
        match self.row.cells.get_mut(at as usize) {
            Some(c) => {
                *c = cell;
                Ok(())
            }
            None => Err(s.refuse("layout not covered")),
        }
    }

    /// Checks the value of a field no rule reads, as the reference reader would read it
    /// (its type, range and dates, its records' keys), keeping nothing.
    fn check_field(&mut self, s: &mut Scan<'_>, rec: RecordId, i: usize, depth: usize) -> Res<()> {
        let Some(f) = self.schema.records.get(rec).and_then(|r| r.fields.get(i)) else {
            return Err(s.refuse("layout not covered"));
        };
        if s.peek() == Some(b'n') {
            return s.literal(b"null");
        }
        let c = self.check_value(s, &f.ty, depth)?;
        if let Some((lo, hi)) = &f.range {
            if !within(c, *lo, *hi) {
                return Err(s.refuse("outside the declared range"));
            }
        }
        Ok(())
    }

    /// Checks a value (not null) of type `ty`: the cell of a number, `Cell::None`
    /// for anything else.
    fn check_value(&mut self, s: &mut Scan<'_>, ty: &FieldType, depth: usize) -> Res<Cell> {
        match (ty, s.peek()) {
            (FieldType::Record(r), Some(b'{')) => {
                if depth >= MAX_DEPTH {
                    return Err(s.refuse("nesting too deep"));
                }
                s.at += 1;
                self.check_record(s, *r, depth + 1)?;
                Ok(Cell::None)
            }
            (FieldType::List(elem), Some(b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(s.refuse("nesting too deep"));
                }
                s.at += 1;
                s.ws();
                if s.peek() == Some(b']') {
                    s.at += 1;
                    return Ok(Cell::None);
                }
                loop {
                    s.ws();
                    if s.peek() == Some(b'n') {
                        return Err(s.refuse("a list item cannot be null"));
                    }
                    self.check_value(s, elem, depth + 1)?;
                    s.ws();
                    match s.peek() {
                        Some(b',') => s.at += 1,
                        Some(b']') => {
                            s.at += 1;
                            return Ok(Cell::None);
                        }
                        _ => return Err(s.refuse("malformed JSON")),
                    }
                }
            }
            (FieldType::String, Some(b'"')) => {
                s.string(self.unescaped)?;
                Ok(Cell::None)
            }
            (FieldType::String, Some(b'-' | b'0'..=b'9')) => {
                let (text, integer) = s.number()?;
                match text.parse::<i64>() {
                    Ok(v) if integer && v.to_string() == text => Ok(Cell::None),
                    _ => Err(s.refuse("a number for a text field")),
                }
            }
            (FieldType::Record(_) | FieldType::List(_), _) => {
                Err(s.refuse("a value of another type"))
            }
            // The scalars the rules read are checked by reading them.
            _ => self.value(s, ty, 0, depth),
        }
    }

    /// Checks the fields of a record no rule reads (its `{` already read).
    fn check_record(&mut self, s: &mut Scan<'_>, rec: RecordId, depth: usize) -> Res<()> {
        let Some(def) = self.schema.records.get(rec) else {
            return Err(s.refuse("layout not covered"));
        };
        s.ws();
        if s.peek() == Some(b'}') {
            s.at += 1;
            return Ok(());
        }
        let mut seen = 0u128;
        loop {
            s.ws();
            let k = s.string(self.unescaped)?;
            let Some(i) = def.field_index(k.get(self.unescaped, s.text)) else {
                return Err(s.refuse("a key the schema does not declare"));
            };
            let bit = 1u128.checked_shl(i as u32).unwrap_or(0);
            if bit == 0 || seen & bit != 0 {
                return Err(s.refuse("a key given twice"));
            }
            seen |= bit;
            s.ws();
            s.expect(b':')?;
            s.ws();
            self.check_field(s, rec, i, depth)?;
            s.ws();
            match s.peek() {
                Some(b',') => s.at += 1,
                Some(b'}') => {
                    s.at += 1;
                    return Ok(());
                }
                _ => return Err(s.refuse("malformed JSON")),
            }
        }
    }

    /// A value (not null) of type `ty` for the cell `at`.
    fn value(&mut self, s: &mut Scan<'_>, ty: &FieldType, at: u32, depth: usize) -> Res<Cell> {
        match (ty, s.peek()) {
            (FieldType::Bool, Some(b't')) => s.literal(b"true").map(|()| Cell::Bool(true)),
            (FieldType::Bool, Some(b'f')) => s.literal(b"false").map(|()| Cell::Bool(false)),
            (FieldType::Int | FieldType::Decimal | FieldType::String, Some(b'-' | b'0'..=b'9')) => {
                let (text, integer) = s.number()?;
                match ty {
                    FieldType::Int => text
                        .parse()
                        .map(Cell::Int)
                        .map_err(|_| s.refuse("not a whole number")),
                    FieldType::Decimal => {
                        parse_decimal(text).map_err(|_| s.refuse("not a decimal"))
                    }
                    _ => match text.parse::<i64>() {
                        // Text written as a number: the reference reads its digits.
                        Ok(v) if integer && v.to_string() == text => Ok(self.push_text(text)),
                        _ => Err(s.refuse("a number for a text field")),
                    },
                }
            }
            (
                FieldType::Decimal | FieldType::String | FieldType::Date | FieldType::Enum(_),
                Some(b'"'),
            ) => {
                let k = s.string(self.unescaped)?;
                let v = k.get(self.unescaped, s.text);
                match ty {
                    FieldType::Decimal => parse_decimal(v)
                        .or_else(|_| Decimal::from_scientific(v).map(Cell::dec))
                        .map_err(|_| s.refuse("not a decimal")),
                    FieldType::Date => match parse_packed_date(v) {
                        Some(d) if self.dates.0 <= d && d <= self.dates.1 => Ok(Cell::Date(d)),
                        Some(_) => Err(s.refuse("a date outside the plausible range")),
                        None => Err(s.refuse("not a date")),
                    },
                    FieldType::Enum(e) => {
                        let names = self.layout.enum_names.get(usize::from(*e));
                        match names.and_then(|n| n.iter().position(|n| same_bytes(n, v.as_bytes())))
                        {
                            Some(i) => Ok(Cell::Enum(i as u16)),
                            None => Err(s.refuse("not a value of the enum")),
                        }
                    }
                    _ => {
                        let start = self.row.text.len() as u32;
                        self.row.text.push_str(v);
                        Ok(Cell::Str(start, v.len() as u32))
                    }
                }
            }
            (FieldType::Record(r), Some(b'{')) => {
                if depth >= MAX_DEPTH {
                    return Err(s.refuse("nesting too deep"));
                }
                s.at += 1;
                // A nested record sits inline, right after its own cell.
                self.fields(s, *r, at + 1, None, depth + 1)?;
                Ok(Cell::Rec(at + 1))
            }
            (FieldType::List(elem), Some(b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(s.refuse("nesting too deep"));
                }
                s.at += 1;
                self.list(s, elem, depth + 1)
            }
            _ => Err(s.refuse("a value of another type")),
        }
    }

    /// The items of a list (its `[` already read).
    fn list(&mut self, s: &mut Scan<'_>, elem: &FieldType, depth: usize) -> Res<Cell> {
        s.ws();
        let record = match elem {
            FieldType::Record(r) => {
                if self.layout.supported.get(*r) != Some(&true) {
                    return Err(s.refuse("layout not covered"));
                }
                Some(*r)
            }
            FieldType::List(_) => return Err(s.refuse("lists of lists are not read")),
            _ => None,
        };
        let (mark, scalar_mark) = (self.items.len(), self.scalars.len());
        if s.peek() == Some(b']') {
            s.at += 1;
        } else {
            loop {
                s.ws();
                match (record, s.peek()) {
                    (_, Some(b'n')) => return Err(s.refuse("a list item cannot be null")),
                    (Some(r), Some(b'{')) => {
                        if depth >= MAX_DEPTH {
                            return Err(s.refuse("nesting too deep"));
                        }
                        s.at += 1;
                        let base = self.layout.instantiate(r, self.row);
                        self.items.push(base);
                        self.fields(s, r, base, None, depth + 1)?;
                    }
                    (Some(_), _) => return Err(s.refuse("a list item of another type")),
                    (None, _) => {
                        let c = self.value(s, elem, 0, depth)?;
                        self.scalars.push(c);
                    }
                }
                s.ws();
                match s.peek() {
                    Some(b',') => s.at += 1,
                    Some(b']') => {
                        s.at += 1;
                        break;
                    }
                    _ => return Err(s.refuse("malformed JSON")),
                }
            }
        }
        // Items of records may hold lists of their own, so they are not contiguous: the
        // list is a run of record cells pointing at them. Scalar items are appended
        // together at the end.
        let start = self.row.cells.len() as u32;
        let n = if record.is_some() {
            let items = self.items.get(mark..).unwrap_or_default();
            self.row
                .cells
                .extend(items.iter().map(|&base| Cell::Rec(base)));
            let n = items.len();
            self.items.truncate(mark);
            n
        } else {
            let scalars = self.scalars.get(scalar_mark..).unwrap_or_default();
            self.row.cells.extend_from_slice(scalars);
            let n = scalars.len();
            self.scalars.truncate(scalar_mark);
            n
        };
        Ok(Cell::List(start, n as u32))
    }

    fn push_text(&mut self, t: &str) -> Cell {
        let start = self.row.text.len() as u32;
        self.row.text.push_str(t);
        Cell::Str(start, t.len() as u32)
    }
}

/// Whether two short byte strings of the same length are equal, eight bytes at a time
/// (keys are short: a call to `memcmp` costs more than the comparison).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if u64::from_ne_bytes(x.try_into().unwrap_or([0; 8]))
            != u64::from_ne_bytes(y.try_into().unwrap_or([1; 8]))
        {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// A decimal from its text, as `Decimal::from_str` reads it; plain `-?digits[.digits]`
/// with up to 18 digits (money) is read directly, anything else by `from_str`.
fn parse_decimal(text: &str) -> Result<Cell, rust_decimal::Error> {
    let b = text.as_bytes();
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let mut mantissa: i64 = 0;
    let mut scale: Option<u32> = None;
    let mut count = 0;
    for &c in digits {
        match c {
            // At most 18 digits: the mantissa stays below 10^18, it cannot overflow.
            b'0'..=b'9' if count < 18 => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(i64::from(c & 0x0f));
                count += 1;
                if let Some(s) = &mut scale {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() && count > 0 => scale = Some(0),
            _ => return Decimal::from_str(text).map(Cell::dec),
        }
    }
    // "-0.00" keeps its sign in from_str; "1." is not plain.
    if count == 0 || scale == Some(0) || (neg && mantissa == 0) {
        return Decimal::from_str(text).map(Cell::dec);
    }
    let m = if neg { -mantissa } else { mantissa };
    Ok(Cell::Fixed(m, scale.unwrap_or(0) as u8))
}

/// Whether a number cell is within the declared range (inclusive); other cells are.
fn within(c: Cell, lo: Decimal, hi: Decimal) -> bool {
    // Whole bounds against a whole number or a decimal of few places: compare the
    // mantissas, which is much cheaper than a decimal comparison.
    let whole = |d: Decimal| d.scale() == 0 && d.mantissa().unsigned_abs() < 1 << 62;
    // `m / 10^scale` against whole bounds, in integers, for scales up to 18: the bounds'
    // mantissas are below 2^62, so the products stay below 2^122 and cannot overflow.
    let scaled = |m: i128, scale: u32| {
        let p = *super::lower::POW10.get(..=18)?.get(scale as usize)?;
        Some(lo.mantissa().wrapping_mul(p) <= m && m <= hi.mantissa().wrapping_mul(p))
    };
    match c {
        Cell::Int(i) if whole(lo) && whole(hi) => {
            let (l, h) = (lo.mantissa() as i64, hi.mantissa() as i64);
            l <= i && i <= h
        }
        Cell::Int(i) => {
            let x = Decimal::from(i);
            lo <= x && x <= hi
        }
        Cell::Fixed(..) | Cell::Dec(_) => {
            if whole(lo) && whole(hi) {
                let fits = match c {
                    Cell::Fixed(m, scale) => scaled(i128::from(m), u32::from(scale)),
                    _ => c.decimal().and_then(|d| scaled(d.mantissa(), d.scale())),
                };
                if let Some(inside) = fits {
                    return inside;
                }
            }
            match c.decimal() {
                Some(d) => lo <= d && d <= hi,
                None => true,
            }
        }
        _ => true,
    }
}

/// `YYYY-MM-DD` as a packed date, if it is a calendar date.
fn parse_packed_date(text: &str) -> Option<i32> {
    let (y, m, d) = crate::schema::date_digits(text)?;
    if !(1..=12).contains(&m)
        || d == 0
        || d > crate::semantics::calendar::days_in_month(y as i32, m)
    {
        return None;
    }
    Some((y * 10_000 + m * 100 + d) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_calendar_dates() {
        assert!(parse_packed_date("2024-02-29").is_some());
        assert_eq!(parse_packed_date("2023-02-29"), None);
        assert_eq!(parse_packed_date("2023-13-01"), None);
        assert_eq!(parse_packed_date("2023-1-01"), None);
    }

    #[test]
    fn strings_decode_escapes_and_refuse_control_characters() {
        let mut scratch = String::new();
        let text = r#""a\"b\u00e9\ud83d\ude00""#;
        let mut s = Scan {
            b: text.as_bytes(),
            text,
            at: 0,
            stopped: "",
        };
        assert!(matches!(s.string(&mut scratch), Ok(Str::Unescaped)));
        assert_eq!(scratch, "a\"bé😀");
        let text = "\"a\tb\"";
        let mut s = Scan {
            b: text.as_bytes(),
            text,
            at: 0,
            stopped: "",
        };
        assert!(s.string(&mut scratch).is_err());
    }

    #[test]
    fn plain_decimals_read_as_from_str_reads_them() {
        for text in [
            "0",
            "0.00",
            "12",
            "3120.50",
            "-12.5",
            "-0.00",
            "0.001",
            "999999999999999999",
            "1234567890123456789.5",
            "1.",
            ".5",
            "1.2.3",
            "12a",
            "",
            "-",
            "00.10",
            "1e5",
        ] {
            let ours = parse_decimal(text).map(|c| c.decimal().unwrap());
            let theirs = Decimal::from_str(text);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{text}");
            if let (Ok(a), Ok(b)) = (ours, theirs) {
                assert_eq!(
                    (a, a.scale(), a.is_sign_negative()),
                    (b, b.scale(), b.is_sign_negative()),
                    "{text}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn decimal_text_reads_as_from_str_reads_it(text in "-?[0-9]{0,21}(\\.[0-9]{0,21})?") {
            let ours = parse_decimal(&text).map(|c| c.decimal().unwrap());
            let theirs = Decimal::from_str(&text);
            proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok());
            if let (Ok(a), Ok(b)) = (ours, theirs) {
                proptest::prop_assert_eq!(
                    (a, a.scale(), a.is_sign_negative()),
                    (b, b.scale(), b.is_sign_negative())
                );
            }
        }
    }

    #[test]
    fn plain_runs_stop_at_the_first_quote_backslash_or_control_character() {
        for (text, stop) in [
            ("abcdefghijklmnop\"", 16),
            ("abc\"defghijkl", 3),
            ("abcdefgh\\x", 8),
            ("ab\u{1}cdefghij", 2),
            ("中文字符串abc\"", "中文字符串abc".len()),
            ("\u{7f}\u{80}abcdefgh", 11),
            ("", 0),
        ] {
            let mut s = Scan {
                b: text.as_bytes(),
                text,
                at: 0,
                stopped: "",
            };
            s.plain_run();
            assert_eq!(s.at, stop, "{text:?}");
        }
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for (text, ok) in [
            ("0", true),
            ("-12.50", true),
            ("01", false),
            ("1.", false),
            ("-", false),
            ("1e5", false),
        ] {
            let mut s = Scan {
                b: text.as_bytes(),
                text,
                at: 0,
                stopped: "",
            };
            let got = s.number().is_ok() && s.at == text.len();
            assert_eq!(got, ok, "{text}");
        }
    }
}
