//! `ampel new unit|instance`: scaffolds for writing units and instances. A unit
//! crate (config struct, unit, a test on real alerts through the runtime) of any
//! kind, and an instance: a workspace holding such a crate, a manifest that wires
//! it into a channel, real ZTF alerts, and a CI workflow that builds the image,
//! reproduces it on those alerts and compares with the committed run record.
//! The files come from `ampel/templates/`; `@NAME@`-style placeholders are filled.

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// `ampel new ...`
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// A unit crate: a config struct, the unit, and a test that runs it on real ZTF
    /// alerts through the AMPEL runtime (`cargo test`).
    ///
    /// Inside a workspace whose `[workspace.dependencies]` has ampel-interface the
    /// crate inherits from it; elsewhere it names the AMPEL crates itself (a path
    /// to the AMPEL source, or --ampel-git URL --ampel-rev REV).
    ///
    /// Example: ampel new unit T2PeakMag --kind state-t2
    Unit {
        /// The unit's type name (CamelCase), e.g. T2PeakMag.
        name: String,
        /// What kind of unit.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The crate name (default: the unit name in kebab-case).
        #[arg(long = "crate")]
        krate: Option<String>,
        /// Where the crate directory goes.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        ampel: AmpelFrom,
    },
    /// An instance: a workspace with one unit crate, a manifest, eight real ZTF
    /// alerts (alerts/ztf) and a GitHub Actions workflow that builds the image, reproduces it on
    /// the alerts and compares with the committed run record (run.json).
    ///
    /// Example: ampel new instance my-survey --unit T2PeakMag --kind state-t2
    Instance {
        /// The instance name (lower-case, digits, `-`): names the directory,
        /// manifest and image.
        name: String,
        /// The unit the instance starts with.
        #[arg(long, default_value = "T2PeakMag")]
        unit: String,
        /// Its kind.
        #[arg(long, value_enum, default_value_t = Kind::StateT2)]
        kind: Kind,
        /// Where the instance directory goes.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        ampel: AmpelFrom,
    },
}

/// Where the AMPEL crates come from.
#[derive(Debug, Clone, clap::Args)]
pub struct AmpelFrom {
    /// The AMPEL source tree (default: $AMPEL_SOURCE or the one ampel was built from).
    #[arg(long)]
    source: Option<PathBuf>,
    /// A git URL of the AMPEL repository (written into dependency lines and CI).
    #[arg(long)]
    ampel_git: Option<String>,
    /// The AMPEL revision (commit) to pin, with --ampel-git.
    #[arg(long, requires = "ampel_git")]
    ampel_rev: Option<String>,
}

/// Unit kinds a scaffold exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// An alert filter (T0).
    Filter,
    /// A T2 unit on one datapoint.
    PointT2,
    /// A T2 unit on a state (the datapoints a channel may see of one object).
    StateT2,
    /// A T2 unit on an object's stock document.
    StockT2,
    /// A T3 unit on the selected objects of a channel.
    T3,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::PointT2 => "point-t2",
            Kind::StateT2 => "state-t2",
            Kind::StockT2 => "stock-t2",
            Kind::T3 => "t3",
        }
    }

    fn unit_template(self) -> (&'static str, &'static str) {
        match self {
            Kind::Filter => (
                include_str!("../../templates/unit/filter.rs"),
                include_str!("../../templates/unit/filter.test.rs"),
            ),
            Kind::PointT2 => (
                include_str!("../../templates/unit/point-t2.rs"),
                include_str!("../../templates/unit/point-t2.test.rs"),
            ),
            Kind::StateT2 => (
                include_str!("../../templates/unit/state-t2.rs"),
                include_str!("../../templates/unit/state-t2.test.rs"),
            ),
            Kind::StockT2 => (
                include_str!("../../templates/unit/stock-t2.rs"),
                include_str!("../../templates/unit/stock-t2.test.rs"),
            ),
            Kind::T3 => (
                include_str!("../../templates/unit/t3.rs"),
                include_str!("../../templates/unit/t3.test.rs"),
            ),
        }
    }

    /// The channel lines of an instance manifest that use the unit.
    fn channel(self, unit: &str) -> String {
        // no filter: every alert is accepted until one is added
        let filter =
            "# filter = { unit = \"SimpleDecentFilter\", config = { min_ndet = 2, min_rb = 0.3 } }";
        let report = "t3 = [{ unit = \"T3ReportExporter\", schedule = \"every 1h\", config = { title = \"report\" } }]";
        match self {
            Kind::Filter => format!("filter = {{ unit = \"{unit}\" }}\n{report}"),
            Kind::PointT2 => format!(
                "{filter}\npoint_t2 = [{{ unit = \"{unit}\", select = \"last\" }}]\n{report}"
            ),
            Kind::StateT2 => format!("{filter}\nt2 = [{{ unit = \"{unit}\" }}]\n{report}"),
            Kind::StockT2 => format!("{filter}\nstock_t2 = [{{ unit = \"{unit}\" }}]\n{report}"),
            Kind::T3 => format!(
                "{filter}\nt3 = [{{ unit = \"{unit}\", schedule = \"every 1h\" }}, {{ unit = \"T3ReportExporter\", schedule = \"every 1h\" }}]"
            ),
        }
    }
}

