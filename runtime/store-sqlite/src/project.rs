//! Decoding a MessagePack datapoint body with only some of its fields: the others
//! are skipped in the bytes, never built (T2 units that name the fields they read
//! get bodies this way; see `Store::get_datapoints_with`).

use ampel_interface::Body;
use std::collections::BTreeSet;

/// Decode `bytes` (a packed body) keeping `fields` of a top-level map; `None` if
/// the body is not a map, or not well-formed (the caller then decodes it whole and
/// reports what is wrong).
///
/// The bytes are walked by hand: a skipped value costs a look at its type byte
/// and length, nothing is built for it. A kept value decodes as `rmp_serde` would
/// decode it into JSON (numbers, strings, null and booleans here; anything nested
/// through `rmp_serde` itself).
pub(crate) fn unpack_fields(bytes: &[u8], fields: &FieldSet) -> Option<Body> {
    let mut r = Reader { b: bytes, pos: 0 };
    let n = r.map_len()?;
    let mut out = serde_json::Map::new();
    for _ in 0..n {
        let key = r.str()?;
        match fields.get(key) {
            Some(k) => {
                let v = r.value()?;
                out.insert(k.to_string(), v);
            }
            None => r.skip()?,
        }
    }
    (r.pos == bytes.len()).then_some(Body::Object(out))
}

/// Field names to keep, looked up fast: most keys of a datapoint are not wanted,
/// and a length and first-byte mask turns nearly all of them away without a
/// string comparison.
pub(crate) struct FieldSet<'f> {
    names: Vec<&'f str>,
    /// Bit `n` set: some name is `n` bytes long (names of 64 bytes or more set bit 63).
    lens: u64,
    /// Bit `b` set: some name starts with byte `b`.
    firsts: [u64; 4],
}

impl<'f> FieldSet<'f> {
    /// The set of `fields`.
    pub(crate) fn new(fields: &'f BTreeSet<String>) -> Self {
        let mut f = FieldSet {
            names: fields.iter().map(String::as_str).collect(),
            lens: 0,
            firsts: [0; 4],
        };
        for n in &f.names {
            f.lens |= 1 << n.len().min(63);
            if let Some(b) = n.bytes().next() {
                f.firsts[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        f
    }

    /// The wanted name equal to `key`, if any.
    #[inline]
    fn get(&self, key: &[u8]) -> Option<&'f str> {
        if self.lens & (1 << key.len().min(63)) == 0 {
            return None;
        }
        let b = *key.first()?;
        if self.firsts[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
            return None;
        }
        self.names.iter().copied().find(|n| n.as_bytes() == key)
    }
}

/// A MessagePack reader over a slice.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len())?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A big-endian unsigned number of `n` bytes (1, 2, 4 or 8).
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |v, b| (v << 8) | u64::from(*b)),
        )
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            t @ 0x80..=0x8f => Some(usize::from(t & 0x0f)),
            0xde => self.be(2).map(|n| n as usize),
            0xdf => self.be(4).map(|n| n as usize),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            t @ 0xa0..=0xbf => usize::from(t & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }

    /// One value, as JSON.
    fn value(&mut self) -> Option<Body> {
        let start = self.pos;
        let t = *self.b.get(self.pos)?;
        let num = |n: serde_json::Number| Some(Body::Number(n));
        match t {
            0x00..=0x7f => {
                self.pos += 1;
                num(u64::from(t).into())
            }
            0xe0..=0xff => {
                self.pos += 1;
                num(i64::from(t as i8).into())
            }
            0xc0 => {
                self.pos += 1;
                Some(Body::Null)
            }
            0xc2 | 0xc3 => {
                self.pos += 1;
                Some(Body::Bool(t == 0xc3))
            }
            0xca => {
                self.pos += 1;
                let f = f32::from_bits(self.be(4)? as u32);
                Some(float(f64::from(f)))
            }
            0xcb => {
                self.pos += 1;
                Some(float(f64::from_bits(self.be(8)?)))
            }
            0xcc..=0xcf => {
                self.pos += 1;
                num(self.be(1 << (t - 0xcc))?.into())
            }
            0xd0..=0xd3 => {
                self.pos += 1;
                let n = 1usize << (t - 0xd0);
                let v = self.be(n)?;
                let shift = 64 - 8 * n as u32;
                num((((v << shift) as i64) >> shift).into())
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                let s = self.str()?;
                std::str::from_utf8(s).ok().map(|s| Body::String(s.into()))
            }
            _ => {
                self.skip()?;
                rmp_serde::from_slice(&self.b[start..self.pos]).ok()
            }
        }
    }

    /// Step over one value (nested ones included) without building anything.
    fn skip(&mut self) -> Option<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let t = self.byte()?;
            let skip = match t {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
                0x80..=0x8f => {
                    pending += 2 * u64::from(t & 0x0f);
                    0
                }
                0x90..=0x9f => {
                    pending += u64::from(t & 0x0f);
                    0
                }
                0xa0..=0xbf => usize::from(t & 0x1f),
                0xc4 | 0xd9 => self.be(1)? as usize,
                0xc5 | 0xda => self.be(2)? as usize,
                0xc6 | 0xdb => self.be(4)? as usize,
                0xc7 => self.be(1)? as usize + 1,
                0xc8 => self.be(2)? as usize + 1,
                0xc9 => self.be(4)? as usize + 1,
                0xca => 4,
                0xcb => 8,
                0xcc..=0xcf => 1 << (t - 0xcc),
                0xd0..=0xd3 => 1 << (t - 0xd0),
                0xd4..=0xd8 => 1 + (1 << (t - 0xd4)),
                0xdc => {
                    pending += self.be(2)?;
                    0
                }
                0xdd => {
                    pending += self.be(4)?;
                    0
                }
                0xde => {
                    pending += 2 * self.be(2)?;
                    0
                }
                0xdf => {
                    pending += 2 * self.be(4)?;
                    0
                }
                _ => return None, // 0xc1 is never used
            };
            self.take(skip)?;
        }
        Some(())
    }
}

