//! Instance manifests as the one source of an instance: every TOML block of the
//! docs parses, the manifests of `manifests/` pass every check, and a manifest
//! expresses point, state and stock T2s (with datapoint selection), block groups,
//! T3 selection and loading, and resources that reach unit configs; each of them
//! is run on real ZTF alerts where it acts.

use ampel_core::instance::InstanceConfig;
use ampel_interface::{Registry, T2Kind};
use ampel_store::T2Filter;
use std::path::Path;

/// The test units and every unit of `units/` (the Rubin, feature, catalogue and
/// mapped-survey ones too), as the host binary has them.
fn registry() -> Registry {
    let mut r = ampel_tests::units::registry();
    ampel_units_lsst::register(&mut r).expect("units");
    ampel_units_features::register(&mut r).expect("units");
    ampel_units_catalog::register(&mut r).expect("units");
    ampel_units_survey::register(&mut r).expect("units");
    r
}

/// The fenced blocks of `lang` in a Markdown file, with the line each starts on.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut cur {
            None if fence.strip_prefix("```").is_some_and(|l| l.trim() == lang) => {
                cur = Some((i + 2, String::new()));
            }
            Some(_) if fence.starts_with("```") => out.extend(cur.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

/// What a TOML block of the docs is, by its tables: a manifest, a job file, a
/// survey mapping, a Cargo manifest, or a fragment of one of those (`[[channel]]`
/// alone).
fn check_block(file: &str, line: usize, text: &str) -> Result<(), String> {
    let at = format!("{file}:{line}");
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("{at}: {e}"))?;
    if table.contains_key("instance") {
        ampel_manifest::parse(&at, text).map_err(|e| e.to_string())?;
    } else if table.contains_key("survey") && table.contains_key("measurements") {
        let m = ampel_units_survey::SurveyMapping::from_toml(text)
            .map_err(|e| format!("{at}: a survey mapping: {e}"))?;
        let problems = m.problems("");
        if !problems.is_empty() {
            return Err(format!("{at}: a survey mapping: {problems:?}"));
        }
    } else if table.contains_key("task") {
        toml::from_str::<ampel_core::job::JobConfig>(text).map_err(|e| format!("{at}: {e}"))?;
    } else if ["crate", "t0", "channel", "process", "resources", "live"]
        .iter()
        .any(|k| table.contains_key(*k))
    {
        // a manifest fragment: complete it with a minimal [instance] and [t0]
        let mut full = String::from("[instance]\nname = \"doc\"\nversion = \"1.0.0\"\n");
        if !table.contains_key("t0") {
            full.push_str("[t0]\nsupplier = { unit = \"S\" }\nshaper = { unit = \"P\" }\n");
        }
        full.push_str(text);
        ampel_manifest::parse(&at, &full).map_err(|e| e.to_string())?;
    } else if !(table.contains_key("package")
        || table.contains_key("dependencies")
        || table.contains_key("workspace"))
    {
        return Err(format!(
            "{at}: a TOML block that is neither a manifest, a job file, a survey mapping nor a Cargo manifest: {:?}",
            table.keys().collect::<Vec<_>>()
        ));
    }
    Ok(())
}

#[test]
fn every_toml_block_of_the_docs_parses_and_every_shipped_manifest_checks() {
    let root = ampel_tests::repo_root();
    let mut docs = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("units/README.md"),
    ];
    let mut manifests = Vec::new();
    for e in std::fs::read_dir(root.join("manifests")).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("md") => docs.push(p),
            Some("toml") => manifests.push(p),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    let mut seen = 0;
    for doc in docs.iter().filter(|d| d.exists()) {
        let text = std::fs::read_to_string(doc).unwrap();
        for (line, block) in blocks(&text, "toml") {
            seen += 1;
            if let Err(e) = check_block(&doc.display().to_string(), line, &block) {
                problems.push(e);
            }
        }
    }
    assert!(
        seen >= 3,
        "the docs show manifests: {seen} TOML blocks found"
    );
    let registry = registry();
    manifests.sort();
    assert!(manifests.len() >= 3, "{manifests:?}");
    for m in &manifests {
        if let Err(e) = ampel_manifest::load_for_binary(m, &registry) {
            problems.push(e.to_string());
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // no second format beside the manifests
    for m in &manifests {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".t0.toml")
                && !name.ends_with(".processes.toml")
                && !name.ends_with(".job.toml"),
            "{name}: the manifest is the one source; `ampel manifest expand` prints the parts"
        );
    }
}

const HEAD: &str = r#"
[instance]
name = "kinds"
version = "1.0.0"

[[crate]]
name = "ampel-units-ztf"
path = "../units/ztf"
units = ["ZiAlertSupplier", "ZiDataPointShaper", "ZiT1Combiner", "SimpleDecentFilter"]

[[crate]]
name = "ampel-units-lightcurve"
path = "../units/lightcurve"
units = ["T2MagSummary"]

[[crate]]
name = "ampel-tests"
path = "../tests"
units = ["T2PointEcho", "TouchStock", "ChannelAudit"]