/// Eight real ZTF alerts (fink-broker test data, Apache-2.0) with 1 to 26
/// detections, bundled so a new unit or instance can be tested and reproduced
/// with nothing else.
const ALERTS: [(&str, &[u8]); 8] = {
    macro_rules! alert {
        ($f:literal) => {
            (
                $f,
                include_bytes!(concat!(
                    "../../../tests/data/alerts/ztf/fink-2019-v3.1/",
                    $f
                )),
            )
        };
    }
    [
        alert!("697252845015010002.avro"),
        alert!("697252845015010003.avro"),
        alert!("697252845015015004.avro"),
        alert!("697252845115010001.avro"),
        alert!("697252845215010000.avro"),
        alert!("697252845215010002.avro"),
        alert!("697252845715010000.avro"),
        alert!("697252845815010001.avro"),
    ]
};
const ALERTS_LICENSE: &str = include_str!("../../../tests/data/alerts/LICENSE.fink-broker");
const ALERTS_README: &str = "# Real ZTF alerts\n\n\
`ztf/`: eight ZTF alerts of late 2018 (`schemavsn` 3.2, 12 to 28 previous\n\
candidates), copied byte for byte from astrolabsoftware/fink-broker @ 95e4bc30 :\n\
`datasim/*.avro` (Apache-2.0, `LICENSE.fink-broker`; copyright stays with the Fink\n\
broker developers, the content is ZTF public data). Bundled by `ampel new`.\n";

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("@{k}@"), v)
    })
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    let mut prev_upper = true;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !prev_upper {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        prev_upper = c.is_ascii_uppercase();
    }
    out
}

fn check_unit_name(name: &str) -> anyhow::Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && name.len() <= 64;
    if !ok {
        bail!("unit name `{name}`: expected a CamelCase type name such as T2PeakMag (letters and digits, starting with an upper-case letter)");
    }
    Ok(())
}

fn write(path: &Path, text: impl AsRef<[u8]>) -> anyhow::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn fresh(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        bail!(
            "{} exists already; choose another name or --dir",
            dir.display()
        );
    }
    Ok(())
}

/// The alerts under `dir/ztf/`, their provenance and license in `dir`.
fn write_alerts(dir: &Path) -> anyhow::Result<()> {
    for (name, bytes) in ALERTS {
        write(&dir.join("ztf").join(name), bytes)?;
    }
    write(&dir.join("LICENSE.fink-broker"), ALERTS_LICENSE)?;
    write(&dir.join("README.md"), ALERTS_README)
}

/// The AMPEL dependency lines of a stand-alone crate.
fn standalone_deps(from: &AmpelFrom) -> anyhow::Result<Vec<(&'static str, String)>> {
    let dep = |sub: &str| -> anyhow::Result<String> {
        Ok(match (&from.ampel_git, &from.ampel_rev) {
            (Some(url), Some(rev)) => format!("{{ git = \"{url}\", rev = \"{rev}\" }}"),
            (Some(url), None) => format!("{{ git = \"{url}\" }}"),
            _ => {
                let root = ampel_builder::source_root(from.source.as_deref())?;
                format!("{{ path = \"{}\" }}", root.join(sub).display())
            }
        })
    };
    Ok(vec![
        (
            "AMPEL_FROM",
            if from.ampel_git.is_some() {
                "git (the builder uses its own source tree in place of these)".into()
            } else {
                "this AMPEL checkout; for a crate of its own repository use git = \"<AMPEL repository URL>\", rev = \"<commit>\"".into()
            },
        ),
        ("AMPEL_DEP_INTERFACE", dep("runtime/interface")?),
        ("AMPEL_DEP_UNIT_BUILD", dep("runtime/unit-build")?),
        ("AMPEL_DEP_TESTKIT", dep("runtime/testkit")?),
    ])
}

