//! One name per metric. Every family reports the hit rate as `hr@K`; the top-K family used to call
//! it `hit@K`, and records, logs and configs written then still say so. [`canonical`] maps such an
//! alias to the one name, so that old files read back under the names evaluation reports today.

use std::borrow::Cow;

/// Former metric prefixes and the names they stand for.
pub const ALIASES: [(&str, &str); 1] = [("hit", "hr")];

/// The one name of metric `name`: `hit@10` is `hr@10`; any other name is itself.
pub fn canonical(name: &str) -> Cow<'_, str> {
    let (prefix, rest) = match name.split_once('@') {
        Some((p, k)) => (p, Some(k)),
        None => (name, None),
    };
    match ALIASES.iter().find(|(alias, _)| *alias == prefix) {
        Some((_, to)) => Cow::Owned(match rest {
            Some(k) => format!("{to}@{k}"),
            None => (*to).to_string(),
        }),
        None => Cow::Borrowed(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_former_top_k_hit_name_reads_as_hr_and_other_names_are_untouched() {
        assert_eq!(canonical("hit@10"), "hr@10");
        assert_eq!(canonical("hit"), "hr");
        assert_eq!(canonical("hr@50"), "hr@50");
        assert_eq!(canonical("ndcg@10"), "ndcg@10");
        assert_eq!(canonical("hits@10"), "hits@10", "only the exact former prefix is an alias");
        assert!(matches!(canonical("auc"), Cow::Borrowed(_)));
    }
}
