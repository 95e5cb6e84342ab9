//! The tables a population is laid out in for a database: derived from the record
//! schema, the one contract that the DDL (`mianshen sql --ddl`), the export
//! (`mianshen export`) and the compiled SQL (`mianshen sql`) all read.
//!
//! - One table per subject kind, named as the kind (`person`). Its rows carry `_id`
//!   (a whole number unique in the table) and one column per scalar field of the
//!   record, nested records flattened: `education.level` is the column
//!   `education__level`.
//! - A nested record that may be absent (`optional`) has a presence column of its own
//!   (`household`, boolean, null when the record is absent): a required record that
//!   is absent is read as an empty one, whose fields are each missing.
//! - A list has a presence column on its owner (`loans`, boolean, null when the
//!   list is absent or null), and a child table of its items
//!   (`person__loans`), with `_id`, `_parent` (the owner row's `_id`) and `_pos` (the
//!   item's position, from 0), then the item's fields as above, or one column `value`
//!   for a list of scalars. Lists in items nest the same way
//!   (`person__household__members__monthly_income`).
//! - Names longer than PostgreSQL's 63 bytes are cut and end in a hash of the whole,
//!   so that two long names never meet.
//!
//! A required field whose column is null is missing data; an optional one is a known
//! "none"; a field with a default takes the default.

use crate::schema::{FieldType, Presence, RecordId, Schema};

/// The longest identifier PostgreSQL keeps (bytes).
pub(crate) const MAX_IDENT: usize = 63;

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColumnKind {
    /// A scalar field's value.
    Scalar(FieldType),
    /// Whether a nested record or a list is present (true) or absent (null).
    Presence,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// The SQL name.
    pub name: String,
    /// The field indexes that lead from the table's row record to the field (empty
    /// for the `value` column of a list of scalars).
    pub fields: Vec<usize>,
    /// The schema path of the field relative to the row (`education.level`).
    pub path: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// What an absent value means.
    pub presence: Presence,
    /// The schema's `doc:` for the field, as the column's comment.
    pub doc: Option<String>,
    /// The field is sensitive.
    pub sensitive: bool,
}

/// One table: a subject kind's records or the items of one list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// The SQL name.
    pub name: String,
    /// The subject kind (index into the schema's subjects) the table belongs to.
    pub subject: usize,
    /// The owner table (by index into [`Layout::tables`]); `None` for a subject table.
    pub parent: Option<usize>,
    /// In the owner's row: the field indexes leading to the list (empty for a subject
    /// table).
    pub list_fields: Vec<usize>,
    /// The list's name in reported paths (its field name; empty for a subject table).
    pub list_name: String,
    /// The record type of a row; `None` for the items of a list of scalars.
    pub record: Option<RecordId>,
    /// The scalar type of the items of a list of scalars.
    pub scalar: Option<FieldType>,
    /// For list items: the column whose value names the item in reported paths
    /// (`hires[H2]`); without one, the position does.
    pub key: Option<usize>,
    /// The columns, in schema order (the row's own `_id`, `_parent`, `_pos` are not
    /// listed).
    pub columns: Vec<Column>,
    /// The schema's path of the rows (`household.members[]`).
    pub path: String,
    /// The doc of the list or subject kind.
    pub doc: Option<String>,
}

impl Table {
    /// The column of the field reached by `fields` from the row record.
    pub fn column(&self, fields: &[usize]) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.fields == fields)
    }
}

/// The tables of a schema, subject tables first (in schema order), each followed by
/// the tables of its lists, depth first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// All tables.
    pub tables: Vec<Table>,
}

impl Layout {
    /// The layout of `schema`.
    pub fn of(schema: &Schema) -> Layout {
        let mut layout = Layout { tables: vec![] };
        for (s, subject) in schema.subjects.iter().enumerate() {
            let table = Table {
                name: ident(&subject.name),
                subject: s,
                parent: None,
                list_fields: vec![],
                list_name: String::new(),
                record: Some(subject.root),
                scalar: None,
                key: None,
                columns: vec![],
                path: subject.name.clone(),
                doc: None,
            };
            layout.add_table(schema, table);
        }
        layout
    }

