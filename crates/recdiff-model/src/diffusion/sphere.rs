//! Diffusion on the unit sphere `S^{d-1}` (DimeRec's forward process): a geodesic random walk.
//!
//! One step of angle `a` from `x`: draw a direction `u` uniformly in the tangent space at `x`
//! (`z ~ N(0, I_d)` with its `x` component removed, normalised) and follow the great circle,
//! `Exp_x(a u) = cos(a) x + sin(a) u`. Whatever `x` is, `E[x'·x0 | x] = cos(a) (x·x0)` (the
//! direction is symmetric about `x`), so after steps `a_1..a_k` the mean cosine to the start is
//! exactly `Π cos(a_i)`.
//!
//! [`step_angles`] schedules the steps by the angle the walk should reach: the mean cosine after `k`
//! of `T` steps is `cos(θ_T k / T)`, so the typical angle grows linearly to `θ_T` and every step is
//! a distinct noise level. (A Brownian step `sqrt(dt)·z` instead moves about `sqrt(dt (d-1))`, the
//! tangent noise having `d-1` dimensions: at d = 64 a walk sized for 0.5 rad in total was already
//! near-uniform after a few of its 20 steps.) Points are renormalised after each step so rounding
//! never drifts off the sphere. The reverse direction uses [`slerp`] along the great circle.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `x / |x|` (a zero vector stays zero).
pub fn normalize(x: &mut [f32]) {
    let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    if n > 0.0 {
        x.iter_mut().for_each(|v| *v /= n);
    }
}

/// The angle of each of `steps` steps such that the mean cosine to the start after `k` of them
/// is `cos(θ_k)`, `θ_k = θ_T k / T` with `θ_T = final_angle` (radians, at most π/2):
/// `a_k = acos(cos θ_k / cos θ_{k-1})`.
pub fn step_angles(final_angle: f64, steps: usize) -> Vec<f32> {
    let (final_angle, steps) = (final_angle.clamp(0.0, std::f64::consts::FRAC_PI_2), steps.max(1));
    let theta = |k: usize| final_angle * k as f64 / steps as f64;
    (1..=steps).map(|k| (theta(k).cos() / theta(k - 1).cos()).clamp(-1.0, 1.0).acos() as f32).collect()
}

/// One geodesic step of `angle` radians from the unit vector `x` in a uniformly drawn tangent
/// direction, in place.
pub fn walk_step(x: &mut [f32], angle: f32, rng: &mut (impl Rng + ?Sized)) {
    let mut u: Vec<f32> = (0..x.len()).map(|_| StandardNormal.sample(rng)).collect();
    let along = x.iter().zip(&u).map(|(a, b)| a * b).sum::<f32>();
    u.iter_mut().zip(x.iter()).for_each(|(ui, xi)| *ui -= along * xi);
    normalize(&mut u);
    let (c, s) = (angle.cos(), angle.sin());
    x.iter_mut().zip(&u).for_each(|(xi, ui)| *xi = c * *xi + s * ui);
    normalize(x);
}

/// The steps of `angles` from `x` (unit), in order, in place.
pub fn walk(x: &mut [f32], angles: &[f32], rng: &mut (impl Rng + ?Sized)) {
    for &a in angles {
        walk_step(x, a, rng);
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
                walk_step(&mut x, 0.3, &mut rng);
                assert!((norm(&x) - 1.0).abs() < 1e-5, "dim {dim}, step {step}: |x| = {}", norm(&x));
            }
        }
    }

    /// Mean angle (degrees) and mean cosine to the start after each of the `T` steps of the shipped
    /// DimeRec walk (d = 64, T = 20, 87°), over `runs` walks.
    fn shipped_walk_profile(runs: usize) -> (Vec<f64>, Vec<f64>) {
        let (dim, steps, final_deg) = (64, 20, 87.0_f64);
        let angles = step_angles(final_deg.to_radians(), steps);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (mut deg, mut cos) = (vec![0.0; steps], vec![0.0; steps]);
        for _ in 0..runs {
            let start = uniform_point(dim, &mut rng);
            let mut x = start.clone();
            for k in 0..steps {
                walk_step(&mut x, angles[k], &mut rng);
                deg[k] += (angle(&start, &x) as f64).to_degrees() / runs as f64;
                cos[k] += start.iter().zip(&x).map(|(a, b)| (a * b) as f64).sum::<f64>() / runs as f64;
            }
        }
        (deg, cos)
    }

    #[test]
    fn the_shipped_walk_reaches_each_noise_level_in_turn_and_near_uniform_only_at_the_last_step() {
        let (deg, cos) = shipped_walk_profile(2_000);
        // Every step adds angle: no two noise levels alike.
        assert!(deg.windows(2).all(|w| w[1] > w[0] + 1.5), "mean angle by step: {deg:?}");
        // The mean cosine follows the schedule cos(87° k / 20) (standard error about 0.005).
        for (k, c) in cos.iter().enumerate() {
            let want = (87.0_f64 * (k + 1) as f64 / 20.0).to_radians().cos();
            assert!((c - want).abs() < 0.02, "step {}: mean cos {c:.4}, scheduled {want:.4}", k + 1);
        }
        // Uniform points sit at 90° ± 7° from the start in 64 dimensions: reached at T, not before.
        assert!(deg[19] > 84.0 && deg[17] < 83.0 && deg[9] < 50.0, "mean angle by step: {deg:?}");
        // The old Brownian walk (spread 0.5, dt = spread²/T) was at 50° after one step.
        assert!(deg[0] < 12.0, "first step {:.1}°", deg[0]);
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
