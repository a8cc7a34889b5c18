//! `T3HttpNotifier`: posts a Slack-compatible JSON message (`text` plus one
//! `section` block per object) to a webhook URL.
//!
//! The URL is a secret: the config names it (`url_secret`) and the value comes from
//! the environment variable `AMPEL_SECRET_<NAME>` or, failing that, from the JSON
//! object in the file named by `AMPEL_SECRETS_FILE`. It never appears in configs,
//! documents, logs or error messages. Failed posts are retried with exponential
//! backoff; after the last attempt the unit fails and the run records it.

use ampel_interface::serde_json::{self as serde_json, json, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Config of [`T3HttpNotifier`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifierConfig {
    /// Name of the secret holding the webhook URL.
    pub url_secret: String,
    /// Attempts before giving up.
    pub attempts: u32,
    /// First backoff [s]; doubled after each failed attempt.
    pub backoff_seconds: f64,
    /// Timeout of one request [s].
    pub timeout_seconds: f64,
    /// At most this many objects listed in one message.
    pub max_objects: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            url_secret: "NOTIFY_URL".into(),
            attempts: 3,
            backoff_seconds: 0.5,
            timeout_seconds: 10.0,
            max_objects: 20,
        }
    }
}

impl UnitConfig for NotifierConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut p = Vec::new();
        if self.url_secret.is_empty()
            || !self
                .url_secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            p.push(FieldProblem::new(
                "url_secret",
                &self.url_secret,
                "a secret name (letters, digits, _), not a URL",
            ));
        }
        if self.attempts == 0 {
            p.push(FieldProblem::new("attempts", &self.attempts, "at least 1"));
        }
        p
    }
}

/// The notifier.
pub struct T3HttpNotifier(NotifierConfig);

impl Unit for T3HttpNotifier {
    const NAME: &'static str = "T3HttpNotifier";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NotifierConfig;
    fn new(c: NotifierConfig) -> Result<Self, ConfigError> {
        Ok(T3HttpNotifier(c))
    }
}

/// Resolve a secret from the environment or the secrets file.
pub fn secret(name: &str) -> Result<String, UnitError> {
    if let Ok(v) = std::env::var(format!("AMPEL_SECRET_{name}")) {
        return Ok(v);
    }
    let missing = || {
        UnitError::new(format!("secret `{name}` is not set (AMPEL_SECRET_{name} or a key in the AMPEL_SECRETS_FILE JSON)"))
    };
    let path = std::env::var("AMPEL_SECRETS_FILE").map_err(|_| missing())?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| UnitError::new(format!("cannot read secrets file {path}: {e}")))?;
    let map: Value = serde_json::from_str(&text)
        .map_err(|e| UnitError::new(format!("secrets file {path} is not a JSON object: {e}")))?;
    map.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(missing)
}

fn message(ctx: &T3Context, views: &[StockView], max: usize) -> Value {
    let mut blocks = Vec::new();
    for v in views.iter().take(max) {
        let name = v
            .stock
            .as_ref()
            .and_then(|s| s.name.iter().next().cloned())
            .unwrap_or_else(|| v.id.to_string());
        let ndet = v.t0.iter().filter(|d| d.id > 0).count();
        let riser =
            v.t2.iter()
                .find(|t| t.unit == "T2FastRiser")
                .and_then(|t| t.result.as_ref())
                .is_some_and(|r| r["fast_riser"] == true);
        let text = format!(
            "*{name}*: {ndet} detections{}",
            if riser { ", fast riser" } else { "" }
        );
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    let more = views.len().saturating_sub(max);
    let text = format!(
        "{}: {} object(s) in channel {}{}",
        ctx.process,
        views.len(),
        ctx.channel.as_deref().unwrap_or("(all)"),
        if more > 0 {
            format!(" ({more} more not listed)")
        } else {
            String::new()
        }
    );
    json!({ "text": text, "blocks": blocks })
}

impl T3Unit for T3HttpNotifier {
    fn process(&self, ctx: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError> {
        let c = &self.0;
        let url = secret(&c.url_secret)?;
        let payload = message(ctx, views, c.max_objects);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(c.timeout_seconds)))
            .http_status_as_error(true)
            .build()
            .into();
        let mut last = String::new();
        for attempt in 0..c.attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs_f64(
                    c.backoff_seconds * 2f64.powi(attempt as i32 - 1),
                ));
            }
            match agent.post(&url).send_json(&payload) {
                Ok(_) => {
                    let body = json!({ "sent": true, "objects": views.len(), "attempts": attempt + 1, "secret": c.url_secret });
                    return Ok(T3Output {
                        updates: vec![],
                        document: Some(UnitResult::ok(body)),
                    });
                }
                // the error text may contain the URL: keep only its kind
                Err(e) => last = describe(&e),
            }
        }
        Err(UnitError::new(format!(
            "notification to the URL in secret `{}` failed after {} attempts: {last}",
            c.url_secret, c.attempts
        )))
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(code) => format!("HTTP status {code}"),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::Io(io) => format!("connection failed ({:?})", io.kind()),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        _ => "request failed".into(),
    }
}
