//! Helper process for the reproducibility test: runs a job file against a fresh
//! store and prints its results digest. Usage: `ampel-test-job URI JOBFILE`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [uri, file] = args.as_slice() else {
        anyhow::bail!("usage: ampel-test-job URI JOBFILE");
    };
    let path = std::path::Path::new(file);
    let job = ampel_core::job::load_job(path)?;
    let store = ampel_commands::open_store(uri)?;
    let registry = ampel_tests::units::registry();
    let report = ampel_core::job::run_job(
        &job,
        path.parent().unwrap_or(std::path::Path::new(".")),
        &registry,
        store.as_ref(),
        &std::env::temp_dir().join(format!("ampel-test-job-{}", std::process::id())),
        &ampel_core::Silent,
        &|m| ampel_manifest::t0_for_binary(m, &registry),
    )?;
    println!("{}", report.digest.digest);
    Ok(())
}
