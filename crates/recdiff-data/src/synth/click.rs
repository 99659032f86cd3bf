//! The planted click model: per-row draws of every value that moves the click probability, the
//! logit as a sum of lookups, and the two oracles written to `planted.json`.
//!
//! The logit is `intercept + id part + feature part`:
//! - the *id part* depends only on `user_id` and `item_id` (never missing): per-user and per-item
//!   biases, a 4-dimensional user-item latent dot product and the item's popularity rank, all scaled
//!   by `id_effects`;
//! - the *feature part* is a sum of interaction tables over profile, item-meta and context fields
//!   (genre x age band, mood x scene, gender x genre, language x city tier, level x membership,
//!   hour x scene, the favourite-genre match, position, popularity noise, weak effects of the extra
//!   fields).
//!
//! Oracles, on the first 200,000 rows:
//! - **all features**: the true probability, from every value before any is hidden;
//! - **as logged**: the true probability with every hidden value that moves the logit re-drawn from
//!   its own generating distribution (independently of the ids, as a model that has not memorised
//!   an id's profile would have to), averaged over [`MARGINAL_DRAWS`] draws. A value implied by a
//!   logged one is not re-drawn: the city tier is `city % 5`, so a hidden tier with a logged city
//!   costs nothing.

use super::SynthConfig;
use super::plan::{GENRES, Group, Hasher, SynthField, SynthValue};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

/// Monte Carlo draws per row for the as-logged oracle.
pub const MARGINAL_DRAWS: usize = 64;
pub const START_TS: i64 = 1_700_000_000;

/// Every value of one row that moves the logit (ids and hashed profile values included).
#[derive(Debug, Clone, Default)]
pub struct Draw {
    pub u: u64,
    pub i: u64,
    pub gender: u32,
    pub age: u32,
    pub city: u32,
    pub level: u32,
    pub membership: u32,
    pub fav: Vec<u32>,
    pub genre: u32,
    pub mood: u32,
    pub language: u32,
    pub pop_noise: f64,
    pub scene: u32,
    pub network: u32,
    pub hour: u32,
    pub position: u32,
    /// Value of each extra field, in field order.
    pub extras: Vec<u32>,
    /// The id part of the logit (fixed for a user-item pair).
    pub id_logit: f64,
}

impl Draw {
    pub fn tier(&self) -> u32 {
        self.city % 5
    }
    /// The item's popularity count as logged.
    pub fn popularity(&self) -> f64 {
        (8.0 - 1.2 * ((self.i + 1) as f64).ln() + 0.5 * self.pop_noise).exp() * 100.0
    }
}

/// One generated row: its draw, which fields are hidden, and its cells.
pub struct RowBuf {
    pub draw: Draw,
    pub hidden: Vec<bool>,
    pub cells: Vec<SynthValue>,
}

impl RowBuf {
    pub fn new(fields: usize) -> Self {
        Self { draw: Draw::default(), hidden: vec![false; fields], cells: vec![SynthValue::Missing; fields] }
    }
}

/// What a hidden field takes away from the logit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Factor {
    None,
    Gender,
    Age,
    City,
    Tier,
    Level,
    Membership,
    Fav,
    Genre,
    Mood,
    Language,
    Popularity,
    Scene,
    Hour,
    Position,
    Extra(usize),
}

/// A square table of planted effects, `scale * N(0, 1)` per cell.
struct Table {
    cols: usize,
    cells: Vec<f64>,
}

impl Table {
    fn new(h: &Hasher, name: &str, rows: u32, cols: u32, scale: f64) -> Self {
        let cells = (0..rows as u64)
            .flat_map(|a| (0..cols as u64).map(move |b| (a, b)))
            .map(|(a, b)| scale * h.normal(name, a, b))
            .collect();
        Self { cols: cols as usize, cells }
    }
    fn at(&self, a: u32, b: u32) -> f64 {
        self.cells[a as usize * self.cols + b as usize]
    }
}

pub struct ClickModel {
    pub intercept: f64,
    hash: Hasher,
    users: Zipf<f64>,
    items: Zipf<f64>,
    pub(super) fields: Vec<SynthField>,
    factors: Vec<Factor>,
    /// (field index, group, cardinality, effect per value) of each extra field.
    extras: Vec<(usize, Group, u32, Vec<f64>)>,
    tables: [Table; 6],
    pub(super) config: SynthConfig,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl ClickModel {
    /// Builds the model and calibrates its intercept so the mean click probability is `target_ctr`.
    pub fn calibrated(config: &SynthConfig, fields: &[SynthField]) -> Self {
        let h = Hasher(config.seed);
        let factors = fields.iter().enumerate().map(|(f, field)| factor(&field.name, fields, f)).collect();
        let extras = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.contains("_extra_"))
            .map(|(f, field)| {
                let card = field.cardinality().unwrap_or(1);
                let effects = (0..card as u64).map(|v| 0.15 * h.normal(&field.name, v, 7)).collect();
                (f, field.group, card, effects)
            })
            .collect();
        let tables = [
            Table::new(&h, "genre_x_age", GENRES, 7, 0.7),
            Table::new(&h, "mood_x_scene", 12, 8, 0.7),
            Table::new(&h, "gender_x_genre", 3, GENRES, 0.5),
            Table::new(&h, "language_x_tier", 10, 5, 0.5),
            Table::new(&h, "level_x_membership", 10, 3, 0.3),
            Table::new(&h, "hour_x_scene", 24, 8, 0.2),
        ];
        let mut model = ClickModel {
            intercept: 0.0,
            hash: h,
            // validate() guarantees n >= 1 and s > 0, which is all Zipf::new requires.
            users: Zipf::new(config.users as f64, config.user_zipf).unwrap_or_else(|_| unreachable!()),
            items: Zipf::new(config.items as f64, config.item_zipf).unwrap_or_else(|_| unreachable!()),
            fields: fields.to_vec(),
            factors,
            extras,
            tables,
            config: config.clone(),
        };
        model.intercept = model.calibrate(config);
        model
    }

