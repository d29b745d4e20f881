//! The fast path of the JSON Lines decoder: one flat object of known keys whose strings have no
//! escapes, numbers no exponent and at most 18 digits (what producers write). It fills the same
//! [`RawEvent`] serde_json would, value for value and bit for bit, and gives up (`false`) on
//! anything else: the caller then hands the line to serde_json, which decides and names errors.
//! So the fast path can only change speed, never what is accepted (a differential test holds it
//! to that). Numbers are converted as serde_json converts them: an integer as an integer (to
//! `f64` with `as`), a decimal as its digits divided by an exact power of ten.

use crate::model::raw::RawEvent;
use std::borrow::Cow;

/// Powers of ten that are exact in an `f64` (serde_json divides by the same ones).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// At most this many digits in a number, so that its digits fit a `u64` and an `i64`.
const MAX_DIGITS: u32 = 18;

/// Where a known key's value goes.
enum Slot<'r, 'a> {
    Text(&'r mut Option<Cow<'a, str>>),
    Int(&'r mut Option<i64>),
    Int32(&'r mut Option<i32>),
    Real(&'r mut Option<f64>),
    Flag(&'r mut Option<bool>),
}

/// The keys `RawEvent` has, in the order of their bits for the duplicate check and of
/// [`slot`].
const NAMES: [&str; 24] = [
    "type",
    "call_id",
    "session_id",
    "outage_id",
    "event_time",
    "cell_id",
    "outcome",
    "setup_ms",
    "duration_ms",
    "dropped",
    "mos",
    "signal_dbm",
    "sinr_db",
    "plan",
    "active_ms",
    "dl_bytes",
    "ul_bytes",
    "rtt_ms",
    "packets_sent",
    "packets_lost",
    "state",
    "started_at",
    "cause",
    "planned",
];

/// A name with its closing quote as a little-endian 16-byte word and the mask of its bytes:
/// the key at a cursor is that name when the 16 bytes there, masked, equal the word.
#[derive(Clone, Copy)]
struct QuotedName {
    word: u128,
    mask: u128,
    len: usize,
}

const fn quoted_name(name: &str) -> QuotedName {
    let bytes = name.as_bytes();
    let (mut word, mut i) = (0u128, 0);
    while i < bytes.len() {
        word |= (bytes[i] as u128) << (8 * i);
        i += 1;
    }
    word |= (b'"' as u128) << (8 * i);
    let len = i + 1;
    let mask = if len >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * len)) - 1
    };
    QuotedName { word, mask, len }
}

const QUOTED: [QuotedName; 24] = {
    let mut out = [QuotedName {
        word: 0,
        mask: 0,
        len: 0,
    }; 24];
    let mut i = 0;
    while i < NAMES.len() {
        out[i] = quoted_name(NAMES[i]);
        i += 1;
    }
    out
};

/// The field of `raw` with bit `field` (a position in [`NAMES`]).
fn slot<'r, 'a>(raw: &'r mut RawEvent<'a>, field: u32) -> Option<Slot<'r, 'a>> {
    Some(match field {
        0 => Slot::Text(&mut raw.kind),
        1 => Slot::Text(&mut raw.call_id),
        2 => Slot::Text(&mut raw.session_id),
        3 => Slot::Text(&mut raw.outage_id),
        4 => Slot::Int(&mut raw.event_time),
        5 => Slot::Text(&mut raw.cell_id),
        6 => Slot::Text(&mut raw.outcome),
        7 => Slot::Int32(&mut raw.setup_ms),
        8 => Slot::Int(&mut raw.duration_ms),
        9 => Slot::Flag(&mut raw.dropped),
        10 => Slot::Real(&mut raw.mos),
        11 => Slot::Int32(&mut raw.signal_dbm),
        12 => Slot::Real(&mut raw.sinr_db),
        13 => Slot::Text(&mut raw.plan),
        14 => Slot::Int(&mut raw.active_ms),
        15 => Slot::Int(&mut raw.dl_bytes),
        16 => Slot::Int(&mut raw.ul_bytes),
        17 => Slot::Real(&mut raw.rtt_ms),
        18 => Slot::Int(&mut raw.packets_sent),
        19 => Slot::Int(&mut raw.packets_lost),
        20 => Slot::Text(&mut raw.state),
        21 => Slot::Int(&mut raw.started_at),
        22 => Slot::Text(&mut raw.cause),
        23 => Slot::Flag(&mut raw.planned),
        _ => return None,
    })
}

/// For each byte, the bits of the fields whose names start with it (derived from [`NAMES`]).
const BY_FIRST_BYTE: [u32; 256] = {
    let mut out = [0u32; 256];
    let mut i = 0;
    while i < NAMES.len() {
        out[NAMES[i].as_bytes()[0] as usize] |= 1 << i;
        i += 1;
    }
    out
};

/// The fields whose names start with `b`: the only ones a key starting so can be.
fn starting_with(b: u8) -> impl Iterator<Item = u32> {
    let mut fields = BY_FIRST_BYTE[usize::from(b)];
    std::iter::from_fn(move || {
        (fields != 0).then(|| {
            let field = fields.trailing_zeros();
            fields &= fields - 1;
            field
        })
    })
}

/// A number token: its digits, its sign and how many of them follow the decimal point.
struct Number {
    digits: u64,
    negative: bool,
    /// `None` for an integer token, else the count of fraction digits (at least one).
    fraction: Option<u32>,
}

impl Number {
    /// As serde_json gives an integer token to an integer field; `None` for "-0" (a float to
    /// serde_json) and for a decimal.
    fn integer(&self) -> Option<i64> {
        match (self.fraction, self.negative) {
            (Some(_), _) => None,
            (None, false) => i64::try_from(self.digits).ok(),
            (None, true) if self.digits == 0 => None,
            (None, true) => i64::try_from(self.digits).ok().map(|d| -d),
        }
    }