[[crate]]
name = "ampel-units-basic"
path = "../units/basic"
units = ["CriteriaFilter"]

[t0]
supplier = { unit = "ZiAlertSupplier" }
shaper = { unit = "ZiDataPointShaper" }
combiner = { unit = "ZiT1Combiner" }
"#;

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{HEAD}{body}")).unwrap();
    p
}

fn load(path: &Path) -> Result<InstanceConfig, String> {
    ampel_manifest::load_for_binary(path, &registry()).map_err(|e| e.to_string())
}

/// Run the manifest's archival job on the fink 2019 alerts (31 alerts of 31
/// objects) on a fresh embedded store; the store (and the directory holding it).
fn run_store(cfg: &InstanceConfig) -> (tempfile::TempDir, Box<dyn ampel_store::Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        ampel_commands::open_store(&format!("sqlite:{}", dir.path().join("s.db").display()))
            .unwrap();
    let inputs = [ampel_tests::real_alerts().join("ztf/fink-2019-v3.1")];
    ampel_core::job::run_plan(
        &cfg.name,
        &cfg.archive_plan(&inputs),
        &registry(),
        store.as_ref(),
        dir.path(),
        &ampel_core::Silent,
    )
    .unwrap();
    (dir, store)
}

/// The T2 documents [`run_store`] leaves.
fn run(cfg: &InstanceConfig) -> Vec<ampel_interface::T2Document> {
    run_store(cfg).1.find_t2(&T2Filter::default()).unwrap()
}

#[test]
fn a_manifest_runs_point_state_and_stock_t2s_with_datapoint_selection() {
    let dir = tempfile::tempdir().unwrap();
    let channel = |point: &str| {
        format!(
            r#"
[[channel]]
name = "ALL"
access = ["ZTF_PUB"]
t2 = [{{ unit = "T2MagSummary" }}]
point_t2 = [{{ unit = "T2PointEcho"{point} }}]
stock_t2 = [{{ unit = "TouchStock" }}]
"#
        )
    };
    let all = load(&write(dir.path(), "all.toml", &channel(""))).unwrap();
    let d = &all.t0.directives[0];
    assert_eq!(
        (
            d.ingest.combine[0].state_t2.len(),
            d.ingest.point_t2.len(),
            d.ingest.stock_t2.len()
        ),
        (1, 1, 1)
    );
    let docs = run(&all);
    let of = |docs: &[ampel_interface::T2Document], unit: &str| -> Vec<(T2Kind, i64, i64)> {
        docs.iter()
            .filter(|d| d.unit == unit)
            .map(|d| (d.col, d.stock, d.link))
            .collect()
    };
    let stocks: std::collections::BTreeSet<i64> = docs.iter().map(|d| d.stock).collect();
    assert_eq!(stocks.len(), 31, "31 alerts of 31 objects");
    // a stock T2 per stock, linked to the stock
    let touch = of(&docs, "TouchStock");
    assert_eq!(touch.len(), 31);
    assert!(touch.iter().all(|(k, s, l)| *k == T2Kind::Stock && s == l));
    // state T2s on states
    assert!(of(&docs, "T2MagSummary")
        .iter()
        .all(|(k, ..)| *k == T2Kind::State));
    // a point T2 on every detection of every alert: one per distinct detection
    let every = of(&docs, "T2PointEcho");
    assert!(every.iter().all(|(k, _, l)| *k == T2Kind::Point && *l > 0));

    // only the latest detection of each alert: one per alert
    let last = load(&write(
        dir.path(),
        "last.toml",
        &channel(", select = \"last\""),
    ))
    .unwrap();
    let latest = of(&run(&last), "T2PointEcho");
    assert_eq!(latest.len(), 31);
    assert!(
        latest.len() < every.len(),
        "{} < {}",
        latest.len(),
        every.len()
    );
    assert!(latest.iter().all(|x| every.contains(x)));

    // the upper limits only, brightest limit (largest diffmaglim) first
    let ul = load(&write(
        dir.path(),
        "ul.toml",
        &channel(", filter = \"upper_limits\", sort = \"diffmaglim\", select = \"first\""),
    ))
    .unwrap();
    let limits = of(&run(&ul), "T2PointEcho");
    assert!(!limits.is_empty() && limits.iter().all(|(_, _, l)| *l < 0));
}

#[test]
fn t2_kinds_in_the_wrong_list_and_selections_on_state_t2s_are_refused_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.toml",
        r#"