/// A float as JSON decodes it: non-finite values become null.
fn float(f: f64) -> Body {
    serde_json::Number::from_f64(f).map_or(Body::Null, Body::Number)
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
        let fields = FieldSet::new(&fields);
        assert_eq!(
            unpack_fields(&bytes, &fields),
            Some(json!({"jd": 2459000.5, "fid": 1, "magnr": null}))
        );
        let bytes = rmp_serde::to_vec(&json!([1, 2])).unwrap();
        assert_eq!(unpack_fields(&bytes, &fields), None, "not a map");
    }

    /// Every MessagePack type a JSON body packs to, kept or skipped: kept values
    /// equal what decoding the whole body with `rmp_serde` gives.
    #[test]
    fn every_type_decodes_as_rmp_serde_decodes_it() {
        let mut big = serde_json::Map::new();
        for (i, v) in [
            json!(0),
            json!(127),
            json!(128),
            json!(255),
            json!(65_535),
            json!(4_294_967_296u64),
            json!(u64::MAX),
            json!(-1),
            json!(-32),
            json!(-33),
            json!(-129),
            json!(-40_000),
            json!(i64::MIN),
            json!(1.5),
            json!(-2.25e300),
            json!("x"),
            json!("é".repeat(40)),
            json!("y".repeat(300)),
            json!("z".repeat(70_000)),
            json!(null),
            json!(true),
            json!(false),
            json!([1, [2, {"a": 3}], "s"]),
            json!({"k": {"l": [null, 1.0]}}),
            json!((0..20).collect::<Vec<_>>()),
            json!((0..70_000).map(|i| i % 3).collect::<Vec<_>>()),
        ]
        .into_iter()
        .enumerate()
        {
            big.insert(format!("f{i}"), v);
        }
        let bytes = rmp_serde::to_vec(&Body::Object(big)).unwrap();
        let whole: Body = rmp_serde::from_slice(&bytes).unwrap();
        let all: BTreeSet<String> = (0..26).map(|i| format!("f{i}")).collect();
        assert_eq!(
            unpack_fields(&bytes, &FieldSet::new(&all)).as_ref(),
            Some(&whole)
        );
        for keep in (0..26).step_by(3) {
            let one: BTreeSet<String> = [format!("f{keep}")].into();
            let got = unpack_fields(&bytes, &FieldSet::new(&one)).unwrap();
            assert_eq!(
                got,
                json!({ format!("f{keep}"): whole[format!("f{keep}")] })
            );
        }
        // a 32-bit float and NaN (bodies come from JSON, so they hold no binary data)
        let packed: Vec<u8> = [
            vec![0x82, 0xa3],
            b"f32".to_vec(),
            rmp_serde::to_vec(&0.1f32).unwrap(),
            vec![0xa3],
            b"nan".to_vec(),
            rmp_serde::to_vec(&f64::NAN).unwrap(),
        ]
        .concat();
        let whole: Body = rmp_serde::from_slice(&packed).unwrap();
        let f: BTreeSet<String> = ["f32".to_string(), "nan".to_string()].into();
        let f = FieldSet::new(&f);
        assert_eq!(unpack_fields(&packed, &f), Some(whole));
        // damaged: truncated, or trailing bytes
        assert_eq!(unpack_fields(&packed[..packed.len() - 1], &f), None);
        assert_eq!(unpack_fields(&[packed.clone(), vec![0]].concat(), &f), None);
    }
}
