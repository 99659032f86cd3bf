//! The binary end to end: output a user reads, and errors printed as a chain with exit code 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn recdiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recdiff")).args(args).output().unwrap()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn data_stats_on_movielens_prints_the_reference_figures() {
    recdiff_testkit::require_ml100k();
    let schema = repo_root().join("configs/ml-100k.schema.toml");
    let out = recdiff(&["data", "stats", schema.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for expected in ["rows      100000", "users     943", "items     1682", "positive rate 55.4%"] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn synth_then_stats_prints_planted_missing_rates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = recdiff(&[
        "data", "synth", "--out", d, "--rows", "20000", "--users", "500", "--items", "300", "--format", "csv",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = recdiff(&["data", "stats", &format!("{d}/schema.toml"), "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["rows"], 20000);
    let planted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("planted.json")).unwrap()).unwrap();
    let measured = stats["fields"].as_array().unwrap();
    for (field, planted) in measured.iter().zip(planted["missing_rates"].as_array().unwrap()) {
        let (m, p) = (field["missing_rate"].as_f64().unwrap(), planted[1].as_f64().unwrap());
        assert!((m - p).abs() < 0.015, "{}: {m} vs {p}", field["name"]);
    }
}

#[test]
fn errors_print_a_cause_chain_and_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.toml");
    std::fs::write(&schema, "name = \"x\"\n[source]\nformat = \"csv\"\npath = \"nope.csv\"\n[label]\ncolumn = \"y\"\n[[fields]]\nname = \"a\"\nkind = \"categorical\"\n").unwrap();
    let out = recdiff(&["data", "stats", schema.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.starts_with("error: reading the data of schema 'x'"), "{err}");
    assert!(err.contains("caused by:") && err.contains("nope.csv"), "{err}");
}

#[test]
fn data_check_lists_expected_files_with_sha256_and_fails_on_a_missing_one() {
    let fixture = repo_root().join("crates/recdiff-data/tests/fixtures/movielens-1m");
    let run = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_recdiff"))
            .current_dir(repo_root())
            .args(["data", "check", "movielens-1m", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run(&fixture);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let users_sha = recdiff_data::check::sha256_file(&fixture.join("users.dat")).unwrap();
    let users: Vec<&str> = text.lines().find(|l| l.starts_with("users.dat")).unwrap().split_whitespace().collect();
    assert_eq!(users, ["users.dat", "expected", "98", users_sha.as_str(), "no", "published", "SHA-256"], "{text}");
    assert!(text.contains("README         optional") && text.contains("GroupLens publishes an MD5"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    for f in ["ratings.dat", "movies.dat"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    let out = run(dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISSING"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("files missing"), "{out:?}");
}

#[test]
fn compare_refuses_a_repeated_seed_in_the_seeds_override_before_training() {
    let config = repo_root().join("configs/topk-ml100k-compare.toml");
    let out = recdiff(&["compare", config.to_str().unwrap(), "--seeds", "1,2,1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--seeds [1, 2, 1] repeats a seed"), "{err}");
}
