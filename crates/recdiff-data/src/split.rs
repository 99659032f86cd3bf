//! Train/valid/test splits: random (seeded, exact ratios), temporal (by timestamp) and per-user
//! leave-one-out (last interaction test, second to last valid).

use crate::error::{DataError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const TRAIN: u8 = 0;
pub const VALID: u8 = 1;
pub const TEST: u8 = 2;
pub const NAMES: [&str; 3] = ["train", "valid", "test"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SplitSpec {
    /// Rows shuffled with `seed`, then cut at the ratios (exact counts, rounded down; test takes the rest).
    Random { ratios: [f64; 3], seed: u64 },
    /// Rows ordered by timestamp (ties by file order), then cut at the ratios: the future is tested.
    Temporal { ratios: [f64; 3] },
    /// Per user by timestamp: last row test, second to last valid, the rest train. Users with two rows
    /// give one to train and one to test; users with one row train only.
    LeaveOneOut,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec::Random { ratios: [0.8, 0.1, 0.1], seed: 42 }
    }
}

impl SplitSpec {
    pub fn needs_timestamp(&self) -> bool {
        !matches!(self, SplitSpec::Random { .. })
    }

    pub fn needs_user(&self) -> bool {
        matches!(self, SplitSpec::LeaveOneOut)
    }

    fn check_ratios(ratios: &[f64; 3]) -> Result<()> {
        let sum: f64 = ratios.iter().sum();
        if ratios.iter().any(|r| !(0.0..=1.0).contains(r)) || (sum - 1.0).abs() > 1e-6 {
            return Err(DataError::Invalid(format!("split ratios {ratios:?} must be in [0, 1] and sum to 1")));
        }
        Ok(())
    }

    /// Assigns each of `n` rows to TRAIN, VALID or TEST. `users` and `timestamps` are per row and
    /// may be empty when the split does not need them.
    pub fn assign(&self, n: usize, users: &[u32], timestamps: &[i64]) -> Result<Vec<u8>> {
        match self {
            SplitSpec::Random { ratios, seed } => {
                Self::check_ratios(ratios)?;
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(*seed));
                Ok(cut(&order, ratios))
            }
            SplitSpec::Temporal { ratios } => {
                Self::check_ratios(ratios)?;
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_by_key(|&i| timestamps[i as usize]);
                Ok(cut(&order, ratios))
            }
            SplitSpec::LeaveOneOut => Ok(leave_one_out(users, timestamps)),
        }
    }
}

/// Gives the first `ratios[0]` share of `order` to train, the next to valid, the rest to test.
fn cut(order: &[u32], ratios: &[f64; 3]) -> Vec<u8> {
    let n = order.len();
    let n_train = (n as f64 * ratios[0]).round() as usize;
    let n_valid = ((n as f64 * ratios[1]).round() as usize).min(n - n_train);
    let mut out = vec![TEST; n];
    for (pos, &i) in order.iter().enumerate() {
        out[i as usize] = if pos < n_train {
            TRAIN
        } else if pos < n_train + n_valid {
            VALID
        } else {
            TEST
        };
    }
    out
}

fn leave_one_out(users: &[u32], timestamps: &[i64]) -> Vec<u8> {
    let mut order: Vec<u32> = (0..users.len() as u32).collect();
    order.sort_by_key(|&i| (users[i as usize], timestamps[i as usize], i));
    let mut out = vec![TRAIN; users.len()];
    for group in order.chunk_by(|&a, &b| users[a as usize] == users[b as usize]) {
        let len = group.len();
        if len >= 2 {
            out[group[len - 1] as usize] = TEST;
        }
        if len >= 3 {
            out[group[len - 2] as usize] = VALID;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_split_has_exact_sizes_and_is_seeded() {
        let spec = SplitSpec::Random { ratios: [0.8, 0.1, 0.1], seed: 3 };
        let a = spec.assign(1000, &[], &[]).unwrap();
        let count = |s| a.iter().filter(|&&x| x == s).count();
        assert_eq!((count(TRAIN), count(VALID), count(TEST)), (800, 100, 100));
        assert_eq!(a, spec.assign(1000, &[], &[]).unwrap());
        let other = SplitSpec::Random { ratios: [0.8, 0.1, 0.1], seed: 4 };
        assert_ne!(a, other.assign(1000, &[], &[]).unwrap());
    }

    #[test]
    fn temporal_split_tests_on_the_latest_rows() {
        let ts: Vec<i64> = vec![50, 10, 40, 20, 30, 90, 80, 70, 60, 100];
        let a = SplitSpec::Temporal { ratios: [0.6, 0.2, 0.2] }.assign(10, &[], &ts).unwrap();
        for (i, &t) in ts.iter().enumerate() {
            let expected = if t <= 60 {
                TRAIN
            } else if t <= 80 {
                VALID
            } else {
                TEST
            };
            assert_eq!(a[i], expected, "timestamp {t}");
        }
    }

    #[test]
    fn leave_one_out_holds_out_each_users_last_two() {
        let users = [1, 1, 1, 2, 2, 3, 1];
        let ts = [5, 1, 3, 7, 8, 1, 9];
        let a = SplitSpec::LeaveOneOut.assign(7, &users, &ts).unwrap();
        assert_eq!(a, vec![VALID, TRAIN, TRAIN, TRAIN, TEST, TRAIN, TEST]);
    }

    #[test]
    fn ratios_must_sum_to_one() {
        let err = SplitSpec::Random { ratios: [0.8, 0.3, 0.1], seed: 1 }.assign(10, &[], &[]);
        assert!(err.unwrap_err().to_string().contains("sum to 1"));
    }
}
