//! One check of the numbers in a TOML config (experiment, comparison, synthetic log, schema):
//! every float must be finite, and, unless its key is listed as signed, no number may be negative.
//! Probabilities — keys named `dropout`, `corruption`, `p_uncond`, `max_drop_fraction` or ending in
//! `_rate` — must lie in [0, 1] (`dropout` below 1). The error names the key (`train.lr`,
//! `fields[3].clip`), so no NaN, infinity or impossible probability from a config reaches a model,
//! a sampler or a distribution constructor.

/// The first offending number of `table`, as a message naming its dotted key. Keys in `signed`
/// (dotted, with `[]` for any array index, e.g. `fields[].threshold`) may be negative.
pub fn check_numbers(table: &toml::Table, signed: &[&str]) -> Result<(), String> {
    walk("", table, signed)
}

fn walk(prefix: &str, table: &toml::Table, signed: &[&str]) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        value(&key, &pattern(&key), v, signed)?;
    }
    Ok(())
}

/// `a[3].b[0]` -> `a[].b[]`.
fn pattern(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_index = false;
    for c in key.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether the last segment of `key` names a probability.
fn is_probability(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    ["dropout", "corruption", "p_uncond", "max_drop_fraction"].contains(&leaf) || leaf.ends_with("_rate")
}

fn value(key: &str, pat: &str, v: &toml::Value, signed: &[&str]) -> Result<(), String> {
    let may_be_negative = signed.contains(&pat);
    if let Some(x) = v.as_float().or_else(|| v.as_integer().map(|i| i as f64)).filter(|_| is_probability(key)) {
        let below_one = key.rsplit('.').next() == Some("dropout");
        if !(0.0..=1.0).contains(&x) || (below_one && x >= 1.0) {
            let range = if below_one { "[0, 1)" } else { "[0, 1]" };
            return Err(format!("{key} = {x}: a probability must lie in {range}"));
        }
    }
    match v {
        toml::Value::Float(x) if !x.is_finite() => Err(format!("{key} = {x}: must be a finite number")),
        toml::Value::Float(x) if *x < 0.0 && !may_be_negative => Err(format!("{key} = {x}: must not be negative")),
        toml::Value::Integer(i) if *i < 0 && !may_be_negative => Err(format!("{key} = {i}: must not be negative")),
        toml::Value::Table(t) => walk(key, t, signed),
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                value(&format!("{key}[{i}]"), &format!("{pat}[]"), item, signed)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Deserialises a parsed TOML config after [`check_numbers`]: unknown keys, wrong types and
/// non-finite or negative numbers are errors naming the key.
pub fn from_checked_table<T: serde::de::DeserializeOwned>(table: toml::Table, signed: &[&str]) -> Result<T, String> {
    check_numbers(&table, signed)?;
    table.try_into().map_err(|e: toml::de::Error| e.to_string())
}

/// Reads a TOML file into a table; the error names the file.
pub fn read_table(path: &std::path::Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse().map_err(|e: toml::de::Error| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, signed: &[&str]) -> Result<(), String> {
        check_numbers(&text.parse().unwrap(), signed)
    }

    #[test]
    fn non_finite_and_negative_numbers_are_named_by_key() {
        assert_eq!(
            check("[model]\nembedding_init_std = inf", &[]).unwrap_err(),
            "model.embedding_init_std = inf: must be a finite number"
        );
        assert_eq!(check("user_zipf = nan", &[]).unwrap_err(), "user_zipf = NaN: must be a finite number");
        assert_eq!(check("[train]\nlr = -0.1", &[]).unwrap_err(), "train.lr = -0.1: must not be negative");
        assert_eq!(
            check("[[fields]]\nbuckets = 3\n[[fields]]\nbuckets = -2", &[]).unwrap_err(),
            "fields[1].buckets = -2: must not be negative"
        );
        assert_eq!(check("deep = [256, -1]", &[]).unwrap_err(), "deep[1] = -1: must not be negative");
    }

    #[test]
    fn probabilities_outside_zero_one_are_named_by_key() {
        assert_eq!(
            check("[model]\ndropout = 1.5", &[]).unwrap_err(),
            "model.dropout = 1.5: a probability must lie in [0, 1)"
        );
        assert_eq!(
            check("[model]\ndropout = 1.0", &[]).unwrap_err(),
            "model.dropout = 1: a probability must lie in [0, 1)"
        );
        assert_eq!(
            check("[model.enhancer]\nmask_rate = 2", &[]).unwrap_err(),
            "model.enhancer.mask_rate = 2: a probability must lie in [0, 1]"
        );
        assert!(check("[model.enhancer]\ncorruption = 1.0\n[model.base]\ndropout = 0.3", &[]).is_ok());
    }

    #[test]
    fn listed_keys_may_be_negative_but_never_non_finite() {
        assert!(check("[label]\nthreshold = -1.5", &["label.threshold"]).is_ok());
        assert!(check("[[fields]]\nshift = -2.0", &["fields[].shift"]).is_ok());
        assert!(check("[label]\nthreshold = -inf", &["label.threshold"]).is_err());
        assert!(check("[train]\nlr = 0.001\nepochs = 3", &[]).is_ok());
    }
}
