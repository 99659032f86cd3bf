//! `recdiff predict`: score a CSV or Parquet file with a trained run. Input rows carry the
//! schema's feature columns (label and keys optional); empty or null cells are missing. A feature
//! column absent from the file is an error naming it, not a column of missing values: a misspelt
//! header must not score silently as "feature unknown". (A request to `recdiff serve` leaves a
//! feature out per row; a file declares its columns once, so there the two differ on purpose.)
//! Missing cells go to the model as such — with AsymDiffRec the score is `f(g([s, h(x)]))` with `s` the
//! row's missing mask. Output: CSV (`line,score`, `line` the input line or Parquet row), written to
//! a temporary file and renamed.

use crate::batch::Batch;
use crate::{TrainError, eval};
use recdiff_data::format::RowBuilder;
use recdiff_data::rows::BadRows;
use recdiff_data::schema::{BadRowPolicy, SourceFormat};
use recdiff_data::{Row, RowEncoder};
use recdiff_model::MaskMatrix;
use std::cell::RefCell;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct PredictSummary {
    pub rows: u64,
    pub skipped: u64,
    pub skipped_examples: Vec<String>,
}

fn input_format(input: &Path) -> Result<SourceFormat, TrainError> {
    match input.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "parquet" => Ok(SourceFormat::Parquet),
        "csv" | "tsv" | "txt" => Ok(SourceFormat::Csv),
        other => Err(TrainError::Other(format!(
            "{}: unknown input type {other:?} (use .csv, .tsv or .parquet)",
            input.display()
        ))),
    }
}

/// Where `path` would be once created: its directory resolved (symlinks, `..`), its name kept.
fn resolved(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(dir.canonicalize().ok()?.join(name))
}

/// The output may neither overwrite the input nor land inside the run (inference is read-only).
fn check_output(run: &Path, input: &Path, output: &Path) -> Result<(), TrainError> {
    let out = resolved(output).ok_or_else(|| TrainError::Other(format!("{}: not a file path", output.display())))?;
    let same_file = input.canonicalize().is_ok_and(|i| i == out || out.canonicalize().is_ok_and(|o| o == i));
    if same_file {
        return Err(TrainError::Other(format!(
            "-o {}: is the input file; write the scores elsewhere",
            output.display()
        )));
    }
    if run.canonicalize().is_ok_and(|r| out.starts_with(r)) {
        return Err(TrainError::Other(format!(
            "-o {}: is inside the run directory, which inference never writes into",
            output.display()
        )));
    }
    Ok(())
}

/// Scores every row of `input` with the best checkpoint of `run`, writing `output`.
pub fn predict(run: &Path, input: &Path, output: &Path) -> Result<PredictSummary, TrainError> {
    check_output(run, input, output)?;
    let session = recdiff_run::CtrRun::open(run)?;
    let mut schema = session.meta.schema.clone();
    let format = input_format(input)?;
    if schema.source.format != SourceFormat::Csv || format != SourceFormat::Csv {
        schema.source.delimiter = None;
        schema.source.header = None;
        schema.source.columns = None;
    }
    if input.extension().is_some_and(|e| e == "tsv") {
        schema.source.delimiter = Some("\\t".into());
    }
    schema.source.format = format;
    schema.source.path = input.to_path_buf();
    let encoder = RowEncoder::for_prediction(&session.meta);
    let model = &session.model;
    let device = session.device.clone();
    let store = &session.store;
    let tmp = output.with_extension("csv.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "line,score").map_err(|e| TrainError::io(&tmp, e))?;
    let skip = schema.source.on_bad_row == BadRowPolicy::Skip;
    let bad = RefCell::new(BadRows::default());
    let mut rows = 0u64;
    let mut builder = RowBuilder::new(encoder.layout);
    let (mut words, mut lines, mut buf) = (Vec::<u32>::new(), Vec::<u64>::new(), Vec::new());
    let mut source = encoder.parser.open(&schema)?;
    let result = source.for_each_batch(
        &mut |b| {
            words.clear();
            lines.clear();
            for r in 0..b.len() {
                match encoder.encode(b, r, &mut builder) {
                    Ok(_) => {
                        words.extend_from_slice(&builder.words);
                        lines.push(b.location(r, None).line);
                    }
                    Err(e) => bad.borrow_mut().handle(skip, e)?,
                }
            }
            let w = encoder.layout.words_per_row();
            let views: Vec<Row<'_>> = words.chunks(w).map(|c| Row { words: c, layout: encoder.layout }).collect();
            let masks = MaskMatrix::from_rows(&views, encoder.layout.fields);
            let n = views.len();
            let batch = Batch {
                labels: vec![0.0; n],
                samples: n,
                rows: views,
                clean_mask: masks.to_f32(),
                masks,
                copy_masks: vec![],
                offset: 0,
                global_samples: n,
            };
            let probs = eval::score_batch(model, store, &batch, &device, &mut buf)
                .map_err(|e| recdiff_data::DataError::Invalid(e.to_string()))?;
            for (line, p) in lines.iter().zip(probs) {
                if !p.is_finite() {
                    // Never a NaN in the output with exit 0: the whole prediction fails, naming the row.
                    return Err(recdiff_data::DataError::Invalid(format!(
                        "{}: line {line}: the model scored it as {p}, not a probability; no scores were written",
                        input.display()
                    )));
                }
                writeln!(out, "{line},{p}").map_err(|e| recdiff_data::DataError::io(&tmp, e))?;
            }
            rows += lines.len() as u64;
            Ok(())
        },
        &mut |e| bad.borrow_mut().handle(skip, e),
    );
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    let file = out.into_inner().map_err(|e| TrainError::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| TrainError::io(&tmp, e))?;
    std::fs::rename(&tmp, output).map_err(|e| TrainError::io(output, e))?;
    let bad = bad.into_inner();
    Ok(PredictSummary { rows, skipped: bad.count, skipped_examples: bad.examples })
}
