//! The dataset schema: a TOML file saying where the rows are, which column is the label, which are the
//! user/item/time keys, and how each feature field is encoded. Unknown keys are rejected.
//!
//! ```toml
//! name = "movielens-100k"
//! [source]
//! format = "movielens-100k"        # csv | parquet | movielens-100k | movielens-1m | movielens-10m
//!                                  # | amazon-reviews
//! path = "../../shared/data/ml-100k" # relative to this file; a directory reads every part file
//! [label]
//! column = "rating"
//! threshold = 4.0                  # label = rating >= 4; without it the column must hold 0/1
//! # or labels from values: positive = [">50K"], negative = ["<=50K"] (optional; with it, any
//! # other value is a bad row, without it every non-positive value is 0)
//! [keys]
//! user = "user_id"
//! item = "item_id"
//! timestamp = "timestamp"
//! [[fields]]
//! name = "user_id"
//! kind = "categorical"             # categorical | numeric | multi_hot
//! encoding = "vocab"               # vocab (exact, from the training split) | hash (xxh3 buckets)
//! group = "user"
//! ```

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub name: String,
    pub source: SourceSpec,
    pub label: LabelSpec,
    #[serde(default)]
    pub keys: KeySpec,
    pub fields: Vec<FieldSpec>,
    /// The files a preset expects in its data directory (`recdiff data check`).
    #[serde(default)]
    pub files: Option<crate::check::FileSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    Csv,
    Parquet,
    #[serde(rename = "movielens-100k")]
    Movielens100k,
    /// `::`-separated `ratings.dat`, `movies.dat`, `users.dat`.
    #[serde(rename = "movielens-1m")]
    Movielens1m,
    /// As 1M, without `users.dat`.
    #[serde(rename = "movielens-10m")]
    Movielens10m,
    /// Amazon reviews, JSON lines (2014, 2018 or 2023 layout), with optional item metadata.
    AmazonReviews,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadRowPolicy {
    /// Stop at the first bad row with an error naming it.
    #[default]
    Error,
    /// Count bad rows, skip them, and print a summary with the first few reasons.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub format: SourceFormat,
    /// File or directory (every `.csv`/`.tsv`/`.parquet` part inside, sorted), relative to the schema.
    pub path: PathBuf,
    /// CSV only: one-character delimiter; `"\t"` for TSV. Default `,`.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// CSV only: whether the first line names the columns. Default true.
    #[serde(default)]
    pub header: Option<bool>,
    /// CSV without a header: the column names, in order.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Cell texts that mean "missing" besides the empty cell. NaN is always missing.
    #[serde(default = "default_missing_tokens")]
    pub missing_tokens: Vec<String>,
    #[serde(default)]
    pub on_bad_row: BadRowPolicy,
    /// amazon-reviews only: the item metadata file (JSON lines), relative to the schema.
    #[serde(default)]
    pub metadata: Option<PathBuf>,
    /// Side tables left-joined onto every row (`[[source.join]]`).
    #[serde(default)]
    pub join: Vec<JoinSpec>,
    /// csv: longest cell in bytes (default [`DEFAULT_MAX_CELL_BYTES`]); a longer one is a bad row,
    /// and a record over 16 times this stops the read, so memory stays bounded by the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cell_bytes: Option<usize>,
}

/// Longest CSV cell accepted by default: 1 MiB.
pub const DEFAULT_MAX_CELL_BYTES: usize = 1 << 20;

/// A side table (CSV with a header) joined on one key column: `path`, `on`, optional `delimiter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinSpec {
    /// The table, relative to the schema.
    pub path: PathBuf,
    /// The key column, named alike in the table and the main source.
    pub on: String,
    /// One-byte delimiter of the table. Default `,`.
    #[serde(default)]
    pub delimiter: Option<String>,
}

