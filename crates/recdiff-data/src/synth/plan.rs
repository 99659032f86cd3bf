//! The synthetic log's fields, their per-user/per-item values, the planted click model and the
//! schema written beside the data.

use super::SynthConfig;
use super::click::{ClickModel, Draw};
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
    /// Expected share of rows where this field is missing, given the share of impressions that
    /// belong to cold-start users.
    pub fn planted_missing_rate(&self, c: &SynthConfig, cold_user_share: f64) -> f64 {
        if self.is_id {
            return 0.0;
        }
        let group = match self.group {
            Group::User => 1.0 - (1.0 - c.cold_start_rate) * (1.0 - cold_user_share),
            Group::Item => c.item_meta_missing_rate,
            Group::Context => 0.0,
        };
        1.0 - (1.0 - group) * (1.0 - self.field_missing_rate)
    }

    pub fn cardinality(&self) -> Option<u32> {
        match self.kind {
            SynthKind::Categorical { cardinality } => Some(cardinality),
            _ => None,
        }
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
pub(super) struct Hasher(pub(super) u64);

impl Hasher {
    pub(super) fn bits(&self, name: &str, a: u64, b: u64) -> u64 {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&a.to_le_bytes());
        key[8..].copy_from_slice(&b.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64_with_seed(&key, self.0 ^ xxhash_rust::xxh3::xxh3_64(name.as_bytes()))
    }
    pub(super) fn uniform(&self, name: &str, a: u64, b: u64) -> f64 {
        (self.bits(name, a, b) >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn below(&self, name: &str, a: u64, n: u32) -> u32 {
        (self.bits(name, a, 0) % n as u64) as u32
    }
    /// A standard normal variate (Box-Muller on two hashed uniforms).
    pub(super) fn normal(&self, name: &str, a: u64, b: u64) -> f64 {
        let u1 = self.uniform(name, a, b.wrapping_mul(2)).max(1e-12);
        let u2 = self.uniform(name, a, b.wrapping_mul(2) + 1);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub(super) fn token_set(&self, name: &str, a: u64, vocabulary: u32, max_len: u32) -> Vec<u32> {
        let mut t = Vec::new();
        self.token_set_into(name, a, vocabulary, max_len, &mut t);
        t
    }
    /// 1..=max_len tokens drawn from the vocabulary, sorted, duplicates dropped.
    pub(super) fn token_set_into(&self, name: &str, a: u64, vocabulary: u32, max_len: u32, t: &mut Vec<u32>) {
        let n = 1 + self.below(name, a, max_len) as u64;
        t.clear();
        t.extend((0..n).map(|k| (self.bits(name, a, k + 1) % vocabulary as u64) as u32));
        t.sort_unstable();
        t.dedup();
    }
}

/// Writes row `d`'s cells into `row`, `Missing` where `hidden`.
pub(super) fn fill_cells(model: &ClickModel, d: &Draw, hidden: &[bool], row: &mut [SynthValue]) {
    let h = model.hash();
    let (u, i) = (d.u, d.i);
    let int = |v: u32| SynthValue::Int(v as i64);
    let mut extra = 0;
    for (f, field) in model.fields.iter().enumerate() {
        row[f] = if hidden[f] {
            SynthValue::Missing
        } else {
            match field.name.as_str() {
                "user_id" => SynthValue::Int(u as i64),
                "item_id" => SynthValue::Int(i as i64),
                "gender" => int(d.gender),
                "age_band" => int(d.age),
                "city" => int(d.city),
                "city_tier" => int(d.tier()),
                "device_os" => int(h.below("device_os", u, 3)),
                "device_price" => SynthValue::Float((5.5 + 0.6 * h.normal("price", u, 0)).exp().round()),
                "membership" => int(d.membership),
                "user_level" => int(d.level),
                "active_days" => int(1 + h.below("active_days", u, 365)),
                "fav_genres" => SynthValue::Tokens(d.fav.clone()),
                "artist_id" => int(h.below("artist", i, model.config.items / 8 + 1)),
                "genre" => int(d.genre),
                "mood" => int(d.mood),
                "language" => int(d.language),
                "release_year" => SynthValue::Int(1960 + (64.0 * h.uniform("year", i, 0).sqrt()) as i64),
                "duration" => SynthValue::Float((60.0 + 540.0 * h.uniform("duration", i, 0)).round()),
                "popularity" => SynthValue::Float(d.popularity().round()),
                "tags" => SynthValue::Tokens(h.token_set("tags", i, TAGS, 4)),
                "scene" => int(d.scene),
                "hour" => int(d.hour),
                "network" => int(d.network),
                "position" => int(d.position),
                _ => int(d.extras[extra]),
            }
        };
        if field.name.contains("_extra_") {
            extra += 1;
        }
    }
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
