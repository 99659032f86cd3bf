//! The text line each CSV record starts on, and a bound on how long one record may grow.
//!
//! The `csv` crate's record positions are taken *before* the blank lines it skips, and with CRLF
//! files its line counter lags one line behind (the `\n` of a record's `\r\n` is consumed while
//! reading the next record), so errors and `predict`'s `line` column were off by one after a blank
//! line and on every CRLF row. [`LineTracker`] wraps the reader's input and follows the same
//! record grammar as `csv-core` (quoted fields with `""` escapes, `\r`, `\n` or `\r\n` as
//! terminators, blank lines skipped), noting the line where each record's first byte sits; the CSV
//! reader pops one start per record it yields, in order.
//!
//! It also refuses a record longer than `max_record_bytes` with an I/O error, so one runaway
//! quoted cell (or a file with no line breaks) cannot make the reader buffer gigabytes.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Between records (start of file, after a terminator).
    BetweenRecords,
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: an escape if another follows, else the closing quote.
    QuoteInQuoted,
}

/// Record start lines, shared between the tracker (producer) and the CSV batch loop (consumer).
pub type Starts = Rc<RefCell<VecDeque<u64>>>;

pub struct LineTracker<R> {
    inner: R,
    delimiter: u8,
    state: State,
    /// 1-based line of the next byte.
    line: u64,
    /// The previous byte was a `\r` (a following `\n` belongs to the same line break).
    after_cr: bool,
    record_bytes: u64,
    max_record_bytes: u64,
    starts: Starts,
}

impl<R: Read> LineTracker<R> {
    pub fn new(inner: R, delimiter: u8, max_record_bytes: u64) -> (Self, Starts) {
        let starts = Starts::default();
        let tracker = Self {
            inner,
            delimiter,
            state: State::BetweenRecords,
            line: 1,
            after_cr: false,
            record_bytes: 0,
            max_record_bytes,
            starts: starts.clone(),
        };
        (tracker, starts)
    }

    fn byte(&mut self, b: u8) -> std::io::Result<()> {
        let newline = b == b'\n' || b == b'\r';
        if self.state == State::BetweenRecords && !newline {
            self.starts.borrow_mut().push_back(self.line);
            self.state = State::FieldStart;
            self.record_bytes = 0;
        }
        self.record_bytes += 1;
        if self.state != State::BetweenRecords && self.record_bytes > self.max_record_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the record starting on line {} is longer than {} bytes (an unclosed quote?)",
                    self.starts.borrow().back().copied().unwrap_or(self.line),
                    self.max_record_bytes
                ),
            ));
        }
        self.state = match (self.state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::FieldStart, b'"') => State::Quoted,
            (_, b'\n' | b'\r') => State::BetweenRecords,
            (_, d) if d == self.delimiter => State::FieldStart,
            (State::BetweenRecords, _) => State::BetweenRecords,
            _ => State::Unquoted,
        };
        // A line break is `\n`, `\r\n` (counted once) or a lone `\r`.
        match b {
            b'\n' if self.after_cr => {}
            b'\n' | b'\r' => self.line += 1,
            _ => {}
        }
        self.after_cr = b == b'\r';
        Ok(())
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.byte(b)?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(text: &str) -> Vec<u64> {
        let (mut t, starts) = LineTracker::new(text.as_bytes(), b',', 1 << 20);
        std::io::copy(&mut t, &mut std::io::sink()).unwrap();
        starts.borrow().iter().copied().collect()
    }

    #[test]
    fn record_start_lines_follow_crlf_blank_lines_and_quoted_newlines() {
        assert_eq!(starts("a,b\nc,d\n"), [1, 2]);
        assert_eq!(starts("a,b\r\nc,d\r\ne,f"), [1, 2, 3]);
        assert_eq!(starts("a\n\n\nb\n"), [1, 4]);
        assert_eq!(starts("a\r\n\r\nb\r\n"), [1, 3]);
        assert_eq!(starts("h\n\"x\ny\",1\nz,2\n"), [1, 2, 4]);
        assert_eq!(starts("h\n\"x \"\"q\"\"\n\",1\nz\n"), [1, 2, 4]);
        assert_eq!(starts("a\rb\rc"), [1, 2, 3]);
        // A quote inside an unquoted field is literal, as in csv-core.
        assert_eq!(starts("a\"b,c\nd\n"), [1, 2]);
    }

    /// What the reader used before: the csv crate's own record positions. They are taken before
    /// the blank lines it skips and lag on CRLF, which is why this tracker exists.
    fn csv_crate_lines(text: &str) -> Vec<u64> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut rec = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            lines.push(rec.position().map_or(0, |p| p.line()));
        }
        lines
    }

    #[test]
    fn the_csv_crates_own_positions_are_off_where_the_tracker_is_right() {
        for text in ["a\r\nb\r\nc\r\n", "a\n\nb\nc\n"] {
            assert_ne!(csv_crate_lines(text), starts(text), "{text:?}");
        }
        assert_eq!(starts("a\n\nb\nc\n"), [1, 3, 4]);
    }

    #[test]
    fn a_record_over_the_limit_is_an_error_naming_its_line() {
        let text = format!("a\nb\n\"{}\n", "x".repeat(100));
        let (mut t, _) = LineTracker::new(text.as_bytes(), b',', 50);
        let err = std::io::copy(&mut t, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("line 3 is longer than 50 bytes"), "{err}");
    }
}
