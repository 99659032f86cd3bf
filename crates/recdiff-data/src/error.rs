//! Typed errors of the data layer. Every error about input names the place: the file, the line (or
//! row) and the column, so a user can open the file and look.

use std::fmt;
use std::path::PathBuf;

/// Where in an input a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based line for text files; 1-based row for Parquet and in-memory tables.
    pub line: u64,
    /// Column name, when the problem is in one cell.
    pub column: Option<String>,
    /// Whether `line` is a text line (CSV) or a row number (Parquet).
    pub is_text_line: bool,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.is_text_line { "line" } else { "row" };
        write!(f, "{}", self.file.display())?;
        // Lines and rows count from 1: 0 is a position the reader could not tell, not "line 0".
        if self.line > 0 {
            write!(f, ", {unit} {}", self.line)?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column '{c}'")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("schema {path}: {message}")]
    Schema { path: PathBuf, message: String },
    #[error("{location}: {message}")]
    BadRow { location: Location, message: String },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("{path}: the file holds no data rows")]
    Empty { path: PathBuf },
    #[error("{path}: parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("encoded data {path}: {message}")]
    Encoded { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    pub fn schema(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Schema { path: path.into(), message: message.into() }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_without_a_known_line_says_no_line_0() {
        let at = |line| Location { file: "d.csv".into(), line, column: Some("price".into()), is_text_line: true };
        assert_eq!(at(0).to_string(), "d.csv, column 'price'");
        assert_eq!(at(7).to_string(), "d.csv, line 7, column 'price'");
    }
}
