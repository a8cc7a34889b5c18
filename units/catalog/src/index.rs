//! A catalogue in memory, indexed once by HEALPix cell, and its cone search.
//!
//! Rows are read from CSV (a header line, then one source per line; RA and Dec in
//! degrees, ICRS as the catalogue gives them). Each row's nested HEALPix cell at
//! the index depth (`cdshealpix`) is computed once; rows are kept sorted by cell,
//! so a cone search is the cone's cell coverage at that depth (`cone_coverage_approx`,
//! which may include a few cells just outside), a binary search per range of
//! cells, and the exact angular distance (haversine) of each candidate. Matches
//! are sorted by distance, then by row number: the order never depends on the
//! machine.

use ampel_interface::serde_json::{Map, Number, Value};
use std::fmt;

/// Why a catalogue cannot be used: the problem, with the line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogError(pub String);

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which columns to read.
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    /// The right ascension column (degrees).
    pub ra: &'a str,
    /// The declination column (degrees).
    pub dec: &'a str,
    /// Columns returned with a match.
    pub returned: &'a [String],
}

/// One source of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// HEALPix cell (nested) at the index depth.
    pub cell: u64,
    /// 1-based data row (the header is row 0).
    pub row: u64,
    /// Degrees.
    pub ra: f64,
    /// Degrees.
    pub dec: f64,
    /// The returned columns' values: numbers where the text is one, else text;
    /// an empty field is null.
    pub values: Vec<Value>,
}

/// A catalogue with its index.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// HEALPix depth of the index.
    pub depth: u8,
    /// Names of the returned columns, in the order of [`Source::values`].
    pub columns: Vec<String>,
    /// Sources sorted by cell, then row.
    pub sources: Vec<Source>,
}

/// A source within the cone.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    /// Angular distance, arcseconds.
    pub dist_arcsec: f64,
    /// The source.
    pub source: &'a Source,
}

fn field_value(s: &str) -> Value {
    let t = s.trim();
    if t.is_empty() {
        return Value::Null;
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => {
            if let Ok(i) = t.parse::<i64>() {
                Value::Number(i.into())
            } else {
                Number::from_f64(x).map_or_else(|| Value::String(t.into()), Value::Number)
            }
        }
        _ => Value::String(t.into()),
    }
}

/// Whether `lat` (radians) is a valid latitude and `lon` finite.
fn valid(lon: f64, lat: f64) -> bool {
    lon.is_finite()
        && lat.is_finite()
        && (-std::f64::consts::FRAC_PI_2..=std::f64::consts::FRAC_PI_2).contains(&lat)
}

/// HEALPix cell of a position in degrees at `depth`, if the position is valid.
pub fn cell(depth: u8, ra: f64, dec: f64) -> Option<u64> {
    let (lon, lat) = (ra.rem_euclid(360.0).to_radians(), dec.to_radians());
    valid(lon, lat).then(|| cdshealpix::nested::get(depth).hash(lon, lat))
}

/// Angular distance between two positions in degrees, arcseconds (haversine,
/// accurate at small separations).
pub fn distance_arcsec(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (d1, d2) = (dec1.to_radians(), dec2.to_radians());
    let dd = d2 - d1;
    let dr = (ra2 - ra1).to_radians();
    let a = (dd / 2.0).sin().powi(2) + d1.cos() * d2.cos() * (dr / 2.0).sin().powi(2);
    2.0 * a.sqrt().min(1.0).asin().to_degrees() * 3600.0
}

/// Sources as they are read, checked, then indexed.
pub(crate) struct Builder<'a> {
    file: &'a str,
    cols: &'a Columns<'a>,
    depth: u8,
    sources: Vec<Source>,
}

impl<'a> Builder<'a> {
    /// A builder for `file`'s rows.
    pub(crate) fn new(file: &'a str, cols: &'a Columns<'a>, depth: u8) -> Self {
        Builder {
            file,
            cols,
            depth,
            sources: Vec::new(),
        }
    }

