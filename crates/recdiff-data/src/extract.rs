//! Values derived from a cell before encoding: the hour of day and the weekday of a `YYMMDDHH`
//! timestamp (Avazu's `hour` column, `14102100` = 2014-10-21 00:00), and the year at the end of a
//! MovieLens title (`Toy Story (1995)`). Derived values are categorical keys (integers).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extract {
    /// `HH` of `YYMMDDHH`, 0-23.
    HourOfDay,
    /// The weekday of `YYMMDD` (years 20YY), Monday = 0 … Sunday = 6.
    Weekday,
    /// The `(YYYY)` a title ends with; a title without one is missing.
    TitleYear,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `(year, month, day, hour)` of a `YYMMDDHH` timestamp (years 20YY).
fn yymmddhh(text: &str) -> Result<(i64, i64, i64, i64), String> {
    let t = text.trim();
    let bad = || format!("expected a YYMMDDHH timestamp, found {t:?}");
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let part = |i: usize| t[i..i + 2].parse::<i64>().map_err(|_| bad());
    let (y, m, d, h) = (2000 + part(0)?, part(2)?, part(4)?, part(6)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || h > 23 {
        return Err(bad());
    }
    Ok((y, m, d, h))
}

/// The `(YYYY)` a title ends with.
fn title_year(text: &str) -> Option<i64> {
    let year = text.trim().strip_suffix(')')?.rsplit_once('(')?.1.trim();
    (year.len() == 4).then(|| year.parse().ok()).flatten()
}

impl Extract {
    /// The derived value of `text` (`None`: it has none, which reads as missing), or why the cell
    /// cannot hold one.
    pub fn apply(self, text: &str) -> Result<Option<i64>, String> {
        match self {
            Extract::TitleYear => Ok(title_year(text)),
            Extract::HourOfDay => yymmddhh(text).map(|(_, _, _, h)| Some(h)),
            Extract::Weekday => yymmddhh(text).map(|(y, m, d, _)| Some((days_from_civil(y, m, d) + 3).rem_euclid(7))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avazu_hours_give_hour_of_day_and_weekday() {
        // 2014-10-21 was a Tuesday; 2014-10-26 a Sunday; 2000-02-29 a Tuesday (leap day).
        assert_eq!(Extract::HourOfDay.apply("14102113"), Ok(Some(13)));
        assert_eq!(Extract::Weekday.apply("14102100"), Ok(Some(1)));
        assert_eq!(Extract::Weekday.apply("14102623"), Ok(Some(6)));
        assert_eq!(Extract::Weekday.apply("00022900"), Ok(Some(1)));
        for bad in ["1410210", "14133100", "14023000", "14102124", "1410x100", "14022900"] {
            assert!(Extract::Weekday.apply(bad).unwrap_err().contains("YYMMDDHH"), "{bad}");
        }
    }

    #[test]
    fn title_years_come_from_a_trailing_parenthesis() {
        assert_eq!(
            Extract::TitleYear.apply("City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
            Ok(Some(1995))
        );
        assert_eq!(Extract::TitleYear.apply("Babylon 5"), Ok(None));
        assert_eq!(Extract::TitleYear.apply("Hyena Road (2015) "), Ok(Some(2015)));
        assert_eq!(Extract::TitleYear.apply("Millions (in 1 hour)"), Ok(None));
    }
}
