//! Decoded Avro values, and their decoder.
//!
//! Records keep their schema (an `Arc`) and a vector of field values, so no field
//! name is allocated per record; unions decode to the chosen branch's value. Bytes
//! (the image cutouts of alerts) are skipped unless asked for: their length is kept.

use crate::schema::{RecordSchema, Schema};
use crate::source::{Slice, Source};
use crate::AvroError;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};

/// The most values of a zero-width schema (e.g. `null`) one array, or one container
/// block, may hold: their count cannot be checked against the bytes present.
pub const MAX_ZERO_WIDTH_ITEMS: u64 = 1 << 16;
use std::sync::Arc;

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `boolean`
    Boolean(bool),
    /// `int` or `long`
    Long(i64),
    /// `float` (widened) or `double`
    Double(f64),
    /// `string` or enum symbol
    String(String),
    /// `bytes` or `fixed`, kept
    Bytes(Vec<u8>),
    /// `bytes` or `fixed`, skipped: only the length is known
    SkippedBytes(usize),
    /// Array items
    Array(Vec<Value>),
    /// Map entries, in wire order
    Map(Vec<(String, Value)>),
    /// A record
    Record(Record),
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its schema.
    pub schema: Arc<RecordSchema>,
    /// Field values, in schema order.
    pub values: Vec<Value>,
}

impl Record {
    /// A field's value (`None` if the schema has no such field).
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.schema.position(field).map(|i| &self.values[i])
    }

    /// A record field.
    pub fn record(&self, field: &str) -> Option<&Record> {
        match self.get(field) {
            Some(Value::Record(r)) => Some(r),
            _ => None,
        }
    }

    /// A string field.
    pub fn str(&self, field: &str) -> Option<&str> {
        match self.get(field) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer field.
    pub fn long(&self, field: &str) -> Option<i64> {
        match self.get(field) {
            Some(Value::Long(v)) => Some(*v),
            _ => None,
        }
    }

    /// A number field, as `f64`.
    pub fn double(&self, field: &str) -> Option<f64> {
        match self.get(field) {
            Some(Value::Double(v)) => Some(*v),
            Some(Value::Long(v)) => Some(*v as f64),
            _ => None,
        }
    }

    /// An array field (`None` if null or absent).
    pub fn array(&self, field: &str) -> Option<&[Value]> {
        match self.get(field) {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        }
    }

    /// JSON object of the record; skipped bytes become `null`, non-finite floats too.
    pub fn to_json(&self) -> Json {
        let mut map = serde_json::Map::new();
        for (name, v) in self.schema.fields.iter().zip(&self.values) {
            map.insert(name.clone(), v.to_json());
        }
        Json::Object(map)
    }
}

/// Converts records to JSON with their nested records (direct fields, or items of
/// array fields: the datapoints of an alert) reduced to a set of field names; other
/// values convert as in [`Record::to_json`]. A kept field is present exactly when
/// it is in the full form, so a reader of only those fields sees the same values in
/// both. Which fields of a record schema are kept is worked out once per schema.
pub struct Projection {
    keep: HashSet<String>,
    /// By schema address; the `Arc` is held so the address is not reused.
    masks: HashMap<usize, (Arc<RecordSchema>, Vec<bool>)>,
}

impl Projection {
    /// A projection keeping `fields` of nested records.
    pub fn new(fields: impl IntoIterator<Item = String>) -> Self {
        Projection {
            keep: fields.into_iter().collect(),
            masks: HashMap::new(),
        }
    }

