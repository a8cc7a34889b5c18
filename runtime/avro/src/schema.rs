//! Avro schemas, parsed from their JSON form into a tree the decoder walks.
//!
//! Named types (records, enums, fixed) are registered by full name as they are
//! defined and can be referenced later by full or short name, as Rubin's schemas do
//! (`prvDiaSources` items are `lsst.v9_0.diaSource`). Recursive types are refused.

use crate::AvroError;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// A parsed schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// `null`
    Null,
    /// `boolean`
    Boolean,
    /// `int` (zig-zag varint, 32 bits)
    Int,
    /// `long` (zig-zag varint, 64 bits)
    Long,
    /// `float` (4 bytes LE)
    Float,
    /// `double` (8 bytes LE)
    Double,
    /// `bytes`
    Bytes,
    /// `string`
    String,
    /// A record.
    Record(Arc<RecordSchema>),
    /// An enum: symbols.
    Enum(Arc<Vec<String>>),
    /// An array of items.
    Array(Box<Schema>),
    /// A map from string to values.
    Map(Box<Schema>),
    /// A union of branches.
    Union(Vec<Schema>),
    /// Fixed-size bytes.
    Fixed(usize),
}

impl Schema {
    /// True if a value of this schema encodes to no bytes at all (`null`, a record
    /// of such fields, `fixed` of size 0): a count of such values cannot be checked
    /// against the bytes present, so readers bound it separately.
    pub fn is_zero_width(&self) -> bool {
        match self {
            Schema::Null => true,
            Schema::Fixed(n) => *n == 0,
            Schema::Record(r) => r.types.iter().all(Schema::is_zero_width),
            _ => false,
        }
    }
}

/// A record schema: full name and fields in wire order.
#[derive(Debug, PartialEq)]
pub struct RecordSchema {
    /// Full name (`namespace.name`).
    pub name: String,
    /// Field names, in wire order.
    pub fields: Vec<String>,
    /// Field schemas, in wire order.
    pub types: Vec<Schema>,
    index: HashMap<String, usize>,
}

impl RecordSchema {
    /// Position of a field.
    pub fn position(&self, field: &str) -> Option<usize> {
        self.index.get(field).copied()
    }
}

/// Parse a schema from its JSON text.
pub fn parse_schema(text: &str) -> Result<Schema, AvroError> {
    parse_schema_set(&[text])
}

/// Parse several schema files that reference each other by name (as Rubin ships
/// them, one file per record); the one named `*.alert`, else the last, is the root.
/// Files are parsed in any order that resolves their references.
pub fn parse_schema_set(texts: &[&str]) -> Result<Schema, AvroError> {
    let jsons: Vec<Json> = texts
        .iter()
        .map(|t| serde_json::from_str(t).map_err(|e| AvroError::Schema(format!("not JSON: {e}"))))
        .collect::<Result<_, _>>()?;
    let is_root = |j: &Json| j.get("name").and_then(Json::as_str) == Some("alert");
    let root = jsons
        .iter()
        .position(is_root)
        .unwrap_or(jsons.len().saturating_sub(1));
    let mut parser = Parser::default();
    let mut pending: Vec<usize> = (0..jsons.len()).filter(|i| *i != root).collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut last_err = None;
        pending.retain(|&i| match parser.parse(&jsons[i], None) {
            Ok(_) => false,
            Err(e) => {
                last_err = Some(e);
                true
            }
        });
        if pending.len() == before {
            return Err(
                last_err.unwrap_or_else(|| AvroError::Schema("unresolvable schema set".into()))
            );
        }
    }
    let json = jsons
        .get(root)
        .ok_or_else(|| AvroError::Schema("no schema given".into()))?;
    parser.parse(json, None)
}

#[derive(Default)]
struct Parser {
    named: HashMap<String, Schema>,
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

impl Parser {
    fn lookup(&self, name: &str, namespace: Option<&str>) -> Option<Schema> {
        self.named
            .get(&full_name(name, namespace))
            .or_else(|| self.named.get(name))
            .or_else(|| {
                // a short name defined in any namespace (broker-rewritten schemas)
                let suffix = format!(".{name}");
                let mut hits = self.named.iter().filter(|(k, _)| k.ends_with(&suffix));
                match (hits.next(), hits.next()) {
                    (Some((_, s)), None) => Some(s),
                    _ => None,
                }
            })
            .cloned()
    }

