//! Feature dropout, AsymDiffRec's forward process: per sample draw `T ~ U{0, ..., N}` and drop `T`
//! of the sample's present fields, uniformly at random; the resulting mask `s` marks the originally
//! missing and the dropped fields.
//!
//! `N` is the number of the sample's *present* fields (times `max_drop_fraction`, rounded down),
//! so `T` never exceeds what can be dropped; with `max_drop_fraction = 1` a sample may lose every
//! field, leaving the denoiser only the mask. Drawing `T` uniformly makes every noise level equally
//! likely, like drawing the diffusion step uniformly in DDPM training.

use rand::Rng;
use rand::seq::index::sample;
use recdiff_embed::MaskMatrix;

/// Returns the noisy masks of `clean` (original missing plus dropped) and each row's `T`.
pub fn feature_dropout(clean: &MaskMatrix, max_drop_fraction: f64, rng: &mut impl Rng) -> (MaskMatrix, Vec<usize>) {
    let mut noisy = clean.clone();
    let fields = clean.fields();
    let mut steps = Vec::with_capacity(clean.rows());
    let mut present = Vec::with_capacity(fields);
    for r in 0..clean.rows() {
        present.clear();
        present.extend((0..fields).filter(|&f| !clean.get(r, f)));
        let n = (present.len() as f64 * max_drop_fraction.clamp(0.0, 1.0)).floor() as usize;
        let t = rng.random_range(0..=n);
        for i in sample(rng, present.len(), t) {
            noisy.set(r, present[i]);
        }
        steps.push(t);
    }
    (noisy, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn drops_exactly_t_present_fields_and_marks_them() {
        let (rows, fields) = (500, 37);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut clean = MaskMatrix::new(rows, fields);
        for r in 0..rows {
            for f in 0..fields {
                if rng.random::<f64>() < 0.2 {
                    clean.set(r, f);
                }
            }
        }
        let (noisy, steps) = feature_dropout(&clean, 1.0, &mut rng);
        let mut max_t = 0;
        for (r, &t) in steps.iter().enumerate() {
            let present = fields - clean.count(r);
            assert!(t <= present);
            assert_eq!(noisy.count(r), clean.count(r) + t, "row {r}: exactly T fields dropped");
            for f in 0..fields {
                assert!(!clean.get(r, f) || noisy.get(r, f), "originally missing stays marked");
            }
            max_t = max_t.max(t);
        }
        assert!(max_t > fields / 2, "T spans the range");
        let zero = steps.iter().filter(|&&t| t == 0).count();
        assert!(zero > 0, "T = 0 occurs");
    }

    #[test]
    fn t_is_uniform_over_zero_to_the_present_count() {
        // 22,000 samples with 10 present fields (2 of 12 missing): T ~ U{0..10}, 2,000 per value.
        let (rows, fields, missing) = (22_000, 12, 2);
        let mut clean = MaskMatrix::new(rows, fields);
        for r in 0..rows {
            (0..missing).for_each(|f| clean.set(r, (r + 5 * f) % fields));
        }
        let (noisy, steps) = feature_dropout(&clean, 1.0, &mut ChaCha8Rng::seed_from_u64(4));
        let mut counts = [0usize; 11];
        for (r, &t) in steps.iter().enumerate() {
            assert_eq!(noisy.count(r), missing + t);
            counts[t] += 1;
        }
        let expected = rows as f64 / 11.0;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
        // 10 degrees of freedom: P(χ² > 29.59) = 0.001. A T that never reaches N, or favours the
        // middle (e.g. a binomial draw), lands far above it.
        assert!(chi2 < 29.59, "counts of T = 0..10: {counts:?}, chi² = {chi2:.1}");
    }

    #[test]
    fn zero_fraction_drops_nothing() {
        let clean = MaskMatrix::new(10, 5);
        let (noisy, steps) = feature_dropout(&clean, 0.0, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(noisy, clean);
        assert!(steps.iter().all(|&t| t == 0));
    }
}
