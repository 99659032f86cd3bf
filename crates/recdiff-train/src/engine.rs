//! One training step, shared by the training loop and the benchmark: gather embeddings, forward
//! the losses, backward, burn Adam on the dense weights and a sparse update of touched rows.

use crate::TrainError;
use crate::batch::Batch;
use crate::checkpoint::{self, LoopState};
use burn::optim::AdamConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngCore;
use recdiff_model::{CtrModel, EmbeddingStore, TrainInputs};
use std::path::Path;

/// Loss values of one step.
#[derive(Debug, Clone)]
pub struct StepLosses {
    pub total: f64,
    pub main: f64,
    pub extra: Vec<(&'static str, f64)>,
}

pub struct Engine {
    pub device: Device,
    /// Always `Some` between steps; taken while the optimiser consumes it.
    model: Option<CtrModel>,
    pub optim: ModuleOptimizer,
    pub store: EmbeddingStore,
    /// Width of the base's latent `z`.
    pub latent_dim: usize,
    /// Base learning rate of the dense weights.
    pub lr: f64,
    /// The experiment seed: burn's dropout masks of step `k` are drawn from (seed, k).
    pub seed: u64,
}

impl Engine {
    pub fn new(
        device: Device,
        model: CtrModel,
        optim: ModuleOptimizer,
        store: EmbeddingStore,
        latent_dim: usize,
        lr: f64,
        seed: u64,
    ) -> Self {
        Self { device, model: Some(model), optim, store, latent_dim, lr, seed }
    }

    pub fn model(&self) -> &CtrModel {
        self.model.as_ref().unwrap_or_else(|| unreachable!("the model is only taken inside step()"))
    }

    /// Loads a checkpoint's weights (and, with `restore_optimizer`, its optimiser state).
    /// The checkpoint must carry `fingerprint`, this model's architecture.
    pub fn load_checkpoint(
        &mut self,
        dir: &Path,
        fingerprint: &str,
        restore_optimizer: bool,
    ) -> Result<LoopState, TrainError> {
        let model = self.model.take().ok_or_else(|| TrainError::Other("model missing".into()))?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        let (model, optim, state) = checkpoint::load(dir, fingerprint, model, optim, &mut self.store)?;
        self.model = Some(model);
        if restore_optimizer {
            self.optim = optim;
        }
        Ok(state)
    }

    fn tensor(&self, values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(values, shape), &self.device)
    }

    /// One step with the learning rates scaled by `factor`; returns the total, the main loss and
    /// the enhancer's extra terms. `rng` draws latent noise; `step` drives annealing.
    pub fn step(
        &mut self,
        b: &Batch<'_>,
        factor: f64,
        buf: &mut Vec<f32>,
        rng: &mut impl RngCore,
        step: u64,
    ) -> Result<StepLosses, TrainError> {
        let (n, width, fields) = (b.rows.len(), self.store.width(), self.store.fields());
        buf.resize(n * width, 0.0);
        self.store.gather(&b.rows, &b.masks, buf);
        let x = self.tensor(buf.clone(), [n, width]).require_grad();
        let bs = b.samples;
        let noise = self.model().enhance().latent_noise(bs, self.latent_dim, rng);
        let inputs = TrainInputs {
            x: x.clone(),
            clean_mask: self.tensor(b.clean_mask.clone(), [bs, fields]),
            copy_masks: b.copy_masks.iter().map(|m| self.tensor(m.clone(), [bs, fields])).collect(),
            y: self.tensor(b.labels.clone(), [bs, 1]),
            noise: noise.as_ref().map(|n| (self.tensor(n.eps.clone(), [bs, self.latent_dim]), n.t.as_slice())),
            step,
        };
        let losses =
            recdiff_model::seeding::seeded_forward(&self.device, self.seed, step, || self.model().losses(inputs));
        let scalar = |t: Tensor<1>| -> f64 { t.into_scalar::<f32>() as f64 };
        let parts = StepLosses {
            total: scalar(losses.total.clone()),
            main: scalar(losses.main.clone()),
            extra: losses.extra.iter().map(|(name, t)| (*name, scalar(t.clone()))).collect(),
        };
        if !parts.total.is_finite() {
            return Ok(parts);
        }
        let mut grads = losses.total.backward();
        let gx =
            x.grad_remove(&mut grads).ok_or_else(|| TrainError::Other("no gradient for the embedded input".into()))?;
        let gx: Vec<f32> = gx.into_data().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?;
        let model = self.model.take().ok_or_else(|| TrainError::Other("model missing".into()))?;
        let gp = GradientsParams::from_grads(grads, &model);
        self.model = Some(self.optim.step(self.lr * factor, model, gp));
        self.store.apply_gradients(&b.rows, &b.masks, &gx, factor as f32);
        Ok(parts)
    }
}
