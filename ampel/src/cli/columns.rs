//! A table of typed, nullable columns and its two file forms: CSV (a header line;
//! floats written as the shortest text that reads back as the same number; empty
//! for null) and Parquet (one row group; DOUBLE, INT64, BOOLEAN and UTF-8 STRING
//! columns, all OPTIONAL; snappy; the units of each column in the file's key-value
//! metadata under `ampel.units`), written with the `parquet` crate's column writers.

use parquet::basic::Compression;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Floating point.
    F64(Vec<Option<f64>>),
    /// Integers.
    I64(Vec<Option<i64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Text.
    Str(Vec<Option<String>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    fn text(&self, i: usize) -> String {
        match self {
            Values::F64(v) => v[i].map(|x| format!("{x:?}")).unwrap_or_default(),
            Values::I64(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Values::Bool(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Values::Str(v) => v[i].clone().unwrap_or_default(),
        }
    }

    fn parquet_type(&self) -> &'static str {
        match self {
            Values::F64(_) => "DOUBLE",
            Values::I64(_) => "INT64",
            Values::Bool(_) => "BOOLEAN",
            Values::Str(_) => "BYTE_ARRAY",
        }
    }
}

/// A named column with its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name (letters, digits, `_`, `.`).
    pub name: String,
    /// Unit, or what the values are (`d (MJD)`, `mag (AB)`, `nJy`, ...).
    pub unit: &'static str,
    /// Values.
    pub values: Values,
}

/// Columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns(pub Vec<Column>);

impl Columns {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.0.first().map_or(0, |c| c.values.len())
    }

    /// Add a column.
    pub fn push(&mut self, name: impl Into<String>, unit: &'static str, values: Values) {
        self.0.push(Column {
            name: name.into(),
            unit,
            values,
        });
    }

    /// The table as CSV.
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.0.iter().map(|c| c.name.as_str()))?;
        for i in 0..self.rows() {
            w.write_record(self.0.iter().map(|c| c.values.text(i)))?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// Write the table as a Parquet file.
    pub fn write_parquet(&self, path: &Path) -> Result<(), String> {
        let fields: Vec<String> = self
            .0
            .iter()
            .map(|c| {
                let utf8 = if matches!(c.values, Values::Str(_)) {
                    " (STRING)"
                } else {
                    ""
                };
                format!("  OPTIONAL {} {}{utf8};", c.values.parquet_type(), c.name)
            })
            .collect();
        let message = format!("message ampel_export {{\n{}\n}}", fields.join("\n"));
        let schema = parquet::schema::parser::parse_message_type(&message)
            .map_err(|e| format!("Parquet schema: {e}"))?;
        let units: BTreeMap<&str, &str> =
            self.0.iter().map(|c| (c.name.as_str(), c.unit)).collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("ampel-rs".into())
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "ampel.units".to_string(),
                serde_json::to_string(&units).unwrap_or_default(),
            )]))
            .build();
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let err = |e: parquet::errors::ParquetError| format!("{}: {e}", path.display());
        let mut w =
            SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).map_err(err)?;
        let mut rg = w.next_row_group().map_err(err)?;
        for c in &self.0 {
            let mut col = rg.next_column().map_err(err)?.ok_or("too few columns")?;
            fn split<T: Clone>(v: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
                let def = v.iter().map(|x| i16::from(x.is_some())).collect();
                (v.iter().flatten().cloned().collect(), def)
            }
            match (col.untyped(), &c.values) {
                (ColumnWriter::DoubleColumnWriter(w), Values::F64(v)) => {
                    let (vals, def) = split(v);
                    w.write_batch(&vals, Some(&def), None).map_err(err)?;
                }
                (ColumnWriter::Int64ColumnWriter(w), Values::I64(v)) => {
                    let (vals, def) = split(v);
                    w.write_batch(&vals, Some(&def), None).map_err(err)?;
                }
                (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => {
                    let (vals, def) = split(v);
                    w.write_batch(&vals, Some(&def), None).map_err(err)?;
                }
                (ColumnWriter::ByteArrayColumnWriter(w), Values::Str(v)) => {
                    let (vals, def) = split(v);
                    let vals: Vec<ByteArray> =
                        vals.iter().map(|s| ByteArray::from(s.as_str())).collect();
                    w.write_batch(&vals, Some(&def), None).map_err(err)?;
                }
                _ => return Err(format!("column {}: writer and values differ", c.name)),
            }
            col.close().map_err(err)?;
        }
        rg.close().map_err(err)?;
        w.close().map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Columns {
        let mut t = Columns::default();
        t.push(
            "mjd",
            "d (MJD)",
            Values::F64(vec![Some(58_849.578_113_4), None]),
        );
        t.push("id", "", Values::I64(vec![Some(-5), Some(7)]));
        t.push("upper_limit", "", Values::Bool(vec![Some(true), None]));
        t.push(
            "band",
            "",
            Values::Str(vec![Some("g".into()), Some("a,\"b\"".into())]),
        );
        t
    }

    #[test]
    fn csv_quotes_and_round_trips_floats() {
        let csv = String::from_utf8(sample().to_csv().unwrap()).unwrap();
        assert_eq!(
            csv,
            "mjd,id,upper_limit,band\n58849.5781134,-5,true,g\n,7,,\"a,\"\"b\"\"\"\n"
        );
    }

    #[test]
    fn parquet_reads_back_with_the_crate_s_reader() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        sample().write_parquet(&p).unwrap();
        let r = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
        let meta = r.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 2);
        let kv = meta.key_value_metadata().unwrap();
        assert_eq!(kv[0].key, "ampel.units");
        assert!(kv[0]
            .value
            .as_deref()
            .unwrap()
            .contains("\"mjd\":\"d (MJD)\""));
        let rows: Vec<String> = r
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().to_string())
            .collect();
        assert_eq!(
            rows[0],
            "{mjd: 58849.5781134, id: -5, upper_limit: true, band: \"g\"}"
        );
        assert_eq!(
            rows[1],
            r#"{mjd: null, id: 7, upper_limit: null, band: "a,"b""}"#
        );
    }
}
