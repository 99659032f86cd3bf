//! Building batches from a memory-mapped split: rows, their masks, labels, and the corrupted copies
//! an enhancer asks for ([`NoisePlan`]) stacked under the clean rows.

use rand::Rng;
use rand::seq::index::sample;
use recdiff_data::{Row, SplitFile};
use recdiff_dist::{Collective, DistError};
use recdiff_model::diffusion::feature_dropout::feature_dropout;
use recdiff_model::{MaskMatrix, NoisePlan};

/// The rows `h` sees: `rows` with `masks` (clean rows, then each corrupted copy).
pub struct Batch<'a> {
    pub rows: Vec<Row<'a>>,
    pub masks: MaskMatrix,
    pub labels: Vec<f32>,
    /// The clean rows' masks as `[B, fields]` 0/1 values.
    pub clean_mask: Vec<f32>,
    /// Each corrupted copy's mask as `[B, fields]` 0/1 values.
    pub copy_masks: Vec<Vec<f32>>,
    /// Samples in the batch (`rows.len()` is `samples * (1 + copies)`).
    pub samples: usize,
    /// Where these samples start in their global batch (0 outside data-parallel training).
    pub offset: usize,
    /// Samples in the global batch this one is a shard of (`samples` outside data-parallel
    /// training): the engine draws latent noise for all of them and keeps its shard's.
    pub global_samples: usize,
}

pub use recdiff_experiment::data_parallel::shard_range;

impl<'a> Batch<'a> {
    /// Samples `range` of this batch, with the same samples of every corrupted copy: what one
    /// rank of a data-parallel step trains on. The masks are the global batch's (drawn once, by
    /// every rank alike), so the shards together are the batch.
    pub fn shard(&self, range: std::ops::Range<usize>) -> Batch<'a> {
        let (s, fields) = (self.samples, self.masks.fields());
        let blocks = self.rows.len() / s.max(1);
        let mut rows = Vec::with_capacity(blocks * range.len());
        let mut masks = MaskMatrix::new(0, fields);
        for b in 0..blocks {
            let block = b * s + range.start..b * s + range.end;
            rows.extend_from_slice(&self.rows[block.clone()]);
            let mut m = MaskMatrix::new(range.len(), fields);
            for (i, r) in block.enumerate() {
                (0..fields).filter(|&f| self.masks.get(r, f)).for_each(|f| m.set(i, f));
            }
            masks.extend(&m);
        }
        let cut = |v: &[f32]| v[range.start * fields..range.end * fields].to_vec();
        Batch {
            rows,
            masks,
            labels: self.labels[range.clone()].to_vec(),
            clean_mask: cut(&self.clean_mask),
            copy_masks: self.copy_masks.iter().map(|m| cut(m)).collect(),
            samples: range.len(),
            offset: self.offset + range.start,
            global_samples: self.global_samples,
        }
    }
}

/// Drops each present field with probability `p`.
fn bernoulli_drop(clean: &MaskMatrix, p: f64, rng: &mut impl Rng) -> MaskMatrix {
    let mut m = clean.clone();
    for r in 0..m.rows() {
        for f in 0..m.fields() {
            if !clean.get(r, f) && rng.random::<f64>() < p {
                m.set(r, f);
            }
        }
    }
    m
}

/// Complementary views: view 1 hides one random group's fields, view 2 hides all the others.
fn group_views(clean: &MaskMatrix, groups: &[usize], rng: &mut impl Rng) -> (MaskMatrix, MaskMatrix) {
    let n_groups = groups.iter().copied().max().map_or(1, |g| g + 1);
    let (mut a, mut b) = (clean.clone(), clean.clone());
    for r in 0..clean.rows() {
        let hidden = rng.random_range(0..n_groups);
        for (f, &g) in groups.iter().enumerate() {
            if g == hidden { a.set(r, f) } else { b.set(r, f) }
        }
    }
    (a, b)
}

/// The corrupted copies of `clean` that `plan` asks for. `groups[f]` is field f's group index.
pub fn corrupt(clean: &MaskMatrix, plan: NoisePlan, groups: &[usize], rng: &mut impl Rng) -> Vec<MaskMatrix> {
    match plan {
        NoisePlan::None => vec![],
        NoisePlan::UniformDrop { max_fraction } => vec![feature_dropout(clean, max_fraction, rng).0],
        NoisePlan::BernoulliDrop { p } => vec![bernoulli_drop(clean, p, rng)],
        NoisePlan::TwoViews { correlated: true, .. } => {
            let (a, b) = group_views(clean, groups, rng);
            vec![a, b]
        }
        NoisePlan::TwoViews { p, .. } => vec![bernoulli_drop(clean, p, rng), bernoulli_drop(clean, p, rng)],
    }
}

