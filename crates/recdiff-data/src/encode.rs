//! Encoding a schema's source into train/valid/test split files in recdiff's format.
//!
//! Three streaming passes keep memory flat in the number of rows (one byte of split assignment
//! per row, plus user keys and timestamps when the split needs them):
//! 1. validate every row, index users, read timestamps; assign splits;
//! 2. fit vocabularies and numeric statistics on the training rows only;
//! 3. encode every row into its split file (temporary name, renamed when complete).

use crate::KeyMap;
use crate::codec::{Codec, FieldCodec, Fitter};
use crate::error::{DataError, Result};
use crate::format::{EMPTY, NO_USER, RowBuilder, RowLayout, SplitWriter};
use crate::rows::{BadRows, RowParser};
use crate::schema::{BadRowPolicy, FieldKind, Schema};
use crate::source::RowBatch;
use crate::split::{NAMES, SplitSpec, TRAIN};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::Path;

pub const META_FILE: &str = "meta.json";
const SKIPPED: u8 = u8::MAX;

/// One field's place in the row and its frozen codec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMeta {
    pub name: String,
    pub kind: FieldKind,
    pub group: Option<String>,
    /// First id slot and number of slots (1, or `max_len` for multi-hot).
    pub id_offset: usize,
    pub width: usize,
    /// Multi-hot token separator.
    pub separator: Option<String>,
    /// Embedding table; fields with the same table share rows and codec.
    pub table: String,
    pub codec: Codec,
}

impl FieldMeta {
    /// Rows of this field's embedding table.
    pub fn cardinality(&self) -> u32 {
        self.codec.cardinality()
    }
}

/// Everything needed to read the split files and to encode new rows the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedMeta {
    pub schema: Schema,
    pub split: SplitSpec,
    pub layout: RowLayout,
    pub fields: Vec<FieldMeta>,
    /// Rows in train, valid, test.
    pub rows: [u64; 3],
    pub positives: [u64; 3],
    pub users: u64,
    pub skipped_rows: u64,
    /// The first few skipped rows' reasons.
    pub skipped_examples: Vec<String>,
    pub truncated_tokens: u64,
}

impl EncodedMeta {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        Self::parse(&text, &path)
    }

    /// Reads the JSON of a `meta.json` (`path` names it in errors) and checks every codec.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let meta: Self =
            serde_json::from_str(text).map_err(|e| DataError::Encoded { path: path.into(), message: e.to_string() })?;
        for f in &meta.fields {
            f.codec
                .check()
                .map_err(|m| DataError::Encoded { path: path.into(), message: format!("field '{}': {m}", f.name) })?;
        }
        Ok(meta)
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(META_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| DataError::Invalid(e.to_string()))?;
        crate::write_atomic(&path, text.as_bytes())
    }

    pub fn split_path(dir: &Path, split: u8) -> std::path::PathBuf {
        dir.join(format!("{}.bin", NAMES[split as usize]))
    }
}

/// Turns parsed rows into encoded rows with frozen codecs.
pub struct RowEncoder {
    pub parser: RowParser,
    pub fields: Vec<FieldMeta>,
    codecs: Vec<FieldCodec>,
    pub layout: RowLayout,
    users: KeyMap<u32>,
}

impl RowEncoder {
    pub fn new(schema: &Schema, fields: Vec<FieldMeta>, users: KeyMap<u32>) -> Self {
        Self::with_parser(RowParser::new(schema), fields, users)
    }

    /// An encoder of feature columns only, for scoring rows without labels or keys.
    pub fn for_prediction(meta: &EncodedMeta) -> Self {
        Self::with_parser(RowParser::features_only(&meta.schema), meta.fields.clone(), KeyMap::default())
    }

    fn with_parser(parser: RowParser, fields: Vec<FieldMeta>, users: KeyMap<u32>) -> Self {
        let id_slots = fields.iter().map(|f| f.width).sum();
        let layout = RowLayout { fields: fields.len(), id_slots };
        let codecs = fields.iter().map(|f| FieldCodec::new(f.codec.clone())).collect();
        Self { parser, fields, codecs, layout, users }
    }

    /// Encodes row `row` of `b`; returns the number of multi-hot tokens dropped past `max_len`.
    pub fn encode(&self, b: &dyn RowBatch, row: usize, out: &mut RowBuilder) -> Result<u64> {
        out.clear();
        out.set_label(self.parser.label(b, row)?);
        let user = match self.parser.user(b, row)? {
            Some(k) => k.with_str(|s| self.users.get(s).copied().unwrap_or(NO_USER)),
            None => NO_USER,
        };
        out.set_user(user);
        out.set_timestamp(self.parser.timestamp(b, row)?.unwrap_or(0));
        let mut truncated = 0;
        for f in 0..self.fields.len() {
            truncated += self.encode_field(b, row, f, out)?;
        }
        Ok(truncated)
    }

