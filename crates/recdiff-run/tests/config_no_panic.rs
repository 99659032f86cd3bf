//! The smoke version of the `config` fuzz target: any TOML, and any mutation of a shipped config,
//! loads as a config of some family or gives an error, never a panic; the memory estimate of what
//! loads is a number.

use proptest::prelude::*;
use std::path::Path;

const CTR: &str = "name = \"x\"\n[data]\nschema = \"s.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 16\n\
                   [model.base]\nkind = \"dcnv2\"\ncross_layers = 3\ndeep = [256, 128]\nlatent_dim = 64\n\
                   [train]\nbatch_size = 1024\nepochs = 3\n";
const TOPK: &str = "name = \"x\"\n[data]\nschema = \"s.toml\"\n[model]\nkind = \"diffrec\"\nhidden = [1000]\n\
                    [train]\nbatch_size = 400\nepochs = 3\n";

fn load_all(text: &str) {
    let Ok(table) = text.parse::<toml::Table>() else { return };
    let (dir, origin) = (Path::new("."), Path::new("fuzz.toml"));
    let _ = recdiff_run::ExperimentConfig::from_table(table.clone(), dir, origin);
    if let Ok(c) = recdiff_run::SeqExperimentConfig::from_table(table.clone(), dir, origin) {
        let model = toml::Table::try_from(&c.model).unwrap_or_default();
        let _ = recdiff_run::budget::ranking(&model, 1e3, c.train.batch_size as f64, c.data.max_len as f64).total();
    }
    if let Ok(c) = recdiff_run::topk_config::TopKExperimentConfig::from_table(table, dir, origin) {
        let model = toml::Table::try_from(&c.model).unwrap_or_default();
        let _ = recdiff_run::budget::ranking(&model, 1e3, c.train.batch_size as f64, 1e3).total();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_number_in_any_key_of_a_config_loads_or_is_refused(
        which in 0usize..2,
        at in 0usize..2000,
        value in prop_oneof![
            Just("1e308".to_string()), Just("-1".to_string()), Just("9223372036854775807".to_string()),
            Just("nan".to_string()), Just("0".to_string()), Just("[1e9]".to_string()), Just("\"\"".to_string()),
        ],
    ) {
        let text = [CTR, TOPK][which];
        // Replace the value of one `key = value` line with an extreme one.
        let lines: Vec<&str> = text.lines().collect();
        let i = at % lines.len();
        let mutated: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(j, l)| match l.split_once(" = ") {
                Some((k, _)) if j == i => format!("{k} = {value}"),
                _ => l.to_string(),
            })
            .collect();
        load_all(&mutated.join("\n"));
    }

    #[test]
    fn any_text_loads_or_is_refused(text in "\\PC{0,400}") {
        load_all(&text);
    }
}