    fn parse(&mut self, j: &Json, namespace: Option<&str>) -> Result<Schema, AvroError> {
        match j {
            Json::String(name) => self.primitive_or_ref(name, namespace),
            Json::Array(branches) => Ok(Schema::Union(
                branches
                    .iter()
                    .map(|b| self.parse(b, namespace))
                    .collect::<Result<_, _>>()?,
            )),
            Json::Object(o) => {
                let ty = o
                    .get("type")
                    .ok_or_else(|| AvroError::Schema(format!("no `type` in {j}")))?;
                let ty = match ty {
                    Json::String(t) => t.as_str(),
                    nested => return self.parse(nested, namespace),
                };
                let ns = o.get("namespace").and_then(Json::as_str).or(namespace);
                let name = || {
                    o.get("name")
                        .and_then(Json::as_str)
                        .ok_or_else(|| AvroError::Schema(format!("a {ty} needs a `name`: {j}")))
                };
                match ty {
                    "record" | "error" => {
                        let full = full_name(name()?, ns);
                        let inner_ns = full.rsplit_once('.').map(|(n, _)| n.to_string());
                        let fields = o.get("fields").and_then(Json::as_array).ok_or_else(|| {
                            AvroError::Schema(format!("record {full} has no `fields` list"))
                        })?;
                        let mut names = Vec::new();
                        let mut types = Vec::new();
                        for f in fields {
                            let fname = f.get("name").and_then(Json::as_str).ok_or_else(|| {
                                AvroError::Schema(format!("a field of {full} has no name"))
                            })?;
                            let ftype = f.get("type").ok_or_else(|| {
                                AvroError::Schema(format!("field {full}.{fname} has no type"))
                            })?;
                            names.push(fname.to_string());
                            types.push(self.parse(ftype, inner_ns.as_deref())?);
                        }
                        let index = names
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (n.clone(), i))
                            .collect();
                        let s = Schema::Record(Arc::new(RecordSchema {
                            name: full.clone(),
                            fields: names,
                            types,
                            index,
                        }));
                        self.named.insert(full, s.clone());
                        Ok(s)
                    }
                    "enum" => {
                        let full = full_name(name()?, ns);
                        let symbols = o
                            .get("symbols")
                            .and_then(Json::as_array)
                            .ok_or_else(|| {
                                AvroError::Schema(format!("enum {full} has no symbols"))
                            })?
                            .iter()
                            .map(|s| s.as_str().unwrap_or_default().to_string())
                            .collect();
                        let s = Schema::Enum(Arc::new(symbols));
                        self.named.insert(full, s.clone());
                        Ok(s)
                    }
                    "fixed" => {
                        let full = full_name(name()?, ns);
                        let size = o.get("size").and_then(Json::as_u64).ok_or_else(|| {
                            AvroError::Schema(format!("fixed {full} has no size"))
                        })?;
                        let s = Schema::Fixed(size as usize);
                        self.named.insert(full, s.clone());
                        Ok(s)
                    }
                    "array" => {
                        let items = o
                            .get("items")
                            .ok_or_else(|| AvroError::Schema("array without items".into()))?;
                        Ok(Schema::Array(Box::new(self.parse(items, ns)?)))
                    }
                    "map" => {
                        let values = o
                            .get("values")
                            .ok_or_else(|| AvroError::Schema("map without values".into()))?;
                        Ok(Schema::Map(Box::new(self.parse(values, ns)?)))
                    }
                    other => self.primitive_or_ref(other, ns),
                }
            }
            other => Err(AvroError::Schema(format!(
                "unexpected schema element {other}"
            ))),
        }
    }

    fn primitive_or_ref(&self, name: &str, namespace: Option<&str>) -> Result<Schema, AvroError> {
        Ok(match name {
            "null" => Schema::Null,
            "boolean" => Schema::Boolean,
            "int" => Schema::Int,
            "long" => Schema::Long,
            "float" => Schema::Float,
            "double" => Schema::Double,
            "bytes" => Schema::Bytes,
            "string" => Schema::String,
            other => self.lookup(other, namespace).ok_or_else(|| {
                AvroError::Schema(format!("unknown type `{other}` (recursive or undefined)"))
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_references_resolve_across_namespaces() {
        let s = parse_schema(
            r#"{"type": "record", "name": "alert", "namespace": "lsst.v9_0", "fields": [
                {"name": "diaSource", "type": {"type": "record", "name": "diaSource", "fields": [{"name": "x", "type": "long"}]}},
                {"name": "prv", "type": ["null", {"type": "array", "items": "lsst.v9_0.diaSource"}]},
                {"name": "prv2", "type": ["null", {"type": "array", "items": "diaSource"}]}
            ]}"#,
        )
        .unwrap();
        let Schema::Record(r) = s else { panic!() };
        assert_eq!(r.name, "lsst.v9_0.alert");
        assert_eq!(r.position("prv2"), Some(2));
        let Schema::Union(b) = &r.types[1] else {
            panic!()
        };
        assert!(matches!(&b[1], Schema::Array(items) if matches!(**items, Schema::Record(_))));
    }

    #[test]
    fn undefined_names_are_errors() {
        let e = parse_schema(
            r#"{"type": "record", "name": "a", "fields": [{"name": "b", "type": "nope"}]}"#,
        );
        assert!(e.unwrap_err().to_string().contains("unknown type `nope`"));
    }
}
