//! The CSV row reader, through `data stats`: any file gives statistics or an error naming where.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SCHEMA: &str = "name = \"f\"\n[source]\nformat = \"csv\"\npath = \"data.csv\"\nmax_cell_bytes = 64\n\
[label]\ncolumn = \"click\"\n[[fields]]\nname = \"user\"\nkind = \"categorical\"\n\
[[fields]]\nname = \"price\"\nkind = \"numeric\"\ntransform = \"bucketize\"\nbuckets = 4\n\
[[fields]]\nname = \"tags\"\nkind = \"multi_hot\"\nseparator = \";\"\n";

fn dir() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("schema.toml"), SCHEMA).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    std::fs::write(d.path().join("data.csv"), data).unwrap();
    let schema = recdiff_data::Schema::load(&d.path().join("schema.toml")).unwrap();
    let _ = recdiff_data::stats::compute(&schema, 0);
});
