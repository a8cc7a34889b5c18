//! Where "now" comes from, by one rule for every tier ([`ClockMode`]): **live**
//! runs read the wall clock; **archive** runs take time from the data, so a rerun
//! of the same inputs writes identical timestamps:
//!
//! - T0: each alert's observation time (a clock that starts at 0 per run and only
//!   moves forward, [`Clock::observe`]);
//! - T2: the ingestion time of the ticket being processed;
//! - T3: the store's data time, the latest update of any stock
//!   ([`ampel_store::Store::data_time`]), so `since_last_run_of` compares data
//!   time with data time and a later T0 batch's stocks are selected.
//!
//! `ampel t0|t2|t3|job|instance run` default to archive, `ampel serve`, `instance
//! serve` and `kafka consume` to live; `--clock` (or `AMPEL_CLOCK`) chooses.

use ampel_interface::UnixTime;
use ampel_store::{Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};

/// Source of the current time.
#[derive(Debug)]
pub enum Clock {
    /// Wall clock.
    Live,
    /// Time taken from the data: the latest time [`Clock::observe`]d so far.
    Archive(AtomicU64),
}

impl Clock {
    /// An archive clock starting at `t`.
    pub fn archive(t: UnixTime) -> Self {
        Clock::Archive(AtomicU64::new(t.to_bits()))
    }

    /// The current time.
    pub fn now(&self) -> UnixTime {
        match self {
            Clock::Live => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            Clock::Archive(t) => f64::from_bits(t.load(Ordering::SeqCst)),
        }
    }

    /// Advance an archive clock to `t` if later; a live clock ignores it.
    pub fn observe(&self, t: UnixTime) {
        if let Clock::Archive(cur) = self {
            let _ = cur.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
                (t > f64::from_bits(bits)).then_some(t.to_bits())
            });
        }
    }
}

/// Which clock rule a run follows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Time from the data (reprocessing archives; reruns give identical documents).
    #[default]
    Archive,
    /// Wall time (live streams, serving).
    Live,
}

impl ClockMode {
    /// The clock of a T0 run.
    pub fn t0_clock(self) -> Clock {
        match self {
            ClockMode::Archive => Clock::archive(0.0),
            ClockMode::Live => Clock::Live,
        }
    }

    /// Whether T2 results are stamped with their ticket's ingestion time.
    pub fn t2_data_time(self) -> bool {
        self == ClockMode::Archive
    }

    /// The clock of a T3 run on `store`.
    pub fn t3_clock(self, store: &dyn Store) -> Result<Clock, StoreError> {
        Ok(match self {
            ClockMode::Archive => Clock::archive(store.data_time()?.unwrap_or(0.0)),
            ClockMode::Live => Clock::Live,
        })
    }
}

/// Julian date to Unix time.
pub fn jd_to_unix(jd: f64) -> UnixTime {
    (jd - 2_440_587.5) * 86_400.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_clock_only_moves_forward() {
        let c = Clock::archive(100.0);
        c.observe(50.0);
        assert_eq!(c.now(), 100.0);
        c.observe(150.5);
        assert_eq!(c.now(), 150.5);
    }

    #[test]
    fn julian_dates_convert() {
        assert_eq!(jd_to_unix(2_440_587.5), 0.0);
        assert_eq!(jd_to_unix(2_458_849.5), 1_577_836_800.0); // 2020-01-01
    }
}
