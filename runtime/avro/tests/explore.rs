//! temp
use ampel_avro::*;
#[test]
fn explore() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/alerts");
    for sub in [
        "ztf/fink-2020-v3.3",
        "ztf/fink-2019-v3.1",
        "ztf/ampel-2018-v1.8",
        "ztf/ampel-2018-tarballs/recent_alerts.tar.gz",
        "ztf/ampel-2018-tarballs/tar.tst.gz",
        "ztf/boom-v4.02",
        "lsst/fink-rubin-v9.0",
        "lsst/boom-confluent-v9.0",
    ] {
        let mut n = 0;
        let mut d = vec![];
        let t = std::time::Instant::now();
        let stats = input::walk(&[root.join(sub)], &ReadOptions::default(), &mut |i| {
            match i {
                Item::Packet(p) => {
                    if n == 0 {
                        if let Value::Record(r) = &p.value {
                            eprintln!(
                                "  {} fields: {:?}",
                                r.schema.name,
                                &r.schema.fields[..r.schema.fields.len().min(8)]
                            );
                        }
                    }
                    n += 1
                }
                Item::Damaged(x) => d.push(x.to_string()),
            };
            true
        });
        eprintln!(
            "{sub}: {n} packets, {} damaged, {:?} {:?}",
            d.len(),
            stats,
            t.elapsed()
        );
        for x in d {
            eprintln!("   {x}");
        }
    }
}
