//! Shared pieces of the availability wire format: ids from paths, `null`-
//! clears patches, quantities, and the record envelope (`version`,
//! `created_at`, `updated_at` beside the record's own fields) — the same
//! conventions as the catalog and pricing components' `wire` modules.

use rust_decimal::Decimal;
use sales_domain::availability::to_milli;
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
/// `Some(Some(v))`. Use with `#[serde(default, deserialize_with = "nullable")]`.
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

/// A quantity the store can keep: at most three decimals, at most
/// 1,000,000,000, and positive (or, with `signed`, non-zero of either sign;
/// with `zero`, zero or more).
pub fn quantity(field: &str, q: Decimal, rule: Sign) -> Result<Decimal, ApiError> {
    let bad = |why: &str| ApiError::invalid_field(field, format!("{why} (got {q})"));
    if q.abs() > sales_domain::availability::MAX_QUANTITY {
        return Err(bad("is above the maximum of 1000000000"));
    }
    if to_milli(q).is_none() {
        return Err(bad("at most three decimals"));
    }
    match rule {
        Sign::Positive if q <= Decimal::ZERO => Err(bad("must be greater than zero")),
        Sign::NonZero if q.is_zero() => Err(bad("must not be zero")),
        Sign::NotNegative if q < Decimal::ZERO => Err(bad("must not be negative")),
        _ => Ok(q.normalize()),
    }
}

/// Which signs [`quantity`] accepts.
#[derive(Clone, Copy)]
pub enum Sign {
    Positive,
    NonZero,
    NotNegative,
}

/// Refuses a date before `today`, naming the field.
pub fn not_past(
    field: &str,
    date: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Result<chrono::NaiveDate, ApiError> {
    if date < today {
        Err(ApiError::invalid_field(
            field,
            format!("{date} is before today ({today})"),
        ))
    } else {
        Ok(date)
    }
}

/// The JSON of a stored record: its wire view plus the store's bookkeeping.
pub fn envelope<W: Serialize>(v: &Versioned<W>) -> Result<serde_json::Value, ApiError> {
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
    }
    Ok(value)
}

/// A stored record as its wire view `W`.
pub fn view<T, W>(v: &Versioned<T>, to_wire: impl Fn(&T) -> W) -> Versioned<W> {
    Versioned {
        record: to_wire(&v.record),
        version: v.version,
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// 200 (or 201 with `Location`) with the record and its `ETag`.
pub fn record<T, W: Serialize>(
    status: u16,
    v: &Versioned<T>,
    to_wire: impl Fn(&T) -> W,
    location: Option<String>,
) -> ApiResult {
    let mut resp = ApiResponse::json(status, &envelope(&view(v, to_wire))?)?
        .with_header("etag", etag(v.version));
    if let Some(location) = location {
        resp = resp.with_header("location", location);
    }
    Ok(resp)
}

/// A list page of stored records.
pub fn page<T, W: Serialize>(
    items: &[Versioned<T>],
    to_wire: impl Fn(&T) -> W,
    next_cursor: Option<String>,
) -> ApiResult {
    let items = items
        .iter()
        .map(|v| envelope(&view(v, &to_wire)))
        .collect::<Result<Vec<_>, _>>()?;
    ApiResponse::json(200, &Page { items, next_cursor })
}

/// A list page of plain (unversioned) views.
pub fn plain_page<W: Serialize>(items: Vec<W>, next_cursor: Option<String>) -> ApiResult {
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