    fn calibrate(&self, config: &SynthConfig) -> f64 {
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(config.seed ^ 0xCA11B);
        let mut d = Draw::default();
        let logits: Vec<f64> = (0..20_000)
            .map(|i| {
                self.draw(&mut rng, i, &mut d);
                d.id_logit + self.feature_logit(&d)
            })
            .collect();
        let mean_p = |b: f64| logits.iter().map(|l| sigmoid(l + b)).sum::<f64>() / logits.len() as f64;
        let (mut lo, mut hi) = (-20.0, 20.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mean_p(mid) < config.target_ctr { lo = mid } else { hi = mid }
        }
        0.5 * (lo + hi)
    }

    /// Draws row `index`'s user, item and context into `d`.
    pub(super) fn draw(&self, rng: &mut ChaCha8Rng, index: u64, d: &mut Draw) {
        let h = &self.hash;
        let (u, i) = (self.users.sample(rng) as u64 - 1, self.items.sample(rng) as u64 - 1);
        d.u = u;
        d.i = i;
        d.scene = rng.random_range(0..8);
        d.network = rng.random_range(0..4);
        d.position = draw_position(rng);
        d.hour = (((START_TS + index as i64 * 3) / 3600) % 24) as u32;
        d.gender = h.below("gender", u, 3);
        d.age = h.below("age_band", u, 7);
        d.city = h.below("city", u, 400);
        d.level = h.below("user_level", u, 10);
        d.membership = h.below("membership", u, 3);
        h.token_set_into("fav_genres", u, GENRES, 3, &mut d.fav);
        d.genre = h.below("genre", i, GENRES);
        d.mood = h.below("mood", i, 12);
        d.language = h.below("language", i, 10);
        d.pop_noise = h.normal("popularity", i, 0);
        d.extras.clear();
        for (f, group, card, _) in &self.extras {
            let name = &self.fields[*f].name;
            d.extras.push(match group {
                Group::User => h.below(name, u, *card),
                Group::Item => h.below(name, i, *card),
                Group::Context => rng.random_range(0..*card),
            });
        }
        let s = self.config.id_effects;
        let latent: f64 = (0..4).map(|k| h.normal("u_latent", u, k) * h.normal("i_latent", i, k)).sum();
        d.id_logit = s * (0.5 * h.normal("user_bias", u, 0) + 0.5 * h.normal("item_bias", i, 0) + 0.4 * latent)
            + 0.1 * (8.0 - 1.2 * ((i + 1) as f64).ln());
    }

    /// The feature part of the logit.
    pub(super) fn feature_logit(&self, d: &Draw) -> f64 {
        let t = &self.tables;
        let mut l = t[0].at(d.genre, d.age) + t[1].at(d.mood, d.scene) + t[2].at(d.gender, d.genre);
        l += t[3].at(d.language, d.tier()) + t[4].at(d.level, d.membership) + t[5].at(d.hour, d.scene);
        l += if d.fav.contains(&d.genre) { 0.7 } else { 0.0 };
        l += -0.025 * (d.position - 1) as f64 + 0.05 * d.pop_noise;
        l + self.extras.iter().zip(&d.extras).map(|((_, _, _, e), &v)| e[v as usize]).sum::<f64>()
    }

    fn is_cold_user(&self, u: u64) -> bool {
        self.hash.uniform("cold_user", u, 0) < self.config.cold_user_rate
    }

    /// Expected share of impressions that belong to cold-start users: the Zipf probabilities of the
    /// users drawn cold, summed (exact for the drawn set, unlike `cold_user_rate` itself).
    pub fn cold_user_share(&self) -> f64 {
        let s = self.config.user_zipf;
        let weight = |k: u64| ((k + 1) as f64).powf(-s);
        let total: f64 = (0..self.config.users as u64).map(weight).sum();
        (0..self.config.users as u64).filter(|&u| self.is_cold_user(u)).map(weight).sum::<f64>() / total
    }

    pub(super) fn hash(&self) -> &Hasher {
        &self.hash
    }

