//! `ampel ui`: a read-only web view of a store on a loopback address (axum). Pages:
//! `/` the objects (filter by channel, tag and a T2 result condition; 100 a page,
//! `page` and `per_page` in the query, only the page's objects loaded), `/object/NAME`
//! an object's page (the same as the report's: plot, light curve, every T2
//! result, links), `/runs` the process runs, `/trouble` the trouble records. Plain
//! HTML and inline SVG, no scripts and no build step. Store calls run on blocking
//! threads (a MongoDB store has its own runtime).

use ampel_commands::{open_existing_store, redact, RuntimeArgs};
use ampel_core::t3::{filter_by_t2, project, Load, T1Load, T2Match};
use ampel_interface::compare::Operator;
use ampel_interface::{Registry, StockId};
use ampel_present::page::{fmt, object_page, summary, STYLE};
use ampel_present::points::unix_date;
use ampel_present::svg::esc;
use ampel_store::{EventQuery, StockSelection, Store, TroubleQuery};
use anyhow::{anyhow, Context};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// `ampel ui` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Address to serve on; a loopback address unless --public (nothing here asks
    /// for a password).
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub listen: String,
    /// Allow a non-loopback address.
    #[arg(long)]
    pub public: bool,
}

struct App {
    store: Arc<dyn Store>,
    registry: Registry,
    title: String,
}

type Shared = Arc<App>;

/// A page or an error page, with its status.
fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE} nav a{{margin-right:1em}} form{{margin:1em 0}} input,select{{margin-right:.5em}}</style></head>\n<body><nav><a href=\"/\">objects</a><a href=\"/runs\">runs</a><a href=\"/trouble\">trouble</a></nav>\n{body}</body></html>\n",
        t = esc(title)
    ))
}

fn failure(e: anyhow::Error) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "error",
            &format!("<h1>error</h1><pre>{}</pre>", esc(&format!("{e:#}"))),
        ),
    )
        .into_response()
}

/// Run `f` with the store on a blocking thread.
async fn with_store<T: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&App) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| anyhow!("the store call failed: {e}"))?
}

/// The object list's filters.
#[derive(Debug, Default, Deserialize)]
struct Filter {
    channel: Option<String>,
    tag: Option<String>,
    unit: Option<String>,
    field: Option<String>,
    op: Option<String>,
    value: Option<String>,
    /// The page of the object list, from 1.
    page: Option<usize>,
    /// Objects per page (default [`PER_PAGE`], at most [`MAX_PER_PAGE`]).
    per_page: Option<usize>,
}

/// Objects on a page of the list: only these are loaded.
const PER_PAGE: usize = 100;
/// The most objects a page may ask for.
const MAX_PER_PAGE: usize = 1000;

/// `s` percent-encoded for a query string (letters, digits and `-._~` as they are).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Filter {
    /// The query string of this filter at another page.
    fn at_page(&self, page: usize, per_page: usize) -> String {
        let mut q = Vec::new();
        for (k, v) in [
            ("channel", &self.channel),
            ("tag", &self.tag),
            ("unit", &self.unit),
            ("field", &self.field),
            ("op", &self.op),
            ("value", &self.value),
        ] {
            if let Some(v) = nonempty(v) {
                q.push(format!("{k}={}", url_encode(&v)));
            }
        }
        if per_page != PER_PAGE {
            q.push(format!("per_page={per_page}"));
        }
        q.push(format!("page={page}"));
        format!("?{}", q.join("&"))
    }
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
}

fn condition(f: &Filter) -> anyhow::Result<Option<T2Match>> {
    let (Some(unit), Some(field)) = (nonempty(&f.unit), nonempty(&f.field)) else {
        return Ok(None);
    };
    let op = nonempty(&f.op).unwrap_or_else(|| "exists".into());
    let operator: Operator = serde_json::from_value(serde_json::json!(op))
        .map_err(|_| anyhow!("operator `{op}`: expected >, <, >=, <=, ==, !=, exists"))?;
    let raw = nonempty(&f.value).unwrap_or_else(|| "true".into());
    // a number, true/false, else text
    let value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
    Ok(Some(T2Match {
        unit,
        field,
        operator,
        value,
    }))
}