    /// The JSON form of `record`, projected.
    pub fn to_json(&mut self, record: &Record) -> Json {
        let mut map = serde_json::Map::new();
        for (name, v) in record.schema.fields.iter().zip(&record.values) {
            let j = match v {
                Value::Record(r) => self.nested(r),
                Value::Array(items) => Json::Array(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Record(r) => self.nested(r),
                            other => other.to_json(),
                        })
                        .collect(),
                ),
                other => other.to_json(),
            };
            map.insert(name.clone(), j);
        }
        Json::Object(map)
    }

    fn nested(&mut self, r: &Record) -> Json {
        let keep = &self.keep;
        let (_, mask) = self
            .masks
            .entry(Arc::as_ptr(&r.schema) as usize)
            .or_insert_with(|| {
                let mask = r.schema.fields.iter().map(|f| keep.contains(f)).collect();
                (r.schema.clone(), mask)
            });
        let map = r
            .schema
            .fields
            .iter()
            .zip(&r.values)
            .zip(mask.iter())
            .filter(|(_, keep)| **keep)
            .map(|((name, v), _)| (name.clone(), v.to_json()))
            .collect();
        Json::Object(map)
    }
}

impl Value {
    /// JSON form of the value (see [`Record::to_json`]).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null | Value::SkippedBytes(_) => Json::Null,
            Value::Boolean(b) => Json::Bool(*b),
            Value::Long(v) => Json::from(*v),
            Value::Double(v) => serde_json::Number::from_f64(*v)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::Array(b.iter().map(|x| Json::from(*x)).collect()),
            Value::Array(a) => Json::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Record(r) => r.to_json(),
        }
    }
}

/// A decoded packet: Avro values, or JSON decoded directly (no intermediate tree).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Avro values.
    Avro(Value),
    /// JSON (skipped bytes and non-finite floats are `null`).
    Json(Json),
}

impl Payload {
    /// The JSON form, converting Avro values if needed.
    pub fn into_json(self) -> Json {
        match self {
            Payload::Avro(v) => v.to_json(),
            Payload::Json(j) => j,
        }
    }
}

/// Decodes values of one schema from a [`Source`] (a byte slice by default).
pub struct Decoder<S> {
    src: S,
    keep_bytes: bool,
}

impl<'a> Decoder<Slice<'a>> {
    /// A decoder over `buf`; `keep_bytes` keeps `bytes`/`fixed` contents.
    pub fn new(buf: &'a [u8], keep_bytes: bool) -> Self {
        Decoder::over(Slice::new(buf), keep_bytes)
    }
}

impl<S: Source> Decoder<S> {
    /// A decoder over any source; `keep_bytes` keeps `bytes`/`fixed` contents.
    pub fn over(src: S, keep_bytes: bool) -> Self {
        Decoder { src, keep_bytes }
    }

    /// The source, e.g. to see why it ended early.
    pub fn source(&mut self) -> &mut S {
        &mut self.src
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.src.position()
    }

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    fn eof(&self, what: &str) -> AvroError {
        AvroError::Data(format!(
            "truncated data: {what} at byte {} of {}",
            self.src.position(),
            self.src.len()
        ))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], AvroError> {
        if n > self.src.remaining() {
            return Err(self.eof(what));
        }
        let (pos, len) = (self.src.position(), self.src.len());
        self.src.take(n).ok_or_else(|| {
            AvroError::Data(format!("truncated data: {what} at byte {pos} of {len}"))
        })
    }

    /// A zig-zag varint.
    #[inline]
    pub fn long(&mut self) -> Result<i64, AvroError> {
        match self.src.byte() {
            // one byte: small numbers, union branches, lengths of short strings
            Some(b) if b & 0x80 == 0 => Ok(i64::from(b >> 1) ^ -i64::from(b & 1)),
            Some(b) => self.long_tail(b),
            None => Err(self.eof("varint")),
        }
    }

