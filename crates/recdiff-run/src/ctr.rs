//! A trained CTR run opened read-only: its resolved config, the codecs of its `meta.json`, the best
//! checkpoint's dense weights on burn's flex backend *without* autodiff, and its embedding tables
//! (only the weights of `embeddings.safetensors` are copied out of a memory map; the optimiser
//! moments are read once, by the checksum over the whole file, and never parsed or kept). Opening
//! verifies the checkpoint against its manifest ([`crate::manifest`]). Opening writes nothing and encodes nothing: evaluation, prediction, robustness
//! and serving all load a run through here.
//!
//! A run directory written by `recdiff train`:
//! ```text
//! config.resolved.toml   the experiment config, paths resolved
//! meta.json              schema, split, per-field codecs and vocabularies
//! best/                  dense.safetensors, embeddings.safetensors, optimizer.bin, param_ids.json, state.json,
//!                        meta.json (the codecs the run is scored with, checksummed with the rest),
//!                        manifest.json (checksums and architecture fingerprint, see [`crate::manifest`])
//! last/                  the same, for resuming
//! log.jsonl, results.json, curves.svg
//! ```

use crate::RunError;
use crate::config::ExperimentConfig;
use crate::manifest::Manifest;
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use recdiff_data::{EncodedMeta, SplitFile};
use recdiff_model::{CtrModel, EmbeddingStore, Shard};
use std::path::{Path, PathBuf};

/// The resolved config a run was trained under.
pub const CONFIG_FILE: &str = "config.resolved.toml";
/// A checkpoint's dense weights.
pub const DENSE_FILE: &str = "dense.safetensors";
/// A checkpoint's embedding tables (with their optimiser state).
pub const EMBEDDINGS_FILE: &str = "embeddings.safetensors";

/// The architecture fingerprint of a CTR run: its model config and each field's table, width
/// and number of rows. Checkpoints record it; loading refuses one written for another.
pub fn fingerprint(cfg: &ExperimentConfig, meta: &EncodedMeta) -> String {
    let fields: Vec<_> = meta.fields.iter().map(|f| (&f.name, &f.table, f.width, f.cardinality())).collect();
    crate::manifest::fingerprint(&(&cfg.model, fields))
}

/// The memory a CTR run of `cfg` over the tables of `meta` needs while training
/// ([`crate::budget`]): the tables and their optimiser moments, the base's cross and deep layers
/// over the input width `fields × embedding_dim`, the enhancer's layers, one batch's activations.
pub fn memory_estimate(cfg: &ExperimentConfig, meta: &EncodedMeta) -> crate::budget::Estimate {
    use crate::budget::{DENSE_BYTES, chain, largest, widths};
    let (m, mut e) = (&cfg.model, crate::budget::Estimate::default());
    let (dim, fields) = (m.embedding_dim as f64, meta.fields.len() as f64);
    let tables: std::collections::BTreeMap<&str, f64> =
        meta.fields.iter().map(|f| (f.table.as_str(), f.cardinality() as f64)).collect();
    let rows: f64 = tables.values().sum();
    let moments = match m.embedding_optimizer {
        recdiff_model::SparseOptimizer::Adam { .. } => 2.0 * dim,
        recdiff_model::SparseOptimizer::Adagrad { .. } => 1.0,
    };
    // The schema's `buckets` (and vocabularies) set the rows; the dimension, each row's width.
    let tables_key =
        if dim >= 1024.0 || rows < (1u64 << 24) as f64 { "model.embedding_dim" } else { "buckets (schema)" };
    e.add(tables_key, rows * (dim + moments) * 4.0);
    let w = fields * dim;
    let base = as_table(&m.base);
    let (base_widths, cross) = widths(&base, "model.base", &["deep", "hidden", "latent_dim"], &["cross_layers"]);
    let input = ("model.embedding_dim".to_string(), w);
    if !cross.0.is_empty() {
        e.add(largest(&[input.clone(), cross.clone()]), cross.1 * w * (w + 1.0) * DENSE_BYTES);
    }
    let mut layers = vec![input.clone()];
    layers.extend(base_widths.iter().cloned());
    e.add(largest(&layers), chain(&layers.iter().map(|p| p.1).collect::<Vec<_>>()) * DENSE_BYTES);
    let enhancer = as_table(&m.enhancer);
    let (enh, repeat) = widths(&enhancer, "model.enhancer", &["hidden", "projection", "time_dim"], &["layers"]);
    let latent = m.base.latent_dim() as f64;
    let mut block = vec![latent + fields];
    block.extend(enh.iter().map(|p| p.1));
    block.push(latent);
    let mut named = enh.clone();
    named.push(repeat.clone());
    named.push(("model.base.latent_dim".into(), latent));
    e.add(largest(&named), repeat.1 * chain(&block) * DENSE_BYTES);
    let batch = cfg.train.batch_size.max(cfg.train.eval_batch_size) as f64;
    let mut outputs = vec![input];
    outputs.extend(base_widths.iter().chain(&enh).cloned());
    let activations = fields + outputs.iter().map(|p| p.1).sum::<f64>();
    // Forward and backward keep a few copies of every layer's output; the widest layer drives it
    // unless the batch itself is outsized.
    let key = if batch > 1e6 { "train.batch_size".to_string() } else { largest(&outputs) };
    e.add(key, batch * activations * 4.0 * 8.0);
    e
}

