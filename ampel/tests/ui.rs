//! `ampel ui` end to end in headless Chromium (Debian's `chromium`): the demo's
//! store from every real ZTF alert, the view on a loopback port, and the browser
//! loading the object list (all of it, and filtered by channel and by a T2 result),
//! an object page (its plot and every T2 result), the runs and the trouble
//! records. A screenshot of the object page is kept as a test artefact in the
//! target directory (`ui-object-page.png`).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use support::*;

/// The running view; killed when dropped.
struct Ui(Child, String);

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_ui(dir: &Path, db: &str) -> Ui {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["--db", db, "ui", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");
    Ui(child, line.trim().to_string())
}

fn chromium(dir: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("chromium must be installed (scripts/test installs it): {e}"));
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The page at `url` as Chromium rendered it (its DOM).
fn dom(dir: &Path, url: &str) -> String {
    chromium(dir, &["--dump-dom", url])
}

fn rows(html: &str, table: &str) -> usize {
    let start = html.find(&format!("<table id=\"{table}\">")).expect(table);
    let end = start + html[start..].find("</table>").unwrap();
    html[start..end].matches("<tr>").count() - 1
}

#[test]
fn the_web_view_shows_objects_pages_runs_and_trouble_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = demo_manifest(d, "demo.toml", &[]);
    let alerts = real_alerts().join("ztf");
    let run = ampel_json(
        &[
            "--db",
            "sqlite:demo.db",
            "job",
            "--manifest",
            &manifest,
            "--inputs",
            alerts.to_str().unwrap(),
        ],
        d,
    );
    let ingested = run["tasks"][0]["ingested"].as_u64().unwrap() as usize;
    let ui = start_ui(d, "sqlite:demo.db");
    let base = ui.1.clone();

    // the object list: every object, each linking its page
    let list = dom(d, &base);
    let n = rows(&list, "objects");
    let stocks = ampel_json(&["--db", "sqlite:demo.db", "db", "info"], d);
    assert_eq!(
        n as u64,
        stocks["counts"]["stock"].as_u64().unwrap(),
        "{list}"
    );
    assert!(n > 0 && n <= ingested);
    assert!(
        list.contains("<a href=\"/object/ZTF18aaudxok\">ZTF18aaudxok</a>"),
        "{list}"
    );
    // filtered by channel and by a T2 result
    let decent = dom(d, &format!("{base}?channel=DEMO_DECENT"));
    let m = rows(&decent, "objects");
    assert!(m > 0 && m < n, "{m} of {n}");
    assert!(
        decent.contains("<option selected=\"\">DEMO_DECENT</option>"),
        "{decent}"
    );
    // pages: only a page of objects is loaded, with links to the others
    let first = dom(d, &format!("{base}?per_page=3"));
    assert_eq!(rows(&first, "objects"), 3.min(n), "{first}");
    if n > 3 {
        assert!(
            first.contains(&format!("{n} objects; 1–3 on page 1 of {}", n.div_ceil(3))),
            "{first}"
        );
        assert!(
            first.contains("<a id=\"next\" href=\"?per_page=3&amp;page=2\">next</a>"),
            "{first}"
        );
        let last = n.div_ceil(3);
        let end = dom(d, &format!("{base}?per_page=3&page={last}"));
        assert_eq!(rows(&end, "objects"), n - 3 * (last - 1), "{end}");
        assert!(
            end.contains("id=\"previous\"") && !end.contains("id=\"next\""),
            "{end}"
        );
        let beyond = dom(d, &format!("{base}?per_page=3&page=999"));
        assert_eq!(
            rows(&beyond, "objects"),
            n - 3 * (last - 1),
            "past the end is the last page"
        );
    }
    let fit = dom(
        d,
        &format!("{base}?unit=T2MagSummary&field=ndet&op=%3E%3D&value=10"),
    );
    let k = rows(&fit, "objects");
    assert!(k > 0 && k < n, "{k} of {n}");

    // an object's page: the plot and every T2 result
    let page = dom(d, &format!("{base}object/ZTF18aaudxok"));
    for want in [
        "<svg",
        ">MJD</text>",
        "class=\"det\"",
        "class=\"ul\"",
        "<h3 class=\"t2\">T2MagSummary</h3>",
        "<h3 class=\"t2\">T2RiseDeclineFit</h3>",
        "<h3 class=\"t2\">T2FastRiser</h3>",
        "https://fink-portal.org/ZTF18aaudxok",
    ] {
        assert!(page.contains(want), "{want}");
    }
    assert!(dom(d, &format!("{base}object/ZTF20aaaaaaa")).contains("no such object"));
    // runs and trouble (the 5 damaged files)
    assert!(rows(&dom(d, &format!("{base}runs")), "runs") >= 3);
    let trouble = dom(d, &format!("{base}trouble"));
    assert_eq!(rows(&trouble, "trouble"), 5, "{trouble}");
    assert!(trouble.contains("truncated file"), "{trouble}");

    // the screenshot, kept
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-object-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        d,
        &[
            "--window-size=1100,1300",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
            &format!("{base}object/ZTF18aaudxok"),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "a page with a plot, not a blank one: {} bytes",
        png.len()
    );
    drop(ui);

    // the view has no login: another address than loopback only when asked for
    let o = ampel(
        &["--db", "sqlite:demo.db", "ui", "--listen", "0.0.0.0:0"],
        d,
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("not a loopback address"),
        "{}",
        text(&o.stderr)
    );
}
