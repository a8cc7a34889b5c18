//! Schemas by fingerprint and by Confluent schema id.
//!
//! ZTF repeats its full writer schema in every file: parsing it costs more than
//! decoding the alert, so parsed schemas are cached by a fingerprint of their text
//! (xxh64). Rubin's schemas are bundled (see `build.rs`) and found by Confluent id
//! `major × 100 + minor`.

use crate::schema::{parse_schema_set, Schema};
use crate::AvroError;
use std::collections::HashMap;
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/rubin_schemas.rs"));

/// Parsed schemas, cached.
#[derive(Default)]
pub struct SchemaRegistry {
    by_text: HashMap<u64, Arc<Schema>>,
    by_id: HashMap<u32, Arc<Schema>>,
    /// How many schema texts were parsed (cache misses).
    pub parsed: usize,
}

impl SchemaRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema of a JSON text, parsed once per distinct text.
    pub fn by_text(&mut self, text: &[u8]) -> Result<Arc<Schema>, AvroError> {
        let key = xxhash_rust::xxh64::xxh64(text, 0);
        if let Some(s) = self.by_text.get(&key) {
            return Ok(s.clone());
        }
        let text = std::str::from_utf8(text)
            .map_err(|e| AvroError::Schema(format!("schema is not UTF-8: {e}")))?;
        let s = Arc::new(parse_schema_set(&[text])?);
        self.parsed += 1;
        self.by_text.insert(key, s.clone());
        Ok(s)
    }

    /// The bundled Rubin schema for a Confluent schema id (`major × 100 + minor`).
    pub fn by_id(&mut self, id: u32) -> Result<Arc<Schema>, AvroError> {
        if let Some(s) = self.by_id.get(&id) {
            return Ok(s.clone());
        }
        let (major, minor) = (id / 100, id % 100);
        let files = RUBIN
            .iter()
            .find(|(a, b, _)| *a == major && *b == minor)
            .map(|(_, _, f)| *f)
            .ok_or_else(|| AvroError::UnknownSchemaId {
                id,
                known: known_ids(),
            })?;
        let s = Arc::new(parse_schema_set(files)?);
        self.parsed += 1;
        self.by_id.insert(id, s.clone());
        Ok(s)
    }
}

/// Every bundled schema id.
pub fn known_ids() -> Vec<u32> {
    RUBIN.iter().map(|(a, b, _)| a * 100 + b).collect()
}
