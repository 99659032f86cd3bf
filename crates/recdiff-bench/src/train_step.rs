//! Training-step benchmark: steps/s and samples/s at a fixed batch for a DCN-V2 base and base +
//! AsymDiffRec, over synthetic encoded rows with `fields` categorical fields whose tables hold
//! `rows_per_table` rows each (ids Zipf-like: `rows * u^3`).

use crate::BenchError;
use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_dist::Collective;
use recdiff_dist::timed::Counters;
use recdiff_model::Shard;
use recdiff_model::base::BaseConfig;
use recdiff_model::base::dcn::DcnV2Config;
use recdiff_model::enhancer::asymdiffrec::AsymDiffRecConfig;
use recdiff_model::{CtrModelConfig, EmbeddingStore, EnhancerConfig, SparseOptimizer};
use recdiff_train::batch;
use recdiff_train::engine::Engine;
use recdiff_train::synthetic::{fields, split as synthetic_split};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct TrainBench {
    pub rows_per_table: u32,
    pub fields: usize,
    pub dim: usize,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub asymdiffrec: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct TrainBenchResult {
    /// Median step time in seconds.
    pub median_step_s: f64,
    pub steps_per_s: f64,
    pub samples_per_s: f64,
    /// Dense (burn) parameters, and embedding-table parameters: the figures a reference
    /// implementation must reproduce to show it built the same network.
    pub dense_params: usize,
    pub embedding_params: usize,
    /// In a world of several ranks: the median seconds per step inside collectives, and the
    /// bytes this rank sent per step (mean); zero for one process.
    pub median_comm_s: f64,
    pub bytes_per_step: f64,
    /// Distinct embedding rows this rank's shard of a step reads, summed over tables (mean):
    /// what sizes the sparse exchange.
    pub distinct_rows: f64,
}

/// Runs `warmup + steps` training steps and times the last `steps`.
pub fn run(cfg: &TrainBench) -> Result<TrainBenchResult, BenchError> {
    run_in(cfg, None, false)
}

/// [`run`] as one rank of `world` (each rank steps on its shard of every global batch of
/// `cfg.batch`, reading only its rows), with row-wise sharded tables when `row_wise`; the
/// collectives are timed, so the step splits into compute and communication.
pub fn run_in(
    cfg: &TrainBench,
    world: Option<Arc<recdiff_dist::timed::Timed>>,
    row_wise: bool,
) -> Result<TrainBenchResult, BenchError> {
    let dir = std::env::temp_dir().join(format!("recdiff-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Io { path: dir.clone(), source: e })?;
    let split = synthetic_split(&dir, cfg.batch * 8, cfg.fields, cfg.rows_per_table);
    let _ = std::fs::remove_dir_all(&dir);
    let split = split?;
    let metas = fields(cfg.fields, cfg.rows_per_table);
    let device = Device::flex().autodiff();
    let enhancer =
        if cfg.asymdiffrec { EnhancerConfig::AsymDiffRec(AsymDiffRecConfig::default()) } else { EnhancerConfig::None };
    let base = BaseConfig::DcnV2(DcnV2Config { deep: vec![512, 256], ..DcnV2Config::default() });
    let model = CtrModelConfig { base: base.clone(), enhancer: enhancer.clone() }.init(cfg.fields, cfg.dim, 1, &device);
    let shard = match &world {
        Some(w) if row_wise => Shard { rank: w.rank(), ranks: w.size() },
        _ => Shard::WHOLE,
    };
    let store = EmbeddingStore::new_shard(&metas, cfg.dim, SparseOptimizer::default(), 0.0, 0.01, 1, shard);
    let dense_params = model.num_params();
    let embedding_params = store.tables.iter().map(|t| t.weights.len()).sum();
    let plan = model.enhance().noise_plan();
    let mut engine =
        Engine::new(device, model, recdiff_experiment::optim::adam(0.0), store, base.latent_dim(), 1e-3, 1);
    if let Some(w) = &world {
        engine = engine.with_world(w.clone()).with_row_wise_tables(shard);
    }
    let counters = || world.as_ref().map_or(Counters { seconds: 0.0, bytes: 0 }, |w| w.counters());
    let (mut comm, mut bytes, mut distinct) = (Vec::new(), 0u64, 0usize);
    let groups = vec![0; cfg.fields];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut buf, mut times) = (Vec::new(), Vec::new());
    for step in 0..cfg.warmup + cfg.steps {
        let start = (step % 8) * cfg.batch;
        let idx: Vec<u32> = (start as u32..(start + cfg.batch) as u32).collect();
        let (t, before) = (Instant::now(), counters());
        let b = match &world {
            None => batch::build(&split, &idx, cfg.fields, plan, &groups, &mut rng),
            Some(w) => batch::build_shard(&split, &idx, cfg.fields, plan, &groups, &mut rng, w.as_ref())
                .map_err(BenchError::Dist)?,
        };
        engine.step(&b, 1.0, &mut buf, &mut rng, step as u64)?;
        if step >= cfg.warmup {
            times.push(t.elapsed().as_secs_f64());
            let after = counters();
            comm.push(after.seconds - before.seconds);
            bytes += after.bytes - before.bytes;
            distinct += engine.store.touched_ids(&b.rows, &b.masks).iter().map(Vec::len).sum::<usize>();
        }
    }
    times.sort_by(f64::total_cmp);
    comm.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(TrainBenchResult {
        median_step_s: median,
        steps_per_s: 1.0 / median,
        samples_per_s: cfg.batch as f64 / median,
        dense_params,
        embedding_params,
        median_comm_s: comm[comm.len() / 2],
        bytes_per_step: bytes as f64 / cfg.steps.max(1) as f64,
        distinct_rows: distinct as f64 / cfg.steps.max(1) as f64,
    })
}
