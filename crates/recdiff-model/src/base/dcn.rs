//! DCN-V2 (Wang et al., "DCN V2: Improved Deep & Cross Network", WWW 2021) split into a feature
//! extractor `h` and a head `f`, as AsymDiffRec needs.
//!
//! * Cross network, `L` layers over the embedded input `x0` (`[B, F*D]`):
//!   full rank `x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l`, or the low-rank mixture of experts
//!   `x_{l+1} = Σ_i g_i(x_l) · x0 ⊙ (U_i V_i^T x_l + b_i) + x_l` with softmax gates `g = softmax(G x_l)`
//!   (the paper's DCN-Mix without the inner non-linearity).
//! * Deep network: ReLU MLP. Structure `parallel` concatenates cross and deep outputs (both on
//!   `x0`); `stacked` feeds the cross output into the deep network.
//! * `h(x) = ReLU(P · [..])`, a `latent_dim` projection (128 by default, as in the paper's online
//!   system); `f(z) = w^T z + b`, one logit.

use super::{SharedInput, linear_shared};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CrossKind {
    FullRank,
    LowRankMixture { rank: usize, experts: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Structure {
    Parallel,
    Stacked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcnV2Config {
    pub cross_layers: usize,
    pub cross: CrossKind,
    pub deep: Vec<usize>,
    pub structure: Structure,
    pub latent_dim: usize,
    pub dropout: f64,
}

impl Default for DcnV2Config {
    fn default() -> Self {
        Self {
            cross_layers: 3,
            cross: CrossKind::FullRank,
            deep: vec![512, 256],
            structure: Structure::Parallel,
            latent_dim: 128,
            dropout: 0.0,
        }
    }
}

/// One cross layer: full rank, `x0 ⊙ (W x + b) + x`, or DCN-Mix's gated mixture of low-rank
/// experts, `Σ_i g_i(x) x0 ⊙ (U_i V_i x + b_i) + x`.
#[derive(Module, Debug)]
pub enum CrossLayer {
    Full(Linear),
    Mixture(LowRankMixture),
}

/// The experts' down (`V_i`, `[W, r]`) and up (`U_i`, `[r, W]`) maps and the softmax gate.
#[derive(Module, Debug)]
pub struct LowRankMixture {
    down: Vec<Linear>,
    up: Vec<Linear>,
    gate: Linear,
}

impl CrossLayer {
    fn new(width: usize, kind: CrossKind, device: &Device) -> Self {
        match kind {
            CrossKind::FullRank => CrossLayer::Full(LinearConfig::new(width, width).init(device)),
            CrossKind::LowRankMixture { rank, experts } => CrossLayer::Mixture(LowRankMixture {
                down: (0..experts).map(|_| LinearConfig::new(width, rank).with_bias(false).init(device)).collect(),
                up: (0..experts).map(|_| LinearConfig::new(rank, width).init(device)).collect(),
                gate: LinearConfig::new(width, experts).init(device),
            }),
        }
    }

    /// `[B, W]`, `[B, W]` -> `[B, W]`.
    pub fn forward(&self, x0: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        self.apply(x0, x.clone(), |l: &Linear| l.forward(x.clone()))
    }

    /// The first layer (`x = x0`) with the rows' shared input multiplied once.
    fn forward_first(&self, x0: Tensor<2>, shared: &SharedInput) -> Tensor<2> {
        self.apply(x0.clone(), x0.clone(), |l: &Linear| linear_shared(l, &x0, shared))
    }

    /// The layer with `linear(l)` computing `l(x)` for each linear map applied to `x`.
    fn apply(&self, x0: Tensor<2>, x: Tensor<2>, linear: impl Fn(&Linear) -> Tensor<2>) -> Tensor<2> {
        let m = match self {
            CrossLayer::Full(w) => return x0 * linear(w) + x,
            CrossLayer::Mixture(m) => m,
        };
        let gate = softmax(linear(&m.gate), 1);
        let mut out = x;
        for (i, (down, up)) in m.down.iter().zip(&m.up).enumerate() {
            let expert = x0.clone() * up.forward(linear(down));
            out = out + expert * gate.clone().narrow(1, i, 1);
        }
        out
    }
}

#[derive(Module, Debug)]
pub struct DcnV2 {
    cross: Vec<CrossLayer>,
    deep: Vec<Linear>,
    proj: Linear,
    head: Linear,
    dropout: Dropout,
    stacked: bool,
    pub latent_dim: usize,
}

impl DcnV2Config {
    /// A DCN-V2 over `input_width = fields * dim` embedded inputs.
    pub fn init(&self, input_width: usize, device: &Device) -> DcnV2 {
        let cross = (0..self.cross_layers).map(|_| CrossLayer::new(input_width, self.cross, device)).collect();
        let stacked = self.structure == Structure::Stacked;
        let mut deep = Vec::new();
        let mut width = input_width;
        for &h in &self.deep {
            deep.push(LinearConfig::new(width, h).init(device));
            width = h;
        }
        let proj_in = if stacked { width } else { input_width + width };
        DcnV2 {
            cross,
            deep,
            proj: LinearConfig::new(proj_in, self.latent_dim).init(device),
            head: LinearConfig::new(self.latent_dim, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            stacked,
            latent_dim: self.latent_dim,
        }
    }
}

impl DcnV2 {
    /// [`DcnV2::h`] where the rows share part of their input: the first cross layer's maps (full
    /// rank, or the mixture's gates and down-projections) and the first deep layer multiply the
    /// shared part once.
    pub fn h_shared(&self, x0: Tensor<2>, shared: &SharedInput) -> Tensor<2> {
        let mut x = x0.clone();
        for (i, layer) in self.cross.iter().enumerate() {
            x = if i == 0 { layer.forward_first(x0.clone(), shared) } else { layer.forward(x0.clone(), x) };
        }
        let features = if self.stacked {
            self.deep_net(x)
        } else {
            let deep = match self.deep.split_first() {
                Some((first, rest)) => {
                    let mut d = self.dropout.forward(relu(linear_shared(first, &x0, shared)));
                    for layer in rest {
                        d = self.dropout.forward(relu(layer.forward(d)));
                    }
                    d
                }
                None => x0,
            };
            Tensor::cat(vec![x, deep], 1)
        };
        relu(self.proj.forward(features))
    }

    fn cross_net(&self, x0: Tensor<2>) -> Tensor<2> {
        let mut x = x0.clone();
        for layer in &self.cross {
            x = layer.forward(x0.clone(), x);
        }
        x
    }

    fn deep_net(&self, mut x: Tensor<2>) -> Tensor<2> {
        for layer in &self.deep {
            x = self.dropout.forward(relu(layer.forward(x)));
        }
        x
    }

    /// Feature extractor: `[B, F*D]` -> latent `z`, `[B, latent_dim]`.
    pub fn h(&self, x0: Tensor<2>) -> Tensor<2> {
        let features = if self.stacked {
            self.deep_net(self.cross_net(x0))
        } else {
            Tensor::cat(vec![self.cross_net(x0.clone()), self.deep_net(x0)], 1)
        };
        relu(self.proj.forward(features))
    }

    /// Head: `[B, latent_dim]` -> logit `[B, 1]`.
    pub fn f(&self, z: Tensor<2>) -> Tensor<2> {
        self.head.forward(z)
    }
}
