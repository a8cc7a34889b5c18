//! Container codecs, Confluent framing, archives and bad input, on files made here.

use ampel_avro::input::walk;
use ampel_avro::{decode_confluent, Item, Payload, ReadOptions, SchemaRegistry, Value};
use std::io::Write;
use std::path::Path;

const SCHEMA: &str = r#"{"type": "record", "name": "r", "fields": [
    {"name": "a", "type": "long"}, {"name": "s", "type": "string"},
    {"name": "cut", "type": ["null", "bytes"]}]}"#;

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn record(a: i64, s: &str, out: &mut Vec<u8>) {
    zigzag(a, out);
    zigzag(s.len() as i64, out);
    out.extend_from_slice(s.as_bytes());
    zigzag(1, out); // union branch: bytes
    zigzag(3, out);
    out.extend_from_slice(b"xyz");
}

/// A container file of `schema` and `codec` whose blocks are (count, data) exactly
/// as given (data already compressed): counts and sizes may lie.
fn raw_container(schema: &str, codec: &str, blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut f = b"Obj\x01".to_vec();
    zigzag(2, &mut f);
    for (k, v) in [("avro.schema", schema), ("avro.codec", codec)] {
        zigzag(k.len() as i64, &mut f);
        f.extend_from_slice(k.as_bytes());
        zigzag(v.len() as i64, &mut f);
        f.extend_from_slice(v.as_bytes());
    }
    zigzag(0, &mut f);
    let sync = [7u8; 16];
    f.extend_from_slice(&sync);
    for (count, data) in blocks {
        zigzag(*count, &mut f);
        zigzag(data.len() as i64, &mut f);
        f.extend_from_slice(data);
        f.extend_from_slice(&sync);
    }
    f
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A container file with `n` records per block in `blocks` blocks.
fn container(codec: &str, blocks: usize, n: usize) -> Vec<u8> {
    let blocks: Vec<(i64, Vec<u8>)> = (0..blocks)
        .map(|b| {
            let mut data = Vec::new();
            for i in 0..n {
                record((b * n + i) as i64, "alert", &mut data);
            }
            let data = match codec {
                "deflate" => deflate(&data),
                "snappy" => {
                    let mut c = snap::raw::Encoder::new().compress_vec(&data).unwrap();
                    c.extend_from_slice(&crc32fast::hash(&data).to_be_bytes());
                    c
                }
                _ => data,
            };
            (n as i64, data)
        })
        .collect();
    raw_container(SCHEMA, codec, &blocks)
}

fn items(path: &Path) -> (Vec<i64>, Vec<String>) {
    let (mut ids, mut damaged) = (Vec::new(), Vec::new());
    walk(
        &[path.to_path_buf()],
        &ReadOptions::default(),
        &mut |item| {
            match item {
                Item::Packet(p) => match p.payload {
                    Payload::Avro(Value::Record(r)) => {
                        assert_eq!(
                            r.get("cut"),
                            Some(&Value::SkippedBytes(3)),
                            "cutout bytes skipped"
                        );
                        ids.push(r.long("a").unwrap())
                    }
                    other => panic!("{other:?}"),
                },
                Item::Damaged(d) => damaged.push(d.to_string()),
            }
            true
        },
    );
    (ids, damaged)
}

#[test]
fn every_codec_reads_every_block() {
    let dir = tempfile::tempdir().unwrap();
    for codec in ["null", "deflate", "snappy"] {
        let p = dir.path().join(format!("{codec}.avro"));
        std::fs::write(&p, container(codec, 3, 4)).unwrap();
        let (ids, damaged) = items(&p);
        assert_eq!(ids, (0..12).collect::<Vec<_>>(), "{codec}");
        assert!(damaged.is_empty(), "{codec}: {damaged:?}");
    }
}

#[test]
fn damage_is_reported_with_file_and_index_and_good_blocks_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let good = container("snappy", 3, 2);
    // corrupt the CRC of the last block: blocks 0 and 1 survive
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 17] ^= 0xff;
    std::fs::write(dir.path().join("a_bad_crc.avro"), &bad).unwrap();
    std::fs::write(
        dir.path().join("b_truncated.avro"),
        &good[..good.len() - 30],
    )
    .unwrap();
    std::fs::write(dir.path().join("c_text.avro"), b"hello, not avro").unwrap();
    std::fs::write(dir.path().join("d_empty.avro"), b"").unwrap();
    std::fs::write(dir.path().join("e_good.avro"), &good).unwrap();
    let (ids, damaged) = items(dir.path());
    assert_eq!(ids, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5]);
    assert_eq!(damaged.len(), 4, "{damaged:#?}");
    assert!(
        damaged[0].contains("a_bad_crc.avro (alert 4): snappy block CRC mismatch"),
        "{}",
        damaged[0]
    );
    assert!(
        damaged[1].contains("b_truncated.avro (alert 4): truncated file"),
        "{}",
        damaged[1]
    );
    assert!(damaged[2].contains(
        "c_text.avro: not an Avro container file or Confluent message (first byte 0x68)"
    ));
    assert!(damaged[3].contains("d_empty.avro: empty file"));
}

