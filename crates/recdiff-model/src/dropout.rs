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

use crate::seeding::Mirror;
use burn::module::Module;
use burn::tensor::{Distribution, Tensor, TensorData};
use chacha_burn::ChaCha12Rng;
use rand_burn::distr::{Bernoulli, Distribution as _};
use rayon::prelude::*;

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
        let mask = match Bernoulli::new(keep) {
            Ok(bernoulli) => crate::seeding::with_mirror(|mirror| draw_mask(mirror, bernoulli, n, scale)),
            Err(_) => None,
        };
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

/// Elements per stretch of the mask drawn by one task; below two stretches, one loop.
const STRETCH: usize = 1 << 15;

/// `n` mask values, `scale` where kept: element `i` is decided by the `i`-th `u64` of the mirror's
/// stream from where it stands (rand's `Bernoulli` draws one `u64` per sample below p = 1), so
/// stretches drawn in parallel by generators placed at their start give burn's sequential mask.
fn draw_mask(mirror: &mut Mirror, bernoulli: Bernoulli, n: usize, scale: f32) -> Vec<f32> {
    let value = |rng: &mut ChaCha12Rng| if bernoulli.sample(rng) { scale } else { 0.0 };
    if n < 2 * STRETCH {
        return (0..n).map(|_| value(mirror.rng())).collect();
    }
    let start = mirror.word_pos();
    let mut mask = vec![0.0f32; n];
    mask.par_chunks_mut(STRETCH).enumerate().for_each(|(k, out)| {
        let mut rng = mirror.at(start + 2 * (k * STRETCH) as u128);
        out.iter_mut().for_each(|v| *v = value(&mut rng));
    });
    mirror.seek(start + 2 * n as u128);
    mask
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
    fn masks_drawn_in_parallel_stretches_are_burns_masks_and_leave_the_stream_where_burn_does() {
        let device = Device::flex().autodiff();
        // 131 x 1,001 = 131,131 elements: four stretches and a partial one, then a small mask.
        let big = |device: &Device| {
            let v: Vec<f32> = (0..131 * 1001).map(|i| ((i % 11) as f32 - 5.0) * 0.21 + 0.01).collect();
            Tensor::<2>::from_data(TensorData::new(v, [131, 1001]), device)
        };
        let p = 0.5;
        const { assert!(131 * 1001 >= 2 * STRETCH) };
        let ours = seeded_forward(&device, 23, 6, || {
            let d = Dropout::new(p);
            (d.forward(big(&device)), d.forward(big(&device)), d.forward(input(&device)))
        });
        let burns = seeded_forward(&device, 23, 6, || {
            let d = DropoutConfig::new(p).init();
            (d.forward(big(&device)), d.forward(big(&device)), d.forward(input(&device)))
        });
        assert_eq!(bits(ours.0.clone()), bits(burns.0), "first large mask");
        assert_eq!(bits(ours.1.clone()), bits(burns.1), "second large mask");
        assert_eq!(bits(ours.2), bits(burns.2), "the small mask after them");
        assert_ne!(bits(ours.0), bits(ours.1), "consecutive masks differ");
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
