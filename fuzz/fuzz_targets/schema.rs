//! The schema parser: any text parses to a schema or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = recdiff_data::Schema::parse(text);
    }
});
