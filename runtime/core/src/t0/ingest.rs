//! The T0 processor proper. See the module docs of `t0`.

use super::config::{combiner_config, OnStockMatch, T0Config, T2Model};
use super::directive::{select, ticket, Combiner, Directive, Selection, T2Spec};
use super::run::{Buffer, Opened, Run, T0Stats};
use super::T0Error;
use crate::clock::{jd_to_unix, Clock};
use crate::loader::UnitLoader;
use ampel_avro::{Damaged, Item, Packet, Payload, Projection, Value as Avro};
use ampel_interface::hash::link_hash;
use ampel_interface::*;
use ampel_store::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Runs T0 over alert packets.
pub struct T0Processor<'a> {
    cfg: T0Config,
    store: &'a dyn Store,
    clock: &'a Clock,
    run: Run<'a>,
    /// Bytes written to the rejected-alert register (its header included).
    rejected_bytes: u64,
    supplier: Box<dyn AlertSupplier>,
    shaper: Box<dyn Shaper>,
    muxer: Option<Box<dyn Muxer>>,
    traces: BTreeMap<String, TraceId>,
    directives: Vec<Directive>,
    buffer: Buffer,
    rejected: Option<Box<dyn std::io::Write + Send>>,
    /// The datapoint fields the supplier and every channel's filter read, when all
    /// of them can name theirs: alerts are then filtered on those fields alone.
    projection: Option<(Projection, std::sync::Arc<BTreeSet<String>>)>,
    /// Counts so far.
    pub stats: T0Stats,
}

macro_rules! instance {
    ($loaded:expr, $variant:ident) => {
        match $loaded.instance {
            UnitInstance::$variant(u) => (u, $loaded.checked.trace_id()),
            other => {
                return Err(T0Error::Config(format!(
                    "unit has kind {}, not {}",
                    other.kind(),
                    UnitKind::$variant
                )))
            }
        }
    };
}

impl<'a> T0Processor<'a> {
    /// Check the whole config (every problem at once), load the units, register
    /// their configs and traces, and open a new run (one that is never resumed:
    /// a live stream, whose committed offsets are its checkpoint).
    pub fn new(
        cfg: T0Config,
        registry: &Registry,
        store: &'a dyn Store,
        clock: &'a Clock,
    ) -> Result<Self, T0Error> {
        Self::start(cfg, registry, store, clock, None, None)
    }

    /// [`new`](Self::new) for archives, with the key `inputs` (see
    /// [`inputs_key`](super::inputs_key)): a run of the same key whose process
    /// died is taken over and its stored items are skipped; if a finished run
    /// ingested them already, [`opened`](Self::opened) says so and nothing is
    /// processed. Waits for the store's ingestion lock, calling `waiting` once
    /// if another T0 run holds it.
    pub fn open(
        cfg: T0Config,
        registry: &Registry,
        store: &'a dyn Store,
        clock: &'a Clock,
        inputs: Option<String>,
        waiting: &mut dyn FnMut(),
    ) -> Result<Self, T0Error> {
        Self::start(cfg, registry, store, clock, inputs, Some(waiting))
    }

