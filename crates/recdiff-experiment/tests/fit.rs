//! The shared training loop: a run killed after a checkpoint and resumed computes what the
//! uninterrupted run computes (record, best epoch, log), also when it validates mid-epoch every N
//! steps; the cadence of validations; and a resume under another config or architecture is
//! refused.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_experiment::fit::{FitSpec, LAST_DIR, LOG_FILE, NamedFile, Position, Task, Trained, fit, write_on_root};
use recdiff_experiment::{BoxError, EarlyStopping, Metrics};
use recdiff_run::checkpoint::Checkpoint;
use std::path::Path;

/// A "model" of one weight moved by a seeded random walk, one move per step; its validation score
/// is a bumpy function of the weight, so the best epoch is not the last.
struct Walk {
    w: f64,
    best: Option<f64>,
    rng: ChaCha8Rng,
    steps_trained: u64,
    /// Fails (as a kill would) when this step (1-based) starts.
    fail_at: Option<u64>,
    /// The chunks the loop asked for: (from step, steps).
    chunks: Vec<(u64, u64)>,
}

impl Walk {
    fn new(fail_at: Option<u64>) -> Self {
        Self { w: 0.0, best: None, rng: ChaCha8Rng::seed_from_u64(7), steps_trained: 0, fail_at, chunks: Vec::new() }
    }

    fn files(&self) -> Result<Vec<NamedFile>, BoxError> {
        let json = serde_json::json!({
            "w": self.w, "best": self.best, "pos": self.rng.get_word_pos().to_string(), "n": self.steps_trained
        });
        Ok(vec![("walk.json".into(), serde_json::to_vec(&json)?)])
    }
}

fn score(w: f64) -> f64 {
    (3.0 * w).sin() - 0.1 * w * w
}

impl Task for Walk {
    fn steps_per_epoch(&self) -> u64 {
        3
    }
    fn train(&mut self, at: Position, steps: u64) -> Result<Trained, BoxError> {
        assert_eq!(at.step, self.steps_trained, "the loop resumes where the task stands");
        self.chunks.push((at.step, steps));
        for _ in 0..steps {
            if self.fail_at == Some(self.steps_trained + 1) {
                return Err("killed".into());
            }
            self.steps_trained += 1;
            self.w += self.rng.random::<f64>() - 0.4;
        }
        Ok(Trained::loss(self.w.abs()))
    }
    fn validate(&mut self) -> Result<Metrics, BoxError> {
        let mut m = Metrics::new();
        m.set("s", Some(score(self.w)));
        Ok(m)
    }
    fn keep_best(&mut self) -> Result<(), BoxError> {
        self.best = Some(self.w);
        Ok(())
    }
    fn save(&self, dir: &Path, fingerprint: &str, loop_file: NamedFile, root: bool) -> Result<(), BoxError> {
        write_on_root(dir, fingerprint, || self.files(), loop_file, root)
    }
    fn restore(&mut self, c: &Checkpoint) -> Result<(), BoxError> {
        let v: serde_json::Value = serde_json::from_slice(&c.read("walk.json")?)?;
        self.w = v["w"].as_f64().ok_or("w")?;
        self.best = v["best"].as_f64();
        self.rng.set_word_pos(v["pos"].as_str().ok_or("pos")?.parse()?);
        self.steps_trained = v["n"].as_u64().ok_or("n")?;
        Ok(())
    }
    fn finish(&mut self, _out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError> {
        let mut m = Metrics::new();
        m.set("s", self.best.map(score));
        Ok((m.clone(), m))
    }
}

fn spec<'a>(out: &'a Path, epochs: usize, resume: bool, key: &str) -> FitSpec<'a> {
    FitSpec {
        name: "walk",
        family: "test",
        model: "walk".into(),
        seed: 1,
        config_hash: "h".into(),
        resume_key: key.into(),
        fingerprint: "fp".into(),
        epochs,
        eval_every: 2,
        eval_every_steps: 0,
        rule: EarlyStopping { higher_is_better: true, patience: 3 },
        metric: "s",
        out: out.to_path_buf(),
        root: true,
        resume,
        checkpoint_seconds: 0.0,
    }
}

