//! Query strings: filters and cursor pagination.

use serde::de::DeserializeOwned;

use crate::problem::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Parses a query string into a route's filter struct (which should use
/// `deny_unknown_fields`, so a misspelt filter is an error, not ignored).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .split('`')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| "query".to_string());
        ApiError::invalid_query(field, msg)
    })
}

/// A validated page request: `limit` in 1..=200 (default 50) and an optional
/// opaque cursor from a previous page's `next_cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    cursor: Option<String>,
}

impl PageRequest {
    pub fn new(limit: Option<u32>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::invalid_query(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let cursor = cursor.filter(|c| !c.is_empty());
        Ok(PageRequest { limit, cursor })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

/// The body of every list response.
#[derive(Debug, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filter {
        limit: Option<u32>,
        cursor: Option<String>,
        active: Option<bool>,
    }

    #[test]
    fn filters_parse_with_their_types() {
        let f: Filter = parse_query("limit=10&active=true").unwrap();
        assert_eq!(f.limit, Some(10));
        assert_eq!(f.active, Some(true));
    }

    #[test]
    fn misspelt_filter_is_refused() {
        let e = parse_query::<Filter>("activ=true").unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "invalid_query"));
        assert_eq!(e.field(), Some("activ"));
    }

    #[test]
    fn non_numeric_limit_is_refused() {
        let e = parse_query::<Filter>("limit=ten").unwrap_err();
        assert_eq!(e.code(), "invalid_query");
    }

    #[test]
    fn limit_must_be_in_range() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(201), None).is_err());
        assert_eq!(PageRequest::new(None, None).unwrap().limit(), 50);
        assert_eq!(
            PageRequest::new(Some(200), Some(String::new()))
                .unwrap()
                .cursor(),
            None
        );
    }
}
