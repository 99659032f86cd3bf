//! Input values that once made a score non-finite: a client's `1e30` in a numeric field scaled
//! with `transform = "standard"` turned a whole `/v1/score` request into a 500 and was written by
//! `recdiff predict` as NaN with exit 0. The codec now clamps a scaled value to within 1,000
//! training standard deviations of the mean, alike in training and serving, so such a value
//! scores as the bound does; and the codecs a run is scored with are checksummed in its best
//! checkpoint, with hand-edited statistics refused by field.

use recdiff_bench::loadgen::{self, agent, post};
use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_serve::server::ExtraRoutes;
use recdiff_serve::{RunningServer, ServeConfig};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;

const FIELD: &str = "device_price";

/// A small run over the synthetic log with every `log_standard` field scaled as `standard`.
fn trained(dir: &Path) -> std::path::PathBuf {
    let cfg = SynthConfig {
        rows: 3_000,
        users: 200,
        items: 150,
        fields: 24,
        format: OutputFormat::Csv,
        ..Default::default()
    };
    synth::generate(&cfg, &dir.join("data")).unwrap();
    let schema = dir.join("data/schema.toml");
    let text = std::fs::read_to_string(&schema).unwrap();
    assert!(text.contains(&format!("name = \"{FIELD}\"\nkind = \"numeric\"\ntransform = \"log_standard\"")));
    std::fs::write(&schema, text.replace("transform = \"log_standard\"", "transform = \"standard\"")).unwrap();
    let exp = "name = \"x\"\nseed = 3\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 4\n\
               [model.base]\nkind = \"dcnv2\"\ncross_layers = 2\ndeep = [16]\nlatent_dim = 8\n\
               [train]\nbatch_size = 512\nepochs = 1\nprogress = false\n";
    std::fs::write(dir.join("exp.toml"), exp).unwrap();
    let cfg = recdiff_train::ExperimentConfig::load(&dir.join("exp.toml")).unwrap();
    let run = dir.join("run");
    recdiff_train::run(&recdiff_train::ExperimentConfig { output: Some(run.clone()), ..cfg }, false).unwrap();
    run
}

/// One row of the synthetic log three times, its `FIELD` set to each of `values`, as a CSV.
fn one_row_with(dir: &Path, values: &[&str]) -> std::path::PathBuf {
    let text = std::fs::read_to_string(dir.join("data/impressions.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    let col = header.split(',').position(|c| c == FIELD).unwrap();
    let mut out = format!("{header}\n");
    for v in values {
        let mut cells: Vec<&str> = row.split(',').collect();
        cells[col] = v;
        out += &(cells.join(",") + "\n");
    }
    let path = dir.join("extreme.csv");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn a_huge_numeric_input_scores_finite_as_the_clamp_bound_in_predict_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained(dir.path());
    // The same row three times: two values far past the bound score alike; a normal one differs.
    let input = one_row_with(dir.path(), &["1e30", "1e35", "1"]);
    let scores = dir.path().join("scores.csv");
    recdiff_train::predict::predict(&run, &input, &scores).unwrap();
    let got: Vec<f64> = std::fs::read_to_string(&scores)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)), "predict wrote {got:?}");
    assert_eq!(got[0], got[1], "both values clamp to the same bound");
    assert_ne!(got[0], got[2], "the field still reaches the model");

    let server = RunningServer::start(
        ServeConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..ServeConfig::new(run.clone()) },
        ExtraRoutes::new(),
    )
    .unwrap();
    let schema = recdiff_data::Schema::load(&dir.path().join("data/schema.toml")).unwrap();
    let rows = loadgen::sample_rows(&schema, 4).unwrap();
    let (mut user, context, item) = (rows[0][0].clone(), rows[0][1].clone(), rows[0][2].clone());
    user.remove(FIELD).expect("the field is a user feature");
    let candidates: Vec<Value> = [json!(1e30), json!(1e35), json!(1.0)]
        .into_iter()
        .map(|v| {
            let mut c = item.clone();
            c.insert(FIELD.into(), v);
            Value::Object(c)
        })
        .collect();
    let body = json!({ "user": user, "context": context, "candidates": candidates }).to_string();
    let (status, text) = post(&agent(), &server.url("/v1/score"), &body).unwrap();
    assert_eq!(status, 200, "one huge candidate must not fail the request: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let s: Vec<f64> = v["scores"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(s[0], s[1], "{s:?}");
    assert!(s.iter().all(|p| p.is_finite()), "{s:?}");
}

#[test]
fn the_codecs_a_run_scores_with_are_checksummed_and_bad_statistics_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained(dir.path());
    let meta = run.join("best/meta.json");
    let pristine = std::fs::read_to_string(&meta).unwrap();
    let mut v: Value = serde_json::from_str(&pristine).unwrap();
    let field = v["fields"].as_array_mut().unwrap().iter_mut().find(|f| f["name"] == FIELD).unwrap();
    field["codec"]["std"] = json!(0.0);
    let tampered = serde_json::to_string_pretty(&v).unwrap();
    std::fs::write(&meta, &tampered).unwrap();
    let e = recdiff_run::CtrRun::open(&run).err().expect("a tampered meta.json must be refused").to_string();
    assert!(e.contains("meta.json") && e.contains("checksum mismatch"), "{e}");
    // Read on its own (as a run saved before meta.json joined the checkpoint is), the statistics
    // themselves are refused, naming the field.
    let e = recdiff_data::EncodedMeta::parse(&tampered, &meta).unwrap_err().to_string();
    assert!(e.contains(FIELD) && e.contains("std"), "{e}");
    let mut v: Value = serde_json::from_str(&pristine).unwrap();
    let field = v["fields"].as_array_mut().unwrap().iter_mut().find(|f| f["name"] == FIELD).unwrap();
    field["codec"]["mean"] = json!(1e308);
    let e = recdiff_data::EncodedMeta::parse(&v.to_string(), &meta).unwrap_err().to_string();
    assert!(e.contains(FIELD), "{e}");
}
