//! A channel's loaded T0 directive (its filter, combiners and T2 specs) and the
//! T2 tickets it makes.

use super::config::{DpSelect, OnStockMatch};
use ampel_interface::*;
use ampel_store::*;
use std::collections::BTreeSet;

/// A T2 unit a directive requests, with its registered config.
pub(super) struct T2Spec {
    pub(super) unit: String,
    pub(super) config: ConfigHash,
    pub(super) select: DpSelect,
}

/// A combiner with the state T2s of its states.
pub(super) struct Combiner {
    pub(super) unit: Box<dyn T1Combiner>,
    pub(super) trace: TraceId,
    pub(super) state_t2: Vec<T2Spec>,
}

/// One channel's directive, units loaded.
pub(super) struct Directive {
    pub(super) channel: String,
    pub(super) filter: Option<(Box<dyn AlertFilter>, TraceId)>,
    pub(super) groups: Option<Vec<u16>>,
    pub(super) on_stock_match: Option<OnStockMatch>,
    pub(super) combine: Vec<Combiner>,
    pub(super) point_t2: Vec<T2Spec>,
    pub(super) stock_t2: Vec<T2Spec>,
}

/// A T2 ticket of `t` for `link`.
pub(super) fn ticket(
    stock: StockId,
    t: &T2Spec,
    link: LinkId,
    col: T2Kind,
    ch: &BTreeSet<String>,
    meta: MetaRecord,
) -> T2Request {
    T2Request {
        identity: T2Identity {
            stock,
            unit: t.unit.clone(),
            config: Some(t.config),
            link,
        },
        col,
        channel: ch.clone(),
        tag: BTreeSet::new(),
        meta: Some(meta),
        expiry: None,
    }
}

/// Detections (id > 0) chosen by a point T2's selection, ordered by `jd`.
pub(super) fn select(dps: &[&DataPoint], how: DpSelect) -> Vec<DataPointId> {
    let mut det: Vec<(f64, DataPointId)> = dps
        .iter()
        .filter(|d| d.id > 0)
        .map(|d| (d.jd().unwrap_or(0.0), d.id))
        .collect();
    det.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    match how {
        DpSelect::All => det.into_iter().map(|(_, id)| id).collect(),
        DpSelect::First => det.first().map(|d| d.1).into_iter().collect(),
        DpSelect::Last => det.last().map(|d| d.1).into_iter().collect(),
    }
}
