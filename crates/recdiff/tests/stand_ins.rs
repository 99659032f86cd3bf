//! The dataset presets train end to end on their synthetic stand-ins through the real reader path:
//! `data synth --like criteo|avazu` then a CTR `train` on the preset (they have a label), and
//! `data synth --like movielens-1m|amazon` then a sequential `train` (they have timestamps).
//! Small sizes; the 10M-row Criteo run is in docs/results.md.

use std::path::Path;
use std::process::Command;

fn recdiff(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_recdiff")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "recdiff {args:?}:\n{text}");
    text
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap()
}

#[test]
fn criteo_preset_trains_ctr_on_its_stand_in() {
    ctr_on("criteo", true);
}

#[test]
fn avazu_preset_trains_ctr_on_its_stand_in() {
    ctr_on("avazu", false);
}

/// CTR on the stand-in of `like`; `no_user` when its preset has no user key (UAUC absent).
fn ctr_on(like: &str, no_user: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("like");
    let d = data.to_str().unwrap();
    recdiff(&["data", "synth", "--like", like, "--rows", "30000", "--users", "2000", "--items", "400", "--out", d]);
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        format!(
            "name = \"criteo-like\"\n[data]\nschema = \"{d}/schema.toml\"\nsplit = {{ kind = \"random\", ratios = [0.8, 0.1, 0.1], seed = 1 }}\n\
             [model]\nkind = \"ctr\"\nembedding_dim = 8\n[model.base]\nkind = \"dcnv2\"\ncross_layers = 1\ndeep = [32]\nlatent_dim = 16\n\
             [train]\nbatch_size = 512\nepochs = 2\nlr = 2e-3\nprogress = false\n"
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    recdiff(&["train", cfg.to_str().unwrap(), "--output", run.to_str().unwrap()]);
    let r = results(&run);
    let auc = r["test"]["auc"].as_f64().unwrap();
    // The planted click model is learnable through the layout (chance is 0.5).
    assert!(auc > 0.6, "{like}: test AUC {auc}");
    assert_eq!(r["test"]["uauc"].is_null(), no_user, "{like}: UAUC is absent exactly without a user key");
}

#[test]
fn movielens_1m_preset_trains_sasrec_on_its_stand_in() {
    seq_on("movielens-1m", "genres");
}

#[test]
fn amazon_preset_trains_sasrec_on_its_stand_in() {
    seq_on("amazon", "category");
}

/// SASRec on the stand-in of `like`, with diversity over `attribute`.
fn seq_on(like: &str, attribute: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("like");
    let d = data.to_str().unwrap();
    recdiff(&["data", "synth", "--like", like, "--rows", "8000", "--users", "200", "--items", "150", "--out", d]);
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        format!(
            "name = \"ml-like\"\n[data]\nschema = \"{d}/schema.toml\"\nmax_len = 20\nattribute = \"{attribute}\"\n\
             [model]\nkind = \"sasrec\"\ndim = 16\nheads = 2\nlayers = 1\n[train]\nbatch_size = 64\nepochs = 1\nprogress = false\n"
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    recdiff(&["train", cfg.to_str().unwrap(), "--output", run.to_str().unwrap()]);
    let r = results(&run);
    assert_eq!(r["family"], "seq");
    let hr = r["test"]["hr@10"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&hr) && r["test"]["ild@10"].as_f64().is_some(), "{like}: {r}");
}