#[test]
fn tar_and_tar_gz_archives_stream_and_truncation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..3 {
        let data = container("null", 1, 2);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder
            .append_data(&mut h, format!("alerts/{i}.avro"), data.as_slice())
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    std::fs::write(dir.path().join("a.tar.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.path().join("b.tar"), &tar).unwrap();
    // cut inside the third member's data
    std::fs::write(dir.path().join("c.tar"), &tar[..2048 + 512 + 100]).unwrap();
    let (ids, damaged) = items(dir.path());
    assert_eq!(
        ids.len(),
        6 + 6 + 4,
        "two whole archives and the first two members of the truncated one"
    );
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert!(
        damaged[0].contains("c.tar:alerts/2.avro: truncated file"),
        "{}",
        damaged[0]
    );
    assert!(
        damaged[1].contains("c.tar: truncated or corrupt tar archive"),
        "{}",
        damaged[1]
    );
}

#[test]
fn confluent_framing_errors_are_clear() {
    let mut reg = SchemaRegistry::new();
    let e = decode_confluent(&[1, 0, 0, 3, 132, 0], &mut reg, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("wrong magic byte 0x01"), "{e}");
    let e = decode_confluent(&[0, 0, 0, 0, 7, 0], &mut reg, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown schema id 7") && e.contains("900"),
        "{e}"
    );
    let e = decode_confluent(&[0, 0, 0, 3, 132, 2], &mut reg, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated data"), "{e}");
    assert!(decode_confluent(&[0, 0], &mut reg, false).is_err());
}

#[test]
fn every_bundled_rubin_schema_parses() {
    let mut reg = SchemaRegistry::new();
    let ids = ampel_avro::registry::known_ids();
    assert!(ids.contains(&900) && ids.contains(&1000), "{ids:?}");
    for id in ids {
        reg.by_id(id).unwrap_or_else(|e| panic!("schema {id}: {e}"));
    }
}

#[test]
fn schema_text_is_parsed_once() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        std::fs::write(
            dir.path().join(format!("{i}.avro")),
            container("null", 1, 1),
        )
        .unwrap();
    }
    let stats = walk(
        &[dir.path().to_path_buf()],
        &ReadOptions::default(),
        &mut |_| true,
    );
    assert_eq!((stats.files, stats.schemas_parsed), (5, 1));
}

#[test]
fn tiny_hostile_files_are_damaged_inputs_and_the_rest_of_the_folder_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // 1. schema "null" and a block claiming 2^60 values in no bytes (83 bytes in all)
    let nulls = raw_container("\"null\"", "null", &[(1 << 60, Vec::new())]);
    assert!(nulls.len() < 100);
    std::fs::write(dir.path().join("a-nulls.avro"), &nulls).unwrap();
    // 2. a 2^60-value count on a real schema: more values than bytes
    let mut one = Vec::new();
    record(1, "x", &mut one);
    let lying = raw_container(SCHEMA, "null", &[(1 << 60, one)]);
    std::fs::write(dir.path().join("b-count.avro"), &lying).unwrap();
    // 3. a deflate bomb: 128 KB of compressed zeros expanding to 128 MiB, twice the
    // default limit (the same ratio as a 2 MB block expanding to 2 GB)
    let zeros = vec![0u8; 1 << 20];
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..128 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    std::fs::write(
        dir.path().join("c-bomb.avro"),
        raw_container(SCHEMA, "deflate", &[(3, bomb)]),
    )
    .unwrap();
    // 4. an array of 2^40 nulls inside a record
    let arr = r#"{"type": "record", "name": "n", "fields": [{"name": "x", "type": {"type": "array", "items": "null"}}]}"#;
    let mut data = Vec::new();
    zigzag(1 << 40, &mut data);
    zigzag(0, &mut data);
    std::fs::write(
        dir.path().join("d-array.avro"),
        raw_container(arr, "null", &[(1, data)]),
    )
    .unwrap();
    // 5. a negative count of i64::MIN (its negation overflows)
    std::fs::write(
        dir.path().join("e-min.avro"),
        raw_container(SCHEMA, "null", &[(i64::MIN, vec![1, 2, 3])]),
    )
    .unwrap();
    // good files after them, in name order
    std::fs::write(dir.path().join("z-good.avro"), container("deflate", 2, 3)).unwrap();
    let (ids, damaged) = items(dir.path());
    assert_eq!(
        ids,
        vec![0, 1, 2, 3, 4, 5],
        "every good alert is read: {damaged:#?}"
    );
    assert_eq!(damaged.len(), 5, "{damaged:#?}");
    for (d, name, why) in [
        (&damaged[0], "a-nulls.avro", "values"),
        (&damaged[1], "b-count.avro", "at least one byte"),
        (&damaged[2], "c-bomb.avro", "beyond the limit"),
        (&damaged[3], "d-array.avro", "exceeds the data"),
        (&damaged[4], "e-min.avro", ""),
    ] {
        assert!(d.contains(name) && d.contains(why), "{name}: {d}");
    }
    // the limit is the caller's to set
    let opts = ReadOptions {
        max_block_bytes: 16,
        ..ReadOptions::default()
    };
    let mut refused = Vec::new();
    walk(&[dir.path().join("z-good.avro")], &opts, &mut |item| {
        if let Item::Damaged(d) = item {
            refused.push(d.to_string());
        }
        true
    });
    assert!(refused[0].contains("limit of 16 bytes"), "{refused:?}");
}

