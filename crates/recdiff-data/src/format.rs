//! recdiff's compact on-disk format for encoded samples: fixed-width rows of 32-bit words, read
//! through a memory map so training shuffles rows without loading the file.
//!
//! File = 64-byte header + `rows * words_per_row` little-endian words. One row:
//!
//! | words | content |
//! |---|---|
//! | 1 | label (f32 bits, 0.0 or 1.0) |
//! | 1 | user index (u32; `u32::MAX` when the schema has no user key) |
//! | 2 | timestamp (i64, low word first; 0 without a timestamp key) |
//! | `id_slots` | table row ids, one slot per categorical field, `max_len` per multi-hot field (`EMPTY` pads) |
//! | `fields` | f32 value per field (scaled number, 1.0 for categorical, token count for multi-hot) |
//! | `ceil(fields/32)` | missing bits, bit `f` set when field `f` is missing |

use crate::error::{DataError, Result};
use memmap2::Mmap;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: [u8; 8] = *b"RDENC\0\x01\0";
pub const HEADER_BYTES: usize = 64;
/// Padding id in multi-hot slots past the last token.
pub const EMPTY: u32 = u32::MAX;
/// User index stored when the schema has no user key.
pub const NO_USER: u32 = u32::MAX;

/// Word offsets inside a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowLayout {
    pub fields: usize,
    pub id_slots: usize,
}

impl RowLayout {
    pub const LABEL: usize = 0;
    pub const USER: usize = 1;
    pub const TIMESTAMP: usize = 2;
    pub const IDS: usize = 4;

    pub fn values(&self) -> usize {
        Self::IDS + self.id_slots
    }
    pub fn missing(&self) -> usize {
        self.values() + self.fields
    }
    pub fn missing_words(&self) -> usize {
        self.fields.div_ceil(32)
    }
    pub fn words_per_row(&self) -> usize {
        self.missing() + self.missing_words()
    }
}

/// A borrowed encoded row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub words: &'a [u32],
    pub layout: RowLayout,
}

impl<'a> Row<'a> {
    pub fn label(&self) -> f32 {
        f32::from_bits(self.words[RowLayout::LABEL])
    }
    /// The user index; `None` when the schema has no user key or the row's key was empty.
    pub fn user(&self) -> Option<u32> {
        Some(self.words[RowLayout::USER]).filter(|&u| u != NO_USER)
    }
    pub fn timestamp(&self) -> i64 {
        let lo = self.words[RowLayout::TIMESTAMP] as u64;
        let hi = self.words[RowLayout::TIMESTAMP + 1] as u64;
        (lo | (hi << 32)) as i64
    }
    pub fn ids(&self) -> &'a [u32] {
        &self.words[RowLayout::IDS..self.layout.values()]
    }
    pub fn value(&self, field: usize) -> f32 {
        f32::from_bits(self.words[self.layout.values() + field])
    }
    pub fn is_missing(&self, field: usize) -> bool {
        self.words[self.layout.missing() + field / 32] >> (field % 32) & 1 == 1
    }
}

/// Fills a row buffer field by field.
pub struct RowBuilder {
    pub layout: RowLayout,
    pub words: Vec<u32>,
}

impl RowBuilder {
    pub fn new(layout: RowLayout) -> Self {
        Self { layout, words: vec![0; layout.words_per_row()] }
    }
    pub fn clear(&mut self) {
        self.words.fill(0);
    }
    pub fn set_label(&mut self, y: f32) {
        self.words[RowLayout::LABEL] = y.to_bits();
    }
    pub fn set_user(&mut self, u: u32) {
        self.words[RowLayout::USER] = u;
    }
    pub fn set_timestamp(&mut self, t: i64) {
        self.words[RowLayout::TIMESTAMP] = t as u64 as u32;
        self.words[RowLayout::TIMESTAMP + 1] = ((t as u64) >> 32) as u32;
    }
    pub fn set_id(&mut self, slot: usize, id: u32) {
        self.words[RowLayout::IDS + slot] = id;
    }
    pub fn set_value(&mut self, field: usize, v: f32) {
        let at = self.layout.values() + field;
        self.words[at] = v.to_bits();
    }
    /// Resets one field to its freshly cleared state: no ids, value 0, present.
    pub fn clear_field(&mut self, field: usize, id_offset: usize, width: usize) {
        self.words[RowLayout::IDS + id_offset..RowLayout::IDS + id_offset + width].fill(0);
        self.set_value(field, 0.0);
        let at = self.layout.missing() + field / 32;
        self.words[at] &= !(1 << (field % 32));
    }
    pub fn set_missing(&mut self, field: usize) {
        let at = self.layout.missing() + field / 32;
        self.words[at] |= 1 << (field % 32);
    }
}