    /// As serde_json gives the token to a float field.
    fn real(&self) -> Option<f64> {
        let magnitude = match self.fraction {
            // An integer token: u64 or i64 to f64 (18 digits: the sign does not change rounding).
            None if self.negative && self.digits == 0 => return None,
            None => self.digits as f64,
            Some(k) => self.digits as f64 / *POW10.get(k as usize)?,
        };
        Some(if self.negative { -magnitude } else { magnitude })
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte of `word` (little-endian) that is a quote, a backslash or a control
/// character; 8 when none is. A byte below `n` sets its high bit in `(w - n·ONES) & !w & HIGHS`,
/// exactly for the lowest such byte (a borrow only marks bytes above it).
fn first_special(word: u64) -> usize {
    let below = |w: u64, n: u64| w.wrapping_sub(n * ONES) & !w & HIGHS;
    let hits = below(word ^ (u64::from(b'"') * ONES), 1)
        | below(word ^ (u64::from(b'\\') * ONES), 1)
        | below(word, 0x20);
    (hits.trailing_zeros() / 8) as usize
}

/// A cursor over one line.
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` after any whitespace.
    fn eat(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.as_bytes().get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// A string after its opening quote, without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        // Eight bytes at a time while eight are left, then one at a time.
        while let Some(word) = bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            match first_special(word) {
                8 => self.pos += 8,
                at => {
                    self.pos += at;
                    break;
                }
            }
        }
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
        let s = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some(s)
    }

    fn digits(&mut self, value: &mut u64, count: &mut u32) -> u32 {
        let mut n = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            *value = *value * 10 + u64::from(b - b'0');
            n += 1;
            *count += 1;
            self.pos += 1;
            if *count > MAX_DIGITS {
                return n;
            }
        }
        n
    }

    /// A number of at most [`MAX_DIGITS`] digits, without exponent or leading zeros.
    fn number(&mut self) -> Option<Number> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let (mut digits, mut count) = (0u64, 0u32);
        let leading_zero = self.peek() == Some(b'0');
        let whole = self.digits(&mut digits, &mut count);
        if whole == 0 || (leading_zero && whole > 1) {
            return None;
        }
        let fraction = if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.digits(&mut digits, &mut count) {
                0 => return None,
                k => Some(k),
            }
        } else {
            None
        };
        if count > MAX_DIGITS || matches!(self.peek(), Some(b'e' | b'E' | b'.' | b'0'..=b'9')) {
            return None;
        }
        Some(Number {
            digits,
            negative,
            fraction,
        })
    }

    /// `null`, else the value `parse` reads.
    fn nullable<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null").map(|()| None)
        } else {
            parse(self).map(Some)
        }
    }

    fn flag(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// A key and its closing quote, after its opening quote: the field it names (a position in
    /// [`NAMES`]), or `None` inside for a key `RawEvent` does not have (serde ignores it).
    fn key(&mut self) -> Option<Option<u32>> {
        let bytes = self.text.as_bytes();
        if let Some(ahead) = bytes.get(self.pos..self.pos + 16) {
            let word = u128::from_le_bytes(ahead.try_into().ok()?);
            for field in starting_with(ahead[0]) {
                let name = QUOTED.get(field as usize)?;
                if word & name.mask == name.word {
                    self.pos += name.len;
                    return Some(Some(field));
                }
            }
        }
        let key = self.string()?;
        Some(NAMES.iter().position(|n| *n == key).map(|i| i as u32))
    }

    fn quoted(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        self.string()
    }

    /// A value of a key serde ignores: a string, a number, true, false or null.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.quoted().map(drop),
            b'n' => self.literal(b"null"),
            b't' | b'f' => self.flag().map(drop),
            _ => self.number().map(drop),
        }
    }

    fn value(&mut self, slot: Option<Slot<'_, 'a>>) -> Option<()> {
        self.skip_ws();
        match slot {
            None => self.skip_scalar(),
            Some(Slot::Text(t)) => {
                *t = self.nullable(Self::quoted)?.map(Cow::Borrowed);
                Some(())
            }
            Some(Slot::Int(t)) => {
                *t = self.nullable(|s| s.number()?.integer())?;
                Some(())
            }
            Some(Slot::Int32(t)) => {
                *t = self.nullable(|s| i32::try_from(s.number()?.integer()?).ok())?;
                Some(())
            }
            Some(Slot::Real(t)) => {
                *t = self.nullable(|s| s.number()?.real())?;
                Some(())
            }
            Some(Slot::Flag(t)) => {
                *t = self.nullable(Self::flag)?;
                Some(())
            }
        }
    }
}

/// Fills `raw` (all `None` before) with the record of a flat, escape-free JSON object line,
/// exactly as serde_json would decode it, and says whether the line was one; when it was not
/// (serde_json then decodes it or names the error), `raw` holds part of it.
pub fn decode_flat<'a>(text: &'a str, raw: &mut RawEvent<'a>) -> bool {
    read_object(&mut Scan { text, pos: 0 }, raw).is_some()
}

fn read_object<'a>(scan: &mut Scan<'a>, raw: &mut RawEvent<'a>) -> Option<()> {
    let mut seen = 0u32;
    scan.eat(b'{')?;
    scan.skip_ws();
    if scan.peek()? == b'}' {
        scan.pos += 1;
    } else {
        loop {
            scan.eat(b'"')?;
            let field = scan.key()?;
            scan.eat(b':')?;
            if let Some(bit) = field {
                if seen & (1 << bit) != 0 {
                    return None;
                }
                seen |= 1 << bit;
            }
            scan.value(field.and_then(|f| slot(raw, f)))?;
            scan.skip_ws();
            match scan.peek()? {
                b',' => scan.pos += 1,
                b'}' => {
                    scan.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    scan.skip_ws();
    (scan.pos == scan.text.len()).then_some(())
}

#[cfg(test)]
mod tests;
