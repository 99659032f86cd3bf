//! The forward pass of burn's `TransformerEncoder`, with recdiff's dropout.
//!
//! SASRec (and so DreamRec, PreferDiff and DimeRec, which encode histories with it) keeps burn's
//! `TransformerEncoder` as its parameters (same construction, so the same initial weights and
//! the same record layout), but runs it through this forward: burn's operations in burn's order
//! (pre- or post-norm layers; attention as four linears, scaled scores, padding and causal masks
//! filled with the layer's `min_float`, softmax or quiet softmax; a position-wise feed-forward
//! network), with every dropout (attention weights, both residual paths, the feed-forward hidden
//! layer) drawn by [`crate::dropout::Dropout`]. burn's own dropout draws one element at a time
//! through a sampler it rebuilds per element, on one thread (a fifth of a SASRec epoch's samples);
//! recdiff's draws the same masks from the mirror of burn's device RNG in one pass, the large
//! ones in parallel. Pinned against burn's `TransformerEncoder::forward` bit for bit, in
//! training with dropout and in inference.
//!
//! Shapes: input `[B, L, d]`, padding mask `[B, L]` (true = padded), attention mask `[B, L, L]`
//! (true = hidden) -> `[B, L, d]`.

use crate::dropout::Dropout;
use burn::nn::attention::MultiHeadAttention;
use burn::nn::transformer::{PositionWiseFeedForward, TransformerEncoder, TransformerEncoderLayer};
use burn::tensor::activation::{quiet_softmax, softmax};
use burn::tensor::{Bool, Tensor};

/// `encoder.forward(input)` with recdiff's dropout.
pub fn forward(encoder: &TransformerEncoder, x: Tensor<3>, pad: &Tensor<2, Bool>, attn: &Tensor<3, Bool>) -> Tensor<3> {
    encoder.layers.iter().fold(x, |x, layer| layer_forward(layer, x, pad, attn))
}

fn layer_forward(
    layer: &TransformerEncoderLayer,
    x: Tensor<3>,
    pad: &Tensor<2, Bool>,
    attn: &Tensor<3, Bool>,
) -> Tensor<3> {
    let dropout = Dropout::new(layer.dropout.prob);
    let residual = if layer.norm_first { layer.norm_2.forward(x.clone()) } else { x.clone() };
    let residual = dropout.forward(attention(&layer.mha, residual, pad, attn));
    let mut x = x + residual;
    let residual = if layer.norm_first {
        layer.norm_1.forward(x.clone())
    } else {
        x = layer.norm_1.forward(x);
        x.clone()
    };
    let residual = dropout.forward(feed_forward(&layer.pwff, residual));
    let x = x + residual;
    if layer.norm_first { x } else { layer.norm_2.forward(x) }
}

/// burn's `MultiHeadAttention::forward` of a self-attention input: the context `[B, L, d]`.
fn attention(mha: &MultiHeadAttention, x: Tensor<3>, pad: &Tensor<2, Bool>, attn: &Tensor<3, Bool>) -> Tensor<3> {
    let [b, l, d] = x.dims();
    let heads =
        |linear: &burn::nn::Linear| linear.forward(x.clone()).reshape([b, l, mha.n_heads, mha.d_k]).swap_dims(1, 2);
    let (query, key, value) = (heads(&mha.query), heads(&mha.key), heads(&mha.value));
    let scores = query.matmul(key.transpose()).div_scalar((mha.d_k as f32).sqrt());
    let scores = scores.mask_fill(pad.clone().reshape([b, 1, 1, l]), mha.min_float);
    let scores = scores.mask_fill(attn.clone().reshape([b, 1, l, l]), mha.min_float);
    let weights = if mha.quiet_softmax { quiet_softmax(scores, 3) } else { softmax(scores, 3) };
    let weights = Dropout::new(mha.dropout.prob).forward(weights);
    let context = weights.matmul(value).swap_dims(1, 2).reshape([b, l, d]);
    mha.output.forward(context)
}