[[channel]]
name = "ALL"
t2 = [{ unit = "T2PointEcho" }, { unit = "T2MagSummary", select = "last" }]
point_t2 = [{ unit = "TouchStock" }]
stock_t2 = [{ unit = "T2MagSummary" }]
t3 = [{ unit = "ChannelAudit", schedule = "every 1m", select = { since_last_run_of = "nope", t2 = [{ unit = "T2MagSummary", field = "ndet", operator = ">=", value = "3" }] } }]
"#,
    );
    let e = load(&p).unwrap_err();
    for says in [
        "bad.toml:33:16: channel `ALL` t2: `T2PointEcho` is a point-t2 unit; it belongs in point_t2",
        "bad.toml:33:67: channel `ALL` t2: select, sort and filter choose the datapoints of point T2s",
        "bad.toml:34:22: channel `ALL` point_t2: `TouchStock` is a stock-t2 unit; it belongs in stock_t2",
        "bad.toml:35:22: channel `ALL` stock_t2: `T2MagSummary` is a state-t2 unit; it belongs in t2",
        "since_last_run_of names an unknown process `nope` (known: ALL-ChannelAudit)",
        "t3 select.t2[0]: value \"3\" for operator Ge: expected a number",
    ] {
        assert!(e.contains(says), "missing {says:?} in:\n{e}");
    }
}

/// An expanded T0 process (what `t0 --config` reads) gets the same kind rule,
/// without positions.
#[test]
fn an_expanded_t0_process_with_a_t2_in_the_wrong_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ok.toml",
        "\n[[channel]]\nname = \"ALL\"\nt2 = [{ unit = \"T2MagSummary\" }]\n",
    );
    let mut t0 = load(&p).unwrap().t0;
    let state = &mut t0.directives[0].ingest.combine[0].state_t2;
    state[0].unit = "T2PointEcho".into();
    state[0].select = ampel_core::t0::DpSelect::Last;
    let e = t0.check(&registry()).unwrap_err().join("\n");
    for says in [
        "channel `ALL` combine[0].state_t2[0]: `T2PointEcho` is a point-t2 unit; it belongs among the point T2s",
        "channel `ALL` combine[0].state_t2[0]: select, sort and filter choose datapoints of point T2s",
    ] {
        assert!(e.contains(says), "missing {says:?} in:\n{e}");
    }
}

#[test]
fn resources_reach_unit_configs_and_t3_selection_and_groups_reach_the_processes() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "res.toml",
        r#"
[[channel]]
name = "BRIGHT"
access = ["ZTF_PUB"]
groups = [1, 2]
filter = { unit = "CriteriaFilter", config = { resource = "bright" } }
t3 = [{ unit = "ChannelAudit", name = "audit", schedule = "every 1m", select = { tag_with = ["ZTF"], limit = 5 }, load = { t0 = false, t1 = "none" } }]

[resources]
bright = { criteria = [{ attribute = "magpsf", operator = "<", value = 18.5 }] }
"#,
    );
    let cfg = load(&p).unwrap();
    let d = &cfg.t0.directives[0];
    assert_eq!(d.groups, Some(vec![1, 2]));
    assert_eq!(
        d.filter.as_ref().unwrap().config["criteria"][0]["value"],
        18.5,
        "the resource is the filter's config"
    );
    let t3 = cfg.processes.iter().find(|p| p.name == "audit").unwrap();
    let run = t3.t3_config();
    assert_eq!(run.select.tag_with, vec!["ZTF".to_string()]);
    assert_eq!(run.select.limit, Some(5));
    assert_eq!(run.select.channel_any, vec!["BRIGHT".to_string()]);
    assert!(!run.load.t0);

    // an unknown resource is named, with the ones there are
    std::fs::write(
        &p,
        std::fs::read_to_string(&p)
            .unwrap()
            .replace("resource = \"bright\"", "resource = \"brigth\""),
    )
    .unwrap();
    let e = load(&p).unwrap_err();
    assert!(
        e.contains("resource `brigth` is not in [resources] (there: bright)"),
        "{e}"
    );
}

#[test]
fn a_t3_selects_by_the_latest_t2_results_of_its_channel() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "sel.toml",
        r#"
[[channel]]
name = "ALL"
access = ["ZTF_PUB"]
t2 = [{ unit = "T2MagSummary" }]

[[channel.t3]]
unit = "ChannelAudit"
name = "well-sampled"
schedule = "every 1h"
select = { t2 = [{ unit = "T2MagSummary", field = "ndet", operator = ">=", value = 10 }] }
"#,
    );
    let cfg = load(&p).unwrap();
    let (_dir, store) = run_store(&cfg);
    // the objects whose latest light-curve summary has at least 10 detections,
    // counted from the T2 documents themselves
    let mut latest: std::collections::BTreeMap<i64, (f64, u64)> = Default::default();
    for d in store
        .find_t2(&T2Filter {
            unit: Some(vec!["T2MagSummary".into()]),
            ..Default::default()
        })
        .unwrap()
    {
        let ts = d.meta.last().unwrap().ts;
        let ndet = d.body.last().unwrap()["ndet"].as_u64().unwrap();
        let e = latest.entry(d.stock).or_insert((ts, ndet));
        if ts > e.0 {
            *e = (ts, ndet);
        }
    }
    let expected: Vec<i64> = latest
        .iter()
        .filter(|(_, (_, n))| *n >= 10)
        .map(|(s, _)| *s)
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < latest.len(),
        "{latest:?}"
    );
    let t3 = store.find_t3(Some("well-sampled")).unwrap();
    assert_eq!(t3.len(), 1);
    let seen: Vec<i64> = t3[0].body["stocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect();
    assert_eq!(seen, expected);
}