    /// `waiting`: take the ingestion lock (archive runs); live runs do not, so
    /// several streams can feed one store at once.
    fn start(
        cfg: T0Config,
        registry: &Registry,
        store: &'a dyn Store,
        clock: &'a Clock,
        inputs: Option<String>,
        waiting: Option<&mut dyn FnMut()>,
    ) -> Result<Self, T0Error> {
        cfg.check(registry)
            .map_err(|p| T0Error::Config(p.join("\n")))?;
        let loader = UnitLoader::new(registry, store);
        let load = |name: &str, kind, config: &Body| {
            loader
                .load(name, kind, config)
                .map_err(|e| T0Error::Config(e.to_string()))
        };
        let mut traces = BTreeMap::new();
        let (supplier, t) = instance!(
            load(
                &cfg.supplier.unit,
                UnitKind::AlertSupplier,
                &cfg.supplier.config
            )?,
            AlertSupplier
        );
        traces.insert("supplier".to_string(), t);
        let (shaper, t) = instance!(
            load(&cfg.shaper.unit, UnitKind::Shaper, &cfg.shaper.config)?,
            Shaper
        );
        traces.insert("shaper".to_string(), t);
        let muxer = match &cfg.muxer {
            Some(m) => {
                let (u, t) = instance!(load(&m.unit, UnitKind::Muxer, &m.config)?, Muxer);
                traces.insert("muxer".to_string(), t);
                Some(u)
            }
            None => None,
        };
        let t2 = |m: &T2Model| -> Result<T2Spec, T0Error> {
            let checked = registry
                .get(&m.unit)
                .map(|u| u.check(&m.config))
                .map_err(|e| T0Error::Config(e.to_string()))?;
            let checked = checked.map_err(|e| T0Error::Config(e.to_string()))?;
            store.register_config(checked.hash, &checked.normalized)?;
            store.register_trace(&checked.trace)?;
            Ok(T2Spec {
                unit: m.unit.clone(),
                config: checked.hash,
                selection: Selection::of(m),
            })
        };
        let mut directives = Vec::new();
        for d in &cfg.directives {
            let filter = match &d.filter {
                Some(f) => Some(instance!(
                    load(&f.unit, UnitKind::AlertFilter, &f.config)?,
                    AlertFilter
                )),
                None => None,
            };
            let mut combine = Vec::new();
            for c in &d.ingest.combine {
                let config = combiner_config(registry, &c.unit, &c.config, &d.access);
                let (unit, trace) =
                    instance!(load(&c.unit, UnitKind::T1Combiner, &config)?, T1Combiner);
                let state_t2 = c.state_t2.iter().map(t2).collect::<Result<_, _>>()?;
                combine.push(Combiner {
                    unit,
                    trace,
                    state_t2,
                });
            }
            directives.push(Directive {
                channel: d.channel.clone(),
                filter,
                groups: d.groups.clone(),
                on_stock_match: d.on_stock_match,
                combine,
                point_t2: d.ingest.point_t2.iter().map(t2).collect::<Result<_, _>>()?,
                stock_t2: d.ingest.stock_t2.iter().map(t2).collect::<Result<_, _>>()?,
            });
        }
        let projection = (|| {
            let mut keep = supplier.fields()?;
            for d in &directives {
                // a channel without a filter takes every alert whole
                keep.extend(d.filter.as_ref()?.0.fields()?);
            }
            Some((Projection::new(keep.clone()), std::sync::Arc::new(keep)))
        })();
        let (run, stats) = Run::open(store, &cfg.process, clock, inputs, waiting)?;
        Ok(T0Processor {
            rejected_bytes: run.rejected_bytes,
            cfg,
            store,
            clock,
            run,
            supplier,
            shaper,
            muxer,
            traces,
            directives,
            buffer: Buffer::default(),
            rejected: None,
            projection,
            stats,
        })
    }

    /// How the run was opened: new, resumed after a dead run, or already done.
    pub fn opened(&self) -> &Opened {
        &self.run.opened
    }

    /// Record every rejection (`channel,alert,stock,code` lines, CSV with a header)
    /// in `sink`: the rejected-alert register. A resumed run appends to the
    /// register as it was at the run's last checkpoint: the caller opens the file
    /// cut to [`rejected_bytes`](Self::rejected_bytes).
    pub fn register_rejections(
        &mut self,
        mut sink: Box<dyn std::io::Write + Send>,
    ) -> Result<(), T0Error> {
        if self.rejected_bytes == 0 {
            let header = "channel,alert,stock,code\n";
            sink.write_all(header.as_bytes())
                .map_err(|e| T0Error::Config(format!("rejected-alert register: {e}")))?;
            self.rejected_bytes = header.len() as u64;
        }
        self.rejected = Some(sink);
        Ok(())
    }

    /// Bytes of the rejected-alert register the stored checkpoint covers.
    pub fn rejected_bytes(&self) -> u64 {
        self.run.rejected_bytes
    }

    /// How inputs are decoded for this processor: the one place the projection is
    /// decided. A processor that filters on the fields its filters name (see
    /// [`AlertFilter::fields`]) is fed Avro values and, built on the reader
    /// thread, the projected JSON of those fields; it builds whole JSON itself for
    /// accepted alerts only. Any other gets JSON.
    pub fn read_options(&self, max_block_bytes: Option<usize>) -> ampel_avro::ReadOptions {
        let defaults = ampel_avro::ReadOptions::default();
        ampel_avro::ReadOptions {
            json: !self.projects(),
            preview_fields: self.preview_fields(),
            max_block_bytes: max_block_bytes.unwrap_or(defaults.max_block_bytes),
            ..defaults
        }
    }

