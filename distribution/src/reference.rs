//! Image references: `registry/repository[:tag][@sha256:digest]`, checked the way
//! registries check them, with an error that says what is expected.

use crate::DistributionError;

/// `registry/repository[:tag][@sha256:digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// `path/name`.
    pub repository: String,
    /// Tag.
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Reference {
    /// Parse `registry/repository[:tag][@sha256:<64 hex>]`; the registry part must
    /// look like a host (`localhost`, or with a `.` or a `:port`).
    pub fn parse(s: &str) -> Result<Reference, DistributionError> {
        let bad = |why: &str| {
            DistributionError::Reference { reference: s.to_string(), detail: format!(
                "image reference `{s}`: {why} (expected REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST, e.g. 127.0.0.1:5000/ampel/ztf-demo:1.0.0)"
            ) }
        };
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("the digest must be sha256:<64 hex digits>"))?;
                if hex.len() != 64
                    || !hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                {
                    return Err(bad("the digest must be sha256:<64 lower-case hex digits>"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (registry, path) = rest.split_once('/').ok_or_else(|| bad("no registry"))?;
        if !(registry == "localhost" || registry.contains('.') || registry.contains(':')) {
            return Err(bad("the first part must be a registry host"));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (path.to_string(), None),
        };
        let ok_component = |c: &str| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        };
        if !repository.split('/').all(ok_component) {
            return Err(bad(
                "repository components are lower-case letters, digits, `.`, `_`, `-`",
            ));
        }
        if let Some(t) = &tag {
            if t.is_empty()
                || t.len() > 128
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(bad("a tag is letters, digits, `.`, `_`, `-` (at most 128)"));
            }
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// True for 127.0.0.0/8, `::1` and `localhost` (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map_or(self.registry.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_or_say_what_is_expected() {
        let r = Reference::parse("127.0.0.1:5000/ampel/ztf-demo:1.0.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "ampel/ztf-demo", Some("1.0.0"))
        );
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("registry.example.org/x@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("registry.example.org/x@{d}"));
        for bad in [
            "ztf-demo:1.0",
            "127.0.0.1:5000/UPPER:1",
            "localhost/x@sha256:12",
            "h.org/x:bad tag",
        ] {
            let e = Reference::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected REGISTRY/REPOSITORY"), "{bad}: {e}");
        }
    }
}
