//! The planted click model's two oracles, against exact sums over the hidden values.

use super::SynthConfig;
use super::click::{ClickModel, Draw, RowBuf};
use super::plan::field_plan;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn model(config: &SynthConfig) -> ClickModel {
    ClickModel::calibrated(config, &field_plan(config))
}

fn index_of(m: &ClickModel, name: &str) -> usize {
    m.fields.iter().position(|f| f.name == name).unwrap()
}

fn drawn(m: &ClickModel, n: u64) -> Vec<Draw> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    (0..n)
        .map(|i| {
            let mut d = Draw::default();
            m.draw(&mut rng, i, &mut d);
            d
        })
        .collect()
}

#[test]
fn a_hidden_field_the_logit_ignores_or_a_logged_field_implies_costs_nothing() {
    let m = model(&SynthConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for d in drawn(&m, 50) {
        let mut hidden = vec![false; m.fields.len()];
        for name in ["network", "device_os", "tags", "city_tier"] {
            hidden[index_of(&m, name)] = true;
        }
        assert_eq!(m.as_logged_probability(&d, &hidden, &mut rng), m.probability(&d));
    }
}

#[test]
fn a_hidden_gender_is_averaged_over_its_three_values() {
    let m = model(&SynthConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut hidden = vec![false; m.fields.len()];
    hidden[index_of(&m, "gender")] = true;
    let (mut err, mut moved) = (0.0, 0.0);
    let rows = drawn(&m, 400);
    for d in &rows {
        let exact = (0..3).map(|g| m.probability(&Draw { gender: g, ..d.clone() })).sum::<f64>() / 3.0;
        err += (m.as_logged_probability(d, &hidden, &mut rng) - exact).abs();
        moved += (exact - m.probability(d)).abs();
    }
    let (err, moved) = (err / rows.len() as f64, moved / rows.len() as f64);
    assert!(moved > 0.02, "hiding gender must change the oracle: mean move {moved}");
    assert!(err < moved / 4.0, "Monte Carlo error {err} against a mean move of {moved}");
}

#[test]
fn hiding_both_city_and_tier_averages_over_the_five_tiers() {
    let m = model(&SynthConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut hidden = vec![false; m.fields.len()];
    hidden[index_of(&m, "city")] = true;
    hidden[index_of(&m, "city_tier")] = true;
    let rows = drawn(&m, 300);
    let mut err = 0.0;
    for d in &rows {
        let exact = (0..5).map(|t| m.probability(&Draw { city: t, ..d.clone() })).sum::<f64>() / 5.0;
        err += (m.as_logged_probability(d, &hidden, &mut rng) - exact).abs();
    }
    assert!(err / (rows.len() as f64) < 0.01, "mean error {}", err / rows.len() as f64);
}

#[test]
fn a_cold_start_user_has_no_profile_in_any_impression() {
    let config = SynthConfig { cold_user_rate: 0.5, cold_start_rate: 0.0, ..SynthConfig::default() };
    let m = model(&config);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut buf = RowBuf::new(m.fields.len());
    let gender = index_of(&m, "gender");
    let mut seen = std::collections::HashMap::<u64, (u32, u32)>::new();
    for index in 0..20_000 {
        m.row(&mut rng, index, &mut buf);
        let e = seen.entry(buf.draw.u).or_default();
        e.0 += 1;
        e.1 += buf.hidden[gender] as u32;
    }
    let frequent: Vec<_> = seen.values().filter(|(n, _)| *n >= 20).collect();
    assert!(frequent.len() > 20);
    let always = frequent.iter().filter(|(n, h)| n == h).count();
    let mostly_logged = frequent.iter().filter(|(n, h)| (*h as f64) < 0.5 * *n as f64).count();
    assert_eq!(always + mostly_logged, frequent.len(), "a user is either cold or logged at the field's own rate");
    assert!(always > frequent.len() / 4 && always < frequent.len() * 3 / 4, "{always} of {}", frequent.len());
}

#[test]
fn with_nothing_missing_the_two_oracles_are_equal() {
    let config = SynthConfig {
        cold_start_rate: 0.0,
        cold_user_rate: 0.0,
        item_meta_missing_rate: 0.0,
        max_field_missing_rate: 0.0,
        ..SynthConfig::default()
    };
    let m = model(&config);
    let (mut rng, mut oracle_rng) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(6));
    let mut buf = RowBuf::new(m.fields.len());
    for index in 0..500 {
        let (_, p, _) = m.row(&mut rng, index, &mut buf);
        assert!(buf.hidden.iter().all(|h| !h));
        assert_eq!(m.as_logged_probability(&buf.draw, &buf.hidden, &mut oracle_rng), p);
    }
}
