//! Where "now" comes from. Live runs read the wall clock; archive runs advance a
//! clock from the data (e.g. the alert's observation time), so a rerun of the same
//! inputs writes identical timestamps.

use ampel_interface::UnixTime;
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
