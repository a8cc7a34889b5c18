//! Registry credentials: `$AMPEL_REGISTRY_USERNAME` / `$AMPEL_REGISTRY_PASSWORD`,
//! else the `auths` of `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
//! They are never printed: `Debug` shows the user only.

use std::path::PathBuf;

/// Registry credentials (never printed).
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

pub(crate) fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn unb64(s: &str) -> Option<String> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for c in clean.chunks(4) {
        let mut n = 0u32;
        for (i, b) in c.iter().enumerate() {
            n |= val(*b)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if c.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if c.len() > 3 {
            out.push(n as u8);
        }
    }
    String::from_utf8(out).ok()
}

/// Credentials for a registry: the environment, else the Docker config.
pub(crate) fn credentials(registry: &str) -> Option<Credentials> {
    if let (Ok(user), Ok(password)) = (
        std::env::var("AMPEL_REGISTRY_USERNAME"),
        std::env::var("AMPEL_REGISTRY_PASSWORD"),
    ) {
        return Some(Credentials { user, password });
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = v["auths"].as_object()?;
    let entry = auths.iter().find_map(|(k, e)| {
        let host = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        (host == registry).then_some(e)
    })?;
    let decoded = unb64(entry["auth"].as_str()?)?;
    let (user, password) = decoded.split_once(':')?;
    Some(Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_credentials_are_not_printed() {
        for s in ["", "a", "ab", "abc", "user:p@ss:word"] {
            assert_eq!(unb64(&b64(s)).as_deref(), Some(s));
        }
        assert_eq!(b64("user:pass"), "dXNlcjpwYXNz");
        let c = Credentials {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