    /// Whether alerts are filtered on the fields the filters name (see
    /// [`AlertFilter::fields`]); such a processor is fastest fed Avro values
    /// (`ReadOptions { json: false }`), since it builds JSON itself.
    pub fn projects(&self) -> bool {
        self.projection.is_some()
    }

    /// The fields alerts are filtered on, if [`projects`](Self::projects): readers
    /// given them (`ReadOptions::preview_fields`) build the projected JSON on their
    /// thread, and this processor uses it instead of building it again.
    pub fn preview_fields(&self) -> Option<std::sync::Arc<BTreeSet<String>>> {
        self.projection.as_ref().map(|(_, f)| f.clone())
    }

    /// Filter every alert whole, even if the filters name their fields (to check
    /// that both ways give the same documents).
    pub fn filter_whole_alerts(&mut self) {
        self.projection = None;
    }

    /// The run id of this process run.
    pub fn run_id(&self) -> RunId {
        self.run.id
    }

    /// True once `iter_max` alerts were read.
    pub fn done(&self) -> bool {
        self.cfg.iter_max.is_some_and(|m| self.stats.alerts >= m)
    }

    /// Process one input item.
    pub fn process(&mut self, item: Item) -> Result<(), T0Error> {
        if self.run.skip > 0 {
            // stored by the run this one took over
            self.run.skip -= 1;
            self.run.items += 1;
            return Ok(());
        }
        if matches!(self.run.opened, Opened::AlreadyDone { .. }) {
            return Ok(());
        }
        self.run.items += 1;
        match item {
            Item::Damaged(d) => self.trouble_input(&d),
            Item::Packet(p) => self.packet(p),
        }
    }

    fn trouble_input(&mut self, d: &Damaged) -> Result<(), T0Error> {
        self.stats.damaged.push(d.to_string());
        self.buffer.troubles.push(TroubleRecord {
            ts: self.clock.now(),
            tier: Tier::T0,
            run: self.run.id,
            process: self.cfg.process.clone(),
            unit: None,
            stock: None,
            doc: Some(d.origin.clone()),
            message: d.reason.clone(),
            context: Some(json!({ "alert_index": d.index })),
        });
        Ok(())
    }

    fn unit_error(
        &mut self,
        unit: &str,
        stock: Option<StockId>,
        doc: String,
        e: &UnitError,
    ) -> Result<(), T0Error> {
        self.stats.errors += 1;
        self.buffer.troubles.push(TroubleRecord {
            ts: self.clock.now(),
            tier: Tier::T0,
            run: self.run.id,
            process: self.cfg.process.clone(),
            unit: Some(unit.to_string()),
            stock,
            doc: Some(doc),
            message: e.to_string(),
            context: None,
        });
        if self.stats.errors >= self.cfg.error_max {
            return Err(T0Error::TooManyErrors {
                errors: self.stats.errors,
                max: self.cfg.error_max,
            });
        }
        Ok(())
    }

    fn packet(&mut self, mut p: Packet) -> Result<(), T0Error> {
        if let (Some((projection, fields)), Payload::Avro(Avro::Record(r))) =
            (self.projection.as_mut(), &p.payload)
        {
            // the reader's preview, if it was made with these fields
            let json = match p.preview.take() {
                Some(pre) if std::sync::Arc::ptr_eq(&pre.fields, fields) => pre.json,
                _ => projection.to_json(r),
            };
            let preview = self.supplier.supply(json);
            // a packet the supplier cannot use goes the whole way, to be reported
            // exactly as without projection
            if let Ok(preview) = preview {
                let origin = format!("{}#{}", p.origin, p.index);
                self.stats.alerts += 1;
                let accepted = self.decide(&preview, &origin)?;
                if accepted.is_empty() {
                    return Ok(());
                }
                return match self.supplier.supply(r.to_json()) {
                    Ok(alert) => self.accept(alert, &origin, &accepted),
                    Err(e) => self.trouble_input(&Damaged {
                        origin: p.origin,
                        index: Some(p.index),
                        reason: format!("unusable alert: {e}"),
                    }),
                };
            }
        }
        let json = match p.payload {
            Payload::Json(j @ serde_json::Value::Object(_)) => j,
            Payload::Avro(Avro::Record(r)) => r.to_json(),
            _ => {
                let d = Damaged {
                    origin: p.origin,
                    index: Some(p.index),
                    reason: "packet is not a record".into(),
                };
                return self.trouble_input(&d);
            }
        };
        let alert = match self.supplier.supply(json) {
            Ok(a) => a,
            Err(e) => {
                let d = Damaged {
                    origin: p.origin,
                    index: Some(p.index),
                    reason: format!("unusable alert: {e}"),
                };
                return self.trouble_input(&d);
            }
        };
        self.stats.alerts += 1;
        self.alert(alert, &format!("{}#{}", p.origin, p.index))
    }

