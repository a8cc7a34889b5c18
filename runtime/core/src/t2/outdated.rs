//! Results made by another unit version, code or config than the running binary's.
//!
//! A result's provenance is the `t2unit` trace id of the meta record that produced
//! the current body; the current trace id is recomputed from this binary's unit and
//! the stored config. Different ids mean the result is outdated: it stays current
//! (nothing is silently recomputed) until the ticket is reset.

use ampel_interface::{Body, Registry, T2Document, TraceId, TraceRecord};
use ampel_store::{Store, StoreError, T2Filter};

/// One outdated result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outdated {
    /// The ticket.
    pub doc: T2Document,
    /// The trace that made the current result.
    pub made_by: TraceId,
    /// What that trace stands for, if registered.
    pub made_by_trace: Option<TraceRecord>,
    /// The trace this binary would use (`None`: the unit is not in this binary or
    /// its stored config no longer validates).
    pub current: Option<TraceRecord>,
}

/// Every T2 result whose producing trace differs from the current one.
pub fn outdated(
    registry: &Registry,
    store: &dyn Store,
    filter: &T2Filter,
) -> Result<Vec<Outdated>, StoreError> {
    let mut out = Vec::new();
    for doc in store.find_t2(filter)? {
        let Some(index) = doc
            .meta
            .iter()
            .rposition(|m| m.code.0 >= 0 && m.body_index.is_some())
        else {
            continue;
        };
        let Some(made_by) = doc.meta[index].traceid.get("t2unit").copied() else {
            continue;
        };
        let config = match doc.config {
            Some(h) => store.get_config(h)?.unwrap_or(Body::Null),
            None => Body::Null,
        };
        let current = registry
            .get(&doc.unit)
            .ok()
            .and_then(|u| u.check(&config).ok())
            .map(|c| c.trace);
        if current.as_ref().map(|t| t.id) == Some(made_by) {
            continue;
        }
        let made_by_trace = store.get_trace(made_by)?;
        out.push(Outdated {
            doc,
            made_by,
            made_by_trace,
            current,
        });
    }
    Ok(out)
}