/// Symbolic links that point back up the tree (`x -> .`, `y -> .`) once made the
/// walk endless, and one `loop -> .` read each alert 41 times.
#[test]
fn symbolic_link_loops_are_reported_and_every_file_is_read_once() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("alerts");
    std::fs::create_dir_all(root.join("night1")).unwrap();
    for name in ["a.avro", "night1/b.avro", "night1/c.avro"] {
        std::fs::write(root.join(name), container("null", 1, 1)).unwrap();
    }
    symlink(".", root.join("x")).unwrap();
    symlink(".", root.join("y")).unwrap();
    symlink("..", root.join("night1/up")).unwrap();
    // a second path to one file, and to one directory that is not an ancestor
    symlink("night1/b.avro", root.join("b-again.avro")).unwrap();
    symlink("night1", root.join("night1-again")).unwrap();

    let (mut packets, mut loops) = (Vec::new(), Vec::new());
    // the root given twice is read once too
    let stats = walk(
        &[root.clone(), root.clone()],
        &ReadOptions::default(),
        &mut |item| {
            match item {
                Item::Packet(p) => packets.push(p.origin),
                Item::Damaged(d) => loops.push(d.to_string()),
            }
            true
        },
    );
    assert_eq!(packets.len(), 3, "{packets:?}");
    assert_eq!(stats.files, 3);
    // x, y and night1/up are loops; b-again, night1-again and the second root
    // are second paths to something read already
    assert_eq!(loops.len(), 3, "{loops:?}");
    for l in &loops {
        assert!(l.contains("symbolic link loop"), "{l}");
    }
    assert!(loops.iter().any(|l| l.contains("night1/up")), "{loops:?}");
    assert_eq!(stats.already_read, 3);
}
