//! Left joins of side tables onto any source: `[[source.join]] path = "user_features.csv",
//! on = "user_id"` reads the table (CSV with a header, held in memory, keyed by its `on` column)
//! and serves its other columns on every row whose `on` value it holds; rows it does not hold
//! see those columns as missing. A wanted column is taken from the first join table that has it,
//! otherwise from the main source. KuaiRand's and KuaiRec's user and video feature tables are
//! joined this way.

use super::{Cell, RowBatch, RowSource};
use crate::KeyMap;
use crate::error::{DataError, Location, Result};
use crate::schema::JoinSpec;
use std::path::Path;

struct Table {
    index: KeyMap<usize>,
    rows: Vec<Vec<String>>,
    names: Vec<String>,
}

/// Where an outer column comes from.
#[derive(Clone, Copy)]
enum Origin {
    Main(usize),
    Joined { table: usize, key: usize, col: usize },
}

pub struct JoinSource {
    inner: Box<dyn RowSource>,
    tables: Vec<Table>,
    origins: Vec<Origin>,
}

fn read_table(spec: &JoinSpec) -> Result<Table> {
    let path = &spec.path;
    let delimiter = spec.delimiter.as_deref().map_or(Ok(b','), |d| match d.as_bytes() {
        [b] => Ok(*b),
        _ => Err(DataError::BadFile { path: path.clone(), message: format!("delimiter {d:?} is not one byte") }),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| DataError::BadFile { path: path.clone(), message: e.to_string() })?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::BadFile { path: path.clone(), message: e.to_string() })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let key = names.iter().position(|n| *n == spec.on).ok_or_else(|| DataError::BadFile {
        path: path.clone(),
        message: format!("no column '{}' to join on (columns: {})", spec.on, names.join(", ")),
    })?;
    let (mut index, mut rows) = (KeyMap::default(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let at = |message: String| DataError::BadRow {
            location: Location { file: path.clone(), line, column: None, is_text_line: true },
            message,
        };
        let record = record.map_err(|e| at(e.to_string()))?;
        if record.len() != names.len() {
            return Err(at(format!("expected {} columns, found {}", names.len(), record.len())));
        }
        let row: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if index.insert(row[key].clone(), rows.len()).is_some() {
            return Err(at(format!("'{}' value {:?} appears twice", spec.on, row[key])));
        }
        rows.push(row);
    }
    Ok(Table { index, rows, names })
}

impl JoinSource {
    /// Reads the join tables and opens the main source through `open_inner(columns)` with the
    /// columns it must provide (its own wanted columns and the join keys).
    pub fn new(
        joins: &[JoinSpec],
        wanted: &[String],
        open_inner: impl FnOnce(&[String]) -> Result<Box<dyn RowSource>>,
    ) -> Result<Self> {
        let tables = joins.iter().map(read_table).collect::<Result<Vec<_>>>()?;
        let mut inner_cols: Vec<String> = Vec::new();
        let mut main = |name: &str| match inner_cols.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                inner_cols.push(name.to_string());
                inner_cols.len() - 1
            }
        };
        let mut origins = Vec::new();
        for w in wanted {
            let found = tables.iter().enumerate().find_map(|(t, table)| {
                let col = table.names.iter().position(|n| n == w && *n != joins[t].on)?;
                Some((t, col))
            });
            origins.push(match found {
                Some((table, col)) => Origin::Joined { table, key: main(&joins[table].on), col },
                None => Origin::Main(main(w)),
            });
        }
        let inner = open_inner(&inner_cols)?;
        Ok(Self { inner, tables, origins })
    }
}

struct JoinedBatch<'a> {
    inner: &'a dyn RowBatch,
    tables: &'a [Table],
    origins: &'a [Origin],
}

impl RowBatch for JoinedBatch<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        match self.origins[col] {
            Origin::Main(c) => self.inner.cell(row, c),
            Origin::Joined { table, key, col } => {
                let t = &self.tables[table];
                let found = match self.inner.cell(row, key) {
                    Cell::Text(k) => t.index.get(k.trim()),
                    Cell::Int(i) => t.index.get(&i.to_string()),
                    Cell::Float(f) if f.fract() == 0.0 => t.index.get(&(f as i64).to_string()),
                    _ => None,
                };
                found.map_or(Cell::Null, |&r| Cell::Text(&t.rows[r][col]))
            }
        }
    }

    fn location(&self, row: usize, column: Option<&str>) -> Location {
        self.inner.location(row, column)
    }
}

impl RowSource for JoinSource {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()> {
        let Self { inner, tables, origins } = self;
        inner.for_each_batch(&mut |b| visit(&JoinedBatch { inner: b, tables, origins }), on_bad_row)
    }
}

/// Join paths relative to the schema file.
pub fn resolve(joins: &mut [JoinSpec], dir: &Path) {
    for j in joins.iter_mut().filter(|j| j.path.is_relative()) {
        j.path = dir.join(&j.path);
    }
}
