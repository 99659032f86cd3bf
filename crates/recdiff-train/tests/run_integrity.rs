//! A run cannot be silently corrupted: a crash at any point of a checkpoint switch resumes to the
//! uninterrupted result with a log free of duplicates, a best checkpoint caught mid-switch still
//! evaluates (read-only), a refused resume leaves the run as it was, a corrupted or foreign
//! checkpoint is refused, and inference writes nothing into the run.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_run::manifest::KillPoint;
use recdiff_train::ExperimentConfig;
use recdiff_train::checkpoint::inject_fault;
use std::path::{Path, PathBuf};

fn experiment(dir: &Path, latent: usize) -> ExperimentConfig {
    let data = dir.join("data");
    if !data.join("schema.toml").exists() {
        let cfg = SynthConfig {
            rows: 8_000,
            users: 500,
            items: 300,
            fields: 24,
            format: OutputFormat::Csv,
            ..Default::default()
        };
        synth::generate(&cfg, &data).unwrap();
    }
    let text = format!(
        "name = \"crash\"\nseed = 9\n[data]\nschema = \"data/schema.toml\"\nencoded = \"encoded\"\n[model]\nkind = \"ctr\"\n\
         embedding_dim = 4\n[model.base]\nkind = \"dcnv2\"\ncross_layers = 1\ndeep = [16]\nlatent_dim = {latent}\n\
         [train]\nbatch_size = 512\nepochs = 3\npatience = 100\nprogress = false\n"
    );
    std::fs::write(dir.join("exp.toml"), text).unwrap();
    ExperimentConfig::load(&dir.join("exp.toml")).unwrap()
}

fn into(cfg: &ExperimentConfig, out: &Path) -> ExperimentConfig {
    ExperimentConfig { output: Some(out.to_path_buf()), ..cfg.clone() }
}

fn logged_steps(out: &Path) -> Vec<u64> {
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect()
}

#[test]
fn a_crash_at_any_point_of_a_checkpoint_switch_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = experiment(dir.path(), 8);
    let full = recdiff_train::run(&into(&cfg, &dir.path().join("full")), false).unwrap();
    let points = [KillPoint::MidWrite, KillPoint::BeforeSwap, KillPoint::MidSwap, KillPoint::BeforeCleanup];
    for (target, at) in points.iter().map(|&p| ("last", p)).chain(points.iter().map(|&p| ("best", p))) {
        let out = dir.path().join(format!("{target}-{at:?}"));
        // The second save of `target` (epoch 2) is cut short where a crash would leave it.
        inject_fault(target, 1, at);
        let err = recdiff_train::run(&into(&cfg, &out), false).expect_err("the injected fault stops the run");
        assert!(err.to_string().contains("fault injected"), "{target} {at:?}: {err}");
        let resumed = recdiff_train::run(&into(&cfg, &out), true).unwrap_or_else(|e| panic!("{target} {at:?}: {e}"));
        assert_eq!(resumed.record.steps, full.record.steps, "{target} {at:?}");
        assert_eq!(resumed.record.test, full.record.test, "{target} {at:?}");
        let steps = logged_steps(&out);
        let mut unique = steps.clone();
        unique.dedup();
        assert_eq!(steps, unique, "{target} {at:?}: the log repeats steps");
        assert_eq!(steps.len(), 3, "{target} {at:?}: {steps:?}");
        for leftover in ["last.tmp", "last.old", "best.tmp", "best.old"] {
            assert!(!out.join(leftover).exists(), "{target} {at:?}: {leftover} left behind");
        }
    }
}

#[test]
fn a_run_stopped_mid_epoch_resumes_at_its_last_validation_not_at_the_epoch_start() {
    let dir = tempfile::tempdir().unwrap();
    let base = experiment(dir.path(), 8);
    let mut cfg = base.clone();
    cfg.train.epochs = 1;
    cfg.train.eval_every_steps = 4;
    let full = recdiff_train::run(&into(&cfg, &dir.path().join("full")), false).unwrap();
    assert_eq!(full.record.steps, 13, "6,400 train rows in batches of 512");
    let out = dir.path().join("cut");
    // `last` is saved at steps 4, 8, 12 and 13; the save at step 8 fails as a kill would leave it.
    inject_fault("last", 1, KillPoint::MidWrite);
    assert!(recdiff_train::run(&into(&cfg, &out), false).is_err());
    let resumed = recdiff_train::run(&into(&cfg, &out), true).unwrap();
    assert_eq!(resumed.record.steps, full.record.steps, "the resumed epoch skips the 4 steps already trained");
    assert_eq!(resumed.record.test, full.record.test);
    assert_eq!(logged_steps(&out), vec![4, 8, 12, 13], "the epoch's last step is validated too");
    assert_eq!(logged_steps(&dir.path().join("full")), vec![4, 8, 12, 13]);
}

