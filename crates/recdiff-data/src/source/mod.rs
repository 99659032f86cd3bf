//! Row sources: CSV/TSV, Parquet and the native readers of public datasets (MovieLens 100K,
//! 1M/10M) behind one streaming interface.
//!
//! A source hands batches of rows to a visitor ([`RowSource::for_each_batch`]); a batch answers
//! cell look-ups by (row, projected column) as a [`Cell`]. Sources never hold the whole file: CSV
//! reads a few thousand records at a time, Parquet one record batch at a time.

mod csv;
pub mod movielens;
pub mod movielens_dat;
mod parquet;
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

/// Opens the schema's source, projecting `columns` (errors if one is absent from the data).
pub fn open(schema: &Schema, columns: &[String]) -> Result<Box<dyn RowSource>> {
    let spec = &schema.source;
    Ok(match spec.format {
        SourceFormat::Csv => {
            Box::new(csv::CsvSource::new(spec, part_files(&spec.path, &["csv", "tsv", "txt"])?, columns)?)
        }
        SourceFormat::Parquet => Box::new(parquet::ParquetSource::new(part_files(&spec.path, &["parquet"])?, columns)?),
        SourceFormat::Movielens100k => Box::new(movielens::MovielensSource::new(&spec.path, columns)?),
        SourceFormat::Movielens1m | SourceFormat::Movielens10m => {
            Box::new(movielens_dat::MovielensDatSource::new(&spec.path, columns)?)
        }
    })
}

/// `path` itself, or the files with one of `extensions` inside the directory `path`, sorted.
fn part_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| DataError::io(path, e))? {
        let p = entry.map_err(|e| DataError::io(path, e))?.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extensions.contains(&ext) {
            files.push(p);
        }
    }
    files.sort();
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
