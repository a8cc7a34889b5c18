//! Avro object container files, read block by block from any `Read`.

use crate::registry::SchemaRegistry;
use crate::schema::Schema;
use crate::source::{FileReader, Source, Window};
use crate::value::{Decoder, Payload};
use crate::AvroError;
use std::io::Read;
use std::sync::Arc;

/// Block compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// None.
    Null,
    /// Raw deflate.
    Deflate,
    /// Snappy with a CRC-32 trailer.
    Snappy,
}

/// Where container bytes come from: a stream (bytes are copied into a buffer), a
/// slice already in memory (blocks are borrowed), or a file read piecewise
/// (uncompressed blocks are decoded from a [`Window`], so skipped cutout bytes are
/// never read).
pub trait BlockSource: Read {
    /// The next `n` bytes.
    fn block<'s>(&'s mut self, n: usize, scratch: &'s mut Vec<u8>) -> std::io::Result<&'s [u8]>;

    /// The next `n` bytes as a [`Window`], if this source reads piecewise.
    fn window(&mut self, _n: usize) -> Option<Window<'_>> {
        None
    }
}

impl BlockSource for FileReader {
    fn block<'s>(&'s mut self, n: usize, scratch: &'s mut Vec<u8>) -> std::io::Result<&'s [u8]> {
        self.read_block(n, scratch)?;
        Ok(scratch)
    }

    fn window(&mut self, n: usize) -> Option<Window<'_>> {
        Some(FileReader::window(self, n))
    }
}

/// Decode `count` values from `d` into `out` (JSON or Avro values).
fn decode_values<S: Source>(
    d: &mut Decoder<S>,
    schema: &Schema,
    count: usize,
    json: bool,
    out: &mut Vec<Payload>,
) -> Result<(), AvroError> {
    (0..count).try_for_each(|_| {
        let v = if json {
            Payload::Json(d.json(schema)?)
        } else {
            Payload::Avro(d.value(schema)?)
        };
        out.push(v);
        Ok(())
    })
}

/// A [`BlockSource`] over any reader.
pub struct Streamed<R>(pub R);

impl<R: Read> Read for Streamed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> BlockSource for Streamed<R> {
    fn block<'s>(&'s mut self, n: usize, scratch: &'s mut Vec<u8>) -> std::io::Result<&'s [u8]> {
        // the declared size is not trusted for the allocation: the buffer grows with
        // the bytes actually there
        scratch.clear();
        (&mut self.0).take(n as u64).read_to_end(scratch)?;
        if scratch.len() < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(scratch)
    }
}

/// A [`BlockSource`] over bytes in memory.
pub struct InMemory<'a>(pub &'a [u8]);

impl Read for InMemory<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl BlockSource for InMemory<'_> {
    fn block<'s>(&'s mut self, n: usize, _: &'s mut Vec<u8>) -> std::io::Result<&'s [u8]> {
        if self.0.len() < n {
            self.0 = &[];
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
}

/// A container file being read.
pub struct ContainerReader<R: BlockSource> {
    input: R,
    sync_scratch: Vec<u8>,
    schema: Arc<Schema>,
    codec: Codec,
    sync: [u8; 16],
    raw: Vec<u8>,
    data: Vec<u8>,
    max_block: usize,
}

/// The largest block a reader decompresses by default: 64 MiB (an alert is 45–130
/// kB; a block of them rarely exceeds a few MB). [`ContainerReader::max_block`]
/// changes it; a larger block is a damaged input.
pub const DEFAULT_MAX_BLOCK_BYTES: usize = 64 << 20;

fn io(e: std::io::Error, what: &str) -> AvroError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        AvroError::Container(format!("truncated file: end of data inside {what}"))
    } else {
        AvroError::Io(e.to_string())
    }
}

fn read_long<R: Read>(r: &mut R, what: &str) -> Result<Option<i64>, AvroError> {
    let mut v: u64 = 0;
    let mut shift = 0;
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) if shift == 0 => return Ok(None),
            Ok(0) => {
                return Err(AvroError::Container(format!(
                    "truncated file inside {what}"
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e, what)),
        }
        v |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(((v >> 1) as i64) ^ -((v & 1) as i64)));
        }
        shift += 7;
        if shift > 63 {
            return Err(AvroError::Container(format!("varint too long in {what}")));
        }
    }
}

