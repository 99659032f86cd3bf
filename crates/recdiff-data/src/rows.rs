//! Reading a whole schema row (label, keys, every field) out of a batch, with errors naming the cell.
//! Shared by `data stats`, encoding and prediction so they agree on what a valid row is.

use crate::error::{DataError, Result};
use crate::extract::Extract;
use crate::schema::{FieldKind, Schema};
use crate::source::{self, RowBatch, RowSource};
use crate::value::{CellReader, Key, bad_cell};

/// Column positions of the schema's parts in the projected batch.
#[derive(Debug, Clone)]
pub struct RowParser {
    pub reader: CellReader,
    pub columns: Vec<String>,
    /// `None` when reading features only (prediction input without labels).
    label: Option<usize>,
    rule: LabelRule,
    user: Option<usize>,
    item: Option<usize>,
    timestamp: Option<usize>,
    /// Per field: (column index, kind, column name, derived value).
    fields: Vec<(usize, FieldKind, String, Option<Extract>)>,
}

impl RowParser {
    pub fn new(schema: &Schema) -> Self {
        Self::with_columns(schema, schema.referenced_columns(), true)
    }

    /// A parser reading only the feature columns: labels, user, item and timestamp keys are not
    /// required (prediction input). The label reads as 0.
    pub fn features_only(schema: &Schema) -> Self {
        let mut columns: Vec<String> = schema.fields.iter().map(|f| f.column().to_string()).collect();
        let mut seen = std::collections::HashSet::new();
        columns.retain(|c| seen.insert(c.clone()));
        Self::with_columns(schema, columns, false)
    }

    /// A parser over exactly `columns`, which must include the label column: labels are read by
    /// the schema's rule (the interaction loaders' positives filter).
    pub fn labelled(schema: &Schema, columns: Vec<String>) -> Self {
        Self::with_columns(schema, columns, true)
    }

    fn with_columns(schema: &Schema, columns: Vec<String>, keys: bool) -> Self {
        let idx = |name: &str| columns.iter().position(|c| c == name).unwrap_or(0);
        let fields =
            schema.fields.iter().map(|f| (idx(f.column()), f.kind, f.column().to_string(), f.extract)).collect();
        Self {
            reader: CellReader::new(&schema.source.missing_tokens),
            label: keys.then(|| idx(&schema.label.column)),
            rule: LabelRule::of(&schema.label),
            user: schema.keys.user.as_deref().filter(|_| keys).map(idx),
            item: schema.keys.item.as_deref().filter(|_| keys).map(idx),
            timestamp: schema.keys.timestamp.as_deref().filter(|_| keys).map(idx),
            fields,
            columns,
        }
    }

    /// Opens the schema's source with exactly the columns this parser reads.
    pub fn open(&self, schema: &Schema) -> Result<Box<dyn RowSource>> {
        source::open(schema, &self.columns)
    }

    /// The 0/1 label; a missing label, or a value the label rule does not know, is an error.
    pub fn label(&self, b: &dyn RowBatch, row: usize) -> Result<f32> {
        let Some(label) = self.label else { return Ok(0.0) };
        let name = &self.columns[label];
        let missing = || bad_cell(b, row, name, "the label is missing".into());
        match &self.rule {
            LabelRule::Values { positive, negative } => {
                let key = self.reader.key(b, row, label, name)?.ok_or_else(missing)?;
                key.with_str(|v| match negative {
                    _ if positive.iter().any(|p| p == v) => Ok(1.0),
                    None => Ok(0.0),
                    Some(n) if n.iter().any(|x| x == v) => Ok(0.0),
                    Some(n) => Err(bad_cell(
                        b,
                        row,
                        name,
                        format!("label value {v:?} is neither positive {positive:?} nor negative {n:?}"),
                    )),
                })
            }
            LabelRule::Threshold(threshold) => {
                let v = self.reader.number(b, row, label, name).map_err(|e| self.label_hint(b, row, label, e))?;
                let v = v.ok_or_else(missing)?;
                match threshold {
                    Some(t) => Ok((v >= *t) as u8 as f32),
                    None if v == 0.0 || v == 1.0 => Ok(v as f32),
                    None => Err(bad_cell(
                        b,
                        row,
                        name,
                        format!("label must be 0 or 1 (or set label.threshold or label.positive), found {v}"),
                    )),
                }
            }
        }
    }

