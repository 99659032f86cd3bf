//! The synthetic log's fields, their per-user/per-item values, the planted click model and the
//! schema written beside the data.

use super::SynthConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    User,
    Item,
    Context,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::User => "user",
            Group::Item => "item",
            Group::Context => "context",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthKind {
    Categorical { cardinality: u32 },
    Numeric,
    MultiHot { vocabulary: u32, max_len: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SynthField {
    pub name: String,
    pub group: Group,
    pub kind: SynthKind,
    /// True for user_id / item_id, which are never missing.
    pub is_id: bool,
    /// Missing-at-random rate on top of the group's joint missingness.
    pub field_missing_rate: f64,
}

impl SynthField {
    /// Expected share of rows where this field is missing.
    pub fn planted_missing_rate(&self, c: &SynthConfig) -> f64 {
        if self.is_id {
            return 0.0;
        }
        let group = match self.group {
            Group::User => c.cold_start_rate,
            Group::Item => c.item_meta_missing_rate,
            Group::Context => 0.0,
        };
        1.0 - (1.0 - group) * (1.0 - self.field_missing_rate)
    }
}

pub const CORE_FIELDS: usize = 24;
pub const GENRES: u32 = 20;
const TAGS: u32 = 60;
/// Per-field missing-at-random rates, as fractions of `max_field_missing_rate`, cycled over fields.
const RATE_STEPS: [f64; 6] = [0.0, 1.0 / 15.0, 1.0 / 6.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];

/// The fields of a log with `config.fields` feature fields.
pub fn field_plan(config: &SynthConfig) -> Vec<SynthField> {
    use Group::*;
    use SynthKind::*;
    let cat = |c| Categorical { cardinality: c };
    let mut spec: Vec<(String, Group, SynthKind)> = [
        ("user_id", User, cat(config.users)),
        ("gender", User, cat(3)),
        ("age_band", User, cat(7)),
        ("city", User, cat(400)),
        ("city_tier", User, cat(5)),
        ("device_os", User, cat(3)),
        ("device_price", User, Numeric),
        ("membership", User, cat(3)),
        ("user_level", User, cat(10)),
        ("active_days", User, Numeric),
        ("fav_genres", User, MultiHot { vocabulary: GENRES, max_len: 3 }),
        ("item_id", Item, cat(config.items)),
        ("artist_id", Item, cat(config.items / 8 + 1)),
        ("genre", Item, cat(GENRES)),
        ("mood", Item, cat(12)),
        ("language", Item, cat(10)),
        ("release_year", Item, Numeric),
        ("duration", Item, Numeric),
        ("popularity", Item, Numeric),
        ("tags", Item, MultiHot { vocabulary: TAGS, max_len: 4 }),
        ("scene", Context, cat(8)),
        ("hour", Context, cat(24)),
        ("network", Context, cat(4)),
        ("position", Context, Numeric),
    ]
    .into_iter()
    .map(|(n, g, k)| (n.to_string(), g, k))
    .collect();
    let cards = [4, 16, 100, 1000, 10_000];
    for k in 0..config.fields.saturating_sub(CORE_FIELDS) {
        let group = [User, Item, Context][k % 3];
        let prefix = ["u", "i", "c"][k % 3];
        spec.push((format!("{prefix}_extra_{}", k / 3), group, cat(cards[k % cards.len()])));
    }
    spec.into_iter()
        .enumerate()
        .map(|(i, (name, group, kind))| {
            let is_id = name == "user_id" || name == "item_id";
            let step = RATE_STEPS[(i * 5 + 1) % RATE_STEPS.len()];
            SynthField {
                field_missing_rate: if is_id { 0.0 } else { step * config.max_field_missing_rate },
                name,
                group,
                kind,
                is_id,
            }
        })
        .collect()
}

/// One generated cell.
#[derive(Debug, Clone, PartialEq)]
pub enum SynthValue {
    Missing,
    Int(i64),
    Float(f64),
    Tokens(Vec<u32>),
}

/// Deterministic pseudo-random numbers keyed by (seed, name, entity).
#[derive(Debug, Clone, Copy)]
struct Hasher(u64);

impl Hasher {
    fn bits(&self, name: &str, a: u64, b: u64) -> u64 {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&a.to_le_bytes());
        key[8..].copy_from_slice(&b.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64_with_seed(&key, self.0 ^ xxhash_rust::xxh3::xxh3_64(name.as_bytes()))
    }
    fn uniform(&self, name: &str, a: u64, b: u64) -> f64 {
        (self.bits(name, a, b) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&self, name: &str, a: u64, n: u32) -> u32 {
        (self.bits(name, a, 0) % n as u64) as u32
    }
    /// A standard normal variate (Box-Muller on two hashed uniforms).
    fn normal(&self, name: &str, a: u64, b: u64) -> f64 {
        let u1 = self.uniform(name, a, b.wrapping_mul(2)).max(1e-12);
        let u2 = self.uniform(name, a, b.wrapping_mul(2) + 1);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn token_set(&self, name: &str, a: u64, vocabulary: u32, max_len: u32) -> Vec<u32> {
        let n = 1 + self.below(name, a, max_len) as u64;
        let mut t: Vec<u32> = (0..n).map(|k| (self.bits(name, a, k + 1) % vocabulary as u64) as u32).collect();
        t.sort_unstable();
        t.dedup();
        t
    }
}

/// The planted click model and the samplers of users, items and context.
pub struct ClickModel {
    pub intercept: f64,
    hash: Hasher,
    users: Zipf<f64>,
    items: Zipf<f64>,
    fields: Vec<SynthField>,
    config: SynthConfig,
}

const START_TS: i64 = 1_700_000_000;

impl ClickModel {
    /// Builds the model and calibrates its intercept so the mean click probability is `target_ctr`.
    pub fn calibrated(config: &SynthConfig, fields: &[SynthField]) -> Self {
        let mut model = ClickModel {
            intercept: 0.0,
            hash: Hasher(config.seed),
            // validate() guarantees n >= 1 and s > 0, which is all Zipf::new requires.
            users: Zipf::new(config.users as f64, config.user_zipf).unwrap_or_else(|_| unreachable!()),
            items: Zipf::new(config.items as f64, config.item_zipf).unwrap_or_else(|_| unreachable!()),
            fields: fields.to_vec(),
            config: config.clone(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0xCA11B);
        let mut row = vec![SynthValue::Missing; fields.len()];
        let logits: Vec<f64> = (0..20_000).map(|i| model.true_row(&mut rng, i, &mut row)).collect();
        let mean_p = |b: f64| logits.iter().map(|l| sigmoid(l + b)).sum::<f64>() / logits.len() as f64;
        let (mut lo, mut hi) = (-20.0, 20.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mean_p(mid) < config.target_ctr { lo = mid } else { hi = mid }
        }
        model.intercept = 0.5 * (lo + hi);
        model
    }

    /// Fills `row` with the row's true values and returns its logit without the intercept.
    fn true_row(&self, rng: &mut ChaCha8Rng, index: u64, row: &mut [SynthValue]) -> f64 {
        let h = self.hash;
        let u = self.users.sample(rng) as u64 - 1;
        let i = self.items.sample(rng) as u64 - 1;
        let ts = START_TS + index as i64 * 3;
        let mut ctx = |n: u32| rng.random_range(0..n) as i64;
        let (scene, network) = (ctx(8), ctx(4));
        let position = 1 + (ctx(50) * ctx(50) / 50);
        let hour = (ts / 3600) % 24;
        let gender = h.below("gender", u, 3) as i64;
        let age = h.below("age_band", u, 7) as i64;
        let city = h.below("city", u, 400) as i64;
        let tier = city % 5;
        let genre = h.below("genre", i, GENRES) as i64;
        let mood = h.below("mood", i, 12) as i64;
        let language = h.below("language", i, 10) as i64;
        let level = h.below("user_level", u, 10) as i64;
        let membership = h.below("membership", u, 3) as i64;
        let fav = h.token_set("fav_genres", u, GENRES, 3);
        let popularity = (8.0 - 1.2 * ((i + 1) as f64).ln() + 0.5 * h.normal("popularity", i, 0)).exp() * 100.0;
        let table = |name: &str, a: i64, b: i64, scale: f64| scale * h.normal(name, a as u64, b as u64);
        let mut logit = 0.5 * h.normal("user_bias", u, 0) + 0.5 * h.normal("item_bias", i, 0);
        logit += 0.4 * (0..4).map(|d| h.normal("u_latent", u, d) * h.normal("i_latent", i, d)).sum::<f64>();
        logit += table("genre_x_age", genre, age, 0.7) + table("mood_x_scene", mood, scene, 0.7);
        logit += table("gender_x_genre", gender, genre, 0.5) + table("language_x_tier", language, tier, 0.5);
        logit += table("level_x_membership", level, membership, 0.3) + table("hour_x_scene", hour, scene, 0.2);
        logit += if fav.contains(&(genre as u32)) { 0.7 } else { 0.0 };
        logit += -0.025 * (position - 1) as f64 + 0.1 * popularity.ln();
        for (f, field) in self.fields.iter().enumerate() {
            let int = |v: i64| SynthValue::Int(v);
            row[f] = match field.name.as_str() {
                "user_id" => int(u as i64),
                "item_id" => int(i as i64),
                "gender" => int(gender),
                "age_band" => int(age),
                "city" => int(city),
                "city_tier" => int(tier),
                "device_os" => int(h.below("device_os", u, 3) as i64),
                "device_price" => SynthValue::Float((5.5 + 0.6 * h.normal("price", u, 0)).exp().round()),
                "membership" => int(membership),
                "user_level" => int(level),
                "active_days" => int(1 + h.below("active_days", u, 365) as i64),
                "fav_genres" => SynthValue::Tokens(fav.clone()),
                "artist_id" => int(h.below("artist", i, self.config.items / 8 + 1) as i64),
                "genre" => int(genre),
                "mood" => int(mood),
                "language" => int(language),
                "release_year" => int(1960 + (64.0 * h.uniform("year", i, 0).sqrt()) as i64),
                "duration" => SynthValue::Float((60.0 + 540.0 * h.uniform("duration", i, 0)).round()),
                "popularity" => SynthValue::Float(popularity.round()),
                "tags" => SynthValue::Tokens(h.token_set("tags", i, TAGS, 4)),
                "scene" => int(scene),
                "hour" => int(hour),
                "network" => int(network),
                "position" => int(position),
                _ => self.extra_value(field, u, i, rng, &mut logit),
            };
        }
        logit
    }

    fn extra_value(&self, field: &SynthField, u: u64, i: u64, rng: &mut ChaCha8Rng, logit: &mut f64) -> SynthValue {
        let SynthKind::Categorical { cardinality } = field.kind else {
            return SynthValue::Missing;
        };
        let v = match field.group {
            Group::User => self.hash.below(&field.name, u, cardinality),
            Group::Item => self.hash.below(&field.name, i, cardinality),
            Group::Context => rng.random_range(0..cardinality),
        };
        *logit += 0.15 * self.hash.normal(&field.name, v as u64, 7);
        SynthValue::Int(v as i64)
    }

    /// Generates row `index`: fills `row` (missing cells already masked) and returns
    /// (label, true click probability, timestamp).
    pub fn row(&self, rng: &mut ChaCha8Rng, index: u64, row: &mut [SynthValue]) -> (u8, f64, i64) {
        let p = sigmoid(self.intercept + self.true_row(rng, index, row));
        let label = (rng.random::<f64>() < p) as u8;
        let cold = rng.random::<f64>() < self.config.cold_start_rate;
        let no_meta = rng.random::<f64>() < self.config.item_meta_missing_rate;
        for (f, field) in self.fields.iter().enumerate() {
            if field.is_id {
                continue;
            }
            let group_missing = match field.group {
                Group::User => cold,
                Group::Item => no_meta,
                Group::Context => false,
            };
            if rng.random::<f64>() < field.field_missing_rate || group_missing {
                row[f] = SynthValue::Missing;
            }
        }
        (label, p, START_TS + index as i64 * 3)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Hash buckets for an id field: twice the cardinality, rounded up to a power of two.
fn id_buckets(cardinality: u32) -> u32 {
    (2 * cardinality as u64).next_power_of_two().min(1 << 24) as u32
}

/// The dataset schema describing the generated file.
pub fn schema_toml(config: &SynthConfig, fields: &[SynthField], data_name: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Synthetic impression log written by `recdiff data synth` (seed {}).", config.seed);
    let _ = writeln!(s, "name = \"synthetic-{}f-seed{}\"\n", fields.len(), config.seed);
    let _ = writeln!(s, "[source]\nformat = \"{}\"\npath = \"{data_name}\"\n", config.format.extension());
    let _ = writeln!(
        s,
        "[label]\ncolumn = \"click\"\n\n[keys]\nuser = \"user_id\"\nitem = \"item_id\"\ntimestamp = \"ts\"\n"
    );
    for f in fields {
        let _ = writeln!(s, "[[fields]]\nname = \"{}\"", f.name);
        let body = match f.kind {
            SynthKind::Categorical { cardinality } if cardinality > 5000 => {
                format!("kind = \"categorical\"\nencoding = \"hash\"\nbuckets = {}", id_buckets(cardinality))
            }
            SynthKind::Categorical { .. } => "kind = \"categorical\"".to_string(),
            SynthKind::Numeric if f.name == "release_year" => {
                "kind = \"numeric\"\ntransform = \"bucketize\"\nbuckets = 16".into()
            }
            SynthKind::Numeric => "kind = \"numeric\"\ntransform = \"log_standard\"".into(),
            SynthKind::MultiHot { max_len, .. } => {
                format!("kind = \"multi_hot\"\nseparator = \"|\"\nmax_len = {max_len}")
            }
        };
        let _ = writeln!(s, "{body}\ngroup = \"{}\"\n", f.group.name());
    }
    s
}
