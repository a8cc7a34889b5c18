//! Streaming Avro decoding for alert packets.
//!
//! - [`schema`]: Avro schemas (named types, references, Rubin's multi-file sets);
//! - [`value`]: decoded values (records share their schema; cutout bytes skipped);
//! - [`source`]: the decoder's bytes: slices, or files read piecewise so that
//!   skipped cutout bytes are never copied;
//! - [`container`]: object container files (null, deflate, snappy codecs);
//! - [`registry`]: schemas cached by fingerprint; bundled Rubin schemas by id;
//! - [`input`]: files, directories, tar and tar.gz archives, Confluent-framed
//!   messages, read on a background thread into a bounded channel.
//!
//! Memory stays constant: archives are streamed entry by entry and container files
//! block by block; at most a bounded number of decoded alerts wait in the channel.

pub mod container;
pub mod input;
pub mod registry;
pub mod schema;
pub mod source;
pub mod value;

pub use input::{
    missing_sources, read_inputs, walk_bytes, Damaged, Item, Items, MessageDecoder, Packet,
    Preview, ReadOptions,
};
pub use registry::SchemaRegistry;
pub use schema::{parse_schema, parse_schema_set, RecordSchema, Schema};
pub use value::{Decoder, Payload, Projection, Record, Value};

/// What can go wrong decoding Avro.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AvroError {
    /// The schema is invalid or unsupported.
    #[error("bad schema: {0}")]
    Schema(String),
    /// The data does not match the schema (truncated, bad union index, ...).
    #[error("{0}")]
    Data(String),
    /// The container framing is broken.
    #[error("{0}")]
    Container(String),
    /// A Confluent schema id not bundled.
    #[error("unknown schema id {id} (bundled Rubin schema ids: {known:?})")]
    UnknownSchemaId {
        /// The id found.
        id: u32,
        /// Ids bundled.
        known: Vec<u32>,
    },
    /// Reading failed.
    #[error("read error: {0}")]
    Io(String),
}

/// Decode a Confluent-framed message: byte 0x00, 4-byte big-endian schema id,
/// schemaless body, with the bundled schema of that id.
pub fn decode_confluent(
    bytes: &[u8],
    registry: &mut SchemaRegistry,
    keep_bytes: bool,
) -> Result<Value, AvroError> {
    decode_confluent_as(bytes, registry, keep_bytes, false).map(|p| match p {
        Payload::Avro(v) => v,
        Payload::Json(_) => Value::Null,
    })
}

/// [`decode_confluent`], into Avro values or (with `json`) straight into JSON.
pub fn decode_confluent_as(
    bytes: &[u8],
    registry: &mut SchemaRegistry,
    keep_bytes: bool,
    json: bool,
) -> Result<Payload, AvroError> {
    if bytes.len() < 5 {
        return Err(AvroError::Container(format!(
            "Confluent message of {} bytes is shorter than its 5-byte header",
            bytes.len()
        )));
    }
    if bytes[0] != 0 {
        return Err(AvroError::Container(format!(
            "wrong magic byte 0x{:02x} (Confluent framing starts with 0x00)",
            bytes[0]
        )));
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let schema = registry.by_id(id)?;
    let mut d = Decoder::new(&bytes[5..], keep_bytes);
    let v = if json {
        Payload::Json(d.json(&schema)?)
    } else {
        Payload::Avro(d.value(&schema)?)
    };
    if !d.is_empty() {
        return Err(AvroError::Data(format!(
            "{} bytes left after the message body",
            bytes.len() - 5 - d.position()
        )));
    }
    Ok(v)
}
