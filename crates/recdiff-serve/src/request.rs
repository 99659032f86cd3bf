//! Request bodies and their translation into rows the trained encoder reads.
//!
//! Feature objects are keyed by the schema's input column names — the same names as the columns of
//! a CSV or Parquet file given to `recdiff predict`. A feature that is absent or `null` is missing
//! (as are the schema's missing tokens, e.g. `""`), and its missing bit reaches the model. Anything
//! else that cannot be read as the column's type is a [`RequestError`] naming the field by its path
//! in the request, e.g. `candidates[3].price`.

use recdiff_data::schema::{FieldKind, Schema};
use recdiff_data::source::{Cell, RowBatch};
use recdiff_data::{DataError, Location};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// One object of features: column name -> value.
pub type Features = Map<String, Value>;

/// A feature object read with every key at most once: JSON allows a repeated key and serde_json
/// would keep the last, so `{"age": 30, "age": null}` would silently score as missing.
struct UniqueKeys(Features);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of features")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                let mut out = Features::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!("feature `{key}` is given twice")));
                    }
                    out.insert(key, value);
                }
                Ok(UniqueKeys(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn unique<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Features>, D::Error> {
    Ok(Option::<UniqueKeys>::deserialize(d)?.map(|u| u.0))
}

fn unique_each<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Features>, D::Error> {
    Ok(Vec::<UniqueKeys>::deserialize(d)?.into_iter().map(|u| u.0).collect())
}

/// `POST /v1/score`: one user and context, many candidate items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    #[serde(default, deserialize_with = "unique")]
    pub user: Option<Features>,
    #[serde(default, deserialize_with = "unique")]
    pub context: Option<Features>,
    #[serde(deserialize_with = "unique_each")]
    pub candidates: Vec<Features>,
    /// Return, per candidate, the fields the model treated as missing.
    #[serde(default)]
    pub explain: bool,
}

/// `POST /v1/score:batch`: independent complete rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[serde(deserialize_with = "unique_each")]
    pub rows: Vec<Features>,
    #[serde(default)]
    pub explain: bool,
}

/// A client error in the request's content, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl RequestError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// An encoder error on a [`JsonRows`] cell, mapped back to the request path.
    pub fn from_data(e: DataError) -> Self {
        match e {
            DataError::BadRow { location, message } => {
                let column = location.column.unwrap_or_default();
                Self::new(format!("{}.{column}", location.file.display()), message)
            }
            other => Self::new("request", other.to_string()),
        }
    }
}

/// How one input column is read.
#[derive(Debug, Clone)]
struct Column {
    kind: FieldKind,
    separator: String,
}

/// The schema's input columns, in the order the encoder's parser reads them.
#[derive(Debug, Clone)]
pub struct Columns {
    names: Vec<String>,
    index: HashMap<String, usize>,
    columns: Vec<Column>,
}

impl Columns {
    /// `parser_columns` must be the prediction parser's column order.
    pub fn new(schema: &Schema, parser_columns: &[String]) -> Self {
        let columns = parser_columns
            .iter()
            .map(|c| {
                let f = schema.fields.iter().find(|f| f.column() == c).unwrap_or_else(|| unreachable!());
                Column { kind: f.kind, separator: f.separator.clone().unwrap_or_else(|| "|".into()) }
            })
            .collect();
        let index = parser_columns.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        Self { names: parser_columns.to_vec(), index, columns }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, col: usize) -> &str {
        &self.names[col]
    }

    /// The column of feature `key` found in the object at `path`; unknown names are an error
    /// listing the known ones.
    pub fn lookup(&self, path: impl Fn() -> String, key: &str) -> Result<usize, RequestError> {
        self.index.get(key).copied().ok_or_else(|| {
            let path = path();
            let mut known: Vec<&str> = self.names.iter().map(String::as_str).collect();
            known.sort_unstable();
            RequestError::new(format!("{path}.{key}"), format!("unknown feature; the model reads {}", known.join(", ")))
        })
    }

