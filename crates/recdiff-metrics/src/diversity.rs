//! Diversity of top-K lists: intra-list distance over item attributes and catalogue coverage.
//!
//! Intra-list distance (ILD) of one list is the mean, over unordered pairs of its items, of the
//! Jaccard distance `1 - |A ∩ B| / |A ∪ B|` between their attribute sets (two empty sets are at
//! distance 0); a list of fewer than two items has no pairs and is skipped. Coverage is the share of
//! the catalogue that appears in at least one list.

use std::collections::HashSet;

/// Jaccard distance between two attribute sets (each without duplicates).
pub fn jaccard_distance(a: &[u32], b: &[u32]) -> f64 {
    let inter = a.iter().filter(|x| b.contains(x)).count();
    let union = a.len() + b.len() - inter;
    if union == 0 { 0.0 } else { 1.0 - inter as f64 / union as f64 }
}

/// Mean pairwise Jaccard distance of the items of `list`; `None` with fewer than two items.
pub fn intra_list_distance(list: &[u32], attributes: &[Vec<u32>]) -> Option<f64> {
    let n = list.len();
    if n < 2 {
        return None;
    }
    let mut total = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            total += jaccard_distance(&attributes[list[i] as usize], &attributes[list[j] as usize]);
        }
    }
    Some(total / (n * (n - 1) / 2) as f64)
}

/// Share of `catalogue` items appearing in any of `lists`.
pub fn coverage<'a>(lists: impl IntoIterator<Item = &'a [u32]>, catalogue: usize) -> f64 {
    let seen: HashSet<u32> = lists.into_iter().flatten().copied().collect();
    seen.len() as f64 / catalogue.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ild_and_coverage_match_hand_computation() {
        let attrs = vec![vec![], vec![0, 1], vec![1], vec![2], vec![]];
        assert_eq!(jaccard_distance(&attrs[1], &attrs[2]), 0.5);
        assert_eq!(jaccard_distance(&attrs[1], &attrs[3]), 1.0);
        assert_eq!(jaccard_distance(&attrs[0], &attrs[4]), 0.0);
        // pairs (1,2) 0.5, (1,3) 1, (2,3) 1 -> 2.5 / 3
        assert!((intra_list_distance(&[1, 2, 3], &attrs).unwrap() - 2.5 / 3.0).abs() < 1e-12);
        assert_eq!(intra_list_distance(&[1], &attrs), None);
        assert_eq!(coverage([&[1u32, 2][..], &[2, 3][..]], 4), 0.75);
    }
}
