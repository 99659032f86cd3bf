//! `mpirun -np N recdiff train <config> --distributed` on a real MPI world (built only with
//! `--features mpi`; `.ci/mpi` runs it): 2 and 3 ranks at batch B/N train the run one process
//! trains at batch B, for DCN-V2 and AsymDiffRec, with replicated and row-wise sharded tables; a
//! rank killed mid-run fails the job, and `--resume` then finishes it from the last checkpoint.
//! Needs `mpirun` (Open MPI) on the PATH: without it every test fails, saying so.
#![cfg(feature = "mpi")]

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixture(dir: &Path, asym: bool, tables: &str, epochs: usize) -> PathBuf {
    if !dir.join("data/schema.toml").exists() {
        let s = SynthConfig {
            rows: 20_011,
            users: 400,
            items: 200,
            fields: 24,
            format: OutputFormat::Csv,
            ..SynthConfig::default()
        };
        synth::generate(&s, &dir.join("data")).unwrap();
    }
    let enhancer = if asym { "[model.enhancer]\nkind = \"asymdiffrec\"\nhidden = 32\n" } else { "" };
    let text = format!(
        r#"
name = "mpi"
seed = 5
[data]
schema = "data/schema.toml"
encoded = "encoded"
[model]
kind = "ctr"
embedding_dim = 8
[model.base]
kind = "dcnv2"
cross_layers = 2
deep = [32]
latent_dim = 16
{enhancer}
[train]
batch_size = 256
epochs = {epochs}
lr = 5e-3
patience = 100
eval_every_steps = 20
progress = false
[distributed]
checksum_every_steps = 7
tables = "{tables}"
"#
    );
    let path = dir.join(format!("mpi-{asym}-{tables}-{epochs}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn mpirun(n: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-np", &n.to_string()]);
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

fn train(n: usize, cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_recdiff");
    let mut c = if n == 1 { Command::new(bin) } else { mpirun(n) };
    if n > 1 {
        c.arg(bin);
    }
    c.arg("train").arg(cfg).arg("--output").arg(out).args(extra);
    if n > 1 {
        c.arg("--distributed");
    }
    c.output().expect("mpirun is needed on the PATH (Debian: openmpi-bin)")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

/// Train loss per logged validation, and the test metrics.
fn results(out: &Path) -> (Vec<(u64, f64, f64)>, Value) {
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let lines = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["step"].as_u64().unwrap(), v["train_loss"].as_f64().unwrap(), v["valid"]["auc"].as_f64().unwrap()))
        .collect();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    (lines, r["test"].clone())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(1.0)
}

fn assert_same_run(want: &Path, got: &Path, what: &str) {
    let ((a, ta), (b, tb)) = (results(want), results(got));
    assert_eq!(a.len(), b.len(), "{what}: validations logged");
    assert!(a.len() >= 4, "{what}: a run of several validations");
    for ((s1, l1, v1), (s2, l2, v2)) in a.iter().zip(&b) {
        assert_eq!(s1, s2, "{what}");
        assert!(close(*l1, *l2, 1e-4), "{what}, step {s1}: train loss {l1} vs {l2}");
        assert!(close(*v1, *v2, 1e-3), "{what}, step {s1}: valid AUC {v1} vs {v2}");
    }
    for m in ["auc", "logloss"] {
        let (x, y) = (ta[m].as_f64().unwrap(), tb[m].as_f64().unwrap());
        assert!(close(x, y, 1e-3), "{what}: test {m} {x} vs {y}");
    }
}

#[test]
fn n_ranks_under_mpirun_train_the_run_one_process_trains_at_the_full_batch() {
    let dir = tempfile::tempdir().unwrap();
    for asym in [false, true] {
        let cfg = fixture(dir.path(), asym, "replicated", 2);
        let one = dir.path().join(format!("one-{asym}"));
        ok(train(1, &cfg, &one, &[]));
        let (_, test) = results(&one);
        assert!(test["auc"].as_f64().unwrap() > 0.6, "one process learns: {test}");
        for n in [2, 3] {
            let out = dir.path().join(format!("n{n}-{asym}"));
            let o = ok(train(n, &cfg, &out, &[]));
            let printed = String::from_utf8_lossy(&o.stdout);
            assert_eq!(printed.matches("run directory").count(), 1, "only rank 0 prints: {printed}");
            assert_same_run(&one, &out, &format!("{n} ranks, asymdiffrec {asym}"));
        }
    }
}