    /// Generates row `index` into `buf` (cells masked where hidden) and returns
    /// (label, true click probability, timestamp).
    pub fn row(&self, rng: &mut ChaCha8Rng, index: u64, buf: &mut RowBuf) -> (u8, f64, i64) {
        self.draw(rng, index, &mut buf.draw);
        let p = self.probability(&buf.draw);
        let label = (rng.random::<f64>() < p) as u8;
        self.hide(rng, buf.draw.u, &mut buf.hidden);
        super::plan::fill_cells(self, &buf.draw, &buf.hidden, &mut buf.cells);
        (label, p, START_TS + index as i64 * 3)
    }

    /// True click probability of a drawn row.
    pub fn probability(&self, d: &Draw) -> f64 {
        sigmoid(self.intercept + d.id_logit + self.feature_logit(d))
    }

    /// Which fields of a row with user `u` are hidden: (cold-start user, profile lost this time,
    /// item metadata lost this time) and each field's own rate.
    pub(super) fn hide(&self, rng: &mut ChaCha8Rng, u: u64, hidden: &mut [bool]) {
        let c = &self.config;
        let cold = rng.random::<f64>() < c.cold_start_rate || self.is_cold_user(u);
        let no_meta = rng.random::<f64>() < c.item_meta_missing_rate;
        for (f, field) in self.fields.iter().enumerate() {
            let group = match field.group {
                Group::User => cold,
                Group::Item => no_meta,
                Group::Context => false,
            };
            hidden[f] = !field.is_id && (rng.random::<f64>() < field.field_missing_rate || group);
        }
    }

    /// The as-logged oracle of a row: its click probability with every hidden value that moves the
    /// logit re-drawn from its distribution, averaged over [`MARGINAL_DRAWS`] draws of `rng`.
    pub fn as_logged_probability(&self, d: &Draw, hidden: &[bool], rng: &mut ChaCha8Rng) -> f64 {
        let tier_lost = self.hidden_factor(hidden, Factor::City) && self.hidden_factor(hidden, Factor::Tier);
        let lost: Vec<Factor> = self
            .factors
            .iter()
            .zip(hidden)
            .filter(|&(&f, &h)| h && !matches!(f, Factor::None | Factor::City | Factor::Tier))
            .map(|(&f, _)| f)
            .chain(tier_lost.then_some(Factor::City))
            .collect();
        if lost.is_empty() {
            return self.probability(d);
        }
        let mut m = d.clone();
        let total: f64 = (0..MARGINAL_DRAWS)
            .map(|_| {
                for &f in &lost {
                    self.redraw(&mut m, f, rng);
                }
                self.probability(&m)
            })
            .sum();
        total / MARGINAL_DRAWS as f64
    }

    fn hidden_factor(&self, hidden: &[bool], want: Factor) -> bool {
        self.factors.iter().zip(hidden).any(|(&f, &h)| h && f == want)
    }

    /// Replaces one value by a fresh draw from the distribution that generated it.
    fn redraw(&self, m: &mut Draw, f: Factor, rng: &mut ChaCha8Rng) {
        match f {
            Factor::Gender => m.gender = rng.random_range(0..3),
            Factor::Age => m.age = rng.random_range(0..7),
            Factor::City | Factor::Tier => m.city = rng.random_range(0..400),
            Factor::Level => m.level = rng.random_range(0..10),
            Factor::Membership => m.membership = rng.random_range(0..3),
            Factor::Fav => {
                let n = rng.random_range(1..=3);
                m.fav.clear();
                m.fav.extend((0..n).map(|_| rng.random_range(0..GENRES)));
            }
            Factor::Genre => m.genre = rng.random_range(0..GENRES),
            Factor::Mood => m.mood = rng.random_range(0..12),
            Factor::Language => m.language = rng.random_range(0..10),
            Factor::Popularity => m.pop_noise = rand_distr::StandardNormal.sample(rng),
            Factor::Scene => m.scene = rng.random_range(0..8),
            Factor::Hour => m.hour = rng.random_range(0..24),
            Factor::Position => m.position = draw_position(rng),
            Factor::Extra(k) => m.extras[k] = rng.random_range(0..self.extras[k].2),
            Factor::None => {}
        }
    }
}

/// Display position: 1 + a*b/50 for a, b uniform in 0..50 (skewed to the top of the list).
fn draw_position(rng: &mut ChaCha8Rng) -> u32 {
    let (a, b): (u32, u32) = (rng.random_range(0..50), rng.random_range(0..50));
    1 + a * b / 50
}

/// The factor field `f` carries.
fn factor(name: &str, fields: &[SynthField], f: usize) -> Factor {
    match name {
        "gender" => Factor::Gender,
        "age_band" => Factor::Age,
        "city" => Factor::City,
        "city_tier" => Factor::Tier,
        "user_level" => Factor::Level,
        "membership" => Factor::Membership,
        "fav_genres" => Factor::Fav,
        "genre" => Factor::Genre,
        "mood" => Factor::Mood,
        "language" => Factor::Language,
        "popularity" => Factor::Popularity,
        "scene" => Factor::Scene,
        "hour" => Factor::Hour,
        "position" => Factor::Position,
        n if n.contains("_extra_") => Factor::Extra(fields[..f].iter().filter(|x| x.name.contains("_extra_")).count()),
        _ => Factor::None,
    }
}
