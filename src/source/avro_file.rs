//! Avro object container files (replay input): header, then blocks of datums separated by the
//! file's sync marker. Read block by block rather than through `apache_avro::Reader` so that
//! (a) every dead letter carries the exact bytes of its own datum, and (b) a corrupt or
//! truncated block costs only that block: the reader re-synchronises on the next sync marker and
//! goes on. Every block's count, size and sync marker are checked against the bytes there
//! (docs/operating-limits.md): a count too high makes no record out of nothing, one too low leaves no byte
//! unseen, a damaged sync marker costs only its own block, and no block may decompress beyond
//! `input.max_block_bytes`. Codecs: every one of the Avro spec ([`Codec`]). The writer schema is
//! one of our input records, or a union of them (one file holding all three streams in their
//! original order), and passes [`super::writer_schema::check`].

use super::avro_codec::Codec;
use super::avro_value::{kind_of_value, to_raw};
use super::read_ahead::{READ_STEP, ReadAhead};
use super::{Item, Location, RawPayload, ReadLimits, SourceError};
use crate::model::validate::{Reason, Reject, validate};
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;

/// The first four bytes of an object container file.
pub const MAGIC: [u8; 4] = *b"Obj\x01";

/// Reads a zig-zag varint long, advancing `pos`.
pub fn read_long(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

fn read_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(read_long(buf, pos)?).ok()?;
    let end = pos.checked_add(len)?;
    let out = buf.get(*pos..end)?;
    *pos = end;
    Some(out)
}

struct Header {
    schema: Schema,
    codec: Codec,
    sync: [u8; 16],
}

/// The header error that more bytes may cure.
const TRUNCATED_HEADER: &str = "truncated header";

fn read_header(buf: &[u8], pos: &mut usize) -> Result<Header, String> {
    *pos = 4;
    let mut schema = None;
    let mut codec = String::from("null");
    loop {
        let mut count = read_long(buf, pos).ok_or(TRUNCATED_HEADER)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            count = count.checked_neg().ok_or("corrupt header")?;
            read_long(buf, pos).ok_or(TRUNCATED_HEADER)?;
        }
        for _ in 0..count {
            let key = read_bytes(buf, pos).ok_or(TRUNCATED_HEADER)?;
            let value = read_bytes(buf, pos).ok_or(TRUNCATED_HEADER)?;
            match key {
                b"avro.schema" => schema = Some(value),
                b"avro.codec" => codec = String::from_utf8_lossy(value).into_owned(),
                _ => {}
            }
        }
    }
    let sync: [u8; 16] = buf
        .get(*pos..pos.saturating_add(16))
        .and_then(|s| s.try_into().ok())
        .ok_or(TRUNCATED_HEADER)?;
    *pos += 16;
    let schema = std::str::from_utf8(schema.ok_or("header has no avro.schema")?)
        .map_err(|e| format!("schema is not UTF-8: {e}"))?;
    let schema = Schema::parse_str(schema).map_err(|e| format!("bad writer schema: {e}"))?;
    super::writer_schema::check(&schema)?;
    let codec = Codec::parse(&codec).ok_or_else(|| {
        format!(
            "unsupported codec `{codec}` (null, deflate, snappy, zstandard, bzip2 and xz are read)"
        )
    })?;
    Ok(Header {
        schema,
        codec,
        sync,
    })
}

/// One block whose count, size and sync marker check out against the bytes there (offsets into
/// the bytes it was found in).
struct Block {
    count: u64,
    data: std::ops::Range<usize>,
    /// Where the next block starts.
    next: usize,
}

