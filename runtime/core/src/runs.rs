//! Runs and the processes behind them. Every run records its owner (host, boot
//! id, pid and the pid's start time) in its event, so a run whose process died —
//! `kill -9`, a crash, a power cut — can be told from one still running: on the
//! same machine by looking the process up, never by a timeout. A rerun of the same
//! process takes such a run over (same run id, so the documents it writes are
//! the ones an uninterrupted run would have written), with a compare-and-swap on
//! the event so two reruns cannot both take one run.

use ampel_interface::{Event, EventCode, RunId, RunOwner};
use ampel_store::{EventQuery, Store, StoreError};

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), if it exists.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) is in parentheses and may hold spaces
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The owner record of this process, working under `id`.
pub fn current_owner(id: impl Into<String>) -> RunOwner {
    let pid = std::process::id();
    let (host, boot) = this_machine();
    RunOwner {
        host: host.clone(),
        boot: boot.clone(),
        pid,
        since: start_ticks(pid).unwrap_or(0),
        id: id.into(),
    }
}

/// Whether a run's process is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs (on this machine).
    Alive,
    /// It is gone: no such process, another process under its pid, or an
    /// earlier boot of this machine.
    Dead,
    /// It ran on another machine (or recorded no owner): cannot be told here.
    Unknown,
}

/// This machine's host name and boot id, read once.
fn this_machine() -> &'static (String, String) {
    static MACHINE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    MACHINE.get_or_init(|| {
        (
            read_trimmed("/proc/sys/kernel/hostname"),
            read_trimmed("/proc/sys/kernel/random/boot_id"),
        )
    })
}

/// Look the owner's process up.
pub fn liveness(owner: &RunOwner) -> Liveness {
    let (host, boot) = this_machine();
    if owner.host != *host || owner.host.is_empty() {
        return Liveness::Unknown;
    }
    if owner.boot != *boot {
        return Liveness::Dead;
    }
    match start_ticks(owner.pid) {
        Some(t) if t == owner.since => Liveness::Alive,
        _ => Liveness::Dead,
    }
}

/// A run that never finished and whose process is gone.
pub fn died(e: &Event) -> bool {
    e.code == EventCode::RUNNING
        && e.owner
            .as_ref()
            .is_some_and(|o| liveness(o) == Liveness::Dead)
}

/// How a run was opened.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedRun {
    /// Its id.
    pub run: RunId,
    /// The event of the dead run taken over (its last checkpoint), if any.
    pub resumed: Option<Event>,
}

/// Open a run for `event` (its `run` is ignored): take over the latest run of the
/// same process and tier whose process died and for which `take_over` gives the
/// event to record in its place (`None`: not this one), else start a new run.
pub fn open_run(
    store: &dyn Store,
    event: &Event,
    take_over: impl Fn(&Event) -> Option<Event>,
) -> Result<OpenedRun, StoreError> {
    let running = store.events(&EventQuery {
        process: Some(event.process.clone()),
        code: Some(vec![EventCode::RUNNING]),
        ..Default::default()
    })?;
    for dead in running.iter().rev() {
        if dead.tier != event.tier || !died(dead) {
            continue;
        }
        let Some(new) = take_over(dead) else {
            continue;
        };
        let new = Event {
            run: dead.run,
            ..new
        };
        if store.take_over_run(dead, &new)? {
            return Ok(OpenedRun {
                run: dead.run,
                resumed: Some(dead.clone()),
            });
        }
    }
    Ok(OpenedRun {
        run: store.start_run(event)?,
        resumed: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_dead() {
        let me = current_owner("x");
        assert!(me.since > 0 && !me.boot.is_empty(), "{me:?}");
        assert_eq!(liveness(&me), Liveness::Alive);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let since = start_ticks(pid).unwrap_or(1);
        child.wait().unwrap();
        let gone = RunOwner {
            pid,
            since,
            ..me.clone()
        };
        assert_eq!(liveness(&gone), Liveness::Dead);
        // the same pid started at another time is another process
        let reused = RunOwner {
            since: me.since + 1,
            ..me.clone()
        };
        assert_eq!(liveness(&reused), Liveness::Dead);
        let elsewhere = RunOwner {
            host: format!("{}-elsewhere", me.host),
            ..me
        };
        assert_eq!(liveness(&elsewhere), Liveness::Unknown);
    }
}
