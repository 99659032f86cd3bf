//! Reading typed values out of source cells: numbers, categorical keys, multi-hot tokens, with
//! missing values (empty cells, configured tokens, nulls, NaN) recognised in one place.

use crate::error::{DataError, Result};
use crate::source::{Cell, RowBatch};

/// A categorical value, hashed and looked up by its canonical text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key<'a> {
    Str(&'a str),
    Int(i64),
}

impl Key<'_> {
    /// Runs `f` on the key's canonical text (integers in decimal) without allocating.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Key::Str(s) => f(s),
            Key::Int(i) => f(itoa::Buffer::new().format(*i)),
        }
    }

    pub fn hash(&self, seed: u64) -> u64 {
        self.with_str(|s| xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), seed))
    }
}

/// Interprets cells using the schema's missing tokens.
#[derive(Debug, Clone)]
pub struct CellReader {
    missing_tokens: Vec<String>,
    /// Whether some token starts with this byte: most cells (numbers, ids) are told apart from
    /// every token by their first byte, without a comparison.
    token_starts: [bool; 256],
}

impl CellReader {
    pub fn new(missing_tokens: &[String]) -> Self {
        let mut token_starts = [false; 256];
        for t in missing_tokens.iter().filter_map(|t| t.as_bytes().first()) {
            token_starts[*t as usize] = true;
        }
        Self { missing_tokens: missing_tokens.to_vec(), token_starts }
    }

    fn is_missing_text(&self, s: &str) -> bool {
        self.is_missing_trimmed(s.trim())
    }

    fn is_missing_trimmed(&self, t: &str) -> bool {
        match t.as_bytes().first() {
            None => true,
            Some(b) if !self.token_starts[*b as usize] => false,
            Some(_) => self.missing_tokens.iter().any(|m| m == t),
        }
    }

    /// A finite number, `None` when missing; text that is not a number is an error naming the cell.
    pub fn number(&self, b: &dyn RowBatch, row: usize, col: usize, name: &str) -> Result<Option<f64>> {
        let v = match b.cell(row, col) {
            Cell::Null => return Ok(None),
            Cell::Int(i) => i as f64,
            Cell::Float(f) => f,
            Cell::Text(s) => match s.trim() {
                t if self.is_missing_trimmed(t) => return Ok(None),
                t => t.parse::<f64>().map_err(|_| bad_cell(b, row, name, format!("expected a number, found {s:?}")))?,
            },
        };
        if v.is_nan() {
            return Ok(None);
        }
        if !v.is_finite() {
            return Err(bad_cell(b, row, name, format!("value {v} is not finite")));
        }
        Ok(Some(v))
    }

    /// A categorical key, `None` when missing. Integral floats read as integers.
    pub fn key<'a>(&self, b: &'a dyn RowBatch, row: usize, col: usize, name: &str) -> Result<Option<Key<'a>>> {
        Ok(match b.cell(row, col) {
            Cell::Null => None,
            Cell::Int(i) => Some(Key::Int(i)),
            Cell::Float(f) if f.is_nan() => None,
            Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(Key::Int(f as i64)),
            Cell::Float(f) => {
                return Err(bad_cell(b, row, name, format!("categorical value {f} is not an integer or text")));
            }
            Cell::Text(s) => Some(s.trim()).filter(|t| !self.is_missing_trimmed(t)).map(Key::Str),
        })
    }

    /// Calls `f` on each non-empty token of a multi-hot cell; returns the token count (0 = missing).
    pub fn tokens<'a>(
        &self,
        b: &'a dyn RowBatch,
        row: usize,
        col: usize,
        separator: &str,
        mut f: impl FnMut(Key<'a>),
    ) -> usize {
        match b.cell(row, col) {
            Cell::Null => 0,
            Cell::Int(i) => {
                f(Key::Int(i));
                1
            }
            Cell::Float(x) if x.is_nan() => 0,
            Cell::Float(x) => {
                f(Key::Int(x as i64));
                1
            }
            Cell::Text(s) if self.is_missing_text(s) => 0,
            Cell::Text(s) => {
                let mut n = 0;
                for t in s.split(separator).map(str::trim).filter(|t| !self.is_missing_trimmed(t)) {
                    f(Key::Str(t));
                    n += 1;
                }
                n
            }
        }
    }
}

pub fn bad_cell(b: &dyn RowBatch, row: usize, column: &str, message: String) -> DataError {
    DataError::BadRow { location: b.location(row, Some(column)), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tokens_match_whole_trimmed_cells_only() {
        let r = CellReader::new(&["NA".into(), "?".into(), "".into(), "null".into()]);
        let missing: Vec<bool> = ["", "  ", "NA", " ? ", "null", "?x", "NAN", "nul", "25", "N", "x?"]
            .iter()
            .map(|c| r.is_missing_text(c))
            .collect();
        assert_eq!(missing, [true, true, true, true, true, false, false, false, false, false, false]);
    }
}
