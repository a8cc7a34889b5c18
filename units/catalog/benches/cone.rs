//! Cone searches per second (a bench binary, not a test):
//!
//!   cargo bench -p ampel-units-catalog --bench cone
//!
//! A catalogue of 1,000,000 sources at pseudo-random positions over the sky (a
//! generated one: the same generator as the tests), indexed by `Catalog::from_csv`
//! at the depth for a 2" radius; then 200,000 cone searches of 2" and 20,000 of 60"
//! at other random positions through the HEALPix index, and the anchor in the same
//! run: the brute-force search (every source's distance) on 200 positions. Also the
//! time to read and index the catalogue. Set `AMPEL_BENCH_SOURCES=N` for another size.

use ampel_units_catalog::index::{depth_for, distance_arcsec, Catalog, Columns};
use std::time::Instant;

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

fn main() {
    let n: usize = std::env::var("AMPEL_BENCH_SOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut csv = String::from("name,ra,dec,mag\n");
    for (i, (ra, dec)) in scatter(n, 1).iter().enumerate() {
        csv.push_str(&format!("S{i},{ra:?},{dec:?},{}\n", 15 + i % 7));
    }
    let cols = Columns {
        ra: "ra",
        dec: "dec",
        returned: &["name".to_string(), "mag".to_string()],
    };
    let t = Instant::now();
    let cat = Catalog::from_csv("bench.csv", csv.as_bytes(), &cols, depth_for(2.0)).unwrap();
    let load = t.elapsed().as_secs_f64();
    println!(
        "catalogue: {n} sources, {:.1} MB CSV, read and indexed (depth {}) in {load:.2} s",
        csv.len() as f64 / 1e6,
        cat.depth
    );
    for (radius, queries) in [(2.0, 200_000), (60.0, 20_000)] {
        let cat = if radius == 2.0 {
            cat.clone()
        } else {
            Catalog::from_csv("bench.csv", csv.as_bytes(), &cols, depth_for(radius)).unwrap()
        };
        let centres = scatter(queries, 7);
        let t = Instant::now();
        let mut found = 0usize;
        for (ra, dec) in &centres {
            found += cat.cone(*ra, *dec, radius).len();
        }
        let rate = queries as f64 / t.elapsed().as_secs_f64();
        // the anchor: every source's distance
        let anchor_n = 200;
        let t = Instant::now();
        let mut brute = 0usize;
        for (ra, dec) in centres.iter().take(anchor_n) {
            brute += cat
                .sources
                .iter()
                .filter(|s| distance_arcsec(*ra, *dec, s.ra, s.dec) <= radius)
                .count();
        }
        let anchor = anchor_n as f64 / t.elapsed().as_secs_f64();
        println!(
            "radius {radius}\": {rate:.0} cones/s through the index ({found} matches), brute force {anchor:.1} cones/s ({brute} matches in {anchor_n}); {:.0}x",
            rate / anchor
        );
    }
}
