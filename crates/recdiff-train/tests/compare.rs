//! `compare` runs every cell over the seeds, writes its tables, resumes without retraining, and
//! `robustness` probes the trained models with fields removed.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_train::compare::CompareConfig;
use recdiff_train::robustness;

#[test]
fn compare_then_robustness_on_a_small_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = SynthConfig {
        rows: 12_000,
        users: 800,
        items: 300,
        fields: 24,
        format: OutputFormat::Parquet,
        ..SynthConfig::default()
    };
    synth::generate(&cfg, &d.join("data")).unwrap();
    std::fs::write(
        d.join("template.toml"),
        "name = \"t\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nembedding_dim = 8\n[model.base]\nkind = \"dcnv2\"\n\
         cross_layers = 1\ndeep = [32]\nlatent_dim = 16\n[train]\nbatch_size = 256\nepochs = 4\nlr = 3e-3\nprogress = false\n",
    )
    .unwrap();
    let out = d.join("cmp");
    std::fs::write(
        d.join("compare.toml"),
        format!(
            "name = \"cmp\"\ntemplate = \"template.toml\"\nseeds = [1, 2, 3]\noutput = \"{}\"\n\
             [[enhancers]]\nkind = \"asymdiffrec\"\nhidden = 32\n",
            out.display()
        ),
    )
    .unwrap();
    let (c, t) = CompareConfig::load(&d.join("compare.toml")).unwrap();
    assert_eq!(c.enhancers.len(), 2, "a `none` reference row is added");
    let rows = recdiff_train::compare::run(&c, &t).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].auc_impr.is_none() && rows[1].auc_impr.is_some() && rows[1].paired.is_some());
    assert!(rows.iter().all(|r| r.runs.len() == 3 && r.auc.half_width > 0.0));
    let md = recdiff_train::compare::write_tables(&c, &t, &rows).unwrap();
    assert!(md.contains("| dcnv2 | asymdiffrec |"), "{md}");
    assert_eq!(std::fs::read_to_string(out.join("runs.csv")).unwrap().lines().count(), 1 + 6);

    // Resuming reads finished runs back instead of training them again.
    let stamp = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let results = out.join("dcnv2/none/seed-1/results.json");
    let before = stamp(&results);
    let again = recdiff_train::compare::run(&c, &t).unwrap();
    assert_eq!(stamp(&results), before);
    assert_eq!(again[1].auc.mean, rows[1].auc.mean);

    let curves = robustness::run(&c).unwrap();
    robustness::write(&c, &curves).unwrap();
    for m in &curves {
        let aucs: Vec<f64> = m.auc.iter().map(|a| a.mean).collect();
        assert!(m.auc[0].mean > m.auc[6].mean, "{}: removing 60% of fields must cost AUC: {aucs:?}", m.model);
        assert!(m.cold_auc.is_some() && m.cold_fields.contains(&"gender".to_string()));
    }
    for f in ["robustness.svg", "robustness.png", "robustness.md", "robustness.csv", "table.md", "table.csv"] {
        assert!(out.join(f).metadata().unwrap().len() > 100, "{f}");
    }
}
