//! A dense bit matrix of per-row, per-field missing flags.

use recdiff_data::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskMatrix {
    fields: usize,
    words_per_row: usize,
    bits: Vec<u64>,
}

impl MaskMatrix {
    pub fn new(rows: usize, fields: usize) -> Self {
        let words_per_row = fields.div_ceil(64).max(1);
        Self { fields, words_per_row, bits: vec![0; rows * words_per_row] }
    }

    /// The encoded rows' own missing masks.
    pub fn from_rows(rows: &[Row<'_>], fields: usize) -> Self {
        let mut m = Self::new(rows.len(), fields);
        for (r, row) in rows.iter().enumerate() {
            for f in 0..fields {
                if row.is_missing(f) {
                    m.set(r, f);
                }
            }
        }
        m
    }

    pub fn rows(&self) -> usize {
        self.bits.len() / self.words_per_row
    }

    pub fn fields(&self) -> usize {
        self.fields
    }

    pub fn get(&self, row: usize, field: usize) -> bool {
        self.bits[row * self.words_per_row + field / 64] >> (field % 64) & 1 == 1
    }

    pub fn set(&mut self, row: usize, field: usize) {
        self.bits[row * self.words_per_row + field / 64] |= 1 << (field % 64);
    }

    /// Number of missing fields in `row`.
    pub fn count(&self, row: usize) -> usize {
        let w = &self.bits[row * self.words_per_row..(row + 1) * self.words_per_row];
        w.iter().map(|x| x.count_ones() as usize).sum()
    }

    /// Appends the rows of `other` (same field count).
    pub fn extend(&mut self, other: &MaskMatrix) {
        debug_assert_eq!(self.fields, other.fields);
        self.bits.extend_from_slice(&other.bits);
    }

    /// Rows `range` as a mask of their own.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let w = self.words_per_row;
        Self { fields: self.fields, words_per_row: w, bits: self.bits[range.start * w..range.end * w].to_vec() }
    }

    /// The bit words, `fields.div_ceil(64)` per row (what a data-parallel step exchanges).
    pub fn words(&self) -> &[u64] {
        &self.bits
    }

    /// A mask of `fields` fields from [`MaskMatrix::words`]; `None` when `words` is not a whole
    /// number of rows or sets a bit past the last field.
    pub fn from_words(fields: usize, words: Vec<u64>) -> Option<Self> {
        let m = Self::new(0, fields);
        let per = m.words_per_row;
        let spare = (per * 64 - fields) % 64;
        let last_ok = |w: &u64| spare == 0 || w >> (64 - spare) == 0;
        let whole = words.len().is_multiple_of(per);
        (whole && words.chunks(per).all(|r| r.last().is_none_or(last_ok))).then_some(Self {
            fields,
            words_per_row: per,
            bits: words,
        })
    }

    /// The mask as a `[rows, fields]` row-major 0/1 matrix.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows() * self.fields);
        for r in 0..self.rows() {
            out.extend((0..self.fields).map(|f| self.get(r, f) as u8 as f32));
        }
        out
    }
}
