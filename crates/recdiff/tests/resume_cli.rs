//! `recdiff train --resume` after the process died, for the sequential and top-K families (the CTR
//! family's kills are pinned in `crates/recdiff-train/tests/run_integrity.rs` and `mpi.rs`): a run
//! aborted right after a `last/` checkpoint, then resumed, ends with the uninterrupted run's
//! metrics, best epoch and log; `recdiff eval` then reads the run back with those test metrics.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The shipped `config` cut to `epochs`, checkpointing after every validation, written into `dir`.
fn config(dir: &Path, config: &str, epochs: i64) -> PathBuf {
    recdiff_testkit::require_ml100k();
    let text = std::fs::read_to_string(root().join("configs").join(config)).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    let schema = root().join("configs/ml-100k.schema.toml");
    table["data"].as_table_mut().unwrap().insert("schema".into(), schema.display().to_string().into());
    let train = table["train"].as_table_mut().unwrap();
    train.insert("epochs".into(), epochs.into());
    train.insert("checkpoint_seconds".into(), 0.0.into());
    train.insert("progress".into(), false.into());
    let path = dir.join(config);
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

fn train(cfg: &Path, out: &Path, extra: &[&str], abort_after: Option<usize>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recdiff"));
    cmd.args(["train", cfg.to_str().unwrap(), "--output", out.to_str().unwrap()]).args(extra);
    if let Some(epoch) = abort_after {
        cmd.env("RECDIFF_ABORT_AFTER_CHECKPOINT", epoch.to_string());
    }
    cmd.output().unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `log.jsonl` without its timings.
fn log(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

fn killed_and_resumed_equals_uninterrupted(name: &str, epochs: i64, abort_after: usize) -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let cfg = config(&dir, name, epochs);
    let (whole, cut) = (dir.join("whole"), dir.join("cut"));
    let out = train(&cfg, &whole, &[], None);
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));

    let out = train(&cfg, &cut, &[], Some(abort_after));
    assert!(!out.status.success(), "{name}: the aborted run exited cleanly");
    assert!(!cut.join("results.json").exists(), "{name}: the aborted run finished");
    assert!(cut.join("last/manifest.json").is_file(), "{name}: no checkpoint before the abort");
    assert_eq!(log(&cut).len(), abort_after, "{name}: one log line per validated epoch before the abort");
    let out = train(&cfg, &cut, &["--resume"], None);
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (json(&whole.join("results.json")), json(&cut.join("results.json")));
    for key in ["valid", "test", "best_epoch", "epochs", "steps"] {
        assert_eq!(a[key], b[key], "{name}: {key} differs after the resume");
    }
    assert_eq!(log(&whole), log(&cut), "{name}: log.jsonl differs after the resume");
    cut
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn a_topk_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_result_and_evals_read_only() {
    let run = killed_and_resumed_equals_uninterrupted("topk-ml100k-diffrec.toml", 4, 2);
    let before = std::fs::read_dir(&run).unwrap().count();
    let out = Command::new(env!("CARGO_BIN_EXE_recdiff")).args(["eval", run.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let test = json(&run.join("results.json"))["test"].clone();
    let ndcg = test["ndcg@10"].as_f64().unwrap();
    assert!(ndcg > 0.02, "DiffRec after 4 epochs: test NDCG@10 {ndcg}");
    assert!(text.contains(&format!("ndcg@10        {ndcg:.5}")), "eval printed\n{text}\nrecorded {test}");
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), before, "eval wrote into the run");
    let recdiff = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_recdiff")).args(args).output().unwrap();
    let out = recdiff(&["recommend", run.to_str().unwrap(), "--user", "196", "-k", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    let out = recdiff(&["recommend", run.to_str().unwrap(), "--user", "no-such-user"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown user \"no-such-user\""));
    let train_split =
        Command::new(env!("CARGO_BIN_EXE_recdiff")).args(["eval", run.to_str().unwrap(), "--split", "train"]).output();
    assert!(!train_split.unwrap().status.success(), "top-K runs have no train-split evaluation");
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn a_sequential_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_result() {
    killed_and_resumed_equals_uninterrupted("seq-ml100k-sasrec.toml", 3, 2);
}
