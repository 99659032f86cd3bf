//! Training through the binary: killing it at any moment (also mid-checkpoint) never leaves a
//! corrupt checkpoint under a final name, `--resume` finishes the run, `recdiff predict` scores
//! rows exactly as evaluation does, and eval / predict never write into the run.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_run::CtrRun;
use recdiff_train::ExperimentConfig;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn fixture(dir: &Path, split: &str, epochs: usize, eval_every: usize) -> ExperimentConfig {
    let cfg = SynthConfig {
        rows: 20_000,
        users: 1_000,
        items: 400,
        fields: 24,
        format: OutputFormat::Csv,
        ..SynthConfig::default()
    };
    synth::generate(&cfg, &dir.join("data")).unwrap();
    let text = format!(
        r#"
name = "kill"
seed = 5
output = "run"
[data]
schema = "data/schema.toml"
split = {split}
[model]
kind = "ctr"
embedding_dim = 8
[model.base]
kind = "dcnv2"
cross_layers = 2
deep = [64]
latent_dim = 32
[model.enhancer]
kind = "asymdiffrec"
hidden = 64
[train]
batch_size = 256
epochs = {epochs}
eval_every_steps = {eval_every}
patience = 100
progress = false
"#
    );
    std::fs::write(dir.join("exp.toml"), text).unwrap();
    let mut c = ExperimentConfig::load(&dir.join("exp.toml")).unwrap();
    c.output = Some(dir.join("run"));
    c
}

fn recdiff(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recdiff"));
    c.current_dir(dir);
    c
}

