//! Parquet catalogues (as pandas, pyarrow, astropy or TOPCAT write them; snappy
//! or uncompressed): every row group, read through the `parquet` crate's row
//! reader. RA and Dec may be any numeric column type; a returned column's value is
//! a number, text, boolean or null, and anything else (dates, binary, nested) its
//! text form.

use crate::index::{Builder, Catalog, CatalogError, Columns};
use ampel_interface::serde_json::{Number, Value};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// Whether `bytes` are a Parquet file (`PAR1` at both ends).
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1")
}

fn number(f: &Field) -> Option<f64> {
    Some(match f {
        Field::Byte(x) => f64::from(*x),
        Field::Short(x) => f64::from(*x),
        Field::Int(x) => f64::from(*x),
        Field::Long(x) => *x as f64,
        Field::UByte(x) => f64::from(*x),
        Field::UShort(x) => f64::from(*x),
        Field::UInt(x) => f64::from(*x),
        Field::ULong(x) => *x as f64,
        Field::Float(x) => f64::from(*x),
        Field::Double(x) => *x,
        _ => return None,
    })
}

fn value(f: &Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Str(s) => Value::String(s.clone()),
        Field::Byte(_) | Field::Short(_) | Field::Int(_) | Field::Long(_) => match f {
            Field::Long(x) => Value::from(*x),
            other => Value::from(number(other).unwrap_or(0.0) as i64),
        },
        Field::UByte(_) | Field::UShort(_) | Field::UInt(_) | Field::ULong(_) => match f {
            Field::ULong(x) => Value::from(*x),
            other => Value::from(number(other).unwrap_or(0.0) as u64),
        },
        other => match number(other) {
            Some(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
            None => Value::String(other.to_string()),
        },
    }
}

/// Read a Parquet catalogue and index it at `depth`.
pub fn from_parquet(
    file: &str,
    bytes: Vec<u8>,
    cols: &Columns,
    depth: u8,
) -> Result<Catalog, CatalogError> {
    let err = |e: parquet::errors::ParquetError| {
        CatalogError(format!("{file}: not a readable Parquet file: {e}"))
    };
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).map_err(err)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    for want in [cols.ra, cols.dec]
        .into_iter()
        .chain(cols.returned.iter().map(String::as_str))
    {
        if !names.iter().any(|n| n == want) {
            return Err(CatalogError(format!(
                "{file}: no column `{want}` (columns: {})",
                names.join(", ")
            )));
        }
    }
    let mut b = Builder::new(file, cols, depth);
    for (n, row) in reader.get_row_iter(None).map_err(err)?.enumerate() {
        let row_no = n as u64 + 1;
        let row = row.map_err(|e| CatalogError(format!("{file}: data row {row_no}: {e}")))?;
        let get = |name: &str| {
            row.get_column_iter()
                .find(|(k, _)| k.as_str() == name)
                .map(|(_, f)| f)
        };
        let num = |name: &str| match get(name) {
            Some(f) => number(f).ok_or_else(|| f.to_string()),
            None => Err("(missing)".to_string()),
        };
        let values = cols
            .returned
            .iter()
            .map(|c| get(c).map_or(Value::Null, value))
            .collect();
        b.push(row_no, num(cols.ra), num(cols.dec), values)?;
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    /// A Parquet file of `rows` (name, ra, dec, n), written with the crate.
    fn write(rows: &[(&str, f64, f64, i64)]) -> Vec<u8> {
        let schema = parquet::schema::parser::parse_message_type(
            "message cat { REQUIRED BYTE_ARRAY name (STRING); REQUIRED DOUBLE ra; REQUIRED DOUBLE dec; REQUIRED INT64 n; }",
        )
        .unwrap();
        let mut out = Vec::new();
        let props = Arc::new(WriterProperties::builder().build());
        let mut w = SerializedFileWriter::new(&mut out, Arc::new(schema), props).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let names: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.0)).collect();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&names, None, None)
            .unwrap();
        c.close().unwrap();
        for k in [1, 2] {
            let v: Vec<f64> = rows
                .iter()
                .map(|r| if k == 1 { r.1 } else { r.2 })
                .collect();
            let mut c = rg.next_column().unwrap().unwrap();
            c.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
            c.close().unwrap();
        }
        let v: Vec<i64> = rows.iter().map(|r| r.3).collect();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
        c.close().unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn parquet_and_csv_give_the_same_catalogue() {
        let rows = [
            ("a", 10.0, 20.0, 1),
            ("b", 10.0001, 20.0, 2),
            ("c", 200.0, -45.5, 3),
        ];
        let pq = write(&rows);
        assert!(is_parquet(&pq));
        let returned = ["name".to_string(), "n".to_string()];
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &returned,
        };
        let a = from_parquet("c.parquet", pq, &cols, 10).unwrap();
        let mut csv = String::from("name,ra,dec,n\n");
        for r in &rows {
            csv.push_str(&format!("{},{:?},{:?},{}\n", r.0, r.1, r.2, r.3));
        }
        let b = Catalog::from_csv("c.csv", csv.as_bytes(), &cols, 10).unwrap();
        assert_eq!(a.sources, b.sources);
        let hits = a.cone(10.0, 20.0, 1.0);
        assert_eq!(hits.len(), 2);
        assert_eq!(a.values(hits[0].source)["name"], "a");
        assert_eq!(a.values(hits[1].source)["n"], 2);
    }

    #[test]
    fn a_missing_column_or_a_broken_file_is_named() {
        let returned = ["z".to_string()];
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &returned,
        };
        let e = from_parquet("c.parquet", write(&[("a", 1.0, 2.0, 3)]), &cols, 8).unwrap_err();
        assert!(
            e.0.contains("no column `z` (columns: name, ra, dec, n)"),
            "{e}"
        );
        let mut broken = write(&[("a", 1.0, 2.0, 3)]);
        let mid = broken.len() / 2;
        broken.drain(8..mid);
        let cols = Columns {
            ra: "ra",
            dec: "dec",
            returned: &[],
        };
        let e = from_parquet("c.parquet", broken, &cols, 8).unwrap_err();
        assert!(e.0.starts_with("c.parquet: "), "{e}");
    }
}
