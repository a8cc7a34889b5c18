//! `@UNIT@` on real ZTF alerts, run by the AMPEL runtime from a manifest: T0
//! ingests the alerts of `@ALERTS@`, the combiner makes states, T2 runs the unit.

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/@ALERTS@");

fn run() -> ampel_testkit::Run {
    let kit = ampel_testkit::TestKit::new(@CRATE_IDENT@::register).expect("units register");
    let manifest = format!(
        "{}\n[[channel]]\nname = \"TEST\"\naccess = [\"ZTF_PUB\"]\nt2 = [{{ unit = \"@UNIT@\" }}]\n",
        ampel_testkit::ztf_manifest_head(&["@UNIT@"])
    );
    kit.run(&manifest, &[ALERTS]).expect("the job runs")
}

#[test]
fn every_state_of_the_real_alerts_gets_a_peak() {
    let run = run();
    let docs = run.t2_of("@UNIT@");
    // one result per state; each alert makes at least one state
    assert!(docs.len() >= run.accepted("TEST") && !docs.is_empty());
    for d in docs {
        assert_eq!(d.code, ampel_interface::DocumentCode::OK, "{}", d.id);
        let body = d.body.last().expect("a result");
        let ndet = body["ndet"].as_u64().unwrap();
        assert!(ndet >= 1, "every ZTF alert carries its triggering detection: {body}");
        let mag = body["peak_mag"].as_f64().unwrap();
        assert!((10.0..=23.0).contains(&mag), "{body}");
        assert!(body["peak_jd"].as_f64().unwrap() > 2_400_000.0, "{body}");
    }
}
