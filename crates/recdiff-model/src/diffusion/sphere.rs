//! Diffusion on the unit sphere `S^{d-1}` (DimeRec's forward process): a geodesic random walk.
//!
//! One step from `x` with step size `dt`: draw `z ~ N(0, I_d)`, project it on the tangent space,
//! `v = sqrt(dt) (I - x xᵀ) z`, and follow the geodesic, `Exp_x(v) = cos|v| x + sin|v| v/|v|`.
//! After `k` steps the walk has run for time `k·dt`; its spread around the start grows with `k`
//! (Brownian motion on the sphere). Points are renormalised after each step so rounding never
//! drifts off the sphere. The reverse direction uses [`slerp`] along the great circle.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `x / |x|` (a zero vector stays zero).
pub fn normalize(x: &mut [f32]) {
    let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    if n > 0.0 {
        x.iter_mut().for_each(|v| *v /= n);
    }
}

/// The exponential map at `x` (unit) of the tangent vector `v`, written into `x`.
pub fn exp_map(x: &mut [f32], v: &[f32]) {
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    if norm < 1e-12 {
        return;
    }
    let (c, s) = (norm.cos(), norm.sin() / norm);
    x.iter_mut().zip(v).for_each(|(xi, vi)| *xi = c * *xi + s * vi);
    normalize(x);
}

/// One geodesic random-walk step of size `dt` from the unit vector `x`, in place.
pub fn walk_step(x: &mut [f32], dt: f32, rng: &mut (impl Rng + ?Sized)) {
    let z: Vec<f32> = (0..x.len()).map(|_| StandardNormal.sample(rng)).collect();
    let along = x.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>();
    let scale = dt.sqrt();
    let v: Vec<f32> = x.iter().zip(&z).map(|(xi, zi)| scale * (zi - along * xi)).collect();
    exp_map(x, &v);
}

/// `steps` walk steps from `x` (unit), in place.
pub fn walk(x: &mut [f32], steps: usize, dt: f32, rng: &mut (impl Rng + ?Sized)) {
    for _ in 0..steps {
        walk_step(x, dt, rng);
    }
}

/// Geodesic distance (angle) between unit vectors.
pub fn angle(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>().clamp(-1.0, 1.0).acos()
}

/// The point a fraction `s` of the way from `a` to `b` along the great circle (both unit).
pub fn slerp(a: &[f32], b: &[f32], s: f32) -> Vec<f32> {
    let theta = angle(a, b);
    if theta < 1e-6 {
        return b.to_vec();
    }
    let (wa, wb) = (((1.0 - s) * theta).sin() / theta.sin(), (s * theta).sin() / theta.sin());
    let mut out: Vec<f32> = a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect();
    normalize(&mut out);
    out
}

/// A point drawn uniformly on the sphere.
pub fn uniform_point(dim: usize, rng: &mut (impl Rng + ?Sized)) -> Vec<f32> {
    let mut x: Vec<f32> = (0..dim).map(|_| StandardNormal.sample(rng)).collect();
    normalize(&mut x);
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn norm(x: &[f32]) -> f32 {
        x.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    #[test]
    fn geodesic_walk_stays_on_the_sphere() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for dim in [2, 3, 64] {
            let mut x = uniform_point(dim, &mut rng);
            for step in 0..2_000 {
                walk_step(&mut x, 0.05, &mut rng);
                assert!((norm(&x) - 1.0).abs() < 1e-5, "dim {dim}, step {step}: |x| = {}", norm(&x));
            }
        }
    }

    #[test]
    fn spread_grows_with_the_number_of_steps() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let start = uniform_point(64, &mut rng);
        let mean_angle = |steps: usize, rng: &mut ChaCha8Rng| {
            let runs = 300;
            (0..runs)
                .map(|_| {
                    let mut x = start.clone();
                    walk(&mut x, steps, 0.0002, rng);
                    angle(&start, &x)
                })
                .sum::<f32>()
                / runs as f32
        };
        let spreads: Vec<f32> = [1, 4, 16, 64].iter().map(|&k| mean_angle(k, &mut rng)).collect();
        assert!(spreads.windows(2).all(|w| w[1] > w[0] * 1.2), "spread by steps 1, 4, 16, 64: {spreads:?}");
    }

    #[test]
    fn slerp_ends_at_its_endpoints_and_stays_unit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (a, b) = (uniform_point(8, &mut rng), uniform_point(8, &mut rng));
        assert!(angle(&slerp(&a, &b, 0.0), &a) < 1e-3);
        assert!(angle(&slerp(&a, &b, 1.0), &b) < 1e-3);
        let mid = slerp(&a, &b, 0.5);
        assert!((norm(&mid) - 1.0).abs() < 1e-5);
        assert!((angle(&a, &mid) - angle(&mid, &b)).abs() < 1e-3);
    }
}