    /// One data row (1-based): its RA and Dec (or the text that is no number) and
    /// its returned values.
    pub(crate) fn push(
        &mut self,
        row: u64,
        ra: Result<f64, String>,
        dec: Result<f64, String>,
        values: Vec<Value>,
    ) -> Result<(), CatalogError> {
        let file = self.file;
        let check = |v: Result<f64, String>, name: &str| match v {
            Ok(x) if x.is_finite() => Ok(x),
            other => Err(CatalogError(format!(
                "{file}: data row {row}, column `{name}`: `{}` is not a number of degrees",
                other.map_or_else(|s| s, |x| x.to_string())
            ))),
        };
        let (ra, dec) = (check(ra, self.cols.ra)?, check(dec, self.cols.dec)?);
        if !(-90.0..=90.0).contains(&dec) {
            return Err(CatalogError(format!(
                "{file}: data row {row}, column `{}`: {dec} is outside -90..90 degrees",
                self.cols.dec
            )));
        }
        let ra = ra.rem_euclid(360.0);
        let cell = cell(self.depth, ra, dec).ok_or_else(|| {
            CatalogError(format!(
                "{file}: data row {row}: position {ra}, {dec} unusable"
            ))
        })?;
        self.sources.push(Source {
            cell,
            row,
            ra,
            dec,
            values,
        });
        Ok(())
    }

    /// The indexed catalogue.
    pub(crate) fn finish(mut self) -> Catalog {
        self.sources.sort_by_key(|s| (s.cell, s.row));
        Catalog {
            depth: self.depth,
            columns: self.cols.returned.to_vec(),
            sources: self.sources,
        }
    }
}

impl Catalog {
    /// Read a CSV catalogue (`file` names it in errors) and index it at `depth`.
    pub fn from_csv(
        file: &str,
        bytes: &[u8],
        cols: &Columns,
        depth: u8,
    ) -> Result<Catalog, CatalogError> {
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::Headers)
            .from_reader(bytes);
        let header = rd
            .headers()
            .map_err(|e| CatalogError(format!("{file}: cannot read the header line: {e}")))?
            .clone();
        let find = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                CatalogError(format!(
                    "{file}: no column `{name}` (columns: {})",
                    header.iter().collect::<Vec<_>>().join(", ")
                ))
            })
        };
        let (ra_i, dec_i) = (find(cols.ra)?, find(cols.dec)?);
        let ret: Vec<usize> = cols
            .returned
            .iter()
            .map(|c| find(c))
            .collect::<Result<_, _>>()?;
        let mut b = Builder::new(file, cols, depth);
        for (n, rec) in rd.records().enumerate() {
            let row = n as u64 + 1;
            let rec = rec.map_err(|e| CatalogError(format!("{file}: data row {row}: {e}")))?;
            let text = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
            let num = |i: usize| -> Result<f64, String> {
                let s = text(i);
                s.parse::<f64>().map_err(|_| s)
            };
            let values = ret.iter().map(|&i| field_value(&text(i))).collect();
            b.push(row, num(ra_i), num(dec_i), values)?;
        }
        Ok(b.finish())
    }

    /// The sources within `radius_arcsec` of (ra, dec) in degrees, nearest first
    /// (ties by row); none for an invalid position.
    pub fn cone(&self, ra: f64, dec: f64, radius_arcsec: f64) -> Vec<Hit<'_>> {
        let (lon, lat) = (ra.rem_euclid(360.0).to_radians(), dec.to_radians());
        if !valid(lon, lat) || radius_arcsec.is_nan() || radius_arcsec <= 0.0 {
            return Vec::new();
        }
        let radius = (radius_arcsec / 3600.0).to_radians();
        let moc = cdshealpix::nested::get(self.depth).cone_coverage_approx(lon, lat, radius);
        let mut hits = Vec::new();
        for range in moc.to_ranges().iter() {
            let start = self.sources.partition_point(|s| s.cell < range.start);
            for s in self.sources[start..]
                .iter()
                .take_while(|s| s.cell < range.end)
            {
                let d = distance_arcsec(ra, dec, s.ra, s.dec);
                if d <= radius_arcsec {
                    hits.push(Hit {
                        dist_arcsec: d,
                        source: s,
                    });
                }
            }
        }
        hits.sort_by(|a, b| {
            a.dist_arcsec
                .total_cmp(&b.dist_arcsec)
                .then(a.source.row.cmp(&b.source.row))
        });
        hits
    }

    /// The returned columns of a source as a map.
    pub fn values(&self, s: &Source) -> Map<String, Value> {
        self.columns
            .iter()
            .cloned()
            .zip(s.values.iter().cloned())
            .collect()
    }
}