/// A config part as a TOML table (an enum part serialises as one).
fn as_table<T: serde::Serialize>(part: &T) -> toml::Table {
    toml::Table::try_from(part).unwrap_or_default()
}

/// Reads `<run>/config.resolved.toml`.
pub fn load_config(run: &Path) -> Result<ExperimentConfig, RunError> {
    let path = run.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::at(&path, e))?;
    let cfg: ExperimentConfig = toml::from_str(&text).map_err(|e| RunError::at(&path, e))?;
    cfg.validate().map_err(|e| RunError::at(&path, e))?;
    Ok(cfg)
}

/// A trained CTR run, ready to score.
pub struct CtrRun {
    pub dir: PathBuf,
    pub cfg: ExperimentConfig,
    pub meta: EncodedMeta,
    pub model: CtrModel,
    pub store: EmbeddingStore,
    pub device: Device,
}

impl CtrRun {
    /// Opens the best checkpoint of the run in `run`.
    pub fn open(run: &Path) -> Result<Self, RunError> {
        let cfg = load_config(run)?;
        // A crash mid-switch may have left the best checkpoint under `.tmp` or `.old`; read it
        // from there without touching the run.
        let best = crate::manifest::resolve(&run.join("best"));
        let manifest = Manifest::load(&best)?;
        let meta = load_meta(run, &cfg, &best, &manifest)?;
        manifest.check_fingerprint(&best, &fingerprint(&cfg, &meta))?;
        let m = &cfg.model;
        let device = Device::flex();
        let mut model = m.ctr().init(meta.fields.len(), m.embedding_dim, cfg.seed, &device);
        let dense_path = best.join(DENSE_FILE);
        let dense = std::fs::read(&dense_path).map_err(|e| RunError::at(&dense_path, e))?;
        manifest.check(&best, DENSE_FILE, &dense)?;
        crate::manifest::check_finite(&dense_path, &dense)?;
        let applied = model
            .load_from(&mut recdiff_model::legacy::reader(dense, &recdiff_model::base::LEGACY_KEYS))
            .map_err(|e| RunError::at(&dense_path, format!("{e:?}")))?;
        if !applied.missing.is_empty() {
            return Err(RunError::at(&dense_path, format!("missing tensors {:?}", applied.missing)));
        }
        let shards: Vec<Shard> = manifest.files.keys().filter_map(|n| Shard::of_file_name(n)).collect();
        if shards != [Shard::WHOLE] {
            let store = assemble_shards(&best, &manifest, &shards, &meta, m)?;
            return Ok(Self { dir: run.to_path_buf(), cfg, meta, model, store, device });
        }
        let emb_path = best.join(EMBEDDINGS_FILE);
        let file = std::fs::File::open(&emb_path).map_err(|e| RunError::at(&emb_path, e))?;
        // SAFETY: checkpoints are written to a temporary directory and renamed into place, never
        // modified in place, so the mapped bytes do not change while mapped; the weights are
        // copied out before the map is dropped.
        let mapped = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| RunError::at(&emb_path, e))?;
        manifest.check(&best, EMBEDDINGS_FILE, &mapped)?;
        let store = recdiff_embed::io::serving_store(&meta.fields, m.embedding_dim, &mapped)
            .map_err(|e| RunError::at(&emb_path, e))?;
        Ok(Self { dir: run.to_path_buf(), cfg, meta, model, store, device })
    }

    /// One encoded split of the data the run was trained on. The data must be the same encoding
    /// (schema and split) the run recorded; it is never re-encoded here.
    pub fn split(&self, split: u8) -> Result<SplitFile, RunError> {
        let dir = data_dir(&self.dir, &self.cfg);
        let encoded = EncodedMeta::load(&dir).map_err(|e| {
            RunError::at(&dir, format!("the run's encoded data is missing ({e}); train the run again to re-create it"))
        })?;
        if encoded.schema != self.meta.schema || encoded.split != self.meta.split {
            return Err(RunError::at(&dir, "was re-encoded for another schema or split since this run was trained"));
        }
        SplitFile::open(&EncodedMeta::split_path(&dir, split)).map_err(|e| RunError::at(&dir, e))
    }
}

