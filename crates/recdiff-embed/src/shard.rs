//! Row-wise sharding of the embedding tables, as TorchRec's row-wise plan places them: in a world
//! of `N` ranks, rank `r` holds the rows `g` with `g % N == r`, at local row `g / N`. A shard's
//! checkpoint file is `embeddings.rank-<r>-of-<N>.safetensors`; a store of any sharding loads
//! the rows it owns from the files of any other ([`EmbeddingStore::load_resharded`]), so a run
//! resumes on another number of ranks, and a single process (serving, evaluation) assembles the
//! whole tables from the shards.

use crate::io::StoreError;
use crate::store::{EmbeddingStore, SparseOptimizer};
use safetensors::tensor::SafeTensors;

/// Which rows of every table one rank holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub ranks: usize,
}

impl Shard {
    /// Every row: one process, or replicated tables.
    pub const WHOLE: Shard = Shard { rank: 0, ranks: 1 };

    pub fn owns(self, g: usize) -> bool {
        g % self.ranks == self.rank
    }

    /// The local row of global row `g` (owned by `g % ranks`).
    pub fn local(self, g: usize) -> usize {
        g / self.ranks
    }

    /// The global row of local row `l`.
    pub fn global(self, l: usize) -> usize {
        l * self.ranks + self.rank
    }

    /// How many of a table's `total` rows this shard holds.
    pub fn rows_of(self, total: usize) -> usize {
        (total + self.ranks - 1 - self.rank) / self.ranks
    }

    /// The checkpoint file of this shard's tables.
    pub fn file_name(self) -> String {
        if self == Self::WHOLE {
            "embeddings.safetensors".into()
        } else {
            format!("embeddings.rank-{}-of-{}.safetensors", self.rank, self.ranks)
        }
    }