fn log_without_seconds(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join(LOG_FILE)).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn a_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_runs_record_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    let full = fit(&spec(&whole, 15, false, "k"), &mut Walk::new(None)).unwrap();
    assert!(full.best_epoch > 0 && full.best_epoch < full.epochs, "{full:?}: the best epoch should not be the last");

    let e = fit(&spec(&cut, 15, false, "k"), &mut Walk::new(Some(23))).unwrap_err();
    assert!(e.to_string().contains("killed"), "{e}");
    assert!(cut.join(LAST_DIR).join("manifest.json").is_file(), "a checkpoint was written before the kill");
    let resumed = fit(&spec(&cut, 15, true, "k"), &mut Walk::new(None)).unwrap();
    assert_eq!((resumed.epochs, resumed.best_epoch, resumed.steps), (full.epochs, full.best_epoch, full.steps));
    assert_eq!((resumed.valid.clone(), resumed.test.clone()), (full.valid.clone(), full.test.clone()));
    assert_eq!(log_without_seconds(&cut), log_without_seconds(&whole));
    // Without the checkpoint's state the resumed run would retrain from scratch and differ.
    let fresh = fit(&spec(&dir.path().join("fresh"), 15, true, "k"), &mut Walk::new(None)).unwrap();
    assert_eq!(fresh.valid, full.valid, "a resume with no checkpoint starts afresh");
}

#[test]
fn a_finished_run_resumes_for_more_epochs_but_not_under_another_config_or_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let short = fit(&spec(&out, 4, false, "k"), &mut Walk::new(None)).unwrap();
    assert_eq!(short.epochs, 4);
    let e = fit(&spec(&out, 8, true, "other"), &mut Walk::new(None)).unwrap_err().to_string();
    assert!(e.contains("another config") && e.contains("loop.json"), "{e}");
    let mut other_arch = spec(&out, 8, true, "k");
    other_arch.fingerprint = "fp2".into();
    let e = fit(&other_arch, &mut Walk::new(None)).unwrap_err().to_string();
    assert!(e.contains("another architecture"), "{e}");
    let longer = fit(&spec(&out, 8, true, "k"), &mut Walk::new(None)).unwrap();
    let straight = fit(&spec(&dir.path().join("straight"), 8, false, "k"), &mut Walk::new(None)).unwrap();
    assert_eq!(
        (longer.epochs, longer.best_epoch, longer.valid),
        (straight.epochs, straight.best_epoch, straight.valid)
    );
    assert_eq!(log_without_seconds(&out), log_without_seconds(&dir.path().join("straight")));
    // A fresh run over the directory drops the old checkpoint: killed before its first
    // validation, it leaves nothing that a resume would mistake for its own.
    assert!(fit(&spec(&out, 8, false, "k"), &mut Walk::new(Some(2))).is_err());
    assert!(!out.join(LAST_DIR).exists());
}

/// 6 epochs of 3 steps, validated every 2 steps and at every epoch's end.
fn every<'a>(out: &'a Path, resume: bool) -> FitSpec<'a> {
    let mut s = spec(out, 6, resume, "k");
    (s.eval_every, s.eval_every_steps) = (1, 2);
    s
}

fn logged(out: &Path, key: &str) -> Vec<u64> {
    log_without_seconds(out).iter().map(|l| l[key].as_u64().unwrap()).collect()
}

#[test]
fn a_spec_validating_every_n_steps_trains_chunks_to_each_multiple_and_each_epoch_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // 3 steps an epoch, 3 epochs; every 2 steps and every epoch's end (eval_every = 1).
    let mut s = spec(&out, 3, false, "k");
    (s.eval_every, s.eval_every_steps) = (1, 2);
    let mut walk = Walk::new(None);
    let record = fit(&s, &mut walk).unwrap();
    assert_eq!(walk.chunks, vec![(0, 2), (2, 1), (3, 1), (4, 2), (6, 2), (8, 1)]);
    assert_eq!(logged(&out, "step"), vec![2, 3, 4, 6, 8, 9], "step 6 ends epoch 2 and is a multiple: once");
    assert_eq!(logged(&out, "epoch"), vec![1, 1, 2, 2, 3, 3], "a line inside an epoch counts it");
    assert_eq!((record.epochs, record.steps), (3, 9));
    assert_eq!(record.best_epoch as u64, record.best_step.div_ceil(3));
}

#[test]
fn a_run_killed_mid_epoch_resumes_from_its_last_step_validation_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    let full = fit(&every(&whole, false), &mut Walk::new(None)).unwrap();
    // Killed at step 12 (inside epoch 4): the last checkpoint is step 10's validation.
    assert!(fit(&every(&cut, false), &mut Walk::new(Some(12))).is_err());
    let mut walk = Walk::new(None);
    let resumed = fit(&every(&cut, true), &mut walk).unwrap();
    assert_eq!(walk.chunks.first(), Some(&(10, 2)), "resumed at step 10, mid-epoch");
    assert_eq!((resumed.steps, resumed.best_step, resumed.valid), (full.steps, full.best_step, full.valid));
    assert_eq!(log_without_seconds(&cut), log_without_seconds(&whole));
}
