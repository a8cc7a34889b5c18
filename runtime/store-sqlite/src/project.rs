//! Decoding a MessagePack datapoint body with only some of its fields: the others
//! are skipped in the bytes, never built (T2 units that name the fields they read
//! get bodies this way; see `Store::get_datapoints_with`).

use ampel_interface::Body;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

/// Decode `bytes` (a packed body) keeping `fields` of a top-level map; `None` if
/// the body is not a map (the caller then decodes it whole).
pub(crate) fn unpack_fields(bytes: &[u8], fields: &BTreeSet<String>) -> Option<Body> {
    let mut d = rmp_serde::Deserializer::from_read_ref(bytes);
    Projected(fields).deserialize(&mut d).ok()
}

struct Projected<'a>(&'a BTreeSet<String>);

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Body;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a datapoint body (a map)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Body, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = m.next_key_seed(Key(self.0))? {
            match key {
                Some(k) => {
                    out.insert(k, m.next_value::<Body>()?);
                }
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Body::Object(out))
    }
}

/// A map key: `Some(key)` if kept, `None` (nothing allocated) otherwise.
struct Key<'a>(&'a BTreeSet<String>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, k: &str) -> Result<Option<String>, E> {
        Ok(self.0.contains(k).then(|| k.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kept_fields_are_those_of_the_whole_body() {
        let body = json!({"jd": 2459000.5, "magpsf": 18.25, "fid": 1, "pdiffimfilename": "x.fits",
                          "nested": {"a": [1, 2]}, "magnr": null});
        let bytes = rmp_serde::to_vec(&body).unwrap();
        let fields: BTreeSet<String> = ["jd", "fid", "magnr", "absent"].map(String::from).into();
        assert_eq!(
            unpack_fields(&bytes, &fields),
            Some(json!({"jd": 2459000.5, "fid": 1, "magnr": null}))
        );
        let bytes = rmp_serde::to_vec(&json!([1, 2])).unwrap();
        assert_eq!(unpack_fields(&bytes, &fields), None, "not a map");
    }
}
