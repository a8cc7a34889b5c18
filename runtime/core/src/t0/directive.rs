//! A channel's loaded T0 directive (its filter, combiners and T2 specs) and the
//! T2 tickets it makes.

use super::config::{DpFilter, DpSelect, OnStockMatch, T2Model};
use ampel_interface::*;
use ampel_store::*;
use std::collections::BTreeSet;

/// A T2 unit a directive requests, with its registered config.
pub(super) struct T2Spec {
    pub(super) unit: String,
    pub(super) config: ConfigHash,
    pub(super) selection: Selection,
}

/// A point T2's datapoint selection (filter, sort key, pick).
#[derive(Debug, Clone, Default)]
pub(super) struct Selection {
    filter: DpFilter,
    sort: Option<String>,
    select: DpSelect,
}

impl Selection {
    pub(super) fn of(m: &T2Model) -> Self {
        Selection {
            filter: m.filter,
            sort: m.sort.clone(),
            select: m.select,
        }
    }
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

/// The datapoints a point T2's selection chooses: filtered (detections have
/// positive ids, upper limits negative ones), sorted ascending by the sort key (the
/// datapoint's time by default; a datapoint without a numeric value sorts first;
/// ties by id), then all, the first or the last.
pub(super) fn select(dps: &[&DataPoint], how: &Selection) -> Vec<DataPointId> {
    let mut det: Vec<(f64, DataPointId)> = dps
        .iter()
        .filter(|d| match how.filter {
            DpFilter::Detections => d.id > 0,
            DpFilter::UpperLimits => d.id < 0,
            DpFilter::All => true,
        })
        .map(|d| {
            let key = match &how.sort {
                None => d.jd(),
                Some(k) => d.body.get(k).and_then(|v| v.as_f64()),
            };
            (key.unwrap_or(f64::NEG_INFINITY), d.id)
        })
        .collect();
    det.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    match how.select {
        DpSelect::All => det.into_iter().map(|(_, id)| id).collect(),
        DpSelect::First => det.first().map(|d| d.1).into_iter().collect(),
        DpSelect::Last => det.last().map(|d| d.1).into_iter().collect(),
    }
}