    /// The shard a checkpoint file name holds (`None` for other files).
    pub fn of_file_name(name: &str) -> Option<Shard> {
        if name == "embeddings.safetensors" {
            return Some(Self::WHOLE);
        }
        let rest = name.strip_prefix("embeddings.rank-")?.strip_suffix(".safetensors")?;
        let (rank, ranks) = rest.split_once("-of-")?;
        let (rank, ranks) = (rank.parse().ok()?, ranks.parse().ok()?);
        (rank < ranks).then_some(Shard { rank, ranks })
    }
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn mismatch(m: String) -> StoreError {
    StoreError::Mismatch(m)
}

impl EmbeddingStore {
    /// Loads the rows `mine` owns (this store was built for `mine`) from `parts`, the checkpoint
    /// files of every shard of some world (each `(shard, safetensors bytes)`), with their
    /// optimiser state and step. Refused, naming what, when the parts are not one whole world,
    /// disagree on the step, or hold a table of another size or a non-finite value.
    pub fn load_resharded(&mut self, mine: Shard, parts: &[(Shard, &[u8])]) -> Result<(), StoreError> {
        let ranks = parts.first().map_or(0, |p| p.0.ranks);
        let mut seen: Vec<usize> = parts.iter().filter(|p| p.0.ranks == ranks).map(|p| p.0.rank).collect();
        seen.sort_unstable();
        if seen != (0..ranks).collect::<Vec<_>>() || parts.len() != ranks {
            let got: Vec<String> = parts.iter().map(|p| p.0.file_name()).collect();
            return Err(mismatch(format!("embedding shards {got:?} are not every shard of one world")));
        }
        let tensors = parts
            .iter()
            .map(|(s, b)| Ok((*s, SafeTensors::deserialize(b)?, step_of(b)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Some(step) = tensors.first().map(|t| t.2) {
            if tensors.iter().any(|t| t.2 != step) {
                return Err(mismatch("embedding shards were saved at different steps".into()));
            }
            self.step = step.unwrap_or(0);
        }
        let (dim, per_element_v) = (self.dim, matches!(self.optimizer, SparseOptimizer::Adam { .. }));
        for t in &mut self.tables {
            let weight = format!("{}.weight", t.name);
            let views = tensors
                .iter()
                .map(|(s, st, _)| Ok((*s, st.tensor(&weight)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let total: usize = views.iter().map(|(_, v)| v.shape().first().copied().unwrap_or(0)).sum();
            if mine.rows_of(total) != t.rows || views.iter().any(|(s, v)| v.shape() != [s.rows_of(total), dim]) {
                return Err(mismatch(format!(
                    "table '{}': the shards hold {total} rows of width {dim}, not this model's",
                    t.name
                )));
            }
            for ((s, view), (_, st, _)) in views.iter().zip(&tensors) {
                let w = floats(view.data());
                let m = st.tensor(&format!("{}.m", t.name)).map(|v| floats(v.data())).unwrap_or_default();
                let v = st.tensor(&format!("{}.v", t.name)).map(|v| floats(v.data())).unwrap_or_default();
                if let Some(i) = w.iter().chain(&m).chain(&v).position(|x| !x.is_finite()) {
                    return Err(mismatch(format!("'{}' in {} holds a non-finite value at {i}", t.name, s.file_name())));
                }
                let v_width = if per_element_v { dim } else { 1 };
                for i in 0..s.rows_of(total) {
                    let g = s.global(i);
                    if !mine.owns(g) {
                        continue;
                    }
                    let l = mine.local(g);
                    t.weights[l * dim..(l + 1) * dim].copy_from_slice(&w[i * dim..(i + 1) * dim]);
                    if m.len() == w.len() && t.m.len() == t.weights.len() {
                        t.m[l * dim..(l + 1) * dim].copy_from_slice(&m[i * dim..(i + 1) * dim]);
                    }
                    if v.len() == s.rows_of(total) * v_width && t.v.len() == t.rows * v_width {
                        t.v[l * v_width..(l + 1) * v_width].copy_from_slice(&v[i * v_width..(i + 1) * v_width]);
                    }
                }
            }
        }
        Ok(())
    }
}

fn step_of(bytes: &[u8]) -> Result<Option<u64>, StoreError> {
    let (_, meta) = SafeTensors::read_metadata(bytes)?;
    match meta.metadata().as_ref().and_then(|m| m.get("step")) {
        Some(s) => s.parse().map(Some).map_err(|_| mismatch(format!("bad step {s:?}"))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recdiff_data::FieldMeta;
    use recdiff_data::codec::Codec;
    use recdiff_data::schema::FieldKind;

    fn fields() -> Vec<FieldMeta> {
        let field = |name: &str, offset: usize, buckets: u32| {
            let (kind, table, codec) = (FieldKind::Categorical, name.into(), Codec::Hash { buckets, seed: 0 });
            FieldMeta {
                name: name.into(),
                kind,
                group: None,
                id_offset: offset,
                width: 1,
                separator: None,
                table,
                codec,
            }
        };
        vec![field("a", 0, 11), field("b", 1, 4)]
    }

    fn store(shard: Shard) -> EmbeddingStore {
        EmbeddingStore::new_shard(&fields(), 3, SparseOptimizer::default(), 0.0, 0.5, 9, shard)
    }

    /// A whole store with distinct non-zero optimiser state in every element.
    fn trained() -> EmbeddingStore {
        let mut s = store(Shard::WHOLE);
        for (t, table) in s.tables.iter_mut().enumerate() {
            table.m.iter_mut().enumerate().for_each(|(i, x)| *x = (t * 100 + i) as f32 + 0.5);
            table.v.iter_mut().enumerate().for_each(|(i, x)| *x = (t * 100 + i) as f32 + 0.25);
        }
        s.step = 17;
        s
    }

    #[test]
    fn a_shard_holds_the_rows_of_the_whole_table_it_owns_with_their_initial_values() {
        let whole = store(Shard::WHOLE);
        for ranks in [2, 3, 4] {
            for rank in 0..ranks {
                let shard = Shard { rank, ranks };
                let s = store(shard);
                for (t, w) in s.tables.iter().zip(&whole.tables) {
                    assert_eq!(t.rows, (0..w.rows).filter(|&g| shard.owns(g)).count());
                    for l in 0..t.rows {
                        let g = shard.global(l);
                        assert_eq!(
                            t.weights[l * 3..l * 3 + 3],
                            w.weights[g * 3..g * 3 + 3],
                            "rank {rank}/{ranks} row {g}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shards_of_one_world_reload_as_another_world_and_as_the_whole() {
        let whole = trained();
        // Split the whole into 3 shards' files, then load them as 2 shards and as one store.
        let files: Vec<(Shard, Vec<u8>)> = (0..3)
            .map(|rank| {
                let shard = Shard { rank, ranks: 3 };
                let mut s = store(shard);
                s.load_resharded(shard, &[(Shard::WHOLE, &whole.to_safetensors(true).unwrap())]).unwrap();
                (shard, s.to_safetensors(true).unwrap())
            })
            .collect();
        let parts: Vec<(Shard, &[u8])> = files.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        let mut back = store(Shard::WHOLE);
        back.load_resharded(Shard::WHOLE, &parts).unwrap();
        assert_eq!(back.step, 17);
        for (a, b) in back.tables.iter().zip(&whole.tables) {
            assert_eq!((&a.weights, &a.m, &a.v), (&b.weights, &b.m, &b.v));
        }
        let half = Shard { rank: 1, ranks: 2 };
        let mut two = store(half);
        two.load_resharded(half, &parts).unwrap();
        let g = half.global(2);
        assert_eq!(two.tables[0].m[2 * 3..3 * 3], whole.tables[0].m[g * 3..g * 3 + 3]);
        let err = back.load_resharded(Shard::WHOLE, &parts[..2]).unwrap_err().to_string();
        assert!(err.contains("not every shard of one world"), "{err}");
    }

    #[test]
    fn shard_file_names_round_trip_and_others_are_not_shards() {
        let s = Shard { rank: 2, ranks: 5 };
        assert_eq!(Shard::of_file_name(&s.file_name()), Some(s));
        assert_eq!(Shard::of_file_name("embeddings.safetensors"), Some(Shard::WHOLE));
        assert_eq!(Shard::of_file_name("embeddings.rank-5-of-5.safetensors"), None);
        assert_eq!(Shard::of_file_name("dense.safetensors"), None);
    }
}