/// burn's `PositionWiseFeedForward::forward`.
fn feed_forward(pwff: &PositionWiseFeedForward, x: Tensor<3>) -> Tensor<3> {
    let h = pwff.activation.forward(pwff.linear_inner.forward(x));
    pwff.linear_outer.forward(Dropout::new(pwff.dropout.prob).forward(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::build_seeded;
    use crate::seeding::seeded_forward;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::nn::attention::generate_autoregressive_mask;
    use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
    use burn::tensor::{Device, TensorData};

    const B: usize = 40;
    const L: usize = 30;
    const D: usize = 16;

    fn bits<const N: usize>(t: Tensor<N>) -> Vec<u32> {
        t.into_data().iter::<f32>().map(f32::to_bits).collect()
    }

    /// Gradients of every float parameter, in visit order, as bits.
    struct GradBits<'a>(&'a burn::optim::GradientsParams, Vec<Vec<u32>>);

    impl ModuleVisitor for GradBits<'_> {
        fn visit_float<const N: usize>(&mut self, param: &Param<Tensor<N>>) {
            self.1.push(self.0.get::<N>(param.id).map(bits).unwrap_or_default());
        }
    }

    /// Output, and parameter gradients under a non-uniform upstream gradient, of both forwards
    /// on the same encoder, input and (left-padded, causal) masks, each inside `seeded_forward`.
    fn both(norm_first: bool, device: &Device) -> [(Vec<u32>, Vec<Vec<u32>>); 2] {
        let cfg = TransformerEncoderConfig::new(D, 4 * D, 2, 2).with_dropout(0.3).with_norm_first(norm_first);
        let encoder = build_seeded(11, || cfg.init(device));
        let v: Vec<f32> = (0..B * L * D).map(|i| ((i * 37) % 101) as f32 * 0.02 - 1.0).collect();
        let x = Tensor::<3>::from_data(TensorData::new(v, [B, L, D]), device);
        let pad: Vec<bool> = (0..B * L).map(|i| i % L < (i / L) % 5).collect();
        let pad = Tensor::<2, Bool>::from_data(TensorData::new(pad, [B, L]), device);
        let causal = generate_autoregressive_mask(B, L, device);
        let w: Vec<f32> = (0..B * L * D).map(|i| ((i % 7) as f32 - 3.0) * 0.5).collect();
        let w = Tensor::<3>::from_data(TensorData::new(w, [B, L, D]), device);
        let run = |ours: bool| {
            let y = seeded_forward(device, 3, 9, || match ours {
                true => forward(&encoder, x.clone(), &pad, &causal),
                false => encoder
                    .forward(TransformerEncoderInput::new(x.clone()).mask_pad(pad.clone()).mask_attn(causal.clone())),
            });
            let grads = burn::optim::GradientsParams::from_grads((y.clone() * w.clone()).sum().backward(), &encoder);
            let mut visitor = GradBits(&grads, vec![]);
            encoder.visit(&mut visitor);
            (bits(y), visitor.1)
        };
        [run(true), run(false)]
    }

    #[test]
    fn training_forward_is_burns_bit_for_bit_with_the_same_masks_and_gradients() {
        let device = Device::flex().autodiff();
        for norm_first in [true, false] {
            let [ours, burns] = both(norm_first, &device);
            assert_eq!(ours.0, burns.0, "outputs, norm_first = {norm_first}");
            let zeros = ours.0.iter().filter(|&&b| f32::from_bits(b) == 0.0).count();
            assert!(zeros < ours.0.len() / 100, "outputs are not mostly zero");
            assert_eq!(ours.1.len(), burns.1.len());
            for (i, (p, q)) in ours.1.iter().zip(&burns.1).enumerate() {
                assert!(!p.is_empty(), "parameter {i} has a gradient");
                assert_eq!(p, q, "gradient of parameter {i}, norm_first = {norm_first}");
            }
        }
    }

    #[test]
    fn inference_forward_is_burns_bit_for_bit() {
        let device = Device::flex();
        let cfg = TransformerEncoderConfig::new(D, 4 * D, 2, 1).with_dropout(0.3).with_norm_first(true);
        let encoder = build_seeded(2, || cfg.init(&device));
        let v: Vec<f32> = (0..4 * 6 * D).map(|i| ((i * 13) % 29) as f32 * 0.1 - 1.4).collect();
        let x = Tensor::<3>::from_data(TensorData::new(v, [4, 6, D]), &device);
        let pad = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; 24], [4, 6]), &device);
        let causal = generate_autoregressive_mask(4, 6, &device);
        let ours = forward(&encoder, x.clone(), &pad, &causal);
        let burns = encoder.forward(TransformerEncoderInput::new(x).mask_pad(pad).mask_attn(causal));
        assert_eq!(bits(ours), bits(burns));
    }
}
