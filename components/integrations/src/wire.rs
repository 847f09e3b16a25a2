//! Shared wire pieces: ids from paths, pages, the record envelope, and
//! domain errors as problems.

use sales_domain::integrations::IntegrationError;
use sales_kit::etag::etag;
use sales_kit::query::PageRequest;
use sales_kit::{ApiError, ApiResponse, ApiResult};
use sales_store::page::{Page as StorePage, Versioned};
use serde::{Deserialize, Deserializer};

pub fn path_id<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_id("id", e.to_string()))
}

/// For patch fields that may not be cleared.
pub fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("may not be null")),
    }
}

pub fn store_page(limit: Option<u32>, cursor: Option<String>) -> Result<StorePage, ApiError> {
    let p = PageRequest::new(limit, cursor)?;
    Ok(match p.cursor() {
        Some(c) => StorePage::after(p.limit(), c),
        None => StorePage::first(p.limit()),
    })
}

/// A record's JSON plus `version`, `created_at`, `updated_at`.
pub fn envelope<T>(v: &Versioned<T>, view: impl Fn(&T) -> serde_json::Value) -> serde_json::Value {
    let mut value = view(&v.record);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("version".into(), v.version.into());
        map.insert(
            "created_at".into(),
            sales_store::time::to_sql(v.created_at).into(),
        );
        map.insert(
            "updated_at".into(),
            sales_store::time::to_sql(v.updated_at).into(),
        );
    }
    value
}

/// 200/201 with the record and its `ETag`.
pub fn record(
    status: u16,
    body: &serde_json::Value,
    version: i64,
    location: Option<String>,
) -> ApiResult {
    let mut resp = ApiResponse::json(status, body)?.with_header("etag", etag(version));
    if let Some(l) = location {
        resp = resp.with_header("location", l);
    }
    Ok(resp)
}

pub fn page(items: Vec<serde_json::Value>, next_cursor: Option<String>) -> ApiResult {
    ApiResponse::json(200, &sales_kit::query::Page { items, next_cursor })
}

pub fn invalid(e: IntegrationError) -> ApiError {
    ApiError::invalid_field(e.field, e.message)
}
