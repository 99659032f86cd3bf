//! `tanh` with burn's values and gradients, computed once on both cores.
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
//! Shapes: any, unchanged.

use burn::tensor::{Tensor, TensorData, activation};
use rayon::prelude::*;

/// Below this many elements the host round trip costs more than it saves.
const MIN_HOST: usize = 4096;
const CHUNK: usize = 4096;

pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let shape = x.shape();
    let n = shape.num_elements();
    if !x.device().is_autodiff() || n < MIN_HOST {
        return activation::tanh(x);
    }
    let Ok(values) = x.clone().into_data().try_into_vec::<f32>() else {
        return activation::tanh(x);
    };
    if values.iter().any(|v| !v.is_finite()) {
        return activation::tanh(x);
    }
    let (mut y, mut c) = (values, vec![0.0f32; n]);
    y.par_chunks_mut(CHUNK).zip(c.par_chunks_mut(CHUNK)).for_each(|(y, c)| {
        for (y, c) in y.iter_mut().zip(c) {
            *y = y.tanh();
            *c = 1.0 - *y * *y;
        }
    });
    let device = x.device();
    let y = Tensor::<D>::from_data(TensorData::new(y, shape.clone()), &device);
    let c = Tensor::<D>::from_data(TensorData::new(c, shape), &device);
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

    #[test]
    fn host_tanh_has_burns_values_and_gradients_bit_for_bit() {
        let n = 300; // 11,100 elements: the host path, over several chunks
        let (ours, burns) = (run(tanh, n), run(activation::tanh, n));
        assert!(n * 37 >= MIN_HOST + CHUNK, "the test must take the chunked host path");
        assert_eq!(ours.0, burns.0, "values");
        assert_eq!(ours.1, burns.1, "gradients");
        let g: Vec<f32> = ours.1.iter().map(|&b| f32::from_bits(b)).collect();
        assert!(g.iter().filter(|v| v.abs() > 1e-3).count() > n * 20, "gradients are not all ~0");
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
