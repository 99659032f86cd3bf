//! Row-wise sharded embedding tables in a data-parallel step (`[distributed] tables =
//! "row_wise"`): rank `r` of `N` holds the rows `g % N == r` of every table
//! ([`recdiff_model::Shard`]), as TorchRec's row-wise sharding places them.
//!
//! A step makes two personalised exchanges (all-to-all-v) besides the dense all-reduce:
//! - **lookup** ([`fetch`]): each rank sends every owner the ids of its batch it owns, and the
//!   owner answers with their rows;
//! - **gradient push** ([`push`]): each rank sends every owner its `(row, gradient)` entries for
//!   the owner's rows, weighted by its share of the global batch; the owner sums them in rank
//!   order (as replicated tables do) and applies the sparse optimiser to its rows.
//!
//! A rank therefore holds and updates `1/N` of each table, and the result equals replicated
//! tables up to float reassociation. Wire format, little-endian: lookup requests are per table a
//! `u32` count then the ids; answers are per table the rows' `dim` `f32`s in request order;
//! gradients use `crate::distributed`'s row format.

use crate::distributed::{RowGrads, decode_rows, encode_rows};
use recdiff_dist::{Collective, DistError};
use recdiff_model::{EmbeddingStore, Shard};
use std::collections::BTreeMap;

/// The rows one batch reads, fetched from their owners: per table, ascending ids and their rows.
pub struct Fetched {
    dim: usize,
    ids: Vec<Vec<u32>>,
    values: Vec<Vec<f32>>,
}

impl Fetched {
    /// Row `id` of table `t` (one the batch asked for).
    pub fn row(&self, t: usize, id: usize) -> &[f32] {
        let i = self.ids[t].binary_search(&(id as u32)).unwrap_or_else(|_| unreachable!("row {id} was fetched"));
        &self.values[t][i * self.dim..(i + 1) * self.dim]
    }
}

fn peer(rank: usize, what: &str) -> DistError {
    DistError::Peer { rank, message: format!("sent a malformed {what}") }
}

fn words(b: &[u8]) -> impl Iterator<Item = [u8; 4]> + '_ {
    b.chunks_exact(4).map(|w| [w[0], w[1], w[2], w[3]])
}

/// Fetches `wanted` (per table, ascending distinct global ids) from the ranks that own them.
pub fn fetch(
    c: &dyn Collective,
    store: &EmbeddingStore,
    me: Shard,
    wanted: Vec<Vec<u32>>,
) -> Result<Fetched, DistError> {
    let (n, dim) = (c.size(), store.dim());
    let mut requests = vec![Vec::new(); n];
    for ids in &wanted {
        for (k, req) in requests.iter_mut().enumerate() {
            let mine: Vec<u32> = ids.iter().copied().filter(|&g| g as usize % n == k).collect();
            req.extend((mine.len() as u32).to_le_bytes());
            mine.iter().for_each(|g| req.extend(g.to_le_bytes()));
        }
    }
    let asked = c.all_to_all(&requests)?;
    let mut answers = Vec::with_capacity(n);
    for (rank, req) in asked.iter().enumerate() {
        let mut w = words(req);
        let mut out = Vec::new();
        for table in &store.tables {
            let count = u32::from_le_bytes(w.next().ok_or_else(|| peer(rank, "lookup request"))?);
            for _ in 0..count {
                let g = u32::from_le_bytes(w.next().ok_or_else(|| peer(rank, "lookup request"))?) as usize;
                let l = me.local(g);
                if !me.owns(g) || l >= table.rows {
                    return Err(peer(rank, "lookup request (a row this rank does not hold)"));
                }
                table.weights[l * dim..(l + 1) * dim].iter().for_each(|v| out.extend(v.to_le_bytes()));
            }
        }
        answers.push(out);
    }
    let rows = c.all_to_all(&answers)?;
    let mut cursors: Vec<_> = rows.iter().map(|b| words(b)).collect();
    let mut values = Vec::with_capacity(wanted.len());
    for ids in &wanted {
        let mut v = Vec::with_capacity(ids.len() * dim);
        for &g in ids {
            let owner = g as usize % n;
            for _ in 0..dim {
                v.push(f32::from_le_bytes(cursors[owner].next().ok_or_else(|| peer(owner, "lookup answer"))?));
            }
        }
        values.push(v);
    }
    if let Some(owner) = cursors.iter_mut().position(|w| w.next().is_some()) {
        return Err(peer(owner, "lookup answer (too long)"));
    }
    Ok(Fetched { dim, ids: wanted, values })
}

/// Sends each owner this rank's `(global row, gradient)` entries for its rows, weighted by
/// `share`; returns this rank's rows' gradients summed over ranks in rank order, by local row,
/// ascending: what [`EmbeddingStore::apply_row_gradients`] takes.
pub fn push(
    c: &dyn Collective,
    store: &EmbeddingStore,
    me: Shard,
    mine: &RowGrads,
    share: f32,
) -> Result<RowGrads, DistError> {
    let (n, dim, tables) = (c.size(), store.dim(), store.n_tables());
    let sends: Vec<Vec<u8>> = (0..n)
        .map(|k| {
            let part: RowGrads = mine
                .iter()
                .map(|t| {
                    t.iter()
                        .filter(|(g, _)| g % n == k)
                        .map(|(g, v)| (*g, v.iter().map(|x| x * share).collect()))
                        .collect()
                })
                .collect();
            encode_rows(&part)
        })
        .collect();
    let got = c.all_to_all(&sends)?;
    let mut merged: Vec<BTreeMap<usize, Vec<f32>>> = vec![BTreeMap::new(); tables];
    for (rank, bytes) in got.iter().enumerate() {
        for (t, rows) in decode_rows(bytes, tables, dim, rank)?.into_iter().enumerate() {
            for (g, v) in rows {
                if !me.owns(g) || me.local(g) >= store.tables[t].rows {
                    return Err(peer(rank, "gradient (a row this rank does not hold)"));
                }
                let acc = merged[t].entry(g).or_insert_with(|| vec![0.0; dim]);
                acc.iter_mut().zip(&v).for_each(|(a, x)| *a += x);
            }
        }
    }
    Ok(merged.into_iter().map(|t| t.into_iter().map(|(g, v)| (me.local(g), v)).collect()).collect())
}