/// Rows `indices` of `split` with the copies `plan` asks for stacked under them.
pub fn build<'a>(
    split: &'a SplitFile,
    indices: &[u32],
    fields: usize,
    plan: NoisePlan,
    groups: &[usize],
    rng: &mut impl Rng,
) -> Batch<'a> {
    let clean_rows: Vec<Row<'a>> = indices.iter().map(|&i| split.row(i as usize)).collect();
    let labels = clean_rows.iter().map(|r| r.label()).collect();
    let clean = MaskMatrix::from_rows(&clean_rows, fields);
    let copies = corrupt(&clean, plan, groups, rng);
    assemble(clean_rows, labels, &clean, &copies)
}

/// A batch of `clean_rows` (with their `clean` masks) and the corrupted `copies` stacked under.
fn assemble<'a>(clean_rows: Vec<Row<'a>>, labels: Vec<f32>, clean: &MaskMatrix, copies: &[MaskMatrix]) -> Batch<'a> {
    let mut rows = clean_rows.clone();
    let mut masks = clean.clone();
    for c in copies {
        rows.extend_from_slice(&clean_rows);
        masks.extend(c);
    }
    let samples = clean_rows.len();
    Batch {
        samples,
        rows,
        masks,
        labels,
        clean_mask: clean.to_f32(),
        copy_masks: copies.iter().map(MaskMatrix::to_f32).collect(),
        offset: 0,
        global_samples: samples,
    }
}

/// Rank `c.rank()`'s shard of the global batch `indices`, reading only the shard's rows
/// ([`shard_range`]): the ranks all-gather their rows' missing masks (one bit per field), so each
/// rank corrupts the whole global batch as one process would, drawing the same numbers from
/// `rng`, and keeps its shard's copies. The result equals [`build`] of `indices` then
/// [`Batch::shard`].
#[allow(clippy::too_many_arguments)]
pub fn build_shard<'a>(
    split: &'a SplitFile,
    indices: &[u32],
    fields: usize,
    plan: NoisePlan,
    groups: &[usize],
    rng: &mut impl Rng,
    c: &dyn Collective,
) -> Result<Batch<'a>, DistError> {
    let range = shard_range(indices.len(), c.rank(), c.size());
    let clean_rows: Vec<Row<'a>> = indices[range.clone()].iter().map(|&i| split.row(i as usize)).collect();
    let labels = clean_rows.iter().map(|r| r.label()).collect();
    let clean = MaskMatrix::from_rows(&clean_rows, fields);
    let all = c.all_gather(&clean.words().iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>())?;
    let mut global = MaskMatrix::new(0, fields);
    for (rank, bytes) in all.iter().enumerate() {
        let words = bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).collect();
        let theirs = MaskMatrix::from_words(fields, words)
            .filter(|m| bytes.len() % 8 == 0 && m.rows() == shard_range(indices.len(), rank, c.size()).len())
            .ok_or_else(|| DistError::Peer { rank, message: "sent a malformed batch mask".into() })?;
        global.extend(&theirs);
    }
    let copies: Vec<MaskMatrix> = corrupt(&global, plan, groups, rng).iter().map(|m| m.slice(range.clone())).collect();
    let mut b = assemble(clean_rows, labels, &clean, &copies);
    b.offset = range.start;
    b.global_samples = indices.len();
    Ok(b)
}

/// What evaluation hides on top of each sample's own missing fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// This share of each sample's present fields (on average; the count is stochastically
    /// rounded), chosen at random (0 = nothing).
    Random(f64),
    /// These fields in every sample (e.g. every user-profile field: cold start).
    Fields(Vec<usize>),
}

impl Probe {
    pub const NONE: Probe = Probe::Random(0.0);
}

/// Rows `indices` of `split` with their own masks plus what `probe` hides (robustness evaluation).
pub fn build_eval<'a>(
    split: &'a SplitFile,
    indices: &[u32],
    fields: usize,
    probe: &Probe,
    rng: &mut impl Rng,
) -> Batch<'a> {
    let rows: Vec<Row<'a>> = indices.iter().map(|&i| split.row(i as usize)).collect();
    let labels = rows.iter().map(|r| r.label()).collect();
    let mut masks = MaskMatrix::from_rows(&rows, fields);
    for r in 0..rows.len() {
        match probe {
            Probe::Random(share) if *share > 0.0 => {
                let present: Vec<usize> = (0..fields).filter(|&f| !masks.get(r, f)).collect();
                // Stochastic rounding: `share * present` fields on average, so nearby shares differ
                // even when a sample has few fields (8 fields: 20% and 30% would both round to 2).
                let exact = present.len() as f64 * share;
                let n = exact.floor() as usize + (rng.random::<f64>() < exact.fract()) as usize;
                for i in sample(rng, present.len(), n.min(present.len())) {
                    masks.set(r, present[i]);
                }
            }
            Probe::Fields(hidden) => hidden.iter().for_each(|&f| masks.set(r, f)),
            Probe::Random(_) => {}
        }
    }
    let samples = rows.len();
    Batch {
        clean_mask: masks.to_f32(),
        rows,
        masks,
        labels,
        copy_masks: vec![],
        samples,
        offset: 0,
        global_samples: samples,
    }
}
