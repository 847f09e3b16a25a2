//! Outbound subscriptions: where events go (an `http`/`https` URL) and
//! which (`order.confirmed`, `order.*`, or `*`).

use super::{IntegrationError, FAMILIES, TOPICS};

/// At most this many patterns per subscription.
pub const MAX_PATTERNS: usize = 50;
/// Longest accepted URL.
pub const MAX_URL: usize = 2000;

/// Checks a delivery URL: `http://` or `https://`, a host, no user
/// information (credentials belong in the signature secret, not in a URL
/// that shows in logs), no fragment.
pub fn check_url(field: &str, url: &str) -> Result<String, IntegrationError> {
    let url = url.trim();
    if url.len() > MAX_URL {
        return Err(IntegrationError::new(
            field,
            format!("at most {MAX_URL} characters"),
        ));
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        return Err(IntegrationError::new(
            field,
            format!("the scheme {scheme:?} is not allowed: use http:// or https://"),
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(IntegrationError::new(field, "the URL has no host"));
    }
    if authority.contains('@') {
        return Err(IntegrationError::new(
            field,
            "credentials in the URL are not allowed; the delivery is signed instead",
        ));
    }
    if url.contains('#') {
        return Err(IntegrationError::new(field, "a fragment is not allowed"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IntegrationError::new(
            field,
            "spaces and control characters are not allowed",
        ));
    }
    Ok(url.to_owned())
}

/// Checks an event-type pattern: a known topic, `family.*` or `*`.
pub fn check_pattern(field: &str, pattern: &str) -> Result<String, IntegrationError> {
    let p = pattern.trim();
    if p == "*" || TOPICS.contains(&p) {
        return Ok(p.to_owned());
    }
    if let Some(family) = p.strip_suffix(".*") {
        if FAMILIES.contains(&family) {
            return Ok(p.to_owned());
        }
    }
    Err(IntegrationError::new(
        field,
        format!(
            "{p:?} is not an event type: use one of {} or a family pattern such as order.*",
            TOPICS.join(", ")
        ),
    ))
}

/// Checks a list of patterns (at least one, at most [`MAX_PATTERNS`]).
pub fn check_patterns(field: &str, patterns: &[String]) -> Result<Vec<String>, IntegrationError> {
    if patterns.is_empty() {
        return Err(IntegrationError::new(field, "at least one event type"));
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(IntegrationError::new(
            field,
            format!("at most {MAX_PATTERNS} event types"),
        ));
    }
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| check_pattern(&format!("{field}[{i}]"), p))
        .collect()
}

/// Whether `pattern` selects `topic`.
pub fn matches(pattern: &str, topic: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(family) => topic
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == topic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(check_url("url", "https://hooks.example.com/x?y=1").is_ok());
        assert!(check_url("url", "http://127.0.0.1:8080/").is_ok());
        for bad in [
            "ftp://x",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://",
            "https://u:p@h/",
            "gopher://h",
        ] {
            assert_eq!(check_url("url", bad).unwrap_err().field, "url", "{bad}");
        }
    }

    #[test]
    fn family_patterns_match_their_family_only() {
        assert!(matches("order.*", "order.confirmed"));
        assert!(!matches("order.*", "orders.x"));
        assert!(!matches("order.*", "work_order.planned"));
        assert!(matches("*", "quotation.sent"));
        assert!(matches("approval.requested", "approval.requested"));
        assert!(check_pattern("e", "order.confirmd").is_err());
        assert!(check_pattern("e", "invoice.*").is_err());
        assert!(check_pattern("e", "work_order.*").is_ok());
    }
}