/// Whether `dir` is inside a workspace that provides the AMPEL crates.
fn in_ampel_workspace(dir: &Path) -> bool {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.ancestors().any(|d| {
        std::fs::read_to_string(d.join("Cargo.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| {
                t.get("workspace")?
                    .get("dependencies")?
                    .get("ampel-interface")
                    .cloned()
            })
            .is_some()
    })
}

/// Write a unit crate at `dir`; `alerts` is the alerts directory relative to it
/// (`None`: bundle them into the crate's `tests/alerts`).
fn unit_crate(
    dir: &Path,
    krate: &str,
    unit: &str,
    kind: Kind,
    alerts: Option<&str>,
    from: &AmpelFrom,
) -> anyhow::Result<()> {
    fresh(dir)?;
    let module = kebab(unit).replace('-', "_");
    let ident = krate.replace('-', "_");
    let alerts_rel = alerts.unwrap_or("tests/alerts/ztf");
    let mut vars: Vec<(&str, String)> = vec![
        ("UNIT", unit.to_string()),
        ("CRATE", krate.to_string()),
        ("CRATE_IDENT", ident),
        ("MODULE", module.clone()),
        ("ALERTS", alerts_rel.to_string()),
    ];
    let cargo = if in_ampel_workspace(dir) {
        include_str!("../../templates/unit/Cargo.workspace.toml")
    } else {
        vars.extend(standalone_deps(from)?);
        include_str!("../../templates/unit/Cargo.standalone.toml")
    };
    let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (unit_rs, test_rs) = kind.unit_template();
    write(&dir.join("Cargo.toml"), fill(cargo, &v))?;
    write(
        &dir.join("build.rs"),
        include_str!("../../templates/unit/build.rs"),
    )?;
    write(
        &dir.join("src/lib.rs"),
        fill(include_str!("../../templates/unit/lib.rs"), &v),
    )?;
    write(&dir.join(format!("src/{module}.rs")), fill(unit_rs, &v))?;
    write(&dir.join("tests/real_alerts.rs"), fill(test_rs, &v))?;
    if alerts.is_none() {
        write_alerts(&dir.join("tests/alerts"))?;
    }
    Ok(())
}

/// Run `ampel new ...`.
pub fn new(cmd: &NewCommand) -> anyhow::Result<()> {
    match cmd {
        NewCommand::Unit {
            name,
            kind,
            krate,
            dir,
            ampel,
        } => {
            check_unit_name(name)?;
            let krate = krate.clone().unwrap_or_else(|| kebab(name));
            let at = dir.join(&krate);
            unit_crate(&at, &krate, name, *kind, None, ampel)?;
            println!(
                "created unit crate {} ({} unit {name}); test it: cd {} && cargo test",
                at.display(),
                kind.name(),
                at.display()
            );
            println!(
                "use it in a manifest: [[crate]] name = \"{krate}\", path = \"{}\", units = [\"{name}\"]",
                at.display()
            );
            Ok(())
        }
        NewCommand::Instance {
            name,
            unit,
            kind,
            dir,
            ampel,
        } => instance(name, unit, *kind, dir, ampel),
    }
}

