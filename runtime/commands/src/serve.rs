//! `ampel serve`: run scheduled processes (T2 workers, T3 runs) and live T0
//! processes until SIGTERM or Ctrl-C.

use crate::args::RuntimeArgs;
use crate::output::CommandError;
use crate::uri::open_store;
use ampel_core::ClockMode;
use ampel_interface::Registry;
use std::path::Path;

/// Run scheduled processes until SIGTERM or SIGINT.
pub fn serve(
    registry: &Registry,
    args: &RuntimeArgs,
    file: &Path,
    max_concurrent: usize,
    out: &Path,
) -> Result<(), CommandError> {
    let processes =
        ampel_core::serve::load_processes(file, registry).map_err(CommandError::Usage)?;
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    serve_checked(
        &processes,
        registry,
        args,
        &file.display().to_string(),
        max_concurrent,
        out,
        (base, None),
    )
}

/// Serve an instance's processes (see `InstanceConfig::serve_processes`); its
/// live T0 uses the instance's T0 process.
pub(crate) fn serve_instance(
    cfg: &ampel_core::instance::InstanceConfig,
    registry: &Registry,
    args: &RuntimeArgs,
    origin: &str,
    max_concurrent: usize,
    out: &Path,
) -> Result<(), CommandError> {
    let processes = ampel_core::serve::check_processes(cfg.serve_processes(), registry, origin)
        .map_err(CommandError::Usage)?;
    serve_checked(
        &processes,
        registry,
        args,
        origin,
        max_concurrent,
        out,
        (std::path::PathBuf::from("."), Some(cfg.t0.clone())),
    )
}

/// Serve checked processes from `origin` until SIGTERM or Ctrl-C; live T0 processes
/// read their T0 config relative to `live.0`, or use `live.1` (an instance's).
pub(crate) fn serve_checked(
    processes: &[ampel_core::serve::Process],
    registry: &Registry,
    args: &RuntimeArgs,
    origin: &str,
    max_concurrent: usize,
    out: &Path,
    live: (std::path::PathBuf, Option<ampel_core::t0::T0Config>),
) -> Result<(), CommandError> {
    // fail early on an unusable store
    drop(open_store(&args.db)?);
    let stop = crate::stop_on_signals()?;
    let active = processes.iter().filter(|p| p.cfg.active).count();
    eprintln!("serving {active} active process(es) from {origin} (max {max_concurrent} at once); SIGTERM or Ctrl-C stops");
    let db = args.db.clone();
    let open = move || open_store(&db).map_err(|e| e.to_string());
    let started = std::time::Instant::now();
    let log = move |msg: &str| eprintln!("[{:>9.3}s] {msg}", started.elapsed().as_secs_f64());
    #[cfg(feature = "kafka")]
    let runner = crate::kafka::live_runner(registry, args, live.0, live.1);
    #[cfg(feature = "kafka")]
    let runner: Option<&ampel_core::serve::LiveRunner<'_>> = Some(&runner);
    #[cfg(not(feature = "kafka"))]
    let runner = {
        let _ = live;
        None
    };
    let mode = args.clock_mode(ClockMode::Live);
    ampel_core::serve::serve(
        processes,
        registry,
        mode,
        &open,
        runner,
        max_concurrent,
        &stop,
        out,
        &log,
    );
    eprintln!("stopped cleanly");
    Ok(())
}
