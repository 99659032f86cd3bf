//! Sparse embedding store: one row-major `f32` table per field, outside burn, with row-wise sparse
//! optimisers that touch only the rows a batch used, so a step costs the same at 50k or 10M rows.
//!
//! A batch is a list of encoded rows plus a per-row missing mask ([`MaskMatrix`]); the same encoded
//! row may appear twice with different masks (AsymDiffRec's clean and feature-dropped views).
//! Gathering writes `[rows, fields * dim]`: a categorical field contributes its id's row, a
//! multi-hot field the mean of its tokens' rows, a scaled numeric field its single row times the
//! value, and a missing (or dropped) field zeros. The backward pass reads the gradient of that
//! input and, per field, sums the gradient of duplicate ids before one optimiser update per row.

use crate::mask::MaskMatrix;
pub use crate::shard::Shard;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use recdiff_data::format::EMPTY;
use recdiff_data::{FieldMeta, Row};
use serde::{Deserialize, Serialize};

/// Row-wise sparse optimiser settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SparseOptimizer {
    /// Lazy Adam: moments kept per element, updated only for touched rows; bias correction uses the
    /// global step.
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32 },
    /// Row-wise Adagrad: one accumulator per row (the mean squared gradient of the row).
    Adagrad { lr: f32, eps: f32 },
}

