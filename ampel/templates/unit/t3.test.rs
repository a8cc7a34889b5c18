//! `@UNIT@` on real ZTF alerts, run by the AMPEL runtime from a manifest: T0
//! ingests the alerts of `@ALERTS@`, then the channel's T3 process runs once.

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/@ALERTS@");

#[test]
fn one_document_counts_every_object_of_the_channel() {
    let kit = ampel_testkit::TestKit::new(@CRATE_IDENT@::register).expect("units register");
    let manifest = format!(
        "{}\n[[channel]]\nname = \"TEST\"\naccess = [\"ZTF_PUB\"]\nt3 = [{{ unit = \"@UNIT@\", schedule = \"every 1h\" }}]\n",
        ampel_testkit::ztf_manifest_head(&["@UNIT@"])
    );
    let run = kit.run(&manifest, &[ALERTS]).expect("the job runs");
    let objects: std::collections::BTreeSet<_> = kit
        .ztf_alerts(&[ALERTS])
        .unwrap()
        .into_iter()
        .map(|a| a.stock)
        .collect();
    assert_eq!(run.t3.len(), 1);
    let body = &run.t3[0].body;
    assert_eq!(body["objects"].as_u64().unwrap() as usize, objects.len());
    assert!(body["detections"].as_u64().unwrap() as usize >= objects.len(), "{body}");
}
