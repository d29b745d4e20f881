//! A window onto a stream, for a parser that addresses bytes by their offset in the whole
//! input (the Avro container reader): it holds the bytes from the earliest offset still needed
//! to as far as has been read, reads more only when asked ([`ReadAhead::more`]) and lets go of
//! what lies before an offset ([`ReadAhead::release_before`]). What it holds is what the parser
//! still looks at, never the whole input.

use std::io::Read;

/// Bytes read per step at least.
pub const READ_STEP: usize = 1 << 20;

/// The held part of an input.
pub struct ReadAhead<R> {
    reader: R,
    bytes: Vec<u8>,
    /// Offset in the input of `bytes[0]`.
    base: usize,
    at_end: bool,
}

impl<R: Read> ReadAhead<R> {
    /// Nothing read yet.
    pub fn new(reader: R) -> Self {
        ReadAhead {
            reader,
            bytes: Vec::new(),
            base: 0,
            at_end: false,
        }
    }

    /// The held bytes, from offset [`Self::base`].
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Offset in the input of the first held byte.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Offset just past the last held byte.
    pub fn end(&self) -> usize {
        self.base + self.bytes.len()
    }

    /// Whether the whole input has been read.
    pub fn at_end(&self) -> bool {
        self.at_end
    }

    /// Reads at least `min` more bytes (and at least [`READ_STEP`]), or up to the end of the
    /// input. Returns whether anything was added.
    pub fn more(&mut self, min: usize) -> std::io::Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        let want = min.max(READ_STEP) as u64;
        let before = self.bytes.len();
        let got = (&mut self.reader).take(want).read_to_end(&mut self.bytes)?;
        if (got as u64) < want {
            self.at_end = true;
        }
        Ok(self.bytes.len() > before)
    }

    /// Reads until offset `end` is held or the input ends; returns whether it is held.
    pub fn hold_to(&mut self, end: usize) -> std::io::Result<bool> {
        while self.end() < end {
            if !self.more(end - self.end())? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Lets go of the bytes before offset `offset` (once they are at least a read step, so that
    /// the held bytes are not moved for every small step).
    pub fn release_before(&mut self, offset: usize) {
        let n = offset.saturating_sub(self.base).min(self.bytes.len());
        if n >= READ_STEP {
            self.bytes.drain(..n);
            self.base += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_is_asked_and_lets_go_of_what_is_behind() {
        let input: Vec<u8> = (0..5 * READ_STEP + 17).map(|i| (i % 251) as u8).collect();
        let mut w = ReadAhead::new(input.as_slice());
        assert!(w.hold_to(10).expect("read"));
        assert_eq!(w.end(), READ_STEP);
        assert!(w.hold_to(3 * READ_STEP + 5).expect("read"));
        w.release_before(2 * READ_STEP + 1);
        assert_eq!(w.base(), 2 * READ_STEP + 1);
        assert_eq!(w.bytes()[0], input[w.base()]);
        assert!(w.bytes().len() <= 2 * READ_STEP);
        // A small step back is kept (no move).
        w.release_before(2 * READ_STEP + 100);
        assert_eq!(w.base(), 2 * READ_STEP + 1);
        assert!(!w.hold_to(input.len() + 1).expect("read"));
        assert!(w.at_end());
        assert_eq!(w.end(), input.len());
        assert_eq!(w.bytes(), &input[w.base()..]);
    }
}
