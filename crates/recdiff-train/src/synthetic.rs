//! Synthetic encoded CTR rows for tests and benchmarks: `n` categorical fields whose tables hold
//! `rows` rows each, ids Zipf-like (`rows * u^3`), labels fair coin flips, all from a fixed seed.

use crate::TrainError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::codec::Codec;
use recdiff_data::format::{RowBuilder, RowLayout, SplitWriter};
use recdiff_data::schema::FieldKind;
use recdiff_data::{FieldMeta, SplitFile};

/// `n` hashed categorical fields `f0..f{n-1}` of `rows` buckets each, one table per field.
pub fn fields(n: usize, rows: u32) -> Vec<FieldMeta> {
    (0..n)
        .map(|f| FieldMeta {
            name: format!("f{f}"),
            kind: FieldKind::Categorical,
            group: None,
            id_offset: f,
            width: 1,
            separator: None,
            table: format!("f{f}"),
            codec: Codec::Hash { buckets: rows, seed: f as u64 },
        })
        .collect()
}

/// Writes `n` random rows of `fields` fields to a split file in `dir` and maps it.
pub fn split(dir: &std::path::Path, n: usize, fields: usize, rows: u32) -> Result<SplitFile, TrainError> {
    let layout = RowLayout { fields, id_slots: fields };
    let path = dir.join("bench.bin");
    let mut w = SplitWriter::create(&path, layout)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut row = RowBuilder::new(layout);
    for _ in 0..n {
        row.clear();
        row.set_label(rng.random_bool(0.5) as u8 as f32);
        for f in 0..fields {
            let u: f64 = rng.random();
            row.set_id(f, ((rows as f64 * u * u * u) as u32).min(rows - 1));
            row.set_value(f, 1.0);
        }
        w.push(&row)?;
    }
    w.finish()?;
    Ok(SplitFile::open(&path)?)
}