    /// Re-encodes only `fields` of row `row` over a row already in `out` (label, keys and the other
    /// fields are kept). A server encodes the user and context fields of a request once and then
    /// only each candidate's fields.
    pub fn encode_fields(&self, b: &dyn RowBatch, row: usize, fields: &[usize], out: &mut RowBuilder) -> Result<u64> {
        let mut truncated = 0;
        for &f in fields {
            let meta = &self.fields[f];
            out.clear_field(f, meta.id_offset, meta.width);
            truncated += self.encode_field(b, row, f, out)?;
        }
        Ok(truncated)
    }

    /// Encodes field `f` into a cleared slot; returns the multi-hot tokens dropped past `max_len`.
    fn encode_field(&self, b: &dyn RowBatch, row: usize, f: usize, out: &mut RowBuilder) -> Result<u64> {
        let (meta, codec) = (&self.fields[f], &self.codecs[f]);
        let (col, name) = self.parser.field_column(f);
        let r = &self.parser.reader;
        let mut truncated = 0;
        let present = match meta.kind {
            FieldKind::Categorical => self.parser.field_key(b, row, f)?.map(|k| codec.id(k)).map(|id| {
                out.set_id(meta.id_offset, id);
                out.set_value(f, 1.0);
            }),
            FieldKind::Numeric => r.number(b, row, col, name)?.map(|v| {
                if codec.codec.is_scalar() {
                    out.set_value(f, codec.codec.scale(v));
                } else {
                    out.set_id(meta.id_offset, codec.codec.bucket(v));
                    out.set_value(f, 1.0);
                }
            }),
            FieldKind::MultiHot => {
                let sep = meta.separator.as_deref().unwrap_or("|");
                let mut kept = 0;
                let n = r.tokens(b, row, col, sep, |k| {
                    if kept < meta.width {
                        out.set_id(meta.id_offset + kept, codec.id(k));
                        kept += 1;
                    }
                });
                for slot in kept..meta.width {
                    out.set_id(meta.id_offset + slot, EMPTY);
                }
                truncated += (n - kept) as u64;
                (kept > 0).then(|| out.set_value(f, kept as f32))
            }
        };
        if present.is_none() {
            out.set_missing(f);
        }
        Ok(truncated)
    }
}

/// What pass 1 learned about the rows.
struct Scan {
    /// Split of each row the reader produced, `SKIPPED` for bad rows.
    assignment: Vec<u8>,
    users: KeyMap<u32>,
}

/// Runs `per_row(batch, row, ordinal)` over every row the reader yields; reader-level bad rows go
/// to `bad` (skipped and counted, or the error returned).
fn for_each_row(
    schema: &Schema,
    parser: &RowParser,
    bad: &RefCell<BadRows>,
    per_row: &mut dyn FnMut(&dyn RowBatch, usize, usize) -> Result<()>,
) -> Result<()> {
    let skip = schema.source.on_bad_row == BadRowPolicy::Skip;
    let mut source = parser.open(schema)?;
    let mut ordinal = 0usize;
    source.for_each_batch(
        &mut |b| {
            for row in 0..b.len() {
                per_row(b, row, ordinal)?;
                ordinal += 1;
            }
            Ok(())
        },
        &mut |e| bad.borrow_mut().handle(skip, e),
    )
}

fn scan(schema: &Schema, parser: &RowParser, split: &SplitSpec, bad: &RefCell<BadRows>) -> Result<Scan> {
    let skip = schema.source.on_bad_row == BadRowPolicy::Skip;
    let (mut valid, mut users_of_rows, mut timestamps) = (Vec::new(), Vec::new(), Vec::new());
    let mut users: KeyMap<u32> = KeyMap::default();
    for_each_row(schema, parser, bad, &mut |b, row, _| {
        if let Err(e) = parser.validate(b, row) {
            bad.borrow_mut().handle(skip, e)?;
            valid.push(false);
            return Ok(());
        }
        valid.push(true);
        if let Some(k) = parser.user(b, row)? {
            let next = users.len() as u32;
            let u = k.with_str(|s| match users.get(s) {
                Some(&u) => u,
                None => *users.entry(s.to_string()).or_insert(next),
            });
            if split.needs_user() {
                users_of_rows.push(u);
            }
        }
        if split.needs_timestamp() {
            timestamps.push(parser.timestamp(b, row)?.unwrap_or(0));
        }
        Ok(())
    })?;
    if split.needs_user() && users.is_empty() {
        return Err(DataError::Invalid("leave-one-out split needs keys.user in the schema".into()));
    }
    if split.needs_timestamp() && schema.keys.timestamp.is_none() {
        return Err(DataError::Invalid("this split needs keys.timestamp in the schema".into()));
    }
    let kept = valid.iter().filter(|v| **v).count();
    let mut kept_split = split.assign(kept, &users_of_rows, &timestamps)?.into_iter();
    let assignment = valid.iter().map(|&v| if v { kept_split.next().unwrap_or(SKIPPED) } else { SKIPPED }).collect();
    Ok(Scan { assignment, users })
}

