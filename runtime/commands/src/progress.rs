//! Progress on stderr for long steps (an instance build, each task of an archival
//! job): a bar on a terminal; without one (a CI log, `nohup`, a pipe) a line at least
//! every 10 s while a step runs, so a reader of the log always knows it is alive, and
//! one line when each step ends, in both cases.
//!
//! `AMPEL_PROGRESS=lines|bar|off` overrides the terminal check and
//! `AMPEL_PROGRESS_INTERVAL` (seconds) the line interval.

use ampel_core::Progress;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An updating bar (a terminal).
    Bar,
    /// A line every interval and one at each step's end (logs).
    Lines,
    /// Nothing.
    Off,
}

impl Mode {
    /// From `AMPEL_PROGRESS`, else a bar when stderr is a terminal and lines otherwise.
    pub fn from_env() -> Mode {
        match std::env::var("AMPEL_PROGRESS").as_deref() {
            Ok("lines") => Mode::Lines,
            Ok("bar") => Mode::Bar,
            Ok("off") => Mode::Off,
            _ if std::io::stderr().is_terminal() => Mode::Bar,
            _ => Mode::Lines,
        }
    }
}

/// The line interval: `AMPEL_PROGRESS_INTERVAL` seconds, default 10.
fn interval_from_env() -> Duration {
    std::env::var("AMPEL_PROGRESS_INTERVAL")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

struct Step {
    what: String,
    unit: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
}

impl Step {
    fn line(&self, ended: bool) -> String {
        let count = match self.total {
            Some(t) => format!("{}/{t} {}", self.done, self.unit),
            None => format!("{} {}", self.done, self.unit),
        };
        let secs = self.started.elapsed().as_secs_f64();
        if ended {
            format!("{}: {count}, done in {}", self.what, clock(secs))
        } else {
            format!("{}: {count} ({} so far)", self.what, clock(secs))
        }
    }
}

/// `12.3 s` or `4 min 05 s`.
fn clock(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let s = secs.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

#[derive(Default)]
struct State {
    step: Option<Step>,
    stop: bool,
}

/// Where lines go: stderr, or a buffer in tests.
type Sink = Box<dyn std::io::Write + Send>;

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    sink: Mutex<Sink>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn say(&self, line: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(sink, "{line}");
        let _ = sink.flush();
    }
}

/// Shows progress on stderr (see the module doc).
pub struct Reporter {
    mode: Mode,
    shared: Arc<Shared>,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Reporter {
    /// A reporter in the mode the environment asks for ([`Mode::from_env`]).
    pub fn from_env() -> Reporter {
        Reporter::new(Mode::from_env(), interval_from_env())
    }

    /// A reporter in `mode`; in [`Mode::Lines`] a line every `interval` while a step
    /// runs.
    pub fn new(mode: Mode, interval: Duration) -> Reporter {
        Reporter::with_sink(mode, interval, Box::new(std::io::stderr()))
    }

    /// As [`Reporter::new`], writing lines to `sink`.
    pub fn with_sink(mode: Mode, interval: Duration, sink: Sink) -> Reporter {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            sink: Mutex::new(sink),
        });
        let ticker = (mode == Mode::Lines).then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || tick(&shared, interval))
        });
        Reporter {
            mode,
            shared,
            bar: Mutex::new(None),
            ticker,
        }
    }

    /// Print a line of its own (e.g. a damaged input) without tearing the bar.
    pub fn println(&self, line: &str) {
        match self.bar().as_ref() {
            Some(bar) => bar.suspend(|| self.shared.say(line)),
            None => self.shared.say(line),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The line thread: wakes every `interval` and prints the running step, if any.
fn tick(shared: &Shared, interval: Duration) {
    let mut state = shared.lock();
    loop {
        let (s, _) = shared
            .wake
            .wait_timeout(state, interval)
            .unwrap_or_else(|p| p.into_inner());
        state = s;
        if state.stop {
            return;
        }
        if let Some(step) = &state.step {
            if step.started.elapsed() >= interval {
                shared.say(&step.line(false));
            }
        }
    }
}

impl Progress for Reporter {
    fn note(&self, line: &str) {
        self.println(line);
    }
    fn start(&self, what: &str, unit: &str, total: Option<u64>) {
        self.shared.lock().step = Some(Step {
            what: what.to_string(),
            unit: unit.to_string(),
            total,
            done: 0,
            started: Instant::now(),
        });
        if self.mode == Mode::Bar {
            let (bar, template) = match total {
                Some(t) => (
                    indicatif::ProgressBar::new(t),
                    "{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
                ),
                None => (
                    indicatif::ProgressBar::new_spinner(),
                    "{spinner} {prefix}: {pos} {msg} ({elapsed}, {per_sec})",
                ),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(what.to_string());
            bar.set_message(unit.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            *self.bar() = Some(bar);
        }
    }

    fn set(&self, done: u64) {
        if let Some(step) = self.shared.lock().step.as_mut() {
            step.done = done;
        }
        if let Some(bar) = self.bar().as_ref() {
            bar.set_position(done);
        }
    }

    fn finish(&self) {
        let step = self.shared.lock().step.take();
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
        if let (Some(step), false) = (step, self.mode == Mode::Off) {
            self.shared.say(&step.line(true));
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_step_its_count_and_total() {
        let mut s = Step {
            what: "task 1/3 (t0)".into(),
            unit: "alerts read".into(),
            total: None,
            done: 4512,
            started: Instant::now(),
        };
        assert!(s
            .line(false)
            .starts_with("task 1/3 (t0): 4512 alerts read ("));
        s.total = Some(290);
        s.unit = "crates".into();
        assert!(s
            .line(true)
            .starts_with("task 1/3 (t0): 4512/290 crates, done in "));
        assert_eq!(clock(75.2), "1 min 15 s");
        assert_eq!(clock(9.94), "9.9 s");
    }

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn without_a_terminal_a_long_step_prints_lines_while_it_runs_and_at_its_end() {
        let buf = Buffer::default();
        let r = Reporter::with_sink(
            Mode::Lines,
            Duration::from_millis(10),
            Box::new(buf.clone()),
        );
        r.start("compiling", "crates", Some(3));
        r.set(2);
        // a step that takes many intervals: the lines come from the ticker thread,
        // not from the step's own calls
        std::thread::sleep(Duration::from_millis(200));
        r.finish();
        drop(r); // joins the thread: a hang here fails the test run
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 2, "{text}");
        assert!(lines[0].starts_with("compiling: 2/3 crates ("), "{text}");
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("compiling: 2/3 crates, done in"),
            "{text}"
        );
    }

    #[test]
    fn off_prints_nothing() {
        let buf = Buffer::default();
        let r = Reporter::with_sink(Mode::Off, Duration::from_millis(1), Box::new(buf.clone()));
        r.start("step", "items", None);
        std::thread::sleep(Duration::from_millis(20));
        r.finish();
        drop(r);
        assert!(buf.0.lock().unwrap().is_empty());
    }
}
