//! DeepFM (Guo et al., IJCAI 2017) split into `h` and `f`: the factorisation-machine pairwise term
//! `0.5 * ((Σ_i v_i)^2 - Σ_i v_i^2)` over the field embeddings (kept as a `dim`-vector rather than
//! summed to a scalar, so `h` can pass it on) is concatenated with a deep MLP of the embeddings and
//! projected: `h(x) = ReLU(P · [fm, deep])`; `f(z) = w^T z + b`. The first-order term is left to
//! the embeddings and the head. Missing fields are zero vectors and add nothing to the FM term.

use super::mlp::{relu_stack, run_stack};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepFmConfig {
    pub deep: Vec<usize>,
    pub latent_dim: usize,
}

impl Default for DeepFmConfig {
    fn default() -> Self {
        Self { deep: vec![512, 256], latent_dim: 128 }
    }
}

#[derive(Module, Debug)]
pub struct DeepFm {
    deep: Vec<Linear>,
    proj: Linear,
    head: Linear,
    fields: usize,
    dim: usize,
}

impl DeepFmConfig {
    pub fn init(&self, fields: usize, dim: usize, device: &Device) -> DeepFm {
        let (deep, width) = relu_stack(fields * dim, &self.deep, device);
        DeepFm {
            deep,
            proj: LinearConfig::new(dim + width, self.latent_dim).init(device),
            head: LinearConfig::new(self.latent_dim, 1).init(device),
            fields,
            dim,
        }
    }
}

impl DeepFm {
    /// The FM pairwise interaction vector, `[B, F*D]` -> `[B, D]`.
    pub fn fm(&self, x: Tensor<2>) -> Tensor<2> {
        let b = x.dims()[0];
        let v = x.reshape([b, self.fields, self.dim]);
        let sum = v.clone().sum_dim(1).reshape([b, self.dim]);
        let sum_sq = v.powi_scalar(2).sum_dim(1).reshape([b, self.dim]);
        (sum.powi_scalar(2) - sum_sq) * 0.5
    }

    pub fn h(&self, x: Tensor<2>) -> Tensor<2> {
        let fm = self.fm(x.clone());
        relu(self.proj.forward(Tensor::cat(vec![fm, run_stack(&self.deep, x)], 1)))
    }

    pub fn f(&self, z: Tensor<2>) -> Tensor<2> {
        self.head.forward(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn fm_term_is_the_sum_of_pairwise_products() {
        let device = Device::flex();
        let m = crate::init::build_seeded(1, || DeepFmConfig { deep: vec![4], latent_dim: 2 }.init(3, 2, &device));
        // fields (1,2), (3,4), (0,0 missing): pairwise products per dim: 1*3 = 3, 2*4 = 8.
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0], [1, 6]), &device);
        let fm: Vec<f32> = m.fm(x).into_data().try_into_vec().unwrap();
        assert_eq!(fm, vec![3.0, 8.0]);
    }
}