fn need_long<R: Read>(r: &mut R, what: &str) -> Result<i64, AvroError> {
    read_long(r, what)?.ok_or_else(|| AvroError::Container(format!("truncated file: no {what}")))
}

fn read_bytes<R: Read>(r: &mut R, what: &str) -> Result<Vec<u8>, AvroError> {
    let n = need_long(r, what)?;
    let n = usize::try_from(n)
        .map_err(|_| AvroError::Container(format!("negative length in {what}")))?;
    if n > 64 << 20 {
        return Err(AvroError::Container(format!(
            "{what} of {n} bytes is implausible"
        )));
    }
    let mut b = vec![0; n];
    r.read_exact(&mut b).map_err(|e| io(e, what))?;
    Ok(b)
}

impl<R: BlockSource> ContainerReader<R> {
    /// Read the header (magic, metadata, sync marker); the schema comes from the
    /// registry's cache when this text was seen before.
    pub fn new(mut input: R, registry: &mut SchemaRegistry) -> Result<Self, AvroError> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic).map_err(|e| io(e, "magic"))?;
        if &magic != b"Obj\x01" {
            return Err(AvroError::Container(format!(
                "not an Avro container file (starts with {magic:02x?})"
            )));
        }
        let (mut schema, mut codec) = (None, Codec::Null);
        loop {
            let count = need_long(&mut input, "metadata")?;
            if count == 0 {
                break;
            }
            if count < 0 {
                need_long(&mut input, "metadata block size")?;
            }
            // each entry reads at least two bytes, so a false count ends at the data
            let count = count.unsigned_abs();
            for _ in 0..count {
                let key = read_bytes(&mut input, "metadata key")?;
                let value = read_bytes(&mut input, "metadata value")?;
                match key.as_slice() {
                    b"avro.schema" => schema = Some(registry.by_text(&value)?),
                    b"avro.codec" => {
                        codec = match value.as_slice() {
                            b"null" | b"" => Codec::Null,
                            b"deflate" => Codec::Deflate,
                            b"snappy" => Codec::Snappy,
                            other => {
                                return Err(AvroError::Container(format!(
                                    "unsupported codec `{}` (supported: null, deflate, snappy)",
                                    String::from_utf8_lossy(other)
                                )))
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let schema =
            schema.ok_or_else(|| AvroError::Container("no avro.schema in the header".into()))?;
        let mut sync = [0u8; 16];
        input
            .read_exact(&mut sync)
            .map_err(|e| io(e, "sync marker"))?;
        Ok(ContainerReader {
            input,
            sync_scratch: Vec::new(),
            schema,
            codec,
            sync,
            raw: Vec::new(),
            data: Vec::new(),
            max_block: DEFAULT_MAX_BLOCK_BYTES,
        })
    }

    /// Refuse blocks larger than `bytes`, compressed or decompressed.
    pub fn max_block(mut self, bytes: usize) -> Self {
        self.max_block = bytes;
        self
    }

    /// The writer schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Decode the next block into `out`; `Ok(false)` at the end of the file.
    /// On an error nothing of the block is added to `out`.
    pub fn next_block(
        &mut self,
        out: &mut Vec<Payload>,
        keep_bytes: bool,
        json: bool,
    ) -> Result<bool, AvroError> {
        let Some(count) = read_long(&mut self.input, "block count")? else {
            return Ok(false);
        };
        let size = need_long(&mut self.input, "block size")?;
        let (count, size) = match (usize::try_from(count), usize::try_from(size)) {
            (Ok(c), Ok(s)) if s <= self.max_block => (c, s),
            (Ok(_), Ok(s)) => {
                return Err(AvroError::Container(format!(
                    "block of {s} bytes exceeds the limit of {} bytes",
                    self.max_block
                )))
            }
            _ => {
                return Err(AvroError::Container(format!(
                    "bad block header (count {count}, size {size})"
                )))
            }
        };
        // the count is never trusted: a value takes at least one byte, unless its
        // schema is zero-width (then the count is bounded on its own)
        let zero_width = self.schema.is_zero_width();
        let too_many = |bytes: usize| {
            if zero_width {
                count as u64 > crate::value::MAX_ZERO_WIDTH_ITEMS
            } else {
                count > bytes
            }
        };
        if self.codec == Codec::Null && too_many(size) {
            return Err(AvroError::Container(format!(
                "block of {count} values in {size} bytes (a value takes at least one byte)"
            )));
        }
        let start = out.len();
        if self.codec == Codec::Null {
            if let Some(window) = self.input.window(size) {
                let mut d = Decoder::over(window, keep_bytes);
                let mut decoded = decode_values(&mut d, &self.schema, count, json, out);
                let w = d.source();
                if w.short() || !w.finish() {
                    // the file ended (or failed) inside the block: say so, as for a
                    // whole-block read
                    decoded = Err(match w.take_error() {
                        Some(e) => AvroError::Io(e.to_string()),
                        None => {
                            AvroError::Container("truncated file: end of data inside block".into())
                        }
                    });
                }
                return self.after_block(decoded, out, start);
            }
        }
        let decoded = {
            let raw = self
                .input
                .block(size, &mut self.raw)
                .map_err(|e| io(e, "block"))?;
            let data: &[u8] = match self.codec {
                Codec::Null => raw,
                Codec::Deflate => {
                    self.data.clear();
                    // one byte more than the limit tells a block over it
                    flate2::read::DeflateDecoder::new(raw)
                        .take(self.max_block as u64 + 1)
                        .read_to_end(&mut self.data)
                        .map_err(|e| AvroError::Container(format!("deflate block: {e}")))?;
                    if self.data.len() > self.max_block {
                        return Err(AvroError::Container(format!(
                            "deflate block expands beyond the limit of {} bytes",
                            self.max_block
                        )));
                    }
                    &self.data
                }
                Codec::Snappy => {
                    let n = raw.len();
                    if n < 4 {
                        return Err(AvroError::Container(
                            "snappy block shorter than its CRC".into(),
                        ));
                    }
                    let len = snap::raw::decompress_len(&raw[..n - 4])
                        .map_err(|e| AvroError::Container(format!("snappy block: {e}")))?;
                    if len > self.max_block {
                        return Err(AvroError::Container(format!(
                            "snappy block expands to {len} bytes, beyond the limit of {} bytes",
                            self.max_block
                        )));
                    }
                    self.data = snap::raw::Decoder::new()
                        .decompress_vec(&raw[..n - 4])
                        .map_err(|e| AvroError::Container(format!("snappy block: {e}")))?;
                    let crc = u32::from_be_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]);
                    if crc32fast::hash(&self.data) != crc {
                        return Err(AvroError::Container("snappy block CRC mismatch".into()));
                    }
                    &self.data
                }
            };
            if too_many(data.len()) {
                return Err(AvroError::Container(format!(
                    "block of {count} values in {} bytes (a value takes at least one byte)",
                    data.len()
                )));
            }
            // decode first, so that the most specific problem is reported; a block
            // with any problem is dropped whole (its values cannot be trusted)
            decode_values(
                &mut Decoder::new(data, keep_bytes),
                &self.schema,
                count,
                json,
                out,
            )
        };
        self.after_block(decoded, out, start)
    }

    /// Check the sync marker after a block; on any problem drop the block's values
    /// from `out` (from `start` on).
    fn after_block(
        &mut self,
        decoded: Result<(), AvroError>,
        out: &mut Vec<Payload>,
        start: usize,
    ) -> Result<bool, AvroError> {
        let sync_problem = match self.input.block(16, &mut self.sync_scratch) {
            Err(e) => Some(io(e, "the sync marker after the block")),
            Ok(s) if s != self.sync => Some(AvroError::Container(
                "sync marker mismatch after block (corrupt block)".into(),
            )),
            Ok(_) => None,
        };
        if let Some(e) = decoded.err().or(sync_problem) {
            out.truncate(start);
            return Err(e);
        }
        Ok(true)
    }
}
