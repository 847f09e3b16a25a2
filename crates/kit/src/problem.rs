//! RFC 9457 `application/problem+json` errors.
//!
//! Every error a client can see is an [`ApiError`]: an HTTP status, a stable
//! machine-readable `code` (clients switch on it; it never changes once
//! shipped), a human `detail`, and — when one input is at fault — the `field`
//! that is wrong, written as a JSON path (`billing_address.country`) or a
//! query/header name (`limit`, `If-Match`).

use serde::Serialize;

use crate::http::ApiResponse;

/// One problem with one field, for responses that report several at once
/// (bulk imports report one per row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: u16,
    code: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
    headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            field: None,
            headers: Vec::new(),
        }
    }

    /// Names the input at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    // --- the catalogue of problems; codes are stable -----------------------

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(400, "malformed_json", "The body is not valid JSON", detail)
    }

    /// A field has the wrong type or an invalid value.
    pub fn invalid_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(422, "invalid_field", "A field is invalid", detail).with_field(field)
    }

    pub fn missing_field(field: impl Into<String>) -> Self {
        let field = field.into();
        Self::new(
            422,
            "missing_field",
            "A required field is missing",
            format!("`{field}` is required"),
        )
        .with_field(field)
    }

    pub fn unknown_field(field: impl Into<String>) -> Self {
        let field = field.into();
        Self::new(
            422,
            "unknown_field",
            "The body has a field this resource does not have",
            format!("`{field}` is not a field of this resource"),
        )
        .with_field(field)
    }

    pub fn invalid_query(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(400, "invalid_query", "A query parameter is invalid", detail).with_field(field)
    }

    pub fn invalid_cursor() -> Self {
        Self::new(
            400,
            "invalid_cursor",
            "The pagination cursor is invalid",
            "the cursor was not issued by this list; start again without one",
        )
        .with_field("cursor")
    }

    pub fn invalid_id(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(400, "invalid_id", "An id is malformed", detail).with_field(field)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            "The body's media type is not accepted",
            detail,
        )
        .with_field("Content-Type")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "payload_too_large",
            "The body is too large",
            format!("the body must be at most {limit} bytes"),
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", "Authentication is required", detail)
            .with_header("www-authenticate", "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, "forbidden", "Not allowed for this key's roles", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not_found", "Not found", detail)
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "method_not_allowed",
            "Method not allowed",
            format!("{method} is not allowed on this resource"),
        )
    }

    /// A unique value (an external id, a SKU, a code) is taken.
    pub fn duplicate(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(409, "duplicate", "A unique value is already taken", detail).with_field(field)
    }

    /// The request is well-formed but conflicts with the resource's state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            409,
            code,
            "The resource's state does not allow this",
            detail,
        )
    }

    pub fn precondition_required() -> Self {
        Self::new(
            428,
            "precondition_required",
            "If-Match is required",
            "send the resource's ETag in If-Match to update it",
        )
        .with_field("If-Match")
    }

    pub fn version_conflict(current: i64) -> Self {
        Self::new(
            412,
            "version_conflict",
            "The resource has changed",
            format!("the resource is at version {current}; read it again and retry"),
        )
        .with_field("If-Match")
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            422,
            "idempotency_key_reused",
            "The Idempotency-Key was used for another request",
            "an Idempotency-Key may be reused only with the identical request",
        )
        .with_field("Idempotency-Key")
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", "Internal error", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, "unavailable", "Temporarily unavailable", detail)
    }

    /// The problem document.
    pub fn to_response(&self) -> ApiResponse {
        let mut doc = serde_json::Map::new();
        doc.insert(
            "type".into(),
            format!("urn:sales-orchestration:problem:{}", self.code).into(),
        );
        doc.insert("title".into(), self.title.into());
        doc.insert("status".into(), self.status.into());
        doc.insert("detail".into(), self.detail.clone().into());
        doc.insert("code".into(), self.code.into());
        if let Some(field) = &self.field {
            doc.insert("field".into(), field.clone().into());
        }
        let mut headers = vec![(
            "content-type".to_string(),
            "application/problem+json".to_string(),
        )];
        headers.extend(self.headers.iter().cloned());
        ApiResponse {
            status: self.status,
            headers,
            body: serde_json::Value::Object(doc).to_string().into_bytes(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_document_carries_code_status_and_field() {
        let resp = ApiError::invalid_field("billing_address.country", "not an ISO 3166 code")
            .to_response();
        assert_eq!(resp.status, 422);
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json")
        );
        let doc: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(doc["code"], "invalid_field");
        assert_eq!(doc["status"], 422);
        assert_eq!(doc["field"], "billing_address.country");
        assert_eq!(doc["type"], "urn:sales-orchestration:problem:invalid_field");
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let resp = ApiError::unauthorized("no key").to_response();
        assert_eq!(resp.status, 401);
        assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
    }
}
