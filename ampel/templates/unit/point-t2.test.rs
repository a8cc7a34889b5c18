//! `@UNIT@` on real ZTF alerts, run by the AMPEL runtime from a manifest on the
//! latest detection of each alert of `@ALERTS@`.

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/@ALERTS@");

#[test]
fn each_alerts_latest_detection_gets_a_flux() {
    let kit = ampel_testkit::TestKit::new(@CRATE_IDENT@::register).expect("units register");
    let manifest = format!(
        "{}\n[[channel]]\nname = \"TEST\"\naccess = [\"ZTF_PUB\"]\npoint_t2 = [{{ unit = \"@UNIT@\", select = \"last\" }}]\n",
        ampel_testkit::ztf_manifest_head(&["@UNIT@"])
    );
    let run = kit.run(&manifest, &[ALERTS]).expect("the job runs");
    let docs = run.t2_of("@UNIT@");
    assert!(!docs.is_empty() && docs.len() <= run.accepted("TEST"));
    for d in docs {
        assert!(d.link > 0, "a detection");
        let body = d.body.last().expect("a result");
        let (flux, err) = (body["flux"].as_f64().unwrap(), body["flux_err"].as_f64().unwrap());
        // 13 to 22 mag: 6e5 to 6 µJy
        assert!(flux > 5.0 && flux < 1e6 && err > 0.0 && err < flux, "{body}");
    }
}
