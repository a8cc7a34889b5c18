//! What T0 could not use, grouped: each damaged input or unusable alert of a run
//! (`origin (alert i): reason`, as `T0Stats::damaged` holds them) under its reason
//! with the words holding digits generalised (`union index 61 out of range (0..2)
//! at byte 32829` and `... 36 ... 19403` are one reason, and so are the same
//! refusal of two objects), most frequent first, with the
//! first few inputs of each. What a run prints at its end, so a whole archive
//! refused for one reason is one line, not silence.

use serde::Serialize;
use std::collections::BTreeMap;

/// How many inputs of a group are named.
pub const EXAMPLES: usize = 3;

/// Inputs refused for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusalGroup {
    /// The reason, numbers written as `N`.
    pub reason: String,
    /// How many inputs.
    pub count: usize,
    /// The first few (`origin (alert i)`), in reading order.
    pub examples: Vec<String>,
}

/// The reason with every word holding a digit (a number, an id, an object name
/// such as ZTF20aabaesm, a range such as `(0..2)`) replaced by `N`.
fn general(reason: &str) -> String {
    reason
        .split(' ')
        .map(|w| {
            if w.bytes().any(|b| b.is_ascii_digit()) {
                "N"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split `origin (alert i): reason`; an entry of another shape is all reason.
fn split(entry: &str) -> (&str, &str) {
    match entry.find(" (alert ") {
        Some(i) => match entry[i..].find("): ") {
            Some(j) => (&entry[..i + j + 1], &entry[i + j + 3..]),
            None => ("", entry),
        },
        None => ("", entry),
    }
}

/// Group refusals by their general reason, most frequent first (ties by reason).
pub fn group(damaged: &[String]) -> Vec<RefusalGroup> {
    let mut groups: BTreeMap<String, RefusalGroup> = BTreeMap::new();
    for d in damaged {
        let (origin, reason) = split(d);
        let reason = general(reason);
        let g = groups
            .entry(reason.clone())
            .or_insert_with(|| RefusalGroup {
                reason,
                count: 0,
                examples: vec![],
            });
        g.count += 1;
        if g.examples.len() < EXAMPLES && !origin.is_empty() {
            g.examples.push(origin.to_string());
        }
    }
    let mut out: Vec<RefusalGroup> = groups.into_values().collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_group_by_reason_with_numbers_generalised() {
        let d: Vec<String> = [
            "a/1.avro (alert 0): truncated file: end of data inside the sync marker after the block",
            "a/2.avro (alert 0): union index 61 out of range (0..2) at byte 32829",
            "a/3.avro (alert 0): truncated file: end of data inside the sync marker after the block",
            "a/4.avro (alert 0): union index 36 out of range (0..2) at byte 19403",
            "a/5.avro (alert 0): truncated file: end of data inside the sync marker after the block",
            "x.tar.gz:b/6.avro (alert 2): unusable alert: ZTF packet of ZTF20aabaesm has no candid",
            "x.tar.gz:b/8.avro (alert 0): unusable alert: ZTF packet of ZTF20aabaesn has no candid",
            "a/7.avro (alert 0): truncated file: end of data inside the sync marker after the block",
            "no origin here",
        ]
        .map(String::from)
        .to_vec();
        let g = group(&d);
        assert_eq!(g.len(), 4);
        assert_eq!(
            g[0].reason,
            "truncated file: end of data inside the sync marker after the block"
        );
        assert_eq!(g[0].count, 4);
        assert_eq!(
            g[0].examples,
            [
                "a/1.avro (alert 0)",
                "a/3.avro (alert 0)",
                "a/5.avro (alert 0)"
            ]
        );
        assert_eq!(g[1].reason, "union index N out of range N at byte N");
        assert_eq!(g[1].count, 2);
        assert_eq!(g[2].reason, "unusable alert: ZTF packet of N has no candid");
        assert_eq!(
            g[2].examples,
            ["x.tar.gz:b/6.avro (alert 2)", "x.tar.gz:b/8.avro (alert 0)"]
        );
        assert_eq!(g[3].reason, "no origin here");
        assert!(g[3].examples.is_empty());
    }
}
