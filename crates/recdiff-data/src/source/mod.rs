//! Row sources: CSV/TSV, Parquet and the native readers of public datasets (MovieLens 100K,
//! 1M/10M) behind one streaming interface.
//!
//! A source hands batches of rows to a visitor ([`RowSource::for_each_batch`]); a batch answers
//! cell look-ups by (row, projected column) as a [`Cell`]. Sources never hold the whole file: CSV
//! reads a few thousand records at a time, Parquet one record batch at a time.

pub mod amazon;
mod csv;
mod csv_lines;
pub mod join;
pub mod movielens;
pub mod movielens_dat;
mod parquet;
mod py_literal;
mod text_rows;

use crate::error::{DataError, Location, Result};
use crate::schema::{Schema, SourceFormat};
use std::path::{Path, PathBuf};

/// One cell as the source holds it. Interpretation (missing tokens, parsing) is the caller's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Null (Parquet) or absent.
    Null,
    /// Raw text, valid UTF-8.
    Text(&'a str),
    Int(i64),
    Float(f64),
}

/// A batch of rows with the projected columns in the order the caller asked for.
pub trait RowBatch {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn cell(&self, row: usize, col: usize) -> Cell<'_>;
    /// Where row `row` is, for error messages.
    fn location(&self, row: usize, column: Option<&str>) -> Location;
}

/// A streaming reader of rows.
pub trait RowSource {
    /// Calls `visit` with each batch in file order. Rows the reader itself finds malformed (short
    /// rows, bad UTF-8) are errors, or are reported through `on_bad_row` when it returns `Ok`.
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()>;
}

/// Opens the schema's source, projecting `columns` (errors if one is absent from the data), with
/// its `[[source.join]]` tables joined on.
pub fn open(schema: &Schema, columns: &[String]) -> Result<Box<dyn RowSource>> {
    if schema.source.join.is_empty() {
        return open_main(schema, columns);
    }
    Ok(Box::new(join::JoinSource::new(&schema.source.join, columns, |inner| open_main(schema, inner))?))
}

fn open_main(schema: &Schema, columns: &[String]) -> Result<Box<dyn RowSource>> {
    let spec = &schema.source;
    Ok(match spec.format {
        SourceFormat::Csv => {
            Box::new(csv::CsvSource::new(spec, part_files(&spec.path, &["csv", "tsv", "txt"])?, columns)?)
        }
        SourceFormat::Parquet => Box::new(parquet::ParquetSource::new(part_files(&spec.path, &["parquet"])?, columns)?),
        SourceFormat::Movielens100k => Box::new(movielens::MovielensSource::new(&spec.path, columns)?),
        SourceFormat::AmazonReviews => {
            Box::new(amazon::AmazonSource::new(&spec.path, spec.metadata.as_deref(), columns)?)
        }
        SourceFormat::Movielens1m | SourceFormat::Movielens10m => {
            Box::new(movielens_dat::MovielensDatSource::new(&spec.path, columns)?)
        }
    })
}

/// Whether a directory entry is a part file: one of `extensions` (optionally gzipped, `.csv.gz`),
/// or Criteo's `day_<N>` layout (`day_0`, `day_0.gz`) when text is read.
fn is_part(name: &str, extensions: &[&str]) -> bool {
    let stem = name.strip_suffix(".gz").filter(|_| extensions.contains(&"txt")).unwrap_or(name);
    let ext = stem.rsplit_once('.').map_or("", |(_, e)| e);
    let day = stem.strip_prefix("day_").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    extensions.contains(&ext) || (day && extensions.contains(&"txt"))
}

/// Orders names with their digit runs compared as numbers (`day_2` before `day_10`).
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let text_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let (text, tail) = rest.split_at(text_len);
        let digits_len = tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
        let (digits, tail) = tail.split_at(digits_len);
        key.push((text.to_string(), digits.parse().unwrap_or(u64::MAX)));
        rest = tail;
    }
    key
}

/// `path` itself, or the part files inside the directory `path` ([`is_part`]), in natural order.
fn part_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| DataError::io(path, e))? {
        let p = entry.map_err(|e| DataError::io(path, e))?.path();
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| is_part(n, extensions)) {
            files.push(p);
        }
    }
    files.sort_by_cached_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    if files.is_empty() {
        return Err(DataError::BadFile {
            path: path.to_path_buf(),
            message: format!("directory holds no {} files", extensions.join("/")),
        });
    }
    Ok(files)
}

/// Maps the requested column names to their positions in `available`.
fn project(file: &Path, available: &[String], wanted: &[String]) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|w| {
            available.iter().position(|a| a == w).ok_or_else(|| DataError::BadFile {
                path: file.to_path_buf(),
                message: format!(
                    "the schema names column '{w}', which the file does not have (columns: {})",
                    available.join(", ")
                ),
            })
        })
        .collect()
}
