//! Progress of long steps, as the tiers see it: a step starts (with a total when it
//! is known), its count moves, it ends. How progress is shown (a bar on a terminal,
//! a line every few seconds in a log) is the caller's business: the command layer
//! implements [`Progress`] (`ampel_commands::progress::Reporter`).

/// Receives progress of long steps; every method may be called from any thread.
pub trait Progress: Sync {
    /// A step begins: `what` names it (e.g. `task 1/3 (t0)`), `unit` what is counted
    /// (`alerts read`, `tickets done`), `total` how many there will be, if known.
    fn start(&self, what: &str, unit: &str, total: Option<u64>);
    /// `done` items of the current step so far.
    fn set(&self, done: u64);
    /// The current step ended.
    fn finish(&self);
    /// A line worth showing beside the progress (a damaged input); none by default.
    fn note(&self, _line: &str) {}
}

/// Shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: &str, _: Option<u64>) {}
    fn set(&self, _: u64) {}
    fn finish(&self) {}
}
