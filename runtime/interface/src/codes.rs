//! Numeric codes shared with Python AMPEL.
//!
//! Every value here is identical to the Python implementation
//! (`ampel.enum.DocumentCode`, `EventCode`, `MetaActionCode`, `JournalActionCode`,
//! `LogFlag`), so that documents written by either implementation can be read by the
//! other. Codes are newtypes over integers rather than Rust enums because units may
//! use their own positive document codes and flags combine bitwise.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The tier a document, event or log line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Tier {
    /// Alert ingestion.
    T0 = 0,
    /// State building.
    T1 = 1,
    /// Derived results per datapoint, state or stock.
    T2 = 2,
    /// Reactions over selections of stocks.
    T3 = 3,
    /// Stock-less tasks.
    T4 = 4,
}

impl From<Tier> for u8 {
    fn from(t: Tier) -> u8 {
        t as u8
    }
}

impl TryFrom<u8> for Tier {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => Tier::T0,
            1 => Tier::T1,
            2 => Tier::T2,
            3 => Tier::T3,
            4 => Tier::T4,
            other => return Err(format!("tier must be 0..=4, got {other}")),
        })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", *self as u8)
    }
}

macro_rules! named_codes {
    ($(#[$m:meta])* $name:ident($repr:ty) { $($(#[$cm:meta])* $konst:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $repr);

        impl $name {
            $($(#[$cm])* pub const $konst: $name = $name($val);)*

            /// Every named value, in declaration order.
            pub const ALL: &'static [(&'static str, $name)] = &[$((stringify!($konst), $name($val))),*];

            /// The Python AMPEL name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                Self::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{n} ({})", self.0),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}

named_codes! {
    /// Code of a t1/t2/t3 document (`ampel.enum.DocumentCode`). Negative values are
    /// reserved for the system; units may return positive values of their own.
    DocumentCode(i32) {
        /// Processed successfully.
        OK = 0,
        /// Created, waiting to be processed.
        NEW = -1,
        /// The unit returned an unusable result.
        ERROR = -2,
        /// A runtime failure not caused by the unit.
        INTERNAL_ERROR = -3,
        /// The unit failed (panicked or returned an error).
        EXCEPTION = -4,
        /// Claimed by a worker.
        RUNNING = -5,
        /// Asked to be computed again.
        RERUN_REQUESTED = -6,
        /// Failed more often than the worker's `max_try`.
        TOO_MANY_TRIALS = -7,
        /// No code set.
        NOT_SET = -8,
        /// T1 with priority.
        T1_NEW_PRIO = -1000,
        /// T1 compute config unknown.
        T1_UNKNOWN_CONFIG = -1001,
        /// T2 with priority.
        T2_NEW_PRIO = -2000,
        /// Waits for a T2 it depends on.
        PENDING_DEPENDENCY = -2001,
        /// Queued elsewhere.
        QUEUED = -2002,
        /// Exported to an external processor.
        EXPORTED = -2003,
        /// The T1 state or datapoint the ticket links to does not exist.
        UNKNOWN_LINK = -2004,
        /// The config hash is not registered.
        UNKNOWN_CONFIG = -2005,
        /// A dependency does not exist.
        MISSING_DEPENDENCY = -2006,
        /// A dependency of an unexpected kind.
        UNEXPECTED_DEPENDENCY = -2007,
        /// Input information is missing.
        MISSING_INFO = -2008,
        /// Result made by an outdated unit version or config.
        OUTDATED_CODE = -2009,
        /// A dependency failed.
        FAILED_DEPENDENCY = -2010,
        /// A dependency's result is unusable.
        INADEQUATE_DEPENDENCY = -2011,
        /// T3 context error.
        T3_CONTEXT_ERROR = -3000,
        /// T3 selection error.
        T3_SELECT_ERROR = -3001,
        /// T3 load error.
        T3_LOAD_ERROR = -3002,
        /// T3 complement error.
        T3_COMPLEMENT_ERROR = -3003,
        /// T3 run error.
        T3_RUN_ERROR = -3004,
    }
}

impl DocumentCode {
    /// Codes a T2 worker claims by default (Python AMPEL's `code_match`).
    pub const CLAIMABLE: &'static [DocumentCode] = &[
        DocumentCode::NEW,
        DocumentCode::RERUN_REQUESTED,
        DocumentCode::T2_NEW_PRIO,
        DocumentCode::PENDING_DEPENDENCY,
    ];
}

named_codes! {
    /// Code of a process run event (`ampel.enum.EventCode`).
    EventCode(i32) {
        /// Finished successfully.
        OK = 0,
        /// Still running.
        RUNNING = 1,
        /// Finished, outcome unspecified.
        UNSPECIFIED = 2,
        /// The pre-check decided not to run.
        PRE_CHECK_EXIT = 3,
        /// Stopped before the end (e.g. SIGTERM).
        ABORTED = 4,
        /// Finished with errors.
        ERROR = -1,
        /// Failed.
        EXCEPTION = -2,
    }
}

macro_rules! flag_ops {
    ($name:ident) => {
        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, o: $name) -> $name {
                $name(self.0 | o.0)
            }
        }
        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, o: $name) {
                self.0 |= o.0;
            }
        }
        impl $name {
            /// True if every bit of `other` is set.
            pub fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// No bit set.
            pub const NONE: $name = $name(0);
        }
    };
}

