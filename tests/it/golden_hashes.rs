//! Golden hashes: values produced by Python AMPEL itself
//! (`tests/golden/gen_golden_hashes.py`) must come out of our hash module unchanged.

use ampel_interface::hash::{config_hash, link_hash, t2_doc_id, trace_id, HASH_SCHEME_VERSION};
use ampel_interface::T2Identity;
use serde_json::Value;

fn golden() -> Value {
    let path = ampel_tests::fixture("golden-hashes.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden-hashes.json is JSON")
}

fn cases<'a>(g: &'a Value, key: &str) -> &'a Vec<Value> {
    let list = g[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no `{key}` list"));
    assert!(!list.is_empty(), "fixture `{key}` is empty");
    list
}

#[test]
fn scheme_version_is_pinned() {
    assert_eq!(
        HASH_SCHEME_VERSION, 1,
        "changing the hash scheme needs new golden files"
    );
}

#[test]
fn config_hashes_match_python_ampel() {
    let g = golden();
    for case in cases(&g, "config") {
        assert_eq!(
            config_hash(&case["input"]),
            case["hash"].as_i64().unwrap(),
            "config hash of {}",
            case["input"]
        );
    }
}

#[test]
fn link_hashes_match_python_ampel() {
    let g = golden();
    for case in cases(&g, "link") {
        let dps: Vec<i64> = serde_json::from_value(case["dps"].clone()).unwrap();
        assert_eq!(
            link_hash(&dps),
            case["hash"].as_i64().unwrap(),
            "link of {dps:?}"
        );
    }
}

#[test]
fn trace_ids_match_the_specification() {
    let g = golden();
    for case in cases(&g, "trace") {
        let id = trace_id(
            case["unit"].as_str().unwrap(),
            case["version"].as_str().unwrap(),
            case["digest"].as_str().unwrap(),
            &case["config"],
        );
        assert_eq!(id, case["id"].as_i64().unwrap(), "trace of {case}");
    }
}

#[test]
fn t2_document_ids_match_the_specification() {
    let g = golden();
    for case in cases(&g, "t2_doc_id") {
        let identity = T2Identity {
            stock: case["stock"].as_i64().unwrap(),
            unit: case["unit"].as_str().unwrap().to_string(),
            config: case["config"].as_i64(),
            link: case["link"].as_i64().unwrap(),
        };
        assert_eq!(t2_doc_id(&identity), case["id"].as_str().unwrap(), "{case}");
    }
}