    /// Reads `value` as a cell of column `col`; `path` names it in errors.
    pub fn cell<'a>(
        &self,
        col: usize,
        value: &'a Value,
        path: &dyn Fn() -> String,
    ) -> Result<JsonCell<'a>, RequestError> {
        let c = &self.columns[col];
        let wrong = |found: &str| {
            let want = match c.kind {
                FieldKind::Numeric => "a number",
                FieldKind::Categorical => "a string or an integer",
                FieldKind::MultiHot => "a list of strings or integers, or a separated string",
            };
            RequestError::new(path(), format!("expected {want} (or null when missing), found {found}"))
        };
        Ok(match value {
            Value::Null => JsonCell::Null,
            Value::Bool(_) => return Err(wrong("a boolean")),
            Value::Object(_) => return Err(wrong("an object")),
            Value::Number(n) => match n.as_i64() {
                Some(i) => JsonCell::Int(i),
                None => JsonCell::Float(n.as_f64().ok_or_else(|| wrong("a number out of range"))?),
            },
            Value::String(s) => {
                // Files may spell a missing number "NaN"; a request says null, so NaN and
                // infinities here are mistakes, not missing values.
                if c.kind == FieldKind::Numeric && s.trim().parse::<f64>().is_ok_and(|v| !v.is_finite()) {
                    return Err(RequestError::new(
                        path(),
                        format!("{s:?} is not a finite number; send null for a missing value"),
                    ));
                }
                JsonCell::Text(s)
            }
            Value::Array(items) if c.kind == FieldKind::MultiHot => {
                JsonCell::Joined(join_tokens(items, &c.separator, path)?)
            }
            Value::Array(_) => return Err(wrong("a list")),
        })
    }
}

fn join_tokens(items: &[Value], separator: &str, path: &dyn Fn() -> String) -> Result<String, RequestError> {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let token = match item {
            Value::String(s) if s.contains(separator) => {
                return Err(RequestError::new(
                    format!("{}[{i}]", path()),
                    format!("token {s:?} contains the field's separator {separator:?}"),
                ));
            }
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() => n.to_string(),
            _ => return Err(RequestError::new(format!("{}[{i}]", path()), "expected a string or an integer token")),
        };
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(&token);
    }
    Ok(out)
}

/// A validated cell borrowing the request body.
#[derive(Debug, Clone, Default)]
pub enum JsonCell<'a> {
    #[default]
    Null,
    Text(&'a str),
    /// A multi-hot list joined with the field's separator.
    Joined(String),
    Int(i64),
    Float(f64),
}

/// Where the cells of a [`JsonRows`] came from, for error paths.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Row `i` is `<name>[i]`.
    Indexed(&'static str),
    /// One row merged from several objects: the object each column came from, by column name.
    PerColumn(HashMap<String, &'static str>),
}

/// Request rows as a [`RowBatch`] over the encoder's columns.
#[derive(Debug)]
pub struct JsonRows<'a> {
    pub columns: usize,
    pub cells: Vec<JsonCell<'a>>,
    pub origin: Origin,
}

impl<'a> JsonRows<'a> {
    pub fn new(rows: usize, columns: usize, origin: Origin) -> Self {
        Self { columns, cells: vec![JsonCell::Null; rows * columns], origin }
    }

    pub fn set(&mut self, row: usize, col: usize, cell: JsonCell<'a>) {
        self.cells[row * self.columns + col] = cell;
    }

    pub fn is_set(&self, row: usize, col: usize) -> bool {
        !matches!(self.cells[row * self.columns + col], JsonCell::Null)
    }
}

impl RowBatch for JsonRows<'_> {
    fn len(&self) -> usize {
        self.cells.len() / self.columns.max(1)
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        match &self.cells[row * self.columns + col] {
            JsonCell::Null => Cell::Null,
            JsonCell::Text(s) => Cell::Text(s),
            JsonCell::Joined(s) => Cell::Text(s),
            JsonCell::Int(i) => Cell::Int(*i),
            JsonCell::Float(f) => Cell::Float(*f),
        }
    }

    fn location(&self, row: usize, column: Option<&str>) -> Location {
        let file = match &self.origin {
            Origin::Indexed(name) => format!("{name}[{row}]"),
            Origin::PerColumn(from) => column.and_then(|c| from.get(c)).copied().unwrap_or("request").to_string(),
        };
        Location {
            file: PathBuf::from(file),
            line: row as u64 + 1,
            column: column.map(str::to_string),
            is_text_line: false,
        }
    }
}
