//! MovieLens 1M and 10M: the upstream `::`-separated `.dat` files of a directory, streamed.
//!
//! * `ratings.dat`: `UserID::MovieID::Rating::Timestamp` (10M has half stars).
//! * `movies.dat`: `MovieID::Title::Genres`, genres `|`-separated, the year in the title
//!   (`Toy Story (1995)`). Held in memory (tens of thousands of movies).
//! * `users.dat` (1M only): `UserID::Gender::Age::Occupation::Zip-code`. 10M has none: asking for
//!   a user column there is an error naming the file.
//!
//! Lines are UTF-8 where valid and Latin-1 otherwise (1M ships Latin-1 titles). Columns produced:
//! [`COLUMNS`]; `zip_prefix` is the zip code's first three characters. A rating whose movie (or,
//! with users.dat, user) is absent from the side files is a bad row naming the line.

use super::text_rows::{RowCells, bad_line, for_each_line, stream_rows};
use super::{RowBatch, RowSource, project};
use crate::KeyMap;
use crate::error::{DataError, Result};
use memchr::memmem::Finder;
use std::path::{Path, PathBuf};

pub const COLUMNS: [&str; 11] = [
    "user_id",
    "item_id",
    "rating",
    "timestamp",
    "gender",
    "age",
    "occupation",
    "zip_prefix",
    "title",
    "year",
    "genres",
];

/// The user columns, filled from `users.dat`.
const USER_COLUMNS: std::ops::Range<usize> = 4..8;

pub struct MovielensDatSource {
    dir: PathBuf,
    proj: Vec<usize>,
    users: Option<KeyMap<[String; 4]>>,
    movies: KeyMap<[String; 3]>,
    separator: Finder<'static>,
}

/// The `N` trimmed `::`-separated fields of a line; another count is a bad row naming the line.
/// The separator is searched with a prebuilt `memmem` finder: `str::split("::")` set up a two-way
/// searcher per line, a tenth of the time spent reading ratings.
fn fields<'t, const N: usize>(separator: &Finder<'_>, file: &Path, line: u64, text: &'t str) -> Result<[&'t str; N]> {
    let mut out = [""; N];
    let (mut start, mut found) = (0, 0);
    for end in separator.find_iter(text.as_bytes()).chain(std::iter::once(text.len())) {
        if let Some(slot) = out.get_mut(found) {
            *slot = text[start..end].trim();
        }
        found += 1;
        start = end + 2;
    }
    if found != N {
        return Err(bad_line(file, line, None, format!("expected {N} '::'-separated fields, found {found}")));
    }
    Ok(out)
}

/// movie id -> [title, year, genres]
fn read_movies(file: &Path) -> Result<KeyMap<[String; 3]>> {
    let mut movies = KeyMap::default();
    for_each_line(file, |line, text| {
        // Title in the middle: an id before the first '::', genres after the last.
        let (id, rest) = text.split_once("::").ok_or_else(|| bad_line(file, line, None, "no '::'".into()))?;
        let (title, genres) = rest
            .rsplit_once("::")
            .ok_or_else(|| bad_line(file, line, None, "expected MovieID::Title::Genres".into()))?;
        let title = title.trim();
        let year = title
            .strip_suffix(')')
            .and_then(|t| t.rsplit_once('('))
            .map(|(_, y)| y.trim())
            .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or("");
        let genres = if genres.trim() == "(no genres listed)" { "" } else { genres.trim() };
        movies.insert(id.trim().to_string(), [title.to_string(), year.to_string(), genres.to_string()]);
        Ok(())
    })?;
    Ok(movies)
}

/// user id -> [gender, age, occupation, zip_prefix]
fn read_users(file: &Path, separator: &Finder<'_>) -> Result<KeyMap<[String; 4]>> {
    let mut users = KeyMap::default();
    for_each_line(file, |line, text| {
        let f: [&str; 5] = fields(separator, file, line, text)?;
        let zip: String = f[4].chars().take(3).collect();
        users.insert(f[0].to_string(), [f[1].into(), f[2].into(), f[3].into(), zip]);
        Ok(())
    })?;
    Ok(users)
}

impl MovielensDatSource {
    pub fn new(dir: &Path, wanted: &[String]) -> Result<Self> {
        let names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
        let ratings = dir.join("ratings.dat");
        let proj = project(&ratings, &names, wanted)?;
        let users_file = dir.join("users.dat");
        let wants_users = proj.iter().any(|p| USER_COLUMNS.contains(p));
        let separator = Finder::new("::").into_owned();
        let users = match (users_file.exists(), wants_users) {
            (true, _) => Some(read_users(&users_file, &separator)?),
            (false, true) => {
                return Err(DataError::BadFile {
                    path: users_file,
                    message: "absent, and the schema reads user columns (MovieLens 10M has no users.dat: \
                              leave gender, age, occupation and zip_prefix out)"
                        .into(),
                });
            }
            (false, false) => None,
        };
        let movies = read_movies(&dir.join("movies.dat"))?;
        Ok(Self { dir: dir.to_path_buf(), proj, users, movies, separator })
    }

    /// One rating line as the joined row: its own four fields, then the user's and the movie's
    /// columns borrowed from the side tables.
    fn row<'s>(&'s self, file: &Path, line: u64, text: &str, cells: &mut RowCells<'_, 's>) -> Result<()> {
        let [user, movie, rating, ts] = fields(&self.separator, file, line, text)?;
        let movie_cols = self
            .movies
            .get(movie)
            .ok_or_else(|| bad_line(file, line, Some("item_id"), format!("movie {movie} is not in movies.dat")))?;
        [user, movie, rating, ts].into_iter().for_each(|c| cells.copy(c));
        match &self.users {
            Some(users) => users
                .get(user)
                .ok_or_else(|| bad_line(file, line, Some("user_id"), format!("user {user} is not in users.dat")))?
                .iter()
                .for_each(|c| cells.side(c)),
            None => (0..USER_COLUMNS.len()).for_each(|_| cells.side("")),
        }
        movie_cols.iter().for_each(|c| cells.side(c));
        Ok(())
    }
}

impl RowSource for MovielensDatSource {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()> {
        let (this, file) = (&*self, self.dir.join("ratings.dat"));
        stream_rows(&file, COLUMNS.len(), &this.proj, visit, on_bad_row, |line, text, cells| {
            this.row(&file, line, text, cells)
        })
    }
}
