//! Shared pieces of the teams wire format: ids from paths and fields,
//! patch helpers, the record envelope (the record's own fields plus
//! `version`, `created_at`, `updated_at`), pages.

use sales_kit::etag::etag;
use sales_kit::query::{Page, PageRequest};
use sales_kit::{ApiError, ApiResponse, ApiResult};
use sales_store::page::{Page as StorePage, Versioned};
use serde::{Deserialize, Deserializer, Serialize};

/// Parses an id from the path, naming what was expected.
pub fn path_id<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_id("id", e.to_string()))
}

/// For patch fields: absent → `None`, `null` → `Some(None)`, a value →
/// `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// For patch fields that may not be cleared: `null` is an error naming the field.
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

/// The JSON of a stored record: its own fields plus the store's bookkeeping
/// and any `extra` fields (a target's attainment).
pub fn envelope<T: Serialize>(
    v: &Versioned<T>,
    extra: Option<serde_json::Value>,
) -> Result<serde_json::Value, ApiError> {
    let mut value = serde_json::to_value(&v.record)
        .map_err(|e| ApiError::internal(format!("failed to serialise a record: {e}")))?;
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
        if let Some(serde_json::Value::Object(extra)) = extra {
            map.extend(extra);
        }
    }
    Ok(value)
}

/// 200 (or 201 with `Location`) with the record and its `ETag`.
pub fn record<T: Serialize>(status: u16, v: &Versioned<T>, location: Option<String>) -> ApiResult {
    record_with(status, v, None, location)
}

/// [`record`] with extra fields.
pub fn record_with<T: Serialize>(
    status: u16,
    v: &Versioned<T>,
    extra: Option<serde_json::Value>,
    location: Option<String>,
) -> ApiResult {
    let mut resp =
        ApiResponse::json(status, &envelope(v, extra)?)?.with_header("etag", etag(v.version));
    if let Some(location) = location {
        resp = resp.with_header("location", location);
    }
    Ok(resp)
}

/// A list page of stored records.
pub fn page<T: Serialize>(items: &[Versioned<T>], next_cursor: Option<String>) -> ApiResult {
    let items = items
        .iter()
        .map(|v| envelope(v, None))
        .collect::<Result<Vec<_>, _>>()?;
    ApiResponse::json(200, &Page { items, next_cursor })
}

/// The kit's validated page request as the store's.
pub fn store_page(limit: Option<u32>, cursor: Option<String>) -> Result<StorePage, ApiError> {
    let p = PageRequest::new(limit, cursor)?;
    Ok(match p.cursor() {
        Some(c) => StorePage::after(p.limit(), c),
        None => StorePage::first(p.limit()),
    })
}