named_codes! {
    /// What a meta record's activity did (`ampel.enum.MetaActionCode`), as bits.
    MetaActionCode(u64) {
        /// Done by a unit.
        UNIT = 1,
        /// Done from the command line.
        CLI = 2,
        /// Extra meta attached.
        EXTRA_META = 4,
        /// Extra journal attached.
        EXTRA_JOURNAL = 8,
        /// Code set by the system.
        SET_CODE = 16,
        /// Code set by the unit.
        SET_UNIT_CODE = 32,
        /// Ingestion tag added.
        ADD_INGEST_TAG = 64,
        /// Unit tag added.
        ADD_UNIT_TAG = 128,
        /// Worker tag added.
        ADD_WORKER_TAG = 1 << 8,
        /// Other tag added.
        ADD_OTHER_TAG = 1 << 9,
        /// Tag removed.
        PULL_TAG = 1 << 10,
        /// Channel added.
        ADD_CHANNEL = 1 << 11,
        /// Channel removed.
        PULL_CHANNEL = 1 << 12,
        /// Body appended.
        ADD_BODY = 1 << 13,
        /// Body removed.
        PULL_BODY = 1 << 14,
        /// Body reset.
        RESET_BODY = 1 << 15,
        /// T1 exclusion added.
        ADD_T1_EXCL = 1 << 16,
        /// Stock `upd` time bumped.
        BUMP_STOCK_UPD = 1 << 17,
    }
}
flag_ops!(MetaActionCode);

named_codes! {
    /// What a journal record did (`ampel.enum.JournalActionCode`), as bits.
    JournalActionCode(u64) {
        /// Datapoint gained a channel.
        T0_ADD_CHANNEL = 1,
        /// Datapoint lost a channel.
        T0_PULL_CHANNEL = 2,
        /// Datapoint gained a tag.
        T0_ADD_TAG = 4,
        /// Datapoint lost a tag.
        T0_PULL_TAG = 8,
        /// Datapoint gained an exclusion.
        T0_ADD_EXCL = 64,
        /// Datapoint lost an exclusion.
        T0_PULL_EXCL = 128,
        /// State gained a channel.
        T1_ADD_CHANNEL = 1 << 8,
        /// State lost a channel.
        T1_PULL_CHANNEL = 1 << 9,
        /// State body added.
        T1_ADD_BODY = 1 << 10,
        /// State tag added.
        T1_ADD_TAG = 1 << 11,
        /// State tag removed.
        T1_PULL_TAG = 1 << 12,
        /// State code set.
        T1_SET_CODE = 1 << 13,
        /// State extra meta.
        T1_EXTRA_META = 1 << 14,
        /// State extra journal.
        T1_EXTRA_JOURNAL = 1 << 15,
        /// T2 gained a channel.
        T2_ADD_CHANNEL = 1 << 16,
        /// T2 lost a channel.
        T2_PULL_CHANNEL = 1 << 17,
        /// T2 body appended.
        T2_ADD_BODY = 1 << 18,
        /// T2 tag added.
        T2_ADD_TAG = 1 << 19,
        /// T2 tag removed.
        T2_PULL_TAG = 1 << 20,
        /// T2 code set.
        T2_SET_CODE = 1 << 21,
        /// T2 extra journal.
        T2_EXTRA_JOURNAL = 1 << 22,
        /// T2 exported.
        T2_EXPORT_DOC = 1 << 23,
        /// T2 result imported.
        T2_IMPORT_RESULT = 1 << 24,
        /// T3 document made from this stock.
        T3_ADD_DOC = 1 << 25,
        /// Stock gained a channel.
        STOCK_ADD_CHANNEL = 1 << 26,
        /// Stock lost a channel.
        STOCK_PULL_CHANNEL = 1 << 27,
        /// Stock `upd` bumped.
        STOCK_BUMP_UPD = 1 << 28,
        /// Stock tag added.
        STOCK_ADD_TAG = 1 << 29,
        /// Stock tag removed.
        STOCK_PULL_TAG = 1 << 30,
        /// Stock name added.
        STOCK_ADD_NAME = 1 << 31,
        /// Stock name removed.
        STOCK_PULL_NAME = 1 << 32,
        /// Stock body set.
        STOCK_SET_BODY = 1 << 33,
        /// Stock body reset.
        STOCK_RESET_BODY = 1 << 34,
        /// State code reset.
        T1_RESET_CODE = 1 << 35,
        /// State body reset.
        T1_RESET_BODY = 1 << 36,
        /// T2 code reset.
        T2_RESET_CODE = 1 << 37,
        /// T2 body reset.
        T2_RESET_BODY = 1 << 38,
    }
}
flag_ops!(JournalActionCode);

