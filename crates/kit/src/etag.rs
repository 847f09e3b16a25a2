//! Optimistic concurrency: every resource has a `version`; reads send it as
//! a strong `ETag`, updates must send it back in `If-Match`.

use crate::http::ApiRequest;
use crate::problem::ApiError;

/// The ETag of a resource version: `"7"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version a client claims in `If-Match`.
///
/// Missing → 428 (an update without a precondition could silently overwrite
/// someone else's change); not one of our ETags → 400. Weak validators
/// (`W/"7"`) are accepted as the same version, as browsers send them.
pub fn if_match(req: &ApiRequest) -> Result<i64, ApiError> {
    let raw = req
        .header("if-match")
        .ok_or_else(ApiError::precondition_required)?;
    let tag = raw.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "invalid_if_match",
                "If-Match is malformed",
                format!("`{raw}` is not an ETag this API issued"),
            )
            .with_field("If-Match")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(v: Option<&str>) -> ApiRequest {
        let r = ApiRequest::new(Method::Put, "/x");
        match v {
            Some(v) => r.with_header("If-Match", v),
            None => r,
        }
    }

    #[test]
    fn strong_and_weak_etags_give_the_version() {
        assert_eq!(if_match(&req(Some("\"3\""))).unwrap(), 3);
        assert_eq!(if_match(&req(Some("W/\"3\""))).unwrap(), 3);
        assert_eq!(etag(3), "\"3\"");
    }

    #[test]
    fn missing_if_match_is_428() {
        assert_eq!(if_match(&req(None)).unwrap_err().status(), 428);
    }

    #[test]
    fn garbage_if_match_is_400() {
        assert_eq!(if_match(&req(Some("abc"))).unwrap_err().status(), 400);
        assert_eq!(if_match(&req(Some("\"0\""))).unwrap_err().status(), 400);
    }
}