/// The block at `pos`; `Err(Some(next))` when only its sync marker is wrong (its size is right:
/// a valid block or the end of the file follows it), `Err(None)` when it cannot be delimited.
fn block_at(buf: &[u8], pos: usize, sync: &[u8; 16], max: usize) -> Result<Block, Option<usize>> {
    let delimited = (|| {
        let mut p = pos;
        let count = u64::try_from(read_long(buf, &mut p)?).ok()?;
        let size = usize::try_from(read_long(buf, &mut p)?).ok()?;
        if size > max {
            return None;
        }
        let end = p.checked_add(size)?;
        buf.get(p..end)?;
        let next = end.checked_add(16)?;
        let sync_ok = buf.get(end..next) == Some(&sync[..]);
        Some((count, p..end, next, sync_ok))
    })();
    match delimited {
        Some((count, data, next, true)) => Ok(Block { count, data, next }),
        Some((_, _, next, false))
            if next == buf.len()
                || (next < buf.len() && block_at(buf, next, sync, max).is_ok()) =>
        {
            Err(Some(next))
        }
        _ => Err(None),
    }
}

/// Bytes past a block's start that decide whether it checks out: its own count, size, data and
/// sync marker, and those of the block after it (which decide a damaged sync marker).
fn block_reach(max_block_bytes: usize) -> usize {
    2 * (max_block_bytes + 36)
}

/// Reads a container file from `input` as a stream (holding the block being read and what
/// follows it up to [`block_reach`], never the whole file); `name` names it in sources.
pub fn read<E: From<SourceError>, R: std::io::Read>(
    input: R,
    name: &str,
    limits: &ReadLimits,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let io = |source| SourceError::Io {
        path: name.to_string(),
        source,
    };
    let mut win = ReadAhead::new(input);
    win.hold_to(4096).map_err(io)?;
    let mut pos = 0;
    let header = loop {
        match read_header(win.bytes(), &mut pos) {
            Err(detail) if detail == TRUNCATED_HEADER && !win.at_end() => {
                let most = block_reach(limits.max_block_bytes);
                if win.end() >= most {
                    break Err(format!(
                        "header longer than {most} bytes (2 × (input.max_block_bytes + 36))"
                    ));
                }
                win.more(win.bytes().len()).map_err(io)?;
            }
            other => break other,
        }
    };
    let header = match header {
        Ok(h) => h,
        Err(detail) => {
            let head = &win.bytes()[..win.bytes().len().min(4096)];
            return f(Item {
                event: Err(Reject::new(
                    Reason::Malformed,
                    format!(
                        "unreadable Avro file: {detail}; the payload holds its first {} bytes",
                        head.len()
                    ),
                )),
                source: Location {
                    file: name,
                    index: 0,
                },
                payload: RawPayload::Binary(head),
            });
        }
    };
    let reader = match GenericDatumReader::builder(&header.schema).build() {
        Ok(r) => r,
        Err(e) => {
            return f(Item {
                event: Err(Reject::new(
                    Reason::Malformed,
                    format!("unusable writer schema: {e}"),
                )),
                source: Location {
                    file: name,
                    index: 0,
                },
                payload: RawPayload::Binary(&[]),
            });
        }
    };
    let mut index: u64 = 0;
    while win.hold_to(pos + 1).map_err(io)? {
        win.release_before(pos);
        let block_start = pos;
        let settled =
            settle_block(&mut win, pos, &header.sync, limits.max_block_bytes).map_err(io)?;
        let held = win.bytes();
        let base = win.base();
        let block = match settled {
            Ok(block) => block,
            Err((resume, what)) => {
                // Damaged: dead-letter its bytes, resume at the next block that checks out.
                index += 1;
                let detail = format!("corrupt Avro block at byte {block_start}: {what}");
                let bytes = held
                    .get(block_start - base..resume - base)
                    .unwrap_or_default();
                reject(f, name, index, detail, bytes)?;
                pos = resume;
                continue;
            }
        };
        pos = block.next + base;
        let count = block.count;
        let data = held.get(block.data).unwrap_or_default();
        match header.codec.decompress(data, limits.max_block_bytes) {
            Ok(data) => read_block(&reader, &header.schema, &data, count, name, &mut index, f)?,
            Err(e) => {
                index += 1;
                let detail = format!("block of {count} records at byte {block_start}: {e}");
                reject(f, name, index, detail, data)?;
            }
        }
    }
    Ok(())
}

