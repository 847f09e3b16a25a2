//! Plain request and response values, independent of the Spin SDK so that
//! handlers and the edge helpers can be unit-tested natively.

use serde::Serialize;

use crate::problem::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other(String),
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }
}

/// The `Allow` header value for `methods` (`"GET, POST"`).
pub fn allow(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Dispatches on a request's method: each arm names a [`Method`] variant
/// and its handler; any other method is 405 with an `Allow` header that
/// lists exactly the methods of the arms, so the two cannot drift apart.
///
/// ```ignore
/// ["api", "v1", "customers"] => methods!(m, {
///     Get => customers::list(ctx, req),
///     Post => customers::create(ctx, req),
/// }),
/// ```
#[macro_export]
macro_rules! methods {
    ($method:expr, { $($variant:ident => $handler:expr),+ $(,)? }) => {
        match $method {
            $($crate::Method::$variant => $handler,)+
            other => $crate::not_allowed(
                other,
                &$crate::http::allow(&[$($crate::Method::$variant),+]),
            ),
        }
    };
}

/// An incoming request. Header names are kept lower-case.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The path without the query string, e.g. `/api/v1/customers/0192…`.
    pub path: String,
    /// The raw query string without the leading `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiRequest {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (path_and_query.to_string(), String::new()),
        };
        ApiRequest {
            method,
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path split on `/`, without empty segments: `["api","v1","customers"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }
}

/// An outgoing response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON response. Serialising our own response types cannot fail in
    /// practice; if it ever does, the caller gets a 500 problem, not a panic.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<ApiResponse, ApiError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("failed to serialise the response: {e}")))?;
        Ok(ApiResponse::json_bytes(status, body))
    }

    /// A JSON response whose body is already serialised (a handler with a
    /// writer of its own, such as the priced basket's).
    pub fn json_bytes(status: u16, body: Vec<u8>) -> ApiResponse {
        ApiResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    pub fn no_content() -> ApiResponse {
        ApiResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(m: &Method) -> crate::ApiResult {
        crate::methods!(m, {
            Get => Ok(crate::ApiResponse::no_content()),
            Patch => Err(crate::ApiError::not_found("patched")),
        })
    }

    #[test]
    fn methods_dispatches_and_answers_405_with_the_arms_as_allow() {
        assert!(route(&Method::Get).is_ok());
        assert_eq!(route(&Method::Patch).unwrap_err().code(), "not_found");
        let e = route(&Method::Delete).unwrap_err();
        assert_eq!(e.status(), 405);
        let allow = e.to_response();
        assert_eq!(
            allow
                .headers
                .iter()
                .find(|(k, _)| k == "allow")
                .map(|(_, v)| v.as_str()),
            Some("GET, PATCH")
        );
    }

    #[test]
    fn path_and_query_are_split() {
        let req = ApiRequest::new(Method::Get, "/api/v1/customers?limit=5&cursor=abc");
        assert_eq!(req.path, "/api/v1/customers");
        assert_eq!(req.query, "limit=5&cursor=abc");
        assert_eq!(req.segments(), vec!["api", "v1", "customers"]);
    }

    #[test]
    fn headers_are_found_case_insensitively() {
        let req = ApiRequest::new(Method::Post, "/x").with_header("Idempotency-Key", "k1");
        assert_eq!(req.header("idempotency-key"), Some("k1"));
        assert_eq!(req.header("IDEMPOTENCY-KEY"), Some("k1"));
        assert_eq!(req.header("if-match"), None);
    }
}
