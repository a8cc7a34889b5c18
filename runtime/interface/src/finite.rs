//! Checked conversion of unit results to JSON: `serde_json` turns NaN and infinities
//! into `null` without a word, so a unit's broken arithmetic would pass unnoticed.
//! [`finite_body`] walks the value first with a serializer that only looks for
//! non-finite floats, naming the first one found by its path.

use crate::units::{UnitError, UnitResult};
use serde::ser::{self, Serialize};
use std::fmt;

/// Serialise `value` to JSON, refusing NaN and infinities.
pub fn finite_body<T: Serialize + ?Sized>(value: &T) -> Result<serde_json::Value, UnitError> {
    let mut check = Check { path: Vec::new() };
    value
        .serialize(&mut check)
        .map_err(|e| UnitError::bad_result(e.0))?;
    serde_json::to_value(value)
        .map_err(|e| UnitError::bad_result(format!("result is not JSON: {e}")))
}

#[derive(Debug)]
struct Found(String);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Found(msg.to_string())
    }
}

struct Check {
    path: Vec<String>,
}

impl Check {
    fn float(&self, v: f64) -> Result<(), Found> {
        if v.is_finite() {
            Ok(())
        } else {
            let at = if self.path.is_empty() {
                "(result)".to_string()
            } else {
                self.path.join(".")
            };
            Err(Found(format!(
                "result field `{at}` is {v}, not a finite number"
            )))
        }
    }
    fn nested<T: Serialize + ?Sized>(&mut self, key: String, v: &T) -> Result<(), Found> {
        self.path.push(key);
        let r = v.serialize(&mut *self);
        self.path.pop();
        r
    }
}

macro_rules! ok {
    ($($name:ident($t:ty)),*) => {
        $(fn $name(self, _: $t) -> Result<(), Found> { Ok(()) })*
    };
}

impl ser::Serializer for &mut Check {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;
    ok!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );
    fn serialize_f32(self, v: f32) -> Result<(), Found> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Found> {
        self.float(v)
    }
    fn serialize_none(self) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Found> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        self.nested(variant.to_string(), v)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Found> {
        self.path.push("0".into());
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Found> {
        self.path.push("?".into());
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Found> {
        self.path.push("?".into());
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Found> {
        self.path.push("?".into());
        Ok(self)
    }
}

/// Sequences: the last path segment is the element index.
fn next_index(c: &mut Check) {
    if let Some(last) = c.path.last_mut() {
        let i: usize = last.parse().unwrap_or(0);
        *last = (i + 1).to_string();
    }
}

macro_rules! seq_like {
    ($($tr:ident :: $m:ident),*) => {$(
        impl ser::$tr for &mut Check {
            type Ok = ();
            type Error = Found;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Found> {
                v.serialize(&mut **self)?;
                next_index(self);
                Ok(())
            }
            fn end(self) -> Result<(), Found> {
                self.path.pop();
                Ok(())
            }
        }
    )*};
}
seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for &mut Check {
    type Ok = ();
    type Error = Found;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Found> {
        let key = serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        if let Some(last) = self.path.last_mut() {
            *last = key;
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Found> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Found> {
        self.path.pop();
        Ok(())
    }
}

macro_rules! struct_like {
    ($($tr:ident),*) => {$(
        impl ser::$tr for &mut Check {
            type Ok = ();
            type Error = Found;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), Found> {
                if let Some(last) = self.path.last_mut() {
                    *last = key.to_string();
                }
                v.serialize(&mut **self)
            }
            fn end(self) -> Result<(), Found> {
                self.path.pop();
                Ok(())
            }
        }
    )*};
}
struct_like!(SerializeStruct, SerializeStructVariant);

impl UnitResult {
    /// A successful result from any serialisable value, refusing NaN and infinities
    /// (which JSON cannot carry and `serde_json` would silently turn into `null`).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, UnitError> {
        Ok(UnitResult::ok(finite_body(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Fit {
        slope: f64,
        bands: BTreeMap<String, Vec<f64>>,
    }

    #[test]
    fn non_finite_numbers_are_named_by_path() {
        let ok = Fit {
            slope: 1.0,
            bands: BTreeMap::from([("g".to_string(), vec![1.0, 2.0])]),
        };
        assert_eq!(finite_body(&ok).unwrap()["bands"]["g"][1], 2.0);
        let bad = Fit {
            slope: 1.0,
            bands: BTreeMap::from([("g".to_string(), vec![1.0, f64::NAN])]),
        };
        let e = finite_body(&bad).unwrap_err();
        assert!(e.bad_result);
        assert_eq!(
            e.message,
            "result field `bands.g.1` is NaN, not a finite number"
        );
        let inf = Fit {
            slope: f64::INFINITY,
            bands: BTreeMap::new(),
        };
        assert_eq!(
            finite_body(&inf).unwrap_err().message,
            "result field `slope` is inf, not a finite number"
        );
    }
}
