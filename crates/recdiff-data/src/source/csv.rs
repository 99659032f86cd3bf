//! CSV/TSV reader (any one-byte delimiter, with or without a header).
//!
//! Built on the `csv` crate's byte records rather than arrow-csv's batch decoder: arrow-csv fails a
//! whole batch on one malformed row and cannot tell a short row from empty trailing cells, while the
//! schema's `on_bad_row = "skip"` needs to count and skip single rows with their line numbers.

use super::csv_lines::LineTracker;
use super::{Cell, RowBatch, RowSource, project};
use crate::error::{DataError, Location, Result};
use crate::schema::SourceSpec;
use csv::{ByteRecord, StringRecord};
use std::path::{Path, PathBuf};

const BATCH_ROWS: usize = 4096;

/// A batch also ends once its records hold this many times `max_cell_bytes` bytes, so rows of long
/// cells (each costing about twice its bytes until the batch is encoded) cannot pile up to
/// gigabytes before a batch of [`BATCH_ROWS`] fills: 32 MiB of records at the default 1 MiB cells.
const BATCH_CELLS: usize = 32;

/// Records whose cells held more bytes than this are not recycled between batches.
const RECYCLE_BYTES: usize = 16 << 10;

pub struct CsvSource {
    files: Vec<PathBuf>,
    delimiter: u8,
    max_cell_bytes: usize,
    header: bool,
    names: Option<Vec<String>>,
    wanted: Vec<String>,
}

impl CsvSource {
    pub fn new(spec: &SourceSpec, files: Vec<PathBuf>, wanted: &[String]) -> Result<Self> {
        Ok(Self {
            files,
            delimiter: spec.delimiter_byte().map_err(DataError::Invalid)?,
            max_cell_bytes: spec.max_cell_bytes.unwrap_or(crate::schema::DEFAULT_MAX_CELL_BYTES).max(1),
            header: spec.header.unwrap_or(true),
            names: spec.columns.clone(),
            wanted: wanted.to_vec(),
        })
    }

    fn read_file(
        &self,
        path: &Path,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<u64> {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        // Gzipped parts (`.gz`, Criteo's `day_N.gz`) are decompressed as they stream.
        let input: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file)))
        } else {
            Box::new(file)
        };
        let max_record = (self.max_cell_bytes as u64).saturating_mul(16);
        let (input, starts) = LineTracker::new(input, self.delimiter, max_record);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::BufReader::with_capacity(1 << 20, input));
        let mut record = ByteRecord::new();
        let names = match &self.names {
            Some(n) => n.clone(),
            None => {
                if !read_record(&mut reader, &mut record, path)? {
                    return Err(DataError::Empty { path: path.into() });
                }
                starts.borrow_mut().pop_front();
                header_names(&record, path)?
            }
        };
        if self.header && self.names.is_some() {
            if !read_record(&mut reader, &mut record, path)? {
                return Err(DataError::Empty { path: path.into() });
            }
            starts.borrow_mut().pop_front();
        }
        refuse_duplicates(&names, path)?;
        let proj = project(path, &names, &self.wanted)?;
        let mut batch = CsvBatch { file: path, proj, records: Vec::with_capacity(BATCH_ROWS), lines: Vec::new() };
        // Records are recycled between batches: a steady-state row allocates nothing.
        let mut spare: Vec<ByteRecord> = Vec::with_capacity(BATCH_ROWS);
        let mut rows = 0u64;
        let batch_bytes = self.max_cell_bytes.saturating_mul(BATCH_CELLS);
        loop {
            let mut bytes = 0;
            while batch.records.len() < BATCH_ROWS && bytes < batch_bytes {
                let mut record = spare.pop().unwrap_or_default();
                if !read_record(&mut reader, &mut record, path)? {
                    break;
                }
                let line = starts.borrow_mut().pop_front().unwrap_or(0);
                match checked(record, names.len(), &batch.proj, &names, path, line, self.max_cell_bytes) {
                    Ok(record) => {
                        bytes += record.as_byte_record().as_slice().len();
                        batch.records.push(record);
                        batch.lines.push(line);
                    }
                    Err(e) => on_bad_row(e)?,
                }
            }
            if batch.records.is_empty() {
                return Ok(rows);
            }
            rows += batch.records.len() as u64;
            visit(&batch)?;
            // A record that held an outsized row is dropped rather than recycled, so its buffer
            // does not stay with the batch.
            let recycled = batch.records.drain(..).map(StringRecord::into_byte_record);
            spare.extend(recycled.filter(|r| r.as_slice().len() <= RECYCLE_BYTES));
            batch.lines.clear();
        }
    }
}

