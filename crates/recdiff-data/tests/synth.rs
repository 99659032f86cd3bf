//! The synthetic generator: planted missing rates show up in `data stats`, output is deterministic
//! for a seed, and both output formats encode.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_data::{Schema, SplitSpec, encode, stats};

fn small(rows: u64, format: OutputFormat) -> SynthConfig {
    SynthConfig { rows, users: 2_000, items: 800, format, ..SynthConfig::default() }
}

#[test]
fn stats_show_the_planted_missing_rates_within_one_point() {
    let dir = tempfile::tempdir().unwrap();
    let planted = synth::generate(&small(60_000, OutputFormat::Parquet), dir.path()).unwrap();
    let schema = Schema::load(&planted.schema_file).unwrap();
    let s = stats::compute(&schema, 0).unwrap();
    assert_eq!(s.rows, 60_000);
    assert_eq!(s.fields.len(), 40);
    for (field, (name, rate)) in s.fields.iter().zip(&planted.missing_rates) {
        assert_eq!(&field.name, name);
        assert!((field.missing_rate - rate).abs() < 0.01, "{name}: measured {} planted {rate}", field.missing_rate);
    }
    let cold = s.fields.iter().find(|f| f.name == "gender").unwrap().missing_rate;
    assert!(cold >= 0.09, "cold-start impressions hide the profile: {cold}");
    assert!((s.positive_rate - 0.25).abs() < 0.02, "calibrated CTR {}", s.positive_rate);
    assert!(planted.oracle_auc > 0.75, "the planted model is learnable: oracle AUC {}", planted.oracle_auc);
}

#[test]
fn same_seed_gives_identical_data_and_other_seed_differs() {
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = small(3_000, OutputFormat::Csv);
    let pa = synth::generate(&config, a.path()).unwrap();
    let pb = synth::generate(&config, b.path()).unwrap();
    let pc = synth::generate(&SynthConfig { seed: 7, ..config }, c.path()).unwrap();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    assert_eq!(read(&pa.data_file), read(&pb.data_file));
    assert_ne!(read(&pa.data_file), read(&pc.data_file));
}

#[test]
fn field_count_is_configurable_past_two_hundred_and_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig { fields: 210, ..small(2_000, OutputFormat::Csv) };
    let planted = synth::generate(&config, dir.path()).unwrap();
    let schema = Schema::load(&planted.schema_file).unwrap();
    assert_eq!(schema.fields.len(), 210);
    let out = dir.path().join("enc");
    let meta = encode::encode(&schema, &SplitSpec::Temporal { ratios: [0.8, 0.1, 0.1] }, &out, 0).unwrap();
    assert_eq!(meta.rows, [1600, 200, 200]);
    let test = recdiff_data::SplitFile::open(&out.join("test.bin")).unwrap();
    let train = recdiff_data::SplitFile::open(&out.join("train.bin")).unwrap();
    assert!(test.row(0).timestamp() > train.row(train.len() - 1).timestamp(), "temporal split tests the future");
}

#[test]
fn invalid_config_is_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let err = synth::generate(&SynthConfig { fields: 5, ..SynthConfig::default() }, dir.path()).unwrap_err();
    assert!(err.to_string().contains("at least 24"), "{err}");
    let err = synth::generate(&SynthConfig { cold_start_rate: 1.5, ..SynthConfig::default() }, dir.path()).unwrap_err();
    assert!(err.to_string().contains("missing rates"), "{err}");
}
