//! Dropout with burn's masks, drawn in one pass: `x * m / (1 - p)`, `m ~ Bernoulli(1 - p)` per
//! element, in training (an autodiff device) only; the identity otherwise.
//!
//! burn's `Dropout` draws its mask element by element through a sampler it rebuilds for every
//! element (about a fifth of a DiffRec step on MovieLens-100K). This layer draws the same numbers:
//! inside [`crate::seeding::seeded_forward`] it takes them from the thread's mirror of the device
//! RNG with rand's `Bernoulli`, in row-major order, as burn does, and multiplies once by a mask
//! holding `0` or `1 / (1 - p)` (burn multiplies by the 0/1 mask, then by `1 / (1 - p)`: the same
//! product). Outside `seeded_forward` it falls back to burn's own draw.
//!
//! A forward pass must draw all its masks through this layer or all through burn's (see
//! [`crate::seeding`]); every top-K model uses this one.
//!
//! Shapes: any `[.., n]`, unchanged.

use burn::module::Module;
use burn::tensor::{Distribution, Tensor, TensorData};
use rand_burn::distr::{Bernoulli, Distribution as _};

#[derive(Module, Debug)]
pub struct Dropout {
    pub prob: f64,
}

impl Dropout {
    /// Dropout with drop probability `prob`, in `[0, 1)` (callers validate it, naming the key).
    pub fn new(prob: f64) -> Self {
        Self { prob }
    }

    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if !input.device().is_autodiff() || self.prob == 0.0 {
            return input;
        }
        let keep = 1.0 - self.prob;
        let shape = input.shape();
        let n = shape.num_elements();
        let scale = (1.0 / keep) as f32;
        let mask = crate::seeding::with_mirror(|rng| match Bernoulli::new(keep) {
            Ok(bernoulli) => Some((0..n).map(|_| if bernoulli.sample(rng) { scale } else { 0.0 }).collect::<Vec<_>>()),
            Err(_) => None,
        })
        .flatten();
        match mask {
            Some(values) => {
                let device = input.device();
                input * Tensor::from_data(TensorData::new(values, shape), &device)
            }
            None => {
                let random = input.random_like(Distribution::Bernoulli(keep));
                (input * random) * (1.0 / keep)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::seeded_forward;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    fn input(device: &Device) -> Tensor<2> {
        let v: Vec<f32> = (0..7 * 301).map(|i| ((i % 13) as f32 - 6.0) * 0.37).collect();
        Tensor::from_data(TensorData::new(v, [7, 301]), device)
    }

    fn bits(t: Tensor<2>) -> Vec<u32> {
        t.into_data().iter::<f32>().map(f32::to_bits).collect()
    }

    #[test]
    fn masks_are_burns_masks_bit_for_bit_under_the_same_seed() {
        let device = Device::flex().autodiff();
        for (p, stream) in [(0.5, 3), (0.2, 4), (0.9, 5)] {
            let ours = seeded_forward(&device, 17, stream, || {
                let d = Dropout::new(p);
                // Two layers in a row draw consecutive masks, as burn's two would.
                (d.forward(input(&device)), d.forward(input(&device) * 2.0))
            });
            let burns = seeded_forward(&device, 17, stream, || {
                let d = DropoutConfig::new(p).init();
                (d.forward(input(&device)), d.forward(input(&device) * 2.0))
            });
            assert_eq!(bits(ours.0.clone()), bits(burns.0), "first mask, p = {p}");
            assert_eq!(bits(ours.1), bits(burns.1), "second mask, p = {p}");
            let zeros = ours.0.into_data().iter::<f32>().filter(|v| *v == 0.0).count();
            let expected = p * 7.0 * 301.0;
            assert!((zeros as f64 - expected).abs() < 0.1 * 7.0 * 301.0, "p = {p}: {zeros} zeros");
        }
    }

    #[test]
    fn inference_and_zero_probability_leave_the_input_alone() {
        let inner = Device::flex();
        let x = input(&inner);
        assert_eq!(bits(Dropout::new(0.5).forward(x.clone())), bits(x));
        let device = Device::flex().autodiff();
        let y = seeded_forward(&device, 1, 1, || Dropout::new(0.0).forward(input(&device)));
        assert_eq!(bits(y), bits(input(&device)));
    }

    #[test]
    fn gradients_flow_through_the_kept_entries_scaled() {
        let device = Device::flex().autodiff();
        let x = input(&device).require_grad();
        let (y, g) = seeded_forward(&device, 9, 2, || {
            let y = Dropout::new(0.5).forward(x.clone());
            let g = y.clone().sum().backward();
            (y, g)
        });
        let grad = x.grad(&g).unwrap().into_data().iter::<f32>().collect::<Vec<_>>();
        let kept = y.into_data().iter::<f32>().collect::<Vec<_>>();
        let xs = input(&device).into_data().iter::<f32>().collect::<Vec<_>>();
        // Where x is non-zero the output shows whether the entry was kept: gradient 1 / (1 - p), or 0.
        for ((g, k), x) in grad.iter().zip(&kept).zip(&xs).filter(|(_, x)| **x != 0.0) {
            assert_eq!(*g, if *k == 0.0 { 0.0 } else { 2.0 }, "x {x}, kept {k}");
        }
        assert!(grad.contains(&2.0) && grad.contains(&0.0));
    }
}
