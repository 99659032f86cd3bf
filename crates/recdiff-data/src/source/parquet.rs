//! Parquet reader: arrow record batches with only the schema's columns decoded.
//!
//! Strings (Utf8, LargeUtf8, Utf8View, dictionary-encoded strings), integers, floats and booleans
//! are read; nulls are missing cells. Any other column type is an error naming the column.

use super::{Cell, RowBatch, RowSource, project};
use crate::error::{DataError, Location, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

const BATCH_ROWS: usize = 8192;

pub struct ParquetSource {
    files: Vec<PathBuf>,
    wanted: Vec<String>,
}

impl ParquetSource {
    pub fn new(files: Vec<PathBuf>, wanted: &[String]) -> Result<Self> {
        Ok(Self { files, wanted: wanted.to_vec() })
    }
}

fn perr(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Parquet { path: path.into(), message: e.to_string() }
}

/// A column converted to the reader's cell view.
enum Column {
    Utf8(ArrayRef),
    LargeUtf8(ArrayRef),
    Utf8View(ArrayRef),
    DictUtf8(ArrayRef),
    Int(ArrayRef),
    Float(ArrayRef),
}

fn classify(array: &ArrayRef, name: &str, path: &Path) -> Result<Column> {
    use arrow_array::cast::AsArray as _;
    let cast_err = |dt: &DataType| DataError::BadFile {
        path: path.into(),
        message: format!(
            "column '{name}' has type {dt}, which recdiff cannot read (strings, integers, floats, booleans)"
        ),
    };
    let dt = array.data_type();
    let as_i64 = |a: &ArrayRef| -> Result<ArrayRef> { arrow_cast_int(a).ok_or_else(|| cast_err(dt)) };
    Ok(match dt {
        DataType::Utf8 => Column::Utf8(array.clone()),
        DataType::LargeUtf8 => Column::LargeUtf8(array.clone()),
        DataType::Utf8View => Column::Utf8View(array.clone()),
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let _ = array.as_dictionary::<Int32Type>();
            Column::DictUtf8(array.clone())
        }
        DataType::Float32 | DataType::Float64 => Column::Float(array.clone()),
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Column::Int(as_i64(array)?),
        other => return Err(cast_err(other)),
    })
}

/// Widens any integer or boolean array to Int64 (u64 values above i64::MAX do not fit: None).
fn arrow_cast_int(a: &ArrayRef) -> Option<ArrayRef> {
    use arrow_array::Int64Array;
    use std::sync::Arc;
    macro_rules! widen {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            let mut out = Vec::with_capacity(p.len());
            for i in 0..p.len() {
                out.push(if p.is_null(i) { None } else { Some(i64::try_from(p.value(i)).ok()?) });
            }
            Some(Arc::new(Int64Array::from(out)) as ArrayRef)
        }};
    }
    match a.data_type() {
        DataType::Int64 => Some(a.clone()),
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        DataType::Boolean => {
            let b = a.as_boolean();
            let v: Vec<Option<i64>> = (0..b.len()).map(|i| (!b.is_null(i)).then(|| b.value(i) as i64)).collect();
            Some(Arc::new(Int64Array::from(v)) as ArrayRef)
        }
        _ => None,
    }
}

struct ParquetBatch<'a> {
    file: &'a Path,
    first_row: u64,
    columns: Vec<Column>,
    rows: usize,
}

impl RowBatch for ParquetBatch<'_> {
    fn len(&self) -> usize {
        self.rows
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        let (array, cell): (&ArrayRef, fn(&ArrayRef, usize) -> Cell<'_>) = match &self.columns[col] {
            Column::Utf8(a) => (a, |a, r| Cell::Text(a.as_string::<i32>().value(r))),
            Column::LargeUtf8(a) => (a, |a, r| Cell::Text(a.as_string::<i64>().value(r))),
            Column::Utf8View(a) => (a, |a, r| Cell::Text(a.as_string_view().value(r))),
            Column::DictUtf8(a) => (a, |a, r| {
                let d = a.as_dictionary::<Int32Type>();
                let key = d.keys().value(r) as usize;
                Cell::Text(d.values().as_string::<i32>().value(key))
            }),
            Column::Int(a) => (a, |a, r| Cell::Int(a.as_primitive::<Int64Type>().value(r))),
            Column::Float(a) => (a, |a, r| match a.data_type() {
                DataType::Float32 => Cell::Float(a.as_primitive::<Float32Type>().value(r) as f64),
                _ => Cell::Float(a.as_primitive::<Float64Type>().value(r)),
            }),
        };
        if array.is_null(row) { Cell::Null } else { cell(array, row) }
    }

    fn location(&self, row: usize, column: Option<&str>) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.first_row + row as u64 + 1,
            column: column.map(String::from),
            is_text_line: false,
        }
    }
}

impl ParquetSource {
    fn read_file(&self, path: &Path, visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>) -> Result<u64> {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(path, e))?;
        let arrow_schema = builder.schema().clone();
        let names: Vec<String> = arrow_schema.fields().iter().map(|f| f.name().clone()).collect();
        let proj = project(path, &names, &self.wanted)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), proj.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| perr(path, e))?;
        let mut first_row = 0u64;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(|e| perr(path, e))?;
            let columns = self
                .wanted
                .iter()
                .map(|w| {
                    let array = batch
                        .column_by_name(w)
                        .ok_or_else(|| perr(path, format!("column '{w}' missing from a batch")))?;
                    classify(array, w, path)
                })
                .collect::<Result<Vec<_>>>()?;
            let pb = ParquetBatch { file: path, first_row, columns, rows: batch.num_rows() };
            visit(&pb)?;
            first_row += batch.num_rows() as u64;
        }
        Ok(first_row)
    }
}

impl RowSource for ParquetSource {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        _on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()> {
        let mut total = 0;
        for file in &self.files {
            total += self.read_file(file, visit)?;
        }
        if total == 0 {
            return Err(DataError::Empty { path: self.files[0].clone() });
        }
        Ok(())
    }
}
