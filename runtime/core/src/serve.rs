//! Scheduled processes: `ampel serve` runs every active process on its schedule,
//! and live T0 processes (tier 0, `schedule = "live"`, a Kafka source) for the
//! whole time, beside them.
//!
//! A process is a tier, a schedule (`every 30s` / `every 5m` / `every 1h`, or a cron
//! expression with seconds, e.g. `0 */5 * * * *`) and the tier's config. The
//! scheduler never overlaps two runs of one process, runs at most `max_concurrent`
//! processes at once (a due process waits for a free slot), and on stop starts
//! nothing new: running T2 workers finish their current batch, T3 runs finish, then
//! it returns. (Python AMPEL validates schedules but no longer runs them.)

use crate::t2::{T2Worker, T2WorkerConfig};
use crate::t3::{run_t3, Select, T3Config, T3UnitModel};
use crate::ClockMode;
use ampel_interface::Registry;
use ampel_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// When a process runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so often, from start-up.
    Every(Duration),
    /// A cron expression (with seconds).
    Cron(Box<cron::Schedule>),
}

/// The shortest `every` interval: 0.1 s (a T2 worker polling a live stream).
pub const MIN_INTERVAL_SECS: f64 = 0.1;
/// The longest `every` interval: 366 days.
pub const MAX_INTERVAL_SECS: f64 = 366.0 * 86_400.0;

impl Schedule {
    /// Parse `every <n><s|m|h>` (0.1 s to 366 days) or a cron expression.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("every ") {
            let rest = rest.trim();
            let (num, unit) = rest.split_at(
                rest.find(|c: char| !c.is_ascii_digit() && c != '.')
                    .unwrap_or(rest.len()),
            );
            let n: f64 = num
                .parse()
                .map_err(|_| format!("`{s}`: expected a number after `every`, e.g. `every 30s`"))?;
            let secs = match unit.trim() {
                "s" | "sec" | "seconds" => n,
                "m" | "min" | "minutes" => n * 60.0,
                "h" | "hours" => n * 3600.0,
                other => return Err(format!("`{s}`: unknown unit `{other}` (use s, m or h)")),
            };
            // bounded before it becomes a Duration (which panics past u64 seconds): a
            // sub-second interval is a busy loop, more than a year a typo
            if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&secs) {
                return Err(format!(
                    "`{s}`: the interval must be between {MIN_INTERVAL_SECS} s and {} days",
                    MAX_INTERVAL_SECS / 86_400.0
                ));
            }
            return Ok(Schedule::Every(Duration::from_secs_f64(secs)));
        }
        cron::Schedule::from_str(s)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|e| {
                // the cron crate's message spans lines (it echoes the input
                // with a caret); keep only its last line so every problem
                // stays one line in a report
                let e = e.to_string();
                let why = e.lines().last().unwrap_or_default().trim();
                format!(
                    "`{s}` is neither `every <n>s|m|h` nor a cron expression with seconds ({why})"
                )
            })
    }

    /// The first run time strictly after `t`.
    pub fn next_after(&self, t: SystemTime) -> SystemTime {
        match self {
            Schedule::Every(d) => t + *d,
            Schedule::Cron(c) => {
                let dt: chrono::DateTime<chrono::Utc> = t.into();
                c.after(&dt)
                    .next()
                    .map(SystemTime::from)
                    .unwrap_or(t + Duration::from_secs(86_400 * 365))
            }
        }
    }
}

/// A scheduled process, as written in the processes file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// Unique name.
    pub name: String,
    /// Tier: 2 (T2 worker until the queue is empty) or 3 (a T3 run).
    pub tier: u8,
    /// `every 30s` or a cron expression with seconds.
    pub schedule: String,
    /// Inactive processes are parsed and checked but not run.
    #[serde(default = "yes")]
    pub active: bool,
    /// The channel a T3 process reports on (its units see only this channel).
    #[serde(default)]
    pub channel: Option<String>,
    /// T2: only these units.
    #[serde(default)]
    pub units: Vec<String>,
    /// T3: selection.
    #[serde(default)]
    pub select: Option<Select>,
    /// T3: what is loaded per selected stock (default: datapoints, the latest
    /// state, every T2 result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::t3::Load>,
    /// T3: the units.
    #[serde(default, rename = "t3_units")]
    pub t3_units: Vec<T3UnitModel>,
    /// T0 (live): the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaSource>,
    /// T0 (live): the T0 config file (TOML or JSON), relative to the processes file;
    /// an instance's live process uses the instance's T0 process instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0_config: Option<PathBuf>,
}