#[test]
fn a_best_checkpoint_caught_mid_switch_still_evaluates_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = experiment(dir.path(), 8);
    let out = dir.path().join("run");
    inject_fault("best", 1, KillPoint::MidSwap);
    assert!(recdiff_train::run(&into(&cfg, &out), false).is_err());
    assert!(!out.join("best").exists() && out.join("best.tmp").exists() && out.join("best.old").exists());
    let before = snapshot(&out);
    let run = recdiff_run::CtrRun::open(&out).unwrap();
    let split = run.split(recdiff_data::split::TEST).unwrap();
    let m = recdiff_train::eval::evaluate_run(&run, &split, &recdiff_train::batch::Probe::NONE).unwrap();
    assert!(m.auc > 0.5, "{m:?}");
    assert_eq!(snapshot(&out), before, "evaluation wrote into the run");
}

/// Every file under `dir` with its size, modification time and checksum.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                let sum = recdiff_run::manifest::checksum(&std::fs::read(e.path()).unwrap());
                out.push((e.path(), m.len(), m.modified().unwrap(), sum));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_refused_resume_and_inference_leave_the_run_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    recdiff_train::run(&into(&experiment(dir.path(), 8), &out), false).unwrap();
    let before = snapshot(&out);
    // Another architecture: refused before anything is written.
    let err = recdiff_train::run(&into(&experiment(dir.path(), 12), &out), true).expect_err("must be refused");
    assert!(err.to_string().contains("another config"), "{err}");
    assert_eq!(snapshot(&out), before, "the refused resume wrote into the run");
    // Inference reads only: evaluation and prediction leave every file as it was.
    let run = recdiff_run::CtrRun::open(&out).unwrap();
    let split = run.split(recdiff_data::split::VALID).unwrap();
    recdiff_train::eval::evaluate_run(&run, &split, &recdiff_train::batch::Probe::Random(0.3)).unwrap();
    let scores = dir.path().join("scores.csv");
    recdiff_train::predict::predict(&out, &dir.path().join("data/impressions.csv"), &scores).unwrap();
    assert_eq!(snapshot(&out), before, "inference wrote into the run");
    let inside = recdiff_train::predict::predict(&out, &dir.path().join("data/impressions.csv"), &out.join("s.csv"));
    assert!(inside.err().unwrap().to_string().contains("inside the run directory"));
    let input = dir.path().join("data/impressions.csv");
    let onto_input = recdiff_train::predict::predict(&out, &input, &input).err().unwrap().to_string();
    assert!(onto_input.contains("is the input file"), "{onto_input}");
}

#[test]
fn a_corrupted_or_foreign_checkpoint_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    recdiff_train::run(&into(&experiment(dir.path(), 8), &a), false).unwrap();
    recdiff_train::run(&into(&experiment(dir.path(), 12), &b), false).unwrap();
    let open = |run: &Path| recdiff_run::CtrRun::open(run).err().map(|e| e.to_string());
    assert_eq!(open(&a), None);
    let emb = a.join("best/embeddings.safetensors");
    let pristine = std::fs::read(&emb).unwrap();
    let mut flipped = pristine.clone();
    let n = flipped.len();
    flipped[n - 3] ^= 0x40;
    std::fs::write(&emb, &flipped).unwrap();
    let e = open(&a).expect("a flipped bit must be refused");
    assert!(e.contains("embeddings.safetensors") && e.contains("checksum mismatch"), "{e}");
    std::fs::write(&emb, &pristine).unwrap();
    // Another run's checkpoint, manifest and all: its architecture does not match this config.
    std::fs::remove_dir_all(a.join("best")).unwrap();
    let status = std::process::Command::new("cp").arg("-r").arg(b.join("best")).arg(a.join("best")).status().unwrap();
    assert!(status.success());
    let e = open(&a).expect("another run's checkpoint must be refused");
    assert!(e.contains("another architecture"), "{e}");
}

#[test]
fn predict_names_a_feature_column_absent_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    recdiff_train::run(&into(&experiment(dir.path(), 8), &out), false).unwrap();
    let text = std::fs::read_to_string(dir.path().join("data/impressions.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let gone = header.iter().position(|c| *c == "gender").expect("the synthetic log has a gender column");
    let cut: String = text
        .lines()
        .take(20)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').enumerate().filter(|(i, _)| *i != gone).map(|(_, c)| c).collect();
            cells.join(",") + "\n"
        })
        .collect();
    let input = dir.path().join("cut.csv");
    std::fs::write(&input, cut).unwrap();
    let e = recdiff_train::predict::predict(&out, &input, &dir.path().join("s.csv")).err().unwrap().to_string();
    assert!(e.contains("cut.csv") && e.contains("column 'gender'"), "{e}");
}
