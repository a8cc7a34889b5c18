//! The inputs of a T2 ticket (its datapoint, state and datapoints, or stock) and
//! [`Prefetch`], which reads the inputs of a whole claimed batch in two round trips.

use super::run::{fail, Outcome};
use ampel_interface::*;
use ampel_store::*;
use std::collections::{BTreeSet, HashMap};

pub(super) struct Inputs {
    pub(super) state: Option<T1Document>,
    pub(super) dps: Vec<DataPoint>,
    pub(super) stock: Option<Stock>,
}

/// The inputs of a batch of tickets, read in two round trips instead of two per
/// ticket: every state the batch names, then every datapoint of those states and of
/// its point tickets. An input is moved out on its last use in the batch and cloned
/// before that; anything not prefetched is read from the store as usual.
#[derive(Default)]
pub(super) struct Prefetch {
    states: HashMap<(StockId, LinkId), (T1Document, usize)>,
    dps: HashMap<DataPointId, (DataPoint, usize)>,
}

impl Prefetch {
    /// With `fields`, datapoint bodies hold only those fields.
    pub(super) fn load(
        store: &dyn Store,
        batch: &[T2Document],
        fields: Option<&BTreeSet<String>>,
    ) -> Prefetch {
        let mut keys: Vec<(StockId, LinkId)> = Vec::new();
        let mut state_uses: HashMap<(StockId, LinkId), usize> = HashMap::new();
        let mut dp_uses: HashMap<DataPointId, usize> = HashMap::new();
        for d in batch {
            match d.col {
                T2Kind::State => {
                    let n = state_uses.entry((d.stock, d.link)).or_insert(0);
                    if *n == 0 {
                        keys.push((d.stock, d.link));
                    }
                    *n += 1;
                }
                T2Kind::Point => *dp_uses.entry(d.link).or_insert(0) += 1,
                T2Kind::Stock => {}
            }
        }
        let mut p = Prefetch::default();
        // a failed prefetch is no failure: the tickets read their inputs one by one
        for st in store.get_states(&keys).unwrap_or_default() {
            let uses = state_uses.get(&(st.stock, st.link)).copied().unwrap_or(0);
            for id in &st.dps {
                *dp_uses.entry(*id).or_insert(0) += uses;
            }
            p.states.insert((st.stock, st.link), (st, uses));
        }
        let ids: Vec<DataPointId> = dp_uses.keys().copied().collect();
        let dps = match fields {
            Some(f) => store.get_datapoints_with(&ids, f),
            None => store.get_datapoints(&ids),
        };
        for dp in dps.unwrap_or_default() {
            let uses = dp_uses.get(&dp.id).copied().unwrap_or(0);
            p.dps.insert(dp.id, (dp, uses));
        }
        p
    }

    fn take_state(&mut self, key: (StockId, LinkId)) -> Option<T1Document> {
        take(&mut self.states, key)
    }

    /// The datapoints `ids`, in that order, if every one was prefetched.
    fn take_dps(&mut self, ids: &[DataPointId]) -> Option<Vec<DataPoint>> {
        if !ids.iter().all(|i| self.dps.contains_key(i)) {
            return None;
        }
        ids.iter().map(|i| take(&mut self.dps, *i)).collect()
    }
}

/// An entry with a use count: moved out on its last use, cloned before.
fn take<K: std::hash::Hash + Eq, V: Clone>(m: &mut HashMap<K, (V, usize)>, k: K) -> Option<V> {
    let (v, uses) = m.get_mut(&k)?;
    if *uses <= 1 {
        m.remove(&k).map(|(v, _)| v)
    } else {
        *uses -= 1;
        Some(v.clone())
    }
}

pub(super) fn load_inputs(
    store: &dyn Store,
    doc: &T2Document,
    prefetch: &mut Prefetch,
) -> Result<Inputs, Outcome> {
    let internal = |e: StoreError| fail(DocumentCode::INTERNAL_ERROR, e.to_string());
    match doc.col {
        T2Kind::Point => {
            let dps = match prefetch.take_dps(&[doc.link]) {
                Some(d) => d,
                None => store.get_datapoints(&[doc.link]).map_err(internal)?,
            };
            if dps.is_empty() {
                return Err(fail(
                    DocumentCode::UNKNOWN_LINK,
                    format!("datapoint {} does not exist", doc.link),
                ));
            }
            Ok(Inputs {
                state: None,
                dps,
                stock: None,
            })
        }
        T2Kind::State => {
            let state = match prefetch.take_state((doc.stock, doc.link)) {
                Some(s) => s,
                None => store
                    .get_state(doc.stock, doc.link)
                    .map_err(internal)?
                    .ok_or_else(|| {
                        fail(
                            DocumentCode::UNKNOWN_LINK,
                            format!("state {} of stock {} does not exist", doc.link, doc.stock),
                        )
                    })?,
            };
            let dps = match prefetch.take_dps(&state.dps) {
                Some(d) => d,
                None => store.get_datapoints(&state.dps).map_err(internal)?,
            };
            if dps.len() != state.dps.len() {
                let found: std::collections::BTreeSet<i64> = dps.iter().map(|d| d.id).collect();
                let missing: Vec<i64> = state
                    .dps
                    .iter()
                    .filter(|i| !found.contains(i))
                    .copied()
                    .collect();
                return Err(fail(
                    DocumentCode::MISSING_INFO,
                    format!(
                        "state {} references missing datapoints {missing:?}",
                        doc.link
                    ),
                ));
            }
            Ok(Inputs {
                state: Some(state),
                dps,
                stock: None,
            })
        }
        T2Kind::Stock => {
            let stock = store
                .get_stock(doc.stock)
                .map_err(internal)?
                .ok_or_else(|| {
                    fail(
                        DocumentCode::UNKNOWN_LINK,
                        format!("stock {} does not exist", doc.stock),
                    )
                })?;
            Ok(Inputs {
                state: None,
                dps: Vec::new(),
                stock: Some(stock),
            })
        }
    }
}
