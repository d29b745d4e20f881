//! Avro object container files (replay input): header, then blocks of datums separated by the
//! file's sync marker. Read block by block rather than through `apache_avro::Reader` so that
//! (a) every dead letter carries the exact bytes of its own datum, and (b) a corrupt or
//! truncated block costs only that block: the reader re-synchronises on the next sync marker and
//! goes on. Codecs: `null` and `deflate`. The writer schema is one of our input records, or a
//! union of them (one file holding all three streams in their original order).

use super::avro_value::{kind_of_value, to_raw};
use super::{Item, Location, RawPayload, SourceError};
use crate::model::validate::{Reason, Reject, validate};
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use std::io::Read;

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
    deflate: bool,
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
            count = -count;
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
        .get(*pos..*pos + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated header")?;
    *pos += 16;
    let schema = std::str::from_utf8(schema.ok_or("header has no avro.schema")?)
        .map_err(|e| format!("schema is not UTF-8: {e}"))?;
    let schema = Schema::parse_str(schema).map_err(|e| format!("bad writer schema: {e}"))?;
    let deflate = match codec.as_str() {
        "null" => false,
        "deflate" => true,
        other => {
            return Err(format!(
                "unsupported codec `{other}` (null and deflate are)"
            ));
        }
    };
    Ok(Header {
        schema,
        deflate,
        sync,
    })
}

/// Reads a whole container file held in `buf`; `name` names it in sources.
pub fn read<E: From<SourceError>>(
    buf: &[u8],
    name: &str,
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
        let parsed = (|| {
            let count = read_long(buf, &mut pos).filter(|c| *c >= 0)?;
            let size = usize::try_from(read_long(buf, &mut pos)?).ok()?;
            let data = buf.get(pos..pos.checked_add(size)?)?;
            pos += size;
            let sync_ok = buf.get(pos..pos + 16) == Some(&header.sync[..]);
            pos += 16;
            sync_ok.then_some((count, data))
        })();
        let Some((count, data)) = parsed else {
            // Corrupt or truncated block: dead-letter its bytes, resume after the next sync marker.
            let resume = find_sync(buf, block_start + 1, &header.sync).unwrap_or(buf.len());
            index += 1;
            f(Item {
                event: Err(Reject::new(
                    Reason::Malformed,
                    format!(
                        "corrupt Avro block at byte {block_start}; skipped to the next sync marker"
                    ),
                )),
                source: Location { file: name, index },
                payload: RawPayload::Binary(&buf[block_start..resume]),
            })?;
            pos = resume;
            continue;
        };
        let inflated;
        let data: &[u8] = if header.deflate {
            let mut out = Vec::new();
            match flate2::read::DeflateDecoder::new(data).read_to_end(&mut out) {
                Ok(_) => {
                    inflated = out;
                    &inflated
                }
                Err(e) => {
                    index += 1;
                    f(Item {
                        event: Err(Reject::new(
                            Reason::Malformed,
                            format!("block of {count} records does not inflate: {e}"),
                        )),
                        source: Location { file: name, index },
                        payload: RawPayload::Binary(data),
                    })?;
                    continue;
                }
            }
        } else {
            data
        };
        let mut cursor: &[u8] = data;
        for i in 0..count {
            index += 1;
            let before = cursor;
            let decoded = reader.read_value(&mut cursor);
            let used = before.len() - cursor.len();
            let event = match decoded {
                Ok(value) => match kind_of_value(&header.schema, &value) {
                    Some(kind) => to_raw(kind, value).and_then(validate),
                    None => Err(Reject::new(
                        Reason::UnknownRecordType,
                        "the record is not a CallRecord, DataSession or Outage",
                    )),
                },
                Err(e) => {
                    // The rest of the block cannot be delimited: one dead letter carries it.
                    f(Item {
                        event: Err(Reject::new(
                            Reason::Malformed,
                            format!(
                                "datum does not decode ({e}); the payload holds the rest of its block, {} record(s)",
                                count - i
                            ),
                        )),
                        source: Location { file: name, index },
                        payload: RawPayload::Binary(before),
                    })?;
                    index += (count - i - 1) as u64;
                    break;
                }
            };
            f(Item {
                event,
                source: Location { file: name, index },
                payload: RawPayload::Binary(&before[..used]),
            })?;
        }
    }
    Ok(())
}

fn find_sync(buf: &[u8], from: usize, sync: &[u8; 16]) -> Option<usize> {
    buf.get(from..)?
        .windows(16)
        .position(|w| w == sync)
        .map(|p| from + p + 16)
}
