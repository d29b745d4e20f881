//! The Avro object container codecs (null, deflate, snappy, zstandard, bzip2, xz), each
//! decompressing into at most a given number of bytes: a block that would inflate beyond it is
//! refused before it can exhaust memory (docs/operating-limits.md, `input.max_block_bytes`).

use std::io::Read;

/// A block codec named by a container's `avro.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Null,
    Deflate,
    Snappy,
    Zstandard,
    Bzip2,
    Xz,
}

impl Codec {
    /// The codec of an `avro.codec` value.
    pub fn parse(name: &str) -> Option<Codec> {
        Some(match name {
            "null" => Codec::Null,
            "deflate" => Codec::Deflate,
            "snappy" => Codec::Snappy,
            "zstandard" => Codec::Zstandard,
            "bzip2" => Codec::Bzip2,
            "xz" => Codec::Xz,
            _ => return None,
        })
    }

    /// Decompresses one block into at most `max` bytes.
    pub fn decompress(self, data: &[u8], max: usize) -> Result<Vec<u8>, String> {
        match self {
            Codec::Null => Ok(data.to_vec()),
            Codec::Deflate => capped(flate2::read::DeflateDecoder::new(data), max),
            Codec::Snappy => snappy(data, max),
            Codec::Zstandard => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|e| format!("not a zstandard frame: {e}"))?;
                capped(decoder, max)
            }
            Codec::Bzip2 => capped(bzip2::read::BzDecoder::new(data), max),
            Codec::Xz => {
                let mut out = CappedWriter {
                    out: Vec::new(),
                    max,
                };
                let mut input = data;
                lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| match e {
                    lzma_rs::error::Error::IoError(io)
                        if io.kind() == std::io::ErrorKind::OutOfMemory =>
                    {
                        too_large(max)
                    }
                    other => format!("xz: {other}"),
                })?;
                Ok(out.out)
            }
        }
    }
}

fn too_large(max: usize) -> String {
    format!("the block inflates beyond input.max_block_bytes ({max} bytes)")
}

fn capped(reader: impl Read, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("does not decompress: {e}"))?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(out)
}

/// Avro's snappy: a raw snappy block followed by the big-endian CRC-32 of the uncompressed data.
fn snappy(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let split = data
        .len()
        .checked_sub(4)
        .ok_or("snappy block shorter than its checksum")?;
    let (body, crc) = data.split_at(split);
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > max {
        return Err(too_large(max));
    }
    let out = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32(&out) != want {
        return Err("snappy block fails its CRC-32 check".into());
    }
    Ok(out)
}

/// CRC-32 (IEEE), as Avro's snappy codec appends it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

/// A writer that refuses to grow past `max` bytes.
struct CappedWriter {
    out: Vec<u8>,
    max: usize,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "block too large",
            ));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_deflate_bomb_is_refused() {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 8 << 20]).expect("compresses");
        let bomb = enc.finish().expect("compresses");
        assert!(bomb.len() < 64 << 10);
        let err = Codec::Deflate.decompress(&bomb, 1 << 20).unwrap_err();
        assert!(err.contains("max_block_bytes"), "{err}");
        assert_eq!(
            Codec::Deflate.decompress(&bomb, 8 << 20).map(|v| v.len()),
            Ok(8 << 20)
        );
    }
}
