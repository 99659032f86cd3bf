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

#[test]
fn line_numbers_stay_right_after_crlf_blank_lines_and_quoted_newlines() {
    // The bad row is on text line 6 in each file: the csv crate's own positions said 5.
    let crlf = b"click,user,price,tags\r\n1,u1,3.5,a\r\n1,u2,1,b\r\n1,u3,2,c\r\n1,u4,2,d\r\n0,u5,cheap,e\r\n";
    let blank = b"click,user,price,tags\n1,u1,3.5,a\n\n1,u2,1,b\n1,u3,2,c\n0,u5,cheap,e\n";
    let quoted = b"click,user,price,tags\n1,\"u\n1\",3.5,a\n1,u2,1,b\n1,u3,2,c\n0,u5,cheap,e\n";
    for (name, csv) in [("crlf", &crlf[..]), ("blank", &blank[..]), ("quoted", &quoted[..])] {
        let err = stats_error(csv);
        assert!(err.contains("line 6, column 'price'"), "{name}: {err}");
    }
}

#[test]
fn duplicate_header_columns_are_refused() {
    let err = stats_error(b"click,user,price,user,tags\n1,u1,3.5,u9,a\n");
    assert!(err.contains("names column 'user' twice (columns 2 and 4)"), "{err}");
}

#[test]
fn an_overlong_cell_is_a_bad_row_naming_line_and_column_and_memory_stays_bounded() {
    let long = "x".repeat(300);
    let csv = format!("click,user,price,tags\n1,u1,3.5,a\n0,{long},2,b\n1,u3,1,c\n");
    let dir = tempfile::tempdir().unwrap();
    let schema = write_case(dir.path(), csv.as_bytes(), "max_cell_bytes = 256");
    let err = stats::compute(&schema, 0).unwrap_err().to_string();
    assert!(err.contains("line 3, column 'user'") && err.contains("300 bytes, over the 256-byte limit"), "{err}");
    // A record running past 16 x the cell limit (an unclosed quote) stops the read.
    let runaway = format!("click,user,price,tags\n1,u1,3.5,a\n0,\"{}\n", "y\n".repeat(5_000));
    let schema = write_case(dir.path(), runaway.as_bytes(), "max_cell_bytes = 256");
    let err = stats::compute(&schema, 0).unwrap_err().to_string();
    assert!(err.contains("line 3 is longer than 4096 bytes"), "{err}");
}

#[test]
fn label_leakage_nan_thresholds_and_huge_bucket_counts_are_refused() {
    let leak = SCHEMA.replace("{extra_source}", "").replace("name = \"price\"", "name = \"click\"");
    let err = Schema::parse(&leak).unwrap_err();
    assert!(err.contains("reads the label column 'click'") && err.contains("label leakage"), "{err}");
    for bad in ["nan", "inf", "-inf"] {
        let text = SCHEMA
            .replace("{extra_source}", "")
            .replace("column = \"click\"", &format!("column = \"click\"\nthreshold = {bad}"));
        let err = Schema::parse(&text).unwrap_err();
        assert!(err.contains("label.threshold") && err.contains("finite"), "{bad}: {err}");
    }
    let huge = SCHEMA.replace("{extra_source}", "").replace(
        "name = \"user\"\nkind = \"categorical\"",
        "name = \"user\"\nkind = \"categorical\"\nencoding = \"hash\"\nbuckets = 4000000000",
    );
    let err = Schema::parse(&huge).unwrap_err();
    assert!(err.contains("buckets") && err.contains("at most 134217728"), "{err}");
}