/// The index depth for cones of this radius: the deepest at which a cone is
/// covered by few cells (`cdshealpix::best_starting_depth`), at most 14.
pub fn depth_for(radius_arcsec: f64) -> u8 {
    cdshealpix::best_starting_depth((radius_arcsec / 3600.0).to_radians()).min(14)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(rows: &[(f64, f64)], radius: f64) -> Catalog {
        let mut csv = String::from("id,ra,dec,mag\n");
        for (i, (ra, dec)) in rows.iter().enumerate() {
            csv.push_str(&format!("s{i},{ra},{dec},{}\n", 15.0 + i as f64 / 10.0));
        }
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &["id".to_string(), "mag".to_string()],
        };
        Catalog::from_csv("t.csv", csv.as_bytes(), &cols, depth_for(radius)).unwrap()
    }

    /// A deterministic scatter of positions (a linear congruential generator).
    fn scatter(n: usize, seed: u64) -> Vec<(f64, f64)> {
        let mut x = seed;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| (next() * 360.0, (2.0 * next() - 1.0).asin().to_degrees()))
            .collect()
    }

    #[test]
    fn cone_search_equals_brute_force_everywhere_on_the_sky() {
        // dense patches where the index is tested hardest: the poles, RA 0/360,
        // and a random sky
        let mut rows = scatter(20_000, 7);
        for i in 0..400 {
            let f = i as f64 / 400.0;
            rows.push((f * 360.0, 89.99 + f * 0.01));
            rows.push((f * 360.0, -89.99 - f * 0.0099));
            rows.push(((f - 0.5) * 0.02, 10.0 + (f - 0.5) * 0.02));
        }
        for radius in [3.0, 30.0, 600.0] {
            let cat = catalog(&rows, radius);
            let mut centres = scatter(300, 11);
            centres.extend([
                (0.0, 90.0),
                (123.0, -90.0),
                (0.0, 10.0),
                (359.9999, 10.0),
                (0.001, 10.0),
            ]);
            centres.extend(rows.iter().step_by(97).copied());
            for (ra, dec) in centres {
                let got: Vec<u64> = cat
                    .cone(ra, dec, radius)
                    .iter()
                    .map(|h| h.source.row)
                    .collect();
                let mut want: Vec<(f64, u64)> = cat
                    .sources
                    .iter()
                    .map(|s| (distance_arcsec(ra, dec, s.ra, s.dec), s.row))
                    .filter(|(d, _)| *d <= radius)
                    .collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let want: Vec<u64> = want.into_iter().map(|(_, r)| r).collect();
                assert_eq!(got, want, "cone ({ra}, {dec}) radius {radius}\"");
            }
        }
    }

    #[test]
    fn distances_are_right_at_small_and_large_separations() {
        assert!((distance_arcsec(10.0, 0.0, 10.0, 1.0 / 3600.0) - 1.0).abs() < 1e-9);
        assert!((distance_arcsec(0.0, 60.0, 2.0 / 3600.0, 60.0) - 1.0).abs() < 1e-6);
        assert!((distance_arcsec(359.9999, 0.0, 0.0001, 0.0) - 0.72).abs() < 1e-6);
        assert!((distance_arcsec(0.0, 90.0, 180.0, 89.0) - 3600.0).abs() < 1e-6);
    }

    #[test]
    fn bad_rows_and_columns_are_named() {
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &["z".to_string()],
        };
        let e = Catalog::from_csv("c.csv", b"ra,dec,mag\n1,2,3\n", &cols, 8).unwrap_err();
        assert!(e.0.contains("no column `z` (columns: ra, dec, mag)"), "{e}");
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &[],
        };
        let e = Catalog::from_csv("c.csv", b"ra,dec\n1,2\nx,3\n", &cols, 8).unwrap_err();
        assert!(
            e.0.contains("data row 2, column `ra`: `x` is not a number"),
            "{e}"
        );
        let e = Catalog::from_csv("c.csv", b"ra,dec\n1,91\n", &cols, 8).unwrap_err();
        assert!(e.0.contains("outside -90..90"), "{e}");
        let e = Catalog::from_csv("c.csv", b"ra,dec\n1,NaN\n", &cols, 8).unwrap_err();
        assert!(e.0.contains("not a number"), "{e}");
        let e = Catalog::from_csv("c.csv", b"ra,dec\n1,2,3\n", &cols, 8).unwrap_err();
        assert!(e.0.contains("data row 1"), "{e}");
    }

    #[test]
    fn values_are_numbers_text_or_null() {
        assert_eq!(field_value(" 12 "), Value::from(12));
        assert_eq!(field_value("1.5"), Value::from(1.5));
        assert_eq!(field_value("QSO"), Value::from("QSO"));
        assert_eq!(field_value(""), Value::Null);
        assert_eq!(field_value("inf"), Value::from("inf"));
    }
}
