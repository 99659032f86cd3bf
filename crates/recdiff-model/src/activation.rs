//! `tanh`, `exp` and `log_softmax` with burn's values and gradients, computed once on both cores.
//!
//! burn's `tanh` runs element by element on one thread, and its backward computes `tanh` of the
//! saved input again to form `1 - y²` (about 5% of a DiffRec step on MovieLens-100K, all of it
//! on the main thread). Under autodiff this layer computes `y = tanh(x)` and `c = 1 - y·y` on
//! the host, in parallel chunks, and returns `y + (x - detach(x)) · c`: `x - detach(x)` is exactly
//! zero, so the value is `y` (up to the sign of a zero); the gradient reaching `x` is `g · c`, the
//! product burn's backward forms (`c = (-(y·y)) + 1` there, the same f32 value). Both are pinned
//! bit for bit against burn's `tanh`. Without autodiff, for small tensors, or where `x` holds a
//! non-finite value (which `x - detach(x)` would turn into NaN), it is burn's `tanh`.
//!
//! `exp` is the same construction (`y + (x - detach(x)) · y`; burn's backward multiplies the
//! gradient by `exp` of the saved input, computed again), and `log_softmax` is burn's own
//! composition (`shifted - log(sum(exp(shifted)))`, `shifted = x - max(detach(x))`) with that
//! `exp`: the softmax over the catalogue of SASRec and DimeRec (`[B·L, n]`) spent a fifth of an
//! epoch in burn's serial `exp`, forward and backward.
//!
//! Shapes: any, unchanged; `log_softmax` along `dim`.

use burn::tensor::{Tensor, TensorData, activation};
use rayon::prelude::*;

/// Below this many elements the host round trip costs more than it saves.
const MIN_HOST: usize = 4096;
const CHUNK: usize = 4096;

pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    host_unary(
        x,
        activation::tanh,
        |v| {
            let y = v.tanh();
            (y, 1.0 - y * y)
        },
        false,
    )
}

pub fn exp<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    host_unary(x, Tensor::exp, |v| (v.exp(), 0.0), true)
}

/// burn's `log_softmax` (the backend's default composition, which its autodiff uses), with
/// [`exp`].
pub fn log_softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().detach().max_dim(dim);
    let shifted = x - max;
    let log_sum_exp = exp(shifted.clone()).sum_dim(dim).log();
    shifted - log_sum_exp
}

/// `f(x)` as `y + (x - detach(x)) · c` for `(y, c) = f_host(x)` elementwise (`c` the derivative
/// burn's backward forms; `y` itself when `c_is_y`), or `burn_op(x)` where the host path does
/// not apply.
fn host_unary<const D: usize>(
    x: Tensor<D>,
    burn_op: impl FnOnce(Tensor<D>) -> Tensor<D>,
    f_host: impl Fn(f32) -> (f32, f32) + Sync,
    c_is_y: bool,
) -> Tensor<D> {
    let shape = x.shape();
    let n = shape.num_elements();
    if !x.device().is_autodiff() || n < MIN_HOST {
        return burn_op(x);
    }
    let Ok(values) = x.clone().into_data().try_into_vec::<f32>() else {
        return burn_op(x);
    };
    if values.iter().any(|v| !v.is_finite()) {
        return burn_op(x);
    }
    let device = x.device();
    let (y, c) = if c_is_y {
        let mut y = values;
        y.par_chunks_mut(CHUNK).for_each(|y| y.iter_mut().for_each(|v| *v = f_host(*v).0));
        let y = Tensor::<D>::from_data(TensorData::new(y, shape), &device);
        (y.clone(), y)
    } else {
        let (mut y, mut c) = (values, vec![0.0f32; n]);
        y.par_chunks_mut(CHUNK).zip(c.par_chunks_mut(CHUNK)).for_each(|(y, c)| {
            for (y, c) in y.iter_mut().zip(c) {
                (*y, *c) = f_host(*y);
            }
        });
        let y = Tensor::<D>::from_data(TensorData::new(y, shape.clone()), &device);
        (y, Tensor::<D>::from_data(TensorData::new(c, shape), &device))
    };
    y + (x.clone() - x.detach()) * c
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        t.into_data().iter::<f32>().map(f32::to_bits).collect()
    }

    /// Values spread over tanh's whole range (saturated, linear and between), none zero.
    fn input(device: &Device, n: usize) -> Tensor<2> {
        let v: Vec<f32> = (0..n * 37).map(|i| ((i * 7919) % 2003) as f32 * 0.0047 - 4.71 + 1e-3).collect();
        Tensor::<2>::from_data(TensorData::new(v, [n, 37]), device).require_grad()
    }

    /// Forward value and the gradient reaching `x` under a non-uniform upstream gradient.
    fn run(f: impl Fn(Tensor<2>) -> Tensor<2>, n: usize) -> (Vec<u32>, Vec<u32>) {
        let device = Device::flex().autodiff();
        let x = input(&device, n);
        let w: Vec<f32> = (0..n * 37).map(|i| ((i % 11) as f32 - 5.0) * 0.31).collect();
        let w = Tensor::<2>::from_data(TensorData::new(w, [n, 37]), &device);
        let y = f(x.clone());
        let grads = (y.clone() * w).sum().backward();
        let g = x.grad(&grads).expect("x has a gradient");
        (bits(y.inner()), bits(g))
    }

    /// Most of the `n * 37` gradients (given as bits) are clearly non-zero.
    fn assert_nontrivial(gradient_bits: &[u32], n: usize) {
        let big = gradient_bits.iter().filter(|&&b| f32::from_bits(b).abs() > 1e-3).count();
        assert!(big > n * 20, "gradients are not all ~0: {big} of {}", gradient_bits.len());
    }

    #[test]
    fn host_tanh_has_burns_values_and_gradients_bit_for_bit() {
        let n = 300; // 11,100 elements: the host path, over several chunks
        let (ours, burns) = (run(tanh, n), run(activation::tanh, n));
        assert!(n * 37 >= MIN_HOST + CHUNK, "the test must take the chunked host path");
        assert_eq!(ours.0, burns.0, "values");
        assert_eq!(ours.1, burns.1, "gradients");
        assert_nontrivial(&ours.1, n);
    }

    #[test]
    fn host_exp_has_burns_values_and_gradients_bit_for_bit() {
        let n = 300;
        let (ours, burns) = (run(exp, n), run(Tensor::exp, n));
        assert_eq!(ours.0, burns.0, "values");
        assert_eq!(ours.1, burns.1, "gradients");
    }

    #[test]
    fn log_softmax_has_burns_values_and_gradients_bit_for_bit() {
        let n = 300;
        for dim in [0, 1] {
            let (ours, burns) = (run(|x| log_softmax(x, dim), n), run(|x| activation::log_softmax(x, dim), n));
            assert_eq!(ours.0, burns.0, "values along {dim}");
            assert_eq!(ours.1, burns.1, "gradients along {dim}");
            assert_nontrivial(&ours.1, n);
        }
    }

    #[test]
    fn a_non_finite_input_takes_burns_tanh() {
        let device = Device::flex().autodiff();
        let mut v = vec![0.5f32; 8192];
        v[17] = f32::INFINITY;
        let x = Tensor::<1>::from_data(TensorData::new(v, [8192]), &device).require_grad();
        let y: Vec<f32> = tanh(x).into_data().iter::<f32>().collect();
        assert_eq!(y[17], 1.0, "tanh(inf) = 1, not NaN");
        assert_eq!(y[0], 0.5f32.tanh());
    }
}
