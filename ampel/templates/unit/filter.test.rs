//! `@UNIT@` on real ZTF alerts: its decision on every alert of `@ALERTS@`, and
//! the same filter run by the AMPEL runtime from a manifest.

use ampel_interface::{AlertFilter, FilterDecision, Unit};
use @CRATE_IDENT@::@UNIT@;

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/@ALERTS@");

fn kit() -> ampel_testkit::TestKit {
    ampel_testkit::TestKit::new(@CRATE_IDENT@::register).expect("units register")
}

#[test]
fn decides_on_every_real_alert_as_its_config_says() {
    let alerts = kit().ztf_alerts(&[ALERTS]).expect("the bundled alerts read");
    assert!(!alerts.is_empty());
    let filter = @UNIT@::new(Default::default()).unwrap();
    let mut accepted = 0;
    for a in &alerts {
        let mag = a.datapoints[0]["magpsf"].as_f64().unwrap();
        let expected = mag <= 19.5 && @CRATE_IDENT@::detections(a) >= 3;
        let got = filter.process(a).unwrap() == FilterDecision::Accept;
        assert_eq!(got, expected, "alert {} (magpsf {mag})", a.id);
        accepted += usize::from(got);
    }
    // the bundled alerts exercise both answers
    assert!(accepted > 0 && accepted < alerts.len(), "{accepted} of {}", alerts.len());
}

#[test]
fn a_bad_config_is_refused_with_every_problem() {
    let kit = kit();
    let unit = kit.registry().get("@UNIT@").unwrap();
    let e = unit
        .check(&ampel_interface::serde_json::json!({ "min_detections": 0, "max_magpsf": 99.0 }))
        .unwrap_err()
        .to_string();
    assert!(e.contains("min_detections") && e.contains("max_magpsf"), "{e}");
}

#[test]
fn the_runtime_runs_it_as_a_channel_filter() {
    let kit = kit();
    let manifest = format!(
        "{}\n[[channel]]\nname = \"TEST\"\naccess = [\"ZTF_PUB\"]\nfilter = {{ unit = \"@UNIT@\" }}\n",
        ampel_testkit::ztf_manifest_head(&["@UNIT@"])
    );
    let run = kit.run(&manifest, &[ALERTS]).expect("the job runs");
    let filter = @UNIT@::new(Default::default()).unwrap();
    let expected = kit
        .ztf_alerts(&[ALERTS])
        .unwrap()
        .iter()
        .filter(|a| filter.process(a).unwrap() == FilterDecision::Accept)
        .count();
    assert_eq!(run.accepted("TEST"), expected);
}
