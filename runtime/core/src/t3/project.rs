//! The channel projection: what a T3 unit configured for a channel may see of a
//! stock. A channel's view holds only what its access rights allow:
//!
//! - **datapoints**: those of the channel whose ids appear in one of the channel's T1
//!   states. States are made at ingestion by the channel's combiner, which applies
//!   the channel's `access` (e.g. `ZiT1Combiner` leaves ZTF programid-2 datapoints
//!   out of a channel without `ZTF_PRIV`), so T3 shows exactly the light curve T1
//!   and T2 were given. A channel with no state of the stock (no combiner) has no
//!   rights applied and sees its datapoints;
//! - **T1 states and T2 documents** of the channel; a point T2 only if its datapoint
//!   is visible, a state T2 only if its state is the channel's;
//! - **meta records** (of datapoints, states, T2 documents): those without
//!   activities or with an activity of this channel, activities of other channels
//!   removed, channel sets reduced to this channel;
//! - **the stock**: its channel set, `ts` times and journal reduced to this channel
//!   (the `any` time is this channel's); log records of this channel or of none.

use super::{Load, T1Load};
use ampel_interface::*;
use ampel_store::*;
use std::collections::BTreeSet;

/// The view of one stock as seen from `channel` (everything if `None`); `None` if
/// the stock is not in that channel.
pub fn project(
    store: &dyn Store,
    stock: StockId,
    channel: Option<&str>,
    load: &Load,
) -> Result<Option<StockView>, StoreError> {
    let Some(mut s) = store.get_stock(stock)? else {
        return Ok(None);
    };
    let Some(c) = channel else {
        return whole(store, s, load).map(Some);
    };
    if !s.channel.contains(c) {
        return Ok(None);
    }
    s.channel.retain(|x| x == c);
    let own = s.ts.get(c).cloned();
    s.ts.retain(|k, _| k == c);
    if let Some(t) = own {
        s.ts.insert(ANY_CHANNEL.to_string(), t);
    }
    s.journal
        .retain(|j| j.channel.is_empty() || j.channel.contains(c));
    for j in &mut s.journal {
        j.channel.retain(|x| x == c);
    }
    let states: Vec<T1Document> = store
        .stock_states(stock)?
        .into_iter()
        .filter(|t| t.channel.contains(c))
        .collect();
    // the rights the combiner applied: the datapoints of the channel's states
    let allowed: Option<BTreeSet<DataPointId>> =
        (!states.is_empty()).then(|| states.iter().flat_map(|t| t.dps.iter().copied()).collect());
    let t0: Vec<DataPoint> = store
        .stock_datapoints(stock)?
        .into_iter()
        .filter(|d| d.channel.contains(c))
        .filter(|d| allowed.as_ref().is_none_or(|a| a.contains(&d.id)))
        .map(|mut d| {
            d.channel.retain(|x| x == c);
            d.excl.retain(|x| x == c);
            d.meta = own_meta(std::mem::take(&mut d.meta), c);
            d
        })
        .collect();
    let visible: BTreeSet<DataPointId> = t0.iter().map(|d| d.id).collect();
    let links: BTreeSet<LinkId> = states.iter().map(|t| t.link).collect();
    let mut t1 = loaded_states(states, load);
    for t in &mut t1 {
        t.channel.retain(|x| x == c);
        t.meta = own_meta(std::mem::take(&mut t.meta), c);
    }
    let t2 = t2_documents(store, stock, load)?
        .iter()
        .filter(|d| d.channel.contains(c))
        .filter(|d| match d.col {
            T2Kind::Point => visible.contains(&d.link),
            T2Kind::State => links.contains(&d.link),
            T2Kind::Stock => true,
        })
        .map(|d| {
            let mut v = T2View::from(d);
            v.meta = own_meta(std::mem::take(&mut v.meta), c);
            v
        })
        .collect();
    let logs = store
        .logs(&LogQuery {
            stock: Some(stock),
            ..Default::default()
        })?
        .into_iter()
        .filter(|l| l.channel.is_none() || l.channel.as_deref() == Some(c))
        .collect();
    Ok(Some(StockView {
        id: stock,
        journal: s.journal.clone(),
        stock: Some(s),
        t0: if load.t0 { t0 } else { Vec::new() },
        t1,
        t2,
        logs,
    }))
}

/// Meta records of `channel`: records with no activity or with one of this channel;
/// other channels' activities removed, channel sets reduced to this channel.
fn own_meta(meta: Vec<MetaRecord>, channel: &str) -> Vec<MetaRecord> {
    let mine = |a: &Activity| a.channel.is_empty() || a.channel.contains(channel);
    meta.into_iter()
        .filter(|m| m.activity.is_empty() || m.activity.iter().any(mine))
        .map(|mut m| {
            m.activity.retain(mine);
            for a in &mut m.activity {
                a.channel.retain(|x| x == channel);
            }
            m
        })
        .collect()
}

/// The states `load` asks for, of a stock's states in creation order.
fn loaded_states(mut states: Vec<T1Document>, load: &Load) -> Vec<T1Document> {
    match load.t1 {
        T1Load::None => Vec::new(),
        T1Load::Latest if states.len() > 1 => states.split_off(states.len() - 1),
        _ => states,
    }
}

/// The stock's T2 documents of the units `load` names (all if none).
fn t2_documents(
    store: &dyn Store,
    stock: StockId,
    load: &Load,
) -> Result<Vec<T2Document>, StoreError> {
    store.find_t2(&T2Filter {
        stock: Some(stock),
        unit: load.t2.clone(),
        ..Default::default()
    })
}

/// The unprojected view: every document of the stock.
fn whole(store: &dyn Store, s: Stock, load: &Load) -> Result<StockView, StoreError> {
    let stock = s.stock;
    let t0 = if load.t0 {
        store.stock_datapoints(stock)?
    } else {
        Vec::new()
    };
    let t1 = match load.t1 {
        T1Load::None => Vec::new(),
        _ => loaded_states(store.stock_states(stock)?, load),
    };
    let t2 = t2_documents(store, stock, load)?
        .iter()
        .map(T2View::from)
        .collect();
    let logs = store.logs(&LogQuery {
        stock: Some(stock),
        ..Default::default()
    })?;
    Ok(StockView {
        id: stock,
        journal: s.journal.clone(),
        stock: Some(s),
        t0,
        t1,
        t2,
        logs,
    })
}