#[test]
fn row_wise_sharded_tables_train_the_run_replicated_tables_train() {
    let dir = tempfile::tempdir().unwrap();
    for asym in [false, true] {
        let replicated = dir.path().join(format!("replicated-{asym}"));
        ok(train(2, &fixture(dir.path(), asym, "replicated", 2), &replicated, &[]));
        for n in [2, 3] {
            let sharded = dir.path().join(format!("sharded-{n}-{asym}"));
            ok(train(n, &fixture(dir.path(), asym, "row_wise", 2), &sharded, &[]));
            assert_same_run(&replicated, &sharded, &format!("row-wise on {n} ranks, asymdiffrec {asym}"));
        }
    }
}

/// The pid of the `recdiff` process that is rank `rank` of the job writing into `out`.
fn rank_pid(out: &Path, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if !cmd.contains(&*out.to_string_lossy()) || cmd.starts_with("mpirun") {
            continue;
        }
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if env.split(|&b| b == 0).any(|kv| kv == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_rank_killed_mid_run_fails_the_job_and_resume_finishes_it_from_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = fixture(dir.path(), true, "replicated", 6);
    let whole = dir.path().join("whole");
    ok(train(2, &cfg, &whole, &[]));
    let out = dir.path().join("killed");
    let bin = env!("CARGO_BIN_EXE_recdiff");
    let mut job = mpirun(2)
        .arg(bin)
        .arg("train")
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .arg("--distributed")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mpirun is needed on the PATH (Debian: openmpi-bin)");
    let started = Instant::now();
    // Kill rank 1 once a checkpoint exists, well before the run ends.
    while !out.join("last").join("manifest.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        assert!(job.try_wait().unwrap().is_none(), "the job ended before a rank could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rank_pid(&out, 1).expect("rank 1's process");
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let killed_at = Instant::now();
    let status = loop {
        if let Some(s) = job.try_wait().unwrap() {
            break s;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(60), "the job hung after a rank died");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "a job whose rank died exited 0");
    assert!(!out.join("results.json").exists(), "the killed job did not finish");
    ok(train(2, &cfg, &out, &["--resume"]));
    let ((a, ta), (b, tb)) = (results(&whole), results(&out));
    assert_eq!(a.last().map(|x| x.0), b.last().map(|x| x.0), "the resumed run reaches the same last step");
    let (x, y) = (ta["auc"].as_f64().unwrap(), tb["auc"].as_f64().unwrap());
    assert!(close(x, y, 1e-3), "resumed test AUC {y} vs uninterrupted {x}");
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn the_sequential_and_top_k_families_train_data_parallel_under_mpirun() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    recdiff_testkit::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    for (config, metric) in [("topk-ml100k-diffrec.toml", "ndcg@10"), ("seq-ml100k-sasrec.toml", "hr@10")] {
        let out = dir.path().join(config);
        let o = ok(train(2, &root.join("configs").join(config), &out, &["--epochs", "1"]));
        let printed = String::from_utf8_lossy(&o.stdout);
        assert_eq!(printed.matches("run directory").count(), 1, "only rank 0 prints: {printed}");
        let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
        let v = r["test"][metric].as_f64().unwrap();
        assert!(v > 0.02, "{config} on 2 ranks, 1 epoch: test {metric} {v} (chance about 0.007)");
    }
}

#[test]
fn ranks_started_on_different_configs_are_refused_naming_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fixture(dir.path(), false, "replicated", 2), fixture(dir.path(), false, "replicated", 3));
    let out = dir.path().join("mixed");
    let bin = env!("CARGO_BIN_EXE_recdiff");
    // MPMD: rank 0 runs one config, rank 1 another (3 epochs instead of 2).
    let mut c = Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for cfg in [&a, &b] {
        if cfg == &b {
            c.arg(":");
        }
        c.args(["--oversubscribe", "-np", "1", bin, "train"]).arg(cfg).arg("--output").arg(&out).arg("--distributed");
    }
    let o = c.output().expect("mpirun is needed on the PATH (Debian: openmpi-bin)");
    assert!(!o.status.success(), "a world of two configs trained");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rank 1 runs config (hash of the resolved config)"), "{err}");
    assert!(!out.join("log.jsonl").exists(), "nothing was trained");
}
