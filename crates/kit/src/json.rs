//! JSON request bodies that name the field at fault.

use serde::de::DeserializeOwned;

use crate::http::ApiRequest;
use crate::problem::ApiError;

/// The largest JSON body a component accepts (1 MiB). Bulk imports have their
/// own, larger limit.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Parses the request body as `T`.
///
/// - a `Content-Type` other than JSON → 415;
/// - a body over [`MAX_JSON_BODY`] → 413;
/// - invalid JSON → 400 `malformed_json`;
/// - a field of the wrong type or value → 422 `invalid_field` naming its path;
/// - a missing required field → 422 `missing_field`; an unknown one → 422
///   `unknown_field` (request types use `deny_unknown_fields`).
///
/// Every request body is a JSON object: an array is 422 `invalid_field` on
/// `body` even where serde would take it for a struct (it reads a struct
/// from an array of its fields in order, so `[]` was an empty `PATCH`).
pub fn parse_json<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiError> {
    check_content_type(req)?;
    let parsed = parse_json_bytes(&req.body, MAX_JSON_BODY)?;
    if req.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid_field(
            "body",
            "a JSON object is expected, not an array",
        ));
    }
    Ok(parsed)
}

/// Rejects a declared content type that is not JSON. A missing one is
/// accepted: the body is parsed as JSON either way.
pub fn check_content_type(req: &ApiRequest) -> Result<(), ApiError> {
    match req.header("content-type") {
        None => Ok(()),
        Some(ct) => {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence == "application/json" || essence.ends_with("+json") {
                Ok(())
            } else {
                Err(ApiError::unsupported_media_type(format!(
                    "expected application/json, got {essence}"
                )))
            }
        }
    }
}

pub fn parse_json_bytes<T: DeserializeOwned>(body: &[u8], limit: usize) -> Result<T, ApiError> {
    if body.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_json(
            "the body is empty; a JSON object is expected",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        classify(path, &inner, body)
    })
}

fn classify(path: String, err: &serde_json::Error, body: &[u8]) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io
            if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() =>
        {
            ApiError::malformed_json(format!("{err}"))
        }
        // Well-formed JSON that serde still reports as a syntax error: an
        // array given for an object with more elements than it has fields
        // ("trailing characters"). The document is valid; its shape is not.
        Category::Syntax | Category::Eof | Category::Io => ApiError::invalid_field(
            if path == "." {
                "body".to_string()
            } else {
                path
            },
            strip_position(&err.to_string()),
        ),
        Category::Data => {
            let msg = strip_position(&err.to_string());
            let parent = if path == "." { String::new() } else { path };
            if let Some(name) = between_backticks(&msg, "missing field `") {
                ApiError::missing_field(join(&parent, &name))
            } else if let Some(name) = between_backticks(&msg, "unknown field `") {
                // The path already ends at the unknown field.
                let field = if parent.is_empty() { name } else { parent };
                ApiError::unknown_field(field)
            } else {
                let field = if parent.is_empty() {
                    "body".to_string()
                } else {
                    parent
                };
                ApiError::invalid_field(field, msg)
            }
        }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn between_backticks(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_string)
}

/// serde_json appends " at line 1 column 17"; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Address {
        city: String,
        country: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct NewThing {
        name: String,
        qty: u32,
        address: Option<Address>,
    }

    fn req(body: &str) -> ApiRequest {
        ApiRequest::new(Method::Post, "/x")
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        qty: Option<u32>,
    }

    /// serde reads a struct from an array of its fields in order, so `[]`
    /// (or `["a"]`) would be a patch; a body is an object or nothing.
    #[test]
    fn an_array_body_is_refused_even_where_serde_would_take_it() {
        for body in ["[]", " [\"a\", 3]", "[null]"] {
            let e = parse_json::<Patch>(&req(body)).unwrap_err();
            assert_eq!(
                (e.status(), e.code(), e.field()),
                (422, "invalid_field", Some("body")),
                "{body}"
            );
        }
        let e = parse_json::<Patch>(&req("[")).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        assert!(parse_json::<Patch>(&req(r#"{"qty": 3}"#)).is_ok());
    }

    #[test]
    fn malformed_json_is_a_400() {
        let e = parse_json::<NewThing>(&req("{\"name\": ")).unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "malformed_json"));
    }

    #[test]
    fn empty_body_is_malformed() {
        let e = parse_json::<NewThing>(&req("  ")).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json::<NewThing>(&req(r#"{"name":"a","qty":"ten"}"#)).unwrap_err();
        assert_eq!(
            (e.status(), e.code(), e.field()),
            (422, "invalid_field", Some("qty"))
        );
    }

    #[test]
    fn missing_nested_field_names_its_path() {
        let e = parse_json::<NewThing>(&req(r#"{"name":"a","qty":1,"address":{"city":"X"}}"#))
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("missing_field", Some("address.country"))
        );
    }

    #[test]
    fn unknown_field_is_refused_by_name() {
        let e = parse_json::<NewThing>(&req(r#"{"name":"a","qty":1,"colour":"red"}"#)).unwrap_err();
        assert_eq!((e.code(), e.field()), ("unknown_field", Some("colour")));
    }

    #[test]
    fn unknown_nested_field_names_its_path() {
        let e = parse_json::<NewThing>(&req(
            r#"{"name":"a","qty":1,"address":{"city":"X","country":"DE","zip":"1"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("unknown_field", Some("address.zip"))
        );
    }

    #[test]
    fn non_json_content_type_is_415() {
        let r = ApiRequest::new(Method::Post, "/x")
            .with_header("content-type", "text/csv")
            .with_body("a,b");
        assert_eq!(parse_json::<NewThing>(&r).unwrap_err().status(), 415);
    }

    #[test]
    fn oversize_body_is_413() {
        let big = format!(r#"{{"name":"{}","qty":1}}"#, "a".repeat(MAX_JSON_BODY));
        assert_eq!(
            parse_json::<NewThing>(&req(&big)).unwrap_err().status(),
            413
        );
    }
}