/// The Kafka source of a live T0 process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSource {
    /// `host:port[,...]`; empty: taken from `$AMPEL_KAFKA_BROKERS` when it runs.
    #[serde(default)]
    pub brokers: String,
    /// Topics.
    pub topics: Vec<String>,
    /// Consumer group.
    pub group: String,
}

/// The schedule of live processes.
pub const LIVE: &str = "live";

fn yes() -> bool {
    true
}

impl ProcessConfig {
    /// The T3 run of a tier-3 process: its selection (by default the stocks of its
    /// channel) and its units, each seeing the process's channel unless it names one.
    pub fn t3_config(&self) -> T3Config {
        let mut select = self.select.clone().unwrap_or_default();
        if let Some(c) = &self.channel {
            if select.channel_any.is_empty() {
                select.channel_any = vec![c.clone()];
            }
        }
        T3Config {
            process: self.name.clone(),
            select,
            load: self.load.clone().unwrap_or_default(),
            units: self
                .t3_units
                .iter()
                .map(|u| T3UnitModel {
                    channel: u.channel.clone().or_else(|| self.channel.clone()),
                    ..u.clone()
                })
                .collect(),
        }
    }
}

/// The processes file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessesFile {
    /// Processes.
    #[serde(rename = "process")]
    pub processes: Vec<ProcessConfig>,
}

/// A checked process.
pub struct Process {
    /// Its config.
    pub cfg: ProcessConfig,
    /// Its parsed schedule.
    pub schedule: Schedule,
}

/// Read and check a processes file, reporting every problem at once (unknown
/// tiers, duplicate names, schedules that do not parse, unknown units).
pub fn load_processes(path: &Path, registry: &Registry) -> Result<Vec<Process>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: ProcessesFile = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| crate::job::line_col(&text, s.start))
            .unwrap_or((0, 0));
        format!("{}:{}:{}: {}", path.display(), at.0, at.1, e.message())
    })?;
    let origin = path.display().to_string();
    // a live T0 process's own config file is read when the process starts: check
    // it now, with every other problem
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems: Vec<String> = Vec::new();
    for (i, p) in file.processes.iter().enumerate() {
        if p.tier != 0 {
            continue;
        }
        let at = format!("{origin}: process[{i}] `{}`: t0_config", p.name);
        let Some(f) = p.t0_config.as_ref() else {
            problems.push(format!(
                "{at}: a live T0 process needs its T0 config: t0_config = \"FILE\""
            ));
            continue;
        };
        match crate::job::load_t0_config(&base.join(f)) {
            Err(e) => problems.push(format!("{at}: {e}")),
            Ok(cfg) => problems.extend(
                (cfg.check(registry).err().unwrap_or_default())
                    .into_iter()
                    .map(|e| format!("{at} {}: {e}", f.display())),
            ),
        }
    }
    match check_processes(file.processes, registry, &origin) {
        Ok(p) if problems.is_empty() => Ok(p),
        Ok(_) => Err(problems.join("\n")),
        Err(e) if problems.is_empty() => Err(e),
        Err(e) => Err(format!("{e}\n{}", problems.join("\n"))),
    }
}