    fn known_channels(&self, stock: StockId) -> Result<BTreeSet<String>, T0Error> {
        let mut known = self
            .store
            .get_stock(stock)?
            .map(|s| s.channel)
            .unwrap_or_default();
        for s in self.buffer.stocks.iter().filter(|s| s.stock == stock) {
            known.extend(s.channel.iter().cloned());
        }
        Ok(known)
    }

    /// Filter and ingest one alert.
    pub fn alert(&mut self, alert: AmpelAlert, origin: &str) -> Result<(), T0Error> {
        let accepted = self.decide(&alert, origin)?;
        if accepted.is_empty() {
            return Ok(());
        }
        self.accept(alert, origin, &accepted)
    }

    /// Run every channel's filter (counting, registering rejections, recording
    /// filter errors); the indices of the accepting directives.
    fn decide(&mut self, alert: &AmpelAlert, origin: &str) -> Result<Vec<usize>, T0Error> {
        let known = if self.directives.iter().any(|d| d.on_stock_match.is_some()) {
            self.known_channels(alert.stock)?
        } else {
            BTreeSet::new()
        };
        let mut accepted: Vec<usize> = Vec::new();
        let mut failures = Vec::new();
        for (i, d) in self.directives.iter().enumerate() {
            let is_known = known.contains(&d.channel);
            let decision = match (&d.filter, d.on_stock_match) {
                (_, Some(OnStockMatch::Bypass)) if is_known => FilterDecision::Accept,
                (None, _) => FilterDecision::Accept,
                (Some((f, _)), _) => match f.process(alert) {
                    Ok(dec) => dec,
                    Err(e) => {
                        failures.push((i, e));
                        FilterDecision::Reject(None)
                    }
                },
            };
            let mut ok = match (&d.groups, decision) {
                (Some(groups), FilterDecision::AcceptGroup(g)) => groups.contains(&g),
                (Some(_), _) => false,
                (None, dec) => dec.accepted(),
            };
            if !ok && d.on_stock_match == Some(OnStockMatch::Overrule) && is_known {
                ok = true;
            }
            let counter = if ok {
                &mut self.stats.accepted
            } else {
                &mut self.stats.rejected
            };
            *counter.entry(d.channel.clone()).or_default() += 1;
            if ok {
                accepted.push(i);
            } else if let Some(sink) = self.rejected.as_mut() {
                let code = match decision {
                    FilterDecision::Reject(Some(c)) => c,
                    _ => 0,
                };
                let line = format!("{},{},{},{code}\n", d.channel, alert.id, alert.stock);
                sink.write_all(line.as_bytes())
                    .map_err(|e| T0Error::Config(format!("rejected-alert register: {e}")))?;
                self.rejected_bytes += line.len() as u64;
            }
        }
        for (i, e) in failures {
            let unit = self.cfg.directives[i]
                .filter
                .as_ref()
                .map(|f| f.unit.clone())
                .unwrap_or_default();
            self.unit_error(&unit, Some(alert.stock), origin.to_string(), &e)?;
        }
        Ok(accepted)
    }