fn objects(app: &App, f: &Filter) -> anyhow::Result<String> {
    let channel = nonempty(&f.channel);
    let mut stocks: Vec<StockId> = app.store.select_stocks(&StockSelection {
        channel_any: channel.iter().cloned().collect(),
        tag_with: nonempty(&f.tag).into_iter().collect(),
        ..Default::default()
    })?;
    let cond = condition(f)?;
    if let Some(c) = &cond {
        stocks = filter_by_t2(app.store.as_ref(), stocks, std::slice::from_ref(c), &[])?;
    }
    let channels: std::collections::BTreeSet<String> = app
        .store
        .select_stocks(&StockSelection::default())?
        .iter()
        .filter_map(|s| app.store.get_stock(*s).ok().flatten())
        .flat_map(|s| s.channel.into_iter())
        .collect();
    let mut h = format!("<h1>{}</h1>\n<form method=\"get\" action=\"/\">channel <select name=\"channel\"><option value=\"\">any</option>", esc(&app.title));
    for c in &channels {
        let sel = if channel.as_deref() == Some(c.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(h, "<option{sel}>{}</option>", esc(c));
    }
    let v = |s: &Option<String>| esc(s.as_deref().unwrap_or(""));
    let _ = write!(
        h,
        "</select> tag <input name=\"tag\" size=\"10\" value=\"{}\"> T2 result: unit <input name=\"unit\" size=\"14\" value=\"{}\"> field <input name=\"field\" size=\"14\" value=\"{}\"> <select name=\"op\">",
        v(&f.tag), v(&f.unit), v(&f.field)
    );
    for op in [">=", "<=", ">", "<", "==", "!=", "exists"] {
        let sel = if f.op.as_deref() == Some(op) {
            " selected"
        } else {
            ""
        };
        let _ = write!(h, "<option{sel}>{}</option>", esc(op));
    }
    let _ = writeln!(
        h,
        "</select> value <input name=\"value\" size=\"8\" value=\"{}\"> <button type=\"submit\">filter</button></form>",
        v(&f.value)
    );
    let load = Load {
        t0: true,
        t1: T1Load::Latest,
        t2: None,
    };
    // one page of the list is loaded (the selection itself is ids only)
    let per_page = f.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let pages = stocks.len().div_ceil(per_page).max(1);
    let at = f.page.unwrap_or(1).clamp(1, pages);
    let first = (at - 1) * per_page;
    let shown = &stocks[first.min(stocks.len())..(first + per_page).min(stocks.len())];
    let rows: Vec<_> = shown
        .iter()
        .filter_map(|s| project(app.store.as_ref(), *s, channel.as_deref(), &load).transpose())
        .collect::<Result<_, _>>()?;
    let _ = writeln!(
        h,
        "<p id=\"count\">{} objects{}</p>",
        stocks.len(),
        if pages > 1 {
            format!(
                "; {}–{} on page {at} of {pages}",
                first + 1,
                first + shown.len()
            )
        } else {
            String::new()
        }
    );
    if pages > 1 {
        h.push_str("<p id=\"pages\">");
        if at > 1 {
            let _ = write!(
                h,
                "<a id=\"previous\" href=\"{}\">previous</a> ",
                esc(&f.at_page(at - 1, per_page))
            );
        }
        if at < pages {
            let _ = write!(
                h,
                "<a id=\"next\" href=\"{}\">next</a>",
                esc(&f.at_page(at + 1, per_page))
            );
        }
        h.push_str("</p>\n");
    }
    h.push_str("<table id=\"objects\"><tr><th>object</th><th>channels</th><th>det</th><th>last detection (UTC)</th><th>peak mag</th><th>rb</th><th>drb</th><th>T2 results</th></tr>\n");
    for view in &rows {
        let s = summary(view);
        let peaks: Vec<String> = s
            .peak_mag
            .iter()
            .map(|(b, m)| format!("{b} {m:.2}"))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td><a href=\"/object/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.channels.join(" ")),
            s.ndet,
            esc(s.last_date.as_deref().unwrap_or("-")),
            esc(&peaks.join(", ")),
            fmt(s.rb, 2),
            fmt(s.drb, 2),
            view.t2.iter().filter(|t| t.result.is_some()).count(),
            n = esc(&s.name),
        );
    }
    h.push_str("</table>\n");
    Ok(h)
}

