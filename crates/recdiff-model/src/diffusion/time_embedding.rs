//! The sinusoidal step embedding every denoiser conditions on (DiffRec, DreamRec, DimeRec, the
//! CTR DiffRec enhancer): step `t` as `[sin(t f_0), …, sin(t f_{h-1}), cos(t f_0), …]` with
//! `f_k = 10000^(-k/h)` and `h = dim / 2`.

use burn::tensor::{Device, Tensor, TensorData};

/// Sinusoidal embeddings of steps `t`, `[B, dim]`.
pub fn time_embedding(t: &[usize], dim: usize, device: &Device) -> Tensor<2> {
    let half = (dim / 2).max(1);
    let mut v = Vec::with_capacity(t.len() * dim);
    for &step in t {
        for k in 0..dim {
            let freq = (-(10_000f64.ln()) * (k % half) as f64 / half as f64).exp();
            let a = step as f64 * freq;
            v.push(if k < half { a.sin() } else { a.cos() } as f32);
        }
    }
    Tensor::from_data(TensorData::new(v, [t.len(), dim]), device)
}