/// The codecs a run scores with: `best/meta.json`, verified against the checkpoint's manifest;
/// runs saved before it was part of the checkpoint read `<run>/meta.json` (or, older still, the
/// encoded data's). Every codec is checked either way ([`EncodedMeta::parse`]).
fn load_meta(run: &Path, cfg: &ExperimentConfig, best: &Path, manifest: &Manifest) -> Result<EncodedMeta, RunError> {
    let name = recdiff_data::encode::META_FILE;
    if manifest.files.contains_key(name) {
        let path = best.join(name);
        let bytes = std::fs::read(&path).map_err(|e| RunError::at(&path, e))?;
        manifest.check(best, name, &bytes)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| RunError::at(&path, e))?;
        return EncodedMeta::parse(text, &path).map_err(|e| RunError::at(&path, e));
    }
    match EncodedMeta::load(run) {
        Ok(meta) => Ok(meta),
        Err(e) if run.join(name).exists() => Err(RunError::at(&run.join(name), e)),
        // Runs trained before meta.json was copied into the run dir.
        Err(_) => EncodedMeta::load(&data_dir(run, cfg))
            .map_err(|e| RunError::at(run, format!("no meta.json in the run or its data: {e}"))),
    }
}

/// Where a run's encoded splits live: the config's shared cache, or `<run>/data`.
pub fn data_dir(run: &Path, cfg: &ExperimentConfig) -> PathBuf {
    cfg.data.encoded.clone().unwrap_or_else(|| run.join("data"))
}

/// The whole tables of a checkpoint written with row-wise sharded tables (one file per rank of
/// the world that trained it), for scoring in one process; optimiser state is dropped.
fn assemble_shards(
    best: &Path,
    manifest: &Manifest,
    shards: &[Shard],
    meta: &EncodedMeta,
    m: &crate::config::ModelConfig,
) -> Result<EmbeddingStore, RunError> {
    let files = shards
        .iter()
        .map(|s| {
            let path = best.join(s.file_name());
            let bytes = std::fs::read(&path).map_err(|e| RunError::at(&path, e))?;
            manifest.check(best, &s.file_name(), &bytes)?;
            Ok((*s, bytes))
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    let parts: Vec<(Shard, &[u8])> = files.iter().map(|(s, b)| (*s, b.as_slice())).collect();
    let optimizer = recdiff_model::SparseOptimizer::Adagrad { lr: 0.0, eps: 0.0 };
    let mut store = EmbeddingStore::new_shard(&meta.fields, m.embedding_dim, optimizer, 0.0, 1.0, 0, Shard::WHOLE);
    store.load_resharded(Shard::WHOLE, &parts).map_err(|e| RunError::at(best, e))?;
    for t in &mut store.tables {
        (t.m, t.v) = (Vec::new(), Vec::new());
    }
    Ok(store)
}