async fn index(State(app): State<Shared>, Query(f): Query<Filter>) -> Response {
    match with_store(&app, move |a| objects(a, &f)).await {
        Ok(body) => page("objects", &body).into_response(),
        Err(e) => failure(e),
    }
}

async fn object(State(app): State<Shared>, Path(name): Path<String>) -> Response {
    let found = with_store(&app, move |a| {
        let Some(stock) = a.registry.stock_of(&name) else {
            return Ok(None);
        };
        let load = Load {
            t0: true,
            t1: T1Load::All,
            t2: None,
        };
        Ok(project(a.store.as_ref(), stock, None, &load)?.map(|v| {
            let s = summary(&v);
            object_page(&v, &s, "/")
        }))
    })
    .await;
    match found {
        Ok(Some(html)) => Html(html).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            page("not found", "<h1>no such object in this store</h1>"),
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

async fn runs(State(app): State<Shared>) -> Response {
    let r = with_store(&app, |a| {
        let mut h = String::from("<h1>runs</h1>\n<table id=\"runs\"><tr><th>run</th><th>process</th><th>tier</th><th>code</th><th>start (UTC)</th><th>duration (s)</th></tr>\n");
        for e in a.store.events(&EventQuery::default())? {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.run,
                esc(&e.process),
                e.tier,
                esc(&e.code.to_string()),
                unix_date(e.start),
                fmt(e.duration, 2)
            );
        }
        h.push_str("</table>\n");
        Ok(h)
    })
    .await;
    match r {
        Ok(b) => page("runs", &b).into_response(),
        Err(e) => failure(e),
    }
}

async fn trouble(State(app): State<Shared>) -> Response {
    let r = with_store(&app, |a| {
        let mut h = String::from("<h1>trouble</h1>\n<table id=\"trouble\"><tr><th>date (UTC)</th><th>process</th><th>run</th><th>unit</th><th>object</th><th>document</th><th>what went wrong</th></tr>\n");
        for t in a.store.troubles(&TroubleQuery::default())? {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                unix_date(t.ts),
                esc(&t.process),
                t.run,
                esc(t.unit.as_deref().unwrap_or("")),
                t.stock.map(|s| s.to_string()).unwrap_or_default(),
                esc(t.doc.as_deref().unwrap_or("")),
                esc(&t.message)
            );
        }
        h.push_str("</table>\n");
        Ok(h)
    })
    .await;
    match r {
        Ok(b) => page("trouble", &b).into_response(),
        Err(e) => failure(e),
    }
}

/// Serve the store until Ctrl-C or SIGTERM.
pub fn ui(registry: Registry, args: &RuntimeArgs, a: &UiArgs) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = a.listen.parse().with_context(|| {
        format!(
            "--listen `{}`: expected HOST:PORT such as 127.0.0.1:8765",
            a.listen
        )
    })?;
    if !addr.ip().is_loopback() && !a.public {
        anyhow::bail!(
            "--listen {addr} is not a loopback address: the view has no login, so anyone who reaches it reads the store; add --public to mean it"
        );
    }
    let store: Arc<dyn Store> = Arc::from(open_existing_store(&args.db)?);
    let app = Arc::new(App {
        store,
        registry,
        title: format!("AMPEL store {}", redact(&args.db)),
    });
    let router = Router::new()
        .route("/", get(index))
        .route("/object/{name}", get(object))
        .route("/runs", get(runs))
        .route("/trouble", get(trouble))
        .with_state(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        // the first line on stdout: where to point a browser (tests read it)
        println!("http://{local}/");
        eprintln!(
            "serving {} read-only on http://{local}/ (Ctrl-C stops)",
            redact(&args.db)
        );
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the web server failed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filter() {
        assert_eq!(url_encode("a b&c=ä"), "a%20b%26c%3D%C3%A4");
        let f = Filter {
            channel: Some("DEMO BRIGHT".into()),
            op: Some(">=".into()),
            tag: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(
            f.at_page(2, PER_PAGE),
            "?channel=DEMO%20BRIGHT&op=%3E%3D&page=2"
        );
        assert_eq!(Filter::default().at_page(3, 5), "?per_page=5&page=3");
    }
}