named_codes! {
    /// Flags of a stored log record (`ampel.log.LogFlag`), as bits.
    LogFlag(u32) {
        /// From tier 0.
        T0 = 1,
        /// From tier 1.
        T1 = 2,
        /// From tier 2.
        T2 = 4,
        /// From tier 3.
        T3 = 8,
        /// From tier 4.
        T4 = 16,
        /// A scheduled run.
        SCHEDULED_RUN = 32,
        /// A manual run.
        MANUAL_RUN = 64,
        /// Written by a unit.
        UNIT = 128,
        /// Written by the runtime.
        CORE = 256,
        /// Live processing.
        LIVE = 1 << 9,
        /// Part of a job.
        JOB = 1 << 10,
        /// Debug level.
        DEBUG = 1 << 11,
        /// Verbose level.
        VERBOSE = 1 << 12,
        /// Info level.
        INFO = 1 << 13,
        /// Shout (stored as INFO).
        SHOUT = 1 << 14,
        /// Warning level.
        WARNING = 1 << 15,
        /// Error level.
        ERROR = 1 << 16,
    }
}
flag_ops!(LogFlag);

impl LogFlag {
    /// The flag for a tier.
    pub fn for_tier(t: Tier) -> LogFlag {
        LogFlag(1 << (t as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_values_are_pinned() {
        assert_eq!(DocumentCode::PENDING_DEPENDENCY.0, -2001);
        assert_eq!(DocumentCode::TOO_MANY_TRIALS.0, -7);
        assert_eq!(DocumentCode::T3_RUN_ERROR.0, -3004);
        assert_eq!(EventCode::PRE_CHECK_EXIT.0, 3);
        assert_eq!(EventCode::EXCEPTION.0, -2);
        assert_eq!(MetaActionCode::BUMP_STOCK_UPD.0, 131_072);
        assert_eq!(JournalActionCode::STOCK_ADD_NAME.0, 2_147_483_648);
        assert_eq!(JournalActionCode::T2_RESET_BODY.0, 1 << 38);
        assert_eq!(LogFlag::ERROR.0, 65_536);
        assert_eq!(LogFlag::for_tier(Tier::T3), LogFlag::T3);
    }

    #[test]
    fn display_names_known_and_unit_codes() {
        assert_eq!(DocumentCode::NEW.to_string(), "NEW (-1)");
        assert_eq!(DocumentCode(17).to_string(), "17");
        let j = JournalActionCode::STOCK_ADD_CHANNEL | JournalActionCode::STOCK_BUMP_UPD;
        assert!(j.contains(JournalActionCode::STOCK_BUMP_UPD));
        assert!(!j.contains(JournalActionCode::T3_ADD_DOC));
    }

    #[test]
    fn tier_serializes_as_integer() {
        assert_eq!(serde_json::to_string(&Tier::T2).unwrap(), "2");
        assert!(serde_json::from_str::<Tier>("7").is_err());
    }
}
