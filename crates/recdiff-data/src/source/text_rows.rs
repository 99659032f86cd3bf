//! A batch of rows held as owned text cells, for the native readers that build their rows
//! themselves (joins, decoded fields): MovieLens `.dat`, JSON lines. Rows are streamed in batches
//! of [`BATCH_ROWS`]; each remembers its file and 1-based line for error messages.

use super::{Cell, RowBatch};
use crate::error::{DataError, Location, Result};
use std::path::{Path, PathBuf};

/// Rows per batch handed to the visitor.
pub const BATCH_ROWS: usize = 8192;

/// Rows of `width` text cells (empty = missing), of which the caller reads columns `proj`.
pub struct TextRows {
    file: PathBuf,
    width: usize,
    cells: Vec<String>,
    lines: Vec<u64>,
    proj: Vec<usize>,
}

impl TextRows {
    pub fn new(file: &Path, width: usize, proj: Vec<usize>) -> Self {
        Self { file: file.to_path_buf(), width, cells: Vec::new(), lines: Vec::new(), proj }
    }

    /// Appends a row of exactly `width` cells read at `line`.
    pub fn push(&mut self, line: u64, row: impl IntoIterator<Item = String>) {
        let before = self.cells.len();
        self.cells.extend(row);
        debug_assert_eq!(self.cells.len() - before, self.width);
        self.lines.push(line);
    }

    /// Hands the batch to `visit` when it is full (or `force`), then empties it.
    pub fn flush(&mut self, force: bool, visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>) -> Result<()> {
        if self.lines.is_empty() || (!force && self.lines.len() < BATCH_ROWS) {
            return Ok(());
        }
        visit(&*self)?;
        self.cells.clear();
        self.lines.clear();
        Ok(())
    }
}

impl RowBatch for TextRows {
    fn len(&self) -> usize {
        self.lines.len()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        Cell::Text(&self.cells[row * self.width + self.proj[col]])
    }

    fn location(&self, row: usize, column: Option<&str>) -> Location {
        Location {
            file: self.file.clone(),
            line: self.lines[row],
            column: column.map(String::from),
            is_text_line: true,
        }
    }
}

/// Streams the lines of `file` as rows of `N` cells built by `row(line, text)`, handing
/// [`BATCH_ROWS`]-row batches (columns `proj`) to `visit`; a row that fails goes to `on_bad_row`.
pub fn stream_rows<const N: usize>(
    file: &Path,
    proj: &[usize],
    visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
    on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    mut row: impl FnMut(u64, &str) -> Result<[String; N]>,
) -> Result<()> {
    let mut batch = TextRows::new(file, N, proj.to_vec());
    for_each_line(file, |line, text| {
        match row(line, text) {
            Ok(cells) => batch.push(line, cells),
            Err(e) => on_bad_row(e)?,
        }
        batch.flush(false, visit)
    })?;
    batch.flush(true, visit)
}

/// A bad row of a text file, at a 1-based line.
pub fn bad_line(file: &Path, line: u64, column: Option<&str>, message: String) -> DataError {
    DataError::BadRow {
        location: Location { file: file.into(), line, column: column.map(String::from), is_text_line: true },
        message,
    }
}

/// A line's bytes as text: UTF-8 when valid, otherwise Latin-1 (MovieLens 1M ships Latin-1).
pub fn decode_line(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Calls `f(line_number, text)` for every non-blank line of `path` (line ending stripped;
/// `.gz` files decompressed as they stream).
pub fn for_each_line(path: &Path, mut f: impl FnMut(u64, &str) -> Result<()>) -> Result<u64> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let input: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file)))
    } else {
        Box::new(file)
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input);
    let (mut buf, mut line, mut rows) = (Vec::new(), 0u64, 0u64);
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(|e| DataError::io(path, e))? == 0 {
            break;
        }
        line += 1;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        f(line, &decode_line(&buf))?;
    }
    if rows == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(rows)
}