fn default_missing_tokens() -> Vec<String> {
    ["NA", "N/A", "?", "null", "NULL", "NaN", "nan"].map(String::from).to_vec()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub column: String,
    /// When set, label = 1 iff value >= threshold; otherwise the column must hold 0 or 1.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Cell texts that mean 1 (`["click"]`, `[">50K"]`), compared after trimming.
    #[serde(default)]
    pub positive: Option<Vec<String>>,
    /// Cell texts that mean 0. Without it every value not in `positive` is 0; with it, a value
    /// in neither list is a bad row.
    #[serde(default)]
    pub negative: Option<Vec<String>>,
}

/// Most hash buckets a field may ask for.
pub const MAX_HASH_BUCKETS: u32 = 1 << 27;
/// Most equal-frequency buckets of a bucketized numeric field.
pub const MAX_QUANTILE_BUCKETS: u32 = 1 << 16;

impl LabelSpec {
    fn validate(&self) -> std::result::Result<(), String> {
        match (&self.positive, &self.negative) {
            (None, Some(_)) => Err("`negative` needs `positive`".into()),
            (Some(_), _) if self.threshold.is_some() => Err("give `threshold` or `positive`, not both".into()),
            (Some(p), _) if p.is_empty() => Err("`positive` lists no value".into()),
            (Some(p), Some(n)) => match p.iter().find(|v| n.contains(v)) {
                Some(v) => Err(format!("value {v:?} is both positive and negative")),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Column identifying the user, for per-user metrics and per-user splits.
    #[serde(default)]
    pub user: Option<String>,
    /// Column identifying the item, for retrieval work and statistics.
    #[serde(default)]
    pub item: Option<String>,
    /// Integer timestamp column, for temporal and leave-one-out splits.
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Categorical,
    Numeric,
    MultiHot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    /// Exact vocabulary from the training split; values seen fewer than `min_count` times share the
    /// out-of-vocabulary row 0.
    Vocab,
    /// xxh3 hash of the value's bytes modulo `buckets`.
    Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericTransform {
    /// The value as it is.
    None,
    /// `sign(v) * ln(1 + |v|)`.
    Log,
    /// `(v - mean) / std` with mean and std from the training split.
    Standard,
    /// `Log` followed by `Standard`.
    LogStandard,
    /// Equal-frequency buckets from the training split; the field becomes categorical.
    Bucketize,
    /// Criteo's integer discretisation (the Kaggle winners'): `v` itself for `v <= 2`,
    /// `floor(ln(v)²)` above; fixed, nothing fitted. The field becomes categorical.
    LogSquared,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    /// Source column; defaults to `name`.
    #[serde(default)]
    pub column: Option<String>,
    pub kind: FieldKind,
    /// categorical / multi_hot: default `vocab`.
    #[serde(default)]
    pub encoding: Option<CategoricalEncoding>,
    /// Hash buckets (`encoding = "hash"`) or bucket count (`transform = "bucketize"`).
    #[serde(default)]
    pub buckets: Option<u32>,
    /// vocab: minimum training count to get an own id. Default 1.
    #[serde(default)]
    pub min_count: Option<u64>,
    /// numeric: default `standard`.
    #[serde(default)]
    pub transform: Option<NumericTransform>,
    /// multi_hot: the token separator. Default `|`.
    #[serde(default)]
    pub separator: Option<String>,
    /// multi_hot: tokens kept per cell (later ones are dropped and counted). Default 16.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Free-form group such as `user`, `item`, `context`; robustness tests remove whole groups.
    #[serde(default)]
    pub group: Option<String>,
    /// Embedding table name. Fields naming the same table share it, with one vocabulary (fitted
    /// on all of them) or the same hash buckets — e.g. `item_id` and `last_item_id`. Default: the
    /// field's own name.
    #[serde(default)]
    pub table: Option<String>,
    /// categorical: derive the key from the cell first (`hour_of_day`, `weekday` of a `YYMMDDHH`
    /// column such as Avazu's `hour`).
    #[serde(default)]
    pub extract: Option<crate::extract::Extract>,
}

impl FieldSpec {
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }

    pub fn table(&self) -> &str {
        self.table.as_deref().unwrap_or(&self.name)
    }

    pub fn encoding(&self) -> CategoricalEncoding {
        self.encoding.unwrap_or(CategoricalEncoding::Vocab)
    }

    pub fn transform(&self) -> NumericTransform {
        self.transform.unwrap_or(NumericTransform::Standard)
    }

    pub fn separator(&self) -> &str {
        self.separator.as_deref().unwrap_or("|")
    }

    pub fn max_len(&self) -> usize {
        self.max_len.unwrap_or(16)
    }

    /// Checks the options that only make sense for some kinds.
    fn validate(&self) -> std::result::Result<(), String> {
        let categorical_like = matches!(self.kind, FieldKind::Categorical | FieldKind::MultiHot);
        let bucketize = self.transform == Some(NumericTransform::Bucketize);
        let misplaced = [
            ("encoding", self.encoding.is_some() && !categorical_like),
            ("min_count", self.min_count.is_some() && self.encoding() != CategoricalEncoding::Vocab),
            ("transform", self.transform.is_some() && self.kind != FieldKind::Numeric),
            ("separator", self.separator.is_some() && self.kind != FieldKind::MultiHot),
            ("max_len", self.max_len.is_some() && self.kind != FieldKind::MultiHot),
            ("extract", self.extract.is_some() && self.kind != FieldKind::Categorical),
        ];
        if let Some((key, _)) = misplaced.iter().find(|(_, bad)| *bad) {
            return Err(format!("`{key}` does not apply to a {:?} field", self.kind));
        }
        let needs_buckets = (categorical_like && self.encoding() == CategoricalEncoding::Hash) || bucketize;
        match (needs_buckets, self.buckets) {
            (true, None) => return Err("`buckets` is required here".into()),
            (true, Some(0)) => return Err("`buckets` must be at least 1".into()),
            (true, Some(b)) if bucketize && b > MAX_QUANTILE_BUCKETS => {
                return Err(format!("`buckets` = {b}: bucketize takes at most {MAX_QUANTILE_BUCKETS} buckets"));
            }
            (true, Some(b)) if b > MAX_HASH_BUCKETS => {
                return Err(format!(
                    "`buckets` = {b}: at most {MAX_HASH_BUCKETS} hash buckets (2^27; a table that size is \
                     already 8.6 GB at 16 dimensions)"
                ));
            }
            (false, Some(_)) => {
                return Err("`buckets` applies only to hash encoding or bucketize".into());
            }
            _ => {}
        }
        if self.kind == FieldKind::MultiHot && (self.separator().is_empty() || self.max_len() == 0) {
            return Err("multi_hot needs a non-empty separator and max_len >= 1".into());
        }
        Ok(())
    }
}

impl SourceSpec {
    /// The CSV delimiter byte.
    pub fn delimiter_byte(&self) -> std::result::Result<u8, String> {
        match self.delimiter.as_deref() {
            None => Ok(b','),
            Some("\\t") => Ok(b'\t'),
            Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
            Some(d) => Err(format!("delimiter must be one ASCII character, got {d:?}")),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.format != SourceFormat::Csv
            && (self.delimiter.is_some() || self.header.is_some() || self.columns.is_some())
        {
            return Err("`delimiter`, `header` and `columns` apply only to format = \"csv\"".into());
        }
        self.delimiter_byte()?;
        if self.metadata.is_some() && self.format != SourceFormat::AmazonReviews {
            return Err("`metadata` applies only to format = \"amazon-reviews\"".into());
        }
        if self.header == Some(false) && self.columns.is_none() {
            return Err("a CSV without header needs `columns = [...]`".into());
        }
        Ok(())
    }
}

impl Schema {
    /// Reads and validates a schema file; `source.path` is resolved relative to the file.
    pub fn load(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut schema = Schema::parse(&text).map_err(|m| DataError::schema(path, m))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if schema.source.path.is_relative() {
            schema.source.path = dir.join(&schema.source.path);
        }
        if let Some(m) = schema.source.metadata.as_mut().filter(|m| m.is_relative()) {
            *m = dir.join(&*m);
        }
        crate::source::join::resolve(&mut schema.source.join, dir);
        Ok(schema)
    }

    /// Parses and validates schema text; paths stay as written.
    pub fn parse(text: &str) -> std::result::Result<Schema, String> {
        let schema: Schema = toml::from_str(text).map_err(|e| e.to_string())?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        crate::numbers::check_numbers(&table, &["label.threshold"])?;
        schema.validate()?;
        Ok(schema)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.source.validate().map_err(|m| format!("[source]: {m}"))?;
        self.label.validate().map_err(|m| format!("[label]: {m}"))?;
        if self.fields.is_empty() {
            return Err("no [[fields]]".into());
        }
        if let Some((i, f)) = self.fields.iter().enumerate().find(|(_, f)| f.column() == self.label.column) {
            return Err(format!(
                "fields[{i}] '{}' reads the label column '{}': the model would see the answer (label leakage)",
                f.name, self.label.column
            ));
        }
        let mut names = std::collections::HashSet::new();
        let mut tables: std::collections::HashMap<&str, &FieldSpec> = std::collections::HashMap::new();
        for (i, f) in self.fields.iter().enumerate() {
            f.validate().map_err(|m| format!("fields[{i}] '{}': {m}", f.name))?;
            if !names.insert(f.name.as_str()) {
                return Err(format!("fields[{i}]: duplicate field name '{}'", f.name));
            }
            let first = *tables.entry(f.table()).or_insert(f);
            let compatible = f.kind != FieldKind::Numeric
                && first.kind != FieldKind::Numeric
                && f.encoding() == first.encoding()
                && f.buckets == first.buckets
                && f.min_count == first.min_count;
            if !std::ptr::eq(first, f) && !compatible {
                return Err(format!(
                    "fields[{i}] '{}' shares table '{}' with '{}' but not its encoding (shared tables need \
                     categorical/multi_hot fields with equal encoding, buckets and min_count)",
                    f.name,
                    f.table(),
                    first.name
                ));
            }
        }
        Ok(())
    }

    /// Every source column the schema reads, in a stable order without duplicates.
    pub fn referenced_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = vec![self.label.column.clone()];
        let keys = [&self.keys.user, &self.keys.item, &self.keys.timestamp];
        cols.extend(keys.into_iter().flatten().cloned());
        cols.extend(self.fields.iter().map(|f| f.column().to_string()));
        let mut seen = std::collections::HashSet::new();
        cols.retain(|c| seen.insert(c.clone()));
        cols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
[source]
format = "csv"
path = "x.csv"
[label]
column = "y"
[[fields]]
name = "a"
kind = "categorical"
"#;

    #[test]
    fn minimal_schema_parses_with_defaults() {
        let s = Schema::parse(MINIMAL).unwrap();
        assert_eq!(s.fields[0].encoding(), CategoricalEncoding::Vocab);
        assert_eq!(s.source.delimiter_byte().unwrap(), b',');
        assert!(s.source.missing_tokens.contains(&"?".to_string()));
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name_and_line() {
        let text = MINIMAL.replace("kind = \"categorical\"", "kind = \"categorical\"\nbukets = 3");
        let err = Schema::parse(&text).unwrap_err();
        assert!(err.contains("bukets"), "{err}");
        assert!(err.contains("line 11"), "{err}");
    }

    #[test]
    fn option_for_the_wrong_kind_names_the_field() {
        let text = MINIMAL.replace("kind = \"categorical\"", "kind = \"categorical\"\nseparator = \",\"");
        let err = Schema::parse(&text).unwrap_err();
        assert!(err.contains("fields[0] 'a'") && err.contains("separator"), "{err}");
        let text = MINIMAL.replace("kind = \"categorical\"", "kind = \"categorical\"\nencoding = \"hash\"");
        assert!(Schema::parse(&text).unwrap_err().contains("`buckets` is required"));
    }

    #[test]
    fn wrong_type_in_schema_is_reported() {
        let text = MINIMAL.replace("name = \"t\"", "name = 3");
        let err = Schema::parse(&text).unwrap_err();
        assert!(err.contains("name") || err.contains("string"), "{err}");
    }
}
