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

fn read_header(buf: &[u8], pos: &mut usize) -> Result<Header, String> {
    *pos = 4;
    let mut schema = None;
    let mut codec = String::from("null");
    loop {
        let mut count = read_long(buf, pos).ok_or("truncated header")?;
        if count == 0 {
            break;
        }
        if count < 0 {
            count = count.checked_neg().ok_or("corrupt header")?;
            read_long(buf, pos).ok_or("truncated header")?;
        }
        for _ in 0..count {
            let key = read_bytes(buf, pos).ok_or("truncated header")?;
            let value = read_bytes(buf, pos).ok_or("truncated header")?;
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
        .ok_or("truncated header")?;
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

/// One block whose count, size and sync marker check out against the bytes there.
struct Block<'a> {
    count: u64,
    data: &'a [u8],
    /// Where the next block starts.
    next: usize,
}

/// The block at `pos`; `Err(Some(next))` when only its sync marker is wrong (its size is right:
/// a valid block or the end of the file follows it), `Err(None)` when it cannot be delimited.
fn block_at<'a>(
    buf: &'a [u8],
    pos: usize,
    sync: &[u8; 16],
    max: usize,
) -> Result<Block<'a>, Option<usize>> {
    let delimited = (|| {
        let mut p = pos;
        let count = u64::try_from(read_long(buf, &mut p)?).ok()?;
        let size = usize::try_from(read_long(buf, &mut p)?).ok()?;
        if size > max {
            return None;
        }
        let end = p.checked_add(size)?;
        let data = buf.get(p..end)?;
        let next = end.checked_add(16)?;
        let sync_ok = buf.get(end..next) == Some(&sync[..]);
        Some((count, data, next, sync_ok))
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

/// Reads a whole container file held in `buf`; `name` names it in sources.
pub fn read<E: From<SourceError>>(
    buf: &[u8],
    name: &str,
    limits: &ReadLimits,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut pos = 0;
    let header = match read_header(buf, &mut pos) {
        Ok(h) => h,
        Err(detail) => {
            let head = &buf[..buf.len().min(4096)];
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
    while pos < buf.len() {
        let block_start = pos;
        let block = match block_at(buf, pos, &header.sync, limits.max_block_bytes) {
            Ok(block) => block,
            Err(resume) => {
                // Damaged: dead-letter its bytes, resume at the next block that checks out.
                let (resume, what) = match resume {
                    Some(next) => (next, "its sync marker is damaged"),
                    None => (
                        find_sync(buf, block_start + 1, &header.sync).unwrap_or(buf.len()),
                        "its count, size or sync marker does not match the bytes there; skipped to the next sync marker",
                    ),
                };
                index += 1;
                let detail = format!("corrupt Avro block at byte {block_start}: {what}");
                reject(f, name, index, detail, &buf[block_start..resume])?;
                pos = resume;
                continue;
            }
        };
        pos = block.next;
        let count = block.count;
        match header.codec.decompress(block.data, limits.max_block_bytes) {
            Ok(data) => read_block(&reader, &header.schema, &data, count, name, &mut index, f)?,
            Err(e) => {
                index += 1;
                let detail = format!("block of {count} records at byte {block_start}: {e}");
                reject(f, name, index, detail, block.data)?;
            }
        }
    }
    Ok(())
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
                Some(kind) => to_raw(kind, value).and_then(validate),
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
