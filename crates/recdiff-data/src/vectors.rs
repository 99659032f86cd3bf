//! Fixed item vectors from a text file: one item per line, its key as the data writes it, then its
//! `dim` numbers, comma-separated, no header (`1,0.12,-0.5,...`). Pretrained embeddings (of item
//! titles, say) come in this form; a sequential model can take them as a frozen item table.
//!
//! Keys the catalogue does not hold are skipped (a file may cover a larger catalogue); a catalogue
//! item without a line, a line of the wrong width, a repeated key, or a number that does not parse
//! or is not finite is an error naming the line and column.

use crate::error::{DataError, Location};
use std::collections::HashMap;
use std::path::Path;

/// The vectors of `items` (`items[0]` the padding slot, left at zeros), row-major
/// `[items.len(), dim]`.
pub fn read_item_vectors(path: &Path, items: &[String], dim: usize) -> Result<Vec<f32>, DataError> {
    let index: HashMap<&str, usize> = items.iter().enumerate().skip(1).map(|(i, k)| (k.as_str(), i)).collect();
    let mut out = vec![0f32; items.len() * dim];
    let mut seen: Vec<Option<u64>> = vec![None; items.len()];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| bad_file(path, e))?;
    let mut lines = 0u64;
    for record in reader.records() {
        let record = record.map_err(|e| bad_file(path, e))?;
        let line = record.position().map_or(lines + 1, |p| p.line());
        lines += 1;
        let at = |column: Option<String>| Location { file: path.to_path_buf(), line, column, is_text_line: true };
        if record.len() != dim + 1 {
            let message = format!("expected the item key and {dim} numbers, found {} fields", record.len());
            return Err(DataError::BadRow { location: at(None), message });
        }
        let Some(&row) = index.get(&record[0]) else { continue };
        if let Some(first) = seen[row].replace(line) {
            let message = format!("item {:?} appears again (first on line {first})", &record[0]);
            return Err(DataError::BadRow { location: at(None), message });
        }
        for (j, cell) in record.iter().skip(1).enumerate() {
            let value = cell.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| DataError::BadRow {
                location: at(Some(format!("{}", j + 2))),
                message: format!("{cell:?} is not a finite number"),
            })?;
            out[row * dim + j] = value;
        }
    }
    if lines == 0 {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let missing: Vec<&str> = (1..items.len()).filter(|&i| seen[i].is_none()).map(|i| items[i].as_str()).collect();
    if let Some(first) = missing.first() {
        return Err(DataError::BadFile {
            path: path.to_path_buf(),
            message: format!("no vector for item {first:?} ({} of the catalogue's items have none)", missing.len()),
        });
    }
    Ok(out)
}

fn bad_file(path: &Path, e: csv::Error) -> DataError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => DataError::io(path, source),
        other => DataError::BadFile { path: path.to_path_buf(), message: format!("{other:?}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, items: &[&str], dim: usize) -> Result<Vec<f32>, DataError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.csv");
        std::fs::write(&path, text).unwrap();
        let items: Vec<String> = std::iter::once("").chain(items.iter().copied()).map(String::from).collect();
        read_item_vectors(&path, &items, dim)
    }

    #[test]
    fn rows_follow_the_catalogue_order_and_padding_stays_zero() {
        let v = read("b,3,4\nzz,9,9\na,1.5,-2\n", &["a", "b"], 2).unwrap();
        assert_eq!(v, vec![0.0, 0.0, 1.5, -2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_missing_item_is_named() {
        let e = read("a,1,2\n", &["a", "b", "c"], 2).unwrap_err().to_string();
        assert!(e.contains("no vector for item \"b\" (2 of"), "{e}");
    }

    #[test]
    fn a_wrong_width_names_the_line() {
        let e = read("a,1,2\nb,1\n", &["a", "b"], 2).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("found 2 fields"), "{e}");
    }

    #[test]
    fn a_non_finite_number_names_line_and_column() {
        let e = read("a,1,2\nb,3,NaN\n", &["a", "b"], 2).unwrap_err().to_string();
        assert!(e.contains("line 2, column '3'") && e.contains("\"NaN\""), "{e}");
        let e = read("a,1,x\n", &["a"], 2).unwrap_err().to_string();
        assert!(e.contains("line 1, column '3'"), "{e}");
    }

    #[test]
    fn a_repeated_key_is_an_error() {
        let e = read("a,1,2\na,3,4\n", &["a"], 2).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("first on line 1"), "{e}");
    }

    #[test]
    fn an_empty_file_is_an_error() {
        assert!(matches!(read("", &["a"], 2), Err(DataError::Empty { .. })));
    }
}