    /// A label cell that is text but not a number: say how labels given as values are read.
    fn label_hint(&self, b: &dyn RowBatch, row: usize, col: usize, e: DataError) -> DataError {
        match b.cell(row, col) {
            crate::source::Cell::Text(t) if t.trim().parse::<f64>().is_err() => bad_cell(
                b,
                row,
                &self.columns[col],
                format!("label {t:?} is not a number; for labels given as values set label.positive (and negative)"),
            ),
            _ => e,
        }
    }

    fn required_key<'a>(&self, b: &'a dyn RowBatch, row: usize, col: Option<usize>) -> Result<Option<Key<'a>>> {
        let Some(col) = col else { return Ok(None) };
        let name = &self.columns[col];
        match self.reader.key(b, row, col, name)? {
            Some(k) => Ok(Some(k)),
            None => Err(bad_cell(b, row, name, "the key is missing".into())),
        }
    }

    pub fn user<'a>(&self, b: &'a dyn RowBatch, row: usize) -> Result<Option<Key<'a>>> {
        self.required_key(b, row, self.user)
    }

    pub fn item<'a>(&self, b: &'a dyn RowBatch, row: usize) -> Result<Option<Key<'a>>> {
        self.required_key(b, row, self.item)
    }

    /// The integer timestamp, if the schema has one; missing or fractional is an error.
    pub fn timestamp(&self, b: &dyn RowBatch, row: usize) -> Result<Option<i64>> {
        let Some(col) = self.timestamp else {
            return Ok(None);
        };
        let name = &self.columns[col];
        match self.reader.number(b, row, col, name)? {
            Some(v) if v.fract() == 0.0 => Ok(Some(v as i64)),
            Some(v) => Err(bad_cell(b, row, name, format!("timestamp must be an integer, found {v}"))),
            None => Err(bad_cell(b, row, name, "the timestamp is missing".into())),
        }
    }

    /// Checks every part of the row: label, keys and each field's value type.
    pub fn validate(&self, b: &dyn RowBatch, row: usize) -> Result<()> {
        self.label(b, row)?;
        self.user(b, row)?;
        self.item(b, row)?;
        self.timestamp(b, row)?;
        for (f, (col, kind, name, _)) in self.fields.iter().enumerate() {
            match kind {
                FieldKind::Numeric => {
                    self.reader.number(b, row, *col, name)?;
                }
                FieldKind::MultiHot => {}
                FieldKind::Categorical => {
                    self.field_key(b, row, f)?;
                }
            }
        }
        Ok(())
    }

    pub fn field_column(&self, field: usize) -> (usize, &str) {
        (self.fields[field].0, &self.fields[field].2)
    }

    /// The key of categorical field `field`: the cell's, or the value derived from it.
    pub fn field_key<'a>(&self, b: &'a dyn RowBatch, row: usize, field: usize) -> Result<Option<Key<'a>>> {
        let (col, _, name, extract) = &self.fields[field];
        let key = self.reader.key(b, row, *col, name)?;
        let (Some(extract), Some(key)) = (extract, key) else { return Ok(key) };
        key.with_str(|t| extract.apply(t)).map(|v| v.map(Key::Int)).map_err(|m| bad_cell(b, row, name, m))
    }
}

/// How a label cell becomes 0/1.
#[derive(Debug, Clone)]
enum LabelRule {
    /// A number: `>= threshold`, or exactly 0/1 without one.
    Threshold(Option<f64>),
    /// A value listed as positive (1) or negative (0); without a negative list, anything else is 0.
    Values { positive: Vec<String>, negative: Option<Vec<String>> },
}

impl LabelRule {
    fn of(spec: &crate::schema::LabelSpec) -> Self {
        match &spec.positive {
            Some(p) => LabelRule::Values { positive: p.clone(), negative: spec.negative.clone() },
            None => LabelRule::Threshold(spec.threshold),
        }
    }
}

/// Collects skipped rows under `on_bad_row = "skip"`, keeping the first few messages.
#[derive(Debug, Default)]
pub struct BadRows {
    pub count: u64,
    pub examples: Vec<String>,
}

impl BadRows {
    pub const EXAMPLES: usize = 5;

    /// Records `e` when skipping; returns it as an error otherwise.
    pub fn handle(&mut self, skip: bool, e: DataError) -> Result<()> {
        if !skip || !matches!(e, DataError::BadRow { .. }) {
            return Err(e);
        }
        self.count += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(e.to_string());
        }
        Ok(())
    }
}

/// The summary line of rows skipped under `on_bad_row = "skip"`, if any were.
pub fn skipped_summary(count: u64, examples: &[String]) -> Option<String> {
    (count > 0).then(|| format!("skipped {count} bad rows; first: {}", examples.join(" | ")))
}
