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

    /// The mask as a `[rows, fields]` row-major 0/1 matrix.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows() * self.fields);
        for r in 0..self.rows() {
            out.extend((0..self.fields).map(|f| self.get(r, f) as u8 as f32));
        }
        out
    }
}
