//! `allowed_outbound_hosts`: Spin's outbound network allow list.
//!
//! Entries are `scheme://host[:port]` where the scheme may be `*`, the host
//! `*`, `*.domain` (subdomains only) or a name/IP, and the port `*`, a
//! number or a `start..end` range (end exclusive, as in Spin). A missing port
//! means the scheme's default port. `{{ var }}` templates are expanded before
//! parsing.

/// A parsed allow list.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Any,
    Subdomains(String),
    Exact(String),
}

#[derive(Debug, Clone)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

/// The default port of a well-known scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "rediss" => Some(6380),
        "mysql" => Some(3306),
        "postgres" => Some(5432),
        "mqtt" => Some(1883),
        _ => None,
    }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("{text:?} must be of the form scheme://host[:port]"))?;
    if scheme.is_empty() {
        return Err(format!("{text:?} has an empty scheme"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(format!("{text:?} must not contain a path"));
    }
    let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
        // [ipv6]:port
        let (h, after) = stripped
            .split_once(']')
            .ok_or_else(|| format!("{text:?} has an unterminated IPv6 address"))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?} has an empty host"));
    }
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        HostPattern::Subdomains(domain.to_ascii_lowercase())
    } else if host.contains('*') {
        return Err(format!(
            "{text:?}: '*' is only allowed as the whole host or as '*.domain'"
        ));
    } else {
        HostPattern::Exact(host.to_ascii_lowercase())
    };
    let port = match port.as_deref() {
        Some("*") => PortPattern::Any,
        Some(p) => {
            if let Some((a, b)) = p.split_once("..") {
                let a: u16 = a
                    .parse()
                    .map_err(|_| format!("{text:?}: bad port range {p:?}"))?;
                let b: u16 = b
                    .parse()
                    .map_err(|_| format!("{text:?}: bad port range {p:?}"))?;
                if a >= b {
                    return Err(format!("{text:?}: empty port range {p:?}"));
                }
                PortPattern::Range(a, b)
            } else {
                let n: u16 = p.parse().map_err(|_| format!("{text:?}: bad port {p:?}"))?;
                PortPattern::Range(n, n.saturating_add(1).max(n))
            }
        }
        None => {
            if scheme == "*" {
                return Err(format!(
                    "{text:?}: a port (or '*') is required when the scheme is '*'"
                ));
            }
            let p = default_port(scheme)
                .ok_or_else(|| format!("{text:?}: a port is required for scheme {scheme:?}"))?;
            PortPattern::Range(p, p + 1)
        }
    };
    Ok(Entry {
        scheme: (scheme != "*").then(|| scheme.to_ascii_lowercase()),
        host,
        port,
    })
}

impl AllowedHosts {
    /// Parses already-expanded entries. `"self"` (requests to the app
    /// itself) is accepted and has no effect on other hosts.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut parsed = Vec::new();
        for e in entries {
            if e == "self" || e.is_empty() {
                continue;
            }
            parsed.push(parse_entry(e)?);
        }
        Ok(Self { entries: parsed })
    }

    /// Whether `scheme://host:port` may be reached.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let Some(port) = port.or_else(|| default_port(&scheme)) else {
            return false;
        };
        self.entries.iter().any(|e| {
            e.scheme.as_ref().is_none_or(|s| *s == scheme)
                && match &e.host {
                    HostPattern::Any => true,
                    HostPattern::Subdomains(d) => {
                        host.len() > d.len() + 1
                            && host.ends_with(d.as_str())
                            && host.as_bytes()[host.len() - d.len() - 1] == b'.'
                    }
                    HostPattern::Exact(h) => *h == host,
                }
                && match e.port {
                    PortPattern::Any => true,
                    PortPattern::Range(a, b) => port >= a && (port < b || (a == b && port == a)),
                }
        })
    }

    /// Whether a URL string (e.g. `redis://host:6379/0`) may be reached.
    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(h) => self.allows(u.scheme(), h, u.port()),
                None => false,
            },
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(e: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn default_ports_are_implied_by_the_scheme() {
        let h = hosts(&["https://api.example.com"]);
        assert!(h.allows("https", "api.example.com", None));
        assert!(h.allows("https", "api.example.com", Some(443)));
        assert!(!h.allows("https", "api.example.com", Some(8443)));
        assert!(!h.allows("http", "api.example.com", None));
    }

    #[test]
    fn wildcards_cover_scheme_host_and_port() {
        let h = hosts(&["*://*.example.com:*"]);
        assert!(h.allows("http", "a.example.com", Some(1234)));
        assert!(h.allows("https", "b.a.example.com", None));
        assert!(!h.allows("https", "example.com", None));
        assert!(!h.allows("https", "badexample.com", None));
        let all = hosts(&["*://*:*"]);
        assert!(all.allows("http", "anything", Some(1)));
    }

    #[test]
    fn port_ranges_are_end_exclusive() {
        let h = hosts(&["http://localhost:8000..8002"]);
        assert!(h.allows("http", "localhost", Some(8000)));
        assert!(h.allows("http", "localhost", Some(8001)));
        assert!(!h.allows("http", "localhost", Some(8002)));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in [
            "localhost",
            "*://host",
            "http://ho*st",
            "http://h/path",
            "http://h:x",
        ] {
            assert!(AllowedHosts::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_list_denies_everything() {
        assert!(!hosts(&[]).allows("http", "localhost", Some(80)));
    }
}
