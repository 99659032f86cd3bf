//! Seeded initialisation of dense weights, independent of burn's process-global RNG: every float
//! parameter is redrawn from ChaCha8 seeded by the experiment seed, in module visit order, so the
//! same seed gives the same model whatever else the process (other threads, other models) does.
//!
//! The distribution is burn's `Linear` default: uniform in `±1/sqrt(fan_in)` (Kaiming uniform with
//! gain `1/sqrt(3)`), `fan_in` being a weight's first dimension (`[d_in, d_out]`); a bias uses the
//! fan-in of the weight visited just before it. One-dimensional parameters that burn initialises to a
//! constant (layer-norm scales and shifts) are kept.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct SeededInit {
    rng: ChaCha8Rng,
    fan_in: usize,
}

impl ModuleMapper for SeededInit {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let rng = &mut self.rng;
        let fan_in = &mut self.fan_in;
        param.map(|t| {
            let dims = t.dims();
            if D == 1 && is_constant(&t) {
                // Norm scales and shifts (1s, 0s) are deterministic already and must stay so.
                return t;
            }
            if D >= 2 {
                *fan_in = dims[0].max(1);
            }
            let bound = 1.0 / (*fan_in as f32).sqrt();
            let n: usize = dims.iter().product();
            let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..=bound)).collect();
            let device = t.device();
            let fresh = Tensor::<D>::from_data(TensorData::new(values, dims), &device);
            if t.is_require_grad() { fresh.require_grad() } else { fresh }
        })
    }
}

fn is_constant<const D: usize>(t: &Tensor<D>) -> bool {
    let values = t.clone().into_data().try_into_vec::<f32>().unwrap_or_default();
    values.len() >= 2 && values.windows(2).all(|w| w[0] == w[1])
}

/// Redraws every float parameter of `module` from `seed`.
pub fn seeded_init<M: Module>(module: M, seed: u64) -> M {
    module.map(&mut SeededInit { rng: ChaCha8Rng::seed_from_u64(seed ^ 0xD15E_A5E5), fan_in: 1 })
}

/// Builds a module with `build` (burn's layer constructors) and redraws its weights from `seed`,
/// holding the lock of burn's RNG throughout ([`crate::seeding::exclusive`]): burn draws default
/// weights lazily, when a parameter is first read, so a module built or first read outside the
/// lock would advance the RNG under another thread's seeded forward pass. Every model is built
/// through this.
pub fn build_seeded<M: Module>(seed: u64, build: impl FnOnce() -> M) -> M {
    crate::seeding::exclusive(|| seeded_init(build(), seed))
}
