//! A batch of rows built by the native readers that make their rows themselves (joins, decoded
//! fields): MovieLens `.dat`, JSON lines. Cells are either copied into one text arena per batch or
//! borrowed from the reader's side tables (a movie's title, an item's category), so a row costs no
//! allocation. Rows are streamed in batches of [`BATCH_ROWS`]; each remembers its file and 1-based
//! line for error messages.

use super::{Cell, RowBatch};
use crate::error::{DataError, Location, Result};
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

/// Rows per batch handed to the visitor.
pub const BATCH_ROWS: usize = 8192;

/// A batch is also handed over once its text holds this many bytes, so long lines cannot pile
/// up before [`BATCH_ROWS`] rows fill it.
pub const BATCH_BYTES: usize = 32 << 20;

/// Where a cell's text is: in the batch's arena, or in a side table that outlives the batch.
enum Piece<'s> {
    Arena(Range<usize>),
    Side(&'s str),
}

/// Rows of `width` text cells (empty = missing), of which the caller reads columns `proj`.
struct TextRows<'f, 's> {
    file: &'f Path,
    width: usize,
    proj: &'f [usize],
    arena: String,
    cells: Vec<Piece<'s>>,
    lines: Vec<u64>,
}

/// The cells of the row being built, in column order.
pub struct RowCells<'b, 's> {
    arena: &'b mut String,
    cells: &'b mut Vec<Piece<'s>>,
}

impl<'s> RowCells<'_, 's> {
    /// A cell copied from `text` (the line, a decoded value).
    pub fn copy(&mut self, text: &str) {
        let start = self.arena.len();
        self.arena.push_str(text);
        self.cells.push(Piece::Arena(start..self.arena.len()));
    }

    /// A cell written by `Display` (a number).
    pub fn display(&mut self, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let start = self.arena.len();
        let _ = write!(self.arena, "{value}");
        self.cells.push(Piece::Arena(start..self.arena.len()));
    }

    /// A cell borrowed from a side table.
    pub fn side(&mut self, text: &'s str) {
        self.cells.push(Piece::Side(text));
    }
}

impl<'s> TextRows<'_, 's> {
    /// Builds one row with `build`; a row that fails leaves the batch as it was.
    fn push(&mut self, line: u64, build: impl FnOnce(&mut RowCells<'_, 's>) -> Result<()>) -> Result<()> {
        let (arena, cells) = (self.arena.len(), self.cells.len());
        let built = build(&mut RowCells { arena: &mut self.arena, cells: &mut self.cells });
        match built {
            Ok(()) if self.cells.len() - cells == self.width => {
                self.lines.push(line);
                Ok(())
            }
            other => {
                self.arena.truncate(arena);
                self.cells.truncate(cells);
                other.and_then(|()| {
                    let message = format!("the reader built a row of the wrong width (not {})", self.width);
                    Err(bad_line(self.file, line, None, message))
                })
            }
        }
    }

    /// Hands the batch to `visit` when it is full (or `force`), then empties it.
    fn flush(&mut self, force: bool, visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>) -> Result<()> {
        let full = self.lines.len() >= BATCH_ROWS || self.arena.len() >= BATCH_BYTES;
        if self.lines.is_empty() || (!force && !full) {
            return Ok(());
        }
        visit(&*self)?;
        self.arena.clear();
        self.cells.clear();
        self.lines.clear();
        Ok(())
    }
}

impl RowBatch for TextRows<'_, '_> {
    fn len(&self) -> usize {
        self.lines.len()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        Cell::Text(match &self.cells[row * self.width + self.proj[col]] {
            Piece::Arena(range) => &self.arena[range.clone()],
            Piece::Side(text) => text,
        })
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

/// Streams the lines of `file` as rows of `width` cells built by `row(line, text, cells)`,
/// handing [`BATCH_ROWS`]-row batches (columns `proj`) to `visit`; a row that fails goes to
/// `on_bad_row`.
pub fn stream_rows<'s>(
    file: &Path,
    width: usize,
    proj: &[usize],
    visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
    on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    mut row: impl FnMut(u64, &str, &mut RowCells<'_, 's>) -> Result<()>,
) -> Result<()> {
    let mut batch = TextRows { file, width, proj, arena: String::new(), cells: Vec::new(), lines: Vec::new() };
    for_each_line(file, |line, text| {
        if let Err(e) = batch.push(line, |cells| row(line, text, cells)) {
            on_bad_row(e)?;
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
pub fn decode_line(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_that_fails_half_built_leaves_no_cells_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rows.txt");
        std::fs::write(&file, "a b\nbad x\n\nc d\n").unwrap();
        let side = String::from("side");
        let (mut seen, mut bad) = (Vec::new(), Vec::new());
        stream_rows(
            &file,
            3,
            &[2, 0, 1],
            &mut |b| {
                for r in 0..b.len() {
                    let cells: Vec<_> = (0..3).map(|c| format!("{:?}", b.cell(r, c))).collect();
                    seen.push((b.location(r, None).line, cells.join(" ")));
                }
                Ok(())
            },
            &mut |e| {
                bad.push(e.to_string());
                Ok(())
            },
            |_, text, cells| {
                let (x, y) = text.split_once(' ').unwrap();
                cells.copy(x);
                if x == "bad" {
                    return Err(bad_line(&file, 2, None, "no".into()));
                }
                cells.display(y.len() * 7);
                cells.side(&side);
                Ok(())
            },
        )
        .unwrap();
        let text = |s: &str| format!("{:?}", Cell::Text(s));
        assert_eq!(
            seen,
            vec![
                (1, [text("side"), text("a"), text("7")].join(" ")),
                (4, [text("side"), text("c"), text("7")].join(" ")),
            ]
        );
        assert_eq!(bad.len(), 1);
    }
}