    /// Ingest an alert accepted by the directives `accepted`.
    fn accept(
        &mut self,
        alert: AmpelAlert,
        origin: &str,
        accepted: &[usize],
    ) -> Result<(), T0Error> {
        self.ingest(alert, origin, accepted)?;
        self.buffer.alerts += 1;
        if self.buffer.dps.len() >= self.cfg.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn meta(
        &self,
        tier: Tier,
        code: DocumentCode,
        channels: &BTreeSet<String>,
        alert: i64,
    ) -> MetaRecord {
        let mut m = MetaRecord::new(self.run.id, self.clock.now(), tier, code);
        m.traceid = self.traces.clone();
        m.activity = vec![Activity {
            action: MetaActionCode::ADD_CHANNEL,
            channel: channels.clone(),
            tag: BTreeSet::new(),
            code: None,
        }];
        m.extra = Some(json!({ "alert": alert }));
        m
    }

    fn ingest(
        &mut self,
        alert: AmpelAlert,
        origin: &str,
        accepted: &[usize],
    ) -> Result<(), T0Error> {
        let (alert_id, stock) = (alert.id, alert.stock);
        let name = alert.name.clone();
        if let Some(jd) = alert.jd {
            self.clock.observe(jd_to_unix(jd));
        }
        let now = self.clock.now();
        let channels: BTreeSet<String> = accepted
            .iter()
            .map(|i| self.directives[*i].channel.clone())
            .collect();
        let shaped = match self.shaper.process(alert) {
            Ok(s) => s,
            Err(e) => {
                return self.unit_error(
                    &self.cfg.shaper.unit.clone(),
                    Some(stock),
                    origin.to_string(),
                    &e,
                )
            }
        };
        let meta = self.meta(Tier::T0, DocumentCode::OK, &channels, alert_id);
        let dps: Vec<DataPoint> = shaped
            .into_iter()
            .map(|s| DataPoint {
                id: s.id,
                stock: BTreeSet::from([stock]),
                origin: None,
                tag: s.tag,
                channel: channels.clone(),
                excl: BTreeSet::new(),
                meta: vec![meta.clone()],
                body: s.body,
                expiry: None,
            })
            .collect();
        // the muxer decides what to insert and what to combine, by id
        let mut known = Vec::new();
        let mux = match &self.muxer {
            None => {
                let ids: Vec<DataPointId> = dps.iter().map(|d| d.id).collect();
                MuxResult {
                    insert: ids.clone(),
                    updated: Vec::new(),
                    combine: ids,
                }
            }
            Some(m) => {
                known = self.store.stock_datapoints(stock)?;
                let stored: BTreeSet<DataPointId> = known.iter().map(|d| d.id).collect();
                let pending = self
                    .buffer
                    .dps
                    .iter()
                    .filter(|d| d.stock.contains(&stock) && !stored.contains(&d.id));
                known.extend(pending.cloned());
                match m.process(&dps, &known) {
                    Ok(r) => r,
                    Err(e) => {
                        let unit = self
                            .cfg
                            .muxer
                            .as_ref()
                            .map(|m| m.unit.clone())
                            .unwrap_or_default();
                        return self.unit_error(&unit, Some(stock), origin.to_string(), &e);
                    }
                }
            }
        };
        let mut links = Vec::new();
        let mut errors = Vec::new();
        {
            let mut pool: HashMap<DataPointId, &DataPoint> =
                known.iter().chain(&dps).map(|d| (d.id, d)).collect();
            pool.extend(mux.updated.iter().map(|d| (d.id, d)));
            let combine: Vec<&DataPoint> = mux
                .combine
                .iter()
                .filter_map(|id| pool.get(id).copied())
                .collect();
            for &i in accepted {
                let d = &self.directives[i];
                let ch = BTreeSet::from([d.channel.clone()]);
                let ch_dps: Vec<&DataPoint> = combine
                    .iter()
                    .filter(|dp| !dp.excl.contains(&d.channel))
                    .copied()
                    .collect();
                for (ci, c) in d.combine.iter().enumerate() {
                    let results = match c.unit.combine(&ch_dps) {
                        Ok(r) => r,
                        Err(e) => {
                            errors
                                .push((self.cfg.directives[i].ingest.combine[ci].unit.clone(), e));
                            continue;
                        }
                    };
                    for r in results {
                        let link = link_hash(&r.dps);
                        links.push(link);
                        let mut m = self.meta(Tier::T1, DocumentCode::OK, &ch, alert_id);
                        m.traceid.insert("combiner".into(), c.trace);
                        self.buffer.states.push(T1Document {
                            stock,
                            link,
                            dps: r.dps,
                            channel: ch.clone(),
                            tag: r.tag,
                            code: r.code.unwrap_or(DocumentCode::OK),
                            meta: vec![m],
                            body: vec![],
                        });
                        for t in &c.state_t2 {
                            let meta = self.meta(Tier::T0, DocumentCode::NEW, &ch, alert_id);
                            self.buffer.tickets.push(ticket(
                                stock,
                                t,
                                link,
                                T2Kind::State,
                                &ch,
                                meta,
                            ));
                        }
                    }
                }
                for t in &d.point_t2 {
                    for dp in select(&combine, &t.selection) {
                        let meta = self.meta(Tier::T0, DocumentCode::NEW, &ch, alert_id);
                        self.buffer
                            .tickets
                            .push(ticket(stock, t, dp, T2Kind::Point, &ch, meta));
                    }
                }
                for t in &d.stock_t2 {
                    let meta = self.meta(Tier::T0, DocumentCode::NEW, &ch, alert_id);
                    self.buffer
                        .tickets
                        .push(ticket(stock, t, stock, T2Kind::Stock, &ch, meta));
                }
            }
        }
        // move the datapoints to write into the buffer (changed versions win)
        let insert: BTreeSet<DataPointId> = mux.insert.iter().copied().collect();
        let mut updated: HashMap<DataPointId, DataPoint> =
            mux.updated.into_iter().map(|d| (d.id, d)).collect();
        let mut out: Vec<DataPoint> = dps
            .into_iter()
            .filter(|d| insert.contains(&d.id))
            .map(|d| updated.remove(&d.id).unwrap_or(d))
            .collect();
        let mut rest: Vec<DataPoint> = updated.into_values().collect();
        rest.sort_by_key(|d| d.id);
        out.extend(rest);
        for mut dp in out {
            for m in dp.meta.iter_mut().filter(|m| m.run == 0) {
                m.run = self.run.id;
                m.ts = now;
            }
            self.buffer.dps.push(dp);
        }
        for (unit, e) in errors {
            self.unit_error(&unit, Some(stock), origin.to_string(), &e)?;
        }
        for ch in &channels {
            self.buffer.logs.push(LogRecord {
                ts: now,
                run: self.run.id,
                flag: LogFlag::T0 | LogFlag::CORE | LogFlag::INFO,
                stock: Some(stock),
                channel: Some(ch.clone()),
                unit: None,
                msg: format!("alert {alert_id} accepted"),
                extra: Some(json!({ "alert": alert_id, "links": links })),
            });
        }
        self.buffer.stocks.push(StockUpsert {
            stock,
            origin: None,
            channel: channels.clone(),
            tag: BTreeSet::new(),
            name: name.into_iter().collect(),
            ts: now,
            journal: vec![JournalRecord {
                tier: Tier::T0,
                ts: now,
                run: self.run.id,
                process: self.cfg.process.clone(),
                channel: channels,
                unit: None,
                doc: None,
                action: JournalActionCode::STOCK_ADD_CHANNEL
                    | JournalActionCode::STOCK_BUMP_UPD
                    | JournalActionCode::T0_ADD_CHANNEL,
                code: None,
                tag: BTreeSet::new(),
                traceid: self.traces.clone(),
                extra: Some(json!({ "alert": alert_id, "link": links })),
            }],
        });
        Ok(())
    }

    /// Write everything pending: datapoints, states, tickets, then stocks.
    pub fn flush(&mut self) -> Result<(), T0Error> {
        self.write(EventCode::RUNNING, None)
    }

    /// Write the buffer with the run's event: the register first, so the
    /// checkpoint never covers lines it does not hold.
    fn write(&mut self, code: EventCode, duration: Option<f64>) -> Result<(), T0Error> {
        if let Some(sink) = self.rejected.as_mut() {
            sink.flush()
                .map_err(|e| T0Error::Config(format!("rejected-alert register: {e}")))?;
        }
        let b = std::mem::take(&mut self.buffer);
        // an alert counts as ingested only once its batch is written
        self.run.write(
            b,
            &mut self.stats,
            self.clock,
            self.rejected_bytes,
            code,
            duration,
        )
    }

    /// Flush and close the run (its event gets the counts).
    pub fn finish(mut self, duration: f64, stopped: Option<&T0Error>) -> Result<T0Stats, T0Error> {
        if matches!(self.run.opened, Opened::AlreadyDone { .. }) {
            return Ok(self.stats);
        }
        let code = match stopped {
            None => EventCode::OK,
            Some(_) => EventCode::ERROR,
        };
        self.write(code, Some(duration))?;
        Ok(self.stats)
    }
}
