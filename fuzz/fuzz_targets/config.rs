//! The config loader: any text is a config of some family or an error, and the memory estimate
//! of any config that loads is a number, not a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(table) = text.parse::<toml::Table>() else { return };
    let (dir, origin) = (Path::new("."), Path::new("fuzz.toml"));
    let _ = recdiff_run::ExperimentConfig::from_table(table.clone(), dir, origin);
    if let Ok(c) = recdiff_run::SeqExperimentConfig::from_table(table.clone(), dir, origin) {
        let model = toml::Table::try_from(&c.model).unwrap_or_default();
        let _ = recdiff_run::budget::ranking(&model, 1_000.0, c.train.batch_size as f64, c.data.max_len as f64).total();
    }
    if let Ok(c) = recdiff_run::topk_config::TopKExperimentConfig::from_table(table, dir, origin) {
        let model = toml::Table::try_from(&c.model).unwrap_or_default();
        let _ = recdiff_run::budget::ranking(&model, 1_000.0, c.train.batch_size as f64, 1_000.0).total();
    }
});