impl Default for SparseOptimizer {
    fn default() -> Self {
        SparseOptimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// How one field reads its slots.
#[derive(Debug, Clone, Copy)]
struct FieldSlots {
    offset: usize,
    width: usize,
    scalar: bool,
    /// Index of the field's (possibly shared) table.
    table: usize,
}

/// The distinct tables of `fields` (the first field naming each) and every field's slots.
fn table_owners(fields: &[FieldMeta]) -> (Vec<&FieldMeta>, Vec<FieldSlots>) {
    let mut owners: Vec<&FieldMeta> = Vec::new();
    let mut slots = Vec::with_capacity(fields.len());
    for m in fields {
        let table = match owners.iter().position(|o| o.table == m.table) {
            Some(t) => t,
            None => {
                owners.push(m);
                owners.len() - 1
            }
        };
        slots.push(FieldSlots { offset: m.id_offset, width: m.width, scalar: m.codec.is_scalar(), table });
    }
    (owners, slots)
}

/// One field's table and optimiser state.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub rows: usize,
    pub weights: Vec<f32>,
    /// Adam first moments (per element) — empty under Adagrad.
    pub m: Vec<f32>,
    /// Adam second moments (per element) or Adagrad accumulators (per row).
    pub v: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct EmbeddingStore {
    pub dim: usize,
    pub tables: Vec<Table>,
    slots: Vec<FieldSlots>,
    pub optimizer: SparseOptimizer,
    /// L2 penalty applied to touched rows.
    pub l2: f32,
    pub step: u64,
}

impl EmbeddingStore {
    /// Tables sized from the encoded fields (one per distinct `FieldMeta::table`), initialised
    /// N(0, `init_std`) from `seed`.
    pub fn new(
        fields: &[FieldMeta],
        dim: usize,
        optimizer: SparseOptimizer,
        l2: f32,
        init_std: f32,
        seed: u64,
    ) -> Self {
        Self::new_shard(fields, dim, optimizer, l2, init_std, seed, Shard::WHOLE)
    }

    /// The rows of [`EmbeddingStore::new`]'s tables that `shard` owns (global row `g` at local
    /// row `shard.local(g)`), with the values the whole tables would hold: each table's stream
    /// is drawn in full and the shard keeps its rows.
    pub fn new_shard(
        fields: &[FieldMeta],
        dim: usize,
        optimizer: SparseOptimizer,
        l2: f32,
        init_std: f32,
        seed: u64,
        shard: Shard,
    ) -> Self {
        let normal = Normal::new(0.0f32, init_std.max(1e-12)).unwrap_or_else(|_| unreachable!());
        let (owners, slots) = table_owners(fields);
        let tables = owners
            .par_iter()
            .enumerate()
            .map(|(t, meta)| {
                let global_rows = meta.cardinality().max(1) as usize;
                let rows = shard.rows_of(global_rows);
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut weights = table_vec(rows * dim);
                if shard == Shard::WHOLE {
                    weights.extend((0..rows * dim).map(|_| normal.sample(&mut rng)));
                } else {
                    for g in 0..global_rows {
                        let row = (0..dim).map(|_| normal.sample(&mut rng));
                        if shard.owns(g) {
                            weights.extend(row);
                        } else {
                            row.for_each(drop);
                        }
                    }
                }
                let zeros = |n: usize| {
                    let mut v = table_vec(n);
                    v.resize(n, 0.0);
                    v
                };
                let (m, v) = match optimizer {
                    SparseOptimizer::Adam { .. } => (zeros(rows * dim), zeros(rows * dim)),
                    SparseOptimizer::Adagrad { .. } => (Vec::new(), zeros(rows)),
                };
                Table { name: meta.table.clone(), rows, weights, m, v }
            })
            .collect();
        Self { dim, tables, slots, optimizer, l2, step: 0 }
    }

    /// A read-only store for serving: tables hold the weights `weight_of(table name, rows)` returns,
    /// no optimiser state is allocated.
    pub fn for_serving<E>(
        fields: &[FieldMeta],
        dim: usize,
        mut weight_of: impl FnMut(&str, usize) -> Result<Vec<f32>, E>,
    ) -> Result<Self, E> {
        let (owners, slots) = table_owners(fields);
        let mut tables = Vec::with_capacity(owners.len());
        for meta in owners {
            let rows = meta.cardinality().max(1) as usize;
            let weights = weight_of(&meta.table, rows)?;
            tables.push(Table { name: meta.table.clone(), rows, weights, m: Vec::new(), v: Vec::new() });
        }
        Ok(Self { dim, tables, slots, optimizer: SparseOptimizer::default(), l2: 0.0, step: 0 })
    }

    pub fn fields(&self) -> usize {
        self.slots.len()
    }

    /// Width of one gathered row: `fields * dim`.
    pub fn width(&self) -> usize {
        self.fields() * self.dim
    }

    /// Writes the pooled embeddings of `rows` (masked per `masks`) into `out` (`rows.len() * width`).
    pub fn gather(&self, rows: &[Row<'_>], masks: &MaskMatrix, out: &mut [f32]) {
        let dim = self.dim;
        self.gather_with(rows, masks, out, |t, id| &self.tables[t].weights[id * dim..(id + 1) * dim]);
    }

    /// [`EmbeddingStore::gather`] with each `(table, row)`'s values from `row_of` (rows fetched
    /// from the ranks that own them, for row-wise sharded tables).
    pub fn gather_with<'s>(
        &self,
        rows: &[Row<'_>],
        masks: &MaskMatrix,
        out: &mut [f32],
        row_of: impl Fn(usize, usize) -> &'s [f32] + Sync,
    ) {
        let (dim, width) = (self.dim, self.width());
        out.par_chunks_mut(width).zip(rows.par_iter()).enumerate().for_each(|(b, (dst, row))| {
            dst.fill(0.0);
            for f in 0..self.fields() {
                if masks.get(b, f) {
                    continue;
                }
                let table = self.slots[f].table;
                let d = &mut dst[f * dim..(f + 1) * dim];
                lookups_of(self.slots[f], f, row, |id, w| {
                    let src = row_of(table, id);
                    d.iter_mut().zip(src).for_each(|(o, s)| *o += w * s);
                });
            }
        });
    }

    /// Applies one optimiser step from `grad`, the gradient of the gathered input, with the
    /// optimiser's learning rate multiplied by `lr_scale` (the schedule's factor).
    pub fn apply_gradients(&mut self, rows: &[Row<'_>], masks: &MaskMatrix, grad: &[f32], lr_scale: f32) {
        self.step += 1;
        let opt = self.scaled_optimizer(lr_scale);
        let (dim, width, step, l2) = (self.dim, self.width(), self.step, self.l2);
        let slots = &self.slots;
        self.tables.par_iter_mut().enumerate().for_each(|(t, table)| {
            for_each_row_gradient(slots, t, dim, width, rows, masks, grad, |id, acc| {
                update_row(table, id, dim, acc, l2, step, opt)
            });
        });
    }

    /// The optimiser with its learning rate multiplied by `lr_scale`.
    fn scaled_optimizer(&self, lr_scale: f32) -> SparseOptimizer {
        match self.optimizer {
            SparseOptimizer::Adam { lr, beta1, beta2, eps } => {
                SparseOptimizer::Adam { lr: lr * lr_scale, beta1, beta2, eps }
            }
            SparseOptimizer::Adagrad { lr, eps } => SparseOptimizer::Adagrad { lr: lr * lr_scale, eps },
        }
    }

    /// Number of tables (fields sharing a table count once).
    pub fn n_tables(&self) -> usize {
        self.tables.len()
    }

    /// Embedding width of one row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One optimiser step from per-table `(row, gradient)` lists (each row once, as
    /// [`EmbeddingStore::row_gradients`] gives them), as [`EmbeddingStore::apply_gradients`] does
    /// from a batch: the data-parallel path, where the touched rows of every rank are merged first.
    pub fn apply_row_gradients(&mut self, per_table: &mut [Vec<(usize, Vec<f32>)>], lr_scale: f32) {
        self.step += 1;
        let opt = self.scaled_optimizer(lr_scale);
        let (dim, step, l2) = (self.dim, self.step, self.l2);
        self.tables.par_iter_mut().zip(per_table.par_iter_mut()).for_each(|(table, rows)| {
            for (id, grad) in rows.iter_mut() {
                update_row(table, *id, dim, grad, l2, step, opt);
            }
        });
    }

    /// The distinct rows of each table that `rows` (masked per `masks`) read, ascending.
    pub fn touched_ids(&self, rows: &[Row<'_>], masks: &MaskMatrix) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.tables.len()];
        for (f, s) in self.slots.iter().enumerate() {
            for (b, row) in rows.iter().enumerate() {
                if !masks.get(b, f) {
                    lookups_of(*s, f, row, |id, _| out[s.table].push(id as u32));
                }
            }
        }
        for ids in &mut out {
            ids.sort_unstable();
            ids.dedup();
        }
        out
    }

    /// The gradient of each touched row of table `t` (all uses summed), without updating.
    pub fn row_gradients(
        &self,
        t: usize,
        rows: &[Row<'_>],
        masks: &MaskMatrix,
        grad: &[f32],
    ) -> Vec<(usize, Vec<f32>)> {
        let mut out = Vec::new();
        for_each_row_gradient(&self.slots, t, self.dim, self.width(), rows, masks, grad, |id, acc| {
            out.push((id, acc.to_vec()))
        });
        out
    }
}

/// Calls `update(id, gradient)` once per row of table `t` that the batch touched, with the
/// gradient of all its uses (every field sharing the table, weighted by pooling) summed.
#[allow(clippy::too_many_arguments)]
fn for_each_row_gradient(
    slots: &[FieldSlots],
    t: usize,
    dim: usize,
    width: usize,
    rows: &[Row<'_>],
    masks: &MaskMatrix,
    grad: &[f32],
    mut update: impl FnMut(usize, &mut [f32]),
) {
    let mut touched: Vec<(u32, u32, u32, f32)> = Vec::with_capacity(rows.len());
    for (f, s) in slots.iter().enumerate().filter(|(_, s)| s.table == t) {
        for (b, row) in rows.iter().enumerate() {
            if !masks.get(b, f) {
                lookups_of(*s, f, row, |id, w| touched.push((id as u32, b as u32, f as u32, w)));
            }
        }
    }
    touched.sort_unstable_by_key(|x| (x.0, x.1, x.2));
    let mut acc = vec![0f32; dim];
    for group in touched.chunk_by(|a, b| a.0 == b.0) {
        acc.fill(0.0);
        for &(_, b, f, w) in group {
            let g = &grad[b as usize * width + f as usize * dim..][..dim];
            acc.iter_mut().zip(g).for_each(|(a, g)| *a += w * g);
        }
        update(group[0].0 as usize, &mut acc);
    }
}

/// An empty vector with room for `len` values. Large tables are backed by transparent huge pages
/// where the kernel offers them on request (`madvise`): a batch touches rows scattered over the
/// whole table, and 2 MiB pages cut the TLB misses that otherwise make a step slower at 1M rows
/// than at 50k.
fn table_vec(len: usize) -> Vec<f32> {
    let v: Vec<f32> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = len * std::mem::size_of::<f32>();
        let start = v.as_ptr() as usize;
        let aligned = start.next_multiple_of(HUGE);
        if bytes >= 4 * HUGE && aligned < start + bytes {
            let span = (start + bytes - aligned) / HUGE * HUGE;
            // SAFETY: the range lies inside this vector's allocation, which is untouched; MADV_HUGEPAGE
            // only changes how the kernel backs it, never its contents or validity.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, span, libc::MADV_HUGEPAGE);
            }
        }
    }
    v
}

/// The (table row, weight) pairs field `f` of `row` reads.
fn lookups_of(s: FieldSlots, f: usize, row: &Row<'_>, mut emit: impl FnMut(usize, f32)) {
    let ids = &row.ids()[s.offset..s.offset + s.width];
    if s.scalar {
        emit(0, row.value(f));
    } else if s.width == 1 {
        emit(ids[0] as usize, 1.0);
    } else {
        let n = ids.iter().take_while(|&&id| id != EMPTY).count();
        for &id in &ids[..n] {
            emit(id as usize, 1.0 / n as f32);
        }
    }
}

fn update_row(table: &mut Table, id: usize, dim: usize, grad: &mut [f32], l2: f32, step: u64, opt: SparseOptimizer) {
    let w = &mut table.weights[id * dim..(id + 1) * dim];
    if l2 > 0.0 {
        grad.iter_mut().zip(w.iter()).for_each(|(g, w)| *g += l2 * w);
    }
    match opt {
        SparseOptimizer::Adam { lr, beta1, beta2, eps } => {
            let t = step.min(i32::MAX as u64) as i32;
            let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            let m = &mut table.m[id * dim..(id + 1) * dim];
            let v = &mut table.v[id * dim..(id + 1) * dim];
            for k in 0..dim {
                m[k] = beta1 * m[k] + (1.0 - beta1) * grad[k];
                v[k] = beta2 * v[k] + (1.0 - beta2) * grad[k] * grad[k];
                w[k] -= lr * (m[k] / bc1) / ((v[k] / bc2).sqrt() + eps);
            }
        }
        SparseOptimizer::Adagrad { lr, eps } => {
            let g2 = grad.iter().map(|g| g * g).sum::<f32>() / dim as f32;
            table.v[id] += g2;
            let scale = lr / (table.v[id].sqrt() + eps);
            w.iter_mut().zip(grad.iter()).for_each(|(w, g)| *w -= scale * g);
        }
    }
}
