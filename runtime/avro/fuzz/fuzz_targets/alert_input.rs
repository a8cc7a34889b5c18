//! Fuzz target: any bytes as an alert input, through every reader T0 has.
//!
//! 1. As a message in memory (what Kafka hands T0): dispatched on content to the
//!    in-memory container reader, the tar / tar.gz reader, or the Confluent
//!    decoder with the bundled Rubin schemas; once into Avro values, once
//!    straight into JSON.
//! 2. As a file on disk (what `ampel t0 --source` reads): the piecewise container
//!    reader (`FileReader`, cutouts stepped over) or the streaming tar reader.
//!
//! Every outcome is fine except a crash, a hang or memory beyond the limit: a
//! damaged input must be an item, never a panic. Blocks are capped at 16 MiB
//! here (the default is 64 MiB) so libFuzzer's RSS limit measures the reader's
//! own bounds, not the cap.
#![no_main]

use ampel_avro::input::{walk, walk_bytes};
use ampel_avro::ReadOptions;
use libfuzzer_sys::fuzz_target;

fn file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ampel-fuzz-{}.bin", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        max_block_bytes: 16 << 20,
        ..ReadOptions::default()
    };
    let mut items = 0usize;
    let mut count = |_| {
        items += 1;
        true
    };
    walk_bytes("fuzz", data, &opts, &mut count);
    let json = ReadOptions {
        json: true,
        ..opts.clone()
    };
    walk_bytes("fuzz", data, &json, &mut count);
    let path = file();
    if std::fs::write(&path, data).is_ok() {
        walk(&[path], &opts, &mut count);
    }
});