fn instance(
    name: &str,
    unit: &str,
    kind: Kind,
    dir: &Path,
    from: &AmpelFrom,
) -> anyhow::Result<()> {
    check_unit_name(unit)?;
    if !(name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        bail!("instance name `{name}`: expected lower-case letters, digits and `-`, starting with a letter (it names the image)");
    }
    let root = dir.join(name);
    fresh(&root)?;
    let source = ampel_builder::source_root(from.source.as_deref())?;
    let krate = kebab(unit);
    let (git, rev) = match (&from.ampel_git, &from.ampel_rev) {
        (Some(g), Some(r)) => (g.clone(), r.clone()),
        (Some(g), None) => (g.clone(), "HEAD".into()),
        _ => git_origin(&source),
    };
    let vars = [
        ("NAME", name),
        ("UNIT", unit),
        ("CRATE", krate.as_str()),
        ("KIND", kind.name()),
        ("AMPEL_GIT", git.as_str()),
        ("AMPEL_REV", rev.as_str()),
    ];
    write(
        &root.join("Cargo.toml"),
        fill(
            include_str!("../../templates/instance/workspace.toml"),
            &vars,
        ),
    )?;
    write(
        &root.join("README.md"),
        fill(include_str!("../../templates/instance/README.md"), &vars),
    )?;
    write(
        &root.join(".github/workflows/instance.yml"),
        fill(include_str!("../../templates/instance/instance.yml"), &vars),
    )?;
    write(
        &root.join(".gitignore"),
        "/target\n/ampel\n/out\n/first\n*.tar\n",
    )?;
    write_alerts(&root.join("alerts"))?;
    std::os::unix::fs::symlink(&source, root.join("ampel"))
        .with_context(|| format!("linking {}/ampel to {}", root.display(), source.display()))?;
    unit_crate(
        &root.join("units").join(&krate),
        &krate,
        unit,
        kind,
        Some("../../alerts/ztf"),
        from,
    )?;
    let manifest = format!(
        "# The {name} instance (made by `ampel new instance`). The format:\n\
         # ampel/manifests/README.md. Check: ampel manifest check {name}.toml\n\n\
         [instance]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"{name}: {unit} on ZTF alerts\"\n\n\
         [[crate]]\nname = \"ampel-units-ztf\"\npath = \"ampel/units/ztf\"\n\
         units = [\"ZiAlertSupplier\", \"ZiDataPointShaper\", \"ZiMuxer\", \"ZiT1Combiner\", \"SimpleDecentFilter\", \"ZTFIdMapper\"]\n\n\
         [[crate]]\nname = \"ampel-units-report\"\npath = \"ampel/units/report\"\nunits = [\"T3ReportExporter\"]\n\n\
         [[crate]]\nname = \"{krate}\"\npath = \"units/{krate}\"\nunits = [\"{unit}\"]\n\n\
         [t0]\nsupplier = {{ unit = \"ZiAlertSupplier\" }}\nshaper = {{ unit = \"ZiDataPointShaper\" }}\n\
         muxer = {{ unit = \"ZiMuxer\" }}\ncombiner = {{ unit = \"ZiT1Combiner\" }}\n\n\
         [[channel]]\nname = \"{}\"\naccess = [\"ZTF_PUB\"]\n{}\n",
        name.to_uppercase().replace('-', "_"),
        kind.channel(unit)
    );
    write(&root.join(format!("{name}.toml")), manifest)?;
    println!(
        "created instance {} with unit crate units/{krate} ({} unit {unit})",
        root.display(),
        kind.name()
    );
    println!(
        "next (in {}): cargo test --workspace; ampel image build {name}.toml -o {name}.tar;",
        root.display()
    );
    println!("  ampel reproduce {name}.tar --inputs alerts/ztf --out first && cp first/run.json run.json");
    Ok(())
}

/// The AMPEL repository URL and commit CI clones: the source tree's `origin` and
/// `HEAD`, if it is a git checkout (placeholders to edit otherwise).
fn git_origin(source: &Path) -> (String, String) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(source)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    (
        git(&["remote", "get-url", "origin"]).unwrap_or_else(|| "<AMPEL repository URL>".into()),
        git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "<AMPEL commit>".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(kebab("T2PeakMag"), "t2-peak-mag");
        assert_eq!(kebab("MyFilter"), "my-filter");
        assert_eq!(kebab("T3HTMLReport"), "t3-htmlreport");
        assert!(check_unit_name("T2PeakMag").is_ok());
        assert!(check_unit_name("t2").is_err() && check_unit_name("T2-x").is_err());
        assert_eq!(fill("@A@ and @B@", &[("A", "1"), ("B", "2")]), "1 and 2");
    }
}
