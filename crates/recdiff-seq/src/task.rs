//! The sequential family's [`EpochTask`] (a `Task`) for the experiment layer's loop: its data (interactions, the
//! leave-one-out split, the training windows), the model on the autodiff backend, burn's Adam,
//! the shuffling stream and the best weights (on the inference backend).
//!
//! Its `last/` state: `model.safetensors` (the training weights), `param_ids.json` (what the
//! optimiser's moments are keyed by), `optimizer.bin` (burn's Adam record), `rng.json` (the
//! shuffling stream's position) and `best.safetensors`.

use crate::eval::{EvalSpec, evaluate};
use crate::train::{SeqError, train_epoch_in};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::{Interactions, LeaveOneOut, Window};
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::fit::{Best, EpochTask, NamedFile};
use recdiff_experiment::{BoxError, Metrics};
use recdiff_model::seq::SeqModel;
use recdiff_run::checkpoint::{self, Checkpoint};
use recdiff_run::seq::{ITEMS_FILE, WEIGHTS_FILE, load_data};
use recdiff_run::seq_config::SeqExperimentConfig;
use std::path::Path;

const MODEL_FILE: &str = "model.safetensors";
const IDS_FILE: &str = "param_ids.json";
const OPTIMIZER_FILE: &str = "optimizer.bin";
const RNG_FILE: &str = "rng.json";

/// One sequential training run.
pub struct SeqTask<'a> {
    cfg: &'a SeqExperimentConfig,
    data: Interactions,
    split: LeaveOneOut,
    windows: Vec<Window>,
    model: Option<SeqModel>,
    optim: ModuleOptimizer,
    rng: ChaCha8Rng,
    device: Device,
    inner: Device,
    ranks: Ranks,
    spec: EvalSpec,
    /// The weights last validated, and the best ones (inference backend).
    best: Best<SeqModel>,
    /// `items.json`: item keys by id, saved with the run.
    pub items_json: Vec<u8>,
}

impl<'a> SeqTask<'a> {
    /// Loads the data `cfg` names and builds its model from the seed.
    pub fn new(cfg: &'a SeqExperimentConfig, ranks: Ranks) -> Result<Self, SeqError> {
        let (data, split) = load_data(cfg)?;
        let items_json = serde_json::to_vec(&data.items)?;
        let windows = split.windows(cfg.data.max_len);
        let model_table = toml::Table::try_from(&cfg.model).unwrap_or_default();
        let batch = cfg.train.batch_size.max(cfg.train.eval_batch_size) as f64;
        let need = recdiff_run::budget::ranking(&model_table, data.items.len() as f64, batch, cfg.data.max_len as f64);
        need.check(&cfg.output_dir(), recdiff_run::budget::limit())?;
        let device = Device::flex().autodiff();
        let model = recdiff_run::seq::init_model(cfg, &data.items, &device)?;
        Ok(Self {
            cfg,
            windows,
            model: Some(model),
            optim: recdiff_experiment::optim::adam(cfg.train.weight_decay),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            inner: device.clone().inner(),
            device,
            ranks,
            spec: EvalSpec::of(cfg),
            best: Best::default(),
            data,
            split,
            items_json,
        })
    }

    /// The architecture fingerprint of the run's checkpoints.
    pub fn fingerprint(&self) -> String {
        recdiff_run::seq::fingerprint(self.cfg, self.data.items.len())
    }

    fn model(&self) -> Result<&SeqModel, SeqError> {
        self.model.as_ref().ok_or(SeqError::ModelMissing)
    }
}

impl EpochTask for SeqTask<'_> {
    type Weights = SeqModel;

    fn steps_per_epoch(&self) -> u64 {
        self.windows.len().div_ceil(self.cfg.train.batch_size) as u64
    }

    fn train_epoch(&mut self) -> Result<f64, BoxError> {
        let (cfg, windows) = (self.cfg, &self.windows);
        Ok(train_epoch_in(
            &mut self.model,
            &mut self.optim,
            cfg,
            windows,
            &mut self.rng,
            &self.device,
            &mut self.ranks,
        )?)
    }

    fn validate_current(&mut self) -> Result<(Self::Weights, Metrics), BoxError> {
        let current = self.model()?.valid();
        let m = evaluate(&current, &self.data, &self.split, false, &self.spec, &self.inner)?;
        Ok((current, m.to_metrics()))
    }

    fn best(&mut self) -> &mut Best<Self::Weights> {
        &mut self.best
    }

    /// The task's state for `last/`: the training weights, their ids, the optimiser, the random
    /// streams and the best weights.
    fn files(&self) -> Result<Vec<NamedFile>, BoxError> {
        let model = self.model()?;
        let best = self.best.get()?;
        let optimizer = self.optim.into_bytes().map_err(|e| format!("{e:?}"))?.to_vec();
        Ok(vec![
            (MODEL_FILE.into(), checkpoint::weights_bytes(model)?),
            (IDS_FILE.into(), serde_json::to_vec(&checkpoint::param_ids(model))?),
            (OPTIMIZER_FILE.into(), optimizer),
            (RNG_FILE.into(), serde_json::to_vec(&self.rng.get_word_pos().to_string())?),
            (WEIGHTS_FILE.into(), checkpoint::weights_bytes(best)?),
        ])
    }

    fn restore(&mut self, c: &Checkpoint) -> Result<(), BoxError> {
        let model = self.model.take().ok_or(SeqError::ModelMissing)?;
        let model = checkpoint::load_weights(model, c.read(MODEL_FILE)?, &c.dir().join(MODEL_FILE))?;
        let ids: Vec<u64> = serde_json::from_slice(&c.read(IDS_FILE)?)?;
        self.model = Some(checkpoint::assign_param_ids(model, ids));
        let bytes = burn::tensor::Bytes::from_bytes_vec(c.read(OPTIMIZER_FILE)?);
        let optim = std::mem::replace(&mut self.optim, recdiff_experiment::optim::adam(0.0));
        self.optim =
            optim.from_bytes(bytes).map_err(|e| format!("{}: {e:?}", c.dir().join(OPTIMIZER_FILE).display()))?;
        let pos: String = serde_json::from_slice(&c.read(RNG_FILE)?)?;
        self.rng.set_word_pos(pos.parse()?);
        let best = recdiff_run::seq::init_model(self.cfg, &self.data.items, &self.inner)?;
        self.best.restore(checkpoint::load_weights(best, c.read(WEIGHTS_FILE)?, &c.dir().join(WEIGHTS_FILE))?);
        Ok(())
    }

    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError> {
        let best = self.best.get()?;
        if let Some(out) = out {
            let weights = recdiff_run::manifest::save_weights(best, &out.join(WEIGHTS_FILE))?;
            let files: [(&str, &[u8]); 2] = [(WEIGHTS_FILE, &weights), (ITEMS_FILE, &self.items_json)];
            recdiff_run::manifest::Manifest::new(self.fingerprint(), &files).save(out)?;
        }
        let valid = evaluate(best, &self.data, &self.split, false, &self.spec, &self.inner)?;
        let test = evaluate(best, &self.data, &self.split, true, &self.spec, &self.inner)?;
        Ok((valid.to_metrics(), test.to_metrics()))
    }
}