    /// The subject table of subject kind `subject`.
    pub fn subject_table(&self, subject: usize) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.parent.is_none() && t.subject == subject)
    }

    /// The child table of the list reached by `fields` from a row of table `owner`.
    pub fn list_table(&self, owner: usize, fields: &[usize]) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.parent == Some(owner) && t.list_fields == fields)
    }

    /// Adds `table` with its columns, then the tables of its lists.
    fn add_table(&mut self, schema: &Schema, mut table: Table) {
        let mut lists = vec![];
        if let Some(r) = table.record {
            let prefix = Prefix::default();
            self.columns_of(schema, r, &prefix, &mut table.columns, &mut lists);
            table.key = schema
                .record(r)
                .and_then(|d| d.key)
                .and_then(|k| table.columns.iter().position(|c| c.fields == [k]));
        } else if let Some(ty) = &table.scalar {
            table.columns.push(Column {
                name: "value".into(),
                fields: vec![],
                path: String::new(),
                kind: ColumnKind::Scalar(ty.clone()),
                presence: Presence::Required,
                doc: None,
                sensitive: false,
            });
        }
        let index = self.tables.len();
        let owner_name = table.name.clone();
        let owner_path = table.path.clone();
        self.tables.push(table);
        for list in lists {
            let (record, scalar) = match &list.item {
                FieldType::Record(r) => (Some(*r), None),
                other => (None, Some(other.clone())),
            };
            let child = Table {
                name: ident(&format!("{owner_name}__{}", list.column)),
                subject: self.tables.get(index).map_or(0, |t| t.subject),
                parent: Some(index),
                list_fields: list.fields,
                list_name: list.name,
                record,
                scalar,
                key: None,
                columns: vec![],
                path: format!("{owner_path}.{}[]", list.path),
                doc: list.doc,
            };
            self.add_table(schema, child);
        }
    }

    /// The columns of record `r`'s fields under `prefix`; the lists met are kept in
    /// `lists` for tables of their own.
    fn columns_of(
        &self,
        schema: &Schema,
        r: RecordId,
        prefix: &Prefix,
        columns: &mut Vec<Column>,
        lists: &mut Vec<ListField>,
    ) {
        let Some(def) = schema.record(r) else { return };
        for (i, f) in def.fields.iter().enumerate() {
            let here = prefix.then(i, &f.name);
            match &f.ty {
                FieldType::Record(inner) => {
                    if f.presence == Presence::Optional {
                        columns.push(here.column(ColumnKind::Presence, f));
                    }
                    self.columns_of(schema, *inner, &here, columns, lists);
                }
                FieldType::List(item) => {
                    columns.push(here.column(ColumnKind::Presence, f));
                    lists.push(ListField {
                        fields: here.fields.clone(),
                        column: here.column_name(),
                        path: here.path.clone(),
                        name: f.name.clone(),
                        item: (**item).clone(),
                        doc: f.doc.clone(),
                    });
                }
                scalar => columns.push(here.column(ColumnKind::Scalar(scalar.clone()), f)),
            }
        }
    }
}

/// A list met while laying out a record.
struct ListField {
    fields: Vec<usize>,
    column: String,
    path: String,
    name: String,
    item: FieldType,
    doc: Option<String>,
}

/// Where a field sits in a row: the field indexes and names from the row record.
#[derive(Default, Clone)]
struct Prefix {
    fields: Vec<usize>,
    names: Vec<String>,
    path: String,
}

impl Prefix {
    fn then(&self, index: usize, name: &str) -> Prefix {
        let mut p = self.clone();
        p.fields.push(index);
        p.names.push(name.to_string());
        p.path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        };
        p
    }

    fn column_name(&self) -> String {
        ident(&self.names.join("__"))
    }

    fn column(&self, kind: ColumnKind, f: &crate::schema::FieldDef) -> Column {
        Column {
            name: self.column_name(),
            fields: self.fields.clone(),
            path: self.path.clone(),
            kind,
            presence: f.presence.clone(),
            doc: f.doc.clone(),
            sensitive: f.sensitive,
        }
    }
}

/// A name cut to [`MAX_IDENT`] bytes, ending in a hash of the whole when cut.
pub(crate) fn ident(name: &str) -> String {
    if name.len() <= MAX_IDENT {
        return name.to_string();
    }
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("_{:08x}", hash & 0xffff_ffff);
    let mut cut = MAX_IDENT - suffix.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", name.get(..cut).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_schema_lays_out_lists_as_child_tables() {
        let text = std::fs::read_to_string("rules/schema.yaml").unwrap_or_default();
        let schema = Schema::from_yaml(&text).unwrap_or_else(|e| panic!("{e}"));
        let layout = Layout::of(&schema);
        let names: Vec<&str> = layout.tables.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"person"), "{names:?}");
        assert!(names.contains(&"person__household__members"), "{names:?}");
        assert!(
            names.contains(&"person__household__members__monthly_income"),
            "{names:?}"
        );
        let person = &layout.tables[layout.subject_table(0).unwrap_or_default()];
        assert!(person
            .columns
            .iter()
            .any(|c| c.name == "person__birth_date"));
        assert!(person.columns.iter().any(|c| c.name == "loans"));
        for t in &layout.tables {
            assert!(t.name.len() <= MAX_IDENT);
            for c in &t.columns {
                assert!(c.name.len() <= MAX_IDENT, "{}", c.name);
            }
        }
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = "a".repeat(70);
        let other = format!("{}b", "a".repeat(69));
        assert_eq!(ident(&long).len(), MAX_IDENT);
        assert_ne!(ident(&long), ident(&other));
        assert_eq!(ident("short"), "short");
    }
}
