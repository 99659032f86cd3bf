//! Plain MLP base: `h(x) = ReLU(P · MLP(x))`, `f(z) = w^T z + b`. The simplest model-agnostic check.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    pub hidden: Vec<usize>,
    pub latent_dim: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self { hidden: vec![512, 256], latent_dim: 128 }
    }
}

#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    proj: Linear,
    head: Linear,
}

/// A ReLU stack `input -> hidden[0] -> ... -> hidden[n-1]`; returns the layers and the output width.
pub fn relu_stack(input: usize, hidden: &[usize], device: &Device) -> (Vec<Linear>, usize) {
    let mut width = input;
    let layers = hidden
        .iter()
        .map(|&h| {
            let l = LinearConfig::new(width, h).init(device);
            width = h;
            l
        })
        .collect();
    (layers, width)
}

pub fn run_stack(layers: &[Linear], mut x: Tensor<2>) -> Tensor<2> {
    for l in layers {
        x = relu(l.forward(x));
    }
    x
}

impl MlpConfig {
    pub fn init(&self, input_width: usize, device: &Device) -> Mlp {
        let (layers, width) = relu_stack(input_width, &self.hidden, device);
        Mlp {
            layers,
            proj: LinearConfig::new(width, self.latent_dim).init(device),
            head: LinearConfig::new(self.latent_dim, 1).init(device),
        }
    }
}

impl Mlp {
    pub fn h(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.proj.forward(run_stack(&self.layers, x)))
    }

    pub fn f(&self, z: Tensor<2>) -> Tensor<2> {
        self.head.forward(z)
    }
}