/// Reads until whether the block at offset `pos` checks out cannot change; returns the block
/// when it does (held whole; its offsets are into the bytes held), or the file offset to resume
/// at and why it does not.
fn settle_block<R: std::io::Read>(
    win: &mut ReadAhead<R>,
    pos: usize,
    sync: &[u8; 16],
    max: usize,
) -> std::io::Result<Result<Block, (usize, &'static str)>> {
    let reach = pos.saturating_add(block_reach(max));
    // More bytes can turn a damaged-looking block into a good one until the reach is held.
    loop {
        match block_at(win.bytes(), pos - win.base(), sync, max) {
            Ok(block) => return Ok(Ok(block)),
            Err(_) if !win.at_end() && win.end() < reach => {
                win.more(win.bytes().len())?;
            }
            Err(Some(next)) => {
                return Ok(Err((next + win.base(), "its sync marker is damaged")));
            }
            Err(None) => break,
        }
    }
    // A long damaged stretch is cut into dead letters of at most the reach each, so that no
    // more than that is held (the last 15 bytes may start the next marker). Every offset
    // returned lies past `pos`.
    let found = loop {
        let base = win.base();
        let within = win
            .bytes()
            .get(..reach.min(win.end()) - base)
            .unwrap_or_default();
        if let Some(at) = find_sync(within, pos + 1 - base, sync) {
            break at + base;
        }
        if win.end() >= reach {
            break reach - 15;
        }
        if !win.more(READ_STEP.min(reach - win.end()))? {
            break win.end();
        }
    };
    Ok(Err((
        found,
        "its count, size or sync marker does not match the bytes there; skipped to the next sync marker",
    )))
}

fn reject<E>(
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
    file: &str,
    index: u64,
    detail: String,
    bytes: &[u8],
) -> Result<(), E> {
    f(Item {
        event: Err(Reject::new(Reason::Malformed, detail)),
        source: Location { file, index },
        payload: RawPayload::Binary(bytes),
    })
}

/// Decodes the `count` datums of one block. A block that runs out of bytes before its count
/// yields no record for the missing ones (one dead letter says how many); bytes left after the
/// count are one dead letter; a datum that does not decode makes the rest of the block one dead
/// letter (it cannot be delimited).
fn read_block<E>(
    reader: &GenericDatumReader<'_>,
    schema: &Schema,
    data: &[u8],
    count: u64,
    file: &str,
    index: &mut u64,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut cursor: &[u8] = data;
    for i in 0..count {
        *index += 1;
        if cursor.is_empty() {
            let detail = format!(
                "block says {count} records but its bytes end after {i}: no record is made of the missing {}",
                count - i
            );
            reject(f, file, *index, detail, &[])?;
            *index += count - i - 1;
            return Ok(());
        }
        let before = cursor;
        let event = match reader.read_value(&mut cursor) {
            Ok(value) => match kind_of_value(schema, &value) {
                Some(kind) => to_raw(kind, value).and_then(|raw| validate(&raw)),
                None => Err(Reject::new(
                    Reason::UnknownRecordType,
                    "the record is not a CallRecord, DataSession or Outage",
                )),
            },
            Err(e) => {
                let detail = format!(
                    "datum does not decode ({e}); the payload holds the rest of its block, {} record(s)",
                    count - i
                );
                reject(f, file, *index, detail, before)?;
                *index += count - i - 1;
                return Ok(());
            }
        };
        let used = before.len() - cursor.len();
        f(Item {
            event,
            source: Location {
                file,
                index: *index,
            },
            payload: RawPayload::Binary(&before[..used]),
        })?;
    }
    if !cursor.is_empty() {
        *index += 1;
        let detail = format!(
            "block says {count} records but {} bytes follow them: the payload holds those bytes",
            cursor.len()
        );
        reject(f, file, *index, detail, cursor)?;
    }
    Ok(())
}

fn find_sync(buf: &[u8], from: usize, sync: &[u8; 16]) -> Option<usize> {
    buf.get(from..)?
        .windows(16)
        .position(|w| w == sync)
        .map(|p| from + p + 16)
}
