//! Building batches from a memory-mapped split: rows, their masks, labels, and for AsymDiffRec the
//! feature-dropped copy stacked under the clean rows.

use rand::Rng;
use recdiff_data::{Row, SplitFile};
use recdiff_model::MaskMatrix;
use recdiff_model::diffusion::feature_dropout::feature_dropout;

/// The rows `h` sees: `rows` with `masks` (clean rows, then their noisy copies when present).
pub struct Batch<'a> {
    pub rows: Vec<Row<'a>>,
    pub masks: MaskMatrix,
    pub labels: Vec<f32>,
    /// The noisy copy's mask `s` as `[B, fields]` 0/1 values (AsymDiffRec only).
    pub noisy_mask: Option<Vec<f32>>,
    /// Samples in the batch (`rows.len()` is twice this with a noisy copy).
    pub samples: usize,
}

/// Rows `indices` of `split`; with `drop = Some(fraction)` stacks a feature-dropped copy.
pub fn build<'a>(
    split: &'a SplitFile,
    indices: &[u32],
    fields: usize,
    drop: Option<f64>,
    rng: &mut impl Rng,
) -> Batch<'a> {
    let mut rows: Vec<Row<'a>> = indices.iter().map(|&i| split.row(i as usize)).collect();
    let labels = rows.iter().map(|r| r.label()).collect();
    let mut masks = MaskMatrix::from_rows(&rows, fields);
    let samples = rows.len();
    let noisy_mask = drop.map(|fraction| {
        let (noisy, _) = feature_dropout(&masks, fraction, rng);
        rows.extend_from_within(..);
        masks.extend(&noisy);
        noisy.to_f32()
    });
    Batch { rows, masks, labels, noisy_mask, samples }
}

/// Rows `indices` of `split` with their own masks plus, optionally, a share of present fields
/// removed at random (robustness evaluation).
pub fn build_eval<'a>(
    split: &'a SplitFile,
    indices: &[u32],
    fields: usize,
    remove: f64,
    rng: &mut impl Rng,
) -> Batch<'a> {
    let rows: Vec<Row<'a>> = indices.iter().map(|&i| split.row(i as usize)).collect();
    let labels = rows.iter().map(|r| r.label()).collect();
    let mut masks = MaskMatrix::from_rows(&rows, fields);
    if remove > 0.0 {
        for r in 0..rows.len() {
            let present: Vec<usize> = (0..fields).filter(|&f| !masks.get(r, f)).collect();
            let n = (present.len() as f64 * remove).round() as usize;
            for i in rand::seq::index::sample(rng, present.len(), n.min(present.len())) {
                masks.set(r, present[i]);
            }
        }
    }
    let samples = rows.len();
    Batch { rows, masks, labels, noisy_mask: None, samples }
}