/// Writes one split file to `<path>.tmp` and renames it into place on [`SplitWriter::finish`], so a
/// crash never leaves a half-written file under the final name.
pub struct SplitWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<std::fs::File>,
    layout: RowLayout,
    rows: u64,
}

fn header(layout: RowLayout, rows: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&(layout.words_per_row() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(layout.fields as u32).to_le_bytes());
    h[16..20].copy_from_slice(&(layout.id_slots as u32).to_le_bytes());
    h[24..32].copy_from_slice(&rows.to_le_bytes());
    h
}

impl SplitWriter {
    pub fn create(path: &Path, layout: RowLayout) -> Result<Self> {
        let tmp = path.with_extension("bin.tmp");
        let file = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header(layout, 0)).map_err(|e| DataError::io(&tmp, e))?;
        Ok(Self { path: path.into(), tmp, out, layout, rows: 0 })
    }

    pub fn push(&mut self, row: &RowBuilder) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(&row.words);
        self.out.write_all(bytes).map_err(|e| DataError::io(&self.tmp, e))?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64> {
        let io = |e| DataError::io(&self.tmp, e);
        self.out.flush().map_err(io)?;
        let mut file = self.out.into_inner().map_err(|e| DataError::io(&self.tmp, e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| DataError::io(&self.tmp, e))?;
        file.write_all(&header(self.layout, self.rows)).map_err(|e| DataError::io(&self.tmp, e))?;
        file.sync_all().map_err(|e| DataError::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| DataError::io(&self.path, e))?;
        Ok(self.rows)
    }
}

/// A memory-mapped split file.
pub struct SplitFile {
    path: PathBuf,
    map: Mmap,
    layout: RowLayout,
    rows: usize,
}

impl SplitFile {
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |message: String| DataError::Encoded { path: path.into(), message };
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        // SAFETY: the file is only read; recdiff writes split files under a temporary name and renames
        // them, so a mapped file is never modified in place by recdiff.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        if map.len() < HEADER_BYTES || map[..8] != MAGIC {
            return Err(bad("not a recdiff encoded split (bad magic)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(map[o..o + 4].try_into().unwrap_or_default());
        let layout = RowLayout { fields: u32_at(12) as usize, id_slots: u32_at(16) as usize };
        let rows = u64::from_le_bytes(map[24..32].try_into().unwrap_or_default()) as usize;
        if u32_at(8) as usize != layout.words_per_row() {
            return Err(bad("header row width disagrees with its layout".into()));
        }
        let expected = HEADER_BYTES + rows * layout.words_per_row() * 4;
        if map.len() != expected || cfg!(target_endian = "big") {
            return Err(bad(format!("size {} bytes, expected {expected} for {rows} rows", map.len())));
        }
        Ok(Self { path: path.into(), map, layout, rows })
    }

    pub fn len(&self) -> usize {
        self.rows
    }
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
    pub fn layout(&self) -> RowLayout {
        self.layout
    }
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn words(&self) -> &[u32] {
        bytemuck::cast_slice(&self.map[HEADER_BYTES..])
    }

    pub fn row(&self, i: usize) -> Row<'_> {
        let w = self.layout.words_per_row();
        Row { words: &self.words()[i * w..(i + 1) * w], layout: self.layout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_mapped_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.bin");
        let layout = RowLayout { fields: 35, id_slots: 40 };
        let mut w = SplitWriter::create(&path, layout).unwrap();
        let mut b = RowBuilder::new(layout);
        for i in 0..3u32 {
            b.clear();
            b.set_label((i % 2) as f32);
            b.set_user(i);
            b.set_timestamp(-5_000_000_000 + i as i64);
            b.set_id(39, 7 + i);
            b.set_value(34, 0.5);
            b.set_missing(33);
            w.push(&b).unwrap();
        }
        assert!(!path.exists(), "final name appears only after finish");
        assert_eq!(w.finish().unwrap(), 3);
        let f = SplitFile::open(&path).unwrap();
        assert_eq!(f.len(), 3);
        let r = f.row(2);
        assert_eq!((r.label(), r.user(), r.timestamp()), (0.0, Some(2), -4_999_999_998));
        assert_eq!(r.ids()[39], 9);
        assert_eq!(r.value(34), 0.5);
        assert!(r.is_missing(33) && !r.is_missing(32) && !r.is_missing(34));
    }

    #[test]
    fn truncated_file_is_rejected_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("valid.bin");
        let layout = RowLayout { fields: 2, id_slots: 2 };
        let mut w = SplitWriter::create(&path, layout).unwrap();
        w.push(&RowBuilder::new(layout)).unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        let err = SplitFile::open(&path).err().unwrap().to_string();
        assert!(err.contains("valid.bin") && err.contains("expected"), "{err}");
    }
}