    /// The rest of a varint whose first byte is `first`.
    fn long_tail(&mut self, first: u8) -> Result<i64, AvroError> {
        let mut v: u64 = u64::from(first & 0x7f);
        let mut shift = 7;
        loop {
            let b = self.src.byte().ok_or_else(|| self.eof("varint"))?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(AvroError::Data(format!(
                    "varint longer than 10 bytes at byte {}",
                    self.src.position()
                )));
            }
        }
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn len(&mut self, what: &str) -> Result<usize, AvroError> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| {
            AvroError::Data(format!(
                "negative {what} length {n} at byte {}",
                self.src.position()
            ))
        })
    }

    /// A record field: numbers, and unions of null and a number (most fields of
    /// an alert's datapoints), decoded here without a recursive call.
    #[inline(always)]
    fn field(&mut self, schema: &Schema) -> Result<Value, AvroError> {
        let schema = match schema {
            Schema::Union(branches) => match self.branch(branches)? {
                Schema::Null => return Ok(Value::Null),
                other => other,
            },
            other => other,
        };
        match schema {
            Schema::Int | Schema::Long => Ok(Value::Long(self.long()?)),
            Schema::Float => self.float(),
            Schema::Double => self.double(),
            other => self.value(other),
        }
    }

    #[inline(always)]
    fn float(&mut self) -> Result<Value, AvroError> {
        let b = self.take(4, "float")?;
        Ok(Value::Double(f64::from(f32::from_le_bytes([
            b[0], b[1], b[2], b[3],
        ]))))
    }

    #[inline(always)]
    fn double(&mut self) -> Result<Value, AvroError> {
        let b = self.take(8, "double")?;
        Ok(Value::Double(f64::from_le_bytes(
            b.try_into().unwrap_or([0; 8]),
        )))
    }

    /// Decode one value of `schema`.
    pub fn value(&mut self, schema: &Schema) -> Result<Value, AvroError> {
        Ok(match schema {
            Schema::Null => Value::Null,
            Schema::Boolean => Value::Boolean(self.take(1, "boolean")?[0] != 0),
            Schema::Int | Schema::Long => Value::Long(self.long()?),
            Schema::Float => self.float()?,
            Schema::Double => self.double()?,
            Schema::Bytes => {
                let n = self.len("bytes")?;
                self.bytes(n)?
            }
            Schema::Fixed(n) => self.bytes(*n)?,
            Schema::String => {
                let n = self.len("string")?;
                let b = self.take(n, "string")?;
                match std::str::from_utf8(b) {
                    Ok(s) => Value::String(s.to_string()),
                    Err(e) => {
                        return Err(AvroError::Data(format!(
                            "invalid UTF-8 in string at byte {}: {e}",
                            self.src.position()
                        )))
                    }
                }
            }
            Schema::Enum(symbols) => {
                let i = self.long()?;
                let s = usize::try_from(i)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| {
                        AvroError::Data(format!(
                            "enum index {i} out of range (0..{}) at byte {}",
                            symbols.len(),
                            self.src.position()
                        ))
                    })?;
                Value::String(s.clone())
            }
            Schema::Union(branches) => {
                let b = self.branch(branches)?;
                self.value(b)?
            }
            Schema::Array(items) => {
                let mut out = Vec::new();
                self.blocks(items.is_zero_width(), |d| {
                    out.push(d.value(items)?);
                    Ok(())
                })?;
                Value::Array(out)
            }
            Schema::Map(values) => {
                let mut out = Vec::new();
                // a map entry has a key: at least one byte
                self.blocks(false, |d| {
                    let n = d.len("map key")?;
                    let k = String::from_utf8_lossy(d.take(n, "map key")?).into_owned();
                    out.push((k, d.value(values)?));
                    Ok(())
                })?;
                Value::Map(out)
            }
            Schema::Record(r) => {
                let mut values = Vec::with_capacity(r.types.len());
                for t in &r.types {
                    values.push(self.field(t)?);
                }
                Value::Record(Record {
                    schema: r.clone(),
                    values,
                })
            }
        })
    }

    /// Decode one value of `schema` straight into JSON (same rules as
    /// [`Value::to_json`]), without building an Avro value first.
    pub fn json(&mut self, schema: &Schema) -> Result<Json, AvroError> {
        Ok(match schema {
            Schema::Record(r) => {
                let mut map = serde_json::Map::new();
                for (name, t) in r.fields.iter().zip(&r.types) {
                    map.insert(name.clone(), self.json(t)?);
                }
                Json::Object(map)
            }
            Schema::Union(branches) => {
                let b = self.branch(branches)?;
                self.json(b)?
            }
            Schema::Array(items) => {
                let mut out = Vec::new();
                self.blocks(items.is_zero_width(), |d| {
                    out.push(d.json(items)?);
                    Ok(())
                })?;
                Json::Array(out)
            }
            Schema::Null => Json::Null,
            Schema::Boolean
            | Schema::Int
            | Schema::Long
            | Schema::Float
            | Schema::Double
            | Schema::String => self.value(schema)?.to_json(),
            other => self.value(other)?.to_json(),
        })
    }

    /// The branch a union value takes.
    #[inline]
    fn branch<'s>(&mut self, branches: &'s [Schema]) -> Result<&'s Schema, AvroError> {
        let i = self.long()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| branches.get(i))
            .ok_or_else(|| {
                AvroError::Data(format!(
                    "union index {i} out of range (0..{}) at byte {}",
                    branches.len(),
                    self.src.position()
                ))
            })
    }

    fn bytes(&mut self, n: usize) -> Result<Value, AvroError> {
        if self.keep_bytes {
            return Ok(Value::Bytes(self.take(n, "bytes")?.to_vec()));
        }
        if n > self.src.remaining() {
            return Err(self.eof("bytes"));
        }
        let (pos, len) = (self.src.position(), self.src.len());
        self.src.skip(n).ok_or_else(|| {
            AvroError::Data(format!("truncated data: bytes at byte {pos} of {len}"))
        })?;
        Ok(Value::SkippedBytes(n))
    }

    /// Array and map blocks: count, (byte size if count < 0), items; 0 ends. The
    /// count is never trusted: each item takes at least one byte, except items of
    /// a zero-width schema (`zero_width`), of which at most
    /// [`MAX_ZERO_WIDTH_ITEMS`] are read in all.
    fn blocks(
        &mut self,
        zero_width: bool,
        mut item: impl FnMut(&mut Self) -> Result<(), AvroError>,
    ) -> Result<(), AvroError> {
        let mut total = 0u64;
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.long()?; // block size in bytes, not needed
            }
            let count = count.unsigned_abs();
            total = total.saturating_add(count);
            if (!zero_width && count > self.src.remaining() as u64)
                || (zero_width && total > MAX_ZERO_WIDTH_ITEMS)
            {
                return Err(AvroError::Data(format!(
                    "block of {count} items exceeds the data at byte {}",
                    self.src.position()
                )));
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_schema;

    #[test]
    fn projection_keeps_the_top_level_and_reduces_nested_records() {
        let schema = parse_schema(
            r#"{"type": "record", "name": "alert", "fields": [
                {"name": "id", "type": "long"},
                {"name": "dp", "type": {"type": "record", "name": "dp", "fields": [
                    {"name": "jd", "type": "double"},
                    {"name": "mag", "type": ["null", "float"]},
                    {"name": "note", "type": "string"}]}},
                {"name": "prv", "type": ["null", {"type": "array", "items": "dp"}]}]}"#,
        )
        .unwrap();
        // id 7; dp {jd 1.5, mag null, note "x"}; prv [{jd 2.0, mag 19.5, note ""}]
        let mut bytes = vec![14];
        bytes.extend(1.5f64.to_le_bytes());
        bytes.extend([0, 2, b'x', 2, 2]);
        bytes.extend(2.0f64.to_le_bytes());
        bytes.extend([2]);
        bytes.extend(19.5f32.to_le_bytes());
        bytes.extend([0, 0]);
        let Value::Record(r) = Decoder::new(&bytes, false).value(&schema).unwrap() else {
            panic!("not a record")
        };
        let mut projection = Projection::new(["jd".to_string(), "mag".to_string()]);
        assert_eq!(
            projection.to_json(&r),
            serde_json::json!({"id": 7, "dp": {"jd": 1.5, "mag": null},
                               "prv": [{"jd": 2.0, "mag": 19.5}]})
        );
        let full = r.to_json();
        assert_eq!(full["dp"]["note"], "x");
        assert_eq!(full["prv"][0]["note"], "");
    }
}
