//! The one optimiser builder for the dense weights of every family: burn's Adam with PyTorch's
//! defaults (β = 0.9, 0.999, ε = 1e-8) and optional L2 weight decay.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};

/// Adam's ε for every family (PyTorch's default; burn's own default is 1e-5).
pub const ADAM_EPSILON: f32 = 1e-8;

/// Adam for dense weights, with L2 `weight_decay` when positive.
pub fn adam(weight_decay: f64) -> ModuleOptimizer {
    adam_config(weight_decay).init()
}

/// The config behind [`adam`] (for checks and benchmarks).
pub fn adam_config(weight_decay: f64) -> AdamConfig {
    let mut c = AdamConfig::new().with_epsilon(ADAM_EPSILON);
    if weight_decay > 0.0 {
        c = c.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
    }
    c
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_family_gets_pytorchs_adam_epsilon() {
        let c = serde_json::to_value(super::adam_config(0.0)).unwrap();
        assert_eq!(c["epsilon"].as_f64().unwrap() as f32, 1e-8);
        assert!(c["weight_decay"].is_null());
        let d = serde_json::to_value(super::adam_config(0.01)).unwrap();
        assert_eq!(d["weight_decay"]["penalty"].as_f64().unwrap() as f32, 0.01);
    }
}
