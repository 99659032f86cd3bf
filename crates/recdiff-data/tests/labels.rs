//! Labels from values (`[label] positive = [...]`, optional `negative = [...]`): listed values map
//! to 1/0, an unknown value is a bad row naming the line and the value (or skipped under
//! `on_bad_row = "skip"`), and contradictory label rules are schema errors naming `[label]`.

use recdiff_data::{Schema, stats};

fn schema(dir: &std::path::Path, label: &str, csv: &str, extra_source: &str) -> Result<Schema, String> {
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let text = format!(
        "name = \"t\"\n[source]\nformat = \"csv\"\npath = \"data.csv\"\n{extra_source}\n[label]\ncolumn = \"income\"\n{label}\n\
         [[fields]]\nname = \"age\"\nkind = \"numeric\"\n"
    );
    let path = dir.join("schema.toml");
    std::fs::write(&path, text).unwrap();
    Schema::load(&path).map_err(|e| e.to_string())
}

const CSV: &str = "income,age\n>50K,40\n<=50K,23\n <=50K ,31\n>50K,52\n<=50K,19\n";

#[test]
fn positive_and_negative_values_give_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path(), "positive = [\">50K\"]\nnegative = [\"<=50K\"]", CSV, "").unwrap();
    let st = stats::compute(&s, 0).unwrap();
    assert_eq!((st.rows, st.positives), (5, 2));
}

#[test]
fn without_a_negative_list_every_other_value_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "income,age\nclick,1\nno_click,2\nview,3\nclick,4\n";
    let s = schema(dir.path(), "positive = [\"click\"]", csv, "").unwrap();
    let st = stats::compute(&s, 0).unwrap();
    assert_eq!((st.rows, st.positives), (4, 2));
}

#[test]
fn a_value_in_neither_list_is_an_error_naming_line_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "income,age\n>50K,40\n<=50K,23\n>50K.,31\n";
    let s = schema(dir.path(), "positive = [\">50K\"]\nnegative = [\"<=50K\"]", csv, "").unwrap();
    let e = stats::compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("data.csv, line 4, column 'income'") && e.contains("\">50K.\""), "{e}");
    let s = schema(dir.path(), "positive = [\">50K\"]\nnegative = [\"<=50K\"]", csv, "on_bad_row = \"skip\"").unwrap();
    let st = stats::compute(&s, 0).unwrap();
    assert_eq!((st.rows, st.positives, st.skipped_rows), (2, 1, 1));
}

#[test]
fn integer_label_values_are_matched_by_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "income,age\n5,1\n4,2\n1,3\n5,4\n";
    let s = schema(dir.path(), "positive = [\"5\", \"4\"]", csv, "").unwrap();
    assert_eq!(stats::compute(&s, 0).unwrap().positives, 3);
}

#[test]
fn contradictory_label_rules_are_schema_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (label, want) in [
        ("negative = [\"no\"]", "`negative` needs `positive`"),
        ("positive = [\"yes\"]\nthreshold = 1.0", "not both"),
        ("positive = []", "lists no value"),
        ("positive = [\"yes\"]\nnegative = [\"yes\"]", "both positive and negative"),
    ] {
        let e = schema(dir.path(), label, CSV, "").unwrap_err();
        assert!(e.contains("schema.toml") && e.contains("[label]") && e.contains(want), "{label}: {e}");
    }
}

#[test]
fn a_string_label_without_a_rule_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path(), "", CSV, "").unwrap();
    let e = stats::compute(&s, 0).unwrap_err().to_string();
    assert!(e.contains("line 2, column 'income'") && e.contains("\">50K\""), "{e}");
}