fn read_record<R: std::io::Read>(reader: &mut csv::Reader<R>, record: &mut ByteRecord, path: &Path) -> Result<bool> {
    reader.read_byte_record(record).map_err(|e| {
        let line = e.position().map_or(0, |p| p.line());
        DataError::BadRow {
            location: Location { file: path.into(), line, column: None, is_text_line: true },
            message: format!("unreadable CSV record: {e}"),
        }
    })
}

fn header_names(record: &ByteRecord, path: &Path) -> Result<Vec<String>> {
    record
        .iter()
        .enumerate()
        .map(|(i, b)| {
            std::str::from_utf8(b).map(|s| s.trim().to_string()).map_err(|_| DataError::BadFile {
                path: path.into(),
                message: format!("header column {} is not valid UTF-8", i + 1),
            })
        })
        .collect()
}

/// Two columns of one name would make every reference to it ambiguous.
fn refuse_duplicates(names: &[String], path: &Path) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(first) = seen.insert(n.as_str(), i) {
            return Err(DataError::BadFile {
                path: path.into(),
                message: format!("the header names column '{n}' twice (columns {} and {})", first + 1, i + 1),
            });
        }
    }
    Ok(())
}

/// A record is good when it has every column and its projected cells are UTF-8. It comes back as
/// text, validated once here (a whole-record ASCII check in the common case); cells it does not
/// project that are not UTF-8 are never read and are replaced.
fn checked(
    record: ByteRecord,
    expected: usize,
    proj: &[usize],
    names: &[String],
    path: &Path,
    line: u64,
    max_cell_bytes: usize,
) -> Result<StringRecord> {
    let location = |column: Option<&str>| Location {
        file: path.into(),
        line,
        column: column.map(String::from),
        is_text_line: true,
    };
    if record.len() != expected {
        return Err(DataError::BadRow {
            location: location(None),
            message: format!("expected {expected} columns, found {}", record.len()),
        });
    }
    if let Some(c) = (0..record.len()).find(|&c| record[c].len() > max_cell_bytes) {
        return Err(DataError::BadRow {
            location: location(names.get(c).map(String::as_str)),
            message: format!(
                "the cell is {} bytes, over the {max_cell_bytes}-byte limit (`max_cell_bytes` in [source])",
                record[c].len()
            ),
        });
    }
    let record = match StringRecord::from_byte_record(record) {
        Ok(text) => return Ok(text),
        Err(e) => e.into_byte_record(),
    };
    for &c in proj {
        if let Err(e) = std::str::from_utf8(&record[c]) {
            return Err(DataError::BadRow {
                location: location(Some(&names[c])),
                message: format!("invalid UTF-8 at byte {} of the cell", e.valid_up_to()),
            });
        }
    }
    Ok(StringRecord::from_byte_record_lossy(record))
}

impl RowSource for CsvSource {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()> {
        let mut total = 0;
        for file in &self.files {
            total += self.read_file(file, visit, on_bad_row)?;
        }
        if total == 0 {
            return Err(DataError::Empty { path: self.files[0].clone() });
        }
        Ok(())
    }
}

struct CsvBatch<'a> {
    file: &'a Path,
    proj: Vec<usize>,
    records: Vec<StringRecord>,
    lines: Vec<u64>,
}

impl RowBatch for CsvBatch<'_> {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        Cell::Text(&self.records[row][self.proj[col]])
    }

    fn location(&self, row: usize, column: Option<&str>) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.lines[row],
            column: column.map(String::from),
            is_text_line: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_long_cells_ends_at_its_byte_bound_before_its_row_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.csv");
        let cell = "x".repeat(900);
        let text: String =
            std::iter::once("id,text\n".to_string()).chain((0..100).map(|i| format!("{i},{cell}\n"))).collect();
        std::fs::write(&path, text).unwrap();
        let mut source = CsvSource {
            files: vec![path],
            delimiter: b',',
            max_cell_bytes: 1_000,
            header: true,
            names: None,
            wanted: vec!["id".into(), "text".into()],
        };
        let mut sizes = Vec::new();
        let mut visit = |b: &dyn RowBatch| {
            sizes.push(b.len());
            Ok(())
        };
        source.for_each_batch(&mut visit, &mut |e| Err(e)).unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 100, "every row read, in batches {sizes:?}");
        // 32 cells of 1,000 bytes: a batch closes once its ~903-byte records pass 32,000 bytes.
        assert!(sizes.len() == 3 && sizes.iter().all(|&n| n <= 36), "{sizes:?}");
    }
}
