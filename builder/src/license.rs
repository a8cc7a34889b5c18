//! The license that governs an instance as a whole. Every crate's declared license
//! (SPDX, from `cargo metadata`) is in the SBOM; a crate under a copyleft license
//! of the GPL family (GPL, LGPL, AGPL) that cannot be taken under another one makes
//! the instance binary a work under that license. The image says so: the SBOM's
//! instance package concludes it, the annotations `org.opencontainers.image.licenses`
//! and `io.ampel.copyleft` name it and the crates, and `ampel image inspect` shows
//! it. An instance without such a crate gets none of these (its image is as before).

use std::collections::{BTreeMap, BTreeSet};

/// Whether an SPDX expression binds to a GPL-family license: every `OR`
/// alternative names one (`MIT OR Apache-2.0 OR LGPL-2.1-or-later` does not).
pub fn is_copyleft(expr: &str) -> bool {
    let flat = expr.replace(['(', ')'], " ");
    let alternatives: Vec<&str> = flat.split(" OR ").map(str::trim).collect();
    !alternatives.is_empty() && alternatives.iter().all(|a| a.contains("GPL"))
}

/// The copyleft crates among `licenses` (`name@version` → SPDX expression).
pub fn copyleft(licenses: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    licenses
        .iter()
        .filter(|(_, l)| is_copyleft(l))
        .map(|(k, l)| (k.clone(), l.clone()))
        .collect()
}

/// The license of the instance as a whole: the distinct copyleft licenses of its
/// crates joined by ` AND `; `None` when it has no copyleft crate.
pub fn instance_license(licenses: &BTreeMap<String, String>) -> Option<String> {
    let distinct: BTreeSet<String> = copyleft(licenses).into_values().collect();
    (!distinct.is_empty()).then(|| distinct.into_iter().collect::<Vec<_>>().join(" AND "))
}

/// `ampel-units-features@0.1.0 (GPL-3.0-or-later), ...`: the copyleft crates.
pub fn copyleft_list(licenses: &BTreeMap<String, String>) -> String {
    copyleft(licenses)
        .into_iter()
        .map(|(k, l)| format!("{k} ({l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpl_crates_make_the_instance_gpl_and_choices_do_not() {
        assert!(is_copyleft("GPL-3.0-or-later"));
        assert!(is_copyleft("GPL-3.0-only AND MIT"));
        assert!(is_copyleft("(LGPL-2.1 OR GPL-2.0)"));
        assert!(!is_copyleft("MIT OR Apache-2.0 OR LGPL-2.1-or-later"));
        assert!(!is_copyleft("BSD-3-Clause"));
        let mut licenses = BTreeMap::from([
            (
                "ampel-units-ztf@0.1.0".to_string(),
                "BSD-3-Clause".to_string(),
            ),
            (
                "r-efi@5.3.0".to_string(),
                "MIT OR Apache-2.0 OR LGPL-2.1-or-later".to_string(),
            ),
        ]);
        assert_eq!(instance_license(&licenses), None);
        licenses.insert(
            "ampel-units-features@0.1.0".into(),
            "GPL-3.0-or-later".into(),
        );
        licenses.insert(
            "light-curve-feature@0.19.0".into(),
            "GPL-3.0-or-later".into(),
        );
        assert_eq!(
            instance_license(&licenses).as_deref(),
            Some("GPL-3.0-or-later")
        );
        assert_eq!(
            copyleft_list(&licenses),
            "ampel-units-features@0.1.0 (GPL-3.0-or-later), light-curve-feature@0.19.0 (GPL-3.0-or-later)"
        );
    }
}