/// Check processes (from `origin`, a file name for messages), reporting every
/// problem at once.
pub fn check_processes(
    processes: Vec<ProcessConfig>,
    registry: &Registry,
    origin: &str,
) -> Result<Vec<Process>, String> {
    let mut problems = Vec::new();
    let mut names = BTreeMap::new();
    let mut out = Vec::new();
    for (i, p) in processes.into_iter().enumerate() {
        let at = format!("{origin}: process[{i}] `{}`", p.name);
        if names.insert(p.name.clone(), i).is_some() {
            problems.push(format!("{at}: the name is used twice"));
        }
        if !matches!(p.tier, 0 | 2 | 3) {
            problems.push(format!(
                "{at}: tier {} cannot run here (0: live T0 from Kafka, 2: T2 worker, 3: T3 run)",
                p.tier
            ));
        }
        if p.tier == 0 {
            if p.kafka.is_none() {
                problems.push(format!(
                    "{at}: a live T0 process needs `kafka = {{ brokers, topics, group }}`"
                ));
            }
            if p.schedule != LIVE {
                problems.push(format!(
                    "{at}: a live T0 process runs all the time: schedule = \"{LIVE}\""
                ));
            }
            out.push(Process {
                schedule: Schedule::Every(Duration::from_secs(3600)),
                cfg: p,
            });
            continue;
        }
        for u in p.units.iter().chain(p.t3_units.iter().map(|m| &m.unit)) {
            if let Err(e) = registry.get(u) {
                problems.push(format!("{at}: {e}"));
            }
        }
        if p.tier == 3 && p.t3_units.is_empty() {
            problems.push(format!("{at}: a T3 process needs `t3_units`"));
        }
        match Schedule::parse(&p.schedule) {
            Ok(schedule) => out.push(Process { cfg: p, schedule }),
            Err(e) => problems.push(format!("{at}: schedule {e}")),
        }
    }
    for p in &out {
        if let Some(other) = p
            .cfg
            .select
            .as_ref()
            .and_then(|s| s.since_last_run_of.as_ref())
        {
            if !names.contains_key(other) {
                problems.push(format!(
                    "{origin}: process `{}`: since_last_run_of names an unknown process `{other}` (known: {})",
                    p.cfg.name,
                    names.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("\n"))
    }
}

/// Run one process once.
fn run_once(
    p: &ProcessConfig,
    registry: &Registry,
    store: &dyn Store,
    mode: ClockMode,
    stop: &AtomicBool,
    out_dir: &Path,
) -> Result<(), String> {
    match p.tier {
        2 => {
            let cfg = T2WorkerConfig {
                process: p.name.clone(),
                units: (!p.units.is_empty()).then(|| p.units.clone()),
                data_time: mode.t2_data_time(),
                ..T2WorkerConfig::default()
            };
            let mut w = T2Worker::new(cfg, registry, store).map_err(|e| e.to_string())?;
            w.run(true, stop).map_err(|e| e.to_string())?;
            w.finish().map(|_| ()).map_err(|e| e.to_string())
        }
        _ => {
            let cfg = p.t3_config();
            let clock = mode.t3_clock(store).map_err(|e| e.to_string())?;
            let r = run_t3(&cfg, registry, store, &clock, out_dir).map_err(|e| e.to_string())?;
            if r.failed.is_empty() {
                Ok(())
            } else {
                Err(format!("{} unit(s) failed", r.failed.len()))
            }
        }
    }
}

/// Runs one live (tier-0) process until its stop flag is set; returns a summary.
pub type LiveRunner<'a> = dyn Fn(&ProcessConfig, &AtomicBool) -> Result<String, String> + Sync + 'a;

/// Run the processes until `stop` is set. `open` opens a store connection per run;
/// `live` runs the live T0 processes (each on its own thread, for the whole time);
/// scheduled T2 and T3 runs follow `mode` (live, normally: see `clock`).
#[allow(clippy::too_many_arguments)]
pub fn serve(
    processes: &[Process],
    registry: &Registry,
    mode: ClockMode,
    open: &(dyn Fn() -> Result<Box<dyn Store>, String> + Sync),
    live: Option<&LiveRunner<'_>>,
    max_concurrent: usize,
    stop: &AtomicBool,
    out_dir: &Path,
    on_event: &(dyn Fn(&str) + Sync),
) {
    let live_processes: Vec<&Process> = processes
        .iter()
        .filter(|p| p.cfg.active && p.cfg.tier == 0)
        .collect();
    let active: Vec<&Process> = processes
        .iter()
        .filter(|p| p.cfg.active && p.cfg.tier != 0)
        .collect();
    let now = SystemTime::now();
    let mut due: Vec<SystemTime> = active.iter().map(|p| p.schedule.next_after(now)).collect();
    let running: Mutex<Vec<bool>> = Mutex::new(vec![false; active.len()]);
    let out_dir: PathBuf = out_dir.to_path_buf();
    std::thread::scope(|s| {
        for p in &live_processes {
            s.spawn(move || {
                on_event(&format!("{}: live T0 started", p.cfg.name));
                let result = match live {
                    Some(run) => run(&p.cfg, stop),
                    None => Err("this binary was built without Kafka (an instance links it when its manifest has a [live] section)".into()),
                };
                match result {
                    Ok(summary) => on_event(&format!("{}: live T0 stopped: {summary}", p.cfg.name)),
                    Err(e) => on_event(&format!("{}: live T0 failed: {e}", p.cfg.name)),
                }
            });
        }
        while !stop.load(Ordering::SeqCst) {
            let now = SystemTime::now();
            for (i, p) in active.iter().enumerate() {
                if due[i] > now {
                    continue;
                }
                let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                let busy = r.iter().filter(|b| **b).count();
                if r[i] {
                    // still running: skip this slot rather than overlap
                    due[i] = p.schedule.next_after(now);
                    on_event(&format!(
                        "{}: previous run still going, skipped one slot",
                        p.cfg.name
                    ));
                    continue;
                }
                if busy >= max_concurrent.max(1) {
                    continue; // stays due; starts when a slot frees
                }
                r[i] = true;
                drop(r);
                due[i] = p.schedule.next_after(now);
                let (running, out_dir) = (&running, &out_dir);
                s.spawn(move || {
                    on_event(&format!("{}: run started", p.cfg.name));
                    let result = open().and_then(|store| {
                        run_once(&p.cfg, registry, store.as_ref(), mode, stop, out_dir)
                    });
                    match result {
                        Ok(()) => on_event(&format!("{}: run finished", p.cfg.name)),
                        Err(e) => on_event(&format!("{}: run failed: {e}", p.cfg.name)),
                    }
                    running.lock().unwrap_or_else(|e| e.into_inner())[i] = false;
                });
            }
            let next = due
                .iter()
                .min()
                .copied()
                .unwrap_or(now + Duration::from_secs(1));
            let wait = next
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .min(Duration::from_millis(200));
            std::thread::sleep(wait.max(Duration::from_millis(10)));
        }
        on_event("stopping: no new runs; waiting for running ones to finish their batch");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_or_say_why() {
        assert!(
            matches!(Schedule::parse("every 30s"), Ok(Schedule::Every(d)) if d == Duration::from_secs(30))
        );
        assert!(
            matches!(Schedule::parse("every 5m"), Ok(Schedule::Every(d)) if d == Duration::from_secs(300))
        );
        assert!(matches!(
            Schedule::parse("0 */5 * * * *"),
            Ok(Schedule::Cron(_))
        ));
        for bad in [
            "every 99999999999999999999s",
            "every 0.000000001s",
            "every 0s",
            "every 400000h",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("between 0.1 s and 366 days"), "{bad}: {e}");
        }
        assert!(Schedule::parse("every 5 fortnights")
            .unwrap_err()
            .contains("unknown unit `fortnights`"));
        assert!(Schedule::parse("at noon")
            .unwrap_err()
            .contains("neither `every <n>s|m|h` nor a cron expression"));
        let c = Schedule::parse("0 0 * * * *").unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(3_600 * 10 + 5);
        assert_eq!(
            c.next_after(t),
            SystemTime::UNIX_EPOCH + Duration::from_secs(3_600 * 11)
        );
    }
}
