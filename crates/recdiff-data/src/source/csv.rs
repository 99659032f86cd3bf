//! CSV/TSV reader (any one-byte delimiter, with or without a header).
//!
//! Built on the `csv` crate's byte records rather than arrow-csv's batch decoder: arrow-csv fails a
//! whole batch on one malformed row and cannot tell a short row from empty trailing cells, while the
//! schema's `on_bad_row = "skip"` needs to count and skip single rows with their line numbers.

use super::{Cell, RowBatch, RowSource, project};
use crate::error::{DataError, Location, Result};
use crate::schema::SourceSpec;
use csv::{ByteRecord, StringRecord};
use std::path::{Path, PathBuf};

const BATCH_ROWS: usize = 4096;

pub struct CsvSource {
    files: Vec<PathBuf>,
    delimiter: u8,
    header: bool,
    names: Option<Vec<String>>,
    wanted: Vec<String>,
}

impl CsvSource {
    pub fn new(spec: &SourceSpec, files: Vec<PathBuf>, wanted: &[String]) -> Result<Self> {
        Ok(Self {
            files,
            delimiter: spec.delimiter_byte().map_err(DataError::Invalid)?,
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
                header_names(&record, path)?
            }
        };
        if self.header && self.names.is_some() && !read_record(&mut reader, &mut record, path)? {
            return Err(DataError::Empty { path: path.into() });
        }
        let proj = project(path, &names, &self.wanted)?;
        let mut batch = CsvBatch { file: path, proj, records: Vec::with_capacity(BATCH_ROWS), lines: Vec::new() };
        // Records are recycled between batches: a steady-state row allocates nothing.
        let mut spare: Vec<ByteRecord> = Vec::with_capacity(BATCH_ROWS);
        let mut rows = 0u64;
        loop {
            while batch.records.len() < BATCH_ROWS {
                let mut record = spare.pop().unwrap_or_default();
                if !read_record(&mut reader, &mut record, path)? {
                    break;
                }
                let line = record.position().map_or(0, |p| p.line());
                match checked(record, names.len(), &batch.proj, &names, path, line) {
                    Ok(record) => {
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
            spare.extend(batch.records.drain(..).map(StringRecord::into_byte_record));
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
