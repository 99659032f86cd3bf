//! Malformed input gets an error that names the place (file, line, column), never a panic; with
//! `on_bad_row = "skip"` bad rows are counted and skipped.

use recdiff_data::{Schema, SplitSpec, encode, stats};
use std::path::Path;

const SCHEMA: &str = r#"
name = "tiny"
[source]
format = "csv"
path = "data.csv"
{extra_source}
[label]
column = "click"
[keys]
user = "user"
[[fields]]
name = "user"
kind = "categorical"
[[fields]]
name = "price"
kind = "numeric"
[[fields]]
name = "tags"
kind = "multi_hot"
separator = ";"
"#;

fn write_case(dir: &Path, csv: &[u8], extra_source: &str) -> Schema {
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let path = dir.join("schema.toml");
    std::fs::write(&path, SCHEMA.replace("{extra_source}", extra_source)).unwrap();
    Schema::load(&path).unwrap()
}

fn stats_error(csv: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let schema = write_case(dir.path(), csv, "");
    stats::compute(&schema, 0).unwrap_err().to_string()
}

#[test]
fn short_row_names_file_and_line() {
    let err = stats_error(b"click,user,price,tags\n1,u1,3.5,a;b\n0,u2\n");
    assert!(err.contains("data.csv, line 3") && err.contains("expected 4 columns, found 2"), "{err}");
}

#[test]
fn non_numeric_value_in_numeric_column_names_line_and_column() {
    let err = stats_error(b"click,user,price,tags\n1,u1,3.5,a\n0,u2,cheap,b\n");
    assert!(err.contains("line 3, column 'price'") && err.contains("\"cheap\""), "{err}");
}

#[test]
fn schema_column_absent_from_file_is_named() {
    let err = stats_error(b"click,user,cost,tags\n1,u1,3.5,a\n");
    assert!(err.contains("data.csv") && err.contains("column 'price'") && err.contains("cost"), "{err}");
}

#[test]
fn empty_file_and_header_only_file_are_reported() {
    let err = stats_error(b"");
    assert!(err.contains("data.csv") && err.contains("no data rows"), "{err}");
    let err = stats_error(b"click,user,price,tags\n");
    assert!(err.contains("data.csv") && err.contains("no data rows"), "{err}");
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let err = stats_error(b"click,user,price,tags\n1,u1,3.5,a\n0,u\xff2,1.0,b\n");
    assert!(err.contains("line 3, column 'user'") && err.contains("UTF-8"), "{err}");
}

#[test]
fn label_outside_zero_one_without_threshold_is_an_error() {
    let err = stats_error(b"click,user,price,tags\n3,u1,3.5,a\n");
    assert!(err.contains("line 2, column 'click'") && err.contains("0 or 1"), "{err}");
}

#[test]
fn unknown_schema_key_names_the_schema_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.toml");
    std::fs::write(&path, SCHEMA.replace("{extra_source}", "delimeter = \";\"")).unwrap();
    let err = Schema::load(&path).unwrap_err().to_string();
    assert!(err.contains("schema.toml") && err.contains("delimeter"), "{err}");
}

#[test]
fn skip_policy_counts_bad_rows_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let csv = b"click,user,price,tags\n1,u1,3.5,a\n0,u2\n1,u3,NaN,?\n0,u4,x,b\n1,u5,2,c;d\n";
    let schema = write_case(dir.path(), csv, "on_bad_row = \"skip\"");
    let s = stats::compute(&schema, 0).unwrap();
    assert_eq!((s.rows, s.skipped_rows), (3, 2));
    assert!(s.skipped_examples[0].contains("line 3"), "{:?}", s.skipped_examples);
    let price = &s.fields[1];
    assert_eq!(price.missing, 1, "NaN is missing, not bad");
    assert_eq!(s.fields[2].missing, 1, "'?' is a missing token");

    let out = dir.path().join("enc");
    let split = SplitSpec::Random { ratios: [1.0, 0.0, 0.0], seed: 0 };
    let meta = encode::encode(&schema, &split, &out, 0).unwrap();
    assert_eq!((meta.rows, meta.skipped_rows), ([3, 0, 0], 2));
    let train = recdiff_data::SplitFile::open(&out.join("train.bin")).unwrap();
    let missing: Vec<bool> = (0..3).map(|r| train.row(r).is_missing(1)).collect();
    assert_eq!(missing.iter().filter(|m| **m).count(), 1);
}

#[test]
fn headerless_tsv_with_declared_columns_reads() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "delimiter = \"\\t\"\nheader = false\ncolumns = [\"click\", \"user\", \"price\", \"tags\"]";
    let schema = write_case(dir.path(), b"1\tu1\t3.5\ta;b;c\n0\tu2\t\t\n", extra);
    let s = stats::compute(&schema, 0).unwrap();
    assert_eq!((s.rows, s.fields[2].distinct, s.fields[1].missing), (2, 3, 1));
}

#[test]
fn fields_sharing_a_table_share_one_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), "y,item,last_item\n1,a,b\n0,b,c\n1,c,a\n0,d,a\n").unwrap();
    let schema = |extra: &str| {
        format!(
            "name = \"s\"\n[source]\nformat = \"csv\"\npath = \"d.csv\"\n[label]\ncolumn = \"y\"\n\
             [[fields]]\nname = \"item\"\nkind = \"categorical\"\ntable = \"items\"\n\
             [[fields]]\nname = \"last_item\"\nkind = \"categorical\"\ntable = \"items\"\n{extra}"
        )
    };
    std::fs::write(dir.path().join("s.toml"), schema("")).unwrap();
    let s = Schema::load(&dir.path().join("s.toml")).unwrap();
    let split = SplitSpec::Random { ratios: [1.0, 0.0, 0.0], seed: 0 };
    let meta = encode::encode(&s, &split, &dir.path().join("enc"), 0).unwrap();
    assert_eq!(meta.fields[0].codec, meta.fields[1].codec, "one vocabulary for both fields");
    assert_eq!(meta.fields[0].cardinality(), 5, "a, b, c, d seen across both columns, plus OOV");
    let bad = schema("min_count = 2").replace("table = \"items\"\n\n", "table = \"items\"\n");
    std::fs::write(dir.path().join("s.toml"), bad).unwrap();
    let err = Schema::load(&dir.path().join("s.toml")).unwrap_err().to_string();
    assert!(err.contains("shares table 'items'"), "{err}");
}