#[test]
fn killing_training_never_leaves_a_corrupt_checkpoint_and_resume_finishes() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), r#"{ kind = "random", ratios = [0.8, 0.1, 0.1], seed = 1 }"#, 4, 5);
    let run = dir.path().join("run");
    let mut checked = 0;
    for delay_ms in [300u64, 700, 1100, 1500, 1900, 2300, 2700, 3100] {
        let mut child = recdiff(dir.path()).args(["train", "exp.toml", "--resume"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        child.wait().unwrap();
        for name in ["best", "last"] {
            let ckpt = run.join(name);
            if ckpt.exists() {
                assert!(
                    recdiff_train::checkpoint::exists(&ckpt),
                    "{name} exists but is incomplete after a kill at {delay_ms} ms"
                );
                checked += 1;
            }
        }
        if run.join("best").exists() {
            CtrRun::open(&run)
                .unwrap_or_else(|e| panic!("best checkpoint unreadable after kill at {delay_ms} ms: {e}"));
        }
        if finished {
            break;
        }
    }
    assert!(checked > 0, "no kill landed after a checkpoint was written");
    let out = recdiff(dir.path()).args(["train", "exp.toml", "--resume"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run.join("results.json").exists());
}

#[test]
fn predict_scores_equal_evaluation_scores_on_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Timestamps increase with the row, so a temporal split's test rows are the file's last 10%.
    let cfg = fixture(dir.path(), r#"{ kind = "temporal", ratios = [0.8, 0.1, 0.1] }"#, 1, 0);
    let out = recdiff(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        recdiff(dir.path()).args(["predict", "run", "data/impressions.csv", "-o", "scores.csv"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    let scores: Vec<(u64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (line, score) = l.split_once(',').unwrap();
            (line.parse().unwrap(), score.parse().unwrap())
        })
        .collect();
    assert_eq!(scores.len(), 20_000);
    assert_eq!(scores[0].0, 2, "line numbers count the header");
    let session = CtrRun::open(cfg.output.as_ref().unwrap()).unwrap();
    let test = session.split(recdiff_data::split::TEST).unwrap();
    let expected = recdiff_train::eval::predict_split(
        &session.model,
        &session.store,
        &test,
        &session.device,
        &recdiff_train::batch::Probe::NONE,
        recdiff_train::eval::Scoring { batch_size: 4096, seed: 0, progress: None },
    )
    .unwrap();
    assert_eq!(expected.len(), 2_000);
    for (i, (e, (_, p))) in expected.iter().zip(&scores[18_000..]).enumerate() {
        assert!((*e as f64 - p).abs() < 1e-6, "test row {i}: eval {e} vs predict {p}");
    }
}

/// Every file under `p` with its modification time and length.
fn snapshot(p: &Path) -> Vec<(String, std::time::SystemTime, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            let m = path.metadata().unwrap();
            out.push((path.display().to_string(), m.modified().unwrap(), m.len()));
        }
    }
    out.sort();
    out
}

#[test]
fn eval_and_predict_read_a_run_without_writing_into_it() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), r#"{ kind = "random", ratios = [0.8, 0.1, 0.1], seed = 1 }"#, 1, 0);
    let out = recdiff(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = dir.path().join("run");
    let before = snapshot(&run);
    std::thread::sleep(Duration::from_millis(20));
    for args in [
        &["eval", "run", "--split", "valid"][..],
        &["eval", "run", "--remove", "0.3"],
        &["predict", "run", "data/impressions.csv", "-o", "scores.csv"],
    ] {
        let o = recdiff(dir.path()).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = recdiff(dir.path()).args(["eval", "run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("AUC 0."), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(snapshot(&run), before, "eval or predict wrote into the run");
    for share in ["1.5", "NaN", "-0.1"] {
        let o = recdiff(dir.path()).args(["eval", "run", &format!("--remove={share}")]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("not a share in [0, 1]"), "{share}: {err}");
    }
}

#[test]
fn training_again_over_a_finished_run_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), r#"{ kind = "random", ratios = [0.8, 0.1, 0.1], seed = 1 }"#, 1, 0);
    let out = recdiff(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results = std::fs::read(dir.path().join("run/results.json")).unwrap();
    let again = recdiff(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("holds a finished run") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("run/results.json")).unwrap(), results, "the finished run was touched");
    let forced = recdiff(dir.path()).args(["train", "exp.toml", "--force"]).output().unwrap();
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
}

#[test]
fn an_empty_output_or_one_holding_foreign_files_is_refused_and_a_failed_run_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), r#"{ kind = "random", ratios = [0.8, 0.1, 0.1], seed = 1 }"#, 1, 0);
    let text = std::fs::read_to_string(dir.path().join("exp.toml")).unwrap();
    // `output = ""` once trained into the working directory, over files that were not the run's.
    std::fs::write(dir.path().join("meta.json"), "not the run's").unwrap();
    std::fs::write(dir.path().join("empty.toml"), text.replace("output = \"run\"", "output = \"\"")).unwrap();
    let out = recdiff(dir.path()).args(["train", "empty.toml"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("output is empty"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("meta.json")).unwrap(), "not the run's");
    // A directory with files of its own: refused before anything is written, naming one.
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/notes.txt"), "keep").unwrap();
    let out = recdiff(dir.path()).args(["train", "exp.toml", "--output", "mine"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("notes.txt") && err.contains("not a run's"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path().join("mine")).unwrap().count(), 1, "the refused run wrote into it");
    // A run that fails after making its directory (the schema's data file is missing, found
    // when the data is prepared) leaves no empty directory behind.
    std::fs::create_dir(dir.path().join("moved")).unwrap();
    std::fs::copy(dir.path().join("data/schema.toml"), dir.path().join("moved/schema.toml")).unwrap();
    std::fs::write(dir.path().join("broken.toml"), text.replace("data/schema.toml", "moved/schema.toml")).unwrap();
    let out = recdiff(dir.path()).args(["train", "broken.toml", "--output", "fresh"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("moved"), "{err}");
    assert!(!dir.path().join("fresh").exists(), "a failed run left its directory");
}

#[test]
fn configs_that_would_exhaust_memory_are_refused_by_key_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        SynthConfig { rows: 2_000, users: 100, items: 80, fields: 24, format: OutputFormat::Csv, ..Default::default() };
    synth::generate(&cfg, &dir.path().join("data")).unwrap();
    let config = |model: &str, base: &str| {
        format!(
            "name = \"m\"\noutput = \"run\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"ctr\"\n{model}\n\
             [model.base]\nkind = \"dcnv2\"\n{base}\n[train]\nepochs = 1\nprogress = false\n"
        )
    };
    let ordinary = "cross_layers = 1\ndeep = [16]\nlatent_dim = 8";
    let cases = [
        (config("embedding_dim = 2147483648", ordinary), "model.embedding_dim"),
        (config("embedding_dim = 9223372036854775807", ordinary), "model.embedding_dim"),
        (config("embedding_dim = 65536", ordinary), "model.embedding_dim"),
        (config("embedding_dim = 4", "cross_layers = 1000000\ndeep = [16]\nlatent_dim = 8"), "model.base.cross_layers"),
        (config("embedding_dim = 4", "cross_layers = 1\ndeep = [1000000000]\nlatent_dim = 8"), "model.base.deep"),
        (
            config("embedding_dim = 4", "cross_layers = 1\ndeep = [16]\nlatent_dim = 1000000000"),
            "model.base.latent_dim",
        ),
    ];
    for (text, key) in cases {
        std::fs::write(dir.path().join("m.toml"), &text).unwrap();
        let out = recdiff(dir.path()).args(["train", "m.toml", "--max-memory", "64"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: not the error exit (a panic is 101): {err}");
        assert!(err.contains(&format!("`{key}`")) && err.contains("--max-memory"), "{key}: {err}");
        assert!(!dir.path().join("run").join("last").exists());
    }
    // An ordinary config under a limit it does not fit: refused too, and trains under its own.
    std::fs::write(dir.path().join("m.toml"), config("embedding_dim = 4", ordinary)).unwrap();
    let out = recdiff(dir.path()).args(["train", "m.toml", "--max-memory", "0.0001"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would need about"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = recdiff(dir.path()).args(["train", "m.toml", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_command_that_does_not_apply_to_a_runs_family_names_the_family_and_the_command_that_does() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), r#"{ kind = "random", ratios = [0.8, 0.1, 0.1], seed = 1 }"#, 1, 0);
    let out = recdiff(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for args in [vec!["recommend", "run", "--user", "1"], vec!["serve", "--retrieval", "run", "--addr", "127.0.0.1:0"]]
    {
        let out = recdiff(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("a CTR run") && err.contains("applies to sequential and top-K runs"),
            "{args:?}: {err}"
        );
        assert!(err.contains("recdiff predict") || err.contains("RUN argument"), "{args:?}: {err}");
    }
}

#[test]
fn a_refused_resume_of_a_top_k_run_leaves_the_run_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        rows: 3_000,
        users: 150,
        items: 120,
        fields: 24,
        format: OutputFormat::Csv,
        ..Default::default()
    };
    synth::generate(&cfg, &dir.path().join("data")).unwrap();
    let config = |hidden: usize| {
        format!(
            "name = \"t\"\noutput = \"run\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"diffrec\"\n\
             hidden = [{hidden}]\nsteps = 5\n[train]\nbatch_size = 64\nepochs = 2\nprogress = false\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), config(32)).unwrap();
    std::fs::write(dir.path().join("b.toml"), config(48)).unwrap();
    let out = recdiff(dir.path()).args(["train", "a.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = dir.path().join("run");
    let before = snapshot(&run);
    // Another architecture under --resume: refused before anything is written into the run.
    let out = recdiff(dir.path()).args(["train", "b.toml", "--resume"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("another config"), "{err}");
    assert_eq!(snapshot(&run), before, "the refused resume wrote into the run");
}

#[test]
fn schema_tables_and_ranking_widths_past_the_memory_limit_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        SynthConfig { rows: 2_000, users: 100, items: 80, fields: 24, format: OutputFormat::Csv, ..Default::default() };
    synth::generate(&cfg, &dir.path().join("data")).unwrap();
    // The schema's own maximum: 2^27 hash buckets for one field.
    let schema = std::fs::read_to_string(dir.path().join("data/schema.toml")).unwrap();
    let hashed = schema.replacen(
        "name = \"user_id\"\nkind = \"categorical\"\n",
        "name = \"user_id\"\nkind = \"categorical\"\nencoding = \"hash\"\nbuckets = 134217728\n",
        1,
    );
    assert_ne!(hashed, schema, "the synthetic schema's user_id field");
    std::fs::write(dir.path().join("data/huge.toml"), hashed).unwrap();
    let ctr = "name = \"m\"\noutput = \"run\"\n[data]\nschema = \"data/huge.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 16\n\
               [model.base]\nkind = \"dcnv2\"\ncross_layers = 1\ndeep = [16]\nlatent_dim = 8\n[train]\nepochs = 1\nprogress = false\n";
    let topk = "name = \"t\"\noutput = \"trun\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"diffrec\"\n\
                hidden = [1000000000]\nsteps = 5\n[train]\nbatch_size = 64\nepochs = 1\nprogress = false\n";
    for (text, key) in [(ctr, "buckets (schema)"), (topk, "model.hidden")] {
        std::fs::write(dir.path().join("m.toml"), text).unwrap();
        let out = recdiff(dir.path()).args(["train", "m.toml", "--max-memory", "8"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
    }
}

#[test]
fn a_failed_encoding_leaves_no_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        SynthConfig { rows: 500, users: 50, items: 40, fields: 24, format: OutputFormat::Csv, ..Default::default() };
    synth::generate(&cfg, &dir.path().join("data")).unwrap();
    // A schema whose data file is not there: the encoding fails once its output exists.
    std::fs::create_dir(dir.path().join("moved")).unwrap();
    std::fs::copy(dir.path().join("data/schema.toml"), dir.path().join("moved/schema.toml")).unwrap();
    let out = recdiff(dir.path()).args(["data", "encode", "moved/schema.toml", "--out", "enc"]).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!dir.path().join("enc").exists(), "the failed encoding left its directory");
}
