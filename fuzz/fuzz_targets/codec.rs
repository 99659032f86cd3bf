//! The numeric codecs: any statistics and any value give a checked codec or an error, and a
//! codec that passes its check scales any finite value to a finite f32; `meta.json` text parses
//! to checked codecs or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use recdiff_data::codec::{Codec, log_squared_id};
use recdiff_data::schema::NumericTransform;

fn f64_at(data: &[u8], i: usize) -> f64 {
    let mut b = [0u8; 8];
    for (k, x) in b.iter_mut().enumerate() {
        *x = data.get(i * 8 + k).copied().unwrap_or(0);
    }
    f64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let (mean, std, v) = (f64_at(data, 0), f64_at(data, 1), f64_at(data, 2));
    let transforms = [NumericTransform::None, NumericTransform::Standard, NumericTransform::Log, NumericTransform::LogStandard];
    let transform = transforms[data.first().map_or(0, |b| *b as usize % transforms.len())];
    let codec = Codec::Scale { transform, mean, std };
    if codec.check().is_ok() && v.is_finite() {
        assert!(codec.scale(v).is_finite(), "{codec:?} scaled {v} to a non-finite value");
    }
    let _ = log_squared_id(v);
    let bounds: Vec<f64> = (3..8).map(|i| f64_at(data, i)).collect();
    let _ = Codec::Bucketize { boundaries: bounds.clone() }.check();
    let _ = Codec::Bucketize { boundaries: bounds }.bucket(v);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = recdiff_data::EncodedMeta::parse(text, std::path::Path::new("meta.json"));
    }
});
