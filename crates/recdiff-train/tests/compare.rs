//! `compare` on the experiment layer: rows that differ in one hyper-parameter train into their own
//! directories, finished runs are read back, a changed template trains again, and `robustness`
//! probes the trained models read-only — on a log without a user key, where UAUC is absent.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_experiment::Family;
use recdiff_experiment::compare::Plan;
use recdiff_train::robustness;
use std::path::Path;

const FAMILIES: [&dyn Family; 1] = [&recdiff_train::family::Ctr];

/// A synthetic log whose schema names no user key (as Criteo and most public CTR logs).
fn log_without_user_key(d: &Path) {
    let cfg = SynthConfig {
        rows: 12_000,
        users: 800,
        items: 300,
        fields: 24,
        format: OutputFormat::Parquet,
        ..SynthConfig::default()
    };
    synth::generate(&cfg, &d.join("data")).unwrap();
    let schema = d.join("data/schema.toml");
    let text = std::fs::read_to_string(&schema).unwrap().replace("user = \"user_id\"\n", "");
    assert!(!text.contains("user = "), "the fixture must have no user key");
    std::fs::write(&schema, text).unwrap();
}

fn write_template(d: &Path, lr: &str) {
    std::fs::write(
        d.join("template.toml"),
        format!(
            "name = \"t\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 8\n[model.base]\n\
             kind = \"dcnv2\"\ncross_layers = 1\ndeep = [32]\nlatent_dim = 16\n[train]\nbatch_size = 256\nepochs = 3\nlr = {lr}\n\
             patience = 1\nprogress = false\n"
        ),
    )
    .unwrap();
}

#[test]
fn rows_differing_in_one_setting_get_their_own_runs_and_a_log_without_users_compares_and_probes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    log_without_user_key(d);
    write_template(d, "3e-3");
    let out = d.join("cmp");
    std::fs::write(
        d.join("compare.toml"),
        format!(
            "name = \"cmp\"\ntemplate = \"template.toml\"\nseeds = [1, 2]\noutput = \"{}\"\n\
             [[variants]]\nmodel.enhancer.kind = \"none\"\n\
             [[variants]]\nmodel.enhancer = {{ kind = \"ssl\", masking = \"random\" }}\n\
             [[variants]]\nmodel.enhancer = {{ kind = \"ssl\", masking = \"correlated\" }}\n",
            out.display()
        ),
    )
    .unwrap();
    let plan = Plan::load(&d.join("compare.toml"), &FAMILIES).unwrap();
    let labels: Vec<&str> = plan.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels[0], "dcnv2");
    assert!(labels[1].starts_with("dcnv2+ssl (") && labels[1].contains("masking=\"random\""), "{labels:?}");
    assert!(labels[2].contains("masking=\"correlated\""), "{labels:?}");
    let rows = plan.run(|_, _, _| {}).unwrap();
    let (random, correlated) = (&rows[1].runs, &rows[2].runs);
    assert_ne!(random[0].config_hash, correlated[0].config_hash, "the two SSL rows share a config hash");
    assert_ne!(
        random[0].test.get("auc"),
        correlated[0].test.get("auc"),
        "the second SSL row reports the first's numbers"
    );
    assert!(rows.iter().all(|r| r.runs.len() == 2 && r.runs.iter().all(|x| x.test.get("uauc").is_none() && x.test.reports("uauc"))));
    // Epochs count what was trained (9,600 train rows / 256 = 38 steps each), also when stopped early.
    assert!(
        rows.iter().flat_map(|r| &r.runs).all(|x| x.steps == 38 * x.epochs as u64 && x.best_epoch <= x.epochs),
        "{rows:?}"
    );
    let cols = plan.columns.clone();
    let md = recdiff_experiment::table::write_tables(&out, "cmp", "test", &rows, &cols, &plan.metric).unwrap();
    assert!(md.contains("| dcnv2 | dcnv2 | ") && md.contains(" | — | "), "UAUC must show as a dash:\n{md}");
    assert_eq!(std::fs::read_to_string(out.join("runs.csv")).unwrap().lines().count(), 1 + 6);

    // Finished runs are read back, not trained again.
    let results = rows[0].runs[0].clone();
    let again = plan.run(|_, _, reused| assert!(reused, "a finished run was trained again")).unwrap();
    assert_eq!(again[0].runs[0], results);

    // A changed template hashes elsewhere: the runs of the old config are not reused.
    write_template(d, "1e-3");
    let changed = Plan::load(&d.join("compare.toml"), &FAMILIES).unwrap();
    let (dir_old, _) =
        recdiff_experiment::seeds::runs_dir(plan.rows[0].experiment.as_ref(), &out.join("dcnv2")).unwrap();
    let (dir_new, _) =
        recdiff_experiment::seeds::runs_dir(changed.rows[0].experiment.as_ref(), &out.join("dcnv2")).unwrap();
    assert_ne!(dir_old, dir_new);

    // Robustness opens each run read-only: nothing in the run directories changes.
    let listing = |p: &Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> =
            walk(p).into_iter().map(|f| (f.display().to_string(), f.metadata().unwrap().modified().unwrap())).collect();
        v.sort();
        v
    };
    let before = listing(&out);
    let curves = robustness::run(&plan).unwrap();
    assert_eq!(listing(&out), before, "robustness wrote into the runs");
    robustness::write(&plan, &curves).unwrap();
    // The base learns enough in 3 epochs for hidden fields to cost it AUC; every row gets its curve.
    let base: Vec<f64> = curves[0].auc.iter().map(|a| a.mean).collect();
    assert!(base[0] > base[6] + 0.01, "{}: removing 60% of fields must cost AUC: {base:?}", curves[0].model);
    for m in &curves {
        assert_eq!((m.auc.len(), m.uauc.len()), (7, 7));
        assert!(m.uauc.iter().all(Option::is_none), "UAUC without a user key must be absent");
        assert!(m.cold_auc.is_some() && m.cold_fields.contains(&"gender".to_string()));
    }
    for f in ["robustness.svg", "robustness.png", "robustness.md", "robustness.csv", "table.md", "table.csv"] {
        assert!(out.join(f).metadata().unwrap().len() > 100, "{f}");
    }
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
