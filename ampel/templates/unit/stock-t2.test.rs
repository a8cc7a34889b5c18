//! `@UNIT@` on real ZTF alerts, run by the AMPEL runtime from a manifest: one
//! result per object of `@ALERTS@`.

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/@ALERTS@");

#[test]
fn every_object_gets_one_summary_with_its_ztf_name() {
    let kit = ampel_testkit::TestKit::new(@CRATE_IDENT@::register).expect("units register");
    let manifest = format!(
        "{}\n[[channel]]\nname = \"TEST\"\naccess = [\"ZTF_PUB\"]\nstock_t2 = [{{ unit = \"@UNIT@\" }}]\n",
        ampel_testkit::ztf_manifest_head(&["@UNIT@"])
    );
    let run = kit.run(&manifest, &[ALERTS]).expect("the job runs");
    let docs = run.t2_of("@UNIT@");
    let objects: std::collections::BTreeSet<_> = kit
        .ztf_alerts(&[ALERTS])
        .unwrap()
        .into_iter()
        .map(|a| a.stock)
        .collect();
    assert_eq!(docs.len(), objects.len());
    for d in docs {
        assert_eq!(d.link, d.stock, "linked to the stock");
        let names = d.body.last().unwrap()["names"].to_string();
        assert!(names.contains("ZTF"), "{names}");
    }
}