/// Fits each field's codec on the training rows.
fn fit(schema: &Schema, parser: &RowParser, scan: &Scan, seed: u64) -> Result<Vec<FieldMeta>> {
    // One fitter per table, in order of first use; `table_of[f]` is field f's fitter.
    let mut tables: Vec<&str> = Vec::new();
    let mut fitters: Vec<Fitter> = Vec::new();
    let mut table_of = Vec::with_capacity(schema.fields.len());
    for spec in &schema.fields {
        let t = match tables.iter().position(|t| *t == spec.table()) {
            Some(t) => t,
            None => {
                tables.push(spec.table());
                fitters.push(Fitter::new(spec, seed));
                tables.len() - 1
            }
        };
        table_of.push(t);
    }
    let needs_pass = fitters.iter().any(|f| !matches!(f, Fitter::Fixed(_)));
    if needs_pass {
        // Reader-level bad rows were counted in pass 1; this pass only skips them.
        let bad = RefCell::new(BadRows::default());
        for_each_row(schema, parser, &bad, &mut |b, row, ordinal| {
            if scan.assignment[ordinal] != TRAIN {
                return Ok(());
            }
            for (f, spec) in schema.fields.iter().enumerate() {
                let fitter = &mut fitters[table_of[f]];
                let (col, name) = parser.field_column(f);
                let r = &parser.reader;
                match spec.kind {
                    FieldKind::Numeric => {
                        r.number(b, row, col, name)?.into_iter().for_each(|v| fitter.observe_number(v))
                    }
                    FieldKind::Categorical => {
                        parser.field_key(b, row, f)?.into_iter().for_each(|k| fitter.observe_key(k))
                    }
                    FieldKind::MultiHot => {
                        r.tokens(b, row, col, spec.separator(), |k| fitter.observe_key(k));
                    }
                }
            }
            Ok(())
        })?;
    }
    let codecs: Vec<Codec> = fitters.into_iter().map(Fitter::finish).collect();
    let mut offset = 0;
    let fields = schema
        .fields
        .iter()
        .zip(table_of)
        .map(|(spec, t)| {
            let width = if spec.kind == FieldKind::MultiHot { spec.max_len() } else { 1 };
            let meta = FieldMeta {
                name: spec.name.clone(),
                kind: spec.kind,
                group: spec.group.clone(),
                id_offset: offset,
                width,
                separator: (spec.kind == FieldKind::MultiHot).then(|| spec.separator().to_string()),
                table: spec.table().to_string(),
                codec: codecs[t].clone(),
            };
            offset += width;
            meta
        })
        .collect();
    Ok(fields)
}

/// Encodes `schema`'s source into `out_dir` (created if needed): `meta.json` and one `.bin` file
/// per split. `seed` drives the bucket reservoirs; the split carries its own seed.
pub fn encode(schema: &Schema, split: &SplitSpec, out_dir: &Path, seed: u64) -> Result<EncodedMeta> {
    std::fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let parser = RowParser::new(schema);
    let bad = RefCell::new(BadRows::default());
    let scan = scan(schema, &parser, split, &bad)?;
    let fields = fit(schema, &parser, &scan, seed)?;
    let encoder = RowEncoder::new(schema, fields, scan.users.clone());
    let mut writers = (0..3u8)
        .map(|s| SplitWriter::create(&EncodedMeta::split_path(out_dir, s), encoder.layout))
        .collect::<Result<Vec<_>>>()?;
    let mut row_buf = RowBuilder::new(encoder.layout);
    let (mut positives, mut truncated) = ([0u64; 3], 0u64);
    for_each_row(schema, &parser, &RefCell::new(BadRows::default()), &mut |b, row, ordinal| {
        let split = scan.assignment[ordinal];
        if split == SKIPPED {
            return Ok(());
        }
        truncated += encoder.encode(b, row, &mut row_buf)?;
        positives[split as usize] += (row_buf.words[RowLayout::LABEL] == 1f32.to_bits()) as u64;
        writers[split as usize].push(&row_buf)
    })?;
    let mut rows = [0u64; 3];
    for (s, w) in writers.into_iter().enumerate() {
        rows[s] = w.finish()?;
    }
    let meta = EncodedMeta {
        schema: schema.clone(),
        split: split.clone(),
        layout: encoder.layout,
        fields: encoder.fields,
        rows,
        positives,
        users: scan.users.len() as u64,
        skipped_rows: bad.borrow().count,
        skipped_examples: bad.borrow().examples.clone(),
        truncated_tokens: truncated,
    };
    meta.save(out_dir)?;
    Ok(meta)
}
