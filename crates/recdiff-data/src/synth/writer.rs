//! Streams generated rows to Parquet (typed columns, nulls for missing) or CSV (empty cells).

use super::SynthConfig;
use super::click::{ClickModel, RowBuf};
use super::plan::{SynthField, SynthKind, SynthValue};
use crate::error::{DataError, Result};
use arrow_array::builder::{ArrayBuilder, Float64Builder, Int8Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    #[default]
    Parquet,
    Csv,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
        }
    }
}

pub struct WriteSummary {
    pub positives: u64,
    pub oracle_auc: f64,
    pub as_logged_oracle_auc: f64,
}

const CHUNK: u64 = 65_536;
const ORACLE_ROWS: usize = 200_000;

/// Sink for one chunk of generated rows.
trait ChunkSink {
    fn push(&mut self, label: u8, ts: i64, row: &[SynthValue]) -> Result<()>;
    fn flush_chunk(&mut self) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
}

pub fn write_rows(
    config: &SynthConfig,
    fields: &[SynthField],
    model: &ClickModel,
    path: &Path,
) -> Result<WriteSummary> {
    let tmp = path.with_extension("tmp");
    let mut sink: Box<dyn ChunkSink> = match config.format {
        OutputFormat::Parquet => Box::new(ParquetSink::new(&tmp, fields)?),
        OutputFormat::Csv => Box::new(CsvSink::new(&tmp, fields)?),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // The as-logged oracle's draws have their own stream, so computing it never changes the data.
    let mut oracle_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x0_2AC1E);
    let mut buf = RowBuf::new(fields.len());
    let (mut positives, mut probs, mut logged, mut labels) = (0u64, Vec::new(), Vec::new(), Vec::new());
    for index in 0..config.rows {
        let (label, p, ts) = model.row(&mut rng, index, &mut buf);
        positives += label as u64;
        if probs.len() < ORACLE_ROWS {
            probs.push(p);
            logged.push(model.as_logged_probability(&buf.draw, &buf.hidden, &mut oracle_rng));
            labels.push(label as f64);
        }
        sink.push(label, ts, &buf.cells)?;
        if (index + 1) % CHUNK == 0 {
            sink.flush_chunk()?;
        }
    }
    sink.flush_chunk()?;
    sink.finish()?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))?;
    let oracle_auc = recdiff_metrics::auc(&probs, &labels).unwrap_or(f64::NAN);
    let as_logged_oracle_auc = recdiff_metrics::auc(&logged, &labels).unwrap_or(f64::NAN);
    Ok(WriteSummary { positives, oracle_auc, as_logged_oracle_auc })
}

fn join_tokens(t: &[u32]) -> String {
    t.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("|")
}

enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

struct ParquetSink {
    writer: ArrowWriter<std::fs::File>,
    schema: Arc<ArrowSchema>,
    label: Int8Builder,
    ts: Int64Builder,
    columns: Vec<ColumnBuilder>,
    path: std::path::PathBuf,
}

impl ParquetSink {
    fn new(path: &Path, fields: &[SynthField]) -> Result<Self> {
        let mut arrow_fields =
            vec![Field::new("click", DataType::Int8, false), Field::new("ts", DataType::Int64, false)];
        let mut columns = Vec::new();
        for f in fields {
            let (dt, b) = match f.kind {
                SynthKind::Categorical { .. } => (DataType::Int64, ColumnBuilder::Int(Int64Builder::new())),
                SynthKind::Numeric => (DataType::Float64, ColumnBuilder::Float(Float64Builder::new())),
                SynthKind::MultiHot { .. } => (DataType::Utf8, ColumnBuilder::Text(StringBuilder::new())),
            };
            arrow_fields.push(Field::new(&f.name, dt, true));
            columns.push(b);
        }
        let schema = Arc::new(ArrowSchema::new(arrow_fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(262_144))
            .build();
        let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| perr(path, e))?;
        Ok(Self { writer, schema, label: Int8Builder::new(), ts: Int64Builder::new(), columns, path: path.into() })
    }
}

fn perr(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Parquet { path: path.into(), message: e.to_string() }
}

impl ChunkSink for ParquetSink {
    fn push(&mut self, label: u8, ts: i64, row: &[SynthValue]) -> Result<()> {
        self.label.append_value(label as i8);
        self.ts.append_value(ts);
        for (b, v) in self.columns.iter_mut().zip(row) {
            match (b, v) {
                (ColumnBuilder::Int(b), SynthValue::Int(x)) => b.append_value(*x),
                (ColumnBuilder::Float(b), SynthValue::Int(x)) => b.append_value(*x as f64),
                (ColumnBuilder::Float(b), SynthValue::Float(x)) => b.append_value(*x),
                (ColumnBuilder::Text(b), SynthValue::Tokens(t)) => b.append_value(join_tokens(t)),
                (ColumnBuilder::Int(b), _) => b.append_null(),
                (ColumnBuilder::Float(b), _) => b.append_null(),
                (ColumnBuilder::Text(b), _) => b.append_null(),
            }
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<()> {
        if self.label.len() == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.label.finish()), Arc::new(self.ts.finish())];
        for b in &mut self.columns {
            arrays.push(match b {
                ColumnBuilder::Int(b) => Arc::new(b.finish()),
                ColumnBuilder::Float(b) => Arc::new(b.finish()),
                ColumnBuilder::Text(b) => Arc::new(b.finish()),
            });
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| perr(&self.path, e))?;
        self.writer.write(&batch).map_err(|e| perr(&self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let path = self.path.clone();
        self.writer.close().map_err(|e| perr(&path, e))?;
        Ok(())
    }
}

struct CsvSink {
    writer: csv::Writer<std::fs::File>,
    path: std::path::PathBuf,
    cells: Vec<String>,
}

impl CsvSink {
    fn new(path: &Path, fields: &[SynthField]) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
        let mut writer = csv::Writer::from_writer(file);
        let mut header = vec!["click".to_string(), "ts".to_string()];
        header.extend(fields.iter().map(|f| f.name.clone()));
        writer.write_record(&header).map_err(|e| cerr(path, e))?;
        Ok(Self { writer, path: path.into(), cells: Vec::new() })
    }
}

fn cerr(path: &Path, e: csv::Error) -> DataError {
    DataError::BadFile { path: path.into(), message: e.to_string() }
}

impl ChunkSink for CsvSink {
    fn push(&mut self, label: u8, ts: i64, row: &[SynthValue]) -> Result<()> {
        self.cells.clear();
        self.cells.push(label.to_string());
        self.cells.push(ts.to_string());
        self.cells.extend(row.iter().map(|v| match v {
            SynthValue::Missing => String::new(),
            SynthValue::Int(x) => x.to_string(),
            SynthValue::Float(x) => x.to_string(),
            SynthValue::Tokens(t) => join_tokens(t),
        }));
        self.writer.write_record(&self.cells).map_err(|e| cerr(&self.path, e))
    }

    fn flush_chunk(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.writer.flush().map_err(|e| DataError::io(&self.path, e))
    }
}
