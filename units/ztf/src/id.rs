//! ZTF object names ↔ stock ids, exactly as Python AMPEL's `ZTFIdMapper`:
//! the 7 letters after `ZTFyy` read as a base-26 number (a = 0), shifted left by 4
//! bits, plus `yy − 17` in the low 4 bits. Reversible; fits in 37 bits.

/// Stock id of a ZTF name such as `ZTF18abcdefg`.
pub fn to_ampel_id(name: &str) -> Option<i64> {
    let b = name.as_bytes();
    if b.len() != 12 || &b[..3] != b"ZTF" {
        return None;
    }
    let year: i64 = std::str::from_utf8(&b[3..5]).ok()?.parse().ok()?;
    if !(17..=32).contains(&year) {
        return None;
    }
    let mut num: i64 = 0;
    for &c in &b[5..] {
        if !c.is_ascii_lowercase() {
            return None;
        }
        num = num * 26 + i64::from(c - b'a');
    }
    Some((num << 4) + (year - 17))
}

/// ZTF name of a stock id.
pub fn to_ext_id(id: i64) -> String {
    let year = (id & 15) + 17;
    let mut num = id >> 4;
    let mut letters = [b'a'; 7];
    for slot in letters.iter_mut().rev() {
        *slot = b'a' + (num % 26) as u8;
        num /= 26;
        if num == 0 {
            break;
        }
    }
    format!("ZTF{year}{}", String::from_utf8_lossy(&letters))
}

/// The ZTF id mapper as a unit, so that commands accept ZTF names wherever they
/// take a stock.
pub struct ZTFIdMapper;

impl ampel_interface::Unit for ZTFIdMapper {
    const NAME: &'static str = "ZTFIdMapper";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = ampel_interface::NoConfig;
    fn new(_: ampel_interface::NoConfig) -> Result<Self, ampel_interface::ConfigError> {
        Ok(ZTFIdMapper)
    }
}

impl ampel_interface::IdMapper for ZTFIdMapper {
    fn to_stock(&self, name: &str) -> Option<i64> {
        to_ampel_id(name)
    }
    fn to_name(&self, stock: i64) -> Option<String> {
        // ZTF stock ids fit in 37 bits; anything else is another survey's
        (0..=128_508_962_815)
            .contains(&stock)
            .then(|| to_ext_id(stock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_docstring_values() {
        assert_eq!(to_ampel_id("ZTF17aaaaaaa"), Some(0));
        assert_eq!(to_ampel_id("ZTF18aaaaaaa"), Some(1));
        assert_eq!(to_ampel_id("ZTF17aaaaaab"), Some(16));
        assert_eq!(to_ampel_id("ZTF17aaaaaac"), Some(32));
        assert_eq!(to_ampel_id("ZTF32zzzzzzz"), Some(128_508_962_815));
        assert!(to_ampel_id("ZTF20akzzzzzz").is_none(), "13 characters");
        assert!(to_ampel_id("ZTF20akzzzzz").unwrap() < 1 << 31);
        assert!(to_ampel_id("ZTF20alzzzzz").unwrap() >= 1 << 31);
        assert!(to_ampel_id("LSST1234567a").is_none());
    }

    #[test]
    fn round_trip() {
        for name in [
            "ZTF18abcdefg",
            "ZTF20aaaaaaa",
            "ZTF19zzzzzzz",
            "ZTF32aabbccd",
        ] {
            assert_eq!(to_ext_id(to_ampel_id(name).unwrap()), name);
        }
    }
}
