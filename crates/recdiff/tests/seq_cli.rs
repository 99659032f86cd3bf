//! `recdiff seq train` and `recdiff seq eval` as processes on MovieLens-100K: one-epoch DreamRec and
//! PreferDiff runs (one sampler) are re-evaluated under several guidance weights, and options that
//! do not apply are refused.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn seq_eval_sweeps_the_ddim_sampler_of_dreamrec_and_preferdiff_and_refuses_what_does_not_apply() {
    for model in ["dreamrec", "preferdiff"] {
        sweep_sampler(model);
    }
}

fn sweep_sampler(model: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    recdiff_testkit::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_recdiff");
    let config = root.join(format!("configs/seq-ml100k-{model}.toml"));
    let out = Command::new(bin)
        .current_dir(dir.path())
        .args(["seq", "train", config.to_str().unwrap(), "--epochs", "1", "--seeds", "4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `--seeds` trains into runs/<name>/<config-hash>/seed-<k>.
    let hashes: Vec<_> = std::fs::read_dir(dir.path().join(format!("runs/seq-ml100k-{model}")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    let run = hashes[0].join("seed-4");
    assert!(run.join("results.json").exists() && run.join("best.safetensors").exists());

    let eval = |extra: &[&str]| {
        let mut args = vec!["seq", "eval", run.to_str().unwrap()];
        args.extend_from_slice(extra);
        Command::new(bin).args(&args).output().unwrap()
    };
    let out = eval(&["--guidance", "0,2", "--sample-steps", "5"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with(['0', '2'])).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        let cols: Vec<f64> = row.split_whitespace().map(|c| c.parse().unwrap()).collect();
        assert_eq!(cols[1], 5.0, "{row}");
        assert!(cols[2..].iter().all(|v| (0.0..=1.0).contains(v)), "{row}");
    }
    let out = eval(&["--sample-steps", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sample-steps 0: must be 1..=200"));
    let out = Command::new(bin).args(["seq", "eval", dir.path().to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.resolved.toml"), "{out:?}");
}
