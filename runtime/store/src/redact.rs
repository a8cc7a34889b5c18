//! Credentials out of URIs before they are shown or logged: the `user:password@`
//! part, and every query parameter that carries a secret (`password=`,
//! `tlsCertificateKeyFilePassword=`, `authMechanismProperties=` with its AWS
//! session token, any `*secret*`, `*token*` or `*apikey*`). [`secrets_of`] lists
//! the secret values themselves, so messages of the driver that quote them can be
//! scrubbed ([`scrub`]).

/// Is the query parameter `key` a credential?
fn secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("secret")
        || k.contains("token")
        || k.contains("apikey")
        || k == "authmechanismproperties"
}

/// Split `uri` into (scheme, authority, path, query, fragment) where it has them.
fn parts(uri: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, f),
        None => (rest, ""),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    // the userinfo may hold an unescaped '/': the host starts after the last '@'
    let host_start = rest.rfind('@').map_or(0, |i| i + 1);
    let (authority, path) = match rest[host_start..].find('/') {
        Some(i) => rest.split_at(host_start + i),
        None => (rest, ""),
    };
    Some((scheme, authority, path, query, fragment))
}

/// `mongodb://user:pw@host/db?password=x&w=1` → `mongodb://***@host/db?password=***&w=1`.
pub fn redact(uri: &str) -> String {
    let Some((scheme, authority, path, query, fragment)) = parts(uri) else {
        return uri.to_string();
    };
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str("***@");
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if !query.is_empty() {
        let q: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if secret_param(k) => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    if !fragment.is_empty() {
        out.push_str("#***");
    }
    out
}

/// Percent-decoding, for the form in which a driver may quote a value.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every secret value in `uri` (the password, secret query values and the parts of
/// `authMechanismProperties`), raw and percent-decoded.
pub fn secrets_of(uri: &str) -> Vec<String> {
    let Some((_, authority, _, query, _)) = parts(uri) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, pw)) = userinfo.split_once(':') {
            out.push(pw.to_string());
        }
    }
    for kv in query.split('&') {
        if let Some((k, v)) = kv.split_once('=') {
            if secret_param(k) {
                out.push(v.to_string());
                // AWS_SESSION_TOKEN:abc,SERVICE_NAME:x — each value on its own
                let decoded = unescape(v);
                out.extend(
                    decoded
                        .split(',')
                        .filter_map(|p| p.split_once(':'))
                        .map(|(_, v)| v.to_string()),
                );
            }
        }
    }
    let decoded: Vec<String> = out.iter().map(|s| unescape(s)).collect();
    out.extend(decoded);
    // every non-empty value, however short: a password left in a message is worse
    // than a message with a few characters starred
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `text` with every one of `secrets` replaced by `***` (longest first).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_bearing_part_is_hidden() {
        let cases = [
            ("mongodb://u:p%40ss@db:27017/x", "mongodb://***@db:27017/x"),
            (
                "mongodb://u:p@ss@db:27017/x?authSource=admin",
                "mongodb://***@db:27017/x?authSource=admin",
            ),
            (
                "mongodb://db/x?password=hunter2&w=1",
                "mongodb://db/x?password=***&w=1",
            ),
            (
                "mongodb://db/?tls=true&tlsCertificateKeyFile=/k.pem&tlsCertificateKeyFilePassword=hunter2",
                "mongodb://db/?tls=true&tlsCertificateKeyFile=/k.pem&tlsCertificateKeyFilePassword=***",
            ),
            (
                "mongodb://AKIA:sec@db/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:hunter2",
                "mongodb://***@db/?authMechanism=MONGODB-AWS&authMechanismProperties=***",
            ),
            ("mongodb://db?x_apiKey=hunter2", "mongodb://db?x_apiKey=***"),
            ("mongodb://u:pw/with/slash@db/x", "mongodb://***@db/x"),
            ("sqlite:/tmp/a.db", "sqlite:/tmp/a.db"),
        ];
        for (uri, shown) in cases {
            let r = redact(uri);
            assert_eq!(r, shown, "{uri}");
            assert!(!r.contains("hunter2"), "{uri}");
        }
    }

    #[test]
    fn secret_values_are_scrubbed_from_messages() {
        let uri = "mongodb://u:p%40ss@db/?authMechanismProperties=AWS_SESSION_TOKEN:tok%2Fen9,SERVICE:x&password=hunter2";
        let s = secrets_of(uri);
        let msg = "auth failed for u with p@ss, token tok/en9, pw hunter2, raw p%40ss";
        let clean = scrub(msg, &s);
        for secret in ["p@ss", "tok/en9", "hunter2", "p%40ss"] {
            assert!(!clean.contains(secret), "{clean}");
        }
    }
}
